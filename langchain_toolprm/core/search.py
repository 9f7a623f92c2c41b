"""Search strategies: plain functions over a backend, a scorer, a problem and one config.

Fine-grained beam search keeps the best N unfinished call lists, expands each with its M most
likely distinct next steps (finite choices enumerated, free values sampled; the root, standing
for N beams, with N*M), scores every candidate and keeps the best N again ("explore more,
retain less"). A call list that closes goes to a pool instead of taking a beam's place, so
"close" and "another call" are both carried to the end and compared as whole lists; an open
path that can no longer beat the best closed one is dropped (scores aggregated by ``min`` or
``product`` only fall along a path). With adaptive exploration (``widen_below``) a path explores
its M only where the scorer doubts the policy's likeliest step, so a question the policy and
scorer agree on costs what greedy does. Constrained greedy, best-of-N and majority vote run on the
same proposer, so their costs compare directly.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal, get_args

from langchain_core.messages import BaseMessage

from .backend import Backend, State
from .prompts import CallFormat, PolicyPrompt, build_prompt
from .proposer import Beam, Candidate, Constraints, advance, propose
from .schema import ParamSpec, ToolSpec
from .scorers import Scorer, ScoringContext
from .steps import Call, Step, StepTag, assemble
from .verifier import (
    TOKEN_PARAM,
    conversation_dates,
    copy_values,
    issued_tokens,
    named_codes,
    named_spans,
    relevant_tools,
    stated_format,
    word_lists,
)

Aggregation = Literal["last", "min", "mean", "product"]
Strategy = Literal["beam", "greedy", "best_of_n", "majority"]
STRATEGY_NAMES: tuple[str, ...] = get_args(Strategy)
_MONOTONE = ("min", "product")


def check_policy_weight(weight: float) -> None:
    if not (math.isfinite(weight) and weight >= 0):
        raise ValueError(f"policy_weight must be a finite number >= 0, not {weight!r}")


def check_widen(below: float | None, policy: float) -> None:
    if below is not None and not (math.isfinite(below) and 0 < below <= 1):
        raise ValueError(f"widen_below must be a score in (0, 1] or None, not {below!r}")
    if not (math.isfinite(policy) and 0 <= policy <= 1):
        raise ValueError(f"widen_policy must be a probability in [0, 1], not {policy!r}")
    if policy and below is None:
        raise ValueError("widen_policy needs widen_below (adaptive exploration is off without it)")


@dataclass(frozen=True)
class SearchConfig:
    """Knobs of every strategy. ``n_retain``/``m_explore`` are the paper's N and M; best-of-N
    and majority vote sample ``n_retain`` independent trajectories."""

    strategy: Strategy = "beam"
    n_retain: int = 1
    m_explore: int = 4
    temperature: float = 0.8
    aggregation: Aggregation = "min"
    max_steps: int = 64
    max_value_tokens: int = 32
    seed: int | None = 0
    timeout: float | None = None
    policy_weight: float = 0.0
    """A path ranks by score x p(path)^policy_weight. At 0 the scorer ranks and the policy's
    log-probability only breaks ties; a small weight keeps a PRM that is not yet confident from
    overriding the policy on a margin of a few thousandths."""
    widen_below: float | None = None
    """Adaptive exploration (beam only): each path first takes the policy's likeliest step alone,
    as constrained greedy would, and explores its M candidates only where the scorer rates that
    step below this (or the policy gives it less than ``widen_policy``). None: always M."""
    widen_policy: float = 0.0

    def __post_init__(self) -> None:
        if self.n_retain < 1 or self.m_explore < 1:
            raise ValueError("n_retain and m_explore must be at least 1")
        check_policy_weight(self.policy_weight)
        if self.aggregation not in ("last", "min", "mean", "product"):
            raise ValueError(f"unknown aggregation {self.aggregation!r}")
        if self.strategy not in STRATEGY_NAMES:
            raise ValueError(f"unknown strategy {self.strategy!r}: choose from {', '.join(STRATEGY_NAMES)}")
        if not (math.isfinite(self.temperature) and self.temperature >= 0):
            raise ValueError(f"temperature must be a finite number >= 0, not {self.temperature!r}")
        if self.max_steps < 1 or self.max_value_tokens < 1:
            raise ValueError("max_steps and max_value_tokens must be at least 1")
        check_widen(self.widen_below, self.widen_policy)
        if self.timeout is not None and not (self.timeout > 0 and math.isfinite(self.timeout)):
            raise ValueError(f"timeout must be a positive number of seconds or None, not {self.timeout!r}")


@dataclass
class SearchProblem:
    """One question: the encoded prompt, the call format, the rules and the scorer's context."""

    root: State
    call_format: CallFormat
    rules: Constraints
    context: ScoringContext

    @cached_property
    def nominees(self) -> tuple[str, ...]:
        """The tools the request is about (the verifier's relevance reaches its threshold), most
        relevant first: offered at every name step beside the policy's likeliest names."""
        return tuple(relevant_tools(self.context))

    def copies(self, param: ParamSpec) -> list[Any]:
        """Values for ``param`` taken from the request (numbers, names, words); for a token
        parameter the tokens tool results gave; for a parameter that states a date or time format
        the conversation's dates written in it; for a parameter that counts time the spans the
        request names without a count ("next week": 7 days); for a currency parameter the codes of
        the currencies the request names ("JPY" for "Japanese yen"), for a country code parameter
        those of its countries ("DE" for "Germany"); for an array of strings the words
        the request coordinates ("chicken and mushrooms"). Candidates the beam adds to the
        sampled ones, so a value the conversation spelled out is always proposed, in the form asked."""
        request = self.context.request
        fmt = stated_format(param.name, param.schema)
        dates = conversation_dates(self.context, fmt) if fmt else []
        tokens = issued_tokens(self.context) if TOKEN_PARAM.search(param.name) else []
        spans = [n for n, _ in named_spans(request, param.name, param.schema)]
        codes = named_codes(request, param.name, param.schema)
        lists = word_lists(self.context, param.schema)
        return [*dates, *tokens, *spans, *codes, *copy_values(request, param.schema), *lists]


