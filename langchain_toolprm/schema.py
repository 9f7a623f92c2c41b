"""Tool schemas: every accepted tool form normalised to one typed internal schema.

LangChain tools, pydantic models, typed functions and OpenAI-style dicts all go through
``convert_to_openai_tool``; the JSON Schema of each parameter is then checked against what
the value grammar can honour, so an unsupported construct fails early and names its place.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from jsonschema import Draft202012Validator
from langchain_core.utils.function_calling import convert_to_openai_tool


class ToolSchemaError(ValueError):
    """A tool list or schema that cannot be honoured."""


_TYPES = {"string", "integer", "number", "boolean", "null", "array", "object"}
# Keywords that only annotate or that the value grammar (xgrammar) enforces.
_ALLOWED = {
    "type", "enum", "const", "items", "properties", "required", "default", "description",
    "title", "anyOf", "oneOf", "additionalProperties", "minItems", "maxItems", "minimum",
    "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "pattern",
    "format", "examples", "nullable",
}


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a tool: its name, value schema and whether it is required."""

    name: str
    schema: dict[str, Any]
    required: bool

    @cached_property
    def choices(self) -> list[Any] | None:
        """The finite set of legal values, when the schema has one (enum, const, boolean)."""
        return finite_values(self.schema)

    def is_valid(self, value: Any) -> bool:
        return Draft202012Validator(self.schema).is_valid(value)


@dataclass(frozen=True)
class ToolSpec:
    """A tool as the search sees it. ``openai`` is the normalised OpenAI-style dict."""

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
    if kind == "boolean":
        return [True, False]
    if kind == "null":
        return [None]
    alternatives = schema.get("anyOf") or schema.get("oneOf")
    if alternatives:
        values: list[Any] = []
        for alt in alternatives:
            sub = finite_values(alt)
            if sub is None:
                return None
            # Compare as JSON: in Python True == 1 and False == 0, but they are different values.
            seen = {json.dumps(v, sort_keys=True) for v in values}
            values += [v for v in sub if json.dumps(v, sort_keys=True) not in seen]
        return values
    return None


def _check(schema: Any, where: str) -> None:
    if not isinstance(schema, dict):
        raise ToolSchemaError(f"{where}: a schema must be an object, got {schema!r}")
    unknown = sorted(set(schema) - _ALLOWED)
    if unknown:
        raise ToolSchemaError(f"{where}: unsupported JSON Schema keyword(s) {unknown}")
    kinds = schema.get("type")
    for kind in kinds if isinstance(kinds, list) else [kinds] if kinds else []:
        if kind not in _TYPES:
            raise ToolSchemaError(f"{where}: unsupported type {kind!r}")
    if not kinds and not {"enum", "const", "anyOf", "oneOf"} & set(schema):
        raise ToolSchemaError(f"{where}: no 'type', 'enum', 'const' or 'anyOf' to say what it holds")
    if "enum" in schema and not (isinstance(schema["enum"], list) and schema["enum"]):
        raise ToolSchemaError(f"{where}: 'enum' must be a non-empty list")
    for key in ("anyOf", "oneOf"):
        for i, alt in enumerate(schema.get(key, [])):
            _check(alt, f"{where}.{key}[{i}]")
    if "items" in schema:
        _check(schema["items"], f"{where}.items")
    for name, sub in schema.get("properties", {}).items():
        _check(sub, f"{where}.{name}")
    if isinstance(schema.get("additionalProperties"), dict):
        _check(schema["additionalProperties"], f"{where}.additionalProperties")


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
    params = fn.get("parameters") or {"type": "object", "properties": {}}
    if "$defs" in params or "definitions" in params or "$ref" in json.dumps(params):
        refs = [p for p, s in (params.get("properties") or {}).items() if "$ref" in json.dumps(s)]
        where = f"tool {name!r}" + (f", parameter {refs[0]!r}" if refs else "")
        raise ToolSchemaError(f"{where}: unresolved '$ref' in its parameters")
    if params.get("type", "object") != "object":
        raise ToolSchemaError(f"tool {name!r}: parameters must be a JSON object schema")
    extra = sorted(set(params) - {"type", "properties", "required", "description", "title",
                                  "additionalProperties"})
    if extra:
        raise ToolSchemaError(f"tool {name!r}: unsupported keyword(s) {extra} in its parameters")
    props = params.get("properties", {})
    required = params.get("required", [])
    for r in required:
        if r not in props:
            raise ToolSchemaError(f"tool {name!r}: required parameter {r!r} is not defined")
    for pname, sub in props.items():
        _check(sub, f"tool {name!r}, parameter {pname!r}")
    specs = tuple(ParamSpec(p, dict(s), p in required) for p, s in props.items())
    return ToolSpec(name, fn.get("description", ""), specs, openai)


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
