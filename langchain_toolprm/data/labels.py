"""Step labels by rule against the gold calls (ToolPRM section 1).

Each step is judged on its own given its prefix: a correct early step stays "+" even when a
later one fails, which is what lets the PRM say *where* a trajectory went wrong. Gold calls
form a multiset (parallel calls in any order); a gold call is used up once an earlier finished
call of the prefix matched it, so a repeated name needs a repeated gold call. Values compare
type-aware (``5 == 5.0``, ``"New York." == "new york"``) but a boolean is never a number.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

from ..core.schema import ToolSpec
from ..core.steps import Call, Step, StepTag, replay

_NUMBER = re.compile(r"[+-]?(\d+(,\d{3})*(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
# A signed number keeps its sign and decimal point; elsewhere only letters and digits count.
_TOKEN = re.compile(r"[+-]?\d+(?:[.,]\d+)*|[^\W_]+")


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        return float(value.strip().replace(",", ""))
    return None


def normalize_text(text: str) -> str:
    """Case-folded letters, digits and signed numbers; punctuation and spacing dropped."""
    tokens = _TOKEN.findall(unicodedata.normalize("NFKC", text).casefold())
    return "".join(t.replace(",", "") if t[-1].isdigit() else t for t in tokens)


def values_equal(pred: Any, gold: Any, schema: dict[str, Any] | None = None) -> bool:
    """Whether a predicted value means the gold one.

    Numbers compare numerically (int vs float too), strings after :func:`normalize_text`, a
    string and a number when the string spells that number; lists element-wise and dicts
    key-wise, recursively (``schema`` is followed into items and properties). Two strings are
    compared as numbers only when ``schema`` says the value is numeric, so "02134" != "2134"
    for a zip code. ``True`` never equals ``1``.
    """
    schema = schema or {}
    if isinstance(pred, bool) or isinstance(gold, bool):
        return isinstance(pred, bool) and isinstance(gold, bool) and pred == gold
    if pred is None or gold is None:
        return pred is None and gold is None
    if isinstance(pred, list) and isinstance(gold, list):
        items = schema.get("items") if isinstance(schema.get("items"), dict) else None
        return len(pred) == len(gold) and all(values_equal(p, g, items) for p, g in zip(pred, gold))
    if isinstance(pred, dict) and isinstance(gold, dict):
        props = schema.get("properties") or {}
        return pred.keys() == gold.keys() and all(values_equal(pred[k], gold[k], props.get(k)) for k in gold)
    if isinstance(pred, str) and isinstance(gold, str):
        kinds = schema.get("type")
        kinds = set(kinds) if isinstance(kinds, list) else {kinds}
        if kinds & {"integer", "number"} and "string" not in kinds:
            p, g = _as_number(pred), _as_number(gold)
            if p is not None and g is not None:
                return math.isclose(p, g, rel_tol=1e-9, abs_tol=1e-12)
        return normalize_text(pred) == normalize_text(gold)
    if isinstance(pred, (str, int, float)) and isinstance(gold, (str, int, float)):
        p, g = _as_number(pred), _as_number(gold)
        return p is not None and g is not None and math.isclose(p, g, rel_tol=1e-9, abs_tol=1e-12)
    return False


def _param(tool: ToolSpec | None, name: str) -> dict[str, Any] | None:
    p = tool.param(name) if tool is not None else None
    return p.schema if p is not None else None


def _is_default(tool: ToolSpec | None, name: str, value: Any) -> bool:
    """A value equal to the declared default of an optional parameter (so omitting it is the same)."""
    p = tool.param(name) if tool is not None else None
    return p is not None and not p.required and "default" in p.schema and values_equal(value, p.schema["default"], p.schema)


def arg_matches(name: str, value: Any, gold_call: Call, tool: ToolSpec | None = None) -> bool:
    """One argument is right for ``gold_call``: equal to its value, or (absent there) the default."""
    if name in gold_call.arguments:
        return values_equal(value, gold_call.arguments[name], _param(tool, name))
    return _is_default(tool, name, value)


def call_matches(call: Call, gold_call: Call, tool: ToolSpec | None = None) -> bool:
    """Same function and same arguments; an optional argument may be omitted or given when
    its value is the tool's declared default."""
    if call.name != gold_call.name:
        return False
    for name in call.arguments.keys() | gold_call.arguments.keys():
        if name in call.arguments:
            if not arg_matches(name, call.arguments[name], gold_call, tool):
                return False
        elif not _is_default(tool, name, gold_call.arguments[name]):
            return False
    return True