def prepare_problem(
    backend: Backend, messages: Sequence[BaseMessage], specs: Sequence[ToolSpec], rules: Constraints,
    reserve: int, *, max_prompt: int | None = None,
) -> tuple[SearchProblem, PolicyPrompt]:
    """Messages + tools -> the encoded prompt and the search problem over it.

    The answer engine and the rollout collector start here, so a question is posed to the policy
    the same way everywhere. ``reserve`` tokens are kept free for the answer; a prompt of more
    than ``max_prompt`` tokens is refused before any model call.
    """
    prompt = build_prompt(backend.tokenizer, list(messages), list(specs))
    root = backend.start(prompt, reserve, max_prompt=max_prompt)
    context = ScoringContext(tuple(messages), tuple(specs))
    return SearchProblem(root, prompt.call_format, rules, context), prompt


@dataclass
class SearchResult:
    """The chosen call list (None when no trajectory finished) and how it was found."""

    calls: list[Call] | None
    best: Beam | None
    finished: list[Beam]
    trace: list[dict[str, Any]] = field(default_factory=list)
    decided: tuple[Step, ...] = ()
    """The longest prefix reported to ``on_decided`` so far."""


OnDecided = Callable[[tuple[Step, ...]], None]
"""Receives the step prefix every path still in contention shares, each time it grows."""
OnTrace = Callable[[dict[str, Any]], None]
"""Receives each trace entry as soon as it is written (a depth's scored candidates, then the
chosen list), so a caller can show the search while it runs."""


def aggregate(scores: Sequence[float], how: Aggregation) -> float:
    """A path's score from its step scores."""
    if not scores:
        return 1.0
    if how == "last":
        return scores[-1]
    if how == "min":
        return min(scores)
    if how == "mean":
        return sum(scores) / len(scores)
    return math.prod(scores)


def _key(scores: Sequence[float], logprob: float, config: SearchConfig,
         tiebreak: float = 1.0) -> tuple[float, float, float]:
    """A path's rank: its aggregated score weighed by the policy (``policy_weight``), then a tie
    breaker's say (:func:`break_ties`; 1 where none spoke), then its log-probability."""
    score = aggregate(scores, config.aggregation)
    return (score * math.exp(config.policy_weight * logprob), tiebreak, logprob)


