"""The proposer on the transformers backend: candidates follow the grammar and the rules,
finite choices are enumerated by likelihood, values are valid, and advancing writes exactly the
text chosen."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
import torch
from langchain_core.messages import HumanMessage

from langchain_toolprm.backends.transformers import KVState, TorchRng, TransformersBackend, TState
from langchain_toolprm.core.backend import Scored
from langchain_toolprm.core.prompts import build_prompt
from langchain_toolprm.core.proposer import Beam, Candidate, Constraints, advance, choose, propose
from langchain_toolprm.core.schema import ToolSpec, normalize_tools
from langchain_toolprm.core.steps import StepTag, assemble, dump_value, next_tags, replay
from langchain_toolprm.testing import full_hidden

# ---- (5) propose ------------------------------------------------------------------------------
TOOLS_RAW = [
    {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city", "parameters": {
        "type": "object", "properties": {
            "city": {"type": "string", "enum": ["paris", "tokyo", "london"]},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "days": {"type": "integer"}},
        "required": ["city", "unit"]}}},
    {"type": "function", "function": {"name": "set_alarm", "description": "Set an alarm", "parameters": {
        "type": "object", "properties": {
            "hour": {"type": "integer"}, "minute": {"type": "integer"}, "loud": {"type": "boolean"},
            "label": {"const": "wake"}, "note": {"type": "string"}},
        "required": ["hour", "minute"]}}},
    {"type": "function", "function": {"name": "ping", "description": "Ping", "parameters": {
        "type": "object", "properties": {}}}},
]


@pytest.fixture(scope="module")
def tools() -> list[ToolSpec]:
    return normalize_tools(TOOLS_RAW)


_ROOTS: dict[int, tuple[TState, Any, list[int]]] = {}


def _root(policy: TransformersBackend, tools: list[ToolSpec]) -> tuple[TState, Any, list[int]]:
    """The encoded prompt, once per policy (states are never modified: extend copies the cache)."""
    if id(policy) not in _ROOTS:
        prompt = build_prompt(policy.tokenizer, [HumanMessage("weather in paris, and an alarm at 7")], tools)
        ids = policy.encode(prompt.text, special=not prompt.chat_template)
        _ROOTS[id(policy)] = (TState(policy.prefill(ids)), prompt.call_format, ids)
    return _ROOTS[id(policy)]


def _check_candidates(beam: Beam, cands: list[Candidate], rules: Constraints) -> None:
    state = replay(beam.steps)
    allowed = next_tags(beam.steps)
    assert cands
    keys = [(c.step.tag, c.step.name, dump_value(c.step.value)) for c in cands]
    assert len(set(keys)) == len(keys), "duplicate candidates"
    names = {t.name for t in rules.tools}
    for c in cands:
        assert c.step.tag in allowed
        assert c.logprob <= 1e-6
        if c.step.tag is StepTag.FUNC_NAME:
            assert c.step.name in names
            assert len(state.calls) < rules.max_calls
            if rules.forced_name and not state.calls:
                assert c.step.name == rules.forced_name
        elif c.step.tag is StepTag.ARG_VALUE:
            tool = rules.tool(state.open_name)
            param = tool.param(c.step.name)
            assert param is not None, f"unknown argument {c.step.name!r}"
            assert c.step.name not in state.open_args, f"repeated argument {c.step.name!r}"
            assert param.is_valid(c.step.value)
        elif c.step.tag is StepTag.PARAM_FINISH:
            tool = rules.tool(state.open_name)
            assert all(r in state.open_args for r in tool.required), "PARAM_FINISH before required args"
        elif c.step.tag is StepTag.TOTAL_FINISH:
            assert state.calls or not rules.require_call


def _walk(policy: TransformersBackend, tools: list[ToolSpec], rules: Constraints, seed: int,
          m: int = 6, max_depth: int = 30) -> tuple[Beam, Any, list[int], int]:
    root, fmt, prompt = _root(policy, tools)
    rng = random.Random(seed)
    gen = TorchRng(seed)
    beam = Beam((), root)
    proposals = 0
    for _ in range(max_depth):
        if beam.finished:
            break
        cands = propose(policy, beam, m, fmt=fmt, rules=rules, temperature=1.5, max_value_tokens=16, rng=gen)
        proposals += 1
        _check_candidates(beam, cands, rules)
        args = [c for c in cands if c.step.tag is StepTag.ARG_VALUE]
        pick = rng.choice(args if args and rng.random() < 0.7 else cands)
        beam = advance(policy, beam, pick, 1.0)
        # What was fed plus what is pending spells exactly the text written so far.
        assert policy.token_bytes(beam.state.fed) + beam.state.pending == "".join(beam.texts).encode()
    return beam, fmt, prompt, proposals


@pytest.mark.parametrize("seed", [0, 2, 3])
def test_propose_walk_respects_the_grammar(tiny_policy: TransformersBackend, tools: list[ToolSpec],
                                           seed: int) -> None:
    rules = Constraints(tuple(tools), require_call=True, max_calls=2)
    beam, fmt, prompt, proposals = _walk(tiny_policy, tools, rules, seed)
    assert proposals >= 3
    assert beam.finished
    calls = assemble(beam.steps)
    assert 1 <= len(calls) <= rules.max_calls
    for call in calls:
        assert rules.tool(call.name).validate_arguments(call.arguments) is None
    text = "".join(beam.texts)
    assert json.loads(text) == [{"name": c.name, "arguments": c.arguments} for c in calls]
    assert tiny_policy.token_bytes(beam.state.fed) + beam.state.pending == text.encode()


def test_advance_feeds_exactly_the_fed_tokens(tiny_policy: TransformersBackend, tools: list[ToolSpec]) -> None:
    """A beam's cache holds the prompt and its fed tokens: the same as encoding them at once."""
    root, fmt, prompt = _root(tiny_policy, tools)
    rules = Constraints(tuple(tools), require_call=True, forced_name="set_alarm", max_calls=1)
    gen = TorchRng(4)
    beam = Beam((), root)
    for _ in range(3):
        cands = propose(tiny_policy, beam, 3, fmt=fmt, rules=rules, temperature=1.0, max_value_tokens=6,
                                    rng=gen)
        beam = advance(tiny_policy, beam, cands[0], 1.0)
    written = prompt + list(beam.state.fed)
    assert beam.state.kv.length == len(written)
    assert torch.allclose(beam.state.kv.hidden, full_hidden(tiny_policy, written)[-1], atol=1e-4)


