"""Benchmark loaders on tiny hand-made files in BFCL's and Hammer's formats, and the registry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from langchain_toolprm.core.schema import normalize_tools
from langchain_toolprm.core.steps import Call
from langchain_toolprm.data.records import DataFileError, ToolExample, write_jsonl
from langchain_toolprm.evaluation.benchmarks import (
    BENCHMARKS,
    BFCL_CATEGORIES,
    Benchmark,
    benchmark_of,
    bfcl,
    bfcl_schema,
    get_benchmark,
    load_benchmark,
    load_bfcl,
    load_hammer,
    read_bfcl,
    read_hammer,
    scored_as,
)

DISTANCE = {
    "name": "geo.distance", "description": "Distance between two points.",
    "parameters": {"type": "dict", "required": ["a", "b"], "properties": {
        "a": {"type": "tuple", "items": {"type": "float"}, "description": "first point"},
        "b": {"type": "tuple", "items": {"type": "float"}, "description": "second point"},
        "unit": {"type": "string", "enum": ["km", "mi"], "optional": True, "description": "unit"},
        "scale": {"type": "float", "description": "scale", "default": 1},
        "extra": {"type": "any", "description": "anything"},
        "opts": {"type": "dict", "description": "options", "properties": {
            "fast": {"type": "boolean"}, "mode": {"type": "string"}}},
        "legs": {"type": "array", "items": {"type": "dict", "properties": {"to": {"type": "string"}}}},
        "count": {"type": "integer", "description": "count"},
    }},
}
QUESTIONS = [
    {"id": "simple_python_0", "question": [[{"role": "user", "content": "How far?"}]], "function": [DISTANCE]},
    {"id": "simple_python_1", "question": [[{"role": "system", "content": "Be brief."},
                                            {"role": "user", "content": "And now?"}]], "function": [DISTANCE]},
    {"id": "simple_python_2", "question": [[{"role": "user", "content": "one"}], [{"role": "user", "content": "two"}]],
     "function": [DISTANCE]},
]
ANSWERS = [
    {"id": "simple_python_0", "ground_truth": [{"geo.distance": {
        "a": [[1.0, 2.0]], "b": [[3.5, 4.0], [3.5, 4]], "unit": ["", "km"], "scale": [None, 2.5],
        "opts": [{"fast": ["", True], "mode": ["walk", "walking"]}], "legs": [[{"to": ["Rome"]}, {"to": ["Oslo"]}]],
        "extra": ["x"], "count": ["", None],
    }}]},
    {"id": "simple_python_1", "ground_truth": [{"geo.distance": {"a": [[0.0, 0.0]], "b": [[1.0, 1.0]]}}]},
    {"id": "simple_python_2", "ground_truth": [{"geo.distance": {"a": [[0.0, 0.0]], "b": [[1.0, 1.0]]}}]},
]


def write_lines(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


@pytest.fixture()
def bfcl_dir(tmp_path: Path) -> Path:
    root = tmp_path / "bfcl"
    write_lines(root / "BFCL_v4_simple_python.json", QUESTIONS)
    write_lines(root / "possible_answer" / "BFCL_v4_simple_python.json", ANSWERS)
    write_lines(root / "BFCL_v4_irrelevance.json", [{
        "id": "irrelevance_0", "question": [[{"role": "user", "content": "Sing."}]], "function": [DISTANCE]}])
    return root


def test_bfcl_example_fields(bfcl_dir: Path) -> None:
    ex = load_bfcl("simple_python", bfcl_dir)[0]
    assert (ex.id, ex.source) == ("simple_python_0", "bfcl-simple_python")
    assert ex.messages == ({"role": "user", "content": "How far?"},)
    assert ex.meta["category"] == "simple_python"
    assert ex.meta["bfcl_functions"] == [DISTANCE]
    assert ex.meta["possible_answer"] == ANSWERS[0]["ground_truth"]
    ex.lc_messages()


def test_bfcl_tools_become_json_schema_with_dotted_names(bfcl_dir: Path) -> None:
    ex = load_bfcl("simple_python", bfcl_dir)[0]
    (spec,) = normalize_tools(list(ex.tools))
    assert spec.name == "geo.distance" and spec.required == ("a", "b")
    params = ex.tools[0]["function"]["parameters"]
    assert params["type"] == "object"
    props = params["properties"]
    assert props["a"] == {"type": "array", "items": {"type": "number"}, "description": "first point"}
    assert props["unit"] == {"type": "string", "enum": ["km", "mi"], "description": "unit"}  # "optional" dropped
    assert props["scale"]["type"] == "number" and props["extra"]["type"] == "string"
    assert props["opts"]["type"] == "object" and props["opts"]["properties"]["fast"] == {"type": "boolean"}
    assert props["legs"]["items"]["type"] == "object" and props["count"]["type"] == "integer"


def test_bfcl_enum_idioms_become_satisfiable_schemas() -> None:
    # A list's own enum names its elements; strings listed for an integer are dropped (BFCL checks the type).
    listed = bfcl_schema({"type": "array", "items": {"type": "string"}, "enum": ["co2", "noise"]}, "f.metrics")
    assert listed == {"type": "array", "items": {"type": "string", "enum": ["co2", "noise"]}}
    assert bfcl_schema({"type": "integer", "enum": ["1", "2", "dontcare"]}, "f.n") == {"type": "integer"}
    assert bfcl_schema({"type": "string", "enum": ["a", "b"]}, "f.s") == {"type": "string", "enum": ["a", "b"]}
    specs = normalize_tools([{"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "properties": {"m": listed}, "required": ["m"]}}}])
    assert specs[0].validate_arguments({"m": ["co2"]}) is None
    assert specs[0].validate_arguments({"m": ["pm10"]}) is not None


def test_bfcl_gold_takes_first_fitting_accepted_values(bfcl_dir: Path) -> None:
    ex = load_bfcl("simple_python", bfcl_dir)[0]
    assert ex.gold == (Call("geo.distance", {
        "a": [1.0, 2.0], "b": [3.5, 4.0], "unit": "km",  # "" skipped
        "scale": 2.5,  # None does not fit a number
        "opts": {"fast": True, "mode": "walk"}, "legs": [{"to": "Rome"}, {"to": "Oslo"}],
        "extra": "x",  # "count": only "" and a misfit None -> left out
    }),)
    assert ex.specs()[0].validate_arguments(ex.gold[0].arguments) is None


def test_bfcl_required_empty_string_answer_becomes_empty_string() -> None:
    entry = {"id": "live_simple_0", "question": [[{"role": "user", "content": "q"}]], "function": [{
        "name": "f", "description": "", "parameters": {"type": "dict", "required": ["s"], "properties": {
            "s": {"type": "string"}}}}]}
    ex = bfcl.bfcl_example(entry, {"id": "live_simple_0", "ground_truth": [{"f": {"s": [""]}}]}, "live_simple")
    assert ex.gold == (Call("f", {"s": ""}),)


def test_bfcl_multi_turn_questions_are_skipped_with_a_reason(bfcl_dir: Path) -> None:
    result = read_bfcl("simple_python", bfcl_dir)
    assert [e.id for e in result.examples] == ["simple_python_0", "simple_python_1"]
    assert result.skipped == [("simple_python_2", "multi-turn question")]
    assert [m["role"] for m in result.examples[1].messages] == ["system", "user"]


def test_bfcl_limit_and_env_var(bfcl_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLPRM_BFCL_DIR", str(bfcl_dir))
    assert [e.id for e in load_bfcl("simple_python", limit=1)] == ["simple_python_0"]
    assert len(load_benchmark("bfcl", "simple_python")) == 2


def test_bfcl_irrelevance_needs_no_answers(bfcl_dir: Path) -> None:
    (ex,) = load_bfcl("irrelevance", bfcl_dir)
    assert ex.gold == () and ex.meta["possible_answer"] == [] and ex.source == "bfcl-irrelevance"


def test_bfcl_missing_data(bfcl_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DataFileError, match="pip install --no-deps bfcl-eval"):
        load_bfcl("simple_python", tmp_path / "nowhere")
    monkeypatch.delenv("TOOLPRM_BFCL_DIR", raising=False)
    monkeypatch.setattr(bfcl.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DataFileError, match="TOOLPRM_BFCL_DIR"):
        load_bfcl("simple_python")
    with pytest.raises(DataFileError, match="BFCL multiple.*TOOLPRM_BFCL_DIR"):
        load_bfcl("multiple", bfcl_dir)
    (bfcl_dir / "possible_answer" / "BFCL_v4_simple_python.json").write_text(json.dumps(ANSWERS[1]) + "\n")
    with pytest.raises(DataFileError, match="no possible answer for 'simple_python_0'"):
        load_bfcl("simple_python", bfcl_dir)
    (bfcl_dir / "BFCL_v4_irrelevance.json").write_text("{not json\n")
    with pytest.raises(DataFileError, match="not valid JSON"):
        load_bfcl("irrelevance", bfcl_dir)


def test_bfcl_unknown_category_or_type(bfcl_dir: Path) -> None:
    with pytest.raises(ValueError, match="live_simple"):
        load_bfcl("simple_java", bfcl_dir)
    with pytest.raises(DataFileError, match="unknown BFCL type 'HashMap'"):
        bfcl.bfcl_tool({"name": "f", "parameters": {"type": "dict", "properties": {"m": {"type": "HashMap"}}}})
    assert len(BFCL_CATEGORIES) == 10


# ------------------------------------------------------------------------------------- Hammer

PROMPT = """<|im_start|>user
[BEGIN OF TASK INSTRUCTION]
Call tools.
[END OF TASK INSTRUCTION]

