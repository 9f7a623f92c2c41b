"""Search strategies on the tiny policy, with problems built the way the chat model builds them."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from langchain_toolprm import TransformersBackend
from langchain_toolprm.backends.transformers import TState
from langchain_toolprm.core.backend import Usage
from langchain_toolprm.core.prompts import BUILTIN_JSON, build_prompt
from langchain_toolprm.core.proposer import Constraints, answer_texts
from langchain_toolprm.core.schema import ToolSpec, normalize_tools
from langchain_toolprm.core.scorers import ScoringContext, TieBroken
from langchain_toolprm.core.search import (
    STRATEGIES,
    SearchConfig,
    SearchProblem,
    SearchResult,
    aggregate,
    beam_search,
    best_of_n,
    break_ties,
    canonical,
    greedy,
    majority_vote,
    run_search,
    tie_groups,
)
from langchain_toolprm.core.steps import Call, Step, StepTag, assemble
from langchain_toolprm.core.verifier import VerifierScorer

TOOLS_RAW = [
    {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city", "parameters": {
        "type": "object", "properties": {
            "city": {"type": "string", "enum": ["paris", "tokyo", "london"]},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "days": {"type": "integer"}},
        "required": ["city"]}}},
    {"type": "function", "function": {"name": "set_alarm", "description": "Set an alarm", "parameters": {
        "type": "object", "properties": {"hour": {"type": "integer"}, "loud": {"type": "boolean"}},
        "required": ["hour"]}}},
    {"type": "function", "function": {"name": "ping", "description": "Ping", "parameters": {
        "type": "object", "properties": {}}}},
]
MESSAGES: list[BaseMessage] = [HumanMessage("What is the weather in paris in celsius? Set an alarm at 7.")]
STRATEGY_NAMES = ["greedy", "beam", "best_of_n", "majority"]


@pytest.fixture(scope="module")
def tools() -> list[ToolSpec]:
    return normalize_tools(TOOLS_RAW)


@pytest.fixture(scope="module")
def root(tiny_policy: TransformersBackend, tools: list[ToolSpec]) -> tuple[TState, Any]:
    """Prompt -> prefill, once: as ToolPRMChatModel._respond does it."""
    prompt = build_prompt(tiny_policy.tokenizer, MESSAGES, tools)
    ids = tiny_policy.encode(prompt.text, special=not prompt.chat_template)
    return TState(tiny_policy.prefill(ids, 32 * 4)), prompt.call_format


def make_problem(root: tuple[TState, Any], tools: list[ToolSpec], *, require: bool = True,
                 forced: str | None = None, max_calls: int = 2) -> SearchProblem:
    state, fmt = root
    rules = Constraints(tuple(tools), require, forced, max_calls)
    return SearchProblem(state, fmt, rules, ScoringContext(tuple(MESSAGES), tuple(tools)))


def config(strategy: str, **kw: Any) -> SearchConfig:
    base: dict[str, Any] = dict(n_retain=2, m_explore=2, temperature=1.0, max_value_tokens=12, seed=0)
    return SearchConfig(strategy=strategy, **{**base, **kw})  # type: ignore[arg-type]


def check_result(result: SearchResult, tools: list[ToolSpec], max_calls: int) -> None:
    assert result.calls is not None and result.best is not None
    assert result.best in result.finished
    assert result.calls == assemble(result.best.steps)
    assert 1 <= len(result.calls) <= max_calls
    by_name = {t.name: t for t in tools}
    for call in result.calls:
        assert call.name in by_name
        assert by_name[call.name].validate_arguments(call.arguments) is None
    for beam in result.finished:
        assert beam.finished
        for call in assemble(beam.steps):
            assert by_name[call.name].validate_arguments(call.arguments) is None
    # The chosen path's texts spell its call list, and a learned scorer rebuilds them from the steps.
    text = "".join(result.best.texts)
    for beam in result.finished:
        assert answer_texts(beam.steps, BUILTIN_JSON) == list(beam.texts)
    assert json.loads(text) == [{"name": c.name, "arguments": c.arguments} for c in result.calls]
    chosen = result.trace[-1]
    assert chosen["chosen"] == list(result.best.texts)
    assert chosen["scores"] == [round(s, 4) for s in result.best.scores]
    assert len(result.best.scores) == len(result.best.steps)


# ---- every strategy -----------------------------------------------------------------------
@pytest.mark.parametrize("strategy", STRATEGY_NAMES)
def test_strategies_valid_and_deterministic(strategy: str, tiny_policy: TransformersBackend, root: Any,
                                            tools: list[ToolSpec]) -> None:
    problem = make_problem(root, tools, max_calls=1)
    result = run_search(tiny_policy, VerifierScorer(), problem, config(strategy, seed=3))
    check_result(result, tools, max_calls=1)
    for entry in result.trace[:-1]:
        assert set(entry) == {"depth", "candidates"}
        assert entry["candidates"]
        for cand in entry["candidates"]:
            assert set(cand) == {"id", "parent", "tag", "text", "logprob", "score", "why", "path_score", "kept"}
            assert isinstance(cand["kept"], bool)
            assert cand["tag"] in StepTag.__members__
            assert 0.0 <= cand["score"] <= 1.0 and cand["logprob"] <= 0.0
    assert [e["depth"] for e in result.trace[:-1]] == list(range(len(result.trace) - 1))
    # The same seed gives the same search, trace included.
    again = run_search(tiny_policy, VerifierScorer(), problem, config(strategy, seed=3))
    assert again.calls == result.calls
    assert again.trace == result.trace
    assert len(again.finished) == len(result.finished)


def test_different_seeds_can_differ(tiny_policy: TransformersBackend, root: Any, tools: list[ToolSpec]) -> None:
    problem = make_problem(root, tools, max_calls=1)
    traces = set()
    for seed in range(4):
        result = run_search(tiny_policy, VerifierScorer(), problem,
                            config("best_of_n", n_retain=2, seed=seed, temperature=1.5))
        traces.add(json.dumps(result.trace))
        if len(traces) > 1:
            break
    assert len(traces) > 1


def test_greedy_ignores_the_seed_and_takes_one_path(tiny_policy: TransformersBackend, root: Any,
                                                    tools: list[ToolSpec]) -> None:
    problem = make_problem(root, tools)
    a = greedy(tiny_policy, VerifierScorer(), problem, config("greedy", seed=0))
    b = greedy(tiny_policy, VerifierScorer(), problem, config("greedy", seed=11, n_retain=4, m_explore=5))
    assert a.trace == b.trace and a.calls == b.calls
    assert len(a.finished) == 1
    for entry in a.trace[:-1]:
        assert [c["kept"] for c in entry["candidates"]] == [True]


def test_run_search_dispatches(tiny_policy: TransformersBackend, root: Any, tools: list[ToolSpec]) -> None:
    assert STRATEGIES == {"beam": beam_search, "greedy": greedy, "best_of_n": best_of_n,
                          "majority": majority_vote}
    problem = make_problem(root, tools)
    cfg = config("greedy")
    assert run_search(tiny_policy, VerifierScorer(), problem, cfg).trace == greedy(
        tiny_policy, VerifierScorer(), problem, cfg).trace


# ---- beam search -----------------------------------------------------------------------------
def test_beam_trace_keeps_the_best(tiny_policy: TransformersBackend, root: Any, tools: list[ToolSpec]) -> None:
    cfg = config("beam", n_retain=2, m_explore=3, seed=1)
    result = beam_search(tiny_policy, VerifierScorer(), make_problem(root, tools), cfg)
    check_result(result, tools, max_calls=2)
    ids = {0}
    closed = 0
    for entry in result.trace[:-1]:
        cands = entry["candidates"]
        assert {c["parent"] for c in cands} <= ids  # every candidate extends a path kept before
        going = [c for c in cands if c["tag"] != "TOTAL_FINISH"]
        kept = [c for c in going if c["kept"]]
        assert len(kept) <= cfg.n_retain
        dropped = [c for c in going if not c["kept"]]
        if kept and dropped:
            assert min(c["path_score"] for c in kept) >= max(c["path_score"] for c in dropped) - 1e-4
        closed += sum(c["tag"] == "TOTAL_FINISH" for c in cands)
        assert all(c["kept"] for c in cands if c["tag"] == "TOTAL_FINISH")  # closed lists all compete
        ids = {c["id"] for c in kept}
    assert closed == len(result.finished)
    key = (aggregate(result.best.scores, cfg.aggregation), result.best.logprob)
    for beam in result.finished:
        assert (aggregate(beam.scores, cfg.aggregation), beam.logprob) <= key


def test_root_explores_n_times_m(tiny_policy: TransformersBackend, root: Any, tools: list[ToolSpec]) -> None:
    """With M < N the root stands for N beams: M=1 still fills N beams at the first step."""
    cfg = config("beam", n_retain=3, m_explore=1, temperature=5.0, seed=0)
    result = beam_search(tiny_policy, VerifierScorer(), make_problem(root, tools, max_calls=1), cfg)
    first, second = result.trace[0]["candidates"], result.trace[1]["candidates"]
    assert len(first) == 3 and all(c["kept"] for c in first)  # three choices enumerated at the root
    opened = {c["id"] for c in first if c["tag"] == "FUNC_NAME"}
    assert {c["parent"] for c in second} == opened  # every open root child grows


@dataclass
class ListSizeScorer:
    """Closing the list scores 1 with ``calls`` calls and 0.5 otherwise; every other step 1."""

    calls: int
    usage: Usage = field(default_factory=Usage)

    def score(self, ctx: ScoringContext, trajectories: Sequence[Sequence[Step]]) -> list[float]:
        out = []
        for t in trajectories:
            n = sum(s.tag is StepTag.FUNC_FINISH for s in t)
            out.append((1.0 if n == self.calls else 0.5) if t[-1].tag is StepTag.TOTAL_FINISH else 1.0)
        return out


@pytest.mark.parametrize("want", [1, 2])
def test_close_and_another_call_are_compared_as_whole_lists(want: int, tiny_policy: TransformersBackend,
                                                            root: Any, tools: list[ToolSpec]) -> None:
    """With N=1 "close" does not end the search: the other branch also closes, then whole lists compare."""
    problem = make_problem(root, tools, max_calls=2)
    result = beam_search(tiny_policy, ListSizeScorer(want), problem, config("beam", n_retain=1, m_explore=4))
    assert result.calls is not None and len(result.calls) == want
    if want == 2:  # the closed one-call list (0.5) waited in the pool while the second call was built
        assert {len(assemble(b.steps)) for b in result.finished} >= {1, 2}


@dataclass
class DropScorer:
    """Gives ``score`` to every argument step of a second call: such paths can then never beat a
    closed one-call list (1.0), and the search drops them instead of finishing them."""

    score_value: float
    usage: Usage = field(default_factory=Usage)

    def score(self, ctx: ScoringContext, trajectories: Sequence[Sequence[Step]]) -> list[float]:
        return [self.score_value if sum(s.tag is StepTag.FUNC_NAME for s in t) > 1 else 1.0 for t in trajectories]


def test_paths_that_cannot_win_are_dropped(tiny_policy: TransformersBackend, root: Any, tools: list[ToolSpec]) -> None:
    problem = make_problem(root, tools, max_calls=2)
    result = beam_search(tiny_policy, DropScorer(0.4), problem, config("beam", n_retain=1, m_explore=4))
    assert result.calls is not None and len(result.calls) == 1
    seconds = [c for e in result.trace[:-1] for c in e["candidates"]
               if c["tag"] == "FUNC_NAME" and c["text"].startswith(",")]
    assert seconds and not any(c["kept"] for c in seconds)  # below the closed list at once
    # With a non-monotone aggregation nothing is dropped early: the same paths run to their end.
    late = beam_search(tiny_policy, DropScorer(0.4), problem, config("beam", n_retain=1, m_explore=4,
                                                                      aggregation="mean"))
    assert len(late.trace) > len(result.trace)


def test_streaming_sees_only_decided_prefixes(tiny_policy: TransformersBackend, root: Any,
                                             tools: list[ToolSpec]) -> None:
    problem = make_problem(root, tools, max_calls=2)
    for strategy in ("greedy", "beam"):
        seen: list[tuple[Step, ...]] = []
        result = run_search(tiny_policy, VerifierScorer(), problem, config(strategy), seen.append)
        assert seen and seen[-1] == result.best.steps
        for a, b in zip(seen, seen[1:]):
            assert b[: len(a)] == a and len(b) > len(a)  # only ever grows
        if strategy == "greedy":  # one path: every step is decided as it is taken
            assert [len(p) for p in seen[:-1]] == list(range(1, len(seen)))


def test_on_trace_sees_every_entry_as_it_is_written(tiny_policy: TransformersBackend, root: Any,
                                                    tools: list[ToolSpec]) -> None:
    problem = make_problem(root, tools, max_calls=2)
    for strategy in STRATEGIES:
        written: list[dict[str, Any]] = []
        result = run_search(tiny_policy, VerifierScorer(), problem, config(strategy), on_trace=written.append)
        assert written == result.trace and "chosen" in written[-1]
        assert all(w is t for w, t in zip(written, result.trace))  # the entries themselves, in order


@dataclass
class FavourScorer:
    """Scores 1 for steps that open ``name``, 0.1 for other function names, 1 otherwise."""

    name: str
    usage: Usage = field(default_factory=Usage)

    def score(self, ctx: ScoringContext, trajectories: Sequence[Sequence[Step]]) -> list[float]:
        return [0.1 if t[-1].tag is StepTag.FUNC_NAME and t[-1].name != self.name else 1.0
                for t in trajectories]


@pytest.mark.parametrize("name", ["ping", "set_alarm"])
def test_beam_follows_the_scorer(name: str, tiny_policy: TransformersBackend, root: Any,
                                 tools: list[ToolSpec]) -> None:
    problem = make_problem(root, tools, max_calls=1)
    cfg = config("beam", n_retain=1, m_explore=8, temperature=3.0, seed=0)
    result = beam_search(tiny_policy, FavourScorer(name), problem, cfg)
    assert result.calls is not None and [c.name for c in result.calls] == [name]
    assert min(result.best.scores) == 1.0


@dataclass
class NearTieScorer:
    """Prefers function ``name`` by 0.01, as a PRM that is not yet confident does."""

    name: str
    usage: Usage = field(default_factory=Usage)

    def score(self, ctx: ScoringContext, trajectories: Sequence[Sequence[Step]]) -> list[float]:
        return [(0.51 if t[-1].name == self.name else 0.5) if t[-1].tag is StepTag.FUNC_NAME else 1.0
                for t in trajectories]


@dataclass
class ConstantScorer:
    """Every step scores ``value``."""

    value: float = 1.0
    usage: Usage = field(default_factory=Usage)

    def score(self, ctx: ScoringContext, trajectories: Sequence[Sequence[Step]]) -> list[float]:
        return [self.value] * len(trajectories)


def _per_depth(result: SearchResult) -> list[list[dict[str, Any]]]:
    return [e["candidates"] for e in result.trace if "candidates" in e]


def test_adaptive_costs_what_greedy_does_where_nothing_is_doubted(tiny_policy: TransformersBackend, root: Any,
                                                                   tools: list[ToolSpec]) -> None:
    problem = make_problem(root, tools)
    greedy_result = greedy(tiny_policy, ConstantScorer(), problem, config("greedy"))
    sure = beam_search(tiny_policy, ConstantScorer(), problem, config("beam", n_retain=1, m_explore=4, widen_below=0.9))
    assert sure.calls == greedy_result.calls and sure.best.texts == greedy_result.best.texts
    assert all(len(c) == 1 and not c[0]["widened"] for c in _per_depth(sure))  # one candidate per step
    # Everything doubted: every step with a choice explores its M, the likeliest step first.
    doubted = beam_search(tiny_policy, ConstantScorer(0.5), problem,
                          config("beam", n_retain=1, m_explore=4, widen_below=0.9))
    check_result(doubted, tools, max_calls=2)
    depths = _per_depth(doubted)
    assert depths[0][0]["text"] == greedy_result.best.texts[0] and not depths[0][0]["widened"]
    assert len(depths[0]) > 1 and all(c["widened"] for c in depths[0][1:])
    # The policy's doubt alone widens too: no step of a random tiny model is certain.
    unsure = beam_search(tiny_policy, ConstantScorer(), problem,
                         config("beam", n_retain=1, m_explore=4, widen_below=0.9, widen_policy=0.999))
    assert len(_per_depth(unsure)[0]) > 1


@pytest.mark.parametrize("name", ["ping", "set_alarm", "get_weather"])
def test_adaptive_widens_where_the_scorer_doubts_the_likeliest_step(name: str, tiny_policy: TransformersBackend,
                                                                    root: Any, tools: list[ToolSpec]) -> None:
    """Whatever the policy's favourite, a scorer that rejects it gets its own function, as the full beam does;
    where the favourite is the scorer's, the root is not widened."""
    problem = make_problem(root, tools, max_calls=1)
    cfg = config("beam", n_retain=1, m_explore=8, temperature=3.0, seed=0, widen_below=0.5)
    result = beam_search(tiny_policy, FavourScorer(name), problem, cfg)
    assert result.calls is not None and [c.name for c in result.calls] == [name]
    root_step = _per_depth(result)[0]
    assert (len(root_step) == 1) == (root_step[0]["text"].split('"')[3] == name)
    for cands in _per_depth(result):
        first = cands[0]
        assert not first["widened"]
        assert all(c["widened"] for c in cands[1:])
        if first["score"] >= 0.5:
            assert len(cands) == 1


