"""Results read back into tables: quality and cost ratios per benchmark, gzipped copies, answers
scored again by today's metrics and parser."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from langchain_toolprm import TransformersBackend
from langchain_toolprm.core.steps import Call
from langchain_toolprm.core.verifier import VerifierScorer
from langchain_toolprm.data.records import ToolExample
from langchain_toolprm.evaluation import runner
from langchain_toolprm.evaluation.benchmarks import bfcl_example
from langchain_toolprm.evaluation.reports import read_results, reread_text_answers, summarize
from langchain_toolprm.evaluation.runner import run_eval
from langchain_toolprm.evaluation.specs import EvalSpec, Prediction, slug


def test_reading_results_needs_no_transformers() -> None:
    """Tables come from results files alone: no decoding module is imported to read them."""
    code = ("import sys, langchain_toolprm.evaluation.reports, langchain_toolprm.evaluation.specs; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'transformers' "
            "or m in ('langchain_toolprm.evaluation.baselines', 'langchain_toolprm.evaluation.runner')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.stdout.strip() == "[]"


def test_reread_text_answers_applies_todays_parser(tmp_path: Path, tiny_policy: TransformersBackend,
                                                  tiny_bfcl: list[ToolExample], fast: dict[str, int],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    examples = tiny_bfcl
    # As an older parser stored it: the schema copied as the value, read as no call at all.
    raw = ' [{"name": "get_weather", "arguments": {"city": {"type": "string"}}}]'
    monkeypatch.setattr(runner, "predict_group", lambda p, s, ex, group: [Prediction(None, raw, 1, 0, 0, 0.1)])
    for strategy in ("unconstrained", "greedy"):
        run_eval(examples, EvalSpec(strategy, **fast), tmp_path / f"{strategy}.jsonl", policy=tiny_policy,
                 scorer=VerifierScorer(), progress=False)
    greedy = (tmp_path / "greedy.jsonl").read_text()

    assert reread_text_answers(tmp_path / "unconstrained.jsonl", tiny_policy.tokenizer, examples) == 2
    first = json.loads((tmp_path / "unconstrained.jsonl").read_text().splitlines()[0])
    assert first["calls"] == [{"name": "get_weather", "arguments": {"city": {"type": "string"}}}]
    assert (first["correct"], first["reason"]) == (False, "type_error")  # judged by the checker, not the parser
    assert reread_text_answers(tmp_path / "unconstrained.jsonl", tiny_policy.tokenizer, examples) == 0
    assert reread_text_answers(tmp_path / "greedy.jsonl", tiny_policy.tokenizer, examples) == 0  # grammar-built
    assert (tmp_path / "greedy.jsonl").read_text() == greedy
    with pytest.raises(ValueError, match="no example given"):
        reread_text_answers(tmp_path / "unconstrained.jsonl", tiny_policy.tokenizer, examples[:1])


def test_summarize_renders_quality_and_cost_ratios(tmp_path: Path, tiny_policy: TransformersBackend,
                                                   tiny_bfcl: list[ToolExample],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    examples = tiny_bfcl
    question = {"id": "irrelevance_0", "question": [list(examples[0].messages)],
                "function": examples[0].meta["bfcl_functions"]}
    irrelevance = [bfcl_example(question, None, "irrelevance")]
    alpaca = [ToolExample("toolalpaca-0", "toolalpaca", ({"role": "user", "content": "weather in paris"},),
                          (examples[0].tools[0],), (Call("get_weather", {"city": "paris"}),))]

    def fake(policy: object, scorer: object, ex: ToolExample, group: list[EvalSpec]) -> list[Prediction]:
        [spec] = group
        cost = 100 if spec.strategy == "greedy" else 300
        calls = [] if "irrelevance" in ex.id else list(ex.gold) if spec.strategy == "beam" else None
        return [Prediction(calls, "", cost, 0, cost // 3 if spec.strategy == "beam" else 0, cost / 100)]

    monkeypatch.setattr(runner, "predict_group", fake)
    for exs in (examples, irrelevance, alpaca):
        for spec in (EvalSpec("greedy"), EvalSpec("beam")):
            run_eval(exs, spec, tmp_path / exs[0].source / f"{slug(spec.name)}.jsonl", policy=tiny_policy,
                     scorer=VerifierScorer(), progress=False)
    table = summarize([tmp_path])
    assert "### bfcl" in table and "### toolalpaca" in table
    assert "| category | strategy | n | accuracy | policy tok | scorer tok | s/item | tok x greedy | time x greedy |" in table
    assert "| simple_python | greedy | 2 | 0.0 | 100 | 0 | 1.0 | 1.00 | 1.00 |" in table
    assert "| simple_python | beam N=1 M=4 verifier | 2 | 100.0 | 300 | 100 | 3.0 | 4.00 | 3.00 |" in table
    assert "| irrelevance | greedy | 1 | 100.0 |" in table
    assert "| mean | greedy | 3 | 50.0 | 100 | 0 | 1.0 | 1.00 | 1.00 |" in table
    assert "| mean | beam N=1 M=4 verifier | 3 | 100.0 |" in table
    assert "name F1 | arg F1 | avg F1 | exact" in table
    assert "| - | beam N=1 M=4 verifier | 1 | 100.0 | 100.0 | 100.0 | 100.0 |" in table
    (tmp_path / "empty").mkdir()
    assert summarize([tmp_path / "empty"]) == "no results"
    only = summarize([tmp_path], keep=lambda r: r["id"] == examples[0].id)
    assert "| simple_python | greedy | 1 |" in only and "irrelevance" not in only and "toolalpaca" not in only
    # Gzipped copies (as committed) read the same, and are not counted twice beside their originals.
    packed = tmp_path.parent / "packed"
    for f in tmp_path.rglob("*.jsonl"):
        target = packed / f.relative_to(tmp_path).with_suffix(".jsonl.gz")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(gzip.compress(f.read_bytes()))
    assert read_results([packed]) and sorted(map(json.dumps, read_results([packed]))) == sorted(
        map(json.dumps, read_results([tmp_path])))
    assert summarize([packed]) == table
    shutil.copytree(packed, tmp_path, dirs_exist_ok=True)
    assert len(read_results([tmp_path])) == len(read_results([packed]))
    # Records are scored again from their stored calls when their examples are given (a metric fix
    # reaches old results); records of other examples are left as stored.
    stale = tmp_path / "toolalpaca" / "beam_N=1_M=4_verifier.jsonl"
    rec = json.loads(stale.read_text())
    stale.write_text(json.dumps({**rec, "arg_f1": 0.0, "exact": False}) + "\n")
    assert read_results([stale])[0]["arg_f1"] == 0.0
    fixed = read_results([stale], alpaca + examples)[0]
    assert (fixed["arg_f1"], fixed["exact"], fixed["name_f1"]) == (1.0, True, 1.0)
    assert "| - | beam N=1 M=4 verifier | 1 | 100.0 | 100.0 | 100.0 | 100.0 |" in summarize([tmp_path], examples=alpaca)
