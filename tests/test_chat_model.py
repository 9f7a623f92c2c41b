"""ToolPRMChatModel on tiny random-weight models: both prompt paths (the built-in prompt of the
gemma3 model without a chat template, and the qwen2 tool-aware chat template).

Random weights decide nothing meaningful, so the tools here mostly take finite values (enums,
booleans): every call the search starts can then finish, and the assertions check what the
chat model guarantees (tool_choice, schema validity, metadata, errors, sharing, plumbing)
rather than what a trained policy would answer.
"""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import Any, Literal

import jsonschema
import pytest
import torch
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.runnables import RunnableBinding
from langchain_core.tools import BaseTool, tool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel, Field, ValidationError

from langchain_toolprm import ContextLengthError, ToolPRMChatModel, ToolSchemaError, TransformersBackend
from langchain_toolprm.testing import QUESTION, build_tiny_model, get_weather, set_alarm


@tool
def count_items(n: int) -> int:
    """Count the items the user names."""
    return n


TOOLS: list[BaseTool] = [get_weather, set_alarm]
SCHEMAS = {t.name: convert_to_openai_tool(t)["function"]["parameters"] for t in (*TOOLS, count_items)}


class Weather(BaseModel):
    """Report the weather."""

    city: Literal["paris", "tokyo"] = Field(description="the city")
    windy: bool = Field(description="whether it is windy")


WEATHER_SCHEMA: dict[str, Any] = {
    "title": "weather_report",
    "description": "Report the weather.",
    "type": "object",
    "properties": {
        "city": {"type": "string", "enum": ["paris", "tokyo"]},
        "windy": {"type": "boolean"},
    },
    "required": ["city", "windy"],
}


@pytest.fixture(params=["gemma3", "qwen2"])
def chat(request: pytest.FixtureRequest) -> ToolPRMChatModel:
    """A chat model over a shared tiny policy, once per prompt path."""
    fixture = "tiny_policy" if request.param == "gemma3" else "tiny_qwen_policy"
    policy: TransformersBackend = request.getfixturevalue(fixture)
    return ToolPRMChatModel(backend=policy, max_tokens=16, max_value_tokens=12)


def assert_valid_calls(message: BaseMessage, schemas: dict[str, dict[str, Any]] = SCHEMAS) -> None:
    """Every tool call names a bound tool, validates against its schema and has its own id."""
    assert isinstance(message, AIMessage)
    assert message.invalid_tool_calls == []
    ids = [c["id"] for c in message.tool_calls]
    assert all(ids) and len(set(ids)) == len(ids)
    for call in message.tool_calls:
        assert call["name"] in schemas
        jsonschema.validate(call["args"], schemas[call["name"]])


def assert_metadata(message: AIMessage, searched: bool = True) -> None:
    meta = message.response_metadata
    assert meta["model_name"]
    assert meta["finish_reason"] == ("tool_calls" if message.tool_calls else "stop")
    if searched:
        assert isinstance(meta["search"]["trace"], list) and meta["search"]["trace"]
    else:
        assert "search" not in meta
    usage = message.usage_metadata
    assert usage is not None
    assert usage["input_tokens"] > 0 and usage["output_tokens"] >= 0
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert usage["input_tokens"] == meta["policy_input_tokens"] + meta["scorer_input_tokens"]


def calls_of(message: BaseMessage) -> list[tuple[str, Any]]:
    assert isinstance(message, AIMessage)
    return [(c["name"], c["args"]) for c in message.tool_calls]


# ---- tool_choice --------------------------------------------------------------------------
@pytest.mark.parametrize("choice", ["any", "required", True])
def test_required_choices_always_call(chat: ToolPRMChatModel, choice: Any) -> None:
    for seed in (0, 1):
        message = chat.bind_tools(TOOLS, tool_choice=choice).invoke(QUESTION, seed=seed)
        assert len(message.tool_calls) >= 1
        assert_valid_calls(message)
        assert_metadata(message)
        # A call is required: the empty list is never a candidate at the first step.
        first = message.response_metadata["search"]["trace"][0]["candidates"]
        assert first and all(c["tag"] == "FUNC_NAME" for c in first)


