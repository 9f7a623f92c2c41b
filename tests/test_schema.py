"""Tool normalisation: every accepted form, ParamSpec.choices, validation and schema errors."""

from __future__ import annotations

import json
from typing import Any, Literal

import pytest
from langchain_core.tools import tool
from pydantic import BaseModel, Field

from langchain_toolprm.core.schema import (
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


# ---- JSON Schemas as users write them ---------------------------------------------------------
class Address(BaseModel):
    street: str
    city: str
    postcode: str | None = None


class Customer(BaseModel):
    """Register a customer."""

    name: str
    home: Address = Field(description="where they live")
    others: list[Address] = []


class Node(BaseModel):
    """A tree."""

    value: int
    children: list[Node] = []


@tool
def plant(tree: Node) -> str:
    """Plant a tree."""
    return "ok"


def _self_contained(obj: Any) -> bool:
    text = json.dumps(obj)
    return "$ref" not in text and "$defs" not in text and "definitions" not in text


@pytest.mark.parametrize("form", ["pydantic", "openai dict with $defs"])
def test_nested_models_bind_as_self_contained_schemas(form: str) -> None:
    if form == "pydantic":
        tool_ = Customer
    else:
        tool_ = {"type": "function", "function": {"name": "Customer", "description": "Register a customer.",
                                                  "parameters": Customer.model_json_schema()}}
        assert "$ref" in json.dumps(tool_)
    spec = normalize_tool(tool_)
    p = _params(spec)
    assert list(p) == ["name", "home", "others"] and spec.required == ("name", "home")
    for param in spec.params:
        assert _self_contained(param.schema) and _self_contained(param.check), param
    assert _self_contained(spec.openai)  # the prompt shows the inlined schema too
    home = p["home"].schema
    assert home["type"] == "object" and home["required"] == ["street", "city"]
    assert home["description"] == "where they live"  # a description next to the $ref is kept
    assert p["others"].schema["items"]["properties"]["postcode"]["anyOf"][1] == {"type": "null"}
    assert p["home"].is_valid({"street": "12 Oak Street", "city": "Springfield"})
    assert not p["home"].is_valid({"street": "12 Oak Street"})
    assert p["others"].is_valid([{"street": "a", "city": "b", "postcode": None}])
    assert not p["others"].is_valid([{"street": "a", "city": "b", "postcode": 7}])


def test_refs_with_siblings_definitions_and_shared_targets() -> None:
    params = {
        "type": "object",
        "properties": {
            "short": {"$ref": "#/$defs/Name", "maxLength": 3},
            "old": {"$ref": "#/definitions/Flag"},
            "a": {"$ref": "#/$defs/Name"},
            "b": {"$ref": "#/$defs/Name"},
            "pair": {"type": "array", "items": {"$ref": "#/$defs/Name"}},
        },
        "$defs": {"Name": {"type": "string", "minLength": 1}},
        "definitions": {"Flag": {"type": "boolean"}},
    }
    spec = normalize_tool({"type": "function", "function": {"name": "f", "parameters": params}})
    p = _params(spec)
    assert p["short"].schema == {"type": "string", "minLength": 1, "maxLength": 3}
    assert p["short"].is_valid("abc") and not p["short"].is_valid("abcd") and not p["short"].is_valid("")
    assert p["old"].schema == {"type": "boolean"} and p["old"].choices == [True, False]
    assert p["a"].schema == p["b"].schema == {"type": "string", "minLength": 1}
    assert p["pair"].schema == {"type": "array", "items": {"type": "string", "minLength": 1}}


@pytest.mark.parametrize(("tool_", "where"), [
    (Node, "tool 'Node', parameter 'children'"),
    (plant, "tool 'plant', parameter 'tree'"),
    ({"type": "function", "function": {"name": "Node", "parameters": Node.model_json_schema()}},
     "tool 'Node', parameter 'children'"),
    (openai_tool({"next": {"$ref": "#"}}, name="chain"), "tool 'chain', parameter 'next'"),
    (openai_tool({"p": {"$ref": "#/$defs/A"}}, name="loop", **{"$defs": {
        "A": {"type": "array", "items": {"$ref": "#/$defs/B"}},
        "B": {"anyOf": [{"type": "null"}, {"$ref": "#/$defs/A"}]}}}), "tool 'loop', parameter 'p'"),
])
def test_recursive_schema_is_a_clear_error(tool_: Any, where: str) -> None:
    with pytest.raises(ToolSchemaError) as err:
        normalize_tool(tool_)
    message = str(err.value)
    assert message.startswith(where) and "recursive schema" in message
    assert "recursion cannot be constrained" in message


def test_unknown_keywords_are_annotations() -> None:
    """BFCL's "optional", vendor "x-" keywords, OpenAPI's "example": accepted, left out of the
    grammar and validation schema, kept in the tool the prompt shows."""
    props = {
        "city": {"type": "string", "optional": True, "x-foo": {"a": 1}, "example": "Paris"},
        "rows": {"type": "array", "x-order": 2, "items": {
            "type": "object", "x-table": "t", "properties": {"id": {"type": "integer", "optional": False}}}},
    }
    spec = normalize_tool(openai_tool(props, ["city"], name="bfcl", **{"x-origin": "bfcl", "$schema":
                                      "https://json-schema.org/draft/2020-12/schema"}))
    p = _params(spec)
    assert p["city"].schema == {"type": "string"}
    assert p["rows"].schema == {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "integer"}}}}
    assert spec.openai["function"]["parameters"]["properties"]["city"]["optional"] is True
    assert p["rows"].is_valid([{"id": 1}]) and not p["rows"].is_valid([{"id": "1"}])