def test_policy_weight_lets_the_policy_outvote_a_small_margin(tiny_policy: TransformersBackend, root: Any,
                                                               tools: list[ToolSpec]) -> None:
    problem = make_problem(root, tools, max_calls=1)
    overruled = 0
    for name in ("get_weather", "set_alarm", "ping"):
        by_score = beam_search(tiny_policy, NearTieScorer(name), problem,
                               config("beam", n_retain=1, m_explore=8, temperature=3.0, seed=0))
        assert [c.name for c in by_score.calls] == [name]  # weight 0: the scorer decides
        weighed = beam_search(tiny_policy, NearTieScorer(name), problem,
                              config("beam", n_retain=1, m_explore=8, temperature=3.0, seed=0, policy_weight=5.0))
        first = weighed.trace[0]["candidates"]
        kept = next(c for c in first if c["kept"])
        assert kept["logprob"] == max(c["logprob"] for c in first)  # 0.01 cannot beat the policy at weight 5
        overruled += weighed.calls[0].name != name
    assert overruled == 2  # the same candidates each time: only the policy's favourite keeps its name


@dataclass
class AskedScorer(FavourScorer):
    """:class:`FavourScorer` that records every trajectory it was asked about."""

    asked: list[tuple[Step, ...]] = field(default_factory=list)

    def score(self, ctx: ScoringContext, trajectories: Sequence[Sequence[Step]]) -> list[float]:
        self.asked += [tuple(t) for t in trajectories]
        return super().score(ctx, trajectories)


