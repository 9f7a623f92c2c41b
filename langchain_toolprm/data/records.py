"""The one record type every data source is normalised into, and its JSONL files.

A :class:`ToolExample` is a conversation (OpenAI-style message dicts), the tools offered (OpenAI
function schemas) and the gold call list, possibly empty ("no call fits"). Training sources,
benchmarks and rollouts all read and write it, so a dataset built for the PRM and a benchmark
run share one spelling. A :class:`LabelledTrajectory` is one fine-grained trajectory for an
example with a "+"/"-" label per step.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.messages import BaseMessage, convert_to_messages

from ..core.schema import ToolSpec, normalize_tools
from ..core.steps import Call, Step, StepTag

DATA_ENV = "TOOLPRM_DATA"


class DataFileError(ValueError):
    """A data file that is missing or cannot be read as the records it should hold."""


def data_dir(path: str | Path | None = None) -> Path:
    """Where the shared data lives: ``path``, else ``$TOOLPRM_DATA``, else the nearest
    ``shared/data`` above the working directory (``../shared/data`` from the repo root)."""
    if path is not None:
        return Path(path)
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV])
    cwd = Path.cwd()
    for parent in (cwd, *cwd.parents):
        if (parent / "shared" / "data").is_dir():
            return parent / "shared" / "data"
    return cwd.parent / "shared" / "data"


def require_file(path: str | Path, what: str) -> Path:
    """``path`` if it is a file, else a :class:`DataFileError` that says what was expected there."""
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"missing data file for {what}: {path} (set ${DATA_ENV} or pass the data directory)")
    return path


def call_to_dict(call: Call) -> dict[str, Any]:
    return {"name": call.name, "arguments": call.arguments}


def call_from_dict(data: dict[str, Any]) -> Call:
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        raise ValueError(f"a call needs a string 'name': {data!r}")
    args = data.get("arguments", {})
    if not isinstance(args, dict):
        raise ValueError(f"the arguments of {data['name']!r} are not an object: {args!r}")
    return Call(data["name"], dict(args))


def step_to_dict(step: Step) -> dict[str, Any]:
    out: dict[str, Any] = {"tag": step.tag.name}
    if step.name is not None:
        out["name"] = step.name
    if step.tag is StepTag.ARG_VALUE:
        out["value"] = step.value
    return out


def step_from_dict(data: dict[str, Any]) -> Step:
    try:
        tag = StepTag[data["tag"]]
    except KeyError as exc:
        raise ValueError(f"unknown or missing step tag in {data!r}") from exc
    return Step(tag, data.get("name"), data.get("value"))


@dataclass(frozen=True)
class ToolExample:
    """One query: messages up to the turn to predict, the tools offered, the gold calls.

    ``meta`` carries source-specific facts (e.g. BFCL's accepted values per argument, or how
    an example was masked); nothing in the package requires any key there.
    """

    id: str
    source: str
    messages: tuple[dict[str, Any], ...]
    tools: tuple[dict[str, Any], ...]
    gold: tuple[Call, ...]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def request(self) -> str:
        """The text of the last user turn: what the gold calls answer."""
        return next((str(m.get("content") or "") for m in reversed(self.messages) if m.get("role") == "user"), "")

    def lc_messages(self) -> list[BaseMessage]:
        return convert_to_messages([dict(m) for m in self.messages])

    def specs(self) -> list[ToolSpec]:
        return normalize_tools(list(self.tools)) if self.tools else []

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "source": self.source, "messages": list(self.messages), "tools": list(self.tools),
            "gold": [call_to_dict(c) for c in self.gold], "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ToolExample:
        missing = [k for k in ("id", "messages", "tools", "gold") if k not in data]
        if missing:
            raise ValueError(f"record lacks {', '.join(missing)}")
        return cls(
            str(data["id"]), str(data.get("source", "")), tuple(data["messages"]), tuple(data["tools"]),
            tuple(call_from_dict(c) for c in data["gold"]), dict(data.get("meta") or {}),
        )


@dataclass(frozen=True)
class LabelledTrajectory:
    """A fine-grained trajectory for ``example`` with one label per step (True is "+")."""

    example: ToolExample
    steps: tuple[Step, ...]
    labels: tuple[bool, ...]
    origin: str = "rollout"

    def __post_init__(self) -> None:
        if len(self.steps) != len(self.labels):
            raise ValueError(f"{len(self.steps)} steps but {len(self.labels)} labels in {self.example.id!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "example": self.example.to_dict(), "steps": [step_to_dict(s) for s in self.steps],
            "labels": [int(x) for x in self.labels], "origin": self.origin,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LabelledTrajectory:
        return cls(
            ToolExample.from_dict(data["example"]), tuple(step_from_dict(s) for s in data["steps"]),
            tuple(bool(x) for x in data["labels"]), str(data.get("origin", "rollout")),
        )


def read_jsonl(path: str | Path) -> Iterator[dict[str, Any]]:
    """The JSON objects of a JSONL file (gzipped when it ends in .gz); a malformed line is an
    error naming file and line."""
    path = require_file(path, "a JSONL dataset")
    with (gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else path.open(encoding="utf-8")) as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataFileError(f"{path}:{n}: not valid JSON ({exc.msg})") from exc
            if not isinstance(obj, dict):
                raise DataFileError(f"{path}:{n}: expected a JSON object, got {type(obj).__name__}")
            yield obj


def load_examples(path: str | Path) -> list[ToolExample]:
    return [_parse(ToolExample.from_dict, obj, path, n) for n, obj in enumerate(read_jsonl(path), 1)]


def load_trajectories(path: str | Path) -> list[LabelledTrajectory]:
    return [_parse(LabelledTrajectory.from_dict, obj, path, n) for n, obj in enumerate(read_jsonl(path), 1)]


def _parse(fn: Any, obj: dict[str, Any], path: str | Path, n: int) -> Any:
    try:
        return fn(obj)
    except (KeyError, TypeError, ValueError) as exc:
        raise DataFileError(f"{path}: record {n} is malformed: {exc}") from exc


def write_jsonl(path: str | Path, records: Iterable[Any]) -> int:
    """Write records (dicts or objects with ``to_dict``) atomically: a crash leaves the old file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    n = 0
    with tmp.open("w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec.to_dict() if hasattr(rec, "to_dict") else rec, ensure_ascii=False) + "\n")
            n += 1
    tmp.replace(path)
    return n


def append_jsonl(path: str | Path, records: Sequence[Any]) -> None:
    """Append whole lines and flush, so a resumable job loses at most the record in flight."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec.to_dict() if hasattr(rec, "to_dict") else rec, ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