[BEGIN OF AVAILABLE TOOLS]
{tools}
[END OF AVAILABLE TOOLS]

[BEGIN OF FORMAT INSTRUCTION]
Answer with a JSON list.
[END OF FORMAT INSTRUCTION]

<|im_end|>
{turns}"""
TOOLS = [
    {"name": "GetToken", "description": "Log in.", "parameters": {
        "user": {"type": "str", "description": "user name"}, "tags": {"type": "list(str)", "description": "tags"}},
     "return": {"token": {"type": "str"}}},
    {"name": "CountryInfo", "description": "Country facts.", "parameters": {
        "code": {"type": "string", "description": "ISO code", "required": True},
        "year": {"type": "integer", "description": ""}}},
]


def turn(role: str, text: str) -> str:
    return f"<|im_start|>{role}\n{text}<|im_end|>\n"


def hammer_item(turns: str, output: str, tools: list[dict[str, Any]] = TOOLS) -> dict[str, str]:
    return {"instruction": PROMPT.format(tools=json.dumps(tools), turns=turns), "input": "", "output": output}


@pytest.fixture()
def shared_dir(tmp_path: Path) -> Path:
    items = [
        hammer_item(turn("user", "Facts about China?"), '```\n[{"name": "CountryInfo", "arguments": {"code": "CN"}}]\n```'),
        hammer_item(
            turn("user", "Log me in") + turn("agent", "Sure.")
            + turn("assistant", '```[{"name": "GetToken", "arguments": {"user": "ann"}}]```')
            + turn("tool", "{'token': 't1'}") + turn("agent", "Done.") + turn("user", "Now France."),
            '```\n[{"name": "CountryInfo", "arguments": {"code": "FR"}}, {"name": "CountryInfo", "arguments": {"code": "DE"}}]\n```',
        ),
        hammer_item(turn("user", "Hi"), "```\n[]\n```"),
        hammer_item(turn("user", "Broken label"), "```\n[{\"name\": \n```"),
        hammer_item(turn("user", "Odd type"), "[]", [{"name": "T", "parameters": {"x": {"type": "tensor"}}}]),
        hammer_item(turn("narrator", "Who?"), "[]"),
        {**hammer_item(turn("user", "Hi"), "[]"), "input": "stray text"},
    ]
    folder = tmp_path / "data" / "hammer_f1"
    folder.mkdir(parents=True)
    (folder / "toolalpaca.json").write_text(json.dumps(items), encoding="utf-8")
    return tmp_path / "data"


def test_hammer_items_parse(shared_dir: Path) -> None:
    examples = load_hammer("toolalpaca", shared_dir)
    assert [e.id for e in examples] == ["toolalpaca-0", "toolalpaca-1", "toolalpaca-2"]
    first, second, third = examples
    assert first.source == "toolalpaca" and first.messages == ({"role": "user", "content": "Facts about China?"},)
    assert first.gold == (Call("CountryInfo", {"code": "CN"}),)
    specs = {s.name: s for s in first.specs()}
    assert specs["CountryInfo"].required == ("code",)
    assert specs["GetToken"].param("tags").schema == {"type": "array", "items": {"type": "string"}, "description": "tags"}
    assert [m["role"] for m in second.messages] == ["user", "assistant", "assistant", "tool", "assistant", "user"]
    call_msg, tool_msg = second.messages[2], second.messages[3]
    assert call_msg["tool_calls"][0]["function"] == {"name": "GetToken", "arguments": '{"user": "ann"}'}
    assert tool_msg["tool_call_id"] == call_msg["tool_calls"][0]["id"]
    assert second.lc_messages()[2].tool_calls[0]["args"] == {"user": "ann"}
    assert len(second.gold) == 2 and third.gold == ()


def test_hammer_unparseable_items_are_counted(shared_dir: Path) -> None:
    result = read_hammer("toolalpaca", shared_dir)
    assert len(result.examples) == 3
    reasons = dict(result.skipped)
    assert list(reasons) == ["toolalpaca-3", "toolalpaca-4", "toolalpaca-5", "toolalpaca-6"]
    assert "JSONDecodeError" in reasons["toolalpaca-3"]
    assert "unknown type 'tensor'" in reasons["toolalpaca-4"]
    assert "unknown role 'narrator'" in reasons["toolalpaca-5"]
    assert "'input'" in reasons["toolalpaca-6"]
    assert len(read_hammer("toolalpaca", shared_dir, limit=2).examples) == 2


def test_hammer_missing_or_unknown(shared_dir: Path) -> None:
    with pytest.raises(DataFileError, match="apibank_l1"):
        load_hammer("apibank_l1", shared_dir)
    with pytest.raises(ValueError, match="toolalpaca, apibank_l1"):
        load_hammer("toolbench", shared_dir)  # type: ignore[arg-type]


def test_load_benchmark_dispatch(shared_dir: Path, bfcl_dir: Path) -> None:
    assert len(load_benchmark("toolalpaca", data_dir=shared_dir, limit=1)) == 1
    assert len(load_benchmark("bfcl", "simple_python", bfcl_dir)) == 2
    with pytest.raises(ValueError, match="needs a category"):
        load_benchmark("bfcl")
    with pytest.raises(ValueError, match="no categories"):
        load_benchmark("toolalpaca", "simple", shared_dir)
    with pytest.raises(ValueError, match="valid: bfcl, toolalpaca, apibank_l1, heldout"):
        load_benchmark("toolbench")


def test_heldout_reads_the_dataset_split(tmp_path: Path) -> None:
    """The held-out split of build-dataset, where a tuned policy's settings are chosen."""
    examples = [ToolExample(f"glaive-{i}", "glaive", ({"role": "user", "content": f"weather in {city}"},), (), ())
                for i, city in enumerate(["Oslo", "Rome"])]
    with pytest.raises(ValueError, match="heldout needs --data-dir"):
        load_benchmark("heldout")
    with pytest.raises(DataFileError, match="held-out examples"):
        load_benchmark("heldout", data_dir=tmp_path)
    write_jsonl(tmp_path / "examples_test.jsonl", examples)
    loaded = load_benchmark("heldout", data_dir=tmp_path)
    assert [(ex.id, ex.source, ex.meta["category"], ex.messages) for ex in loaded] == [
        (ex.id, "heldout-glaive", "glaive", ex.messages) for ex in examples]
    assert benchmark_of(loaded[0]) == ("heldout", "glaive")  # results group by training source
    assert len(load_benchmark("heldout", data_dir=tmp_path, limit=1)) == 1
    with pytest.raises(ValueError, match="no categories"):
        load_benchmark("heldout", "simple_python", tmp_path)


