"""Search strategies: plain functions over a policy, a scorer and one config.

Fine-grained beam search keeps the best N partial call lists, expands each with M sampled
candidate next steps (the root, standing for N beams, with N*M), scores every candidate with
the scorer and keeps the best N again ("explore more, retain less"). Constrained greedy, best-of-N and majority vote run on the
same proposer, so their costs compare directly.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from langchain_core.messages import BaseMessage

from .policy import Beam, Candidate, Constraints, KVState, TransformersPolicy
from .prompts import CallFormat, PolicyPrompt, build_prompt
from .schema import ToolSpec
from .scorers import Scorer, ScoringContext
from .steps import Call, StepTag, assemble

Aggregation = Literal["last", "min", "mean", "product"]
Strategy = Literal["beam", "greedy", "best_of_n", "majority"]


def check_policy_weight(weight: float) -> None:
    if not (math.isfinite(weight) and weight >= 0):
        raise ValueError(f"policy_weight must be a finite number >= 0, not {weight!r}")


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

    def __post_init__(self) -> None:
        if self.n_retain < 1 or self.m_explore < 1:
            raise ValueError("n_retain and m_explore must be at least 1")
        check_policy_weight(self.policy_weight)
        if self.aggregation not in ("last", "min", "mean", "product"):
            raise ValueError(f"unknown aggregation {self.aggregation!r}")
        if self.strategy not in ("beam", "greedy", "best_of_n", "majority"):
            raise ValueError(f"unknown strategy {self.strategy!r}")


@dataclass
class SearchProblem:
    """One question: the encoded prompt, the call format, the rules and the scorer's context."""

    root: KVState
    call_format: CallFormat
    rules: Constraints
    context: ScoringContext


def prepare_problem(
    policy: TransformersPolicy, messages: Sequence[BaseMessage], specs: Sequence[ToolSpec], rules: Constraints,
    reserve: int,
) -> tuple[SearchProblem, PolicyPrompt]:
    """Messages + tools -> the encoded prompt and the search problem over it.

    The chat model, the rollout collector and the evaluator all start here, so a question is
    posed to the policy the same way everywhere. ``reserve`` tokens are kept free for the answer.
    """
    prompt = build_prompt(policy.tokenizer, list(messages), list(specs))
    root = policy.prefill(policy.encode(prompt.text, special=not prompt.chat_template), reserve)
    context = ScoringContext(tuple(messages), tuple(specs))
    return SearchProblem(root, prompt.call_format, rules, context), prompt


@dataclass
class SearchResult:
    """The chosen call list (None when no trajectory finished) and how it was found."""

    calls: list[Call] | None
    best: Beam | None
    finished: list[Beam]
    trace: list[dict[str, Any]] = field(default_factory=list)


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


def _key(beam: Beam, config: SearchConfig) -> tuple[float, float]:
    """A path's rank: its aggregated score weighed by the policy (``policy_weight``), then
    its log-probability."""
    score = aggregate(beam.scores, config.aggregation)
    return (score * math.exp(config.policy_weight * beam.logprob), beam.logprob)