def test_json_schema_forms_are_accepted_and_validated() -> None:
    props = {
        "merged": {"allOf": [{"type": "object", "properties": {"a": {"type": "string"}}},
                             {"properties": {"b": {"type": "integer"}}, "required": ["a"]}]},
        "bounded": {"allOf": [{"type": "integer", "minimum": 0}, {"maximum": 5}], "description": "0..5"},
        "one": {"oneOf": [{"type": "string", "maxLength": 3}, {"type": "integer"}]},
        "siblings": {"type": "string", "anyOf": [{"minLength": 3}, {"const": "a"}], "title": "S"},
        "const_obj": {"const": {"k": [1, 2]}},
        "nullable_api": {"type": "string", "nullable": True},
        "nullable_enum": {"type": "string", "enum": ["a", "b"], "nullable": True},
        "nullable_list": {"type": ["integer", "null"], "minimum": 1},
        "nullable_object": {"anyOf": [{"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]},
                                      {"type": "null"}]},
        "nested": {"type": "object", "required": ["addr"], "properties": {"addr": {
            "type": "object", "properties": {"street": {"type": "string"}, "no": {"type": "integer"}},
            "required": ["street"]}}},
        "rows": {"type": "array", "minItems": 1, "items": {
            "type": "object", "properties": {"id": {"type": "integer"}, "tags": {"type": "array", "items": {
                "type": "string"}}}, "required": ["id"]}},
        "anything": {"description": "any JSON value"},
        "not_x": {"type": "string", "not": {"const": "x"}},
        "tuple": {"type": "array", "items": [{"type": "string"}, {"type": "integer"}]},
        "fraction": {"type": "integer", "exclusiveMinimum": 0.5, "maximum": 2.5},
    }
    spec = normalize_tool(openai_tool(props, name="forms"))
    p = _params(spec)
    assert list(p) == list(props)
    # The grammar schema: one object for allOf, sibling constraints inside each branch.
    assert p["merged"].schema == {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}},
                                  "required": ["a"]}
    assert p["bounded"].schema == {"type": "integer", "minimum": 0, "maximum": 5, "description": "0..5"}
    assert p["siblings"].schema == {"title": "S", "anyOf": [{"type": "string", "minLength": 3},
                                                            {"type": "string", "const": "a"}]}
    assert p["nullable_api"].schema == {"type": ["string", "null"]}
    assert p["nullable_enum"].choices == ["a", "b", None]
    assert p["fraction"].schema == {"type": "integer", "minimum": 1, "maximum": 2}
    assert p["tuple"].schema == {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}]}
    cases = {
        "merged": ([{"a": "x"}, {"a": "x", "b": 2}], [{"b": 2}, {"a": 1}, "x"]),
        "bounded": ([0, 5], [-1, 6, 2.5]),
        "one": (["abc", 7], ["abcd", None]),
        "siblings": (["abc", "a"], ["ab", 3]),
        "const_obj": ([{"k": [1, 2]}], [{"k": [1]}]),
        "nullable_api": (["x", None], [1]),
        "nullable_enum": (["a", None], ["c"]),
        "nullable_list": ([1, None], [0, "1"]),
        "nullable_object": ([{"x": 1.5}, None], [{}, {"x": "1"}]),
        "nested": ([{"addr": {"street": "12 Oak Street", "no": 12}}], [{"addr": {"no": 12}}, {}]),
        "rows": ([[{"id": 1, "tags": ["a"]}]], [[], [{"tags": []}], [{"id": "1"}]]),
        "anything": ([1, "x", None, {"a": [True]}], []),
        "not_x": (["y"], ["x"]),
        "tuple": ([["a", 1], ["a"]], [[1, "a"]]),
        "fraction": ([1, 2], [0, 3]),
    }
    for name, (good, bad) in cases.items():
        for value in good:
            assert p[name].is_valid(value), (name, value)
        for value in bad:
            assert not p[name].is_valid(value), (name, value)


