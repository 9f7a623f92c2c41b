"""The LangGraph agent (agents/graph.py) with a tiny random-weight ToolPRMChatModel and with a
scripted fake chat model: per-run search settings, the trace as custom stream events, the
invalid-call policies, the step limit, checkpoints (a SQLite thread resumed after a restart) and
API-Bank's tools.

Random weights decide nothing meaningful, so the tiny model's tools take finite values (enums,
booleans) and the assertions check the loop's guarantees, not what a trained model would answer.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.messages.tool import invalid_tool_call, tool_call
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from pydantic import Field

from langchain_toolprm import ToolPRMChatModel, TransformersBackend, create_toolprm_agent
from langchain_toolprm.agents.apibank import ApiBankEnv, ApiResult
from langchain_toolprm.agents.graph import (
    FEEDBACK_NAME,
    STEP_LIMIT,
    AgentSettings,
    SearchSettings,
    steps_this_turn,
)
from langchain_toolprm.testing import QUESTION, get_weather, needs_apibank_data, set_alarm

TOOLS = [get_weather, set_alarm]


class ScriptedModel(GenericFakeChatModel):
    """A fake chat model that answers from a script and records what it was shown."""

    seen: list[list[BaseMessage]] = Field(default_factory=list)

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedModel:
        return self

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
        self.seen.append(list(messages))
        return super()._generate(messages, *args, **kwargs)


def scripted(*messages: AIMessage | str) -> ScriptedModel:
    return ScriptedModel(messages=iter(messages))


def weather_call(city: str = "paris", call_id: str = "call_1") -> AIMessage:
    return AIMessage("", tool_calls=[tool_call(name="get_weather", args={"city": city}, id=call_id)])


BROKEN = AIMessage("", invalid_tool_calls=[invalid_tool_call(name="get_weather", args='{"city": ', id="bad_1",
                                                             error="arguments are not valid JSON")])


@pytest.fixture()
def chat(tiny_policy: TransformersBackend) -> ToolPRMChatModel:
    return ToolPRMChatModel(backend=tiny_policy, max_tokens=8, max_value_tokens=8)


def kinds(messages: list[BaseMessage]) -> list[str]:
    return [type(m).__name__ for m in messages]


def assert_well_formed(messages: list[BaseMessage]) -> None:
    """Every call was answered by a ToolMessage right after it; the turn ends with a reply."""
    for i, m in enumerate(messages):
        if isinstance(m, AIMessage) and m.tool_calls:
            results = messages[i + 1: i + 1 + len(m.tool_calls)]
            assert [r.tool_call_id for r in results if isinstance(r, ToolMessage)] == [c["id"] for c in m.tool_calls]
    assert isinstance(messages[-1], AIMessage) and not messages[-1].tool_calls


def search_events(chunks: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    return [c for mode, c in chunks if mode == "custom" and c["event"] == "search"]


# ---- settings -----------------------------------------------------------------------------
def test_bad_settings_fail_with_clear_errors(chat: ToolPRMChatModel) -> None:
    with pytest.raises(ValueError, match="unknown invalid_calls policy 'ignore': choose from retry, report"):
        create_toolprm_agent(chat, TOOLS, invalid_calls="ignore")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_steps must be a whole number of at least 1"):
        AgentSettings(max_steps=0)
    with pytest.raises(ValueError, match="max_retries must be a whole number of at least 0"):
        AgentSettings(max_retries=True)
    with pytest.raises(ValueError, match="tools is empty"):
        create_toolprm_agent(chat, [])
    with pytest.raises(TypeError, match="not one already bound to tools"):
        create_toolprm_agent(chat.bind_tools(TOOLS), TOOLS)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="m_explore=0: Input should be greater than or equal to 1"):
        SearchSettings(m_explore=0)
    with pytest.raises(ValueError, match="strategy='bam'"):
        SearchSettings(strategy="bam")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="scorer='oracle'"):
        SearchSettings.for_run({"scorer": "oracle"}, None)


def test_run_settings_merge_configurable_then_context() -> None:
    merged = SearchSettings.for_run({"m_explore": 2, "strategy": "beam", "thread_id": "t"},
                                    SearchSettings(strategy="greedy"))
    assert merged == SearchSettings(strategy="greedy", m_explore=2)
    assert merged.updates() == {"strategy": "greedy", "m_explore": 2}


def test_steps_count_from_the_last_user_message() -> None:
    turn = [HumanMessage("hi"), weather_call(), ToolMessage("sunny", tool_call_id="call_1"), BROKEN,
            HumanMessage("fix it", name=FEEDBACK_NAME), AIMessage("done")]
    assert steps_this_turn(turn) == 3
    assert steps_this_turn([*turn, HumanMessage("again")]) == 0


# ---- ToolPRMChatModel in the graph --------------------------------------------------------
def test_a_toolprm_turn_runs_its_calls_and_ends(chat: ToolPRMChatModel) -> None:
    graph = create_toolprm_agent(chat, TOOLS, max_steps=3)
    messages = graph.invoke({"messages": [HumanMessage(QUESTION)]})["messages"]
    assert isinstance(messages[0], HumanMessage) and len(messages) >= 2
    assert_well_formed(messages)
    assert all(m.response_metadata.get("model_provider") == "toolprm" for m in messages[1:]
               if isinstance(m, AIMessage) and m.response_metadata.get("finish_reason") != STEP_LIMIT)


def test_run_settings_reach_the_search_without_rebuilding(chat: ToolPRMChatModel) -> None:
    graph = create_toolprm_agent(chat, TOOLS, max_steps=1)
    question = {"messages": [HumanMessage(QUESTION)]}

    def first_step(**run: Any) -> tuple[AIMessage, list[dict[str, Any]]]:
        chunks = list(graph.stream(question, stream_mode=["updates", "custom"], **run))
        entries = [e["entry"] for e in search_events(chunks) if e["step"] == 1]
        message = next(c["agent"]["messages"][0] for mode, c in chunks if mode == "updates" and "agent" in c)
        return message, [e for e in entries if "candidates" in e]

    narrow, narrow_trace = first_step(config={"configurable": {"m_explore": 1, "n_retain": 1}})
    wide, wide_trace = first_step(config={"configurable": {"m_explore": 3, "temperature": 0.5}})
    greedy, _ = first_step(context={"strategy": "greedy"})
    assert narrow.response_metadata["search"]["m_explore"] == 1
    assert all(len(e["candidates"]) == 1 for e in narrow_trace)
    assert wide.response_metadata["search"]["m_explore"] == 3
    assert max(len(e["candidates"]) for e in wide_trace) > 1  # 2 tools: the first step has choices
    assert greedy.response_metadata["search"]["strategy"] == "greedy"
    assert chat.m_explore == 4 and chat.strategy == "beam"  # the graph's model is untouched
    with pytest.raises(ValueError, match="n_retain=0"):
        graph.invoke(question, {"configurable": {"n_retain": 0}})


def test_the_trace_streams_before_the_step_ends(chat: ToolPRMChatModel) -> None:
    graph = create_toolprm_agent(chat, TOOLS, max_steps=1)
    chunks = list(graph.stream({"messages": [HumanMessage(QUESTION)]}, stream_mode=["updates", "custom"]))
    modes = [mode for mode, _ in chunks]
    first_update = next(i for i, (mode, c) in enumerate(chunks) if mode == "updates" and "agent" in c)
    events = search_events(chunks)
    assert events and modes.index("custom") < first_update
    message = chunks[first_update][1]["agent"]["messages"][0]
    assert [e["entry"] for e in events if e["step"] == 1] == message.response_metadata["search"]["trace"]
    depths = [e["entry"]["depth"] for e in events if "depth" in e["entry"]]
    assert depths == list(range(len(depths)))  # one event per depth, in order


def test_the_trace_streams_when_the_model_streams_too(chat: ToolPRMChatModel) -> None:
    """stream_mode "messages" makes the chat model stream (its search in a worker thread): the
    trace still reaches the custom stream."""
    graph = create_toolprm_agent(chat, TOOLS, max_steps=1)
    chunks = list(graph.stream({"messages": [HumanMessage(QUESTION)]}, stream_mode=["messages", "custom"]))
    assert search_events(chunks)
    assert any(mode == "messages" for mode, _ in chunks)


# ---- any chat model -----------------------------------------------------------------------
def test_another_chat_model_runs_in_the_same_graph_and_ignores_search_settings() -> None:
    model = scripted(weather_call("tokyo"), "It is sunny in Tokyo.")
    graph = create_toolprm_agent(model, TOOLS)
    chunks = list(graph.stream({"messages": [HumanMessage("weather in tokyo?")]}, stream_mode=["values", "custom"],
                               config={"configurable": {"m_explore": 1, "strategy": "greedy"}}))
    messages = [c for mode, c in chunks if mode == "values"][-1]["messages"]
    assert kinds(messages) == ["HumanMessage", "AIMessage", "ToolMessage", "AIMessage"]
    assert messages[2].content == "sunny in tokyo" and messages[3].content == "It is sunny in Tokyo."
    assert search_events(chunks) == []


def test_toolprm_and_another_model_compare_on_one_question(chat: ToolPRMChatModel) -> None:
    question = {"messages": [HumanMessage(QUESTION)]}
    for model in (chat, scripted(weather_call(), "Sunny.")):
        assert_well_formed(create_toolprm_agent(model, TOOLS, max_steps=2).invoke(question)["messages"])


# ---- invalid calls and the step limit ---------------------------------------------------
def test_report_sends_the_error_back_to_the_model() -> None:
    model = scripted(BROKEN, weather_call(), "Sunny in Paris.")
    messages = create_toolprm_agent(model, TOOLS, invalid_calls="report").invoke(
        {"messages": [HumanMessage(QUESTION)]})["messages"]
    assert kinds(messages) == ["HumanMessage", "AIMessage", "HumanMessage", "AIMessage", "ToolMessage", "AIMessage"]
    assert messages[1].invalid_tool_calls == BROKEN.invalid_tool_calls
    feedback = messages[2]
    assert feedback.name == FEEDBACK_NAME and "arguments are not valid JSON" in feedback.content
    assert model.seen[1][-1] == feedback  # the model read the error on its next step
    assert messages[-1].content == "Sunny in Paris."


def test_report_runs_none_of_a_step_with_an_unusable_call() -> None:
    mixed = AIMessage("", tool_calls=weather_call().tool_calls, invalid_tool_calls=BROKEN.invalid_tool_calls)
    messages = create_toolprm_agent(scripted(mixed, "Sorry."), TOOLS).invoke(
        {"messages": [HumanMessage(QUESTION)]})["messages"]
    assert kinds(messages) == ["HumanMessage", "AIMessage", "HumanMessage", "AIMessage"]
    assert messages[1].tool_calls == [] and "get_weather({'city': 'paris'}): not run" in messages[2].content


def test_retry_runs_the_step_again() -> None:
    model = scripted(BROKEN, weather_call(), "Sunny in Paris.")
    graph = create_toolprm_agent(model, TOOLS, invalid_calls="retry", max_retries=2)
    chunks = list(graph.stream({"messages": [HumanMessage(QUESTION)]}, stream_mode=["values", "custom"]))
    messages = [c for mode, c in chunks if mode == "values"][-1]["messages"]
    assert kinds(messages) == ["HumanMessage", "AIMessage", "ToolMessage", "AIMessage"]
    assert messages[1].tool_calls[0]["id"] == "call_1"
    retries = [c for mode, c in chunks if mode == "custom" and c["event"] == "retry"]
    assert retries == [{"event": "retry", "step": 1, "attempt": 0, "errors": ["arguments are not valid JSON"]}]


def test_retry_reports_when_every_attempt_fails() -> None:
    model = scripted(BROKEN, BROKEN, weather_call(), "Sunny.")
    messages = create_toolprm_agent(model, TOOLS, invalid_calls="retry", max_retries=1).invoke(
        {"messages": [HumanMessage(QUESTION)]})["messages"]
    assert kinds(messages) == ["HumanMessage", "AIMessage", "HumanMessage", "AIMessage", "ToolMessage", "AIMessage"]
    assert messages[2].name == FEEDBACK_NAME and len(model.seen) == 4


def test_retry_gives_a_toolprm_model_the_next_seed(chat: ToolPRMChatModel, monkeypatch: pytest.MonkeyPatch) -> None:
    seeds: list[int | None] = []

    def broken(self: ToolPRMChatModel, *args: Any, **kwargs: Any) -> AIMessage:
        seeds.append(self.seed)
        return BROKEN if len(seeds) < 3 else AIMessage("fine")

    monkeypatch.setattr(ToolPRMChatModel, "_respond", broken)
    messages = create_toolprm_agent(chat.model_copy(update={"seed": 5}), TOOLS, invalid_calls="retry").invoke(
        {"messages": [HumanMessage(QUESTION)]})["messages"]
    assert seeds == [5, 6, 7] and messages[-1].content == "fine"


def test_the_step_limit_ends_a_runaway_turn_and_the_next_turn_starts_afresh() -> None:
    model = ScriptedModel(messages=(weather_call(call_id=f"call_{i}") for i in range(100)))
    graph = create_toolprm_agent(model, TOOLS, max_steps=3, checkpointer=InMemorySaver())
    thread = {"configurable": {"thread_id": "runaway"}}
    messages = graph.invoke({"messages": [HumanMessage(QUESTION)]}, thread)["messages"]
    assert kinds(messages) == ["HumanMessage"] + ["AIMessage", "ToolMessage"] * 3 + ["AIMessage"]
    last = messages[-1]
    assert last.response_metadata["finish_reason"] == STEP_LIMIT and "step limit of 3" in last.content
    assert len(model.seen) == 3
    again = graph.invoke({"messages": [HumanMessage("and tokyo?")]}, thread)["messages"]
    assert len(model.seen) == 6 and again[-1].response_metadata["finish_reason"] == STEP_LIMIT


def test_a_step_limit_above_langgraphs_default_recursion_limit_is_reached() -> None:
    model = ScriptedModel(messages=(weather_call(call_id=f"call_{i}") for i in range(100)))
    messages = create_toolprm_agent(model, TOOLS, max_steps=20).invoke(
        {"messages": [HumanMessage(QUESTION)]})["messages"]
    assert len(model.seen) == 20 and messages[-1].response_metadata["finish_reason"] == STEP_LIMIT


# ---- checkpoints --------------------------------------------------------------------------
def test_in_memory_checkpoints_keep_the_conversation() -> None:
    model = scripted(weather_call(), "Sunny in Paris.", "You asked about Paris.")
    graph = create_toolprm_agent(model, TOOLS, checkpointer=InMemorySaver())
    thread = {"configurable": {"thread_id": "t1"}}
    graph.invoke({"messages": [HumanMessage(QUESTION)]}, thread)
    messages = graph.invoke({"messages": [HumanMessage("what did I ask?")]}, thread)["messages"]
    assert kinds(messages) == ["HumanMessage", "AIMessage", "ToolMessage", "AIMessage", "HumanMessage", "AIMessage"]
    assert model.seen[-1] == messages[:-1]
    other = graph.get_state({"configurable": {"thread_id": "t2"}}).values
    assert other == {}


def run_turn(model_path: str, database: str, thread: str, text: str) -> list[BaseMessage]:
    """One turn of the tiny model's agent on a SQLite thread (run here and in a fresh process)."""
    chat = ToolPRMChatModel(model=model_path, max_tokens=8, max_value_tokens=8)
    with sqlite3.connect(database, check_same_thread=False) as connection:
        graph = create_toolprm_agent(chat, TOOLS, max_steps=2, checkpointer=SqliteSaver(connection))
        return graph.invoke({"messages": [HumanMessage(text)]}, {"configurable": {"thread_id": thread}})["messages"]


