"""Scorers: the rule-based verifier, the PRM input encoding, the generative PRM, the combination."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from langchain_toolprm import TransformersBackend
from langchain_toolprm.core.backend import Usage
from langchain_toolprm.core.schema import ToolSpec, normalize_tools
from langchain_toolprm.core.scorers import (
    CombinedScorer,
    GenerativePRM,
    ScoringContext,
    encode_trajectory,
    label_token_ids,
)
from langchain_toolprm.core.steps import Call, Step, StepTag, render_trajectory, segment
from langchain_toolprm.core.verifier import VerifierScorer

T = StepTag

TOOLS_RAW = [
    {"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": {
        "type": "object", "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "days": {"type": "integer", "minimum": 1},
            "hourly": {"type": "boolean", "default": False},
            "tags": {"type": "array", "items": {"type": "string"}}},
        "required": ["city"]}}},
    {"type": "function", "function": {"name": "convert", "description": "Convert money", "parameters": {
        "type": "object", "properties": {
            "amount": {"type": "number"}, "to": {"type": "string"}},
        "required": ["amount", "to"]}}},
]


@pytest.fixture(scope="module")
def tools() -> list[ToolSpec]:
    return normalize_tools(TOOLS_RAW)


@pytest.fixture(scope="module")
def ctx(tools: list[ToolSpec]) -> ScoringContext:
    messages = (
        SystemMessage("You are helpful."),
        HumanMessage("What is the weather in Paris in celsius for 3 days? Also convert 12.5 to EUR."),
        AIMessage("I think Berlin is nice."),
        ToolMessage("It is raining in Lyon", tool_call_id="c1"),
    )
    return ScoringContext(messages, tuple(tools))


def with_open(name: str, *args: tuple[str, Any]) -> list[Step]:
    return [Step(T.FUNC_NAME, name), *(Step(T.ARG_VALUE, k, v) for k, v in args)]


def arg_score(ctx: ScoringContext, name: str, value: Any, tool: str = "get_weather") -> float:
    [score] = VerifierScorer().score(ctx, [[*with_open(tool), Step(T.ARG_VALUE, name, value)]])
    return score


# ---- ScoringContext ---------------------------------------------------------------------------
def test_context_text_and_evidence(ctx: ScoringContext) -> None:
    assert ctx.text.endswith("Calls: ")
    assert "Functions:" in ctx.text and "get_weather" in ctx.text
    assert "paris" in ctx.evidence and "lyon" in ctx.evidence and "you are helpful" in ctx.evidence
    assert "berlin" not in ctx.evidence  # the assistant's own turns are no evidence
    assert ctx.tool("convert") is not None and ctx.tool("nope") is None


def test_every_step_of_a_trajectory_is_scored_in_range(ctx: ScoringContext) -> None:
    steps = segment([Call("get_weather", {"city": "Paris", "unit": "celsius", "days": 3}),
                     Call("convert", {"amount": 12.5, "to": "EUR"})])
    prefixes = [steps[:i + 1] for i in range(len(steps))]
    scores = VerifierScorer().score(ctx, prefixes)
    assert len(scores) == len(steps)
    assert all(0.5 < s <= 1.0 for s in scores)
    assert VerifierScorer().score(ctx, []) == []


# ---- encode_trajectory ------------------------------------------------------------------------
TRAJECTORIES = {
    "one call": segment([Call("get_weather", {"city": "Paris", "unit": "celsius"})]),
    "parallel": segment([Call("get_weather", {"city": "Paris"}), Call("convert", {"amount": 12.5, "to": "EUR"})]),
    "empty": segment([]),
    "partial": segment([Call("get_weather", {"city": "Lyon", "tags": ["a", "b"]})])[:3],
}


@pytest.mark.parametrize("which", ["gemma", "qwen"])
@pytest.mark.parametrize("name", TRAJECTORIES)
def test_encode_trajectory_positions(which: str, name: str, ctx: ScoringContext,
                                     tiny_policy: TransformersBackend, tiny_qwen_policy: TransformersBackend) -> None:
    tok = (tiny_policy if which == "gemma" else tiny_qwen_policy).tokenizer
    steps = TRAJECTORIES[name]
    ids, positions = encode_trajectory(tok, ctx.text, steps)
    assert len(positions) == len(steps)
    assert positions == sorted(set(positions))
    assert tok.decode(ids, skip_special_tokens=True) == render_trajectory(ctx.text, steps)
    for pos, step in zip(positions, steps, strict=True):
        last = tok.decode([ids[pos]])
        assert last and step.tag.value.endswith(last)
        assert tok.decode(ids[:pos + 1], skip_special_tokens=True).endswith(step.tag.value)
        assert tok.decode([ids[pos + 1]]) == "\n"
    assert positions[-1] == len(ids) - 1 - len(tok("\n", add_special_tokens=False)["input_ids"])


def test_label_token_ids(tiny_policy: TransformersBackend) -> None:
    tok = tiny_policy.tokenizer
    plus, minus = label_token_ids(tok)
    assert plus != minus
    assert tok.decode([plus]) == "+" and tok.decode([minus]) == "-"
    with pytest.raises(ValueError, match="not a single token"):
        label_token_ids(tok, plus="celsius fahrenheit")


# ---- GenerativePRM ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def prm(tiny_gemma_path: Any) -> GenerativePRM:
    return GenerativePRM.from_pretrained(tiny_gemma_path)


def _all_prefixes() -> list[list[Step]]:
    out = []
    for steps in TRAJECTORIES.values():
        out += [list(steps[:i + 1]) for i in range(len(steps))]
    return out


def reference_prm(prm: GenerativePRM, ctx: ScoringContext, steps: Sequence[Step]) -> float:
    ids, positions = encode_trajectory(prm.tokenizer, ctx.text, steps)
    with torch.no_grad():
        logits = prm.model(input_ids=torch.tensor([ids])).logits[0, positions[-1]]
    return float(torch.softmax(logits[list(prm.label_ids)].float(), -1)[0])


def test_prm_scores_in_range_and_match_full_forward(prm: GenerativePRM, ctx: ScoringContext) -> None:
    trajectories = _all_prefixes()
    scores = prm.score(ctx, trajectories)
    assert len(scores) == len(trajectories)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert len(set(round(s, 6) for s in scores)) > 1
    n_ctx = len(prm.tokenizer(ctx.text, add_special_tokens=True)["input_ids"])
    assert n_ctx > 16  # the cached context runs past the tiny Gemma's sliding window
    for steps, s in list(zip(trajectories, scores, strict=True))[::5]:
        assert s == pytest.approx(reference_prm(prm, ctx, steps), abs=1e-4)


def test_prm_batch_size_independence(prm: GenerativePRM, ctx: ScoringContext) -> None:
    trajectories = _all_prefixes()
    batched = prm.score(ctx, trajectories)
    reversed_ = prm.score(ctx, trajectories[::-1])[::-1]
    picks = [0, 4, 7, len(trajectories) - 1]  # short and long trajectories
    alone = [prm.score(ctx, [trajectories[i]])[0] for i in picks]
    pair = prm.score(ctx, [trajectories[0], trajectories[-1]])
    assert batched == pytest.approx(reversed_, abs=1e-4)
    assert [batched[i] for i in picks] == pytest.approx(alone, abs=1e-4)
    assert [batched[0], batched[-1]] == pytest.approx(pair, abs=1e-4)


def test_prm_reuses_the_context_cache(prm: GenerativePRM, ctx: ScoringContext, tools: list[ToolSpec]) -> None:
    steps = list(TRAJECTORIES["one call"])
    prm.score(ctx, [steps])
    before = prm.usage.input_tokens
    prm.score(ctx, [steps, steps[:2]])
    fed = prm.usage.input_tokens - before
    ids, _ = encode_trajectory(prm.tokenizer, "", steps)
    assert fed == 2 * len(ids)  # two padded rows, no context re-encoded
    other = ScoringContext((HumanMessage("hello"),), tuple(tools))
    before = prm.usage.input_tokens
    [score] = prm.score(other, [steps])
    assert prm.usage.input_tokens - before > len(ids)  # a new context is encoded
    assert score == pytest.approx(reference_prm(prm, other, steps), abs=1e-4)
    assert prm.score(ctx, []) == []


def test_prm_from_pretrained_missing_path(tmp_path: Any) -> None:
    with pytest.raises(FileNotFoundError):
        GenerativePRM.from_pretrained(tmp_path / "nope")


# ---- CombinedScorer ---------------------------------------------------------------------------
@dataclass
class FixedScorer:
    values: list[float]
    tokens: int = 0
    usage: Usage = field(default_factory=Usage)

    def score(self, ctx: ScoringContext, trajectories: Sequence[Sequence[Step]]) -> list[float]:
        self.usage.input_tokens += self.tokens
        return list(self.values[:len(trajectories)])


def test_combined_is_weighted_geometric_mean(ctx: ScoringContext) -> None:
    a, b = [0.9, 0.5, 0.2, 1.0], [0.4, 0.5, 0.8, 0.0]
    trajectories = [[Step(T.TOTAL_FINISH)]] * 4
    combined = CombinedScorer([FixedScorer(a, tokens=3), FixedScorer(b, tokens=5)], weights=[1.0, 3.0])
    got = combined.score(ctx, trajectories)
    for i in range(3):
        assert got[i] == pytest.approx(math.exp((math.log(a[i]) + 3 * math.log(b[i])) / 4), rel=1e-9)
    assert got[3] < 1e-6  # a zero score dominates
    assert combined.usage.input_tokens == 8
    equal = CombinedScorer([FixedScorer(a), FixedScorer(b)]).score(ctx, trajectories)
    assert equal[:3] == pytest.approx([math.sqrt(x * y) for x, y in zip(a[:3], b[:3], strict=True)], rel=1e-9)
    assert CombinedScorer([FixedScorer(a)], weights=[2.0]).score(ctx, trajectories)[:3] == pytest.approx(a[:3])


def test_combined_verifier_and_prm(prm: GenerativePRM, ctx: ScoringContext) -> None:
    trajectories = _all_prefixes()[:8]
    v = VerifierScorer().score(ctx, trajectories)
    p = prm.score(ctx, trajectories)
    before = prm.usage.input_tokens
    combined = CombinedScorer([VerifierScorer(), prm], weights=[2.0, 1.0])
    got = combined.score(ctx, trajectories)
    want = [math.exp((2 * math.log(max(x, 1e-9)) + math.log(max(y, 1e-9))) / 3) for x, y in zip(v, p, strict=True)]
    assert got == pytest.approx(want, abs=1e-4)
    assert all(0.0 <= s <= 1.0 for s in got)
    assert combined.usage.input_tokens == prm.usage.input_tokens - before > 0
