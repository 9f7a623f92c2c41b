"""Tool normalisation: every accepted form, ParamSpec.choices, validation and schema errors."""

from __future__ import annotations

from typing import Any, Literal

import pytest
from langchain_core.tools import tool
from pydantic import BaseModel, Field

from langchain_toolprm.schema import (
    ParamSpec,
    ToolSchemaError,
    ToolSpec,
    finite_values,
    normalize_tool,
    normalize_tools,
)


def openai_tool(props: dict[str, Any], required: list[str] | None = None, name: str = "f",
                **extra: Any) -> dict[str, Any]:
    params = {"type": "object", "properties": props, "required": required or [], **extra}
    return {"type": "function", "function": {"name": name, "description": "does f", "parameters": params}}


# ---- the accepted forms --------------------------------------------------------------------
@tool
def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> str:
    """Current weather in a city."""
    return f"sunny in {city} ({unit})"


class Passenger(BaseModel):
    name: str
    age: int


class BookFlight(BaseModel):
    """Book a flight."""

    origin: str = Field(description="departure city")
    seats: int = 1
    passenger: Passenger
    seat_class: Literal["economy", "business"] | None = None


def add_numbers(a: int, b: float, tags: list[str]) -> float:
    """Add two numbers.

    Args:
        a: the first number
        b: the second number
        tags: labels for the sum
    """
    return a + b


def _params(spec: ToolSpec) -> dict[str, ParamSpec]:
    return {p.name: p for p in spec.params}


def test_langchain_tool() -> None:
    spec = normalize_tool(get_weather)
    assert spec.name == "get_weather"
    assert spec.description == "Current weather in a city."
    p = _params(spec)
    assert list(p) == ["city", "unit"]
    assert p["city"].schema["type"] == "string" and p["city"].required
    assert not p["unit"].required
    assert p["unit"].choices == ["celsius", "fahrenheit"]
    assert spec.required == ("city",)
    assert spec.openai["type"] == "function"
    assert spec.openai["function"]["name"] == "get_weather"


def test_pydantic_model() -> None:
    spec = normalize_tool(BookFlight)
    assert spec.name == "BookFlight"
    assert spec.description == "Book a flight."
    p = _params(spec)
    assert set(p) == {"origin", "seats", "passenger", "seat_class"}
    assert set(spec.required) == {"origin", "passenger"}
    assert p["origin"].schema["description"] == "departure city"
    assert p["seats"].schema["type"] == "integer" and p["seats"].schema.get("default") == 1
    # The nested model is inlined (no $ref) as an object schema.
    nested = p["passenger"].schema
    assert nested["type"] == "object" and set(nested["properties"]) == {"name", "age"}
    assert p["passenger"].is_valid({"name": "Ada", "age": 36})
    assert not p["passenger"].is_valid({"name": "Ada", "age": "old"})
    assert p["seat_class"].choices is not None
    assert set(p["seat_class"].choices) == {"economy", "business", None}


def test_typed_function_with_docstring() -> None:
    spec = normalize_tool(add_numbers)
    assert spec.name == "add_numbers"
    assert spec.description.startswith("Add two numbers.")
    p = _params(spec)
    assert p["a"].schema["type"] == "integer"
    assert p["b"].schema["type"] == "number"
    assert p["tags"].schema == {"type": "array", "items": {"type": "string"}, "description": "labels for the sum"}
    assert p["a"].schema["description"] == "the first number"
    assert set(spec.required) == {"a", "b", "tags"}


def test_openai_dict() -> None:
    spec = normalize_tool(openai_tool({"q": {"type": "string"}}, ["q"], name="search"))
    assert spec.name == "search" and spec.description == "does f"
    assert spec.params == (ParamSpec("q", {"type": "string"}, True),)


def test_bare_function_dict_and_no_parameters() -> None:
    spec = normalize_tool({"name": "ping", "description": "ping", "parameters": {
        "type": "object", "properties": {"host": {"type": "string"}}}})
    assert spec.name == "ping" and spec.params[0].name == "host" and not spec.params[0].required
    empty = normalize_tool({"type": "function", "function": {"name": "now", "description": "time"}})
    assert empty.params == () and empty.required == ()
    assert empty.validate_arguments({}) is None


