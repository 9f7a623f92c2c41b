"""Rule-made negatives: each rule writes the wrong step it names, labelled by the annotator."""

from __future__ import annotations

import random

import pytest

from langchain_toolprm.core.steps import Call, Step, StepTag, segment
from langchain_toolprm.data.labels import label_steps
from langchain_toolprm.data.negatives import RULES, rule_negatives, rule_trajectories
from langchain_toolprm.data.records import ToolExample

TOOLS = (
    {"name": "book_hotel", "description": "Book a hotel room",
     "parameters": {"type": "object", "properties": {
         "city": {"type": "string", "description": "City of the hotel"},
         "nights": {"type": "integer"},
         "breakfast": {"type": "boolean"}}, "required": ["city"]}},
    {"name": "get_weather", "description": "Weather in a city",
     "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
    {"name": "convert_currency", "description": "Convert money",
     "parameters": {"type": "object", "properties": {"amount": {"type": "number"}}, "required": ["amount"]}},
)
REQUEST = "Book a hotel in Boston for 3 nights, and tell me the weather in Seattle."
EXAMPLE = ToolExample("q1", "test", ({"role": "user", "content": REQUEST},), TOOLS,
                      (Call("book_hotel", {"city": "Boston", "nights": 3}), Call("get_weather", {"city": "Seattle"})))
LEAN = ToolExample("q3", "test", EXAMPLE.messages, TOOLS, (Call("book_hotel", {"city": "Boston"}),))
NO_CALL = ToolExample("q2", "test", ({"role": "user", "content": "Tell me a joke."},), TOOLS, ())


def departure(steps: tuple[Step, ...], gold: tuple[Step, ...]) -> int:
    return next(i for i, s in enumerate(steps) if i >= len(gold) or s != gold[i])


def last_steps(rule: str, example: ToolExample = EXAMPLE) -> list[Step]:
    """The step each trajectory of ``rule`` writes instead of gold's."""
    gold = tuple(segment(list(example.gold)))
    return [t[departure(t, gold)] for t in rule_trajectories(example, rule, random.Random(0))]


def test_each_rule_writes_its_wrong_step_after_a_gold_prefix() -> None:
    gold = tuple(segment(list(EXAMPLE.gold)))
    assert {s.name for s in last_steps("other_function")} == {"convert_currency"}
    assert {s.value for s in last_steps("request_span") if s.name == "city"} <= {"Seattle", "Boston", "Book",
                                                                                 "hotel", "nights", "tell", "weather"}
    assert {s.value for s in last_steps("other_argument")} & {"Seattle", "Boston"}
    words = {s.value for s in last_steps("schema_word")}  # the parameter's name or type, a description word
    assert words and words <= {"city", "string", "City", "hotel", "nights", "integer"}
    assert {s.tag for s in last_steps("drop_argument")} == {StepTag.PARAM_FINISH}
    assert {s.tag for s in last_steps("missing_call")} == {StepTag.TOTAL_FINISH}
    # An optional argument the gold call leaves out, its value copied from the request.
    assert {(s.name, s.value) for s in last_steps("extra_argument", LEAN)} == {("nights", 3)}
    assert {s.name for s in last_steps("extra_call")} == {t["name"] for t in TOOLS}
    assert last_steps("call_where_none_fits") == [] and len(last_steps("call_where_none_fits", NO_CALL)) == 3
    for rule in RULES:
        for steps in rule_trajectories(EXAMPLE, rule, random.Random(0)):
            k = departure(steps, gold)  # a gold prefix, then the one written step, then gold's rest or the end
            rest = steps[k + 1:]
            if rule in ("request_span", "other_argument", "schema_word"):
                assert rest == gold[k + 1:], rule
            elif rule == "extra_argument":
                assert rest == gold[k:], rule
            elif rule == "drop_argument":
                assert rest and rest[0].tag is StepTag.FUNC_FINISH and rest == gold[len(gold) - len(rest):], rule
            else:
                assert rest == (), rule


def test_labels_come_from_the_annotator_and_are_mostly_negative() -> None:
    made = rule_negatives(EXAMPLE, per_rule=3)
    assert made and {t.origin for t in made} <= {f"rule:{r}" for r in RULES}
    gold = tuple(segment(list(EXAMPLE.gold)))
    for t in made:
        assert list(t.labels) == label_steps(t.steps, EXAMPLE.gold, EXAMPLE.specs())
        k = departure(t.steps, gold)
        assert all(t.labels[:k]) and not t.labels[k]  # the gold prefix is right, the written step wrong
        assert not t.labels[-1]  # a list with a wrong step never ends right
        if t.origin == "rule:other_argument":  # closing the call with the wrong value is wrong too
            assert not t.labels[k + 1 + [s.tag for s in t.steps[k + 1:]].index(StepTag.FUNC_FINISH)]
    # The other argument's value "Boston" for the weather's city is wrong; a right one would be "+".
    assert any(t.origin == "rule:other_argument" and t.steps[departure(t.steps, gold)].value == "Boston"
               for t in rule_negatives(EXAMPLE, per_rule=10))


def test_deterministic_capped_and_checked() -> None:
    assert [t.steps for t in rule_negatives(EXAMPLE, 2)] == [t.steps for t in rule_negatives(EXAMPLE, 2)]
    assert all(sum(t.origin == f"rule:{r}" for t in rule_negatives(EXAMPLE, 1)) <= 1 for r in RULES)
    assert rule_negatives(EXAMPLE, 0) == []
    with pytest.raises(ValueError, match="unknown negative rule"):
        rule_negatives(EXAMPLE, 1, rules=("made_up",))
    with pytest.raises(ValueError, match="0 or more"):
        rule_negatives(EXAMPLE, -1)
