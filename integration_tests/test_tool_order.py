"""The order of the tool list does not decide the function, and the default answers each
hand-written question with the functions it asks for (real Gemma, beam N=1 M=4 with the verifier)."""

from __future__ import annotations

from langchain_toolprm import ToolPRMChatModel
from langchain_toolprm.evaluation.tool_order import ORDER_QUESTIONS, ORDER_TOOLS, shuffles


def test_every_order_calls_the_functions_each_question_asks_for(gemma: ToolPRMChatModel) -> None:
    changed, wrong = [], []
    for question, expected in ORDER_QUESTIONS:
        chosen = {tuple(sorted(c["name"] for c in gemma.bind_tools(order).invoke(question).tool_calls))
                  for order in shuffles(ORDER_TOOLS, 3)}
        if len(chosen) > 1:
            changed.append((question, chosen))
        elif chosen != {tuple(sorted(expected))}:
            wrong.append((question, chosen))
    assert not changed, f"the tool order changed the functions called: {changed}"
    assert not wrong, f"the functions called are not the ones asked for: {wrong}"
