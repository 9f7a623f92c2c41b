"""Rule labels against gold: every rule of PAPER_NOTES section 1, one hand-made case each."""

from __future__ import annotations

import pytest

from langchain_toolprm.core.schema import normalize_tools
from langchain_toolprm.core.steps import Call, Step, StepOrderError, StepTag, segment
from langchain_toolprm.data.labels import call_matches, calls_match, label_steps, values_equal

F, A, P, FF, T = StepTag.FUNC_NAME, StepTag.ARG_VALUE, StepTag.PARAM_FINISH, StepTag.FUNC_FINISH, StepTag.TOTAL_FINISH

TOOLS = normalize_tools([
    {"type": "function", "function": {"name": "weather", "description": "Weather in a city", "parameters": {
        "type": "object", "required": ["city"], "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "enum": ["c", "f"], "default": "c"},
            "days": {"type": "integer", "default": 1},
        }}}},
    {"type": "function", "function": {"name": "convert", "description": "Convert money", "parameters": {
        "type": "object", "required": ["amount", "to"], "properties": {
            "amount": {"type": "number"}, "to": {"type": "string"}, "zip": {"type": "string"},
        }}}},
])


def steps_of(*calls: Call, finish: bool = True) -> list[Step]:
    steps = segment(list(calls))
    return steps if finish else steps[:-1]


@pytest.mark.parametrize(("pred", "gold", "schema", "equal"), [
    (5, 5.0, None, True),
    (5, 5.5, None, False),
    ("New York.", "new york", None, True),
    ("  San   Francisco ", "san francisco", None, True),
    ("Paris", "London", None, False),
    ("-4", "4", None, False),
    ("12", 12, None, True),
    ("1,000", 1000, None, True),
    ("12", 13, None, False),
    ("02134", "2134", {"type": "string"}, False),
    ("3.0", "3", {"type": "number"}, True),
    (True, 1, None, False),
    (False, 0, None, False),
    (True, True, None, True),
    ([1, "a"], [1.0, "A"], None, True),
    ([1, 2], [2, 1], None, False),
    ({"a": {"b": "X"}}, {"a": {"b": "x"}}, None, True),
    ({"a": 1}, {"a": 1, "b": 2}, None, False),
    (None, None, None, True),
    (None, "", None, False),
])
def test_values_equal(pred: object, gold: object, schema: dict | None, equal: bool) -> None:
    assert values_equal(pred, gold, schema) is equal


def test_right_call_all_positive() -> None:
    gold = [Call("weather", {"city": "Paris", "days": 3})]
    assert label_steps(steps_of(Call("weather", {"city": "paris", "days": 3.0})), gold, TOOLS) == [True] * 6


def test_wrong_name_fails_name_and_everything_after() -> None:
    gold = [Call("weather", {"city": "Paris"})]
    assert label_steps(steps_of(Call("convert", {"city": "Paris"})), gold, TOOLS) == [False] * 5


def test_wrong_arg_value_then_later_steps() -> None:
    gold = [Call("weather", {"city": "Paris", "days": 3})]
    labels = label_steps(steps_of(Call("weather", {"city": "Paris", "days": 4})), gold, TOOLS)
    # name +, city + (stays + after the mistake), days -, then the call and list are wrong
    assert labels == [True, True, False, False, False, False]


def test_unknown_parameter_is_wrong() -> None:
    gold = [Call("weather", {"city": "Paris"})]
    labels = label_steps(steps_of(Call("weather", {"city": "Paris", "town": "Paris"})), gold, TOOLS)
    assert labels == [True, True, False, False, False, False]


def test_missing_required_fails_param_finish() -> None:
    gold = [Call("convert", {"amount": 5, "to": "EUR"})]
    labels = label_steps(steps_of(Call("convert", {"amount": 5})), gold, TOOLS)
    assert labels == [True, True, False, False, False]


