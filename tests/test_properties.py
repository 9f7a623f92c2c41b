"""Property tests: for random tool schemas and random policy weights, every returned call
validates against its tool's original JSON Schema (names from the schema, values within their
types, enums, bounds, formats and required arguments), including schemas written the way users
write them: $ref/$defs, allOf, nullable forms, nested objects, arrays of objects, formats and
annotation keywords that are not JSON Schema."""

from __future__ import annotations

from typing import Any

import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from transformers import AutoModelForCausalLM

from langchain_toolprm import ToolPRMChatModel, TransformersBackend

_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8).filter(lambda s: s[0] != "_")

_FORMATS = ["date", "date-time", "time", "email", "uuid", "ipv4"]

# Keywords that are not JSON Schema: annotations, accepted and ignored (BFCL, vendors, OpenAPI).
_annotations = st.sampled_from([{}, {}, {"optional": True}, {"x-vendor": {"a": 1}}, {"example": "x"},
                                {"description": "d"}])

_scalar = st.one_of(
    st.just({"type": "string"}),
    st.builds(lambda n: {"type": "string", "maxLength": n}, st.integers(1, 6)),
    st.just({"type": "integer"}),
    st.builds(lambda lo, span: {"type": "integer", "minimum": lo, "maximum": lo + span},
              st.integers(-50, 50), st.integers(0, 100)),
    st.builds(lambda lo, span: {"allOf": [{"type": "integer", "minimum": lo}, {"maximum": lo + span}]},
              st.integers(-50, 50), st.integers(0, 100)),
    st.just({"type": "number"}),
    st.just({"type": "boolean"}),
    st.just({"type": "null"}),
    st.just({"type": ["integer", "null"]}),
    st.just({"type": ["string", "null"], "maxLength": 4}),
    st.builds(lambda vs: {"type": "string", "enum": vs}, st.lists(_names, min_size=1, max_size=4, unique=True)),
    st.builds(lambda vs: {"enum": vs}, st.lists(st.integers(-5, 5), min_size=1, max_size=4, unique=True)),
    st.builds(lambda v: {"const": v}, st.one_of(_names, st.integers(0, 9))),
    st.builds(lambda f: {"type": "string", "format": f}, st.sampled_from(_FORMATS)),
    st.just({"anyOf": [{"type": "integer"}, {"type": "null"}]}),
    st.just({"anyOf": [{"type": "string"}, {"type": "boolean"}]}),
    st.just({"oneOf": [{"type": "integer"}, {"type": "string", "maxLength": 3}]}),
)


def _annotated(schemas: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(lambda schema, extra: {**schema, **extra}, schemas, _annotations)


def _object(inner: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda props, req: {
            "type": "object", "properties": props,
            "required": [k for k in props if req], "additionalProperties": False,
        },
        st.dictionaries(_names, inner, min_size=1, max_size=2), st.booleans(),
    )


def _value_schema(depth: int) -> st.SearchStrategy[dict[str, Any]]:
    if depth == 0:
        return _annotated(_scalar)
    inner = _value_schema(depth - 1)
    return _annotated(st.one_of(
        _scalar,
        st.builds(lambda it, n: {"type": "array", "items": it, "maxItems": n}, inner, st.integers(1, 3)),
        _object(inner),
        _object(_object(_scalar)),  # a nested object
        st.builds(lambda it, n: {"type": "array", "items": it, "maxItems": n}, _object(_scalar), st.integers(1, 2)),
        st.builds(lambda it: {"anyOf": [it, {"type": "null"}]}, inner),  # nullable
        st.builds(  # allOf of two object parts, merged for the grammar
            lambda a, b: {"allOf": [{"type": "object", "properties": a}, {"properties": b, "required": list(b)}]},
            st.dictionaries(_names, _scalar, min_size=1, max_size=2),
            st.dictionaries(_names, _scalar, min_size=1, max_size=1),
        ),
    ))


@st.composite
def tools(draw: st.DrawFn) -> list[dict[str, Any]]:
    out = []
    for name in draw(st.lists(_names, min_size=1, max_size=3, unique=True)):
        props = draw(st.dictionaries(_names, _value_schema(1), min_size=0, max_size=3))
        # Some parameters point into $defs, as pydantic models with nested models do.
        defs = draw(st.dictionaries(_names, _value_schema(1), min_size=0, max_size=2))
        for key in props:
            if defs and draw(st.booleans()):
                props[key] = {"$ref": f"#/$defs/{draw(st.sampled_from(sorted(defs)))}"}
        required = [k for k in props if draw(st.booleans())]
        parameters = {"type": "object", "properties": props, "required": required}
        if defs:
            parameters["$defs"] = defs
        out.append({"type": "function", "function": {
            "name": name, "description": f"tool {name}", "parameters": parameters,
        }})
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tool_list=tools(), weight_seed=st.integers(0, 2**16), search_seed=st.integers(0, 100),
       strategy=st.sampled_from(["beam", "greedy", "best_of_n"]))
def test_every_returned_call_validates(tiny_policy: TransformersBackend, tool_list: list[dict[str, Any]],
                                       weight_seed: int, search_seed: int, strategy: str) -> None:
    torch.manual_seed(weight_seed)
    model = AutoModelForCausalLM.from_config(tiny_policy.model.config)
    policy = TransformersBackend(model, tiny_policy.tokenizer)
    chat = ToolPRMChatModel(backend=policy, strategy=strategy, n_retain=2, m_explore=3, temperature=1.0,
                            max_value_tokens=10, seed=search_seed, max_tokens=4)
    message = chat.bind_tools(tool_list, tool_choice="any").invoke("use a tool: paris 3 true")
    by_name = {t["function"]["name"]: t["function"]["parameters"] for t in tool_list}
    assert message.tool_calls or message.invalid_tool_calls  # "any": a call, or why none finished
    event("finished a call list" if message.tool_calls else "no call list finished")
    for call in message.tool_calls:
        assert call["name"] in by_name
        schema = by_name[call["name"]]
        validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
        errors = list(validator.iter_errors(call["args"]))
        assert not errors, (call, schema, errors)