def tie_groups(trajectories: Sequence[Sequence[Step]], keys: Sequence[tuple[float, float, float]], width: int,
               across_tags: bool = False) -> list[list[int]]:
    """The candidates of one depth a tie breaker is asked about, group by group: two or more
    that the scorer ranks alike, that fill one slot (a function name, one parameter's value, a
    close; any slot with ``across_tags``) and that could be kept (their score is among the
    ``width`` best)."""
    if not keys:
        return []
    cut = sorted((k[0] for k in keys), reverse=True)[min(width, len(keys)) - 1]
    groups: dict[tuple[float, StepTag | None, str | None], list[int]] = {}
    for i, (k, steps) in enumerate(zip(keys, trajectories)):
        if k[0] >= cut:
            last = steps[-1]
            slot = (None, None) if across_tags else \
                (last.tag, last.name if last.tag is StepTag.ARG_VALUE else None)
            groups.setdefault((k[0], *slot), []).append(i)
    return [g for g in groups.values() if len(g) > 1]


def break_ties(breaker: Callable[[ScoringContext, Sequence[Sequence[Step]]], list[float]], ctx: ScoringContext,
               trajectories: Sequence[Sequence[Step]], keys: Sequence[tuple[float, float, float]],
               width: int, across_tags: bool = False) -> list[float | None]:
    """The tie breaker's say on each candidate of one depth, None where it was not asked
    (:func:`tie_groups` says where it is).

    Its scores are taken relative to the group's best (that one gets 1, as every unasked
    candidate has), so it orders names among names and one parameter's values among its values,
    while the structure (a call or ``[]``, which argument next or the call's close) stays with the
    policy's log-probability: a reward model that ranks siblings well need not be calibrated
    across slots. ``across_tags`` groups ties whatever their slots (for a breaker that is
    calibrated across them).
    """
    say: list[float | None] = [None] * len(keys)
    asked = tie_groups(trajectories, keys, width, across_tags)
    flat = [i for g in asked for i in g]
    scores = dict(zip(flat, breaker(ctx, [trajectories[i] for i in flat]))) if flat else {}
    for group in asked:
        top = max(scores[i] for i in group)
        for i in group:
            say[i] = scores[i] / top if top > 0 else 1.0
    return say


def _judge(scorer: Scorer, ctx: ScoringContext, beams: Sequence[Beam],
           pairs: Sequence[tuple[int, Candidate]]) -> list[tuple[float, str]]:
    """Each (beam index, candidate)'s path scored, with the scorer's reasons where it gives them
    (the verifier does)."""
    trajectories = [beams[b].steps + (c.step,) for b, c in pairs]
    if not trajectories:
        return []
    judge = getattr(scorer, "judge", None)
    if judge is not None:
        return [(j.score, j.reason) for j in judge(ctx, trajectories)]
    return [(s, "") for s in scorer.score(ctx, trajectories)]


def _shared_prefix(paths: Sequence[tuple[Step, ...]]) -> tuple[Step, ...]:
    if not paths:
        return ()
    first = paths[0]
    n = min(len(p) for p in paths)
    end = next((i for i in range(n) if any(p[i] != first[i] for p in paths)), n)
    return first[:end]


