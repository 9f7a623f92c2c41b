"""The order of the tool list does not decide the function (hand-written questions, real Gemma)."""

from __future__ import annotations

from langchain_toolprm import ToolPRMChatModel
from langchain_toolprm.evaluation.tool_order import ORDER_QUESTIONS, ORDER_TOOLS, shuffles


def test_shuffling_the_tools_does_not_change_the_functions(gemma: ToolPRMChatModel) -> None:
    changed = []
    for question, _ in ORDER_QUESTIONS:
        chosen = {tuple(sorted(c["name"] for c in gemma.bind_tools(order).invoke(question).tool_calls))
                  for order in shuffles(ORDER_TOOLS, 3)}
        if len(chosen) > 1:
            changed.append((question, chosen))
    assert not changed, f"the tool order changed the functions called: {changed}"
