"""benchmarks/call_decision.py: greedy's first choice as one margin, and what a bias on ``[]`` would do."""

from __future__ import annotations

import gzip
import importlib.util
import json
from pathlib import Path

import pytest

from langchain_toolprm.backends.transformers import TransformersBackend
from langchain_toolprm.core.engine import answer
from langchain_toolprm.core.search import SearchConfig
from langchain_toolprm.core.verifier import VerifierScorer
from langchain_toolprm.data.records import ToolExample

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("call_decision", ROOT / "benchmarks" / "call_decision.py")
assert spec is not None and spec.loader is not None
cd = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cd)


def test_the_margins_sign_is_greedys_first_choice(tiny_policy: TransformersBackend,
                                                  tiny_bfcl: list[ToolExample]) -> None:
    config = SearchConfig(strategy="greedy", max_value_tokens=6)
    for ex in tiny_bfcl:
        margin = cd.first_step(tiny_policy, ex)[0]
        calls = answer(tiny_policy, VerifierScorer(), ex.lc_messages(), ex.specs(), config).calls
        assert (margin > 0) == (calls == []), (ex.id, margin, calls)


def test_auc_counts_pairs_and_halves_ties() -> None:
    assert cd.auc([3.0, 4.0], [1.0, 2.0]) == 1.0
    assert cd.auc([1.0], [2.0]) == 0.0
    assert cd.auc([2.0, 0.0], [2.0, 1.0]) == pytest.approx((0.5 + 1 + 0 + 0) / 4)


def test_a_bias_on_empty_refuses_more_and_answers_fewer() -> None:
    none = [-3.0, -1.0, 0.5]                       # irrelevance margins: one refused at b = 0
    calls = [(-4.0, True), (-0.5, True), (-2.0, False), (1.0, False)]
    assert cd.outcome(0.0, none, calls) == pytest.approx((100 / 3, 50.0))
    assert cd.outcome(1.5, none, calls) == pytest.approx((200 / 3, 25.0))   # -0.5 + 1.5 > 0: now []
    assert cd.outcome(5.0, none, calls) == pytest.approx((100.0, 0.0))
    with pytest.raises(ValueError, match="bias toward"):
        cd.outcome(-1.0, none, calls)
    b = cd.bias_for(2 / 3, none)
    assert cd.outcome(b, none, calls)[0] == pytest.approx(200 / 3) and 1.0 < b < 1.0 + 1e-9
    assert cd.bias_for(0.2, none) == 0.0          # greedy already refuses a third


def test_per_item_results_reads_shards_and_names_a_missing_folder(tmp_path: Path) -> None:
    folder = tmp_path / "bfcl" / "irrelevance"
    folder.mkdir(parents=True)
    with gzip.open(folder / "greedy.shard-0-of-2.jsonl.gz", "wt") as f:
        f.write(json.dumps({"id": "irrelevance_0", "calls": [], "correct": True}) + "\n")
    (folder / "greedy.shard-1-of-2.jsonl").write_text(json.dumps({"id": "irrelevance_1", "calls": [],
                                                                   "correct": True}) + "\n")
    assert set(cd.per_item_results(tmp_path, "irrelevance")) == {"irrelevance_0", "irrelevance_1"}
    with pytest.raises(FileNotFoundError, match="simple_python"):
        cd.per_item_results(tmp_path, "simple_python")