def _expand(
    backend: Backend, scorer: Scorer, problem: SearchProblem, config: SearchConfig, *,
    width: int, explore: int, temperature: float, samples: bool, on_decided: OnDecided | None,
    on_trace: OnTrace | None,
) -> SearchResult:
    """The shared loop. ``samples``: ``width`` independent paths, one sampled step each per round
    (best-of-N, majority); otherwise a beam of ``width`` over enumerated choices."""
    rng = backend.rng(config.seed)
    deadline = time.monotonic() + config.timeout if config.timeout else None
    beams = [Beam((), problem.root)] * (width if samples else 1)
    ids = [0] * len(beams)  # each beam is named by the number of the candidate that made it
    finished: list[Beam] = []
    best: tuple[float, float] | None = None
    trace: list[dict[str, Any]] = []

    def write(entry: dict[str, Any]) -> None:
        trace.append(entry)
        if on_trace is not None:
            on_trace(entry)

    def offer(beam: Beam, m: int, temperature: float, memo: dict[int, Any] | None) -> list[Candidate]:
        return propose(backend, beam, m, fmt=problem.call_format, rules=problem.rules, temperature=temperature,
                       max_value_tokens=config.max_value_tokens, rng=rng, enumerate_choices=not samples,
                       copies=problem.copies, nominees=problem.nominees[:m], memo=memo)

    decided: tuple[Step, ...] = ()
    counter = 0
    for depth in range(config.max_steps):
        if not beams:
            break
        if deadline and time.monotonic() > deadline:
            raise TimeoutError(f"the search ran past its timeout of {config.timeout} s")
        # The root stands for N identical beams, so it explores N*M: with M < N the beam fills
        # at the first step instead of staying as narrow as M.
        m = explore * width if not samples and depth == 0 else explore
        adaptive = config.widen_below is not None and not samples
        first = (1, 0.0) if adaptive else (m, temperature)
        memo: dict[int, Any] | None = {} if adaptive else None  # option scores kept for the widening round
        pairs = [(b, c) for b, beam in enumerate(beams) for c in offer(beam, *first, memo)]
        judged = _judge(scorer, problem.context, beams, pairs)
        first_round = len(pairs)
        if adaptive:  # widen where the likeliest step is doubted; the rest stay greedy
            sure = {b for (b, c), (s, _) in zip(pairs, judged)
                    if s >= config.widen_below and math.exp(c.logprob) >= config.widen_policy}  # type: ignore[operator]
            have = {(b, c.text) for b, c in pairs}
            more = [(b, c) for b, beam in enumerate(beams) if b not in sure
                    for c in offer(beam, m, temperature, memo) if (b, c.text) not in have]
            pairs += more
            judged += _judge(scorer, problem.context, beams, more)
        if not pairs:  # every candidate was cut (a value ran past max_value_tokens)
            write({"depth": depth, "candidates": [], "note": "no candidate finished its step"})
            break
        keys = [_key(beams[b].scores + (s,), beams[b].logprob + c.logprob, config)
                for (b, c), (s, _) in zip(pairs, judged)]
        breaker = None if samples else getattr(scorer, "break_ties", None)
        said: list[float | None] = [None] * len(pairs)
        if breaker is not None:
            said = break_ties(breaker, problem.context, [beams[b].steps + (c.step,) for b, c in pairs], keys, width,
                              getattr(scorer, "across_tags", False))
            keys = [(k[0], 1.0 if t is None else t, k[2]) for k, t in zip(keys, said)]
        closing = [i for i, (_, c) in enumerate(pairs) if c.step.tag is StepTag.TOTAL_FINISH]
        for i in closing:
            best = keys[i] if best is None else max(best, keys[i])
        going = [i for i in range(len(pairs)) if i not in closing]
        if not samples:
            going.sort(key=lambda i: keys[i], reverse=True)
            if best is not None and config.aggregation in _MONOTONE:
                going = [i for i in going if keys[i] > best]  # it can only fall: it can never win
            going = going[:width]
        numbers = list(range(counter + 1, counter + 1 + len(pairs)))
        counter += len(pairs)
        write({
            "depth": depth,
            "candidates": [
                {"id": numbers[i], "parent": ids[b], "tag": c.step.tag.name, "text": c.text,
                 "logprob": round(c.logprob, 4), "score": round(s, 4), "why": why,
                 "path_score": round(keys[i][0], 4), "kept": i in going or i in closing,
                 **({"widened": i >= first_round} if adaptive else {}),
                 **({"tiebreak": round(said[i], 4)} if said[i] is not None else {})}  # type: ignore[arg-type]
                for i, ((b, c), (s, why)) in enumerate(zip(pairs, judged))
            ],
        })
        for i in closing:
            (b, c), (s, _) = pairs[i], judged[i]
            parent = beams[b]  # nothing follows a closed list: its text need not be written
            finished.append(Beam(parent.steps + (c.step,), parent.state, parent.logprob + c.logprob,
                                 parent.scores + (s,), parent.texts + (c.text,), keys[i][1]))
        beams, ids = ([advance(backend, beams[pairs[i][0]], pairs[i][1], judged[i][0]) for i in going],
                      [numbers[i] for i in going])
        if on_decided is not None:
            leader = max(finished, key=lambda f: _key(f.scores, f.logprob, config, f.tiebreak)) \
                if finished and not samples else None
            contenders = [b.steps for b in beams] + ([leader.steps] if leader else []) + \
                ([f.steps for f in finished] if samples else [])
            shared = _shared_prefix(contenders)
            if len(shared) > len(decided):
                decided = shared
                on_decided(decided)
    return SearchResult(None, None, finished, trace, decided)


