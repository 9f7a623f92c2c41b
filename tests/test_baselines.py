"""The text-decoding baselines on the tiny random models: reading free text as calls, stopping
once the answer is complete, and the chat-template path."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from langchain_toolprm import ToolPRMChatModel, TransformersBackend
from langchain_toolprm.core.prompts import BUILTIN_JSON, llama3_format, qwen_format
from langchain_toolprm.core.steps import Call
from langchain_toolprm.core.verifier import VerifierScorer
from langchain_toolprm.data.records import ToolExample
from langchain_toolprm.evaluation import baselines
from langchain_toolprm.evaluation.baselines import parse_calls
from langchain_toolprm.evaluation.runner import predict
from langchain_toolprm.evaluation.specs import EvalSpec


# ---- parsing free text -----------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    (' [{"name": "get_weather", "arguments": {"city": "Paris"}}]\nTool (get_weather): sunny',
     [Call("get_weather", {"city": "Paris"})]),
    (" []\nAssistant: no tool fits", []),
    (' [{"name": "get_weather", "arguments": {"city": "Paris"}}, {"name": "get_weather", "arguments": '
     '{"city": "Oslo", "unit": "celsius"}}]', [Call("get_weather", {"city": "Paris"}),
                                               Call("get_weather", {"city": "Oslo", "unit": "celsius"})]),
    # Read as calls however wrong: the benchmark's scorer judges names and values.
    (' [{"name": "get_weather", "arguments": {"city": {"type": "string"}}}]',  # schema copied as value
     [Call("get_weather", {"city": {"type": "string"}})]),
    (' [{"name": "get_time", "arguments": {}}]', [Call("get_time", {})]),  # no such tool
    (' [{"name": "get_weather", "arguments": {"city": "Paris"}}, {"name": "get_weather"}]',  # no arguments
     [Call("get_weather", {"city": "Paris"}), Call("get_weather", {})]),
    (' [{"name": "get_weather", "arguments": "Paris"}]', None),  # arguments not an object
    (' [{"arguments": {"city": "Paris"}}]', None),  # no name
    (' [{"name": "get_weather", "arguments": {"city": "Par', None),  # cut off
    (' {"name": "get_weather", "arguments": {"city": "Paris"}}', None),  # not a list
    ("I think it is sunny.", None),
])
def test_parse_json_list(text: str, expected: list[Call] | None) -> None:
    assert parse_calls(text, BUILTIN_JSON) == expected


def test_parse_tool_call_blocks() -> None:
    fmt = qwen_format("<|im_end|>")
    good = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
    assert parse_calls(good + "\n" + good.replace("Paris", "Oslo"), fmt) == [
        Call("get_weather", {"city": "Paris"}), Call("get_weather", {"city": "Oslo"})]
    assert parse_calls("It is sunny in Paris.", fmt) == []  # prose: no call
    assert parse_calls('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Pa', fmt) is None
    assert parse_calls("<tool_call>\n{'name': 'get_weather'}\n</tool_call>", fmt) is None
    assert parse_calls('<tool_call>{"name": "get_weather", "arguments": {}}</tool_call>', fmt) == [Call("get_weather", {})]


def test_parse_llama3() -> None:
    fmt = llama3_format("<|eot_id|>")
    text = '{"name": "get_weather", "parameters": {"city": "Paris"}}; {"name": "get_weather", "parameters": {"city": "Rome"}}'
    assert parse_calls(text, fmt) == [Call("get_weather", {"city": "Paris"}), Call("get_weather", {"city": "Rome"})]
    assert parse_calls('{"name": "get_weather", "parameters": {"city": 3}}', fmt) == [Call("get_weather", {"city": 3})]
    assert parse_calls('{"name": "get_weather", "parameters": [3]}', fmt) is None


# ---- decoding ----------------------------------------------------------------------------------
def test_text_strategies_on_a_chat_template(tiny_qwen_policy: TransformersBackend, tiny_bfcl: list[ToolExample],
                                            fast: dict[str, int]) -> None:
    """The <tool_call> template path: random text holds no block, which reads as "no call"."""
    for strategy in ("unconstrained", "token_beam"):
        pred = predict(tiny_qwen_policy, VerifierScorer(), tiny_bfcl[1], EvalSpec(strategy, m=2, **fast))
        assert pred.policy_output_tokens > 0 and (pred.calls is None or isinstance(pred.calls, list))


def test_unconstrained_stops_once_the_json_list_closes(tiny_policy: TransformersBackend) -> None:
    """Text after a closed list cannot change what ``parse_calls`` reads, so greedy stops there."""
    tok = tiny_policy.tokenizer
    prompt = tok("Calls:", add_special_tokens=False).input_ids
    stop = baselines._StopText(tok, ("\nUser:",), len(prompt), baselines._json_closed)
    def done(text: str) -> bool:
        ids = prompt + tok(text, add_special_tokens=False).input_ids
        return bool(stop(torch.tensor([ids]), None)[0])

    assert not done(' [{"name": "f", "arguments": {"a": "]"')
    assert done(' [{"name": "f", "arguments": {"a": "]"}}]') and done(" [] and then")
    assert done(" no list\nUser:") and not done(" no list")
    assert baselines._json_closed(" []") and not baselines._json_closed(" [")


# ---- as a chat model ---------------------------------------------------------------------------
WEATHER_TOOL = {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


@pytest.mark.parametrize(("decoded", "calls", "content"), [
    (([Call("get_weather", {"city": "Paris"})], ' [{"name": "get_weather", ...}]'), [("get_weather", {"city": "Paris"})], ""),
    ((None, " It is sunny. "), [], "It is sunny."),  # not a call list: the text is the reply
])
def test_unconstrained_chat_model_reads_its_text(decoded: Any, calls: list[Any], content: str,
                                                 tiny_policy: TransformersBackend,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []

    def fake(policy: Any, messages: Any, specs: Any, spec: EvalSpec) -> Any:
        seen.append((messages, [s.name for s in specs], spec.strategy))
        return decoded

    monkeypatch.setattr(baselines, "generate_text", fake)
    llm = baselines.UnconstrainedChatModel(backend=tiny_policy)
    msg = llm.bind_tools([WEATHER_TOOL]).invoke("weather in paris?")
    assert [(c["name"], c["args"]) for c in msg.tool_calls] == calls and msg.content == content
    assert len({c["id"] for c in msg.tool_calls}) == len(calls)
    assert seen[0][1:] == (["get_weather"], "unconstrained") and seen[0][0][0].content == "weather in paris?"


def test_unconstrained_chat_model_replies_after_an_empty_list(tiny_policy: TransformersBackend,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """``[]`` reads as no call: the reply is written greedily with no tools offered, the same text each time."""
    monkeypatch.setattr(baselines, "generate_text", lambda *a: ([], " []"))
    llm = baselines.UnconstrainedChatModel(backend=tiny_policy, max_tokens=6).bind_tools([WEATHER_TOOL])
    first, second = llm.invoke("hello"), llm.invoke("hello")
    assert not first.tool_calls and first.content and first.content == second.content
    plain = ToolPRMChatModel(backend=tiny_policy, max_tokens=6, reply_temperature=0.0).invoke("hello")
    assert first.content == plain.content


def test_unconstrained_chat_model_on_a_real_tiny_policy(tiny_policy: TransformersBackend) -> None:
    msg = baselines.UnconstrainedChatModel(backend=tiny_policy, max_new_tokens=8, max_tokens=4).bind_tools(
        [WEATHER_TOOL]).invoke("weather in paris?")
    assert msg.tool_calls or isinstance(msg.content, str)