def test_a_sqlite_thread_resumes_after_a_restart(tiny_gemma_path: Path, tmp_path: Path) -> None:
    database = str(tmp_path / "threads.sqlite")
    script = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import test_graph; "
              f"test_graph.run_turn({str(tiny_gemma_path)!r}, {database!r}, 'resume', {QUESTION!r})")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(database, check_same_thread=False) as connection:
        saved = SqliteSaver(connection).get_tuple({"configurable": {"thread_id": "resume"}})
        assert saved is not None
        first = saved.checkpoint["channel_values"]["messages"]
    assert first[0].content == QUESTION and len(first) >= 2
    assert_well_formed(first)
    messages = run_turn(str(tiny_gemma_path), database, "resume", "and in tokyo?")
    assert [m.content for m in messages[:len(first)]] == [m.content for m in first]
    assert [m.id for m in messages[:len(first)]] == [m.id for m in first]
    assert messages[len(first)].content == "and in tokyo?"
    assert_well_formed(messages)


# ---- API-Bank -----------------------------------------------------------------------------
@needs_apibank_data()
def test_api_bank_tools_answer_the_models_call() -> None:
    env = ApiBankEnv()
    call = tool_call(name="QueryStock", args={"stock_code": "SQ", "date": "2022-03-14"}, id="call_stock")
    model = scripted(AIMessage("", tool_calls=[call]), "SQ closed at 248.9 on 2022-03-14.")
    messages = create_toolprm_agent(model, env.tools).invoke(
        {"messages": [HumanMessage("What was the stock price of SQ on March 14th, 2022?")]})["messages"]
    assert kinds(messages) == ["HumanMessage", "AIMessage", "ToolMessage", "AIMessage"]
    result = messages[2]
    assert result.tool_call_id == "call_stock" and result.content == "248.9"
    assert result.artifact == ApiResult("QueryStock", {"stock_code": "SQ", "date": "2022-03-14"}, output=248.9)
    assert messages[-1].content.startswith("SQ closed at 248.9")


@needs_apibank_data()
def test_an_api_bank_error_reaches_the_model_and_the_loop_goes_on() -> None:
    env = ApiBankEnv()
    call = tool_call(name="QueryStock", args={"stock_code": "SQ"}, id="call_stock")
    model = scripted(AIMessage("", tool_calls=[call]), "I need a date.")
    messages = create_toolprm_agent(model, env.tools).invoke(
        {"messages": [HumanMessage("SQ's price?")]})["messages"]
    assert "missing required parameter" in messages[2].content
    assert model.seen[1][-1] == messages[2] and messages[-1].content == "I need a date."
