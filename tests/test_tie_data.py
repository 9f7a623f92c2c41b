"""benchmarks/tie_data.py: the verifier's tie groups recorded on real searches, and rankers fitted on them."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

from langchain_toolprm.backends.transformers import TransformersBackend
from langchain_toolprm.core import search
from langchain_toolprm.data.records import ToolExample

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))  # it imports tie_break as its neighbour
spec = importlib.util.spec_from_file_location("tie_data", ROOT / "benchmarks" / "tie_data.py")
assert spec is not None and spec.loader is not None
td = importlib.util.module_from_spec(spec)
sys.modules["tie_data"] = td  # its dataclasses look their module up by name
spec.loader.exec_module(td)


def test_collect_records_each_query_once_and_restores_the_search(
        tiny_policy: TransformersBackend, tiny_bfcl: list[ToolExample], tmp_path: Path) -> None:
    forms = search.tie_groups
    examples = [("train", tiny_bfcl[0]), ("test", tiny_bfcl[1])]
    td.collect(tiny_policy, examples, tmp_path, (0, 1))
    assert search.tie_groups is forms
    recs = [json.loads(line) for line in (tmp_path / "groups_0.jsonl").read_text().splitlines()]
    assert sorted((r["id"], r["split"]) for r in recs) == [("simple_python_0", "train"), ("simple_python_1", "test")]
    for r in recs:
        for g in r["groups"]:
            assert len(g["labels"]) == len(g["logprob"]) == len(g["steps"]) >= 2
            assert ("state_rows" in g) == (0 < sum(g["labels"]) < len(g["labels"]))
        if r["state_file"]:
            rows = [i for g in r["groups"] for i in g.get("state_rows", [])]
            assert torch.load(tmp_path / r["state_file"]).shape[0] == len(rows)
    td.collect(tiny_policy, examples, tmp_path, (0, 1))  # resumed: nothing added
    assert len((tmp_path / "groups_0.jsonl").read_text().splitlines()) == 2


def write_groups(folder: Path, queries: int) -> None:
    """One mixed group of three per query: the "+" candidate has state dimension 0 high, while the
    policy finds a "-" one likeliest."""
    folder.mkdir(exist_ok=True)
    gen = torch.Generator().manual_seed(0)
    with (folder / "groups_0.jsonl").open("w") as f:
        for q in range(queries):
            states = torch.randn(3, 8, generator=gen)
            states[1, 0] += 4.0
            torch.save(states.half(), folder / f"q{q}.pt")
            group = {"tag": "ARG_VALUE", "labels": [0, 1, 0], "logprob": [-0.1, -2.0, -3.0], "steps": [[], [], []],
                     "state_rows": [0, 1, 2]}
            empty = {"tag": "ARG_VALUE", "labels": [0, 0], "logprob": [-1.0, -1.0], "steps": [[], []]}
            f.write(json.dumps({"id": f"q{q}", "split": "train", "source": "s", "error": None, "seconds": 1.0,
                                "groups": [group, empty], "state_file": f"q{q}.pt"}) + "\n")


def test_a_ranker_learns_what_the_states_say_and_the_policy_misses(tmp_path: Path) -> None:
    write_groups(tmp_path, 30)
    groups, counts = td.load_groups(tmp_path)
    assert counts == {"queries": 30, "groups": 60, "one_label": 0, "no_plus": 30} and len(groups) == 30
    assert td.top1(groups, lambda g: g.logprob) == 0.0  # the likeliest is always wrong here
    model = td.fit_ranker(groups[:20], 1.0, with_logprob=False)
    assert td.top1(groups[20:], lambda g: td._rank(model, g)) == 1.0
    report = td.fit(tmp_path, tmp_path / "head")
    assert "| the policy's likeliest (today's tie breaker) | 0.0% |" in report
    assert "| states | 100.0% |" in report
    assert (tmp_path / "head" / "head.json").is_file()


def test_fit_refuses_too_few_queries(tmp_path: Path) -> None:
    write_groups(tmp_path, 4)
    with pytest.raises(SystemExit, match="too few queries"):
        td.fit(tmp_path, None)