@pytest.mark.parametrize("name", ["get_weather", "set_alarm", "ping"])
def test_a_tie_breaker_decides_where_the_scorer_ranks_alike(name: str, tiny_policy: TransformersBackend,
                                                             root: Any, tools: list[ToolSpec]) -> None:
    problem = make_problem(root, tools, max_calls=1)
    cfg = config("beam", n_retain=1, m_explore=8, temperature=3.0, seed=0)
    breaker = AskedScorer(name)
    result = beam_search(tiny_policy, TieBroken(ConstantScorer(), breaker), problem, cfg)
    assert [c.name for c in result.calls] == [name]
    first = result.trace[0]["candidates"]
    assert len(first) == 3 and all("tiebreak" in c for c in first)  # three names, all scored 1: all asked
    assert sorted(c["tiebreak"] for c in first) == [0.1, 0.1, 1.0]  # relative to the group's best
    assert breaker.asked[:3] == [(Step(StepTag.FUNC_NAME, name=c["text"].split('"')[3]),) for c in first]
    # Without the breaker the policy's favourite wins the same tie; with a scorer that decides, the breaker is
    # never asked about the root, and the scorer's choice stands.
    plain = beam_search(tiny_policy, ConstantScorer(), problem, cfg)
    assert plain.calls[0].name == max(first, key=lambda c: c["logprob"])["text"].split('"')[3]
    other = next(t.name for t in tools if t.name != name)
    breaker = AskedScorer(name)
    decided = beam_search(tiny_policy, TieBroken(FavourScorer(other), breaker), problem, cfg)
    assert [c.name for c in decided.calls] == [other]
    assert not any(len(t) == 1 and t[0].tag is StepTag.FUNC_NAME for t in breaker.asked)
    assert all("tiebreak" not in c for c in decided.trace[0]["candidates"])


