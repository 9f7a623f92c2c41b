"""Tool schemas: every accepted tool form normalised to one typed internal schema.

LangChain tools, pydantic models, typed functions and OpenAI-style dicts all go through
``convert_to_openai_tool``. Each parameter's JSON Schema is then made self-contained and
checked once, at bind time, so a schema that cannot be honoured fails early and names its
tool and parameter:

1. local ``$ref`` are inlined (``$defs`` / ``definitions``, resolved by ``referencing``, the
   resolver jsonschema itself uses); a reference cycle (a recursive schema) or a remote
   reference is an error;
2. OpenAPI forms become JSON Schema (``nullable: true``, boolean ``exclusiveMinimum``) and
   keywords that are not JSON Schema (BFCL's ``optional``, vendor ``x-...``) are dropped: they
   are annotations;
3. for the value grammar, ``allOf`` is merged into one schema and the sibling constraints of
   ``anyOf`` / ``oneOf`` are moved into their branches (xgrammar ignores both);
4. what no value can satisfy (``minimum`` above ``maximum``, an empty ``enum``, a ``const``
   its own schema rejects, a ``required`` property that cannot appear, a bad ``pattern``) and
   whatever xgrammar cannot compile are errors.

Every sampled value is validated again with jsonschema (formats included) against the
self-contained original schema (``ParamSpec.check``), so keywords the grammar does not enforce
are still honoured. See ``docs/schemas.md``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from langchain_core.utils.function_calling import convert_to_openai_tool
from referencing import Registry, Resource
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012


class ToolSchemaError(ValueError):
    """A tool list or schema that cannot be honoured."""


class _RecursiveSchemaError(ToolSchemaError):
    """A reference cycle: the value grammar of a parameter would be infinite."""


class _Unsatisfiable(Exception):
    """No value can satisfy a schema; carries the reason, the caller adds where."""


FORMAT_CHECKER = Draft202012Validator.FORMAT_CHECKER
"""The format checker used on every sampled value (which formats it checks depends on the
optional packages installed; see docs/schemas.md)."""

_TYPES = {"string", "integer", "number", "boolean", "null", "array", "object"}
_INT64 = 2**63 - 1

# JSON Schema keywords, by what they hold. Anything else is an annotation and is dropped.
_ANNOTATIONS = {
    "title", "description", "default", "examples", "deprecated", "readOnly", "writeOnly",
    "$comment", "contentEncoding", "contentMediaType",
}
_SUB_ONE = {
    "items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames",
    "additionalItems", "unevaluatedItems", "unevaluatedProperties",
}
_SUB_LIST = {"allOf", "anyOf", "oneOf", "prefixItems"}
_SUB_MAP = {"properties", "patternProperties", "dependentSchemas"}
_ASSERTIONS = {
    "type", "enum", "const", "multipleOf", "maximum", "exclusiveMaximum", "minimum",
    "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems",
    "maxContains", "minContains", "maxProperties", "minProperties", "required", "dependentRequired",
    "format", "dependencies",
}
_KNOWN = _ANNOTATIONS | _SUB_ONE | _SUB_LIST | _SUB_MAP | _ASSERTIONS
_BOUND_PAIRS = (("minLength", "maxLength"), ("minItems", "maxItems"),
                ("minProperties", "maxProperties"), ("minContains", "maxContains"))
_LOWER = {"minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties", "minContains"}
_UPPER = {"maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties", "maxContains"}
# Keywords the search honours on the arguments object itself (it fills one argument at a time).
_TOP_LEVEL = {"type", "properties", "required", "additionalProperties"}


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a tool: its name, value schema and whether it is required.

    ``schema`` is what the value grammar is built from; ``check`` (default: ``schema``) is the
    self-contained original schema every value is validated against, formats included.
    """

    name: str
    schema: dict[str, Any]
    required: bool
    check: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    @cached_property
    def validator(self) -> Draft202012Validator:
        return Draft202012Validator(self.schema if self.check is None else self.check,
                                    format_checker=FORMAT_CHECKER)

    @cached_property
    def choices(self) -> list[Any] | None:
        """The finite set of legal values, when the schema has one (enum, const, boolean)."""
        values = finite_values(self.schema)
        legal = None if values is None else [v for v in values if self.is_valid(v)]
        return legal or None

    def is_valid(self, value: Any) -> bool:
        return self.validator.is_valid(value)


