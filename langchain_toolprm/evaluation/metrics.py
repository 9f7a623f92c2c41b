"""Scorers for benchmark answers: BFCL's AST rules, and a clean Hammer-style F1.

:func:`bfcl_check` re-implements the rules of BFCL's AST checker (``ast_checker.py`` in
``bfcl-eval``) for Python single-turn categories, because importing that checker imports every
vendor SDK. The rules, including BFCL's quirks, are kept so scores compare with published ones:

* a call matches one possible answer when its name is the answer's function, every required
  argument is there, every argument is both documented and named in the answer, and each value
  passes the type and value rules below; an answer argument left out must accept ``""``;
* types follow the function doc's Python-ish type: an int is accepted for a float (not the
  reverse), a bool is not an int, "any" means a string, tuples are lists; array items are
  type-checked one level deep (with no int-for-float allowance there, as in BFCL);
* when the accepted values are of another type than the doc declares (BFCL's "variable"
  answers, e.g. ``"data['sales']"`` for an array), a value of that type is accepted and compared
  literally;
* strings compare after dropping spaces and ``,./-_*^``, lower-casing and turning ``'`` into
  ``"``; lists compare with their top-level strings so normalised; a dict argument (or each dict
  of a list of dicts) is compared key by key against accepted lists, one level deep;
* the number of calls must equal the number of answers, and calls pair one-to-one with
  answers in any order. BFCL pairs greedily in answer order; a maximum matching is used here,
  which differs only where one call fits several answers and greedy pairing fails.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.steps import Call
from ..data.records import ToolExample

_PY_TYPES: dict[str, type] = {
    "string": str, "integer": int, "float": float, "boolean": bool,
    "array": list, "tuple": list, "dict": dict, "any": str,
}
_STRIP = re.compile(r"[ ,./\-_*^]")


@dataclass(frozen=True)
class CheckResult:
    """Whether an answer is right; if not, a short reason code and a readable detail.

    Reasons: ``no_output``, ``wrong_count``, ``wrong_function_name``, ``missing_required``,
    ``missing_optional`` (an answer argument with no "may be omitted" left out),
    ``unexpected_argument``, ``type_error``, ``value_error``, ``irrelevance_called``.
    """

    correct: bool
    reason: str | None = None
    detail: str = ""


_OK = CheckResult(True)


def _fail(reason: str, detail: str) -> CheckResult:
    return CheckResult(False, reason, detail)


def standardize(text: str) -> str:
    """BFCL's string normalisation, so "April 1, 2024" and "april 1 2024" compare equal."""
    return _STRIP.sub("", text).lower().replace("'", '"')


def _std(value: Any) -> Any:
    return standardize(value) if isinstance(value, str) else value


# ----------------------------------------------------------------------------------------- BFCL


def bfcl_check(example: ToolExample, calls: Sequence[Call] | None) -> CheckResult:
    """Score ``calls`` (None: the answer could not be read as calls) on a BFCL example.

    Irrelevance categories are right iff there is no call (None or an empty list); elsewhere
    an empty list is a wrong count and None is ``no_output``. The example must come from
    :func:`~langchain_toolprm.evaluation.benchmarks.bfcl.load_bfcl` (its meta holds BFCL's docs
    and answers).
    """
    if "irrelevance" in example.meta["category"]:
        if calls:
            return _fail("irrelevance_called", f"expected no call, got {[c.name for c in calls]}")
        return _OK
    if calls is None:
        return _fail("no_output", "no call list could be read from the answer")
    answers: list[dict[str, Any]] = example.meta["possible_answer"]
    if len(calls) != len(answers):
        return _fail("wrong_count", f"expected {len(answers)} call(s), got {len(calls)}")
    docs = {doc["name"]: doc for doc in example.meta["bfcl_functions"]}
    results = [[_check_call(docs[name], call, accepted) for call in calls]
               for name, accepted in (next(iter(a.items())) for a in answers)]
    pair = _max_matching([[r.correct for r in row] for row in results])
    free_answers = [i for i in range(len(answers)) if i not in pair]
    if not free_answers:
        return _OK
    # Explain the first answer left unpaired, against a free call of its function if any.
    i = free_answers[0]
    free_calls = [j for j in range(len(calls)) if j not in pair.values()]
    name = next(iter(answers[i]))
    j = next((j for j in free_calls if calls[j].name == name), free_calls[0])
    where = f"answer {i} ({name}) vs call {j}: " if len(answers) > 1 else ""
    return CheckResult(False, results[i][j].reason, where + results[i][j].detail)