def test_break_ties_asks_only_about_ties_that_decide() -> None:
    name = lambda n: (Step(StepTag.FUNC_NAME, name=n),)  # noqa: E731
    close = (Step(StepTag.TOTAL_FINISH),)
    trajectories = [name("a"), name("b"), close, name("c"), name("d")]
    keys = [(0.9, 1.0, -1.0), (0.9, 1.0, -2.0), (0.9, 1.0, -0.5), (0.5, 1.0, -0.1), (0.5, 1.0, -0.2)]
    asked: list[Sequence[Step]] = []

    def breaker(ctx: ScoringContext, ts: Sequence[Sequence[Step]]) -> list[float]:
        asked.extend(ts)
        return [{"a": 0.2, "b": 0.8}[t[-1].name] for t in ts]

    ctx = ScoringContext((), ())
    # Width 1: the two names at 0.9 are asked and scored relative to the better one; the close (another tag)
    # and the names at 0.5 (they cannot be kept) are not.
    assert break_ties(breaker, ctx, trajectories, keys, 1) == [0.25, 1.0, None, None, None]
    assert asked == [name("a"), name("b")]
    assert tie_groups(trajectories, keys, 1) == [[0, 1]]  # the groups it asked about, as a recorder sees them
    assert tie_groups(trajectories, keys, 5) == [[0, 1], [3, 4]]  # wider: the names at 0.5 could be kept too
    asked.clear()
    assert break_ties(breaker, ctx, [name("a")], keys[:1], 1) == [None] and not asked  # no tie, no question
    assert break_ties(lambda c, ts: [0.0] * len(ts), ctx, trajectories, keys, 1)[:2] == [1.0, 1.0]  # no opinion
    # Across tags the close joins the group (a breaker calibrated across tags).
    assert break_ties(lambda c, ts: [0.5] * len(ts), ctx, trajectories, keys, 1, across_tags=True) == \
        [1.0, 1.0, 1.0, None, None]
    # Values of one parameter are one slot; which parameter comes next is the policy's choice.
    value = lambda p, v: (Step(StepTag.FUNC_NAME, name="f"), Step(StepTag.ARG_VALUE, p, v))  # noqa: E731
    values = [value("x", 1), value("x", 2), value("y", 1)]
    assert break_ties(lambda c, ts: [float(t[-1].value) for t in ts], ctx, values, keys[:3], 1) == [0.5, 1.0, None]