@pytest.mark.parametrize(
    "choice", ["set_alarm", {"type": "function", "function": {"name": "set_alarm"}}, {"name": "set_alarm"}],
    ids=["name", "openai-dict", "name-dict"],
)
def test_named_choice_forces_first_call(chat: ToolPRMChatModel, choice: Any) -> None:
    for seed in (0, 1):
        message = chat.bind_tools(TOOLS, tool_choice=choice).invoke(QUESTION, seed=seed)
        assert message.tool_calls and message.tool_calls[0]["name"] == "set_alarm"
        assert_valid_calls(message)
        first = message.response_metadata["search"]["trace"][0]["candidates"]
        assert all(c["tag"] == "FUNC_NAME" and "set_alarm" in c["text"] for c in first)


def test_none_choice_answers_in_prose(chat: ToolPRMChatModel) -> None:
    message = chat.bind_tools(TOOLS, tool_choice="none").invoke(QUESTION)
    assert message.tool_calls == [] and message.invalid_tool_calls == []
    assert isinstance(message.content, str) and message.content
    assert_metadata(message, searched=False)
    assert message.usage_metadata["output_tokens"] > 0
    assert message.usage_metadata["output_tokens"] <= chat.max_tokens
    # With calls disabled the tools are left out of the prompt: same prompt as no tools at all.
    plain = chat.invoke(QUESTION)
    assert plain.content == message.content
    # same output; the second call feeds fewer tokens as its prompt is already encoded
    assert plain.usage_metadata["output_tokens"] == message.usage_metadata["output_tokens"]
    assert plain.usage_metadata["input_tokens"] < message.usage_metadata["input_tokens"]


@pytest.mark.parametrize("choice", ["auto", None])
def test_auto_choice_calls_or_answers(chat: ToolPRMChatModel, choice: Any) -> None:
    for seed in (0, 1, 2):
        message = chat.bind_tools(TOOLS, tool_choice=choice).invoke(QUESTION, seed=seed)
        assert_valid_calls(message)
        assert_metadata(message)
        if message.tool_calls:
            assert message.content == ""
        else:
            assert isinstance(message.content, str)
            assert message.usage_metadata["output_tokens"] > 0  # the prose reply was sampled


def test_unknown_tool_choice_lists_options(tiny_chat: ToolPRMChatModel) -> None:
    with pytest.raises(ValueError) as info:
        tiny_chat.bind_tools(TOOLS, tool_choice="no_such_tool")
    text = str(info.value)
    for option in ("'auto'", "'none'", "'any'", "'required'", "get_weather", "set_alarm"):
        assert option in text
    with pytest.raises(ValueError, match="unknown tool_choice"):
        tiny_chat.bind_tools(TOOLS, tool_choice={"type": "function", "function": {"name": "nope"}})
    # Bound without bind_tools' check, the same error comes at invoke time.
    raw = tiny_chat.bind(tools=[convert_to_openai_tool(t) for t in TOOLS], tool_choice="nope")
    with pytest.raises(ValueError, match="unknown tool_choice"):
        raw.invoke(QUESTION)


def test_parallel_tool_calls_false_gives_one_call(chat: ToolPRMChatModel) -> None:
    one = chat.bind_tools([count_items], tool_choice="any", parallel_tool_calls=False)
    for seed in (0, 1):
        message = one.invoke("count 3 items then 4 items", seed=seed)
        assert len(message.tool_calls) == 1
        assert_valid_calls(message)
        # After the one call, closing the list is the only step left.
        after = message.response_metadata["search"]["trace"][-2]["candidates"]
        assert all(c["tag"] == "TOTAL_FINISH" for c in after)


def test_tool_calls_validate_and_report_usage(chat: ToolPRMChatModel) -> None:
    message = chat.bind_tools([count_items, *TOOLS], tool_choice="count_items").invoke("count 3 items")
    assert message.tool_calls and message.tool_calls[0]["name"] == "count_items"
    assert_valid_calls(message)
    assert_metadata(message)
    assert all(isinstance(c["args"]["n"], int) for c in message.tool_calls)
    assert message.usage_metadata["output_tokens"] > 0  # the integer value was sampled
    meta = message.response_metadata
    assert meta["model_name"] == chat.model_name
    assert meta["search"]["strategy"] == "beam"
    assert meta["search"]["trace"][-1]["chosen"]


