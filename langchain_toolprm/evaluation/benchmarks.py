"""Test benchmarks read into :class:`~langchain_toolprm.data.records.ToolExample` records.

BFCL (the ten single-turn Python categories, from the data files of the ``bfcl-eval`` wheel)
and the two Hammer F1 sets (ToolAlpaca and API-Bank level 1, from ``shared/data/hammer_f1``).
Only data files are read: importing ``bfcl_eval`` would pull every vendor SDK it depends on.

Each loader keeps what its scorer in :mod:`langchain_toolprm.evaluation.metrics` needs in ``meta``: for
BFCL the original function docs (their Python-ish types decide the type rules) and the
possible answers; the gold calls are one accepted answer, for training-style use and display.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, get_args

from ..core.schema import ParamSpec, normalize_tools
from ..core.steps import Call
from ..data.records import DataFileError, ToolExample, load_examples, require_file
from ..data.records import data_dir as shared_data_dir

log = logging.getLogger(__name__)

BFCL_ENV = "TOOLPRM_BFCL_DIR"
BFCL_VERSION = "BFCL_v4"
BFCL_CATEGORIES = (
    "simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance",
    "live_simple", "live_multiple", "live_parallel", "live_parallel_multiple", "live_irrelevance",
)
HammerSet = Literal["toolalpaca", "apibank_l1"]
HAMMER_SETS: tuple[str, ...] = get_args(HammerSet)
HELDOUT = "heldout"
"""The held-out split of ``toolprm build-dataset`` (training sources, never a test set): the
place to choose settings for a tuned policy without looking at a benchmark."""
BENCHMARKS = ("bfcl", *HAMMER_SETS, HELDOUT)

# BFCL's Python-ish type names -> JSON Schema, as BFCL itself maps them for OpenAI-style
# models ("any" is offered as a string; its checker also expects a str for it).
BFCL_TYPES = {
    "string": "string", "integer": "integer", "float": "number", "boolean": "boolean",
    "array": "array", "tuple": "array", "dict": "object", "any": "string",
}
# Hammer's tool lists spell types loosely (ToolAlpaca: JSON Schema, API-Bank: Python names).
_HAMMER_TYPES: dict[str, dict[str, Any]] = {
    "string": {"type": "string"}, "str": {"type": "string"},
    "integer": {"type": "integer"}, "int": {"type": "integer"},
    "number": {"type": "number"}, "float": {"type": "number"},
    "boolean": {"type": "boolean"}, "bool": {"type": "boolean"},
    "list": {"type": "array"}, "list(str)": {"type": "array", "items": {"type": "string"}},
    "dict": {"type": "object"}, "object": {"type": "object"},
}


@dataclass(frozen=True)
class LoadResult:
    """Examples read from a benchmark file and the items left out, as ``(item id, reason)``."""

    examples: list[ToolExample]
    skipped: list[tuple[str, str]] = field(default_factory=list)


# --------------------------------------------------------------------------------------- BFCL


def bfcl_data_dir(path: str | Path | None = None) -> Path:
    """BFCL's data folder: ``path``, else ``$TOOLPRM_BFCL_DIR``, else the installed ``bfcl_eval``.

    The installed package is located with ``find_spec``, which does not run its code.
    """
    if path is None and os.environ.get(BFCL_ENV):
        path = os.environ[BFCL_ENV]
    if path is None:
        spec = importlib.util.find_spec("bfcl_eval")
        roots = list(spec.submodule_search_locations or []) if spec else []
        path = Path(roots[0]) / "data" if roots else None
    if path is None or not Path(path).is_dir():
        where = f"{path} is not a directory" if path is not None else "bfcl_eval is not installed"
        raise DataFileError(
            f"BFCL data not found ({where}): run `pip install --no-deps bfcl-eval` "
            f"or set ${BFCL_ENV} to its bfcl_eval/data folder"
        )
    return Path(path)


def bfcl_schema(doc: dict[str, Any], where: str) -> dict[str, Any]:
    """A BFCL parameter doc as JSON Schema: types mapped, BFCL's ``optional`` note dropped.

    BFCL puts the allowed elements of a list in the list's own ``enum`` (read literally, no
    list satisfies it); they move to ``items``, which is what the function means. Some live
    functions list strings as the ``enum`` of an integer or boolean (``'dontcare'`` among
    them); BFCL's checker goes by the type, so such an ``enum`` is dropped."""
    kind = doc.get("type")
    if kind not in BFCL_TYPES:
        raise DataFileError(f"{where}: unknown BFCL type {kind!r}")
    out = {k: v for k, v in doc.items() if k not in ("type", "optional", "properties", "items")}
    out["type"] = BFCL_TYPES[kind]
    if "properties" in doc:
        out["properties"] = {k: bfcl_schema(v, f"{where}.{k}") for k, v in doc["properties"].items()}
    if "items" in doc:
        out["items"] = bfcl_schema(doc["items"], f"{where}[]")
    enum = out.get("enum")
    if out["type"] == "array" and isinstance(enum, list) and not any(isinstance(v, list) for v in enum):
        out["items"] = {**out.get("items", {}), "enum": out.pop("enum")}
    elif isinstance(enum, list) and out["type"] != "string" and all(isinstance(v, str) for v in enum):
        del out["enum"]
    return out