def _expand(
    policy: TransformersPolicy, scorer: Scorer, problem: SearchProblem, config: SearchConfig,
    width: int, explore: int, temperature: float, prune: bool,
) -> SearchResult:
    generator = torch.Generator().manual_seed(config.seed) if config.seed is not None else None
    deadline = time.monotonic() + config.timeout if config.timeout else None
    beams = [Beam((), problem.root)] * (1 if prune else width)
    finished: list[Beam] = []
    trace: list[dict[str, Any]] = []
    for depth in range(config.max_steps):
        if not beams:
            break
        if deadline and time.monotonic() > deadline:
            raise TimeoutError(f"the search ran past its timeout of {config.timeout} s")
        # The root stands for N identical beams, so it explores N*M: with M < N the beam fills
        # at the first step instead of staying as narrow as M.
        m = explore * width if prune and depth == 0 else explore
        pairs: list[tuple[int, Candidate]] = []
        for b, beam in enumerate(beams):
            for cand in policy.propose(
                beam, m, fmt=problem.call_format, rules=problem.rules,
                temperature=temperature, max_value_tokens=config.max_value_tokens, generator=generator,
            ):
                pairs.append((b, cand))
        if not pairs:  # every candidate was cut (a value ran past max_value_tokens)
            trace.append({"depth": depth, "candidates": [], "note": "no candidate finished its step"})
            break
        scores = scorer.score(problem.context, [beams[b].steps + (c.step,) for b, c in pairs])
        children = [
            (b, c, s, _key(Beam(beams[b].steps, beams[b].kv, beams[b].logprob + c.logprob,
                                beams[b].scores + (s,)), config))
            for (b, c), s in zip(pairs, scores)
        ]
        if prune:
            keep = sorted(range(len(children)), key=lambda i: children[i][3], reverse=True)
            keep = keep[: max(width - len(finished), 0)]
        else:  # independent samples: every beam keeps its one candidate
            keep = list(range(len(children)))
        trace.append({
            "depth": depth,
            "candidates": [
                {"beam": b, "tag": c.step.tag.name, "text": c.text, "logprob": round(c.logprob, 4),
                 "score": round(s, 4), "path_score": round(k[0], 4), "kept": i in keep}
                for i, (b, c, s, k) in enumerate(children)
            ],
        })
        new_beams = []
        for i in keep:
            b, c, s, _ = children[i]
            if c.step.tag is StepTag.TOTAL_FINISH:  # nothing follows: no need to feed its tokens
                parent = beams[b]
                finished.append(Beam(parent.steps + (c.step,), parent.kv, parent.logprob + c.logprob,
                                     parent.scores + (s,), parent.texts + (c.text,)))
            else:
                new_beams.append(policy.advance(beams[b], c, s))
        beams = new_beams
        if prune and len(finished) >= width:
            break
    return SearchResult(None, None, finished, trace)


def _pick(result: SearchResult, best: Beam | None) -> SearchResult:
    result.best = best
    result.calls = assemble(best.steps) if best else None
    if best is not None:
        result.trace.append({"chosen": list(best.texts), "scores": [round(s, 4) for s in best.scores]})
    return result


def beam_search(policy: TransformersPolicy, scorer: Scorer, problem: SearchProblem, config: SearchConfig) -> SearchResult:
    """Fine-grained beam search: retain N, explore M per beam, best finished path wins."""
    result = _expand(policy, scorer, problem, config, config.n_retain, config.m_explore,
                     config.temperature, prune=True)
    best = max(result.finished, key=lambda b: _key(b, config), default=None)
    return _pick(result, best)


def greedy(policy: TransformersPolicy, scorer: Scorer, problem: SearchProblem, config: SearchConfig) -> SearchResult:
    """Constrained greedy decoding: the most likely step each time (the scorer only reports)."""
    result = _expand(policy, scorer, problem, config, 1, 1, 0.0, prune=True)
    return _pick(result, result.finished[0] if result.finished else None)


def best_of_n(policy: TransformersPolicy, scorer: Scorer, problem: SearchProblem, config: SearchConfig) -> SearchResult:
    """N independent sampled call lists; the best by aggregated score wins."""
    result = _expand(policy, scorer, problem, config, config.n_retain, 1, config.temperature, prune=False)
    best = max(result.finished, key=lambda b: _key(b, config), default=None)
    return _pick(result, best)


def canonical(calls: Sequence[Call]) -> str:
    """One spelling per call list, order of calls and arguments ignored (for voting)."""
    return json.dumps(sorted(json.dumps([c.name, c.arguments], sort_keys=True) for c in calls))


def majority_vote(policy: TransformersPolicy, scorer: Scorer, problem: SearchProblem, config: SearchConfig) -> SearchResult:
    """N independent sampled call lists; the most frequent wins (ties: best score)."""
    result = _expand(policy, scorer, problem, config, config.n_retain, 1, config.temperature, prune=False)
    votes = Counter(canonical(assemble(b.steps)) for b in result.finished)
    best = max(
        result.finished,
        key=lambda b: (votes[canonical(assemble(b.steps))], _key(b, config)),
        default=None,
    )
    return _pick(result, best)


STRATEGIES = {"beam": beam_search, "greedy": greedy, "best_of_n": best_of_n, "majority": majority_vote}


def run_search(policy: TransformersPolicy, scorer: Scorer, problem: SearchProblem, config: SearchConfig) -> SearchResult:
    return STRATEGIES[config.strategy](policy, scorer, problem, config)
