"""benchmarks/agent_tables.py, which writes docs/agent_eval.md's tables: runs read by agent label,
shards together, traces left out, and a run that mixes models refused."""

from __future__ import annotations

import gzip
import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from langchain_toolprm.data.records import append_jsonl

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "agent_tables.py"
spec = importlib.util.spec_from_file_location("agent_tables", SCRIPT)
assert spec is not None and spec.loader is not None
tables = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tables)


def _record(agent: str, i: int, model: str = "gemma") -> dict[str, Any]:
    return {"id": f"d#{i}", "api": "AddAlarm", "spec": {"agent": agent, "model": model}, "correct": i % 2 == 0,
            "error_category": None if i % 2 == 0 else "no call", "rouge_l": 0.5, "seconds": 1.0}


def test_runs_are_read_by_label_with_their_shards(tmp_path: Path) -> None:
    append_jsonl(tmp_path / "greedy.jsonl", [_record("greedy", i) for i in range(3)])
    append_jsonl(tmp_path / "beam_N=1_M=4.shard-0-of-2.jsonl", [_record("beam N=1 M=4", 0)])
    append_jsonl(tmp_path / "beam_N=1_M=4.shard-1-of-2.jsonl", [_record("beam N=1 M=4", 1)])
    append_jsonl(tmp_path / "greedy.traces.jsonl", [{"id": "d#0", "messages": []}])
    with gzip.open(tmp_path / "unconstrained.jsonl.gz", "wt") as fh:  # as committed under benchmarks/per_item
        fh.write(json.dumps(_record("unconstrained", 5)) + "\n")
    runs = tables.read_runs(tmp_path)
    assert sorted(runs) == ["beam N=1 M=4", "greedy", "unconstrained"]
    assert [r["id"] for r in runs["beam N=1 M=4"]] == ["d#0", "d#1"] and len(runs["greedy"]) == 3
    assert [r["id"] for r in runs["unconstrained"]] == ["d#5"]


def test_a_run_of_two_models_and_an_empty_folder_are_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no results files"):
        tables.read_runs(tmp_path)
    append_jsonl(tmp_path / "greedy.jsonl", [_record("greedy", 0)])
    append_jsonl(tmp_path / "greedy.shard-1-of-2.jsonl", [_record("greedy", 1, model="qwen")])
    with pytest.raises(ValueError, match="mixes models"):
        tables.read_runs(tmp_path)


def test_a_prefix_tells_runs_of_one_agent_apart(tmp_path: Path) -> None:
    append_jsonl(tmp_path / "greedy.jsonl", [_record("greedy", 0)])
    assert list(tables.read_runs(tmp_path, "92f66ff")) == ["92f66ff: greedy"]


def test_the_same_run_in_two_folders_needs_a_prefix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("a", "b"):
        append_jsonl(tmp_path / name / "greedy.jsonl", [_record("greedy", i) for i in range(2)])
    monkeypatch.setattr("sys.argv", ["agent_tables.py", str(tmp_path / "a"), str(tmp_path / "b")])
    with pytest.raises(SystemExit, match="in two folders"):
        tables.main()
    monkeypatch.setattr("sys.argv", ["agent_tables.py", str(tmp_path / "a"), f"old={tmp_path / 'b'}"])
    tables.main()
    out = capsys.readouterr().out
    assert "### old: greedy (2 turns)" in out and "| old: greedy | 2 | 50.0 | 50.0 | 0 | 0 | 1 |" in out