def test_dict_with_every_supported_construct() -> None:
    props = {
        "unit": {"type": "string", "enum": ["c", "f"]},
        "version": {"const": 2},
        "ids": {"type": "array", "items": {"type": "integer"}, "minItems": 1},
        "where": {"type": "object", "properties": {"lat": {"type": "number"}, "tags": {
            "type": "array", "items": {"type": "string"}}}, "required": ["lat"]},
        "limit": {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None},
        "nothing": {"type": "null"},
        "flag": {"type": "boolean", "default": False},
        "either": {"type": ["string", "null"]},
        "extra": {"type": "object", "additionalProperties": {"type": "string"}},
    }
    spec = normalize_tool(openai_tool(props, ["unit", "where"], name="everything"))
    p = _params(spec)
    assert list(p) == list(props)
    assert spec.required == ("unit", "where")
    for name, schema in props.items():
        assert p[name].schema == schema
    assert p["ids"].is_valid([1, 2]) and not p["ids"].is_valid([]) and not p["ids"].is_valid(["x"])
    assert p["where"].is_valid({"lat": 1.5, "tags": ["a"]}) and not p["where"].is_valid({"tags": []})
    assert p["limit"].is_valid(None) and p["limit"].is_valid(3) and not p["limit"].is_valid("3")
    assert p["either"].is_valid(None) and p["either"].is_valid("x") and not p["either"].is_valid(1)
    assert p["extra"].is_valid({"k": "v"}) and not p["extra"].is_valid({"k": 1})


def test_normalize_tools_keeps_order() -> None:
    specs = normalize_tools([get_weather, BookFlight, add_numbers, openai_tool({}, name="x")])
    assert [s.name for s in specs] == ["get_weather", "BookFlight", "add_numbers", "x"]


# ---- choices -------------------------------------------------------------------------------
@pytest.mark.parametrize(("schema", "choices"), [
    ({"type": "string", "enum": ["a", "b"]}, ["a", "b"]),
    ({"enum": [1, "x", None]}, [1, "x", None]),
    ({"const": "only"}, ["only"]),
    ({"type": "integer", "const": 3}, [3]),
    ({"type": "boolean"}, [True, False]),
    ({"type": "null"}, [None]),
    ({"anyOf": [{"const": "a"}, {"type": "null"}]}, ["a", None]),
    ({"anyOf": [{"enum": ["a", "b"]}, {"enum": ["b", "c"]}]}, ["a", "b", "c"]),
    ({"oneOf": [{"type": "boolean"}, {"const": 0}]}, [True, False, 0]),
    ({"anyOf": [{"const": 1}, {"type": "boolean"}, {"const": 1.5}]}, [1, True, False, 1.5]),
    ({"anyOf": [{"type": "string", "enum": ["x"]}, {"type": "boolean"}]}, ["x", True, False]),
    ({"type": "string"}, None),
    ({"type": "integer"}, None),
    ({"type": "array", "items": {"type": "boolean"}}, None),
    ({"anyOf": [{"type": "string"}, {"type": "null"}]}, None),
    ({"anyOf": [{"const": "a"}, {"type": "number"}]}, None),
])
def test_param_choices(schema: dict[str, Any], choices: list[Any] | None) -> None:
    assert ParamSpec("p", schema, True).choices == choices
    assert finite_values(schema) == choices
    for value in choices or []:
        assert ParamSpec("p", schema, True).is_valid(value)


# ---- validate_arguments --------------------------------------------------------------------
@pytest.fixture()
def weather_spec() -> ToolSpec:
    return normalize_tool(openai_tool({
        "city": {"type": "string"},
        "unit": {"type": "string", "enum": ["c", "f"]},
        "days": {"type": "integer", "minimum": 1},
    }, ["city"], name="weather"))


def test_validate_arguments_ok(weather_spec: ToolSpec) -> None:
    assert weather_spec.validate_arguments({"city": "Paris"}) is None
    assert weather_spec.validate_arguments({"city": "Paris", "unit": "f", "days": 3}) is None


@pytest.mark.parametrize(("args", "fragment"), [
    ({}, "missing required arguments ['city']"),
    ({"unit": "c"}, "missing required"),
    ({"city": "Paris", "country": "FR"}, "unknown argument 'country'"),
    ({"city": 3}, "argument 'city' does not match"),
    ({"city": "Paris", "unit": "kelvin"}, "argument 'unit' does not match"),
    ({"city": "Paris", "days": 0}, "argument 'days' does not match"),
    ({"city": "Paris", "days": 1.5}, "argument 'days' does not match"),
])
def test_validate_arguments_errors(weather_spec: ToolSpec, args: dict[str, Any], fragment: str) -> None:
    reason = weather_spec.validate_arguments(args)
    assert reason is not None and fragment in reason


def test_param_lookup(weather_spec: ToolSpec) -> None:
    assert weather_spec.param("unit") is not None and weather_spec.param("unit").name == "unit"
    assert weather_spec.param("nope") is None


