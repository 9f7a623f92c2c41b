"""What every benchmark loader returns: the items read and those left out, so a family's module
can report its skips one way and tests can see why an item was dropped."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from ...data.records import ToolExample

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadResult:
    """Examples read from a benchmark file and the items left out, as ``(item id, reason)``."""

    examples: list[ToolExample]
    skipped: list[tuple[str, str]] = field(default_factory=list)


def report(result: LoadResult, what: str) -> list[ToolExample]:
    """The examples, after logging how many items of ``what`` were skipped (and the first reason)."""
    if result.skipped:
        log.warning("%s: skipped %d item(s), e.g. %s: %s", what, len(result.skipped), *result.skipped[0])
    return result.examples