def test_forced_name_and_max_calls(tiny_policy: TransformersBackend, root: Any, tools: list[ToolSpec]) -> None:
    problem = make_problem(root, tools, forced="set_alarm", max_calls=1)
    for strategy in ("beam", "best_of_n"):
        result = run_search(tiny_policy, VerifierScorer(), problem, config(strategy))
        check_result(result, tools, max_calls=1)
        assert [c.name for c in result.calls] == ["set_alarm"]


def conversation_problem(policy: TransformersBackend, messages: list[Any], tools: list[ToolSpec],
                         forced: str) -> SearchProblem:
    """The search problem of a conversation (the prompt encoded), one call of ``forced`` required."""
    prompt = build_prompt(policy.tokenizer, messages, tools)
    state = TState(policy.prefill(policy.encode(prompt.text, special=not prompt.chat_template), 32 * 4))
    return SearchProblem(state, prompt.call_format, Constraints(tuple(tools), True, forced, 1),
                         ScoringContext(tuple(messages), tuple(tools)))


def test_a_token_parameter_is_offered_the_token_a_result_gave(tiny_policy: TransformersBackend) -> None:
    """The random policy never samples the exact token; the beam still writes it, because the search
    offers the tokens tool results gave to a token parameter (and the verifier ranks them first)."""
    tools = normalize_tools([
        {"type": "function", "function": {"name": "GetUserToken", "description": "Get the user token.", "parameters": {
            "type": "object", "properties": {"username": {"type": "string"}}, "required": ["username"]}}},
        {"type": "function", "function": {"name": "QueryAlarm", "description": "Query the alarm clock.", "parameters": {
            "type": "object", "properties": {"token": {"type": "string"}}, "required": ["token"]}}}])
    messages = [HumanMessage("Check my alarm, my username is JaneSmith."),
                AIMessage("", tool_calls=[{"name": "GetUserToken", "args": {"username": "JaneSmith"}, "id": "c1"}]),
                ToolMessage("{'token': 'o8i7u6y5t4'}", tool_call_id="c1")]
    problem = conversation_problem(tiny_policy, messages, tools, "QueryAlarm")
    assert problem.copies(tools[1].params[0])[0] == "o8i7u6y5t4"
    result = beam_search(tiny_policy, VerifierScorer(), problem, config("beam", m_explore=4))
    assert result.calls == [Call("QueryAlarm", {"token": "o8i7u6y5t4"})]