def _pick(result: SearchResult, best: Beam | None, on_decided: OnDecided | None = None,
          on_trace: OnTrace | None = None) -> SearchResult:
    result.best = best
    result.calls = assemble(best.steps) if best else None
    if best is not None:
        result.trace.append({"chosen": list(best.texts), "scores": [round(s, 4) for s in best.scores]})
        if on_trace is not None:
            on_trace(result.trace[-1])
        if on_decided is not None and len(best.steps) > len(result.decided):
            result.decided = best.steps
            on_decided(best.steps)
    return result


def beam_search(backend: Backend, scorer: Scorer, problem: SearchProblem, config: SearchConfig,
                on_decided: OnDecided | None = None, *, on_trace: OnTrace | None = None) -> SearchResult:
    """Fine-grained beam search: retain N open paths, explore M per path, the best closed list wins."""
    result = _expand(backend, scorer, problem, config, width=config.n_retain, explore=config.m_explore,
                     temperature=config.temperature, samples=False, on_decided=on_decided, on_trace=on_trace)
    return _pick(result, best_scored(result.finished, config), on_decided, on_trace)


def greedy(backend: Backend, scorer: Scorer, problem: SearchProblem, config: SearchConfig,
           on_decided: OnDecided | None = None, *, on_trace: OnTrace | None = None) -> SearchResult:
    """Constrained greedy decoding: the most likely step each time (the scorer only reports)."""
    result = _expand(backend, scorer, problem, config, width=1, explore=1, temperature=0.0, samples=False,
                     on_decided=on_decided, on_trace=on_trace)
    return _pick(result, result.finished[0] if result.finished else None, on_decided, on_trace)


def _sample(backend: Backend, scorer: Scorer, problem: SearchProblem, config: SearchConfig,
            on_decided: OnDecided | None, on_trace: OnTrace | None) -> SearchResult:
    """N independent sampled call lists, the same for best-of-N and majority vote."""
    return _expand(backend, scorer, problem, config, width=config.n_retain, explore=1,
                   temperature=config.temperature, samples=True, on_decided=on_decided, on_trace=on_trace)


def best_of_n(backend: Backend, scorer: Scorer, problem: SearchProblem, config: SearchConfig,
              on_decided: OnDecided | None = None, *, on_trace: OnTrace | None = None) -> SearchResult:
    """N independent sampled call lists; the best by aggregated score wins."""
    result = _sample(backend, scorer, problem, config, on_decided, on_trace)
    return _pick(result, best_scored(result.finished, config), on_decided, on_trace)


def canonical(calls: Sequence[Call]) -> str:
    """One spelling per call list, order of calls and arguments ignored (for voting)."""
    return json.dumps(sorted(json.dumps([c.name, c.arguments], sort_keys=True) for c in calls))


def best_scored(paths: Sequence[Beam], config: SearchConfig) -> Beam | None:
    """The finished path with the best aggregated score (ties: the tie breaker's say, then the
    likelier)."""
    return max(paths, key=lambda b: _key(b.scores, b.logprob, config, b.tiebreak), default=None)


def most_voted(paths: Sequence[Beam], config: SearchConfig) -> Beam | None:
    """The finished path whose call list the most paths share (ties: the best scored)."""
    votes = Counter(canonical(assemble(b.steps)) for b in paths)
    return max(paths, key=lambda b: (votes[canonical(assemble(b.steps))], _key(b.scores, b.logprob, config)),
               default=None)


SAMPLE_PICKS: dict[str, Callable[[Sequence[Beam], SearchConfig], Beam | None]] = {
    "best_of_n": best_scored, "majority": most_voted}
"""How best-of-N and majority vote choose among the same samples (:func:`_sample` draws them
alike for both), so an evaluation can read both answers off one sampling run."""


def majority_vote(backend: Backend, scorer: Scorer, problem: SearchProblem, config: SearchConfig,
                  on_decided: OnDecided | None = None, *, on_trace: OnTrace | None = None) -> SearchResult:
    """N independent sampled call lists; the most frequent wins (ties: best score)."""
    result = _sample(backend, scorer, problem, config, on_decided, on_trace)
    return _pick(result, most_voted(result.finished, config), on_decided, on_trace)


STRATEGIES = {"beam": beam_search, "greedy": greedy, "best_of_n": best_of_n, "majority": majority_vote}


def run_search(backend: Backend, scorer: Scorer, problem: SearchProblem, config: SearchConfig,
               on_decided: OnDecided | None = None, *, on_trace: OnTrace | None = None) -> SearchResult:
    return STRATEGIES[config.strategy](backend, scorer, problem, config, on_decided, on_trace=on_trace)
