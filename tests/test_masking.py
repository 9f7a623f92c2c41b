"""Function masking: consistent renames, determinism, fraction, defaults, padding, irrelevance, contrast pairs."""

from __future__ import annotations

import json
import random

import pytest

from langchain_toolprm.core.steps import Call, segment
from langchain_toolprm.data.labels import label_steps
from langchain_toolprm.data.masking import (
    MaskConfig,
    contrast_examples,
    irrelevance_examples,
    mask_example,
    mask_examples,
    near_misses,
    tool_pool,
)
from langchain_toolprm.data.records import ToolExample


def tool(name: str, desc: str, **params: dict) -> dict:
    return {"type": "function", "function": {"name": name, "description": desc, "parameters": {
        "type": "object", "properties": params, "required": [next(iter(params))] if params else []}}}


WEATHER = tool("get_weather", "Weather in a city", city={"type": "string"},
               unit={"type": "string", "enum": ["c", "f"], "default": "c"}, days={"type": "integer", "default": 1})
STOCK = tool("get_stock", "Stock price", symbol={"type": "string"})


def example(i: int, tools: tuple[dict, ...] = (WEATHER,), gold: tuple[Call, ...] | None = None) -> ToolExample:
    call_msg = {"role": "assistant", "content": "", "tool_calls": [{"id": "c0", "type": "function", "function": {
        "name": "get_weather", "arguments": json.dumps({"city": "Oslo"})}}]}
    messages = (
        {"role": "user", "content": "Weather in Oslo?"}, call_msg,
        {"role": "tool", "tool_call_id": "c0", "content": "get_weather says: snow"},
        {"role": "user", "content": f"And in city {i}, in f, for 1 day?"},
    )
    gold = gold if gold is not None else (Call("get_weather", {"city": f"city {i}", "unit": "f", "days": 1}),)
    return ToolExample(f"ex-{i}", "test", messages, tools, gold, {"conversation": f"c{i}"})


def others() -> list[ToolExample]:
    return [ToolExample(f"o-{i}", "test", ({"role": "user", "content": "x"},),
                        (tool(f"other_tool_{i}", f"Does thing {i}", q={"type": "string"}),), ()) for i in range(20)]


def masked(ex: ToolExample, config: MaskConfig | None = None, seed: int = 1) -> ToolExample:
    return mask_example(ex, random.Random(seed), tool_pool([ex, *others()]), config or MaskConfig())


def test_renames_are_consistent_across_tools_gold_and_messages() -> None:
    ex = example(0)
    out = masked(ex)
    ren = out.meta["renames"]["get_weather"]
    new, params = ren["name"], ren["params"]
    assert out.meta["masked"] is True and new != "get_weather"
    spec = {s.name: s for s in out.specs()}[new]
    assert spec.description == "Weather in a city"
    assert {p.name for p in spec.params} == set(params.values())
    assert spec.required == (params["city"],)
    assert out.gold == (Call(new, {params["city"]: "city 0", params["unit"]: "f", params["days"]: 1}),)
    fn = out.messages[1]["tool_calls"][0]["function"]
    assert fn["name"] == new and json.loads(fn["arguments"]) == {params["city"]: "Oslo"}
    assert out.messages[2]["content"] == f"{new} says: snow"
    assert "get_weather" not in json.dumps([out.tools, [c.name for c in out.gold], list(out.messages)])
    out.lc_messages()
    assert all(label_steps(segment(list(out.gold)), out.gold, out.specs()))
    assert ex.tools[0]["function"]["name"] == "get_weather"  # the input is not modified


def test_names_follow_config() -> None:
    config = MaskConfig(name_len=(6, 6), param_len=(4, 4), alphabet="abc_.")
    out = masked(example(0), config)
    for ren in out.meta["renames"].values():
        assert len(ren["name"]) == 6 and set(ren["name"]) <= set("abc_.") and ren["name"][0].isalpha()
        assert all(len(p) == 4 and not p.endswith(".") for p in ren["params"].values())


