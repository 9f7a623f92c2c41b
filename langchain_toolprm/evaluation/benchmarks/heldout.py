"""The held-out split of ``toolprm build-dataset``: queries from the training sources that no
model was trained on (never a test set), where a tuned policy's settings are chosen without
looking at a benchmark. Scored as the Hammer sets are: F1 and exact match."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ...data.records import ToolExample, load_examples, require_file
from ..metrics import score_item
from .hammer import F1_COLUMNS, f1_quality

HELDOUT = "heldout"


class Heldout:
    """The split in ``--data-dir`` (the build-dataset output folder), grouped by training source."""

    name = HELDOUT
    categories: tuple[str, ...] = ()
    default_categories: tuple[str, ...] = ()
    columns = F1_COLUMNS
    score = staticmethod(score_item)
    quality = staticmethod(f1_quality)

    def load(self, category: str | None, data_dir: str | Path | None = None,
             limit: int | None = None) -> list[ToolExample]:
        if data_dir is None:
            raise ValueError("heldout needs --data-dir: the build-dataset output folder holding "
                             "examples_test.jsonl")
        path = require_file(Path(data_dir) / "examples_test.jsonl", "held-out examples")
        # Results group by benchmark and category: here the category is the training source.
        return [replace(ex, source=f"{HELDOUT}-{ex.source}", meta={**ex.meta, "category": ex.source})
                for ex in load_examples(path)[:limit]]