# ----------------------------------------------------------------------------------- registry

PROTOCOL = [name for name in vars(Benchmark) if not name.startswith("_")]


def test_every_registered_benchmark_meets_the_protocol(shared_dir: Path, bfcl_dir: Path) -> None:
    assert PROTOCOL == ["name", "categories", "default_categories", "columns", "load", "score", "quality"]
    assert list(BENCHMARKS) == ["bfcl", "toolalpaca", "apibank_l1", "heldout"]
    scored = {"correct": True, "exact": True, "no_output": False, "name_f1": 1.0, "arg_f1": 0.5}
    for name, bench in BENCHMARKS.items():
        assert all(hasattr(bench, member) for member in PROTOCOL), name
        assert bench.name == name and get_benchmark(name) is bench and scored_as(name) is bench
        assert isinstance(bench.categories, tuple) and set(bench.default_categories) <= set(bench.categories)
        assert isinstance(bench.columns, tuple) and len(bench.quality([scored])) == len(bench.columns) > 0
    assert BENCHMARKS["bfcl"].default_categories == BFCL_CATEGORIES[:5]  # the non-live ones
    # Each scores its own items (BFCL by its AST rules, the Hammer sets by F1).
    for name, data_dir, category in (("bfcl", bfcl_dir, "simple_python"), ("toolalpaca", shared_dir, None)):
        ex = load_benchmark(name, category, data_dir)[0]
        assert benchmark_of(ex) == (name, category)
        assert BENCHMARKS[name].score(ex, list(ex.gold))["correct"] is True
        assert BENCHMARKS[name].score(ex, None)["correct"] is False


def test_an_unknown_benchmark_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown benchmark 'toolbench'; valid: bfcl, toolalpaca, apibank_l1, heldout"):
        get_benchmark("toolbench")
    # Results of items loaded outside the registry (a training source's held-out queries) are
    # scored and reported as the held-out split's are.
    assert scored_as("glaive") is BENCHMARKS["heldout"]
