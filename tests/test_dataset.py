"""The dataset pipeline end to end on a tiny random policy: files, resume, shards, labels, card."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from langchain_toolprm.backends.transformers import TransformersBackend
from langchain_toolprm.cli import main
from langchain_toolprm.core.steps import StepTag
from langchain_toolprm.data.dataset import DatasetConfig, build_dataset, group_of, split_examples
from langchain_toolprm.data.labels import label_steps
from langchain_toolprm.data.masking import MaskConfig
from langchain_toolprm.data.records import (
    DataFileError,
    ToolExample,
    load_examples,
    load_trajectories,
    read_jsonl,
)
from langchain_toolprm.data.rollouts import RolloutConfig, collect_rollouts, shard_path
from langchain_toolprm.data.sources import load_glaive

# Enum and boolean arguments only: the random-weight policy always finishes such a call list.
TOOLS = [
    {"name": "set_mode", "description": "Set the thermostat mode",
     "parameters": {"type": "object", "properties": {
         "mode": {"type": "string", "enum": ["heat", "cool", "off"]}}, "required": ["mode"]}},
    {"name": "set_fan", "description": "Switch the fan",
     "parameters": {"type": "object", "properties": {"on": {"type": "boolean"}}, "required": ["on"]}},
]


def glaive_dir(root: Path, n: int = 8) -> Path:
    convs = []
    for i in range(n):
        mode = ["heat", "cool", "off"][i % 3]
        convs.append({"conversations": [
            {"from": "human", "value": f"Please set the mode to {mode}."},
            {"from": "function_call", "value": json.dumps({"name": "set_mode", "arguments": {"mode": mode}})},
            {"from": "observation", "value": json.dumps({"ok": True})},
            {"from": "gpt", "value": "Done."},
        ], "tools": json.dumps(TOOLS)})
    path = root / "train_sources" / "glaive" / "glaive_toolcall_en_demo.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(convs))
    return root


CONFIG = DatasetConfig(sources=("glaive",), test_fraction=0.3, irrelevance_fraction=0.3,
                       mask=MaskConfig(fraction=0.5, pad_tools_to=None))
ROLLOUT = RolloutConfig(k=2, max_value_tokens=8, max_steps=16)


def test_build_dataset_end_to_end_and_resume(tmp_path: Path, tiny_policy: TransformersBackend) -> None:
    data = glaive_dir(tmp_path / "data")
    out = tmp_path / "ds"
    stats = build_dataset(out, policy=tiny_policy, data_dir=data, config=CONFIG, rollout=ROLLOUT, progress=False)
    for name in ("examples_train.jsonl", "examples_test.jsonl", "rollouts_train.jsonl", "train.jsonl",
                 "test.jsonl", "README.md", "stats.json", "sources.jsonl"):
        assert (out / name).exists(), name
    examples = {s: load_examples(out / f"examples_{s}.jsonl") for s in ("train", "test")}
    assert sum(map(len, examples.values())) > 8  # the 8 queries plus irrelevance examples
    assert any(ex.meta.get("kind") == "irrelevance" for exs in examples.values() for ex in exs)
    assert not {group_of(e) for e in examples["train"]} & {group_of(e) for e in examples["test"]}

    trajectories = load_trajectories(out / "train.jsonl")
    assert trajectories and stats["train"]["trajectories"] == len(trajectories)
    for t in trajectories:
        assert list(t.labels) == label_steps(t.steps, t.example.gold, t.example.specs())
    gold = [t for t in trajectories if t.origin == "gold"]
    assert gold and all(all(t.labels) for t in gold)
    empty = [t for t in trajectories if t.origin == "empty"]  # the missed call, once per query needing one
    assert len(empty) == sum(1 for t in gold if t.example.gold)
    assert all(t.example.gold and [s.tag for s in t.steps] == [StepTag.TOTAL_FINISH] and t.labels == (False,)
               for t in empty)
    card = (out / "README.md").read_text()
    assert "| train |" in card and "glaive" in card and "TOTAL_FINISH" in card
    per_tag = stats["train"]["per_tag"]
    assert sum(v["steps"] for v in per_tag.values()) == stats["train"]["steps"]

    lines = (out / "rollouts_train.jsonl").read_text().count("\n")
    build_dataset(out, policy=tiny_policy, data_dir=data, config=CONFIG, rollout=ROLLOUT, progress=False)
    assert (out / "rollouts_train.jsonl").read_text().count("\n") == lines  # resumed: nothing sampled again


def test_shards_cover_every_query_once(tmp_path: Path, tiny_policy: TransformersBackend) -> None:
    data = glaive_dir(tmp_path / "data", n=5)
    out = tmp_path / "ds"
    whole = split_examples(load_examples_from(data), 0.0, 0)["train"]
    ids = set()
    for shard in range(2):
        config = RolloutConfig(k=1, max_value_tokens=8, max_steps=16, shard=shard, num_shards=2)
        path = collect_rollouts(tiny_policy, whole, out / "rollouts_train.jsonl", config, progress=False)
        assert path == shard_path(out / "rollouts_train.jsonl", config) and "shard" in path.name
        got = {rec["example"]["id"] for rec in read_jsonl(path)}
        assert not ids & got
        ids |= got
    assert ids == {ex.id for ex in whole}


def load_examples_from(data: Path) -> list[ToolExample]:
    return load_glaive(data).examples


def test_rollouts_are_reproducible(tiny_policy: TransformersBackend, tmp_path: Path) -> None:
    whole = load_examples_from(glaive_dir(tmp_path / "data", n=2))
    a = collect_rollouts(tiny_policy, whole, tmp_path / "a.jsonl", ROLLOUT, progress=False)
    b = collect_rollouts(tiny_policy, whole[::-1], tmp_path / "b.jsonl", ROLLOUT, progress=False)
    by_id = lambda p: {r["example"]["id"]: r["rollouts"] for r in read_jsonl(p)}  # noqa: E731
    assert by_id(a) == by_id(b)  # seeded per query, not by position


def test_missing_data_and_empty_dataset_are_clear(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="glaive"):
        build_dataset(tmp_path / "ds", policy=None, data_dir=tmp_path / "nowhere", config=CONFIG)
    data = glaive_dir(tmp_path / "data", n=3)
    with pytest.raises(ValueError, match="no labelled steps"):
        build_dataset(tmp_path / "ds2", policy=None, data_dir=data, config=CONFIG)


def test_cli_examples_only_writes_the_policy_data_without_a_model(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    data = glaive_dir(tmp_path / "data", n=6)
    assert main(["build-dataset", "--out", str(tmp_path / "ds"), "--data-dir", str(data), "--sources", "glaive",
                 "--examples-only", "--test-fraction", "0.3"]) == 0
    out = capsys.readouterr().out
    train = load_examples(tmp_path / "ds" / "examples_train.jsonl")
    assert f"train: {len(train)} examples" in out and train and not (tmp_path / "ds" / "rollouts_train.jsonl").exists()
    assert any(not e.gold for e in train)  # irrelevance examples (the gold tool removed) are there too
    def padding(out: str) -> list[int]:
        return json.loads((tmp_path / out / "dataset_config.json").read_text())["mask"]["pad_tools_to"]

    assert padding("ds") == [2, 6]
    assert main(["build-dataset", "--out", str(tmp_path / "one"), "--data-dir", str(data), "--sources", "glaive",
                 "--examples-only", "--test-fraction", "0.3", "--pad-tools", "1,3"]) == 0
    assert padding("one") == [1, 3]
    assert main(["build-dataset", "--out", str(tmp_path / "pairs"), "--data-dir", str(data), "--sources", "glaive",
                 "--examples-only", "--contrast-fraction", "0.5"]) == 0
    assert json.loads((tmp_path / "pairs" / "dataset_config.json").read_text())["contrast_fraction"] == 0.5
    assert main(["build-dataset", "--out", str(tmp_path / "x"), "--examples-only", "--contrast-fraction", "2"]) == 2
    assert "contrast_fraction must be between 0 and 1" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["build-dataset", "--out", str(tmp_path / "x"), "--examples-only", "--pad-tools", "0,3"])
    assert exit_info.value.code == 2 and "LOW <= HIGH" in capsys.readouterr().err


def test_cli_errors_name_the_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["build-dataset", "--out", str(tmp_path / "ds"), "--data-dir", str(tmp_path / "nowhere"),
                 "--sources", "glaive", "--annotate-only"])
    assert code == 2 and "missing data file" in capsys.readouterr().err
    assert main(["build-dataset", "--out", str(tmp_path / "ds"), "--sources", "nope", "--annotate-only"]) == 2
    assert "unknown source" in capsys.readouterr().err


def test_rule_negatives_build_a_dataset_without_rollouts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = glaive_dir(tmp_path / "data", n=6)
    assert main(["build-dataset", "--out", str(tmp_path / "ds"), "--data-dir", str(data), "--sources", "glaive",
                 "--test-fraction", "0.3", "--annotate-only", "--negatives", "2"]) == 0
    trajectories = load_trajectories(tmp_path / "ds" / "train.jsonl")
    origins = {t.origin for t in trajectories}
    assert {"gold", "empty"} <= origins and any(o.startswith("rule:") for o in origins)
    assert all(list(t.labels) == label_steps(t.steps, t.example.gold, t.example.specs()) for t in trajectories)
    assert "rule:" in (tmp_path / "ds" / "README.md").read_text()
    with pytest.raises(ValueError, match="negatives"):
        DatasetConfig(negatives=-1)