def _max_matching(ok: list[list[bool]]) -> dict[int, int]:
    """Answer index -> call index of a maximum one-to-one pairing (augmenting paths)."""
    owner: dict[int, int] = {}  # call -> answer

    def augment(i: int, seen: set[int]) -> bool:
        for j, fits in enumerate(ok[i]):
            if fits and j not in seen:
                seen.add(j)
                if j not in owner or augment(owner[j], seen):
                    owner[j] = i
                    return True
        return False

    for i in range(len(ok)):
        augment(i, set())
    return {i: j for j, i in owner.items()}


def _check_call(doc: dict[str, Any], call: Call, answer: dict[str, list[Any]]) -> CheckResult:
    if call.name != doc["name"]:
        return _fail("wrong_function_name", f"expected {doc['name']!r}, got {call.name!r}")
    params = doc["parameters"]
    props = params.get("properties") or {}
    missing = [p for p in params.get("required") or [] if p not in call.arguments]
    if missing:
        return _fail("missing_required", f"{call.name}: missing required {missing}")
    for name, value in call.arguments.items():
        if name not in props or name not in answer:
            return _fail("unexpected_argument", f"{call.name}: unexpected argument {name!r}")
        result = _check_value(name, value, props[name], answer[name])
        if not result.correct:
            return result
    left_out = [p for p, accepted in answer.items() if p not in call.arguments and "" not in accepted]
    if left_out:
        return _fail("missing_optional", f"{call.name}: {left_out} left out but the answer needs them")
    return _OK


def _check_value(name: str, value: Any, doc: dict[str, Any], accepted: list[Any]) -> CheckResult:
    kind = doc["type"]
    expected = _PY_TYPES[kind]
    inner = _PY_TYPES[doc["items"]["type"]] if kind in ("array", "tuple") else None
    if kind == "tuple" and isinstance(value, tuple):
        value = list(value)
    if kind == "float" and type(value) is int:
        value = float(value)
    variable, type_ok = _type_check(value, accepted, expected, inner)
    if not type_ok:
        return _fail("type_error", f"{name!r}: expected {kind}, got {type(value).__name__} {value!r}")
    error: str | None
    if variable:  # compared literally, as BFCL does for "variable" answers
        error = None if value in accepted else "not accepted"
    elif expected is dict:
        error = _dict_error(value, accepted)
    elif expected is list and inner is dict:
        error = _list_of_dicts_error(value, accepted)
    elif expected is str:
        error = None if standardize(value) in [standardize(a) for a in accepted if isinstance(a, str)] else "not accepted"
    elif expected is list:
        options = [[_std(v) for v in a] for a in accepted if isinstance(a, (list, str))]
        error = None if [_std(v) for v in value] in options else "not accepted"
    else:
        error = None if value in accepted else "not accepted"
    if error:
        return _fail("value_error", f"{name!r}: {value!r} {error}; accepted {accepted!r}")
    return _OK


def _type_check(value: Any, accepted: list[Any], expected: type, inner: type | None) -> tuple[bool, bool]:
    """``(is_variable, type_ok)`` by BFCL's rules (see the module docstring)."""
    hint = next((type(a) for a in accepted if a != ""), None)
    variable = hint is not None and hint is not expected
    if type(value) is expected:
        if inner is None:
            return variable, True
        # One level deep: every item must fit some accepted list ("" or a non-list always fits).
        for option in accepted:
            if not isinstance(option, list) or all(_type_check(v, option, inner, None)[1] for v in value):
                return variable, True
        return variable, False
    if hint is not None and type(value) is hint:
        return True, True
    return variable, False


def _dict_error(value: Any, accepted: list[Any]) -> str | None:
    """None if ``value`` fits one accepted dict (key -> accepted list, "" = may be omitted)."""
    if not isinstance(value, dict):
        return "is not a dict"
    error = "fits no accepted dict"
    for option in accepted:
        if not isinstance(option, dict):
            continue
        error = _dict_mismatch(value, option)
        if error is None:
            return None
    return error


def _dict_mismatch(value: dict[str, Any], option: dict[str, list[Any]]) -> str | None:
    for key, v in value.items():
        if key not in option:
            return f"has unexpected key {key!r}"
        if _std(v) not in [_std(a) for a in option[key]]:
            return f"has {v!r} for key {key!r}"
    missing = [k for k, allowed in option.items() if k not in value and "" not in allowed]
    return f"lacks keys {missing}" if missing else None


def _list_of_dicts_error(value: list[Any], accepted: list[Any]) -> str | None:
    """None if ``value`` fits one accepted list of dicts, dict by dict in order."""
    error = "fits no accepted list"
    for option in accepted:
        if not isinstance(option, (list, str)) or len(option) != len(value):
            error = "has the wrong number of dicts"
            continue
        error = next((e for d, o in zip(value, option) if (e := _dict_error(d, [o]))), None)
        if error is None:
            return None
    return error


# --------------------------------------------------------------------------------- Hammer F1