@dataclass(frozen=True)
class ToolSpec:
    """A tool as the search sees it. ``openai`` is the normalised OpenAI-style dict (its
    parameters with local references inlined)."""

    name: str
    description: str
    params: tuple[ParamSpec, ...]
    openai: dict[str, Any]

    def param(self, name: str) -> ParamSpec | None:
        return next((p for p in self.params if p.name == name), None)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params if p.required)

    def validate_arguments(self, arguments: dict[str, Any]) -> str | None:
        """None if ``arguments`` is a valid call of this tool, else the reason."""
        for key, value in arguments.items():
            p = self.param(key)
            if p is None:
                return f"unknown argument {key!r}"
            if not p.is_valid(value):
                return f"argument {key!r} does not match its schema"
        missing = [r for r in self.required if r not in arguments]
        return f"missing required arguments {missing}" if missing else None


def finite_values(schema: dict[str, Any]) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    if "enum" in schema:
        return list(schema["enum"])
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    if kinds and set(kinds) <= {"boolean", "null"}:
        return ([True, False] if "boolean" in kinds else []) + ([None] if "null" in kinds else [])
    alternatives = schema.get("anyOf") or schema.get("oneOf")
    if alternatives:
        values: list[Any] = []
        for alt in alternatives:
            sub = finite_values(alt) if isinstance(alt, dict) else None
            if sub is None:
                return None
            # Compare as JSON: in Python True == 1 and False == 0, but they are different values.
            seen = {_key(v) for v in values}
            values += [v for v in sub if _key(v) not in seen]
        return values
    return None


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


# ---- 1. inlining local references ------------------------------------------------------------
def _inline_root(params: Any, tool: str) -> Any:
    """``params`` with every ``$ref`` replaced by what it points to and ``$defs`` dropped."""
    if not isinstance(params, dict):
        return params
    try:
        resource = Resource.from_contents(params, default_specification=DRAFT202012)
    except Exception:  # noqa: BLE001 - an unknown $schema: read it as 2020-12
        resource = DRAFT202012.create_resource(params)
    resolver = Registry().resolver_with_root(resource)
    return _inline(params, resolver, (id(params),), f"tool {tool!r}", top=True)


def _inline(node: Any, resolver: Any, stack: tuple[int, ...], where: str, top: bool = False) -> Any:
    if not isinstance(node, dict):
        return node
    if "$id" in node and not top:
        resolver = resolver.in_subresource(DRAFT202012.create_resource(node))
    for key in ("$dynamicRef", "$recursiveRef"):
        if key in node:
            raise _RecursiveSchemaError(f"{where}: {key!r} makes a recursive schema, and recursion cannot "
                                        f"be constrained by the value grammar")
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("$ref", "$defs", "definitions", "$id", "$schema", "$anchor", "$dynamicAnchor",
                   "$vocabulary"):
            continue
        if key in _SUB_ONE and isinstance(value, (dict, bool)):
            out[key] = _inline(value, resolver, stack, f"{where}.{key}")
        elif (key in _SUB_LIST or key == "items") and isinstance(value, list):
            out[key] = [_inline(s, resolver, stack, f"{where}.{key}[{i}]", top and key == "allOf")
                        for i, s in enumerate(value)]
        elif key in _SUB_MAP and isinstance(value, dict):
            out[key] = {
                n: _inline(s, resolver, stack, _child(where, key, n, top)) for n, s in value.items()
            }
        elif key == "dependencies" and isinstance(value, dict):
            out[key] = {n: _inline(s, resolver, stack, f"{where}.{key}.{n}") for n, s in value.items()}
        else:
            out[key] = value
    if "$ref" not in node:
        return out
    ref = node["$ref"]
    if not isinstance(ref, str):
        raise ToolSchemaError(f"{where}: '$ref' must be a string, got {ref!r}")
    try:
        resolved = resolver.lookup(ref)
    except Unresolvable:
        local = ref.startswith("#")
        why = ("it points to nothing in the tool's schema" if local else
               "only references inside the tool's own schema are resolved; nothing is fetched")
        raise ToolSchemaError(f"{where}: cannot resolve '$ref' {ref!r}: {why}") from None
    target = resolved.contents
    if id(target) in stack:
        raise _RecursiveSchemaError(
            f"{where}: recursive schema ('$ref' {ref!r} refers back to a schema that contains it); "
            f"recursion cannot be constrained by the value grammar"
        )
    inlined = _inline(target, resolved.resolver, (*stack, id(target)), where, top)
    return _with_siblings(inlined, out)