# ---- bad input ----------------------------------------------------------------------------
def test_bad_tool_lists_fail_at_bind_time_without_loading() -> None:
    model = ToolPRMChatModel()  # the embedded default: nothing may load it here
    with pytest.raises(ToolSchemaError, match="empty"):
        model.bind_tools([])

    other = {"name": "get_weather", "description": "x",
             "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}
    with pytest.raises(ToolSchemaError, match="duplicate tool name 'get_weather'"):
        model.bind_tools([get_weather, other])

    bad = {"name": "lookup", "description": "Look something up.",
           "parameters": {"type": "object",
                          "properties": {"query": {"type": "string", "minLength": 5, "maxLength": 2}}}}
    with pytest.raises(ToolSchemaError) as info:
        model.bind_tools([bad])
    assert "'lookup'" in str(info.value) and "'query'" in str(info.value) and "minLength 5 is greater than maxLength 2" in str(info.value)
    assert isinstance(info.value, ValueError)
    assert model._holder.loaded is None


def test_repeated_identical_tool_is_bound_once(tiny_chat: ToolPRMChatModel) -> None:
    """A pydantic model and its own JSON schema are the same tool (titles aside)."""
    bound = tiny_chat.bind_tools([Weather, Weather.model_json_schema()], tool_choice="any")
    assert isinstance(bound, RunnableBinding)
    assert [t["function"]["name"] for t in bound.kwargs["tools"]] == ["Weather"]
    message = bound.invoke("is it windy in paris")
    assert_valid_calls(message, {"Weather": Weather.model_json_schema()})


@pytest.fixture(scope="module")
def short_context_model(tmp_path_factory: pytest.TempPathFactory) -> ToolPRMChatModel:
    path = build_tiny_model(tmp_path_factory.mktemp("tiny-ctx64"), "gemma3", max_context=64)
    return ToolPRMChatModel(model=str(path), max_tokens=8, max_value_tokens=4)


def test_prompt_longer_than_context_is_an_error(short_context_model: ToolPRMChatModel) -> None:
    long = "please " * 200 + "what is the weather in paris"
    with pytest.raises(ContextLengthError, match="context window is 64 tokens"):
        short_context_model.invoke(long)
    with pytest.raises(ContextLengthError):
        short_context_model.bind_tools(TOOLS, tool_choice="any").invoke(long)


@pytest.mark.parametrize("block", [
    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
    {"type": "image", "base64": "iVBORw0KGgo=", "mime_type": "image/png"},
], ids=["openai", "v1"])
def test_image_content_is_rejected(chat: ToolPRMChatModel, block: dict[str, Any]) -> None:
    message = HumanMessage(content=[{"type": "text", "text": "what is in this picture"}, block])
    with pytest.raises(ValueError, match="not supported"):
        chat.invoke([message])
    with pytest.raises(ValueError, match="not supported"):
        chat.bind_tools(TOOLS).invoke([message])


def test_per_call_model_override_is_rejected(tiny_chat: ToolPRMChatModel) -> None:
    with pytest.raises(ValueError, match="per-call model"):
        tiny_chat.invoke(QUESTION, model="some-other-model")
    assert tiny_chat._get_ls_params(model="x")["ls_model_name"] == "x"
    assert tiny_chat._get_ls_params()["ls_model_name"] == tiny_chat.model_name


def test_unknown_strategy_is_rejected() -> None:
    with pytest.raises(ValidationError):
        ToolPRMChatModel(strategy="exhaustive")


@pytest.mark.parametrize("setting", [
    {"temperature": float("nan")}, {"temperature": -0.5}, {"temperature": float("inf")},
    {"max_calls": 0}, {"max_value_tokens": 0}, {"max_tokens": -1}, {"m_explore": 0}, {"n_retain": -1},
    {"timeout": 0}, {"timeout": -3.0}, {"max_prompt_tokens": 0}, {"policy_weight": -1},
    {"widen_below": 0}, {"widen_below": 1.5}, {"widen_policy": -0.1},
])
def test_bad_settings_fail_at_construction(setting: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match=next(iter(setting))):
        ToolPRMChatModel(**setting)


@pytest.mark.parametrize(("override", "message"), [
    ({"temperature": float("nan")}, "temperature"), ({"max_tokens": 0}, "max_tokens"),
    ({"max_calls": 0}, "max_calls"), ({"m_explore": 0}, "m_explore"), ({"timeout": 0}, "timeout"),
    ({"max_value_tokens": -2}, "max_value_tokens"),
])
def test_bad_per_call_settings_fail_before_loading(override: dict[str, Any], message: str) -> None:
    llm = ToolPRMChatModel(model="/nonexistent/model/dir")  # any load would fail differently
    with pytest.raises(ValueError, match=message):
        llm.bind_tools(TOOLS).invoke(QUESTION, **override)


@pytest.mark.parametrize("choice", ["any", "required", True])
def test_required_call_without_tools_is_an_error(choice: Any) -> None:
    llm = ToolPRMChatModel(model="/nonexistent/model/dir")
    with pytest.raises(ValueError, match="no tools are bound"):
        llm.invoke(QUESTION, tool_choice=choice)


def test_orphan_tool_results_and_missing_results_are_errors() -> None:
    llm = ToolPRMChatModel(model="/nonexistent/model/dir")
    call = {"name": "get_weather", "args": {"city": "paris"}, "id": "call_1", "type": "tool_call"}
    with pytest.raises(ValueError, match="no earlier assistant message made a call with that id"):
        llm.invoke([HumanMessage("hi"), ToolMessage("sunny", tool_call_id="call_9")])
    with pytest.raises(ValueError, match=r"results are missing: get_weather \(call_1\)"):
        llm.invoke([HumanMessage("hi"), AIMessage("", tool_calls=[call]), HumanMessage("and?")])


def test_long_prompt_is_refused_before_encoding(tiny_policy: TransformersBackend) -> None:
    llm = ToolPRMChatModel(backend=tiny_policy, max_prompt_tokens=50, max_tokens=4)
    before = tiny_policy.usage.input_tokens
    with pytest.raises(ContextLengthError, match="over max_prompt_tokens=50"):
        llm.invoke("please " * 100)
    assert tiny_policy.usage.input_tokens == before  # nothing was encoded


def test_timeout_covers_prompt_encoding(tiny_policy: TransformersBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    """A long prompt is encoded in chunks and the deadline is checked before each one."""
    monkeypatch.setattr(tiny_policy, "chunk", 16)
    llm = ToolPRMChatModel(backend=tiny_policy, max_tokens=4, timeout=1e-6)
    tiny_policy.clear_prompt_cache(pinned=True)
    before = tiny_policy.usage.input_tokens
    with pytest.raises(TimeoutError):
        llm.invoke("please " * 300)
    assert tiny_policy.usage.input_tokens - before < 16 + 1  # stopped at the first chunk
    assert tiny_policy.deadline is None  # the next call is not affected


# ---- conversations ------------------------------------------------------------------------
def _history(v1_content: bool = False) -> list[BaseMessage]:
    call = {"name": "get_weather", "args": {"city": "paris"}, "id": "call_1", "type": "tool_call"}
    content: Any = ""
    if v1_content:  # what an AIMessage looks like with output_version="v1"
        content = [{"type": "text", "text": "Let me check."}, {**call}]
    return [
        SystemMessage("You help with the weather."),
        HumanMessage("what is the weather in paris"),
        AIMessage(content=content, tool_calls=[call]),
        ToolMessage("sunny, 21 degrees", tool_call_id="call_1", name="get_weather"),
        HumanMessage("and in tokyo?"),
    ]


@pytest.mark.parametrize("v1_content", [False, True], ids=["str-content", "v1-content"])
def test_multi_turn_conversation(chat: ToolPRMChatModel, v1_content: bool) -> None:
    history = _history(v1_content)
    message = chat.bind_tools(TOOLS, tool_choice="any").invoke(history)
    assert message.tool_calls
    assert_valid_calls(message)
    assert_metadata(message)
    # The tool result is part of the prompt: the history costs more input than its last turn.
    alone = chat.bind_tools(TOOLS, tool_choice="any").invoke(history[-1:])
    assert message.response_metadata["policy_input_tokens"] > 0
    assert message.usage_metadata["input_tokens"] != alone.usage_metadata["input_tokens"]
    reply = chat.bind_tools(TOOLS, tool_choice="none").invoke(history)
    assert isinstance(reply.content, str) and reply.tool_calls == []


# ---- structured output --------------------------------------------------------------------
def test_structured_output_pydantic(chat: ToolPRMChatModel) -> None:
    result = chat.with_structured_output(Weather).invoke("is it windy in paris")
    assert isinstance(result, Weather)
    assert result.city in ("paris", "tokyo") and isinstance(result.windy, bool)


def test_structured_output_json_schema(chat: ToolPRMChatModel) -> None:
    result = chat.with_structured_output(WEATHER_SCHEMA).invoke("is it windy in paris")
    assert isinstance(result, dict)
    jsonschema.validate(result, WEATHER_SCHEMA)
    assert set(result) == {"city", "windy"}


def test_structured_output_include_raw(chat: ToolPRMChatModel) -> None:
    result = chat.with_structured_output(Weather, include_raw=True).invoke("is it windy in paris")
    assert set(result) == {"raw", "parsed", "parsing_error"}
    assert isinstance(result["raw"], AIMessage)
    assert result["raw"].tool_calls[0]["name"] == "Weather"
    assert isinstance(result["parsed"], Weather)
    assert result["parsing_error"] is None
    assert result["parsed"].model_dump() == result["raw"].tool_calls[0]["args"]


# ---- determinism, laziness, sharing -------------------------------------------------------
def test_same_seed_same_result(chat: ToolPRMChatModel) -> None:
    bound = chat.bind_tools([count_items, *TOOLS], tool_choice="any")
    first, again = bound.invoke("count 3 items", seed=7), bound.invoke("count 3 items", seed=7)
    assert calls_of(first) == calls_of(again)
    assert first.response_metadata["search"]["trace"] == again.response_metadata["search"]["trace"]
    assert first.usage_metadata["output_tokens"] == again.usage_metadata["output_tokens"]
    prose = [chat.invoke(QUESTION, seed=s).content for s in (3, 3, 4)]
    assert prose[0] == prose[1]
    assert prose[0] != prose[2]  # the seed is what is held fixed


def test_constructor_and_binding_load_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a model was loaded")

    monkeypatch.setattr("langchain_toolprm.core.embedded.ensure_embedded_model", refuse)
    monkeypatch.setattr(TransformersBackend, "from_pretrained", classmethod(refuse))
    model = ToolPRMChatModel()
    assert model._holder.loaded is None
    model.bind_tools(TOOLS, tool_choice="any")
    model.with_structured_output(Weather)
    assert model._holder.loaded is None
    assert model.model_name  # naming the model needs no load either


def test_loaded_models_are_shared_with_bound_copies(tiny_gemma_path: Path) -> None:
    model = ToolPRMChatModel(model=str(tiny_gemma_path), max_tokens=8, max_value_tokens=8)
    bound = model.bind_tools(TOOLS, tool_choice="any")
    structured = model.with_structured_output(Weather)
    assert model._holder.loaded is None
    bound.invoke(QUESTION)
    loaded = model._holder.loaded
    assert loaded is not None
    assert bound.bound._holder.loaded is loaded
    structured.invoke("is it windy in paris")
    model.invoke(QUESTION)
    assert model._holder.loaded is loaded  # nothing was loaded a second time
    assert structured.first.bound._holder.loaded is loaded
    assert model.model_copy(update={"strategy": "greedy"})._holder.loaded is loaded
    # Another chat model with the same settings shares the loaded weights; another dtype does not.
    twin = ToolPRMChatModel(model=str(tiny_gemma_path), max_tokens=4, strategy="greedy")
    assert twin._load() is loaded
    other = ToolPRMChatModel(model=str(tiny_gemma_path), dtype="bfloat16")
    assert other._load() is not loaded and other._load().backend.model.dtype == torch.bfloat16


def test_bfloat16_policy_searches(tiny_gemma_path: Path) -> None:
    """``dtype="bfloat16"`` (faster on CPUs with AMX or AVX512-BF16) runs the whole search."""
    model = ToolPRMChatModel(model=str(tiny_gemma_path), dtype="bfloat16", max_tokens=16, max_value_tokens=12)
    message = model.bind_tools([count_items, *TOOLS], tool_choice="any").invoke("count 3 items")
    assert next(model._holder.loaded.backend.model.parameters()).dtype == torch.bfloat16
    assert message.tool_calls
    assert_valid_calls(message)
    assert_metadata(message)


# ---- batch, async, stream -----------------------------------------------------------------
def test_batch_matches_invoke(chat: ToolPRMChatModel) -> None:
    bound = chat.bind_tools(TOOLS, tool_choice="any")
    questions = [QUESTION, "turn the alarm on"]
    results = bound.batch(questions)
    assert len(results) == 2
    for q, r in zip(questions, results, strict=True):
        assert_valid_calls(r)
        assert r.tool_calls
        assert calls_of(r) == calls_of(bound.invoke(q))


def test_ainvoke_and_abatch(chat: ToolPRMChatModel) -> None:
    bound = chat.bind_tools(TOOLS, tool_choice="any")

    async def run() -> tuple[AIMessage, list[AIMessage]]:
        return await bound.ainvoke(QUESTION), await bound.abatch([QUESTION, "turn the alarm on"])

    single, many = asyncio.run(run())
    assert single.tool_calls and calls_of(single) == calls_of(bound.invoke(QUESTION))
    assert len(many) == 2 and all(m.tool_calls for m in many)
    for m in (single, *many):
        assert_valid_calls(m)
    assert calls_of(many[0]) == calls_of(single)


def test_stream_with_tools_aggregates_to_calls(chat: ToolPRMChatModel) -> None:
    bound = chat.bind_tools([count_items, *TOOLS], tool_choice="any")
    chunks = list(bound.stream("count 3 items"))
    assert chunks and all(isinstance(c, AIMessageChunk) for c in chunks)
    assert chunks[-1].chunk_position == "last"
    full = chunks[0]
    for c in chunks[1:]:
        full = full + c
    assert full.tool_calls
    assert_valid_calls(full)
    assert calls_of(full) == calls_of(bound.invoke("count 3 items"))
    assert full.usage_metadata and full.usage_metadata["total_tokens"] > 0


def test_stream_emits_each_decided_step(chat: ToolPRMChatModel) -> None:
    """Greedy decides every step: the name comes first, then one argument chunk at a time, and
    the chunks' ids and arguments are those of the final calls."""
    bound = chat.bind_tools(TOOLS, tool_choice="get_weather")
    chunks = list(bound.stream(QUESTION, strategy="greedy"))
    calls = [c for c in chunks if c.tool_call_chunks]
    assert len(calls) >= 3  # the name, the city, the closing brace at least
    first = calls[0].tool_call_chunks[0]
    assert first["name"] == "get_weather" and first["args"] == "" and first["id"]
    assert all(tc["name"] is None for c in calls[1:] for tc in c.tool_call_chunks)
    full = chunks[0]
    for c in chunks[1:]:
        full = full + c
    final = bound.invoke(QUESTION, strategy="greedy")
    assert calls_of(full) == calls_of(final)
    assert full.tool_calls[0]["id"] == first["id"]
    assert chunks[-1].response_metadata["search"]["strategy"] == "greedy"


def test_on_trace_receives_the_trace_when_invoked_and_streamed(chat: ToolPRMChatModel) -> None:
    """``on_trace`` is a per-call argument; streamed, it is called in the caller's thread."""
    import threading

    bound = chat.bind_tools(TOOLS, tool_choice="get_weather")
    written: list[dict[str, Any]] = []
    message = bound.invoke(QUESTION, on_trace=written.append)
    assert written and written == message.response_metadata["search"]["trace"]
    threads: set[str] = set()
    chunks = list(bound.stream(QUESTION, on_trace=lambda entry: threads.add(threading.current_thread().name)))
    assert threads == {threading.current_thread().name}
    assert len(chunks[-1].response_metadata["search"]["trace"]) == len(written)


def test_astream_events_carry_the_stream(chat: ToolPRMChatModel) -> None:
    bound = chat.bind_tools(TOOLS, tool_choice="get_weather")

    async def collect() -> list[dict[str, Any]]:
        return [e async for e in bound.astream_events(QUESTION, strategy="greedy", version="v2")]

    events = asyncio.run(collect())
    streamed = [e["data"]["chunk"] for e in events if e["event"] == "on_chat_model_stream"]
    assert sum(bool(c.tool_call_chunks) for c in streamed) >= 2  # several steps, not one block
    [end] = [e for e in events if e["event"] == "on_chat_model_end"]
    assert calls_of(end["data"]["output"]) == calls_of(bound.invoke(QUESTION, strategy="greedy"))


def test_stream_prose_token_by_token(chat: ToolPRMChatModel) -> None:
    chunks = list(chat.stream(QUESTION, max_tokens=12))
    pieces = [c.content for c in chunks if c.content]
    assert len(pieces) >= 2  # more than one piece: streamed as it was written
    assert "".join(pieces) == chat.invoke(QUESTION, max_tokens=12).content


def test_stream_raises_the_search_error(tiny_chat: ToolPRMChatModel) -> None:
    with pytest.raises(TimeoutError):
        list(tiny_chat.bind_tools(TOOLS).stream(QUESTION, timeout=1e-9))
    with pytest.raises(ValueError, match="no earlier assistant message"):
        list(tiny_chat.stream([HumanMessage("hi"), ToolMessage("x", tool_call_id="nope")]))


def test_stream_without_tools_gives_text(chat: ToolPRMChatModel) -> None:
    chunks = list(chat.stream(QUESTION))
    assert chunks[-1].chunk_position == "last"
    text = "".join(c.content for c in chunks if isinstance(c.content, str))
    assert text and text == chat.invoke(QUESTION).content

    async def collect() -> list[AIMessageChunk]:
        return [c async for c in chat.astream(QUESTION)]

    achunks = asyncio.run(collect())
    assert achunks[-1].chunk_position == "last"
    assert "".join(c.content for c in achunks) == text


# ---- agents -------------------------------------------------------------------------------
def test_create_agent_runs_a_turn(chat: ToolPRMChatModel) -> None:
    from langchain.agents import create_agent

    agent = create_agent(chat, tools=[get_weather])
    state = agent.invoke({"messages": [HumanMessage(QUESTION)]}, {"recursion_limit": 12})
    messages = state["messages"]
    assert isinstance(messages[0], HumanMessage) and messages[0].content == QUESTION
    assert isinstance(messages[-1], AIMessage) and not messages[-1].tool_calls
    for i, m in enumerate(messages):
        if isinstance(m, AIMessage) and m.tool_calls:  # every call the agent made was run
            assert_valid_calls(m)
            results = messages[i + 1: i + 1 + len(m.tool_calls)]
            assert all(isinstance(r, ToolMessage) and r.content.startswith("sunny in") for r in results)


def test_create_agent_runs_the_tool_loop(chat: ToolPRMChatModel) -> None:
    """Forced call on the first model turn, prose after the tool result: one full loop."""
    from langchain.agents import create_agent
    from langchain.agents.middleware import wrap_model_call

    @wrap_model_call
    def call_once(request: Any, handler: Any) -> Any:
        answered = any(isinstance(m, ToolMessage) for m in request.messages)
        return handler(request.override(tool_choice="none" if answered else "any"))

    agent = create_agent(chat, tools=[get_weather], middleware=[call_once],
                         system_prompt="You help with the weather.")
    state = agent.invoke({"messages": [HumanMessage(QUESTION)]}, {"recursion_limit": 8})
    kinds = [type(m).__name__ for m in state["messages"]]
    calls = state["messages"][1].tool_calls
    assert kinds == ["HumanMessage", "AIMessage"] + ["ToolMessage"] * len(calls) + ["AIMessage"]
    assert calls and all(c["name"] == "get_weather" for c in calls)
    assert_valid_calls(state["messages"][1])
    results = state["messages"][2:-1]
    assert [r.tool_call_id for r in results] == [c["id"] for c in calls]
    assert all(r.content == f"sunny in {c['args']['city']}" for r, c in zip(results, calls, strict=True))
    final = state["messages"][-1]
    assert final.tool_calls == [] and isinstance(final.content, str)


# ---- strategies ---------------------------------------------------------------------------
@pytest.mark.parametrize("strategy", ["greedy", "beam", "best_of_n", "majority"])
def test_strategies_return_valid_calls(
    strategy: str, tiny_policy: TransformersBackend, tiny_qwen_policy: TransformersBackend
) -> None:
    for policy in (tiny_policy, tiny_qwen_policy):
        model = ToolPRMChatModel(backend=policy, strategy=strategy, n_retain=2, m_explore=2,
                                 max_tokens=8, max_value_tokens=8)
        message = model.bind_tools([count_items, *TOOLS], tool_choice="any").invoke("count 3 items")
        assert message.tool_calls
        assert_valid_calls(message)
        assert_metadata(message)
        search = message.response_metadata["search"]
        assert search["strategy"] == strategy
        assert (search["n_retain"], search["m_explore"]) == (2, 2)
        # Per-call override of the strategy through invoke kwargs.
        other = model.bind_tools(TOOLS, tool_choice="any").invoke(QUESTION, strategy="greedy")
        assert other.response_metadata["search"]["strategy"] == "greedy"
        assert_valid_calls(other)


def test_policy_weight_reaches_the_search(tiny_chat: ToolPRMChatModel) -> None:
    bound = tiny_chat.bind_tools(TOOLS, tool_choice="any")
    message = bound.invoke(QUESTION, policy_weight=0.5)
    assert message.response_metadata["search"]["policy_weight"] == 0.5
    candidates = message.response_metadata["search"]["trace"][0]["candidates"]
    for c in candidates:  # ranked by score x p^0.5
        assert c["path_score"] == pytest.approx(c["score"] * math.exp(0.5 * c["logprob"]), abs=1e-3)
    assert any(0 < c["path_score"] < c["score"] for c in candidates)
    with pytest.raises(ValueError, match="policy_weight"):
        bound.invoke(QUESTION, policy_weight=-1.0)
    with pytest.raises(ValueError, match="policy_weight"):
        ToolPRMChatModel(policy_weight=float("nan"))
    assert bound.invoke(QUESTION).response_metadata["search"]["policy_weight"] == 0.0


def test_adaptive_exploration_reaches_the_search(tiny_chat: ToolPRMChatModel) -> None:
    bound = tiny_chat.bind_tools(TOOLS, tool_choice="any")
    message = bound.invoke(QUESTION, widen_below=1.0)
    search = message.response_metadata["search"]
    assert search["widen_below"] == 1.0 and search["widen_policy"] == 0.0
    steps = [e["candidates"] for e in search["trace"] if "candidates" in e]
    assert all(not c[0]["widened"] and all(x["widened"] for x in c[1:]) for c in steps)
    assert_valid_calls(message)
    with pytest.raises(ValueError, match="widen_policy"):
        bound.invoke(QUESTION, widen_policy=0.5)  # without widen_below it would do nothing
    assert "widened" not in bound.invoke(QUESTION).response_metadata["search"]["trace"][0]["candidates"][0]


def test_timeout_stops_the_search(tiny_chat: ToolPRMChatModel) -> None:
    bound = tiny_chat.bind_tools(TOOLS, tool_choice="any")
    with pytest.raises(TimeoutError, match="timeout"):
        bound.invoke(QUESTION, timeout=1e-9)
    assert bound.invoke(QUESTION, timeout=60).tool_calls  # the model is still usable


def test_stop_sequences_cut_prose(tiny_chat: ToolPRMChatModel) -> None:
    full = tiny_chat.invoke(QUESTION, max_tokens=16).content
    assert isinstance(full, str) and len(full) > 3
    stop = full[2:4]
    cut = tiny_chat.invoke(QUESTION, max_tokens=16, stop=[stop]).content
    assert stop not in cut and full.startswith(cut.strip()[:2])
    short = tiny_chat.invoke(QUESTION, max_tokens=2)
    assert short.usage_metadata["output_tokens"] <= 2