def test_propose_walk_qwen_format(tiny_qwen_policy: TransformersBackend, tools: list[ToolSpec]) -> None:
    rules = Constraints(tuple(tools), require_call=True, max_calls=1)
    beam, fmt, _, _ = _walk(tiny_qwen_policy, tools, rules, seed=5)
    assert fmt.name == "qwen"
    assert beam.finished
    calls = assemble(beam.steps)
    assert len(calls) == 1
    text = "".join(beam.texts)
    assert text.startswith("<tool_call>\n") and text.endswith("</tool_call>" + fmt.list_close)
    body = text[len("<tool_call>\n"):-len("\n</tool_call>" + fmt.list_close)]
    assert json.loads(body) == {"name": calls[0].name, "arguments": calls[0].arguments}


def _offered(policy: TransformersBackend, beam: Beam, fmt: Any, rules: Constraints, m: int = 40,
             enumerate_choices: bool = True) -> set[tuple[StepTag, str | None]]:
    return {(c.step.tag, c.step.name) for c in propose(policy, beam, m, fmt=fmt, rules=rules, temperature=1.0, max_value_tokens=4, rng=TorchRng(0),
        enumerate_choices=enumerate_choices)}


def test_propose_first_step_enumerates_every_choice(tiny_policy: TransformersBackend, tools: list[ToolSpec]) -> None:
    root, fmt, _ = _root(tiny_policy, tools)
    beam = Beam((), root)
    every = {(StepTag.FUNC_NAME, t.name) for t in tools}
    assert _offered(tiny_policy, beam, fmt, Constraints(tuple(tools))) == every | {(StepTag.TOTAL_FINISH, None)}
    assert _offered(tiny_policy, beam, fmt, Constraints(tuple(tools), require_call=True)) == every
    assert _offered(tiny_policy, beam, fmt, Constraints(tuple(tools), forced_name="ping")) == {
        (StepTag.FUNC_NAME, "ping"), (StepTag.TOTAL_FINISH, None)}
    assert _offered(tiny_policy, beam, fmt, Constraints(tuple(tools), require_call=True,
                                                        forced_name="set_alarm")) == {(StepTag.FUNC_NAME, "set_alarm")}
    assert _offered(tiny_policy, beam, fmt, Constraints(tuple(tools), max_calls=0)) == {(StepTag.TOTAL_FINISH, None)}
    # M smaller than the choices: the M most likely distinct ones, in order, and "no call"
    # (the last option) always, however unlikely: the scorer must be able to choose it.
    scored = tiny_policy.score_texts(root.kv, b"", [fmt.name_text(t.name, True) for t in tools] + [fmt.empty])
    by_likelihood = sorted(range(len(scored)), key=lambda k: -scored[k].logprob)
    for m in (1, 2):
        got = propose(tiny_policy, beam, m, fmt=fmt, rules=Constraints(tuple(tools)), temperature=1.0,
                                  max_value_tokens=4, rng=TorchRng(None))
        top = by_likelihood[:m]
        want = top + ([len(tools)] if m > 1 and len(tools) not in top else [])
        assert [c.logprob for c in got] == pytest.approx([scored[k].logprob for k in want], abs=1e-6)


