"""Hammer's two F1 sets, ToolAlpaca and API-Bank level 1 (from ``shared/data/hammer_f1``).

Each item is a prompt holding its tool list and conversation, and a labelled call list; answers
are scored by function-name and argument F1 and exact match
(:func:`~langchain_toolprm.evaluation.metrics.hammer_scores`), reported as Hammer reports them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, get_args

from ...core.schema import normalize_tools
from ...core.steps import Call
from ...data.records import DataFileError, ToolExample, require_file
from ...data.records import data_dir as shared_data_dir
from ..metrics import aggregate_hammer, score_item
from .loading import LoadResult, report

HammerSet = Literal["toolalpaca", "apibank_l1"]
HAMMER_SETS: tuple[str, ...] = get_args(HammerSet)
F1_COLUMNS = ("name F1", "arg F1", "avg F1", "exact")
"""The quality columns of every set scored by F1 (these and the held-out split)."""

# Hammer's tool lists spell types loosely (ToolAlpaca: JSON Schema, API-Bank: Python names).
_HAMMER_TYPES: dict[str, dict[str, Any]] = {
    "string": {"type": "string"}, "str": {"type": "string"},
    "integer": {"type": "integer"}, "int": {"type": "integer"},
    "number": {"type": "number"}, "float": {"type": "number"},
    "boolean": {"type": "boolean"}, "bool": {"type": "boolean"},
    "list": {"type": "array"}, "list(str)": {"type": "array", "items": {"type": "string"}},
    "dict": {"type": "object"}, "object": {"type": "object"},
}


_TOOLS_RE = re.compile(r"\[BEGIN OF AVAILABLE TOOLS\]\s*(.*?)\s*\[END OF AVAILABLE TOOLS\]", re.S)
_TURN_RE = re.compile(r"<\|im_start\|>(\w+)\n(.*?)<\|im_end\|>", re.S)
_FORMAT_END = "[END OF FORMAT INSTRUCTION]"


def _parse_calls(text: str) -> list[Call]:
    """A call list written as (optionally ```-fenced) JSON ``[{"name", "arguments"}, ...]``."""
    body = text.strip().strip("`").strip()
    data = json.loads(body)
    if not isinstance(data, list):
        raise ValueError(f"expected a JSON list of calls, got {type(data).__name__}")
    calls = []
    for c in data:
        if not isinstance(c, dict) or not isinstance(c.get("name"), str) or not isinstance(c.get("arguments", {}), dict):
            raise ValueError(f"not a call: {c!r}")
        calls.append(Call(c["name"], dict(c.get("arguments", {}))))
    return calls


def hammer_tool(doc: dict[str, Any]) -> dict[str, Any]:
    """A Hammer tool doc (``parameters`` maps names to ``{type, description, required?}``) as OpenAI."""
    props: dict[str, Any] = {}
    required: list[str] = []
    for pname, p in (doc.get("parameters") or {}).items():
        kind = str(p.get("type", "string")).strip().lower()
        if kind not in _HAMMER_TYPES:
            raise ValueError(f"tool {doc.get('name')!r}, parameter {pname!r}: unknown type {kind!r}")
        props[pname] = {**_HAMMER_TYPES[kind], "description": p.get("description", "")}
        if p.get("required") is True:
            required.append(pname)
    return {"type": "function", "function": {
        "name": doc["name"], "description": doc.get("description", ""),
        "parameters": {"type": "object", "properties": props, "required": required},
    }}


def hammer_messages(conversation: str) -> list[dict[str, Any]]:
    """The turns after Hammer's format instruction as OpenAI messages.

    ``agent`` is the assistant speaking; ``assistant`` turns hold the calls it made (kept as
    ``tool_calls``) and the following ``tool`` turns their results, paired in order.
    """
    messages: list[dict[str, Any]] = []
    pending: list[str] = []
    for n, (role, text) in enumerate(_TURN_RE.findall(conversation)):
        if role == "user":
            messages.append({"role": "user", "content": text.strip()})
        elif role == "agent":
            messages.append({"role": "assistant", "content": text.strip()})
        elif role == "assistant":
            tool_calls = [
                {"id": f"call_{n}_{i}", "type": "function",
                 "function": {"name": c.name, "arguments": json.dumps(c.arguments, ensure_ascii=False)}}
                for i, c in enumerate(_parse_calls(text))
            ]
            messages.append({"role": "assistant", "content": "", "tool_calls": tool_calls})
            pending = [c["id"] for c in tool_calls]
        elif role == "tool":
            if not pending:
                raise ValueError(f"turn {n}: a tool result with no call before it")
            # Results answer the calls in order; a surplus result is taken as the last call's.
            call_id = pending.pop(0) if len(pending) > 1 else pending[0]
            messages.append({"role": "tool", "tool_call_id": call_id, "content": text.strip()})
        else:
            raise ValueError(f"turn {n}: unknown role {role!r}")
    if not messages:
        raise ValueError("no conversation turns")
    return messages


def hammer_example(item: dict[str, Any], name: str, index: int) -> ToolExample:
    """One Hammer prompt/label item; any parse or schema problem raises ValueError."""
    prompt = item["instruction"]
    found = _TOOLS_RE.search(prompt)
    if not found or _FORMAT_END not in prompt:
        raise ValueError("no tool list or format instruction in the prompt")
    tools = [hammer_tool(doc) for doc in json.loads(found.group(1))]
    normalize_tools(tools)
    if item.get("input"):
        raise ValueError("text in 'input' (every Hammer item keeps its conversation in the prompt)")
    messages = hammer_messages(prompt.split(_FORMAT_END, 1)[1])
    return ToolExample(
        id=f"{name}-{index}", source=name, messages=tuple(messages), tools=tuple(tools),
        gold=tuple(_parse_calls(item["output"])), meta={"index": index},
    )


def read_hammer(name: HammerSet, data_dir: str | Path | None = None, limit: int | None = None) -> LoadResult:
    """:func:`load_hammer` with the unparseable items left out and why."""
    if name not in HAMMER_SETS:
        raise ValueError(f"unknown Hammer set {name!r}; valid: {', '.join(HAMMER_SETS)}")
    path = require_file(shared_data_dir(data_dir) / "hammer_f1" / f"{name}.json", f"Hammer {name}")
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataFileError(f"{path}: not valid JSON ({exc.msg})") from exc
    if not isinstance(items, list):
        raise DataFileError(f"{path}: expected a JSON list of items")
    result = LoadResult([])
    for index, item in enumerate(items):
        if limit is not None and len(result.examples) >= limit:
            break
        try:
            result.examples.append(hammer_example(item, name, index))
        except (AttributeError, KeyError, TypeError, ValueError) as exc:  # incl. JSON and schema errors
            result.skipped.append((f"{name}-{index}", f"{type(exc).__name__}: {exc}"))
    return result


def load_hammer(name: HammerSet, data_dir: str | Path | None = None, limit: int | None = None) -> list[ToolExample]:
    """The ToolAlpaca or API-Bank level-1 items of Hammer's F1 sets (``data_dir``: the shared data)."""
    return report(read_hammer(name, data_dir, limit), f"Hammer {name}")


def f1_quality(records: Sequence[dict[str, Any]]) -> tuple[float, ...]:
    """The ``F1_COLUMNS``: name, argument and average F1, and exact match, macro-averaged."""
    agg = aggregate_hammer(records)
    return agg["name_f1"], agg["arg_f1"], agg["avg_f1"], agg["exact"]


@dataclass(frozen=True)
class Hammer:
    """One Hammer set as ``toolprm eval`` runs it: no categories, F1 and exact match."""

    name: HammerSet
    categories: ClassVar[tuple[str, ...]] = ()
    default_categories: ClassVar[tuple[str, ...]] = ()
    columns: ClassVar[tuple[str, ...]] = F1_COLUMNS
    score = staticmethod(score_item)
    quality = staticmethod(f1_quality)

    def load(self, category: str | None, data_dir: str | Path | None = None,
             limit: int | None = None) -> list[ToolExample]:
        return load_hammer(self.name, data_dir, limit)
