"""benchmarks/tie_break.py: the verifier's beam with its ties broken by an oracle or a reward head."""

from __future__ import annotations

import gzip
import importlib.util
import json
import sys
from pathlib import Path

import pytest

from langchain_toolprm.backends.transformers import TransformersBackend
from langchain_toolprm.core.scorers import HEAD_CONFIG, ScoringContext
from langchain_toolprm.core.steps import Step, StepTag
from langchain_toolprm.data.records import ToolExample

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("tie_break", ROOT / "benchmarks" / "tie_break.py")
assert spec is not None and spec.loader is not None
tb = importlib.util.module_from_spec(spec)
sys.modules["tie_break"] = tb  # its dataclasses look their module up by name
spec.loader.exec_module(tb)


def test_the_oracle_scores_a_step_by_its_label_against_gold(tiny_bfcl: list[ToolExample]) -> None:
    ex = tiny_bfcl[0]  # get_weather(city="paris", unit="celsius")
    gold = tb.GoldSteps(ex.gold, ex.specs())
    ctx = ScoringContext(tuple(ex.lc_messages()), tuple(ex.specs()))
    name = Step(StepTag.FUNC_NAME, "get_weather")
    paths = [(name,), (name, Step(StepTag.ARG_VALUE, "city", "paris")), (name, Step(StepTag.ARG_VALUE, "city", "lyon")),
             (Step(StepTag.TOTAL_FINISH),)]
    assert gold.score(ctx, paths) == [1.0, 1.0, 0.0, 0.0]


def test_a_run_records_every_item_resumes_and_pairs_against_the_verifier(
        tiny_policy: TransformersBackend, tiny_bfcl_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLPRM_BFCL_DIR", str(tiny_bfcl_dir))
    tb.run(tiny_policy, ["bfcl:simple_python"], 0, ["verifier", "gold"], tmp_path)
    recs = {p.stem: [json.loads(line) for line in p.read_text().splitlines()] for p in tmp_path.glob("*.jsonl")}
    assert sorted(recs) == ["gold", "verifier"]
    assert [r["id"] for r in recs["gold"]] == ["simple_python_0", "simple_python_1"]
    assert all(r["asked"] == 0 for r in recs["verifier"])
    assert all(isinstance(r["correct"], bool) and r["seconds"] > 0 for rs in recs.values() for r in rs)
    tb.run(tiny_policy, ["bfcl:simple_python"], 0, ["verifier", "gold"], tmp_path)  # all done: nothing added
    assert sum(len(p.read_text().splitlines()) for p in tmp_path.glob("*.jsonl")) == 4
    lines = tb.table(tmp_path).splitlines()
    assert lines[2].startswith("| bfcl:simple_python | verifier | 2 |") and "| gold | 2 |" in lines[3]


def write(folder: Path, variant: str, rows: list[tuple[str, bool, float, int]]) -> None:
    folder.mkdir(exist_ok=True)
    (folder / f"{variant}.jsonl").write_text("".join(
        json.dumps({"id": i, "set": "bfcl:x", "variant": variant, "correct": c, "seconds": s, "asked": a}) + "\n"
        for i, c, s, a in rows))


def test_the_table_pairs_items_and_times(tmp_path: Path) -> None:
    write(tmp_path, "verifier", [("a", True, 1.0, 0), ("b", False, 1.0, 0), ("c", False, 2.0, 0)])
    write(tmp_path, "gold", [("a", False, 2.0, 4), ("b", True, 2.0, 2), ("c", True, 4.0, 0)])
    row = next(line for line in tb.table(tmp_path).splitlines() if line.startswith("| bfcl:x | gold"))
    assert row == "| bfcl:x | gold | 3 | 66.7 | 2 / 1 | 1 | 2.0 | 2.00 |"
    packed = tmp_path / "packed"
    packed.mkdir()
    for path in tmp_path.glob("*.jsonl"):
        (packed / f"{path.name}.gz").write_bytes(gzip.compress(path.read_bytes()))
    assert tb.table(packed) == tb.table(tmp_path)
    (tmp_path / "verifier.jsonl").unlink()
    with pytest.raises(SystemExit, match="no verifier.jsonl"):
        tb.table(tmp_path)


def test_bad_arguments_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        tb.main(["--out", str(tmp_path)])
    assert "name at least one --set" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        tb.main(["--set", "bfcl:simple_python", "--variant", str(tmp_path / "nope")])
    assert "not verifier, gold, gold-any, toolprm or a reward head or PRM directory" in capsys.readouterr().err


def test_variants_are_labelled_by_kind(tmp_path: Path) -> None:
    head = tmp_path / "mine"
    head.mkdir()
    (head / HEAD_CONFIG).write_text("{}")
    assert tb.variant_name("gold") == "gold"
    assert tb.variant_name(str(head)) == "head-mine"
    assert tb.variant_name(str(tmp_path)) == f"prm-{tmp_path.name}"  # no head config: a generative PRM
    assert tb.variant_name("toolprm") == "prm-toolprm"
    named = tmp_path / "head"
    named.mkdir()
    (named / HEAD_CONFIG).write_text("{}")
    assert tb.variant_name(str(named)) == "head"  # not "head-head"