def test_default_equal_to_gold_is_perturbed() -> None:
    gold = (Call("get_weather", {"city": "Oslo", "unit": "c", "days": 1}),)
    out = masked(example(0, gold=gold))
    ren = out.meta["renames"]["get_weather"]
    props = next(t for t in out.tools if t["function"]["name"] == ren["name"])["function"]["parameters"]["properties"]
    days, unit = props[ren["params"]["days"]]["default"], props[ren["params"]["unit"]]["default"]
    assert isinstance(days, int) and days != 1 and unit == "f"
    assert out.meta["perturbed_defaults"] == ["get_weather.unit", "get_weather.days"]
    # omitting the argument no longer equals the gold value
    assert not all(label_steps(segment([Call(ren["name"], {ren["params"]["city"]: "Oslo"})]), out.gold, out.specs()))
    assert WEATHER["function"]["parameters"]["properties"]["days"]["default"] == 1  # input untouched
    untouched = masked(example(0))  # gold unit "f" differs from the default "c": nothing to hide
    ren = untouched.meta["renames"]["get_weather"]
    props = next(t for t in untouched.tools if t["function"]["name"] == ren["name"])["function"]["parameters"]
    assert props["properties"][ren["params"]["unit"]]["default"] == "c"
    assert "perturbed_defaults" not in masked(example(0), MaskConfig(perturb_defaults=False)).meta


def test_padding_without_name_or_description_clashes() -> None:
    clash = ToolExample("clash", "test", ({"role": "user", "content": "x"},),
                        (tool("GET_WEATHER", "other", q={"type": "string"}), tool("weather2", "Weather in a city",
                                                                                  q={"type": "string"})), ())
    pool = tool_pool([clash, *others()])
    for seed in range(20):
        out = mask_example(example(0), random.Random(seed), pool, MaskConfig(pad_tools_to=(4, 4)))
        assert len(out.tools) == 4
        assert not {"GET_WEATHER", "weather2"} & set(out.meta["padded"])
        names = [t["function"]["name"] for t in out.tools]
        assert len(set(names)) == len(names)


def test_deterministic_and_fraction() -> None:
    exs = [example(i) for i in range(30)] + others()
    config = MaskConfig(seed=3)
    a, b = mask_examples(exs, config), mask_examples(exs, config)
    assert [x.to_dict() for x in a] == [x.to_dict() for x in b]
    assert [x.id for x in a] == [x.id for x in exs]
    assert sum(x.meta["masked"] for x in a) == round(2 / 3 * len(exs))
    c = mask_examples(exs, MaskConfig(seed=4))
    assert [x.to_dict() for x in a] != [x.to_dict() for x in c]
    assert sum(x.meta["masked"] for x in mask_examples(exs, MaskConfig(fraction=0.0))) == 0
    for x in a:
        if not x.meta["masked"]:
            assert x.gold == exs[[e.id for e in exs].index(x.id)].gold
        assert 2 <= len(x.tools) <= 6 or len(x.tools) == len(exs[0].tools)


def test_shuffle_moves_the_gold_tool() -> None:
    exs = [example(i) for i in range(30)] + others()
    out = mask_examples(exs, MaskConfig(fraction=0.0, pad_tools_to=(5, 5)))
    firsts = {x.tools[0]["function"]["name"] == "get_weather" for x in out[:30]}
    assert firsts == {True, False}
    kept = mask_examples(exs, MaskConfig(fraction=0.0, pad_tools_to=None, shuffle=False))
    assert [x.tools for x in kept] == [x.tools for x in exs]


def fresh(i: int, tools: tuple[dict, ...] = (WEATHER,)) -> ToolExample:
    """A single-turn example (no earlier call to its gold tool)."""
    ex = example(i, tools)
    return ToolExample(ex.id, ex.source, ex.messages[-1:], ex.tools, ex.gold, ex.meta)