def test_a_date_parameter_is_offered_the_conversations_date_in_its_format(tiny_policy: TransformersBackend) -> None:
    """The random policy writes no date as "%Y-%m-%d %H:%M:%S"; the beam still does, because the
    search offers the conversation's dates in the format a parameter states."""
    tools = normalize_tools([{"type": "function", "function": {"name": "AddAlarm", "description": "Add an alarm.",
                             "parameters": {"type": "object", "properties": {"time": {
                                 "type": "string", "description": "The alarm time. Format: %Y-%m-%d %H:%M:%S"}},
                                 "required": ["time"]}}}])
    problem = conversation_problem(tiny_policy, [HumanMessage("Set an alarm for 8:30 am on March 25th, 2023.")], tools,
                                   "AddAlarm")
    assert problem.copies(tools[0].params[0])[0] == "2023-03-25 08:30:00"
    result = beam_search(tiny_policy, VerifierScorer(), problem, config("beam", m_explore=4))
    assert result.calls == [Call("AddAlarm", {"time": "2023-03-25 08:30:00"})]


def test_a_parameter_that_counts_days_is_offered_the_span_the_request_names(tiny_policy: TransformersBackend) -> None:
    """"The next week" writes no number; the beam still writes 7 for a count of days, because the
    search offers a span the request names in the parameter's unit (and the verifier grounds it)."""
    tools = normalize_tools([{"type": "function", "function": {"name": "air_quality_forecast", "description": (
        "Air quality forecast."), "parameters": {"type": "object", "properties": {"days": {
            "type": "integer", "description": "Number of days for the forecast."}}, "required": ["days"]}}}])
    problem = conversation_problem(tiny_policy, [HumanMessage("The air quality forecast for the next week?")], tools,
                                   "air_quality_forecast")
    assert problem.copies(tools[0].params[0])[0] == 7
    result = beam_search(tiny_policy, VerifierScorer(), problem, config("beam", m_explore=4))
    assert result.calls == [Call("air_quality_forecast", {"days": 7})]


