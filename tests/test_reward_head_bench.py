"""benchmarks/reward_head.py: scorers of both kinds on the same unique held-out steps."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from langchain_toolprm import GenerativePRM
from langchain_toolprm.backends.transformers import TransformersBackend
from langchain_toolprm.core.steps import Call, segment
from langchain_toolprm.data.records import LabelledTrajectory, ToolExample
from langchain_toolprm.training.prm import step_probabilities
from langchain_toolprm.training.reward_head import step_features

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("reward_head_bench", ROOT / "benchmarks" / "reward_head.py")
assert spec is not None and spec.loader is not None
rh = importlib.util.module_from_spec(spec)
sys.modules["reward_head_bench"] = rh
spec.loader.exec_module(rh)

TOOLS = ({"type": "function", "function": {"name": "get_weather", "description": "Weather in a city", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},)


def trajectories() -> list[LabelledTrajectory]:
    """One query: gold (all "+") and a wrong city sharing gold's first step."""
    ex = ToolExample("q0", "test", ({"role": "user", "content": "weather in Paris?"},), TOOLS,
                     (Call("get_weather", {"city": "Paris"}),))
    gold = segment([Call("get_weather", {"city": "Paris"})])
    wrong = segment([Call("get_weather", {"city": "Rome"})])
    return [LabelledTrajectory(ex, tuple(gold), (True,) * len(gold), "gold"),
            LabelledTrajectory(ex, tuple(wrong), (True,) + (False,) * (len(wrong) - 1), "rollout")]


@pytest.fixture(scope="module")
def feats(tiny_policy: TransformersBackend) -> rh.StepFeatures:
    return step_features(tiny_policy, trajectories(), progress=False)


def test_prm_scores_each_unique_step_once_as_its_trajectories_do(
        tiny_gemma_path: Path, feats: rh.StepFeatures) -> None:
    trajs = trajectories()
    n_gold, n_wrong = len(trajs[0].steps), len(trajs[1].steps)
    assert len(feats.labels) == n_gold + n_wrong - 1  # the shared first step is one row
    scores = rh.prm_scores(str(tiny_gemma_path), feats, trajs)
    prm = GenerativePRM(AutoModelForCausalLM.from_pretrained(tiny_gemma_path),
                        AutoTokenizer.from_pretrained(tiny_gemma_path))
    for t, probs in zip(trajs, step_probabilities(prm, trajs)):
        rows = feats.traj[trajs.index(t)]
        assert scores[rows].tolist() == pytest.approx(probs, abs=1e-4)


def test_classifier_row_counts_loss_steps_and_whole_trajectories(feats: rh.StepFeatures) -> None:
    everything = set(range(len(feats.labels)))
    perfect = feats.labels.clone()
    assert rh.classifier_row("oracle", perfect, feats, everything).endswith("| 100.0% | 100.0% (2) |")
    half = torch.full_like(perfect, 0.6)  # "+" everywhere: gold right, the wrong city's trajectory not
    row = rh.classifier_row("half", half, feats, everything)
    loss = -(feats.labels * torch.log(half) + (1 - feats.labels) * torch.log(1 - half)).mean()
    acc = float((feats.labels == 1).float().mean())
    assert row == f"| half | {float(loss):.3f} | {acc:.1%} | 50.0% (2) |"
    # A constant "always -" has no loss to report; a subset counts only the trajectories inside it.
    assert rh.classifier_row("always -", torch.zeros_like(perfect), feats, everything).startswith("| always - |  |")
    gold_rows = set(feats.traj[0])
    assert rh.classifier_row("oracle", perfect, feats, gold_rows).endswith("(1) |")