def bfcl_tool(doc: dict[str, Any]) -> dict[str, Any]:
    """A BFCL function doc as an OpenAI function tool (names keep their dots)."""
    name = doc["name"]
    params = doc.get("parameters") or {}
    props = params.get("properties") or {}
    return {"type": "function", "function": {
        "name": name, "description": doc.get("description", ""),
        "parameters": {
            "type": "object",
            "properties": {k: bfcl_schema(v, f"{name}.{k}") for k, v in props.items()},
            "required": list(params.get("required") or []),
        },
    }}


def _pick(accepted: list[Any], schema: dict[str, Any] | None, expand: bool, required: bool) -> tuple[bool, Any]:
    """The gold value for one accepted list: ``(False, None)`` means "leave the argument out".

    The first accepted value that fits the declared schema is taken, so gold calls validate
    where BFCL allows it (its lists sometimes start with a value of another type, e.g. ``None``
    for a float). Failing that, ``""`` accepted means the argument may be left out, except a
    required string whose only accepted value is ``""``: BFCL then accepts only the empty
    string. Otherwise the first accepted value is taken whatever its type.
    """
    candidates = [_expand(v, schema or {}) if expand else v for v in accepted if v != ""]
    spec = ParamSpec("value", schema, required) if schema is not None else None

    def fits(v: Any) -> bool:  # an argument the function does not document fits nothing
        return spec is not None and spec.is_valid(v)

    fitting = [v for v in candidates if fits(v)]
    if fitting:
        return True, fitting[0]
    if "" in accepted:
        return (True, "") if required and not candidates and fits("") else (False, None)
    return (True, candidates[0]) if candidates else (False, None)


def _expand(value: Any, schema: dict[str, Any]) -> Any:
    """An accepted argument value made concrete.

    BFCL writes a dict argument, and each dict of a list-of-dicts argument, as key -> accepted
    list, one level deep (its checker compares anything deeper literally).
    """
    if schema.get("type") == "object" and isinstance(value, dict):
        return _pick_args(value, schema.get("properties") or {}, (), expand=False)
    items = schema.get("items") or {}
    if schema.get("type") == "array" and items.get("type") == "object" and isinstance(value, list):
        props = items.get("properties") or {}
        return [_pick_args(v, props, (), expand=False) if isinstance(v, dict) else v for v in value]
    return value


