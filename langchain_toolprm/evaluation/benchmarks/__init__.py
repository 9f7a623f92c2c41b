"""The benchmarks ``toolprm eval`` runs, by name: one module per family, registered here.

A new benchmark is a module with a class that meets :class:`Benchmark` and one entry in
``BENCHMARKS``: the command line, the runner and the summary tables reach its categories,
loader, scorer and quality columns through the registry instead of branching on its name.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, get_args

from ...core.steps import Call
from ...data.records import ToolExample
from .bfcl import BFCL_CATEGORIES, Bfcl, bfcl_data_dir, bfcl_example, bfcl_schema, load_bfcl, read_bfcl
from .hammer import Hammer, HammerSet, load_hammer, read_hammer
from .heldout import HELDOUT, Heldout

__all__ = [
    "BENCHMARKS", "BFCL_CATEGORIES", "Benchmark", "benchmark_of", "bfcl_data_dir", "bfcl_example",
    "bfcl_schema", "get_benchmark", "load_benchmark", "load_bfcl", "load_hammer", "read_bfcl", "read_hammer",
    "scored_as",
]


class Benchmark(Protocol):
    """What the harness needs of a benchmark."""

    @property
    def name(self) -> str:
        """Its registry key, and the ``benchmark`` field of its results records."""

    @property
    def categories(self) -> tuple[str, ...]:
        """What ``--category`` chooses from; empty: the benchmark is one set."""

    @property
    def default_categories(self) -> tuple[str, ...]:
        """The categories run when none is given."""

    @property
    def columns(self) -> tuple[str, ...]:
        """The quality columns of its summary table, in order."""

    def load(self, category: str | None, data_dir: str | Path | None = None,
             limit: int | None = None) -> list[ToolExample]:
        """The first ``limit`` items (None: all) of ``category`` (None where there are no categories)."""

    def score(self, example: ToolExample, calls: Sequence[Call] | None) -> dict[str, Any]:
        """One answer's scores (``calls`` None: no valid call list), stored in its results record;
        always has ``correct``."""

    def quality(self, records: Sequence[dict[str, Any]]) -> tuple[float, ...]:
        """The ``columns`` over the scored records of one category and strategy."""


_REGISTERED: tuple[Benchmark, ...] = (Bfcl(), *(Hammer(s) for s in get_args(HammerSet)), Heldout())
BENCHMARKS: dict[str, Benchmark] = {b.name: b for b in _REGISTERED}


def get_benchmark(name: str) -> Benchmark:
    """The registered benchmark ``name``; any other name is an error that lists the known ones."""
    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; valid: {', '.join(BENCHMARKS)}")
    return BENCHMARKS[name]


def load_benchmark(
    benchmark: str, category: str | None = None, data_dir: str | Path | None = None, limit: int | None = None,
) -> list[ToolExample]:
    """Load ``benchmark`` ("bfcl" needs ``category``); ``data_dir`` is as for its own loader
    (for ``heldout``, the build-dataset output folder)."""
    bench = get_benchmark(benchmark)
    if category is not None and not bench.categories:
        raise ValueError(f"{benchmark} has no categories (got {category!r})")
    return bench.load(category, data_dir, limit)


def benchmark_of(example: ToolExample) -> tuple[str, str | None]:
    """(benchmark, category): BFCL items come as source "bfcl-<category>", Hammer sets by name."""
    return example.source.split("-", 1)[0], example.meta.get("category")


def scored_as(benchmark: str) -> Benchmark:
    """The benchmark whose scorer and columns fit results of ``benchmark``. Items loaded outside
    the registry (a training source's held-out queries, as ``benchmarks/heldout_scorers.py`` reads
    them) are the held-out split's kind of item, so they are scored and reported as it does."""
    return BENCHMARKS.get(benchmark, BENCHMARKS[HELDOUT])
