"""BFCL AST rules and the Hammer-style F1, on hand-made answers: one right and one wrong per rule."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from langchain_toolprm.core.steps import Call
from langchain_toolprm.data.records import ToolExample
from langchain_toolprm.evaluation.benchmarks import bfcl_example
from langchain_toolprm.evaluation.metrics import (
    aggregate_hammer,
    bfcl_check,
    hammer_scores,
    normalize_value,
    score_item,
    sign_test,
    standardize,
)

AREA = {
    "name": "geometry.area", "description": "Area of a triangle.",
    "parameters": {"type": "dict", "required": ["base", "height"], "properties": {
        "base": {"type": "integer", "description": "base"},
        "height": {"type": "float", "description": "height"},
        "unit": {"type": "string", "description": "unit"},
        "precise": {"type": "boolean", "description": "exact arithmetic"},
    }},
}
WEATHER = {
    "name": "weather", "description": "Weather in a city.",
    "parameters": {"type": "dict", "required": ["city"], "properties": {
        "city": {"type": "string", "description": "city"},
        "days": {"type": "integer", "description": "days ahead"},
    }},
}
RECORDS = {
    "name": "db.fetch", "description": "Fetch records.",
    "parameters": {"type": "dict", "required": ["table"], "properties": {
        "table": {"type": "string", "description": "table"},
        "where": {"type": "dict", "description": "conditions", "properties": {
            "dept": {"type": "string"}, "year": {"type": "integer"}}},
        "order": {"type": "array", "items": {"type": "dict", "properties": {"col": {"type": "string"}}}},
        "columns": {"type": "array", "items": {"type": "string"}},
        "point": {"type": "tuple", "items": {"type": "float"}},
        "data": {"type": "array", "items": {"type": "float"}},
    }},
}


def bfcl(category: str, functions: list[dict[str, Any]], truth: list[dict[str, Any]] | None) -> ToolExample:
    entry = {"id": f"{category}_0", "question": [[{"role": "user", "content": "q"}]], "function": functions}
    return bfcl_example(entry, None if truth is None else {"id": entry["id"], "ground_truth": truth}, category)


def area(**answer: list[Any]) -> ToolExample:
    return bfcl("simple_python", [AREA], [{"geometry.area": answer}])


def check(example: ToolExample, *calls: Call) -> tuple[bool, str | None]:
    result = bfcl_check(example, list(calls))
    return result.correct, result.reason


BASIC = area(base=[10], height=[5.0], unit=["units", ""])


def test_gold_and_exact_answer_pass() -> None:
    assert check(BASIC, *BASIC.gold) == (True, None)
    assert check(BASIC, Call("geometry.area", {"base": 10, "height": 5.0, "unit": "units"})) == (True, None)


def test_int_for_float_is_accepted_float_for_int_is_not() -> None:
    assert check(BASIC, Call("geometry.area", {"base": 10, "height": 5}))[0]
    assert check(BASIC, Call("geometry.area", {"base": 10.0, "height": 5.0})) == (False, "type_error")


def test_bool_is_not_an_int_and_strings_are_not_numbers() -> None:
    assert check(BASIC, Call("geometry.area", {"base": True, "height": 5.0})) == (False, "type_error")
    assert check(BASIC, Call("geometry.area", {"base": "10", "height": 5.0})) == (False, "type_error")


def test_string_normalisation_like_bfcl() -> None:
    ex = area(base=[10], height=[5.0], unit=["square meters"])
    assert standardize("Square-Meters") == standardize("square meters") == "squaremeters"
    assert check(ex, Call("geometry.area", {"base": 10, "height": 5.0, "unit": "Square-Meters"}))[0]
    assert check(ex, Call("geometry.area", {"base": 10, "height": 5.0, "unit": "SQUARE_METERS."}))[0]
    assert check(ex, Call("geometry.area", {"base": 10, "height": 5.0, "unit": "sq m"})) == (False, "value_error")


def test_value_not_accepted() -> None:
    assert check(BASIC, Call("geometry.area", {"base": 11, "height": 5.0})) == (False, "value_error")
    ex = area(base=[10], height=[5.0], precise=[True])
    assert check(ex, Call("geometry.area", {"base": 10, "height": 5.0, "precise": False})) == (False, "value_error")


def test_optional_argument_omitted_or_given() -> None:
    assert check(BASIC, Call("geometry.area", {"base": 10, "height": 5.0}))[0]  # "" accepted: may be omitted
    assert check(BASIC, Call("geometry.area", {"base": 10, "height": 5.0, "unit": "units"}))[0]
    assert check(BASIC, Call("geometry.area", {"base": 10, "height": 5.0, "unit": ""}))[0]  # "" itself is accepted
    needed = area(base=[10], height=[5.0], unit=["units"])  # no "": the answer wants it
    assert check(needed, Call("geometry.area", {"base": 10, "height": 5.0})) == (False, "missing_optional")


def test_missing_required() -> None:
    assert check(BASIC, Call("geometry.area", {"base": 10, "unit": "units"})) == (False, "missing_required")


def test_unexpected_argument() -> None:
    undocumented = Call("geometry.area", {"base": 10, "height": 5.0, "color": "red"})
    assert check(BASIC, undocumented) == (False, "unexpected_argument")
    # Documented but absent from the answer is unexpected too (BFCL's rule).
    assert check(BASIC, Call("geometry.area", {"base": 10, "height": 5.0, "precise": True})) == (False, "unexpected_argument")


def test_wrong_function_name() -> None:
    assert check(BASIC, Call("geometry_area", {"base": 10, "height": 5.0})) == (False, "wrong_function_name")
    multiple = bfcl("multiple", [AREA, WEATHER], [{"weather": {"city": ["Paris"], "days": ["", 1]}}])
    assert check(multiple, Call("weather", {"city": "paris"}))[0]
    assert check(multiple, Call("geometry.area", {"base": 1, "height": 2.0})) == (False, "wrong_function_name")


def test_wrong_count_and_no_output() -> None:
    call = Call("geometry.area", {"base": 10, "height": 5.0})
    assert check(BASIC, call, call) == (False, "wrong_count")
    assert check(BASIC) == (False, "wrong_count")  # an empty list is a (wrong) answer
    assert bfcl_check(BASIC, None).reason == "no_output"


PARALLEL = bfcl("parallel", [WEATHER], [
    {"weather": {"city": ["Paris"], "days": ["", 3]}},
    {"weather": {"city": ["London", "London, UK"], "days": [2]}},
])


def test_parallel_calls_match_in_any_order() -> None:
    paris, london = Call("weather", {"city": "Paris"}), Call("weather", {"city": "London UK", "days": 2})
    assert check(PARALLEL, paris, london)[0]
    assert check(PARALLEL, london, paris)[0]
    assert check(PARALLEL, paris, paris) == (False, "value_error")  # one-to-one: Paris cannot serve twice
    assert check(PARALLEL, paris) == (False, "wrong_count")
    assert check(PARALLEL, paris, london, paris) == (False, "wrong_count")
    assert check(PARALLEL, paris, Call("weather", {"city": "London"})) == (False, "missing_optional")


def test_parallel_pairing_is_a_maximum_matching() -> None:
    # The first answer accepts both calls; pairing it greedily with "Paris" (as BFCL does) would
    # leave the second answer unmatched, although a one-to-one pairing exists.
    ex = bfcl("parallel", [WEATHER], [
        {"weather": {"city": ["Paris", "London"]}}, {"weather": {"city": ["Paris"]}},
    ])
    assert check(ex, Call("weather", {"city": "Paris"}), Call("weather", {"city": "London"}))[0]


def test_parallel_multiple_reason_names_the_broken_call() -> None:
    ex = bfcl("parallel_multiple", [AREA, WEATHER], [
        {"weather": {"city": ["Paris"]}}, {"geometry.area": {"base": [1], "height": [2.0]}},
    ])
    ok = [Call("geometry.area", {"base": 1, "height": 2.0}), Call("weather", {"city": "Paris"})]
    assert check(ex, *ok)[0]
    assert check(ex, ok[0], Call("weather", {})) == (False, "missing_required")
    assert check(ex, ok[0], Call("forecast", {"city": "Paris"})) == (False, "wrong_function_name")


def records(**answer: list[Any]) -> ToolExample:
    return bfcl("simple_python", [RECORDS], [{"db.fetch": {"table": ["staff"], **answer}}])


def fetch(**args: Any) -> Call:
    return Call("db.fetch", {"table": "staff", **args})


def test_nested_dict_values() -> None:
    ex = records(where=[{"dept": ["Science", "sci"], "year": ["", 2024]}])
    assert ex.gold[0].arguments["where"] == {"dept": "Science", "year": 2024}
    assert check(ex, fetch(where={"dept": "science"}))[0]  # "" lets a key be left out; strings normalised
    assert check(ex, fetch(where={"dept": "sci", "year": 2024}))[0]
    assert check(ex, fetch(where={"dept": "Maths"})) == (False, "value_error")
    assert check(ex, fetch(where={"dept": "Science", "room": 4})) == (False, "value_error")
    assert check(ex, fetch(where={"year": 2024})) == (False, "value_error")  # dept has no ""
    assert check(ex, fetch(where="Science")) == (False, "type_error")


def test_list_of_dicts_in_order() -> None:
    ex = records(order=[[{"col": ["name"]}, {"col": ["age"]}]])
    assert ex.gold[0].arguments["order"] == [{"col": "name"}, {"col": "age"}]
    assert check(ex, fetch(order=[{"col": "Name"}, {"col": "age"}]))[0]
    assert check(ex, fetch(order=[{"col": "age"}, {"col": "name"}])) == (False, "value_error")
    assert check(ex, fetch(order=[{"col": "name"}])) == (False, "value_error")


def test_lists_tuples_and_their_items() -> None:
    ex = records(columns=[["first name", "age"], ["age", "first name"]], point=[[1.5, 2.0]], data=["", [1.0, 2.0]])
    strict = records(data=[[1.0, 2.0]])
    assert check(ex, fetch(columns=["First-Name", "AGE"], point=[1.5, 2.0]))[0]
    assert check(ex, fetch(columns=["age", "first name"], point=(1.5, 2.0)))[0]  # a tuple is a list
    assert check(ex, fetch(columns=["age"], point=[1.5, 2.0])) == (False, "value_error")
    assert check(ex, fetch(columns="age", point=[1.5, 2.0])) == (False, "type_error")
    assert check(ex, fetch(columns=["age", 1], point=[1.5, 2.0])) == (False, "type_error")
    # Items are type-checked without the int-for-float allowance, as in BFCL, except that an
    # accepted "" (may be omitted) lets any item types through (BFCL's quirk).
    assert check(strict, fetch(data=[1.0, 2.0]))[0]
    assert check(strict, fetch(data=[1, 2])) == (False, "type_error")
    assert check(ex, fetch(columns=["age", "first name"], point=[1.5, 2.0], data=[1, 2]))[0]


def test_variable_answers_compare_literally() -> None:
    ex = records(data=["data['x']"])  # BFCL names a variable where an array is declared
    assert check(ex, fetch(data="data['x']"))[0]
    assert check(ex, fetch(data="data['y']")) == (False, "value_error")


@pytest.mark.parametrize("category", ["irrelevance", "live_irrelevance"])
def test_irrelevance_is_right_iff_no_call(category: str) -> None:
    ex = bfcl(category, [WEATHER], None)
    assert ex.gold == ()
    assert bfcl_check(ex, None).correct
    assert bfcl_check(ex, []).correct
    assert check(ex, Call("weather", {"city": "Paris"})) == (False, "irrelevance_called")


# ------------------------------------------------------------------------------------ Hammer F1


def f(name: str, **args: Any) -> Call:
    return Call(name, args)


def test_hammer_exact_answer_is_perfect() -> None:
    gold = [f("a", x=1), f("b", y="Paris")]
    s = hammer_scores([f("b", y=" paris "), f("a", x=1.0)], gold)
    assert (s["name_f1"], s["arg_f1"], s["exact"], s["correct"]) == (1.0, 1.0, True, True)


def test_hammer_repeated_names_pair_one_to_one() -> None:
    gold = [f("a", x=1), f("a", x=2)]
    s = hammer_scores([f("a", x=1)], gold)
    assert (s["name_precision"], s["name_recall"]) == (1.0, 0.5)
    assert s["name_f1"] == pytest.approx(2 / 3) and s["arg_f1"] == pytest.approx(2 / 3) and not s["exact"]
    s = hammer_scores([f("a", x=1)] * 3, [f("a", x=1)])
    assert (s["name_precision"], s["name_recall"], s["name_f1"]) == (pytest.approx(1 / 3), 1.0, 0.5)
    assert s["arg_f1"] == 0.5 and not s["exact"]


def test_hammer_scores_never_exceed_one() -> None:
    pool = [f("a", x=1), f("a", x=2), f("a", x=1, y=2), f("b"), f("b", x=1)]
    for n, m in itertools.product(range(4), range(4)):
        for pred, gold in itertools.product(itertools.combinations_with_replacement(pool, n),
                                            itertools.combinations_with_replacement(pool, m)):
            s = hammer_scores(list(pred), list(gold))
            assert all(0.0 <= s[k] <= 1.0 for k in ("name_f1", "arg_f1", "name_precision", "arg_recall"))
            assert s["exact"] == (sorted(map(repr, pred)) == sorted(map(repr, gold)))


def test_hammer_empty_cases() -> None:
    both = hammer_scores([], [])
    assert (both["name_f1"], both["arg_f1"], both["exact"], both["no_output"]) == (1.0, 1.0, True, False)
    none = hammer_scores(None, [])
    assert none["exact"] and none["name_f1"] == 1.0 and none["no_output"]
    missed = hammer_scores([], [f("a", x=1)])
    assert (missed["name_f1"], missed["arg_f1"], missed["exact"]) == (0.0, 0.0, False)
    spurious = hammer_scores([f("a", x=1)], [])
    assert (spurious["name_f1"], spurious["arg_f1"], spurious["exact"]) == (0.0, 0.0, False)
    no_args = hammer_scores([f("a")], [f("a")])  # no argument on either side: argument F1 is 1
    assert (no_args["name_f1"], no_args["arg_f1"], no_args["exact"]) == (1.0, 1.0, True)
    # ... but only as far as the names are right: no answer, or a wrong function, earns nothing.
    for pred in (None, [], [f("b")]):
        s = hammer_scores(pred, [f("a")])
        assert (s["name_f1"], s["arg_f1"], s["arg_recall"], s["exact"]) == (0.0, 0.0, 0.0, False)
    s = hammer_scores([f("a")], [])
    assert (s["name_f1"], s["arg_f1"], s["arg_precision"]) == (0.0, 0.0, 0.0)
    s = hammer_scores([f("a"), f("b")], [f("a")])
    assert s["arg_f1"] == s["name_f1"] == pytest.approx(2 / 3)


def test_hammer_arguments_count_under_their_function() -> None:
    s = hammer_scores([f("b", x=1)], [f("a", x=1)])
    assert (s["name_f1"], s["arg_f1"]) == (0.0, 0.0)
    s = hammer_scores([f("a", x=1, y=3)], [f("a", x=1, y=2)])
    assert (s["name_f1"], s["arg_f1"], s["exact"]) == (1.0, 0.5, False)


def test_value_normalisation() -> None:
    assert normalize_value("False") == normalize_value(False) == normalize_value("false")
    assert normalize_value("5") == normalize_value(5) == normalize_value(5.0)
    assert normalize_value("  New   York ") == normalize_value("new york")
    assert normalize_value({"b": [1, "X"], "a": None}) == normalize_value({"a": None, "b": [1.0, "x"]})
    assert normalize_value([1, 2]) != normalize_value([2, 1])
    assert normalize_value(1) != normalize_value(True)


def test_aggregate_hammer() -> None:
    items = [hammer_scores([f("a", x=1)], [f("a", x=1)]), hammer_scores([], [f("a", x=1)])]
    agg = aggregate_hammer(items)
    assert agg == {"n": 2, "name_f1": 0.5, "arg_f1": 0.5, "exact": 0.5, "no_output": 0.0, "avg_f1": 0.5}
    with pytest.raises(ValueError):
        aggregate_hammer([])


def test_score_item_dispatches_on_source() -> None:
    assert score_item(BASIC, [Call("geometry.area", {"base": 10, "height": 5.0})]) == {
        "correct": True, "reason": None, "detail": ""}
    assert score_item(BASIC, None)["reason"] == "no_output"
    hammer = ToolExample("t-0", "toolalpaca", ({"role": "user", "content": "q"},), (), (f("a", x=1),))
    scored = score_item(hammer, [f("a", x="1")])
    assert scored["correct"] and scored["arg_f1"] == 1.0
    heldout = score_item(ToolExample("x", "glaive", (), (), ()), [])  # a training source's held-out query
    assert heldout["correct"] and heldout["exact"] == 1.0
    assert not score_item(ToolExample("y", "glaive", (), (), ()), [f("a", x=1)])["correct"]


@pytest.mark.parametrize(("better", "worse", "p"), [
    (0, 0, 1.0), (5, 0, 2 / 32), (0, 5, 2 / 32), (10, 10, 1.0), (1, 2, 1.0),
    (20, 8, 0.0357), (30, 17, 0.0789),
])
def test_sign_test_two_sided_exact(better: int, worse: int, p: float) -> None:
    assert sign_test(better, worse) == pytest.approx(p, abs=1e-4)