def _pick_args(
    answer: dict[str, list[Any]], props: dict[str, Any], required: Sequence[str], expand: bool,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, accepted in answer.items():
        keep, value = _pick(accepted, props.get(name), expand, name in required)
        if keep:
            out[name] = value
    return out


def bfcl_gold(possible_answer: list[dict[str, Any]], tools: list[dict[str, Any]]) -> tuple[Call, ...]:
    """One gold call list from BFCL's ground truth: per argument, the first fitting accepted value."""
    params = {t["function"]["name"]: t["function"]["parameters"] for t in tools}
    calls = []
    for entry in possible_answer:
        ((name, answer),) = entry.items()
        p = params.get(name, {})
        calls.append(Call(name, _pick_args(answer, p.get("properties", {}), p.get("required", ()), expand=True)))
    return tuple(calls)


def bfcl_example(entry: dict[str, Any], answer: dict[str, Any] | None, category: str) -> ToolExample:
    """One BFCL question (and its possible-answer record, None for irrelevance) as a ToolExample."""
    turns = entry["question"]
    if len(turns) != 1:
        raise DataFileError(f"{entry['id']}: {len(turns)} turns; only single-turn questions are supported")
    tools = [bfcl_tool(doc) for doc in entry["function"]]
    truth = list(answer["ground_truth"]) if answer else []
    return ToolExample(
        id=str(entry["id"]), source=f"bfcl-{category}", messages=tuple(dict(m) for m in turns[0]),
        tools=tuple(tools), gold=bfcl_gold(truth, tools),
        meta={"category": category, "bfcl_functions": entry["function"], "possible_answer": truth},
    )


def _read_lines(path: Path, what: str) -> list[dict[str, Any]]:
    if not path.is_file():
        raise DataFileError(f"missing data file for {what}: {path} (is ${BFCL_ENV} or bfcl-eval up to date?)")
    out = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise DataFileError(f"{path}:{n}: not valid JSON ({exc.msg})") from exc
    return out


def read_bfcl(category: str, data_dir: str | Path | None = None, limit: int | None = None) -> LoadResult:
    """:func:`load_bfcl` with the questions left out (multi-turn ones) and why."""
    if category not in BFCL_CATEGORIES:
        raise ValueError(f"unknown BFCL category {category!r}; valid: {', '.join(BFCL_CATEGORIES)}")
    root = bfcl_data_dir(data_dir)
    questions = _read_lines(root / f"{BFCL_VERSION}_{category}.json", f"BFCL {category}")
    answers: dict[str, dict[str, Any]] = {}
    if "irrelevance" not in category:
        path = root / "possible_answer" / f"{BFCL_VERSION}_{category}.json"
        answers = {a["id"]: a for a in _read_lines(path, f"BFCL {category} answers")}
    result = LoadResult([])
    for entry in questions:
        if limit is not None and len(result.examples) >= limit:
            break
        if len(entry["question"]) != 1:
            result.skipped.append((str(entry["id"]), "multi-turn question"))
            continue
        if answers and entry["id"] not in answers:
            raise DataFileError(f"BFCL {category}: no possible answer for {entry['id']!r}")
        result.examples.append(bfcl_example(entry, answers.get(entry["id"]), category))
    return result


def load_bfcl(category: str, data_dir: str | Path | None = None, limit: int | None = None) -> list[ToolExample]:
    """The first ``limit`` questions of a BFCL category; ``data_dir`` is BFCL's ``data`` folder."""
    return _report(read_bfcl(category, data_dir, limit), f"BFCL {category}")


# ------------------------------------------------------------------------------------- Hammer

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
    return _report(read_hammer(name, data_dir, limit), f"Hammer {name}")


# ------------------------------------------------------------------------------------ dispatch


def load_benchmark(
    benchmark: str, category: str | None = None, data_dir: str | Path | None = None, limit: int | None = None,
) -> list[ToolExample]:
    """Load ``benchmark`` ("bfcl" needs ``category``); ``data_dir`` is as for its own loader
    (for ``heldout``, the build-dataset output folder)."""
    if benchmark == "bfcl":
        if category is None:
            raise ValueError(f"BFCL needs a category: {', '.join(BFCL_CATEGORIES)}")
        return load_bfcl(category, data_dir, limit)
    if benchmark in HAMMER_SETS:
        if category is not None:
            raise ValueError(f"{benchmark} has no categories (got {category!r})")
        return load_hammer(benchmark, data_dir, limit)  # type: ignore[arg-type]
    if benchmark == HELDOUT:
        if category is not None:
            raise ValueError(f"{benchmark} has no categories (got {category!r})")
        if data_dir is None:
            raise ValueError("heldout needs --data-dir: the build-dataset output folder holding examples_test.jsonl")
        path = require_file(Path(data_dir) / "examples_test.jsonl", "held-out examples")
        # Results group by benchmark and category: here the category is the training source.
        return [replace(ex, source=f"{HELDOUT}-{ex.source}", meta={**ex.meta, "category": ex.source})
                for ex in load_examples(path)[:limit]]
    raise ValueError(f"unknown benchmark {benchmark!r}; valid: {', '.join(BENCHMARKS)}")


def _report(result: LoadResult, what: str) -> list[ToolExample]:
    if result.skipped:
        log.warning("%s: skipped %d item(s), e.g. %s: %s", what, len(result.skipped), *result.skipped[0])
    return result.examples