def test_irrelevance_examples() -> None:
    exs = [fresh(i, (WEATHER, STOCK)) for i in range(10)] + [fresh(10 + i) for i in range(10)] + others()
    irr = irrelevance_examples(exs, MaskConfig(fraction=0.5), fraction=0.25)
    assert len(irr) == 10  # 0.25 x 40 examples; the 20 with gold are eligible
    for x in irr:
        assert x.id.endswith("-irr") and x.gold == () and x.meta["kind"] == "irrelevance"
        assert x.meta["removed_tools"] == ["get_weather"]
        assert x.meta["conversation"] == x.id.removesuffix("-irr").replace("ex-", "c")
        names = {t["function"]["name"] for t in x.tools}
        assert "get_weather" not in names and "get_weather" not in x.meta.get("renames", {})
        assert x.tools and not {"Weather in a city"} & {t["function"]["description"] for t in x.tools}
        assert label_steps(segment([]), x.gold, x.specs()) == [True]
    assert sum(x.meta["masked"] for x in irr) == 5
    assert len(irrelevance_examples(exs, MaskConfig(), fraction=1.0)) == 20
    assert [x.to_dict() for x in irr] == [x.to_dict() for x in irrelevance_examples(exs, MaskConfig(fraction=0.5), 0.25)]


def test_irrelevance_needs_a_tool_left_and_no_earlier_call() -> None:
    # example()'s history already calls get_weather: removing it would orphan that call
    assert irrelevance_examples([example(0, (WEATHER, STOCK))], MaskConfig(), fraction=1.0) == []
    # the only tool is the gold one: a tool from the pool takes its place
    out = irrelevance_examples([fresh(0), *others()], MaskConfig(fraction=0, pad_tools_to=None), fraction=1.0)
    assert len(out) == 1 and len(out[0].tools) == 1
    assert out[0].tools[0]["function"]["name"].startswith("other_tool_")


def test_near_misses_share_the_topic_but_not_the_tool() -> None:
    """An irrelevance example can keep tools on the removed tool's topic: the nearest first, never
    one so close it may be the same tool, never one of another topic."""
    forecast = tool("get_forecast", "Weather forecast for the coming days in a city", city={"type": "string"})
    alerts = tool("weather_alerts", "Storm alerts issued in a region", region={"type": "string"})
    copy_ = tool("fetch_weather", "Weather in a city", city={"type": "string"})  # the gold tool renamed
    near_dup = tool("city_weather_now", "Current weather in a city", city={"type": "string"})
    pool = [forecast, alerts, copy_, near_dup, STOCK, *tool_pool(others())]
    request = "What is the weather in Oslo city today?"
    assert near_misses(pool, [WEATHER], 5, [], request) == [forecast, alerts]
    assert near_misses(pool, [WEATHER], 1, [forecast], request) == [alerts]
    # as much about the request as the removed tool: it may serve it, so it is no near miss
    assert near_misses(pool, [WEATHER], 5, [], "weather forecast for the coming days in Oslo city") == [alerts]
    exs = [fresh(0), ToolExample("p", "test", ({"role": "user", "content": "x"},), tuple(pool), ())]
    plain = irrelevance_examples(exs, MaskConfig(fraction=0, pad_tools_to=None), fraction=1.0)
    near = irrelevance_examples(exs, MaskConfig(fraction=0, pad_tools_to=None), fraction=1.0, near=2)
    assert [x.id for x in near] == [x.id for x in plain] == ["ex-0-irr"]
    # "for 1 day" in city 0: the forecast speaks of the request as much as the removed tool did
    assert near[0].meta["near_misses"] == ["weather_alerts"]
    assert [t["function"]["name"] for t in near[0].tools] == ["weather_alerts"]
    assert "near_misses" not in plain[0].meta