def _matching(ok: Sequence[Sequence[bool]], right: Sequence[int]) -> int:
    """Maximum bipartite matching size between rows of ``ok`` and the columns ``right``
    (Kuhn's augmenting paths; call lists are short)."""
    owner: dict[int, int] = {}

    def augment(i: int, seen: set[int]) -> bool:
        for j in right:
            if j not in seen and ok[i][j]:
                seen.add(j)
                if j not in owner or augment(owner[j], seen):
                    owner[j] = i
                    return True
        return False

    return sum(augment(i, set()) for i in range(len(ok)))


def _compat(calls: Sequence[Call], gold: Sequence[Call], tools: Sequence[ToolSpec]) -> list[list[bool]]:
    by_name = {t.name: t for t in tools}
    return [[call_matches(c, g, by_name.get(g.name)) for g in gold] for c in calls]


def calls_match(calls: Sequence[Call], gold: Sequence[Call], tools: Sequence[ToolSpec] = ()) -> bool:
    """The call list equals gold as a multiset of matching calls (order free)."""
    if len(calls) != len(gold):
        return False
    return _matching(_compat(calls, gold, tools), range(len(gold))) == len(gold)


def _available(finished: Sequence[Call], gold: Sequence[Call], tools: Sequence[ToolSpec]) -> list[int]:
    """Gold calls that some maximum matching of the finished calls leaves unused: exactly those
    a further call can still be matched to without taking one away from a finished call."""
    ok = _compat(finished, gold, tools)
    best = _matching(ok, range(len(gold)))
    return [g for g in range(len(gold)) if _matching(ok, [j for j in range(len(gold)) if j != g]) == best]


def label_steps(steps: Sequence[Step], gold: Sequence[Call], tools: Sequence[ToolSpec] = ()) -> list[bool]:
    """One label per step (True is "+"), each judged on its own given its prefix.

    ``FUNC_NAME``: a still-unused gold call has that name. ``ARG_VALUE``: the argument is right
    for an unused gold call of the open call's name that agrees with the open call's earlier
    right arguments (wrong ones are ignored). ``PARAM_FINISH`` / ``FUNC_FINISH``: the open call
    matches an unused gold call. ``TOTAL_FINISH``: the finished list matches gold as a multiset.
    """
    replay(steps)  # reject an ungrammatical sequence before judging it
    by_name = {t.name: t for t in tools}
    labels: list[bool] = []
    finished: list[Call] = []
    free: list[int] = list(range(len(gold)))
    name: str | None = None
    args: dict[str, Any] = {}
    candidates: list[int] = []
    for step in steps:
        if step.tag is StepTag.FUNC_NAME:
            name, args = step.name, {}
            candidates = [g for g in free if gold[g].name == name]
            labels.append(bool(candidates))
        elif step.tag is StepTag.ARG_VALUE:
            args[step.name] = step.value  # type: ignore[index]
            tool = by_name.get(name or "")
            right = [g for g in candidates if arg_matches(step.name, step.value, gold[g], tool)]  # type: ignore[arg-type]
            if right:
                candidates = right
            labels.append(bool(right))
        elif step.tag in (StepTag.PARAM_FINISH, StepTag.FUNC_FINISH):
            call = Call(name or "", dict(args))
            labels.append(any(call_matches(call, gold[g], by_name.get(gold[g].name)) for g in free))
            if step.tag is StepTag.FUNC_FINISH:
                finished.append(call)
                free = _available(finished, gold, tools)
                name, args = None, {}
        else:
            labels.append(calls_match(finished, gold, tools))
    return labels