def normalize_value(value: Any) -> Hashable:
    """A value as compared by the F1 scores: loose on spelling, strict on content.

    Strings are lower-cased and whitespace-collapsed; numbers compare by value, and a string
    holding a finite number is that number (5, 5.0 and "5" are equal); booleans and None
    compare by their JSON names ("False" equals False); lists keep their order; dicts compare
    by keys and normalised values, in any key order.
    """
    if isinstance(value, dict):
        return ("dict", tuple(sorted(((str(k), normalize_value(v)) for k, v in value.items()), key=lambda kv: kv[0])))
    if isinstance(value, (list, tuple)):
        return ("list", tuple(normalize_value(v) for v in value))
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        text = " ".join(value.lower().split())
        try:
            number = float(text)
        except ValueError:
            return text
        return _number(number) if math.isfinite(number) else text
    if isinstance(value, (int, float)):
        return _number(float(value))
    return repr(value)


def _number(x: float) -> str:
    return str(int(x)) if x.is_integer() else repr(x)


def _prf(pred: Counter[Any], gold: Counter[Any]) -> tuple[float, float, float]:
    """Multiset precision, recall, F1: each predicted item pairs with at most one gold item.

    An empty side has perfect precision (pred) or recall (gold) by convention, so both empty is
    1.0 all round and exactly one empty gives F1 0.0. No value exceeds 1.
    """
    hits = sum((pred & gold).values())
    precision = hits / sum(pred.values()) if pred else 1.0
    recall = hits / sum(gold.values()) if gold else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def _call_key(call: Call) -> tuple[str, tuple[tuple[str, Hashable], ...]]:
    return call.name, tuple(sorted((k, normalize_value(v)) for k, v in call.arguments.items()))


def hammer_scores(pred: Sequence[Call] | None, gold: Sequence[Call]) -> dict[str, Any]:
    """Per-item function-name F1, argument F1 and exact match of ``pred`` against ``gold``.

    * name F1 compares the multisets of called names, so a name called twice pairs with at
      most two gold calls of it;
    * argument F1 compares multisets of (function, argument, normalised value) triples;
    * exact is True iff the calls equal the gold calls as a multiset (values normalised,
      order of calls and of arguments free).

    ``pred`` None (nothing readable) counts as no call. With no gold call, answering no call
    scores 1.0 everywhere and any call scores 0.0. Where neither side has an argument, the
    argument scores are the name scores: the arguments are right exactly as far as the right
    functions were called, so a missing or wrong no-argument call earns no argument credit.
    """
    calls = list(pred or [])
    name_p, name_r, name_f1 = _prf(Counter(c.name for c in calls), Counter(c.name for c in gold))
    pred_args = Counter((c.name, k, normalize_value(v)) for c in calls for k, v in c.arguments.items())
    gold_args = Counter((c.name, k, normalize_value(v)) for c in gold for k, v in c.arguments.items())
    arg_p, arg_r, arg_f1 = (
        _prf(pred_args, gold_args) if pred_args or gold_args else (name_p, name_r, name_f1)
    )
    exact = Counter(map(_call_key, calls)) == Counter(map(_call_key, gold))
    return {
        "correct": exact, "exact": exact, "no_output": pred is None,
        "name_precision": name_p, "name_recall": name_r, "name_f1": name_f1,
        "arg_precision": arg_p, "arg_recall": arg_r, "arg_f1": arg_f1,
    }


def aggregate_hammer(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Means over items of :func:`hammer_scores` (macro average, as Hammer reports them).

    ``avg_f1`` is the mean of name F1 and argument F1; ``exact`` is exact-call accuracy.
    """
    if not items:
        raise ValueError("no items to aggregate")
    n = len(items)
    out: dict[str, Any] = {"n": n}
    for key in ("name_f1", "arg_f1", "exact", "no_output"):
        out[key] = sum(float(it[key]) for it in items) / n
    out["avg_f1"] = (out["name_f1"] + out["arg_f1"]) / 2
    return out


def sign_test(better: int, worse: int) -> float:
    """Two-sided exact sign test over paired items (ties left out): how likely a split at least
    this uneven is if neither side is better. Differences of means hide how many items moved."""
    n, k = better + worse, min(better, worse)
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n) if n else 1.0


# ------------------------------------------------------------------------------------ dispatch


def score_item(example: ToolExample, calls: Sequence[Call] | None) -> dict[str, Any]:
    """Score one answer by its example's benchmark; always has ``correct``."""
    if example.source.startswith("bfcl-"):
        result = bfcl_check(example, calls)
        return {"correct": result.correct, "reason": result.reason, "detail": result.detail}
    # ToolAlpaca, API-Bank level-1 and held-out training-source splits: F1 and exact match.
    return hammer_scores(calls, example.gold)