def test_padding_range_can_keep_one_tool_questions() -> None:
    """A low end of 1 keeps some questions with their one tool, as BFCL's simple and irrelevance
    categories ask them; a range that cannot hold a tool is refused."""
    exs = [fresh(i) for i in range(40)] + others()
    sizes = [len(x.tools) for x in mask_examples(exs, MaskConfig(fraction=0.0, pad_tools_to=(1, 3)))[:40]]
    assert set(sizes) == {1, 2, 3}
    irr = irrelevance_examples(exs, MaskConfig(fraction=0.0, pad_tools_to=(1, 2)), fraction=0.5)
    assert {len(x.tools) for x in irr} == {1, 2}
    for bad in ((0, 3), (4, 2)):
        with pytest.raises(ValueError, match="pad_tools_to"):
            MaskConfig(pad_tools_to=bad)


ALERTS = tool("weather_alerts", "Storm alerts issued in a region", region={"type": "string"})


def weather_question(i: int, gold: tuple[Call, ...] | None = None, text: str = "What is the weather in city {i} today?",
                     ) -> ToolExample:
    gold = gold if gold is not None else (Call("get_weather", {"city": f"city {i}"}),)
    return ToolExample(f"q-{i}", "test", ({"role": "user", "content": text.format(i=i)},), (WEATHER, STOCK), gold,
                       {"conversation": f"q{i}"})


def test_contrast_pairs_ask_one_question_with_its_tool_and_with_a_near_miss() -> None:
    """Each pair is one request twice, each time with one tool: the gold one (its call) and the
    nearest near miss of it (no call), masked alike; the rest of the data supplies the near miss."""
    holder = ToolExample("p", "test", ({"role": "user", "content": "x"},), (ALERTS, *tool_pool(others())), ())
    exs = [weather_question(i) for i in range(6)] + [holder]
    out = contrast_examples(exs, MaskConfig(fraction=0.5), fraction=1.0)
    assert sorted(x.id for x in out) == sorted(f"q-{i}-{end}" for i in range(6) for end in ("one", "near"))
    for right, wrong in zip(out[::2], out[1::2]):
        assert (right.id[:-4], right.meta["kind"]) == (wrong.id[:-5], "contrast-call")
        assert right.messages == wrong.messages and len(right.tools) == len(wrong.tools) == 1
        assert wrong.gold == () and wrong.meta["kind"] == "contrast-near-miss"
        assert wrong.meta["near_misses"] == ["weather_alerts"] and wrong.meta["removed_tools"] == ["get_weather"]
        assert right.meta["masked"] == wrong.meta["masked"]
        names = {"get_weather": right.tools[0]["function"]["name"], "weather_alerts": wrong.tools[0]["function"]["name"]}
        if right.meta["masked"]:
            assert names == {k: v["name"] for m in (right, wrong) for k, v in m.meta["renames"].items()}
        else:
            assert names == {"get_weather": "get_weather", "weather_alerts": "weather_alerts"}
        assert [c.name for c in right.gold] == [names["get_weather"]]
        assert right.tools[0]["function"]["description"] == "Weather in a city"
    assert sum(x.meta["masked"] for x in out) == 6
    assert [x.to_dict() for x in out] == [x.to_dict() for x in contrast_examples(exs, MaskConfig(fraction=0.5), 1.0)]
    assert len(contrast_examples(exs, MaskConfig(), fraction=2 / len(exs))) == 4


def test_contrast_pairs_need_one_call_a_tool_the_request_speaks_of_and_a_near_miss() -> None:
    holder = ToolExample("p", "test", ({"role": "user", "content": "x"},), (ALERTS,), ())
    two_calls = weather_question(0, (Call("get_weather", {"city": "a"}), Call("get_weather", {"city": "b"})))
    unspoken = weather_question(1, text="Please handle order number {i} now.")
    no_call = weather_question(2, ())
    assert contrast_examples([two_calls, unspoken, no_call, holder], MaskConfig(), fraction=1.0) == []
    assert contrast_examples([weather_question(3)], MaskConfig(), fraction=1.0) == []  # no near miss anywhere
    assert len(contrast_examples([weather_question(3), holder], MaskConfig(), fraction=1.0)) == 2