def test_missing_optional_without_default_fails() -> None:
    gold = [Call("convert", {"amount": 5, "to": "EUR", "zip": "123"})]
    assert label_steps(steps_of(Call("convert", {"amount": 5, "to": "EUR"})), gold, TOOLS)[3] is False


def test_optional_default_may_be_omitted_or_given() -> None:
    gold = [Call("weather", {"city": "Paris", "unit": "c"})]
    assert all(label_steps(steps_of(Call("weather", {"city": "Paris"})), gold, TOOLS))
    # an argument absent from gold but equal to its declared default is right too
    assert all(label_steps(steps_of(Call("weather", {"city": "Paris", "days": 1})), gold, TOOLS))
    assert not all(label_steps(steps_of(Call("weather", {"city": "Paris", "days": 2})), gold, TOOLS))
    # without the tool's schema there is no default to fall back on
    assert label_steps(steps_of(Call("weather", {"city": "Paris"})), gold)[2] is False


def test_parallel_calls_in_either_order() -> None:
    a, b = Call("weather", {"city": "Paris"}), Call("convert", {"amount": 1, "to": "USD"})
    assert all(label_steps(steps_of(a, b), [a, b], TOOLS))
    assert all(label_steps(steps_of(b, a), [a, b], TOOLS))


def test_parallel_same_name_args_follow_the_open_call() -> None:
    gold = [Call("weather", {"city": "Paris", "days": 2}), Call("weather", {"city": "Rome", "days": 5})]
    # Rome with Paris's days: days is wrong for the gold call that the open call has committed to
    labels = label_steps(steps_of(Call("weather", {"city": "Rome", "days": 2})), gold, TOOLS)
    assert labels[:3] == [True, True, False]


def test_repeated_name_needs_a_repeated_gold_call() -> None:
    a = Call("weather", {"city": "Paris"})
    labels = label_steps(steps_of(a, a), [a], TOOLS)
    assert labels == [True, True, True, True, False, False, False, False, False]
    assert all(label_steps(steps_of(a, a), [a, a], TOOLS))


def test_wrong_finished_call_does_not_use_up_gold() -> None:
    gold = [Call("weather", {"city": "Paris"})]
    labels = label_steps(steps_of(Call("weather", {"city": "Rome"}), gold[0]), gold, TOOLS)
    assert labels[4:8] == [True, True, True, True] and labels[-1] is False


def test_missing_call_fails_only_total_finish() -> None:
    a, b = Call("weather", {"city": "Paris"}), Call("convert", {"amount": 1, "to": "USD"})
    assert label_steps(steps_of(a), [a, b], TOOLS) == [True, True, True, True, False]


def test_empty_gold() -> None:
    assert label_steps([Step(T)], [], TOOLS) == [True]
    assert label_steps(steps_of(Call("weather", {"city": "Paris"})), [], TOOLS) == [False] * 5
    assert label_steps([Step(T)], [Call("weather", {"city": "Paris"})], TOOLS) == [False]


def test_partial_trajectory_and_bad_order() -> None:
    gold = [Call("weather", {"city": "Paris"})]
    assert label_steps([Step(F, "weather"), Step(A, "city", "Paris")], gold, TOOLS) == [True, True]
    with pytest.raises(StepOrderError):
        label_steps([Step(A, "city", "Paris")], gold, TOOLS)


def test_call_and_calls_match() -> None:
    tool = TOOLS[0]
    assert call_matches(Call("weather", {"city": "PARIS", "unit": "c"}), Call("weather", {"city": "Paris"}), tool)
    assert not call_matches(Call("weather", {"city": "Paris", "unit": "f"}), Call("weather", {"city": "Paris"}), tool)
    a, b = Call("weather", {"city": "Paris"}), Call("weather", {"city": "Rome"})
    assert calls_match([b, a], [a, b], TOOLS)
    assert not calls_match([a, a], [a, b], TOOLS)
    assert calls_match([], [])