def test_grammar_enforces_the_merged_and_nullable_forms() -> None:
    """The grammar built from each ParamSpec.schema (as the policy builds it) holds the
    constraints that xgrammar would otherwise drop (allOf, siblings of anyOf, nullable)."""
    xgr = pytest.importorskip("xgrammar")
    from xgrammar.testing import _is_grammar_accept_string as accepts

    spec = normalize_tool(openai_tool({
        "merged": {"allOf": [{"type": "object", "properties": {"a": {"type": "string"}}}, {"required": ["a"]}]},
        "siblings": {"type": "string", "anyOf": [{"minLength": 2}, {"const": "a"}]},
        "nullable": {"type": "integer", "nullable": True},
    }))
    p = _params(spec)

    def grammar(name: str) -> Any:
        text = json.dumps(p[name].schema, sort_keys=True)
        return xgr.Grammar.from_json_schema(text, any_whitespace=False, separators=(", ", ": "))

    assert accepts(grammar("merged"), '{"a": "x"}')
    assert not accepts(grammar("merged"), "{}") and not accepts(grammar("merged"), "1")
    assert accepts(grammar("siblings"), '"ab"') and accepts(grammar("siblings"), '"a"')
    assert not accepts(grammar("siblings"), "1")
    assert accepts(grammar("nullable"), "null") and accepts(grammar("nullable"), "3")


def test_formats_are_checked_after_sampling() -> None:
    spec = normalize_tool(openai_tool({
        "day": {"type": "string", "format": "date"},
        "at": {"type": "string", "format": "date-time"},
        "id": {"type": "string", "format": "uuid"},
        "ip": {"type": "string", "format": "ipv4"},
    }, name="book"))
    p = _params(spec)
    assert p["day"].is_valid("2024-02-29")
    assert not p["day"].is_valid("4727-02-31") and not p["day"].is_valid("2023-02-29")
    assert spec.validate_arguments({"day": "4727-02-31"}) == "argument 'day' does not match its schema"
    assert p["at"].is_valid("2024-02-28T10:00:00Z") and not p["at"].is_valid("2024-02-31T10:00:00Z")
    assert p["id"].is_valid("123e4567-e89b-12d3-a456-426614174000") and not p["id"].is_valid("123e4567")
    assert p["ip"].is_valid("10.0.0.1") and not p["ip"].is_valid("10.0.0.256")
    # A ParamSpec built directly checks formats too.
    assert not ParamSpec("d", {"type": "string", "format": "date"}, True).is_valid("4727-02-31")


def test_choices_keep_only_legal_values() -> None:
    p = _params(normalize_tool(openai_tool({"p": {"type": "string", "enum": ["a", 1, "b"]}})))["p"]
    assert p.choices == ["a", "b"]


def test_schema_checks_are_cached_by_schema_text() -> None:
    from langchain_toolprm.core.schema import _prepare

    tool_ = openai_tool({"q": {"type": "string", "pattern": "^[a-z]+$", "x-cache-test": 1}}, name="cached")
    normalize_tool(tool_)
    hits = _prepare.cache_info().hits
    normalize_tool(tool_)
    assert _prepare.cache_info().hits == hits + 1


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


def _bad(schema: dict[str, Any], **extra: Any) -> str:
    """The ToolSchemaError message for a tool whose parameter 'bad_param' has ``schema``."""
    with pytest.raises(ToolSchemaError) as err:
        normalize_tool(openai_tool({"ok": {"type": "string"}, "bad_param": schema}, name="my_tool", **extra))
    message = str(err.value)
    assert "tool 'my_tool', parameter 'bad_param'" in message, message
    return message


