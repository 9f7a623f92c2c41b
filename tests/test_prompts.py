"""Prompts: the built-in prompt, the chat-template path, call formats and message checks."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, ChatMessage, HumanMessage, SystemMessage, ToolMessage
from transformers import AutoTokenizer

from langchain_toolprm.core.prompts import (
    BUILTIN_INTRO,
    BUILTIN_JSON,
    BUILTIN_STOP,
    JSON_LIST,
    build_prompt,
    detect_format,
    llama3_format,
    message_text,
    qwen_format,
    render_context,
    render_conversation,
)
from langchain_toolprm.core.schema import ToolSpec, normalize_tools

TOOLS_RAW = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
            "required": ["city"]}}},
    {"type": "function", "function": {
        "name": "convert_currency", "description": "Convert money",
        "parameters": {"type": "object", "properties": {"amount": {"type": "number"}}, "required": ["amount"]}}},
]


@pytest.fixture(scope="module")
def tools() -> list[ToolSpec]:
    return normalize_tools(TOOLS_RAW)


@pytest.fixture(scope="module")
def gemma_tok(tiny_gemma_path: Path) -> Any:
    return AutoTokenizer.from_pretrained(str(tiny_gemma_path))


@pytest.fixture(scope="module")
def qwen_tok(tiny_qwen_path: Path) -> Any:
    return AutoTokenizer.from_pretrained(str(tiny_qwen_path))


def multi_turn() -> list:
    return [
        SystemMessage("Be brief."),
        HumanMessage("What is the weather in Paris?"),
        AIMessage("Let me check.", tool_calls=[
            {"name": "get_weather", "args": {"city": "Paris"}, "id": "call_1"},
            {"name": "get_weather", "args": {"city": "Lyon", "unit": "celsius"}, "id": "call_2"},
        ]),
        ToolMessage("sunny, 21 C", tool_call_id="call_1", name="get_weather"),
        ToolMessage("rainy", tool_call_id="call_2"),
        AIMessage("Paris is sunny."),
        HumanMessage("And 3.5 usd in eur?"),
    ]


# ---- the built-in prompt (no chat template) ---------------------------------------------------
def test_gemma_tokenizer_has_no_chat_template(gemma_tok: Any) -> None:
    assert getattr(gemma_tok, "chat_template", None) is None


def test_builtin_prompt_single_turn(gemma_tok: Any, tools: list[ToolSpec]) -> None:
    prompt = build_prompt(gemma_tok, [HumanMessage("How warm is Tokyo?")], tools)
    assert not prompt.chat_template
    assert prompt.call_format == BUILTIN_JSON
    assert prompt.text.startswith(BUILTIN_INTRO)
    assert prompt.text.endswith("User: How warm is Tokyo?\nCalls:")
    task = prompt.text.split("### Task\n", 1)[1]
    for spec, raw in zip(tools, TOOLS_RAW, strict=True):
        line = json.dumps(spec.openai["function"], ensure_ascii=False)
        assert line in task
        assert json.loads(line)["name"] == raw["function"]["name"]
    assert task.startswith("Functions:\n")
    assert prompt.stop == BUILTIN_STOP
    assert prompt.reply_prefix == "\nAssistant:"


def test_builtin_prompt_multi_turn(gemma_tok: Any, tools: list[ToolSpec]) -> None:
    prompt = build_prompt(gemma_tok, multi_turn(), tools)
    task = prompt.text.split("### Task\n", 1)[1]
    expected_lines = [
        "System: Be brief.",
        "User: What is the weather in Paris?",
        "Assistant: Let me check.",
        'Calls: [{"name": "get_weather", "arguments": {"city": "Paris"}}, '
        '{"name": "get_weather", "arguments": {"city": "Lyon", "unit": "celsius"}}]',
        "Tool (get_weather): sunny, 21 C",
        "Tool (call_2): rainy",
        "Assistant: Paris is sunny.",
        "User: And 3.5 usd in eur?",
        "Calls:",
    ]
    assert task.split("\n")[-len(expected_lines):] == expected_lines
    assert prompt.text.endswith("Calls:")


def test_builtin_ai_tool_calls_without_text(gemma_tok: Any, tools: list[ToolSpec]) -> None:
    messages = [HumanMessage("hi"), AIMessage("", tool_calls=[
        {"name": "convert_currency", "args": {"amount": 3}, "id": "c"}]), ToolMessage("ok", tool_call_id="c")]
    text = build_prompt(gemma_tok, messages, tools).text
    assert 'User: hi\nCalls: [{"name": "convert_currency", "arguments": {"amount": 3}}]\nTool (c): ok\nCalls:' in text
    assert "Assistant: \n" not in text


def test_builtin_plain_chat_without_tools(gemma_tok: Any) -> None:
    prompt = build_prompt(gemma_tok, [SystemMessage("Be nice."), HumanMessage("Hello")], [])
    assert prompt.text == "System: Be nice.\nUser: Hello\nAssistant:"
    assert "Functions:" not in prompt.text and not prompt.chat_template


def test_render_context(tools: list[ToolSpec]) -> None:
    messages = [HumanMessage("hi")]
    ctx = render_context(messages, tools)
    assert ctx.startswith("Functions:\n") and ctx.endswith("User: hi\nCalls:")
    assert render_context(messages, []) == "User: hi\nCalls:"
    assert render_conversation(messages) == "User: hi\n"


# ---- the chat-template path -----------------------------------------------------------------
def test_chat_template_with_tools(qwen_tok: Any, tools: list[ToolSpec]) -> None:
    messages = [SystemMessage("Be brief."), HumanMessage("What is the weather in Paris?")]
    prompt = build_prompt(qwen_tok, messages, tools)
    assert prompt.chat_template
    assert prompt.call_format.name == "qwen"
    assert prompt.call_format == qwen_format(qwen_tok.eos_token)
    assert prompt.call_format.list_close == qwen_tok.eos_token == "<|im_end|>"
    assert prompt.call_format.empty is None
    assert prompt.stop == ("<|im_end|>",)
    assert prompt.reply_prefix == ""
    assert "<tools>" in prompt.text
    for spec in tools:
        assert spec.name in prompt.text and spec.description in prompt.text
    assert "What is the weather in Paris?" in prompt.text
    assert prompt.text.rstrip().endswith("<|im_start|>assistant")
    assert "Calls:" not in prompt.text
    direct = qwen_tok.apply_chat_template(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is the weather in Paris?"}],
        tools=[t.openai for t in tools], add_generation_prompt=True, tokenize=False)
    assert prompt.text == direct


def test_chat_template_multi_turn(qwen_tok: Any, tools: list[ToolSpec]) -> None:
    prompt = build_prompt(qwen_tok, multi_turn(), tools)
    text = prompt.text
    assert text.count('<tool_call>\n{"name": "get_weather"') == 2
    assert '{"name": "get_weather", "arguments": {"city": "Lyon", "unit": "celsius"}}' in text
    assert "<tool_response>\nsunny, 21 C\n</tool_response>" in text
    assert "<tool_response>\nrainy\n</tool_response>" in text
    order = [text.index(s) for s in ("What is the weather", "Let me check.", "sunny, 21 C", "Paris is sunny.",
                                     "And 3.5 usd in eur?")]
    assert order == sorted(order)


def test_chat_template_plain_chat(qwen_tok: Any) -> None:
    prompt = build_prompt(qwen_tok, [HumanMessage("Hello there")], [])
    assert prompt.chat_template
    assert prompt.call_format == JSON_LIST
    assert "<tools>" not in prompt.text
    assert "<|im_start|>user\nHello there<|im_end|>" in prompt.text


def test_template_without_tools_support_falls_back(qwen_tok: Any, tools: list[ToolSpec]) -> None:
    tok = copy.deepcopy(qwen_tok)
    tok.chat_template = "{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}"
    with_tools = build_prompt(tok, [HumanMessage("hi")], tools)
    assert not with_tools.chat_template and with_tools.text.endswith("User: hi\nCalls:")
    without = build_prompt(tok, [HumanMessage("hi")], [])
    assert without.chat_template and without.text == "[user] hi\n"


# ---- call formats -----------------------------------------------------------------------------
def test_detect_format() -> None:
    assert detect_format("... <tool_call> ...", "</s>") == qwen_format("</s>")
    assert detect_format('{"name": x, "parameters": y}', "<|eot_id|>") == llama3_format("<|eot_id|>")
    assert detect_format("<|python_tag|>", "E").name == "llama3"
    assert detect_format("{{ messages }} tools", "E") == JSON_LIST


def test_open_call_spelling() -> None:
    assert JSON_LIST.open_call("f", True) == '[{"name": "f", "arguments": {'
    assert JSON_LIST.open_call("f", False) == ', {"name": "f", "arguments": {'
    assert BUILTIN_JSON.open_call("f", True) == ' [{"name": "f", "arguments": {'
    qwen = qwen_format("<eos>")
    assert qwen.open_call("g", True) == '<tool_call>\n{"name": "g", "arguments": {'
    assert qwen.open_call("g", False) == '\n<tool_call>\n{"name": "g", "arguments": {'
    assert llama3_format("E").open_call("h", True) == '{"name": "h", "parameters": {'
    # A full JSON list spelled with the format parses back.
    text = JSON_LIST.open_call("f", True) + '"a": 1' + "}" + JSON_LIST.call_close + JSON_LIST.list_close
    assert json.loads(text) == [{"name": "f", "arguments": {"a": 1}}]


# ---- message checks ---------------------------------------------------------------------------
def test_message_text_blocks() -> None:
    message = HumanMessage(content=["a", {"type": "text", "text": "b"}, {"type": "reasoning", "reasoning": "x"}])
    assert message_text(message) == "ab"
    assert message_text(HumanMessage("plain")) == "plain"


@pytest.mark.parametrize("block", [
    {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
    {"type": "image", "source_type": "base64", "data": "AAAA", "mime_type": "image/png"},
    {"type": "audio", "source_type": "base64", "data": "AAAA", "mime_type": "audio/wav"},
])
@pytest.mark.parametrize("which", ["gemma", "qwen"])
def test_non_text_blocks_raise(block: dict, which: str, gemma_tok: Any, qwen_tok: Any,
                               tools: list[ToolSpec]) -> None:
    tok = gemma_tok if which == "gemma" else qwen_tok
    message = HumanMessage(content=[{"type": "text", "text": "what is this?"}, block])
    for tool_list in (tools, []):
        with pytest.raises(ValueError, match=repr(block["type"])):
            build_prompt(tok, [message], tool_list)


def test_empty_messages_raise(gemma_tok: Any, qwen_tok: Any, tools: list[ToolSpec]) -> None:
    for tok in (gemma_tok, qwen_tok):
        with pytest.raises(ValueError, match="no messages"):
            build_prompt(tok, [], tools)


def test_unsupported_message_type(gemma_tok: Any, tools: list[ToolSpec]) -> None:
    with pytest.raises(ValueError, match="ChatMessage"):
        build_prompt(gemma_tok, [ChatMessage(role="critic", content="hi")], tools)
