"""benchmarks/results_tables.py, which writes docs/results.md: the paired comparison (its sign test: test_metrics.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "results_tables.py"
spec = importlib.util.spec_from_file_location("results_tables", SCRIPT)
assert spec is not None and spec.loader is not None
tables = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tables)


def _bfcl(strategy: str, i: int, correct: bool) -> dict[str, Any]:
    return {"benchmark": "bfcl", "category": "simple_python", "strategy": strategy, "id": f"s{i}", "correct": correct}


def _hammer(strategy: str, i: int, name: float, arg: float) -> dict[str, Any]:
    return {"benchmark": "toolalpaca", "category": None, "strategy": strategy, "id": f"t{i}",
            "name_f1": name, "arg_f1": arg, "correct": name == arg == 1.0}


def test_paired_counts_items_that_moved_against_greedy() -> None:
    records = (
        [_bfcl("greedy", i, i < 3) for i in range(6)]
        + [_bfcl("beam", i, i in (2, 3, 4)) for i in range(6)]  # right on 3, 4; wrong on 0, 1
        + [_hammer("greedy", 0, 1.0, 0.5), _hammer("greedy", 1, 0.0, 0.0), _hammer("greedy", 2, 1.0, 1.0)]
        + [_hammer("beam", 0, 1.0, 1.0), _hammer("beam", 1, 0.0, 0.0), _hammer("beam", 2, 1.0, 1.0)]
        + [_bfcl("beam", 99, True)]  # greedy never answered it: not compared
    )
    table = tables.paired(records, keep=lambda r: r["id"] != "s5")
    assert "| bfcl | simple_python | beam | 5 | 2 | 2 | 1.000 |" in table
    assert "| toolalpaca | - | beam | 3 | 1 | 0 | 1.000 |" in table
    assert "greedy |" not in table.split("\n", 2)[2]  # greedy is the reference, not a row
    assert table.index("bfcl") < table.index("toolalpaca")  # the docs' order of benchmarks