def _child(where: str, key: str, name: str, top: bool) -> str:
    if key != "properties":
        return f"{where}.{key}.{name}"
    return f"{where}, parameter {name!r}" if top else f"{where}.{name}"


def _with_siblings(target: Any, siblings: dict[str, Any]) -> Any:
    """A resolved ``$ref`` with the keywords written next to it (2020-12: both apply)."""
    if not siblings:
        return target
    constraints = {k: v for k, v in siblings.items() if k in _KNOWN - _ANNOTATIONS}
    notes = {k: v for k, v in siblings.items() if k not in constraints}
    if not constraints:
        if isinstance(target, dict):
            return {**target, **notes}
        return notes if target is True else target
    return {"allOf": [target, constraints], **notes}


# ---- 2. the checked schema: JSON Schema only ---------------------------------------------------
def _clean(node: Any, where: str) -> Any:
    """Drop annotations that are not JSON Schema; OpenAPI and draft-4/7 forms to 2020-12."""
    if isinstance(node, bool):
        return node
    if not isinstance(node, dict):
        raise ToolSchemaError(f"{where}: a schema must be an object, got {node!r}")
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key not in _KNOWN:
            continue
        if key in _SUB_LIST or (key == "items" and isinstance(value, list)):
            if not isinstance(value, list):
                raise ToolSchemaError(f"{where}: {key!r} must be a list of schemas")
            out[key] = [_clean(s, f"{where}.{key}[{i}]") for i, s in enumerate(value)]
        elif key in _SUB_ONE:
            out[key] = _clean(value, f"{where}.{key}")
        elif key in _SUB_MAP:
            if not isinstance(value, dict):
                raise ToolSchemaError(f"{where}: {key!r} must map names to schemas")
            out[key] = {n: _clean(s, f"{where}.{n}" if key == "properties" else f"{where}.{key}.{n}")
                        for n, s in value.items()}
        else:
            out[key] = value
    kinds = out.get("type")
    for kind in kinds if isinstance(kinds, list) else [kinds] if kinds is not None else []:
        if kind not in _TYPES:
            raise ToolSchemaError(f"{where}: unsupported type {kind!r}")
    if isinstance(out.get("items"), list):  # draft 4-7 tuple form
        out["prefixItems"] = out.pop("items")
        if "additionalItems" in out:
            out["items"] = out.pop("additionalItems")
    out.pop("additionalItems", None)
    if isinstance(out.get("dependencies"), dict):
        for n, dep in out.pop("dependencies").items():
            kind = "dependentRequired" if isinstance(dep, list) else "dependentSchemas"
            out.setdefault(kind, {})[n] = dep if isinstance(dep, list) else _clean(dep, f"{where}.{n}")
    for bound, inclusive in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(out.get(bound), bool):  # draft 4 / OpenAPI 3.0: a flag on the inclusive bound
            flag = out.pop(bound)
            if flag and inclusive in out:
                out[bound] = out.pop(inclusive)
    pattern = out.get("pattern")
    if isinstance(pattern, str):
        try:
            re.compile(pattern)
        except re.error as e:
            raise ToolSchemaError(f"{where}: 'pattern' {pattern!r} is not a valid regular expression for "
                                  f"Python's re, which checks every value ({e})") from None
    if node.get("nullable") is True:  # OpenAPI 3.0
        out = _nullable(out)
    return out


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    kinds = schema.get("type")
    if kinds is not None and not {"enum", "const"} & set(schema):
        kinds = kinds if isinstance(kinds, list) else [kinds]
        return {**schema, "type": kinds + ["null"] if "null" not in kinds else kinds}
    notes = {k: v for k, v in schema.items() if k in _ANNOTATIONS}
    rest = {k: v for k, v in schema.items() if k not in _ANNOTATIONS}
    return {"anyOf": [rest, {"type": "null"}], **notes}


