"""The LangGraph agent with the real embedded Gemma 3 270M on a recorded API-Bank level-1 turn.

The user's utterance is replayed from API-Bank's level-1 test item and the item's API is the only
tool. The turn must run the way an agent turn runs: the model calls the API, the episode's tool
answers, the model replies in words, and the search trace streams meanwhile. The call's argument
values are not asserted (the 270M model writes the date as "March", which the API refuses: its
error text is the tool result the model reads).
"""

from __future__ import annotations

import json
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from langchain_toolprm import ToolPRMChatModel, create_toolprm_agent
from langchain_toolprm.agents.apibank import ApiBankEnv, ApiResult, apibank_dir
from langchain_toolprm.agents.graph import STEP_LIMIT
from langchain_toolprm.testing import needs_apibank_data


def level1_turn(file: str, item: int = 0) -> str:
    """The user's utterance of one API-Bank level-1 test item."""
    items = json.loads((apibank_dir() / "test" / "level-1-api.json").read_text(encoding="utf-8"))
    found = next(i for i in items if i["file"] == file and i["id"] == item)
    return next(line[len("User: "):] for line in found["input"].splitlines() if line.startswith("User: "))


@needs_apibank_data()
def test_a_level1_turn_ends_with_a_tool_result_and_a_reply(gemma: ToolPRMChatModel) -> None:
    question = level1_turn("QueryStock-level-1-2.jsonl")
    assert "SQ" in question
    model = gemma.model_copy(update={"max_tokens": 24})  # shares the loaded weights; a short reply
    graph = create_toolprm_agent(model, ApiBankEnv().get_tools(["QueryStock"]), max_steps=3)
    chunks: list[tuple[str, Any]] = list(graph.stream({"messages": [HumanMessage(question)]},
                                                      stream_mode=["values", "custom"]))
    messages = [c for mode, c in chunks if mode == "values"][-1]["messages"]
    [call] = [c for m in messages if isinstance(m, AIMessage) for c in m.tool_calls]
    assert call["name"] == "QueryStock"
    [result] = [m for m in messages if isinstance(m, ToolMessage)]
    assert result.tool_call_id == call["id"] and isinstance(result.artifact, ApiResult)
    assert result.artifact.api_name == "QueryStock" and result.content == result.artifact.text
    reply = messages[-1]
    assert isinstance(reply, AIMessage) and not reply.tool_calls and reply.content.strip()
    assert reply.response_metadata["finish_reason"] != STEP_LIMIT
    assert any(mode == "custom" and c["event"] == "search" for mode, c in chunks)
