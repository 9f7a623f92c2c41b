"""Source loaders on tiny hand-made files: happy paths, skip reasons, missing and malformed files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from langchain_toolprm.core.steps import Call, segment
from langchain_toolprm.data.labels import label_steps
from langchain_toolprm.data.records import DataFileError
from langchain_toolprm.data.sources import (
    ALL_SOURCES,
    load_apibank_lv3,
    load_apibank_lv3_replies,
    load_glaive,
    load_sealtools,
    load_toolace,
    load_training_sources,
    parse_api_call,
)


def write(path: Path, data: object, jsonl: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(json.dumps(x) for x in data) if jsonl else json.dumps(data)  # type: ignore[union-attr]
    path.write_text(text)


# ---------------------------------------------------------------- Seal-Tools

CATALOGUE = [
    {"api_name": "getWeather", "api_description": "Weather for a city", "parameters": {
        "city": {"type": "str", "description": "City"}, "days": {"type": "int", "description": "Days", "default": 1},
        "detailed": {"type": "bool", "description": "More detail", "default": False}},
     "required": ["city"], "responses": {}},
    {"api_name": "getPrice", "api_description": "Price", "parameters": {
        "items": {"type": "list", "description": "Items"}, "budget": {"type": "float", "description": "Budget"}},
     "required": ["items"], "responses": {}},
]


def sealtools(root: Path) -> None:
    base = root / "train_sources" / "sealtools"
    write(base / "tool.jsonl", CATALOGUE, jsonl=True)
    write(base / "dev.jsonl", [
        {"id": "a", "query": "Weather in Oslo for 3 days", "calling": [
            {"api": "getWeather", "parameters": {"city": "Oslo", "days": "3"}, "responses": ["API_call_0"]}]},
        {"id": "b", "query": "Price of pens, then weather", "calling": [
            {"api": "getPrice", "parameters": {"items": ["pen"], "budget": 5}, "responses": ["API_call_0"]},
            {"api": "getWeather", "parameters": {"city": "API_call_0"}, "responses": ["API_call_1"]}]},
        {"id": "c", "query": "Stock?", "calling": [{"api": "getStock", "parameters": {}, "responses": []}]},
        {"id": "d", "query": "Weather", "calling": [{"api": "getWeather", "parameters": {"days": 2}}]},
        {"id": "e", "query": 5},
    ], jsonl=True)


def test_sealtools(tmp_path: Path) -> None:
    sealtools(tmp_path)
    report = load_sealtools(tmp_path)
    assert report.source == "sealtools" and [e.id for e in report.examples] == ["sealtools-0"]
    ex = report.examples[0]
    assert ex.messages == ({"role": "user", "content": "Weather in Oslo for 3 days"},)
    assert ex.gold == (Call("getWeather", {"city": "Oslo", "days": 3}),)  # "3" coerced to the int schema
    (spec,) = ex.specs()
    assert spec.required == ("city",)
    assert spec.param("days").schema == {"type": "integer", "description": "Days", "default": 1}
    assert spec.param("detailed").schema["type"] == "boolean"
    assert ex.meta["conversation"] == "sealtools-a"
    assert report.skipped == {
        "argument refers to an earlier call's output": 1, "API not in the catalogue": 1,
        "gold call lacks a required argument": 1, "malformed record": 1,
    }


# ---------------------------------------------------------------- glaive

WEATHER = {"name": "get_weather", "description": "Weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "int"}}, "required": ["city"]}}


def glaive(root: Path, records: list | None = None) -> None:
    fc = {"from": "function_call", "value": json.dumps({"name": "get_weather", "arguments": {"city": "Oslo"}})}
    fc2 = {"from": "function_call", "value": json.dumps({"name": "get_weather", "arguments": '{"city": "Rome"}'})}
    write(root / "train_sources" / "glaive" / "glaive_toolcall_en_demo.json", records if records is not None else [
        {"conversations": [
            {"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello! Which city?"},
            {"from": "human", "value": "Oslo and Rome"}, fc, fc2,
            {"from": "observation", "value": '{"t": 1}'}, {"from": "observation", "value": '{"t": 2}'},
            {"from": "gpt", "value": "Cold in both."},
        ], "tools": json.dumps([WEATHER])},
        {"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hi!"}], "tools": "[]"},
        {"conversations": [{"from": "human", "value": "Go"}, {"from": "function_call", "value": "{not json"},
                           {"from": "gpt", "value": "x"}], "tools": json.dumps([WEATHER])},
        {"conversations": [{"from": "human", "value": "Go"}, {"from": "function_call", "value": json.dumps(
            {"name": "get_weather", "arguments": {"town": "x"}})}], "tools": json.dumps([WEATHER])},
        {"tools": "[]"},
    ])


def test_glaive(tmp_path: Path) -> None:
    glaive(tmp_path)
    report = load_glaive(tmp_path)
    kinds = [(e.id, e.meta["kind"], len(e.gold)) for e in report.examples]
    assert kinds == [("glaive-0", "no_call", 0), ("glaive-1", "call", 2), ("glaive-2", "reply_after_result", 0)]
    assert [e.meta.get("reply") for e in report.examples] == ["Hello! Which city?", None, "Cold in both."]
    call, reply = report.examples[1], report.examples[2]
    assert call.gold == (Call("get_weather", {"city": "Oslo"}), Call("get_weather", {"city": "Rome"}))
    assert [m["role"] for m in call.messages] == ["user", "assistant", "user"]
    assert call.specs()[0].param("days").schema == {"type": "integer"}  # "int" -> JSON Schema
    roles = [m["role"] for m in reply.messages]
    assert roles == ["user", "assistant", "user", "assistant", "tool", "tool"]
    ids = [tc["id"] for tc in reply.messages[3]["tool_calls"]]
    assert [m["tool_call_id"] for m in reply.messages[4:]] == ids and len(set(ids)) == 2
    assert reply.messages[5]["content"] == '{"t": 2}'
    reply.lc_messages()
    assert {e.meta["conversation"] for e in report.examples} == {"glaive-c0"}
    assert report.skipped == {
        "conversation offers no tools": 1, "malformed function_call turn": 1,
        "gold call has an argument its tool does not declare": 1, "malformed record": 1,
    }


# ---------------------------------------------------------------- ToolACE

TOOLACE_TOOLS = [
    {"name": "Market Trends API", "description": "Trends", "parameters": {"type": "dict", "properties": {
        "trend_type": {"type": "string", "enum": ["A", "B"]}, "page": {"type": "float", "default": ""}},
        "required": ["trend_type"]}, "required": None},
    {"name": "Croatia Songs API", "description": "Songs", "parameters": {"type": "dict", "properties": {
        "range": {"type": "string"}}, "required": ["range"]}},
    {"name": "Netherlands Songs API", "description": "Songs", "parameters": {"type": "dict", "properties": {
        "range": {"type": "string"}}, "required": ["range"]}},
]


def toolace(root: Path) -> None:
    system = ("You are an expert.\nHere is a list of functions in JSON format that you can invoke:\n"
              + json.dumps(TOOLACE_TOOLS) + ". \nShould you decide to return the function call(s).")
    calls = [{"name": "API", "arguments": {"trend_type": "A"}}, {"name": "API", "arguments": {"trend_type": "B"}}]
    write(root / "train_sources" / "toolace" / "sharegpt_func_fixed.json", [
        {"system": system, "tools": "[]", "conversations": [
            {"from": "human", "value": "Trends A and B?"},
            {"from": "function_call", "value": json.dumps(calls)},
            {"from": "observation", "value": json.dumps([{"name": "Market Trends API", "results": {"x": 1}},
                                                         {"name": "Market Trends API", "results": {"x": 2}}])},
            {"from": "gpt", "value": "Here."}, {"from": "human", "value": "Songs?"},
            {"from": "function_call", "value": json.dumps({"name": "API", "arguments": {"range": "1-10"}})},
        ]},
        {"system": "no tools here", "tools": "[]", "conversations": [{"from": "human", "value": "x"}]},
    ])


def test_toolace(tmp_path: Path) -> None:
    toolace(tmp_path)
    report = load_toolace(tmp_path)
    assert [e.meta["kind"] for e in report.examples] == ["call", "reply_after_result"]
    call, reply = report.examples
    # the "fixed" file keeps only the last word of a name: resolved to the one tool it can mean
    assert call.gold == (Call("Market Trends API", {"trend_type": "A"}), Call("Market Trends API", {"trend_type": "B"}))
    assert all(m["role"] != "system" for m in call.messages)
    assert "default" not in call.specs()[0].param("page").schema  # "" is no number: dropped
    assert call.specs()[0].param("page").schema["type"] == "number"
    assert [m["content"] for m in reply.messages if m["role"] == "tool"] == ['{"x": 1}', '{"x": 2}']
    assert report.skipped == {"call name is ambiguous": 1, "conversation offers no tools": 1}


# ---------------------------------------------------------------- API-Bank level-3

SEARCHER = json.dumps({"apiCode": "ToolSearcher", "description": "Searches tools.", "parameters": {
    "keywords": {"type": "str", "description": "Keywords."}}, "response": {}})
FOUND = ("{'name': 'DoctorFinder', 'description': 'Finds a doctor's office.', 'input_parameters': {"
         "'location': {'type': str, 'description': 'City.'}, 'visits': {'type': 'int', 'description': 'N.'}}, "
         "'output_parameters': {}}")


def apibank(root: Path) -> None:
    head = SEARCHER + "\nUser: Find a doctor in Los Angeles, twice.TIME: 2034-04-15 10:00:00\n"
    searched = head + "API-Request: [ToolSearcher(keywords='doctor finder')]->" + FOUND + "\n"
    write(root / "apibank" / "train" / "lv3-api-train.json", [
        {"instruction": "", "input": head + "Generate API Request: ",
         "output": "API-Request: [ToolSearcher(keywords='doctor finder')]"},
        {"instruction": "", "input": searched + "Generate API Request: ",
         "output": "API-Request: [DoctorFinder(location=Los Angeles, CA, visits=2)]"},
        {"instruction": "", "input": searched + "AI: Found one.\nGenerate API Request: ",
         "output": "API-Request: DoctorFinder(location='LA', visits='2')"},
        {"instruction": "", "input": head, "output": "API-Request: [Unknown(x=1)]"},
        {"instruction": "", "input": head, "output": "Sorry"},
        {"instruction": "", "input": 3, "output": ""},
    ])


def test_apibank(tmp_path: Path) -> None:
    apibank(tmp_path)
    report = load_apibank_lv3(tmp_path)
    assert [e.id for e in report.examples] == ["apibank_lv3-0", "apibank_lv3-1", "apibank_lv3-2"]
    first, second, third = report.examples
    assert first.messages == (
        {"role": "system", "content": "The current time is 2034-04-15 10:00:00."},
        {"role": "user", "content": "Find a doctor in Los Angeles, twice."},
    )
    assert [t["function"]["name"] for t in first.tools] == ["ToolSearcher"]
    assert first.gold == (Call("ToolSearcher", {"keywords": "doctor finder"}),)
    assert second.gold == (Call("DoctorFinder", {"location": "Los Angeles, CA", "visits": 2}),)
    assert [t["function"]["name"] for t in second.tools] == ["ToolSearcher", "DoctorFinder"]
    assert second.specs()[1].required == ("location", "visits")
    tool_msg = second.messages[-1]
    assert tool_msg["role"] == "tool" and json.loads(tool_msg["content"]) == {
        "name": "DoctorFinder", "description": "Finds a doctor's office."}
    assert third.gold == (Call("DoctorFinder", {"location": "LA", "visits": 2}),)
    assert third.messages[-1] == {"role": "assistant", "content": "Found one."}
    assert len({e.meta["conversation"] for e in report.examples}) == 1
    assert report.skipped == {"gold call to a tool that is not offered": 1, "output is not an API request": 1,
                              "malformed record": 1}


def test_apibank_replies_are_examples_with_no_gold_call(tmp_path: Path) -> None:
    """A level-3 reply item: the conversation with its API results, then the reply (gold: no call)."""
    called = (SEARCHER + "\nUser: Find a doctor in Los Angeles, twice.TIME: 2034-04-15 10:00:00\n"
              "API-Request: [ToolSearcher(keywords='doctor finder')]->" + FOUND + "\n"
              "API-Request: [DoctorFinder(location='LA', visits=2)]->{'doctors': ['Dr. Lee']}\n")
    write(tmp_path / "apibank" / "train" / "lv3-response-train.json", [
        {"instruction": "", "input": called + "Generate AI Response: ", "output": "AI: Dr. Lee is free.\n"},
        {"instruction": "", "input": called, "output": "API-Request: [DoctorFinder(location='LA', visits=2)]"},
    ])
    report = load_apibank_lv3_replies(tmp_path)
    [ex] = report.examples
    assert ex.id == "apibank_lv3_replies-0" and ex.gold == () and ex.meta["kind"] == "reply_after_result"
    assert [m["role"] for m in ex.messages] == ["system", "user", "assistant", "tool", "assistant", "tool"]
    assert [t["function"]["name"] for t in ex.tools] == ["ToolSearcher", "DoctorFinder"]
    assert report.skipped == {"output is not an AI reply": 1}
    # read on request only: the PRM data's default sources stay the four
    assert [r.source for r in load_training_sources(tmp_path, ["apibank_lv3_replies"])] == ["apibank_lv3_replies"]
    assert "apibank_lv3_replies" not in ALL_SOURCES


@pytest.mark.parametrize(("text", "call", "rest"), [
    ("[A(x='1', y=2)]", Call("A", {"x": "1", "y": 2}), ""),
    ("[A(d=2023-10-15, t=10:00)]->{'ok': 1}", Call("A", {"d": "2023-10-15", "t": "10:00"}), "->{'ok': 1}"),
    ("A(name=John Smith, note='a, b=c')", Call("A", {"name": "John Smith", "note": "a, b=c"}), ""),
    ("[A()]", Call("A", {}), ""),
    ('[A(q="it\'s (x)")]', Call("A", {"q": "it's (x)"}), ""),
])
def test_parse_api_call(text: str, call: Call, rest: str) -> None:
    assert parse_api_call(text) == (call, rest)


# ---------------------------------------------------------------- all sources, errors


def test_load_training_sources_and_gold_labels(tmp_path: Path) -> None:
    sealtools(tmp_path), glaive(tmp_path), toolace(tmp_path), apibank(tmp_path)
    reports = load_training_sources(tmp_path)
    assert [r.source for r in reports] == list(ALL_SOURCES)
    for report in reports:
        for ex in report.examples:
            assert ex.source == report.source and ex.specs()
            assert all(label_steps(segment(list(ex.gold)), ex.gold, ex.specs()))
    assert [r.source for r in load_training_sources(tmp_path, ["glaive"])] == ["glaive"]
    with pytest.raises(ValueError, match="unknown source"):
        load_training_sources(tmp_path, ["nope"])


@pytest.mark.parametrize(("loader", "name"), [
    (load_sealtools, "dev.jsonl"), (load_glaive, "glaive_toolcall_en_demo.json"),
    (load_toolace, "sharegpt_func_fixed.json"), (load_apibank_lv3, "lv3-api-train.json"),
    (load_apibank_lv3_replies, "lv3-response-train.json"),
])
def test_missing_file(tmp_path: Path, loader, name: str) -> None:  # noqa: ANN001
    with pytest.raises(DataFileError, match=name):
        loader(tmp_path)


def test_missing_catalogue(tmp_path: Path) -> None:
    sealtools(tmp_path)
    (tmp_path / "train_sources" / "sealtools" / "tool.jsonl").unlink()
    with pytest.raises(DataFileError, match="tool.jsonl"):
        load_sealtools(tmp_path)


@pytest.mark.parametrize(("make", "loader", "rel"), [
    (sealtools, load_sealtools, "train_sources/sealtools/dev.jsonl"),
    (glaive, load_glaive, "train_sources/glaive/glaive_toolcall_en_demo.json"),
    (toolace, load_toolace, "train_sources/toolace/sharegpt_func_fixed.json"),
    (apibank, load_apibank_lv3, "apibank/train/lv3-api-train.json"),
])
def test_malformed_json(tmp_path: Path, make, loader, rel: str) -> None:  # noqa: ANN001
    make(tmp_path)
    path = tmp_path / rel
    path.write_text(path.read_text()[:-5] + "\n{oops")
    with pytest.raises(DataFileError, match="not valid JSON") as err:
        loader(tmp_path)
    assert path.name in str(err.value)


def test_not_a_list(tmp_path: Path) -> None:
    glaive(tmp_path, records={"conversations": []})  # type: ignore[arg-type]
    with pytest.raises(DataFileError, match="expected a JSON list"):
        load_glaive(tmp_path)