# ---- 3. the grammar schema ------------------------------------------------------------------
def _for_grammar(node: Any, where: str) -> Any:
    """An equivalent schema in the forms xgrammar honours (``allOf`` merged, sibling
    constraints of ``anyOf``/``oneOf`` moved into the branches). Where a merge cannot be
    exact the result may differ; values are validated against the original anyway."""
    if isinstance(node, bool):
        return {} if node else False
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _SUB_ONE:
            out[key] = _for_grammar(value, f"{where}.{key}")
        elif key in _SUB_LIST:
            out[key] = [_for_grammar(s, f"{where}.{key}[{i}]") for i, s in enumerate(value)]
        elif key in _SUB_MAP:
            out[key] = {n: _for_grammar(s, f"{where}.{n}" if key == "properties" else f"{where}.{key}.{n}")
                        for n, s in value.items()}
        else:
            out[key] = value
    try:
        if "allOf" in out:
            parts = out.pop("allOf")
            for part in parts:
                out = _merge(out, part)
            if out is False:
                raise _Unsatisfiable("a part of its 'allOf' accepts no value")
        for key in ("anyOf", "oneOf"):
            if key in out and isinstance(out, dict):
                out = _distribute(out, key)
    except _Unsatisfiable as e:
        raise ToolSchemaError(f"{where}: no value can satisfy it: {e}") from None
    required = out.get("required")
    if isinstance(required, list) and not {"properties", "additionalProperties", "patternProperties"} & set(out):
        # An object described only by its required names (BFCL's "dict" parameters): the grammar
        # closes objects, so those names are offered, each with any value. Where 'properties'
        # exist, a required name missing from them is refused as the slip it usually is.
        out["properties"] = {n: {} for n in required if isinstance(n, str)}
    props = out.get("properties")
    if isinstance(props, dict):
        for name in [n for n, s in props.items() if s is False]:
            if name in out.get("required", []):
                raise ToolSchemaError(f"{where}: required property {name!r} has the schema false: "
                                      f"no value can satisfy it")
            del props[name]
    return out


def _merge(a: Any, b: Any) -> Any:
    """Both schemas at once (their conjunction) as one schema, exact where the keywords allow."""
    if a is False or b is False:
        return False
    if not isinstance(a, dict) or not a:
        return b
    if not isinstance(b, dict) or not b:
        return a
    out = dict(a)
    for k, v in b.items():
        if k not in out:
            out[k] = v
            continue
        u = out[k]
        if _key(u) == _key(v) or k in _ANNOTATIONS:
            continue
        if k == "type":
            out[k] = _common_types(u, v)
        elif k in _LOWER and _is_number(u) and _is_number(v):
            out[k] = max(u, v)
        elif k in _UPPER and _is_number(u) and _is_number(v):
            out[k] = min(u, v)
        elif k == "required" and isinstance(u, list) and isinstance(v, list):
            out[k] = list(dict.fromkeys([*u, *v]))
        elif k in _SUB_MAP and isinstance(u, dict) and isinstance(v, dict):
            out[k] = {**u, **{n: _merge(u[n], s) if n in u else s for n, s in v.items()}}
        elif k in _SUB_ONE and k not in ("not", "if", "then", "else"):
            out[k] = _merge(u, v)
        elif k == "enum" and isinstance(u, list) and isinstance(v, list):
            both = {_key(x) for x in v}
            out[k] = [x for x in u if _key(x) in both]
            if not out[k]:
                raise _Unsatisfiable(f"no value is in both 'enum' lists {u} and {v}")
        elif k == "const":
            raise _Unsatisfiable(f"two different 'const' values {u!r} and {v!r}")
        elif k == "uniqueItems":
            out[k] = bool(u or v)
        elif k == "anyOf" and isinstance(u, list) and isinstance(v, list) and len(u) * len(v) <= 16:
            pairs = []
            for x in u:
                for y in v:
                    try:
                        pairs.append(_merge(x, y))
                    except _Unsatisfiable:
                        pass
            out[k] = [p for p in pairs if p is not False]
            if not out[k]:
                raise _Unsatisfiable("no branch of one 'anyOf' fits a branch of the other")
        # Anything else (two patterns, two formats, two oneOf lists): the grammar keeps the
        # first; the value is still validated against both.
    return out


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _common_types(u: Any, v: Any) -> Any:
    a = set(u if isinstance(u, list) else [u])
    b = set(v if isinstance(v, list) else [v])
    both = a & b
    if "number" in a and "integer" in b or "number" in b and "integer" in a:
        both.add("integer")
    if not both:
        raise _Unsatisfiable(f"no type is allowed by both {u!r} and {v!r}")
    order = [t for t in (u if isinstance(u, list) else [u]) + (v if isinstance(v, list) else [v]) if t in both]
    kinds = list(dict.fromkeys(order))
    return kinds[0] if len(kinds) == 1 else kinds


