"""BFCL, the Berkeley Function-Calling Leaderboard: its ten single-turn Python categories.

Read from the data files of the ``bfcl-eval`` wheel only: importing ``bfcl_eval`` would pull
every vendor SDK it depends on. Each example keeps what the AST scorer
(:func:`~langchain_toolprm.evaluation.metrics.bfcl_check`) needs in ``meta``: the original
function docs (their Python-ish types decide the type rules) and the possible answers; the gold
calls are one accepted answer, for training-style use and display.
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ...core.schema import ParamSpec
from ...core.steps import Call
from ...data.records import DataFileError, ToolExample
from ..metrics import score_item
from .loading import LoadResult, report

BFCL_ENV = "TOOLPRM_BFCL_DIR"
BFCL_VERSION = "BFCL_v4"
BFCL_CATEGORIES = (
    "simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance",
    "live_simple", "live_multiple", "live_parallel", "live_parallel_multiple", "live_irrelevance",
)

# BFCL's Python-ish type names -> JSON Schema, as BFCL itself maps them for OpenAI-style
# models ("any" is offered as a string; its checker also expects a str for it).
BFCL_TYPES = {
    "string": "string", "integer": "integer", "float": "number", "boolean": "boolean",
    "array": "array", "tuple": "array", "dict": "object", "any": "string",
}


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
    return report(read_bfcl(category, data_dir, limit), f"BFCL {category}")


class Bfcl:
    """BFCL as ``toolprm eval`` runs it: one category at a time (the non-live ones by default),
    each item right or wrong by BFCL's AST rules, reported as accuracy."""

    name = "bfcl"
    categories = BFCL_CATEGORIES
    default_categories = tuple(c for c in BFCL_CATEGORIES if not c.startswith("live_"))
    columns = ("accuracy",)
    score = staticmethod(score_item)

    def load(self, category: str | None, data_dir: str | Path | None = None,
             limit: int | None = None) -> list[ToolExample]:
        if category is None:
            raise ValueError(f"BFCL needs a category: {', '.join(BFCL_CATEGORIES)}")
        return load_bfcl(category, data_dir, limit)

    def quality(self, records: Sequence[dict[str, Any]]) -> tuple[float, ...]:
        return (sum(float(r["correct"]) for r in records) / len(records),)