def test_a_currency_parameter_is_offered_the_codes_of_the_currencies_named(tiny_policy: TransformersBackend) -> None:
    """The random policy writes no "JPY"; the beam still does for the source of a conversion of
    "20000 Japanese Yen", because the search offers a currency parameter the codes of the
    currencies the request names (and the verifier grounds a code by its currency's name)."""
    tools = normalize_tools([{"type": "function", "function": {"name": "convert_currency", "description": (
        "Convert an amount from a base currency to a target currency."), "parameters": {"type": "object", "properties": {
            "base_currency": {"type": "string", "description": "The currency to convert from."},
            "target_currency": {"type": "string", "description": "The currency to convert to."},
            "amount": {"type": "integer", "description": "The amount to convert."}},
            "required": ["base_currency", "target_currency", "amount"]}}}])
    problem = conversation_problem(tiny_policy, [HumanMessage("How much will 20000 Japanese Yen be in euros?")], tools,
                                   "convert_currency")
    assert problem.copies(tools[0].params[0])[:2] == ["EUR", "JPY"]  # the table's order; the verifier decides
    assert "JPY" not in problem.copies(tools[0].params[2]) and problem.copies(tools[0].params[2])[0] == 20000
    result = beam_search(tiny_policy, VerifierScorer(), problem, config("beam", m_explore=4))
    assert result.calls == [Call("convert_currency", {"base_currency": "JPY", "target_currency": "EUR", "amount": 20000})]


def test_a_country_code_parameter_is_offered_the_codes_of_the_countries_named(tiny_policy: TransformersBackend) -> None:
    """"Germany" where the tool wants "DE": offered, as currency codes are; a plain country parameter
    is offered no code."""
    tools = normalize_tools([{"type": "function", "function": {"name": "holidays", "description": (
        "Public holidays."), "parameters": {"type": "object", "properties": {
            "countryCode": {"type": "string", "description": "Two-character country code."},
            "country": {"type": "string", "description": "The country."}},
            "required": ["countryCode"]}}}])
    problem = conversation_problem(tiny_policy, [HumanMessage("Public holidays in Germany and Japan?")], tools,
                                   "holidays")
    assert problem.copies(tools[0].params[0])[:2] == ["JP", "DE"]  # the table's order
    assert "DE" not in problem.copies(tools[0].params[1])


def test_an_array_of_strings_is_offered_the_words_the_request_coordinates(tiny_policy: TransformersBackend) -> None:
    """"chicken and mushrooms" is no quoted or capitalised list; the beam still writes both, because
    the search offers an array of strings the words the request coordinates, and the verifier holds
    a list with one of them a list cut short."""
    tools = normalize_tools([{"type": "function", "function": {"name": "recipe_search", "description": (
        "Find recipes with ingredients."), "parameters": {"type": "object", "properties": {
            "ingredients": {"type": "array", "items": {"type": "string"}, "description": "The ingredients."}},
            "required": ["ingredients"]}}}])
    problem = conversation_problem(tiny_policy, [HumanMessage("A lunch recipe that uses chicken and mushrooms?")],
                                   tools, "recipe_search")
    assert ["chicken", "mushrooms"] in problem.copies(tools[0].params[0])
    result = beam_search(tiny_policy, VerifierScorer(), problem, config("beam", m_explore=4))
    assert result.calls == [Call("recipe_search", {"ingredients": ["chicken", "mushrooms"]})]


