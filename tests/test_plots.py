"""The explore/retain plot over a grid of beam-search results on the tiny random model."""

from __future__ import annotations

from pathlib import Path

from langchain_toolprm import TransformersBackend
from langchain_toolprm.core.verifier import VerifierScorer
from langchain_toolprm.data.records import ToolExample
from langchain_toolprm.evaluation.plots import plot_grid
from langchain_toolprm.evaluation.runner import run_eval, run_grid
from langchain_toolprm.evaluation.specs import EvalSpec


def test_plot_grid_draws_and_tabulates_the_grid(tmp_path: Path, tiny_policy: TransformersBackend,
                                                tiny_bfcl: list[ToolExample], fast: dict[str, int]) -> None:
    run_grid(tiny_bfcl[:1], [1, 2], [1, 2], tmp_path, policy=tiny_policy, scorer=VerifierScorer(),
             base=EvalSpec("beam", **fast), progress=False)
    run_eval(tiny_bfcl[:1], EvalSpec("greedy", **fast), tmp_path / "greedy.jsonl", policy=tiny_policy,
             scorer=VerifierScorer(), progress=False)
    png = plot_grid(tmp_path)
    assert png.exists() and png.stat().st_size > 1000 and png.read_bytes()[:4] == b"\x89PNG"
    md = (tmp_path / "grid.md").read_text()
    assert "| N \\ M | 1 | 2 |" in md and md.count("\n| ") == 2 + 1  # header + one row per N