# ---- errors ---------------------------------------------------------------------------------
def test_empty_tool_list() -> None:
    with pytest.raises(ToolSchemaError, match="empty"):
        normalize_tools([])


def test_duplicate_names() -> None:
    with pytest.raises(ToolSchemaError, match="duplicate tool name 'f'"):
        normalize_tools([openai_tool({}), openai_tool({"a": {"type": "string"}})])


@pytest.mark.parametrize(("schema", "keyword"), [
    ({"allOf": [{"type": "string"}]}, "allOf"),
    ({"type": "string", "not": {"const": "x"}}, "not"),
    ({"type": "object", "patternProperties": {"^a": {"type": "string"}}}, "patternProperties"),
    ({"type": "string", "if": {"const": "a"}, "then": {"minLength": 1}}, "if"),
    ({"$ref": "#/definitions/X"}, "$ref"),
])
def test_unsupported_keyword_names_tool_and_parameter(schema: dict[str, Any], keyword: str) -> None:
    with pytest.raises(ToolSchemaError) as err:
        normalize_tool(openai_tool({"ok": {"type": "string"}, "bad_param": schema}, name="my_tool"))
    message = str(err.value)
    assert "'my_tool'" in message and "'bad_param'" in message and keyword in message


def test_ref_with_defs_names_tool_and_parameter() -> None:
    bad = openai_tool({"ok": {"type": "string"}, "where": {"$ref": "#/$defs/Place"}}, name="my_tool",
                      **{"$defs": {"Place": {"type": "string"}}})
    with pytest.raises(ToolSchemaError) as err:
        normalize_tool(bad)
    message = str(err.value)
    assert "'my_tool'" in message and "'where'" in message and "$ref" in message


@pytest.mark.parametrize("where", ["items", "nested property", "anyOf"])
def test_unsupported_keyword_deep_inside_a_parameter(where: str) -> None:
    bad = {"type": "string", "not": {"const": "x"}}
    schema = {
        "items": {"type": "array", "items": bad},
        "nested property": {"type": "object", "properties": {"inner": bad}},
        "anyOf": {"anyOf": [{"type": "null"}, bad]},
    }[where]
    with pytest.raises(ToolSchemaError, match=r"tool 'f', parameter 'p'.*not"):
        normalize_tool(openai_tool({"p": schema}))


@pytest.mark.parametrize("kind", ["date", "float", "str"])
def test_unknown_type(kind: str) -> None:
    with pytest.raises(ToolSchemaError, match=rf"tool 'f', parameter 'p': unsupported type '{kind}'"):
        normalize_tool(openai_tool({"p": {"type": kind}}))
    with pytest.raises(ToolSchemaError, match="unsupported type"):
        normalize_tool(openai_tool({"p": {"type": ["string", kind]}}))


def test_schema_without_type() -> None:
    with pytest.raises(ToolSchemaError, match="parameter 'p'"):
        normalize_tool(openai_tool({"p": {"description": "anything"}}))


def test_empty_enum() -> None:
    with pytest.raises(ToolSchemaError, match="'enum' must be a non-empty list"):
        normalize_tool(openai_tool({"p": {"enum": []}}))


def test_required_parameter_not_defined() -> None:
    with pytest.raises(ToolSchemaError, match="required parameter 'q' is not defined"):
        normalize_tool(openai_tool({"p": {"type": "string"}}, ["q"]))


@pytest.mark.parametrize("params", [
    {"type": "array", "items": {"type": "string"}},
    {"type": "string"},
])
def test_non_object_parameters(params: dict[str, Any]) -> None:
    with pytest.raises(ToolSchemaError, match="'f': parameters must be a JSON object schema"):
        normalize_tool({"type": "function", "function": {"name": "f", "parameters": params}})


def test_unsupported_keyword_at_parameters_level() -> None:
    with pytest.raises(ToolSchemaError, match=r"tool 'f': unsupported keyword\(s\) \['oneOf'\]"):
        normalize_tool(openai_tool({"p": {"type": "string"}}, oneOf=[{"required": ["p"]}]))


def test_tool_without_name() -> None:
    with pytest.raises(ToolSchemaError, match="no name"):
        normalize_tool({"type": "function", "function": {"name": "", "parameters": {}}})


def test_unreadable_tool() -> None:
    with pytest.raises(ToolSchemaError, match="cannot read tool"):
        normalize_tool(42)


def test_schema_error_is_value_error() -> None:
    assert issubclass(ToolSchemaError, ValueError)