def _distribute(node: dict[str, Any], key: str) -> dict[str, Any]:
    """Move the constraints written next to ``anyOf``/``oneOf`` into each branch (exact: the
    conjunction distributes over both); branches that cannot hold with them are dropped."""
    siblings = {k: v for k, v in node.items() if k not in _ANNOTATIONS and k != key}
    if not siblings or not isinstance(node[key], list):
        return node
    branches, reasons = [], []
    for branch in node[key]:
        try:
            merged = _merge(siblings, branch)
            reason = _conflict(merged) if merged is not False else "it accepts no value"
        except _Unsatisfiable as e:
            merged, reason = False, str(e)
        if reason is None:
            branches.append(merged)
        else:
            reasons.append(reason)
    if not branches:
        raise _Unsatisfiable(f"no branch of its {key!r} fits the keywords next to it ({reasons[0]})")
    return {**{k: v for k, v in node.items() if k in _ANNOTATIONS}, key: branches}


# ---- 4. what no value satisfies ---------------------------------------------------------------
def _conflict(node: dict[str, Any]) -> str | None:
    """Why no value can satisfy this one level of a schema, or None."""
    kinds = node.get("type")
    kinds = set(kinds if isinstance(kinds, list) else [kinds] if kinds is not None else _TYPES)
    lows = {k: node[k] for k in ("minimum", "exclusiveMinimum") if _is_number(node.get(k))}
    highs = {k: node[k] for k in ("maximum", "exclusiveMaximum") if _is_number(node.get(k))}
    if lows and highs:
        lo = max(lows.values())
        hi = min(highs.values())
        lo_strict = node.get("exclusiveMinimum") == lo and "exclusiveMinimum" in lows
        hi_strict = node.get("exclusiveMaximum") == hi and "exclusiveMaximum" in highs
        said = " and ".join(f"{k} {v}" for k, v in {**lows, **highs}.items())
        if lo > hi or (lo == hi and (lo_strict or hi_strict)):
            return f"no number satisfies {said}"
        if kinds <= {"integer", "null"} and "integer" in kinds and _integer_range(node) is None:
            return f"no integer satisfies {said}"
    for low, high in _BOUND_PAIRS:
        if _is_number(node.get(low)) and _is_number(node.get(high)) and node[low] > node[high]:
            return f"{low} {node[low]} is greater than {high} {node[high]}"
    rest = {k: v for k, v in node.items() if k not in ("enum", "const") and k not in _ANNOTATIONS}
    if "enum" in node:
        if not (isinstance(node["enum"], list) and node["enum"]):
            return "'enum' must be a non-empty list"
        check = Draft202012Validator(rest, format_checker=FORMAT_CHECKER)
        if not any(check.is_valid(v) for v in node["enum"]):
            return f"no value of its 'enum' {node['enum']} matches the rest of its schema"
    if "const" in node and not Draft202012Validator(rest, format_checker=FORMAT_CHECKER).is_valid(node["const"]):
        return f"its 'const' {node['const']!r} does not match the rest of its schema"
    props = node.get("properties") or {}
    if "object" in kinds and isinstance(node.get("required"), list) and (
            node.get("type") is not None or "properties" in node):
        closed = node.get("additionalProperties", False) is False and not node.get("patternProperties")
        for name in node["required"]:
            if name not in props and closed:
                return (f"required property {name!r} is not defined in its 'properties' (and no other "
                        f"property may appear)")
    return None