def test_no_call_is_offered_when_least_likely(tiny_policy: TransformersBackend, tools: list[ToolSpec],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    root, fmt, _ = _root(tiny_policy, tools)
    real = tiny_policy.score_texts

    def no_call_last(state: KVState, pending: bytes, texts: list[str | None], free: bool = False) -> list[Scored]:
        out = real(state, pending, texts, free=free)
        return [Scored(-50.0, sc.route) if t == fmt.empty else sc for t, sc in zip(texts, out)]

    monkeypatch.setattr(tiny_policy, "score_texts", no_call_last)
    offered = _offered(tiny_policy, Beam((), root), fmt, Constraints(tuple(tools)), m=2)
    assert len(offered) == 3 and (StepTag.TOTAL_FINISH, None) in offered
    # With M=1 (greedy) only the most likely step is offered.
    one = _offered(tiny_policy, Beam((), root), fmt, Constraints(tuple(tools)), m=1)
    assert len(one) == 1 and (StepTag.TOTAL_FINISH, None) not in one


def test_nominated_names_are_offered_however_unlikely(tiny_policy: TransformersBackend, tools: list[ToolSpec]) -> None:
    root, fmt, _ = _root(tiny_policy, tools)
    scored = tiny_policy.score_texts(root.kv, b"", [fmt.name_text(t.name, True) for t in tools])
    least = min(range(len(tools)), key=lambda k: scored[k].logprob)
    name = tools[least].name

    def offered(m: int) -> set[tuple[StepTag, str | None]]:
        return {(c.step.tag, c.step.name) for c in propose(
            tiny_policy, Beam((), root), m, fmt=fmt, rules=Constraints(tuple(tools)), temperature=1.0,
            max_value_tokens=4, rng=TorchRng(0), nominees=(name,))}

    without = _offered(tiny_policy, Beam((), root), fmt, Constraints(tuple(tools)), m=2)
    assert (StepTag.FUNC_NAME, name) not in without  # the least likely name: not in the top 2
    assert offered(2) == without | {(StepTag.FUNC_NAME, name)}
    assert offered(1) == _offered(tiny_policy, Beam((), root), fmt, Constraints(tuple(tools)), m=1)  # greedy: none


def test_propose_inside_a_call(tiny_policy: TransformersBackend, tools: list[ToolSpec]) -> None:
    root, fmt, _ = _root(tiny_policy, tools)
    rules = Constraints(tuple(tools), max_calls=1)
    gen = TorchRng(1)
    beam = Beam((), root)
    [open_call] = propose(tiny_policy, beam, 16, fmt=fmt, rules=Constraints(
        tuple(tools), require_call=True, forced_name="get_weather"), temperature=1.0, max_value_tokens=4,
        rng=gen)
    beam = advance(tiny_policy, beam, open_call, 1.0)
    # city and unit are required: no PARAM_FINISH yet; every parameter is offered (enums enumerated).
    assert _offered(tiny_policy, beam, fmt, rules) == {(StepTag.ARG_VALUE, n) for n in ("city", "unit", "days")}
    for name in ("city", "unit"):
        cand = next(c for c in propose(tiny_policy, beam, 16, fmt=fmt, rules=rules, temperature=1.0,
                                                   max_value_tokens=4, rng=gen) if c.step.name == name)
        beam = advance(tiny_policy, beam, cand, 1.0)
    assert _offered(tiny_policy, beam, fmt, rules) == {(StepTag.ARG_VALUE, "days"), (StepTag.PARAM_FINISH, None)}
    finish = next(c for c in propose(tiny_policy, beam, 16, fmt=fmt, rules=rules, temperature=1.0,
                                                 max_value_tokens=4, rng=gen)
                  if c.step.tag is StepTag.PARAM_FINISH)
    beam = advance(tiny_policy, beam, finish, 1.0)
    only = propose(tiny_policy, beam, 5, fmt=fmt, rules=rules, temperature=1.0, max_value_tokens=4, rng=gen)
    assert [(c.step.tag, c.logprob) for c in only] == [(StepTag.FUNC_FINISH, 0.0)]
    beam = advance(tiny_policy, beam, only[0], 1.0)
    # max_calls=1 reached: only the list's end remains.
    last = propose(tiny_policy, beam, 5, fmt=fmt, rules=rules, temperature=1.0, max_value_tokens=4, rng=gen)
    assert [c.step.tag for c in last] == [StepTag.TOTAL_FINISH]
    assert beam.scores == (1.0,) * 5 and len(beam.texts) == 5


def test_enum_values_are_enumerated(tiny_policy: TransformersBackend, tools: list[ToolSpec]) -> None:
    root, fmt, _ = _root(tiny_policy, tools)
    rules = Constraints(tuple(tools), require_call=True, forced_name="get_weather")
    beam = advance(tiny_policy, Beam((), root), propose(tiny_policy, Beam((), root), 1, fmt=fmt, rules=rules, temperature=1.0, max_value_tokens=4, rng=TorchRng(None))[0], 1.0)
    # Enough budget for every city: each enum value exactly once, however likely.
    many = propose(tiny_policy, beam, 40, fmt=fmt, rules=rules, temperature=1.0, max_value_tokens=4, rng=TorchRng(None))
    cities = sorted(c.step.value for c in many if c.step.name == "city")
    assert cities == ["london", "paris", "tokyo"]


def test_sampling_mode_draws_one_path(tiny_policy: TransformersBackend, tools: list[ToolSpec]) -> None:
    root, fmt, _ = _root(tiny_policy, tools)
    for seed in range(4):
        one = propose(tiny_policy, Beam((), root), 1, fmt=fmt, rules=Constraints(tuple(tools)), temperature=1.0,
                                  max_value_tokens=4, rng=TorchRng(seed),
                                  enumerate_choices=False)
        assert len(one) == 1


def test_propose_greedy_is_deterministic(tiny_policy: TransformersBackend, tools: list[ToolSpec]) -> None:
    root, fmt, _ = _root(tiny_policy, tools)
    rules = Constraints(tuple(tools), require_call=True)
    runs = [propose(tiny_policy, Beam((), root), 4, fmt=fmt, rules=rules, temperature=0.0, max_value_tokens=4,
                                rng=TorchRng(None)) for _ in range(2)]
    assert len(runs[0]) == 1 and runs[0] == runs[1]
    scored = tiny_policy.score_texts(root.kv, b"", [fmt.name_text(t.name, True) for t in tools])
    best = max(range(len(tools)), key=lambda i: scored[i].logprob)
    assert runs[0][0].step.name == tools[best].name
    assert runs[0][0].logprob == pytest.approx(scored[best].logprob, abs=1e-6)


def testchoose() -> None:
    lps = [-3.0, -0.1, -2.0]
    assert choose(lps, 5, 0.0, TorchRng(None), True) == {1: 5}
    assert choose(lps, 2, 1.0, TorchRng(None), True) == {1: 1, 2: 1}  # the two most likely, once each
    assert choose(lps, 9, 1.0, TorchRng(None), True) == {1: 1, 2: 1, 0: 1}
    counts = choose(lps, 50, 1.0, TorchRng(0), False)
    assert sum(counts.values()) == 50
    assert list(counts) == sorted(counts, key=lambda k: -lps[k])
    assert choose([-1.0, -1.0], 7, 1.0, TorchRng(3), False) == choose(
        [-1.0, -1.0], 7, 1.0, TorchRng(3), False)
