"""benchmarks/call_gate.py: a probe of "no call" on the policy's state at the prompt's end."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

from langchain_toolprm.backends.transformers import TransformersBackend
from langchain_toolprm.core.prompts import build_prompt
from langchain_toolprm.data.records import ToolExample

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))  # call_gate imports call_decision beside it, as when run as a script
try:
    spec = importlib.util.spec_from_file_location("call_gate", ROOT / "benchmarks" / "call_gate.py")
    assert spec is not None and spec.loader is not None
    cg = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cg)
finally:
    sys.path.remove(str(ROOT / "benchmarks"))


def test_features_are_the_state_a_reward_head_reads_and_resume_from_the_cache(
        tiny_policy: TransformersBackend, tiny_bfcl: list[ToolExample], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "features.pt"
    feats = cg.features(tiny_policy, tiny_bfcl, cache)
    for ex in tiny_bfcl:
        hidden, margin = feats[ex.id]
        prompt = build_prompt(tiny_policy.tokenizer, ex.lc_messages(), ex.specs())
        # The same state the search's reward head reads before the answer's first byte.
        assert torch.allclose(hidden, tiny_policy.step_states(prompt, [""])[0].float(), atol=1e-5)
        assert margin == pytest.approx(cg.first_step(tiny_policy, ex)[0])

    def recompute(*_: object) -> None:
        raise AssertionError("a cached question was computed again")

    monkeypatch.setattr(cg, "first_step", recompute)
    again = cg.features(tiny_policy, tiny_bfcl, cache)
    assert all(torch.equal(again[i][0], feats[i][0]) and again[i][1] == feats[i][1] for i in feats)
    torch.save({"policy": "another-model", "items": {}}, cache)
    with pytest.raises(ValueError, match="another-model"):
        cg.features(tiny_policy, tiny_bfcl, cache)


def test_one_turn_keeps_first_requests_in_a_fixed_order(tiny_bfcl: list[ToolExample]) -> None:
    ex = tiny_bfcl[0]
    later = ToolExample("after-results", "t", (*ex.messages, {"role": "assistant", "content": "", "tool_calls": []},
                                               {"role": "tool", "content": "18C", "tool_call_id": "0"}), ex.tools, ())
    no_tools = ToolExample("no-tools", "t", ex.messages, (), ())
    kept = cg.one_turn([*tiny_bfcl, later, no_tools], 0)
    assert {k.id for k in kept} == {e.id for e in tiny_bfcl}
    assert kept == cg.one_turn(list(reversed([*tiny_bfcl, later, no_tools])), 0)
    assert len(cg.one_turn(tiny_bfcl, 1)) == 1


def test_the_balanced_threshold_weighs_both_recalls() -> None:
    # Three calls, one no-call: "all calls" has balanced accuracy 0.5; the cut above 0.3 has 1.0.
    assert cg.balanced_threshold([0.1, 0.2, 0.3, 0.9], [False, False, False, True]) == 0.3
    # A call question scored above the no-call one: no cut separates; above 0.2 keeps 1 and 2/3.
    assert cg.balanced_threshold([0.1, 0.5, 0.2, 0.9], [False, True, False, False]) == 0.2


def test_refused_at_reads_one_point_of_the_roc() -> None:
    calls, none = [0.9, 0.5, 0.1, 0.0], [0.95, 0.6, 0.5, 0.2]
    assert cg.refused_at(none, calls, 0.25) == 0.25   # the cut refusing 1 of 4 calls is 0.9
    assert cg.refused_at(none, calls, 0.5) == 0.75    # cut 0.5: 0.95, 0.6 and 0.5 refused
    assert cg.refused_at(none, calls, 0.0) == 0.0


def test_the_probe_finds_a_direction_that_decides_and_ranks_unseen_rows() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(400, 16, generator=gen)
    labels = [bool(v) for v in (x[:, 3] - 0.5 * x[:, 7] > 0)]
    ids = [f"q{i}" for i in range(400)]
    head, report = cg.fit(x[:300], labels[:300], ids[:300], "synthetic")
    assert report["l2"] in cg.L2_GRID
    scores = cg.no_call_scores(head, x[300:])
    pos = [s for s, y in zip(scores, labels[300:]) if y]
    neg = [s for s, y in zip(scores, labels[300:]) if not y]
    assert cg.auc(pos, neg) > 0.95