def test_no_call_required_may_return_empty_list(tiny_policy: TransformersBackend, root: Any,
                                                tools: list[ToolSpec]) -> None:
    problem = make_problem(root, tools, require=False, max_calls=0)
    result = beam_search(tiny_policy, VerifierScorer(), problem, config("beam"))
    assert result.calls == []
    assert result.best is not None and [s.tag for s in result.best.steps] == [StepTag.TOTAL_FINISH]


def test_unfinished_search_returns_none(tiny_policy: TransformersBackend, root: Any, tools: list[ToolSpec]) -> None:
    result = run_search(tiny_policy, VerifierScorer(), make_problem(root, tools), config("beam", max_steps=2))
    assert result.calls is None and result.best is None and result.finished == []
    assert len(result.trace) == 2 and all("chosen" not in e for e in result.trace)


# ---- best-of-N and majority vote -------------------------------------------------------------
def test_best_of_n_picks_best_aggregate(tiny_policy: TransformersBackend, root: Any, tools: list[ToolSpec]) -> None:
    cfg = config("best_of_n", n_retain=3, aggregation="mean", seed=2, temperature=1.5)
    result = best_of_n(tiny_policy, VerifierScorer(), make_problem(root, tools, max_calls=1), cfg)
    check_result(result, tools, max_calls=1)
    assert 1 <= len(result.finished) <= 3
    for entry in result.trace[:-1]:
        assert len(entry["candidates"]) <= 3
        assert all(c["kept"] for c in entry["candidates"])
    best = max(aggregate(b.scores, "mean") for b in result.finished)
    assert aggregate(result.best.scores, "mean") == best


def test_majority_picks_most_common(tiny_policy: TransformersBackend, root: Any, tools: list[ToolSpec]) -> None:
    cfg = config("majority", n_retain=4, seed=4, temperature=0.7)
    result = majority_vote(tiny_policy, VerifierScorer(), make_problem(root, tools, max_calls=1), cfg)
    check_result(result, tools, max_calls=1)
    votes = Counter(canonical(assemble(b.steps)) for b in result.finished)
    assert votes[canonical(result.calls)] == max(votes.values())


def test_canonical_ignores_order() -> None:
    a = [Call("f", {"x": 1, "y": 2}), Call("g", {})]
    b = [Call("g", {}), Call("f", {"y": 2, "x": 1})]
    assert canonical(a) == canonical(b)
    assert canonical(a) != canonical([Call("f", {"x": 1, "y": 3}), Call("g", {})])
    assert canonical([]) != canonical([Call("g", {})])


# ---- aggregate and config ----------------------------------------------------------------------
def test_aggregate() -> None:
    s = [0.5, 0.8, 0.25]
    assert aggregate(s, "last") == 0.25
    assert aggregate(s, "min") == 0.25
    assert aggregate(s, "mean") == pytest.approx(1.55 / 3)
    assert aggregate(s, "product") == pytest.approx(0.1)
    for how in ("last", "min", "mean", "product"):
        assert aggregate([], how) == 1.0  # type: ignore[arg-type]
        assert aggregate([0.7], how) == pytest.approx(0.7)  # type: ignore[arg-type]


@pytest.mark.parametrize("kwargs", [
    {"n_retain": 0}, {"m_explore": 0}, {"n_retain": -1}, {"aggregation": "max"}, {"strategy": "dfs"},
    {"policy_weight": -0.1}, {"policy_weight": float("nan")}, {"policy_weight": float("inf")},
    {"widen_below": 0.0}, {"widen_below": 1.5}, {"widen_below": float("nan")}, {"widen_policy": 0.5},
    {"widen_below": 0.9, "widen_policy": 1.2},
])
def test_search_config_rejects_bad_values(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        SearchConfig(**kwargs)


def test_search_config_defaults() -> None:
    cfg = SearchConfig()
    assert (cfg.strategy, cfg.n_retain, cfg.m_explore, cfg.aggregation) == ("beam", 1, 4, "min")