def _integer_range(node: dict[str, Any]) -> tuple[int | None, int | None] | None:
    """The inclusive integer bounds of a schema, or None when no integer lies between them."""
    lo: int | None = None
    hi: int | None = None
    if _is_number(node.get("minimum")):
        lo = math.ceil(node["minimum"])
    if _is_number(node.get("exclusiveMinimum")):
        x = math.floor(node["exclusiveMinimum"]) + 1
        lo = x if lo is None else max(lo, x)
    if _is_number(node.get("maximum")):
        hi = math.floor(node["maximum"])
    if _is_number(node.get("exclusiveMaximum")):
        x = math.ceil(node["exclusiveMaximum"]) - 1
        hi = x if hi is None else min(hi, x)
    if lo is not None and hi is not None and lo > hi:
        return None
    return lo, hi


def _satisfiable(node: Any, where: str) -> None:
    """Raise, naming the place, where a (sub)schema can hold no value."""
    if not isinstance(node, dict):
        return
    reason = _conflict(node)
    if reason is not None:
        raise ToolSchemaError(f"{where}: {reason}")
    for key, value in node.items():
        if key in ("items", "additionalProperties", "contains"):
            _satisfiable(value, f"{where}.{key}")
        elif key in _SUB_LIST:
            for i, s in enumerate(value):
                _satisfiable(s, f"{where}.{key}[{i}]")
        elif key in ("properties", "patternProperties"):
            for n, s in value.items():
                _satisfiable(s, f"{where}.{n}" if key == "properties" else f"{where}.{key}.{n}")


def _integral_bounds(node: Any) -> Any:
    """Integer-only schemas get whole, inclusive, int64 bounds (xgrammar's requirement)."""
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in _SUB_ONE:
            out[key] = _integral_bounds(value)
        elif key in _SUB_LIST:
            out[key] = [_integral_bounds(s) for s in value]
        elif key in _SUB_MAP:
            out[key] = {n: _integral_bounds(s) for n, s in value.items()}
        else:
            out[key] = value
    kinds = out.get("type")
    kinds = set(kinds if isinstance(kinds, list) else [kinds])
    bounds = {"minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"} & set(out)
    if "integer" in kinds and kinds <= {"integer", "null"} and bounds:
        rng = _integer_range(out)
        needs = any(not float(out[b]).is_integer() or abs(out[b]) > _INT64 for b in bounds if _is_number(out[b]))
        if rng is not None and needs:
            for b in bounds:
                del out[b]
            lo, hi = rng
            if lo is not None:
                out["minimum"] = min(max(lo, -_INT64), _INT64)
            if hi is not None:
                out["maximum"] = max(min(hi, _INT64), -_INT64)
    return out


@lru_cache(maxsize=4096)
def _grammar_error(text: str) -> str | None:
    """What xgrammar says when it cannot build the value grammar of a schema (cached by text).

    The call is the one ``TransformersBackend`` makes at invoke time, minus the tokenizer."""
    try:
        import xgrammar as xgr
    except ImportError:  # pragma: no cover - xgrammar is a dependency
        return None
    try:
        xgr.Grammar.from_json_schema(text, any_whitespace=False, separators=(", ", ": "))
    except Exception as e:  # noqa: BLE001 - xgrammar raises RuntimeError (and others) from C++
        message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return re.sub(r"^\[[\d:]+\] \S+:\d+: ", "", message)
    return None


@lru_cache(maxsize=4096)
def _prepare(where: str, text: str) -> tuple[str, str]:
    """A parameter's schema (JSON text, refs inlined) -> (checked schema, grammar schema)."""
    check = _clean(json.loads(text), where)
    if not isinstance(check, dict):
        raise ToolSchemaError(f"{where}: a schema must be an object, got {check!r}")
    try:
        Draft202012Validator.check_schema(check)
    except SchemaError as e:
        at = "/".join(str(p) for p in e.absolute_path)
        raise ToolSchemaError(f"{where}: not a valid JSON Schema: {e.message}" + (f" (at {at})" if at else "")) from None
    grammar = _for_grammar(check, where)
    if grammar is False:
        raise ToolSchemaError(f"{where}: no value can satisfy it")
    _satisfiable(grammar, where)
    grammar = _integral_bounds(grammar)
    grammar_text = json.dumps(grammar)
    error = _grammar_error(grammar_text)
    if error is not None:
        raise ToolSchemaError(f"{where}: the value grammar cannot be built from this schema: {error}")
    return json.dumps(check), json.dumps(grammar)


