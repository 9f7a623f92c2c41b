"""The step grammar: segment/assemble, replay, next_tags, fragments, render_trajectory."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from langchain_toolprm.core.steps import (
    Call,
    Step,
    StepOrderError,
    StepTag,
    assemble,
    dump_value,
    fragments,
    next_tags,
    render_trajectory,
    replay,
    segment,
)

T = StepTag

SINGLE = [Call("get_weather", {"city": "Paris", "unit": "celsius"})]
PARALLEL = [
    Call("get_weather", {"city": "Paris"}),
    Call("get_weather", {"city": "Tokyo"}),
    Call("convert", {"amount": 3.5, "from": "usd", "to": "eur"}),
]
NESTED = [
    Call("book", {
        "trip": {"from": "Paris", "legs": [{"day": 1, "ok": True}, {"day": 2, "ok": None}]},
        "tags": ["a", "b\"c", "é"],
        "empty_list": [],
        "empty_obj": {},
    }),
    Call("noop", {}),
]
CASES = {"empty": [], "single": SINGLE, "parallel": PARALLEL, "nested": NESTED}


def _as_dicts(calls: list[Call]) -> list[dict]:
    return [{"name": c.name, "arguments": c.arguments} for c in calls]


# ---- segment / assemble -------------------------------------------------------------------
@pytest.mark.parametrize("calls", CASES.values(), ids=CASES.keys())
def test_segment_assemble_round_trip(calls: list[Call]) -> None:
    steps = segment(calls)
    assert steps[-1] == Step(T.TOTAL_FINISH)
    assert assemble(steps) == calls


def test_segment_empty_list_is_one_total_finish() -> None:
    assert segment([]) == [Step(T.TOTAL_FINISH)]
    assert assemble([Step(T.TOTAL_FINISH)]) == []


def test_segment_step_layout() -> None:
    steps = segment([Call("f", {"a": 1, "b": "x"}), Call("g", {})])
    assert [(s.tag, s.name, s.value) for s in steps] == [
        (T.FUNC_NAME, "f", None),
        (T.ARG_VALUE, "a", 1),
        (T.ARG_VALUE, "b", "x"),
        (T.PARAM_FINISH, None, None),
        (T.FUNC_FINISH, None, None),
        (T.FUNC_NAME, "g", None),
        (T.PARAM_FINISH, None, None),
        (T.FUNC_FINISH, None, None),
        (T.TOTAL_FINISH, None, None),
    ]


def test_segment_keeps_argument_order() -> None:
    steps = segment([Call("f", {"z": 1, "a": 2, "m": 3})])
    assert [s.name for s in steps if s.tag is T.ARG_VALUE] == ["z", "a", "m"]
    assert list(assemble(steps)[0].arguments) == ["z", "a", "m"]


def test_parallel_identical_calls_are_kept() -> None:
    calls = [Call("f", {"a": 1}), Call("f", {"a": 1})]
    assert assemble(segment(calls)) == calls


# ---- replay ---------------------------------------------------------------------------------
def test_replay_partial_state() -> None:
    steps = segment(PARALLEL)
    # After the first call and the second call's name and first argument.
    state = replay(steps[:6])
    assert state.calls == (PARALLEL[0],)
    assert state.open_name == "get_weather"
    assert state.open_args == {"city": "Tokyo"}
    assert not state.finished
    done = replay(steps)
    assert done.finished and done.open_name is None and done.open_args == {}
    assert list(done.calls) == PARALLEL


def test_replay_empty_prefix() -> None:
    state = replay([])
    assert state.calls == () and state.open_name is None and not state.finished


def test_replay_open_args_is_a_copy() -> None:
    steps = [Step(T.FUNC_NAME, "f"), Step(T.ARG_VALUE, "a", 1)]
    state = replay(steps)
    state.open_args["b"] = 2
    assert replay(steps).open_args == {"a": 1}


BAD_ORDERS = {
    "arg first": [Step(T.ARG_VALUE, "a", 1)],
    "param finish first": [Step(T.PARAM_FINISH)],
    "func finish first": [Step(T.FUNC_FINISH)],
    "func finish after name": [Step(T.FUNC_NAME, "f"), Step(T.FUNC_FINISH)],
    "total after name": [Step(T.FUNC_NAME, "f"), Step(T.TOTAL_FINISH)],
    "total after arg": [Step(T.FUNC_NAME, "f"), Step(T.ARG_VALUE, "a", 1), Step(T.TOTAL_FINISH)],
    "name after name": [Step(T.FUNC_NAME, "f"), Step(T.FUNC_NAME, "g")],
    "name after param finish": [Step(T.FUNC_NAME, "f"), Step(T.PARAM_FINISH), Step(T.FUNC_NAME, "g")],
    "arg after param finish": [Step(T.FUNC_NAME, "f"), Step(T.PARAM_FINISH), Step(T.ARG_VALUE, "a", 1)],
    "arg after func finish": [
        Step(T.FUNC_NAME, "f"), Step(T.PARAM_FINISH), Step(T.FUNC_FINISH), Step(T.ARG_VALUE, "a", 1),
    ],
    "anything after total": [Step(T.TOTAL_FINISH), Step(T.FUNC_NAME, "f")],
    "two totals": [Step(T.TOTAL_FINISH), Step(T.TOTAL_FINISH)],
}


@pytest.mark.parametrize("steps", BAD_ORDERS.values(), ids=BAD_ORDERS.keys())
def test_replay_rejects_bad_orders(steps: list[Step]) -> None:
    with pytest.raises(StepOrderError, match="cannot follow"):
        replay(steps)


def test_replay_rejects_repeated_argument() -> None:
    steps = [Step(T.FUNC_NAME, "f"), Step(T.ARG_VALUE, "a", 1), Step(T.ARG_VALUE, "a", 2)]
    with pytest.raises(StepOrderError, match="'a'"):
        replay(steps)


def test_same_argument_in_two_calls_is_fine() -> None:
    calls = [Call("f", {"a": 1}), Call("f", {"a": 2})]
    assert assemble(segment(calls)) == calls


def test_assemble_rejects_unfinished() -> None:
    with pytest.raises(StepOrderError, match="not finished"):
        assemble(segment(SINGLE)[:-1])
    with pytest.raises(StepOrderError):
        assemble([])


def test_step_order_error_is_value_error() -> None:
    assert issubclass(StepOrderError, ValueError)


@pytest.mark.parametrize("tag", [T.FUNC_NAME, T.ARG_VALUE])
def test_named_steps_need_a_name(tag: StepTag) -> None:
    with pytest.raises(ValueError, match="needs a name"):
        Step(tag)
    with pytest.raises(ValueError):
        Step(tag, "")


# ---- next_tags -----------------------------------------------------------------------------
def test_next_tags() -> None:
    f, a = Step(T.FUNC_NAME, "f"), Step(T.ARG_VALUE, "a", 1)
    pf, ff, tf = Step(T.PARAM_FINISH), Step(T.FUNC_FINISH), Step(T.TOTAL_FINISH)
    assert next_tags([]) == {T.FUNC_NAME, T.TOTAL_FINISH}
    assert next_tags([f]) == {T.ARG_VALUE, T.PARAM_FINISH}
    assert next_tags([f, a]) == {T.ARG_VALUE, T.PARAM_FINISH}
    assert next_tags([f, a, pf]) == {T.FUNC_FINISH}
    assert next_tags([f, a, pf, ff]) == {T.FUNC_NAME, T.TOTAL_FINISH}
    assert next_tags([f, a, pf, ff, tf]) == frozenset()


@pytest.mark.parametrize("calls", CASES.values(), ids=CASES.keys())
def test_next_tags_agrees_with_replay(calls: list[Call]) -> None:
    steps = segment(calls)
    for i in range(len(steps)):
        allowed = next_tags(steps[:i])
        assert steps[i].tag in allowed
        for tag in set(T) - allowed:
            step = Step(tag, "zz_new" if tag in (T.FUNC_NAME, T.ARG_VALUE) else None)
            with pytest.raises(StepOrderError):
                replay([*steps[:i], step])


# ---- fragments / render_trajectory ----------------------------------------------------------
@pytest.mark.parametrize("calls", CASES.values(), ids=CASES.keys())
def test_fragments_spell_the_json_list(calls: list[Call]) -> None:
    steps = segment(calls)
    frags = fragments(steps)
    assert len(frags) == len(steps)
    joined = "".join(frags)
    assert json.loads(joined) == _as_dicts(calls)
    assert joined == dump_value(_as_dicts(calls))


def test_fragments_of_each_step() -> None:
    steps = segment([Call("f", {"a": 1, "b": "x"}), Call("g", {})])
    assert fragments(steps) == [
        '[{"name": "f", "arguments": {', '"a": 1', ', "b": "x"', "}", "}",
        ', {"name": "g", "arguments": {', "}", "}", "]",
    ]
    assert fragments([Step(T.TOTAL_FINISH)]) == ["[]"]


def test_dump_value_is_compact_and_unicode() -> None:
    assert dump_value({"a": [1, "é"]}) == '{"a": [1, "é"]}'
    assert dump_value("x") == '"x"'


@pytest.mark.parametrize("calls", CASES.values(), ids=CASES.keys())
def test_render_trajectory_tags_once_per_step_in_order(calls: list[Call]) -> None:
    steps = segment(calls)
    text = render_trajectory("CTX: ", steps)
    assert text.startswith("CTX: ")
    tags = re.findall(r"<(?:FUNC_NAME|ARG_VALUE|PARAM_FINISH|FUNC_FINISH|TOTAL_FINISH)>", text)
    assert tags == [s.tag.value for s in steps]
    for tag in T:
        assert text.count(tag.value) == sum(s.tag is tag for s in steps)
    # Each line is one step: its fragment followed by its tag.
    lines = text[len("CTX: "):].split("\n")
    assert lines[-1] == ""
    assert lines[:-1] == [f + s.tag.value for f, s in zip(fragments(steps), steps, strict=True)]


def test_render_partial_trajectory() -> None:
    steps = segment(SINGLE)[:2]
    assert render_trajectory("", steps) == (
        '[{"name": "get_weather", "arguments": {<FUNC_NAME>\n"city": "Paris"<ARG_VALUE>\n'
    )


# ---- property-based round trip --------------------------------------------------------------
_names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=8)
_scalars = st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=8) | st.floats(
    allow_nan=False, allow_infinity=False, width=32)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)
_calls = st.lists(
    st.builds(Call, _names, st.dictionaries(_names, _values, max_size=4)), max_size=4,
)


@settings(max_examples=60, deadline=None)
@given(_calls)
def test_round_trip_property(calls: list[Call]) -> None:
    steps = segment(calls)
    assert assemble(steps) == calls
    joined = "".join(fragments(steps))
    assert json.loads(joined) == _as_dicts(calls)
    text = render_trajectory("", steps)
    assert text.count("\n") == len(steps)