@pytest.mark.parametrize(("schema", "fragment"), [
    ({"type": "integer", "minimum": 9, "maximum": 3}, "no number satisfies minimum 9 and maximum 3"),
    ({"type": "number", "exclusiveMinimum": 3, "maximum": 3}, "no number satisfies"),
    ({"type": "number", "minimum": 3, "exclusiveMaximum": 3}, "no number satisfies"),
    ({"type": "integer", "exclusiveMinimum": 3, "exclusiveMaximum": 4}, "no integer satisfies"),
    ({"type": "integer", "minimum": 1.2, "maximum": 1.8}, "no integer satisfies"),
    ({"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": 0}, "no number satisfies"),
    ({"type": "array", "items": {"type": "string"}, "minItems": 5, "maxItems": 2},
     "minItems 5 is greater than maxItems 2"),
    ({"type": "string", "minLength": 4, "maxLength": 1}, "minLength 4 is greater than maxLength 1"),
    ({"type": "object", "additionalProperties": {"type": "string"}, "minProperties": 3, "maxProperties": 1},
     "minProperties 3 is greater than maxProperties 1"),
    ({"enum": []}, "'enum' must be a non-empty list"),
    ({"type": "string", "enum": [1, 2]}, "no value of its 'enum'"),
    ({"type": "string", "pattern": "a(b"}, "'pattern' 'a(b' is not a valid regular expression"),
    ({"type": "string", "pattern": "^\\p{L}+$"}, "'pattern' '^\\\\p{L}+$' is not a valid regular expression"),
    ({"type": "string", "const": 3}, "its 'const' 3 does not match"),
    ({"type": "string", "maxLength": 2, "const": "abc"}, "its 'const' 'abc' does not match"),
    ({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["b"]},
     "required property 'b' is not defined"),
    ({"type": "array", "items": {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["b"]}},
     "bad_param'.items: required property 'b'"),
    ({"type": "object", "properties": {"inner": {"type": "integer", "minimum": 2, "maximum": 1}}},
     "bad_param'.inner: no number satisfies"),
    ({"anyOf": [{"type": "null"}, {"type": "string", "minLength": 3, "maxLength": 2}]},
     "bad_param'.anyOf[1]: minLength 3"),
    ({"allOf": [{"type": "string"}, {"type": "integer"}]}, "no type is allowed by both"),
    ({"allOf": [{"type": "integer", "minimum": 9}, {"maximum": 3}]}, "no number satisfies minimum 9 and maximum 3"),
    ({"allOf": [{"const": "a"}, {"const": "b"}]}, "two different 'const' values"),
    ({"type": "string", "anyOf": [{"type": "integer"}, {"type": "boolean"}]}, "no branch of its 'anyOf'"),
    ({"type": "object", "properties": {"a": False}, "required": ["a"]}, "required property 'a' has the schema false"),
])
def test_unsatisfiable_schema_names_tool_parameter_and_reason(schema: dict[str, Any], fragment: str) -> None:
    assert fragment in _bad(schema)


@pytest.mark.parametrize(("schema", "fragment"), [
    # Valid JSON Schema that xgrammar cannot turn into a grammar: refused at bind time with
    # xgrammar's own reason, not a RuntimeError at invoke.
    ({"type": "string", "pattern": "(a)\\1"}, "Backreference is not supported"),
    ({"type": "string", "pattern": "(?<=a)b"}, "Lookbehind is not supported"),
    ({"type": "object", "minProperties": 1}, "minProperties"),
])
def test_schema_the_grammar_cannot_build(schema: dict[str, Any], fragment: str) -> None:
    message = _bad(schema)
    assert "the value grammar cannot be built" in message and fragment in message
    assert "/project/cpp" not in message  # xgrammar's source location is cut


def test_invalid_json_schema_is_refused_with_its_place() -> None:
    message = _bad({"type": "object", "properties": {"n": {"type": "integer", "minimum": "3"}}})
    assert "not a valid JSON Schema" in message and "'3' is not of type 'number'" in message


def test_unresolvable_and_remote_refs() -> None:
    message = _bad({"$ref": "#/$defs/Missing"})
    assert "cannot resolve '$ref' '#/$defs/Missing'" in message and "points to nothing" in message
    message = _bad({"$ref": "https://example.com/address.json"})
    assert "nothing is fetched" in message


@pytest.mark.parametrize("kind", ["date", "float", "str"])
def test_unknown_type(kind: str) -> None:
    with pytest.raises(ToolSchemaError, match=rf"tool 'f', parameter 'p': unsupported type '{kind}'"):
        normalize_tool(openai_tool({"p": {"type": kind}}))
    with pytest.raises(ToolSchemaError, match="unsupported type"):
        normalize_tool(openai_tool({"p": {"type": ["string", kind]}}))
    with pytest.raises(ToolSchemaError, match=r"parameter 'p'.items: unsupported type"):
        normalize_tool(openai_tool({"p": {"type": "array", "items": {"type": kind}}}))


def test_object_described_only_by_required_names() -> None:
    # BFCL's "dict" parameters: the grammar offers the required names, each with any value.
    spec = normalize_tool(openai_tool({"population": {"type": "object", "required": ["adults", "children"]}}))
    param = spec.param("population")
    assert param is not None
    assert param.is_valid({"adults": 2, "children": "none"}) and not param.is_valid({"adults": 2})
    assert set(param.schema["properties"]) == {"adults", "children"}


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