def _raw_parameters(tool: Any) -> dict[str, Any] | None:
    """The JSON Schema of a Python tool before langchain inlines its references (langchain
    silently cuts reference cycles; this is where recursion is still visible)."""
    try:
        from langchain_core.tools import BaseTool
        from pydantic import BaseModel

        if isinstance(tool, type) and issubclass(tool, BaseModel):
            return tool.model_json_schema()
        if isinstance(tool, BaseTool):
            schema = tool.tool_call_schema
            if isinstance(schema, dict):
                return schema
            return schema.model_json_schema() if hasattr(schema, "model_json_schema") else None
        if callable(tool) and not isinstance(tool, type):
            from langchain_core.tools import StructuredTool

            made = StructuredTool.from_function(tool, description="-")
            return made.tool_call_schema.model_json_schema()
    except Exception:  # noqa: BLE001 - this is only a look for recursion; langchain reports the rest
        return None
    return None


def _check_recursion(tool: Any, name: str) -> None:
    raw = _raw_parameters(tool)
    if raw is None:
        return
    try:
        _inline_root(raw, name)
    except _RecursiveSchemaError:
        raise
    except ToolSchemaError:
        pass


def normalize_tool(tool: Any) -> ToolSpec:
    """One tool in any LangChain-accepted form -> :class:`ToolSpec`."""
    try:
        openai = convert_to_openai_tool(tool)
    except Exception as e:  # noqa: BLE001 - langchain raises several types here
        raise ToolSchemaError(f"cannot read tool {tool!r}: {e}") from e
    fn = openai.get("function") or {}
    name = fn.get("name")
    if not name or not isinstance(name, str):
        raise ToolSchemaError(f"tool {tool!r} has no name")
    if not isinstance(tool, dict):
        _check_recursion(tool, name)
    params = _inline_root(fn.get("parameters") or {"type": "object", "properties": {}}, name)
    if not isinstance(params, dict) or params.get("type", "object") != "object":
        raise ToolSchemaError(f"tool {name!r}: parameters must be a JSON object schema")
    extra = sorted(k for k in set(params) - _TOP_LEVEL if k in _KNOWN - _ANNOTATIONS)
    if extra:
        raise ToolSchemaError(
            f"tool {name!r}: unsupported keyword(s) {extra} in its parameters: the search fills one "
            f"argument at a time, so only 'properties' and 'required' constrain the arguments object"
        )
    props = params.get("properties", {})
    required = params.get("required", [])
    if not isinstance(props, dict) or not isinstance(required, list):
        raise ToolSchemaError(f"tool {name!r}: 'properties' must map names to schemas and 'required' be a list")
    for r in required:
        if r not in props:
            raise ToolSchemaError(f"tool {name!r}: required parameter {r!r} is not defined")
    specs = []
    for pname, sub in props.items():
        where = f"tool {name!r}, parameter {pname!r}"
        if sub is False:
            if pname in required:
                raise ToolSchemaError(f"{where}: its schema is false, so no value can satisfy it")
            continue
        check, grammar = _prepare(where, json.dumps({} if sub is True else sub))
        specs.append(ParamSpec(pname, json.loads(grammar), pname in required, check=json.loads(check)))
    function = {**fn, "parameters": params} if fn.get("parameters") else fn
    return ToolSpec(name, fn.get("description", ""), tuple(specs), {**openai, "function": function})


def normalize_tools(tools: Sequence[Any]) -> list[ToolSpec]:
    """Normalise a tool list; empty lists and duplicate names are errors."""
    if not tools:
        raise ToolSchemaError("the tool list is empty: bind at least one tool")
    specs = [normalize_tool(t) for t in tools]
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            raise ToolSchemaError(f"duplicate tool name {spec.name!r}")
        seen.add(spec.name)
    return specs
