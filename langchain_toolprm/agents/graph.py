"""A LangGraph agent loop over any LangChain chat model, with ToolPRM's search tunable and visible.

One graph serves ToolPRMChatModel and any other chat model, so the two compare on the same tools
and the same loop. For a ToolPRMChatModel the search settings change per run (``configurable`` or
the run's ``context``) without rebuilding the graph, and the search trace streams as custom events
while the model decides. The two ways a small model's turn goes wrong end in messages, never
silently: an unusable call is retried or reported back to the model, and a turn that keeps calling
tools stops at a step limit with an AIMessage that says so.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Annotated, Any, Literal, get_args

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.tools import BaseTool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.prebuilt import ToolNode
from langgraph.runtime import Runtime
from pydantic import TypeAdapter, ValidationError

from ..core.chat_model import ToolPRMChatModel
from ..core.loader import ScorerKind
from ..core.search import Strategy

InvalidCallPolicy = Literal["retry", "report"]
INVALID_CALL_POLICIES: tuple[str, ...] = get_args(InvalidCallPolicy)
FEEDBACK_NAME = "invalid_tool_call"
"""The ``name`` of the user-role message that reports an unusable call back to the model."""
STEP_LIMIT = "step_limit"
"""The ``finish_reason`` of the AIMessage that ends a turn at the step limit."""


@dataclass(frozen=True)
class SearchSettings:
    """Per-run search settings for a ToolPRMChatModel; None keeps the model's own. Each is checked
    against the chat model's field of the same name. Other chat models ignore them."""

    strategy: Strategy | None = None
    n_retain: int | None = None
    m_explore: int | None = None
    temperature: float | None = None
    scorer: ScorerKind | None = None

    def __post_init__(self) -> None:
        for name, value in self.updates().items():
            field = ToolPRMChatModel.model_fields[name]
            try:
                TypeAdapter(Annotated[field.annotation, field]).validate_python(value)
            except ValidationError as exc:
                raise ValueError(f"search setting {name}={value!r}: {exc.errors()[0]['msg']}") from None

    def updates(self) -> dict[str, Any]:
        """The settings given, as a ToolPRMChatModel ``model_copy`` update."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def for_run(cls, configurable: Mapping[str, Any], context: SearchSettings | None) -> SearchSettings:
        """The run's settings: ``configurable``'s keys named like the fields, then the run's
        ``context`` (its settings win where both give one)."""
        given = {k: configurable[k] for k in SEARCH_KEYS if configurable.get(k) is not None}
        if context is not None:
            given.update(context.updates())
        return cls(**given)


SEARCH_KEYS: tuple[str, ...] = tuple(SearchSettings.__dataclass_fields__)
"""The ``configurable`` keys a run may set: strategy, n_retain, m_explore, temperature, scorer."""


@dataclass(frozen=True)
class AgentSettings:
    """How the loop treats an unusable call and a turn that does not end.

    ``invalid_calls``: ``"retry"`` runs the step again, up to ``max_retries`` times (a
    ToolPRMChatModel with the next seed), and reports the last attempt if every one is unusable;
    ``"report"`` keeps the model's message and tells the model what was wrong so it can correct
    itself. ``max_steps``: model steps per user turn; past it the turn ends with an AIMessage whose
    ``finish_reason`` is ``"step_limit"``.
    """

    invalid_calls: InvalidCallPolicy = "report"
    max_retries: int = 2
    max_steps: int = 8

    def __post_init__(self) -> None:
        if self.invalid_calls not in INVALID_CALL_POLICIES:
            raise ValueError(f"unknown invalid_calls policy {self.invalid_calls!r}: choose from "
                             f"{', '.join(INVALID_CALL_POLICIES)}")
        for name, least in (("max_retries", 0), ("max_steps", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"{name} must be a whole number of at least {least}, not {value!r}")


def steps_this_turn(messages: Sequence[BaseMessage]) -> int:
    """Model steps (AIMessages) since the user last spoke; reported invalid calls do not count as speaking."""
    steps = 0
    for m in reversed(messages):
        if isinstance(m, HumanMessage) and m.name != FEEDBACK_NAME:
            break
        steps += isinstance(m, AIMessage)
    return steps


def report_invalid(message: AIMessage) -> list[BaseMessage]:
    """The model's message without its calls (none may run when one is unusable) and a user-role
    message, named :data:`FEEDBACK_NAME`, that says what was wrong. A ToolMessage cannot carry
    it: it must answer a call in ``tool_calls``, and providers (and ToolPRM) refuse one that does not."""
    lines = [f"- {c.get('name') or '(no name)'}({c.get('args') or ''}): {c.get('error') or 'unusable'}"
             for c in message.invalid_tool_calls]
    lines += [f"- {c['name']}({c['args']}): not run, another call in the same step was unusable"
              for c in message.tool_calls]
    text = ("Your tool call could not be used:\n" + "\n".join(lines)
            + "\nCall the tool again with valid arguments, or answer without a tool.")
    kept = message.model_copy(update={"tool_calls": []}) if message.tool_calls else message
    return [kept, HumanMessage(text, name=FEEDBACK_NAME)]


def make_agent_node(model: BaseChatModel, tools: Sequence[BaseTool | Callable[..., Any]],
                    settings: AgentSettings | None = None) -> Callable[..., dict[str, list[BaseMessage]]]:
    """A LangGraph node that runs one agent step: ``model`` bound to ``tools`` answers the
    conversation in ``MessagesState``.

    For a ToolPRMChatModel the run's :class:`SearchSettings` apply (a copy of the model; copies
    share the loaded weights, and the bound copies of recent settings are kept) and each trace
    entry goes to the stream writer as ``{"event": "search", "step", "attempt", "entry"}``; a retry
    writes ``{"event": "retry", "step", "attempt", "errors"}``.
    """
    if not isinstance(model, BaseChatModel):
        raise TypeError(f"model must be a LangChain chat model (BaseChatModel), not {type(model).__name__}: "
                        f"pass the model itself, not one already bound to tools")
    if not tools:
        raise ValueError("tools is empty: an agent needs at least one tool")
    settings = settings or AgentSettings()
    searching = isinstance(model, ToolPRMChatModel)

    @functools.lru_cache(maxsize=8)
    def bound(updates: tuple[tuple[str, Any], ...]) -> Runnable[Any, BaseMessage]:
        return (model.model_copy(update=dict(updates)) if updates else model).bind_tools(tools)

    def ask(messages: list[BaseMessage], search: SearchSettings, step: int, attempt: int,
            config: RunnableConfig) -> AIMessage:
        if not searching:
            return bound(()).invoke(messages, config)  # type: ignore[return-value]
        updates = search.updates()
        if attempt and model.seed is not None:  # type: ignore[attr-defined]
            updates["seed"] = model.seed + attempt  # type: ignore[attr-defined]
        writer = get_stream_writer()
        return bound(tuple(sorted(updates.items()))).invoke(  # type: ignore[return-value]
            messages, config,
            on_trace=lambda entry: writer({"event": "search", "step": step, "attempt": attempt, "entry": entry}))

    def agent(state: MessagesState, config: RunnableConfig,
              runtime: Runtime[SearchSettings]) -> dict[str, list[BaseMessage]]:
        messages = state["messages"]
        step = steps_this_turn(messages) + 1
        if step > settings.max_steps:
            return {"messages": [AIMessage(
                f"Stopped: this turn reached the step limit of {settings.max_steps} model steps without a "
                f"final answer.", response_metadata={"finish_reason": STEP_LIMIT})]}
        search = SearchSettings.for_run(config.get("configurable") or {}, runtime.context)
        tries = 1 + (settings.max_retries if settings.invalid_calls == "retry" else 0)
        for attempt in range(tries):
            message = ask(messages, search, step, attempt, config)
            if not message.invalid_tool_calls:
                return {"messages": [message]}
            if attempt + 1 < tries:
                get_stream_writer()({"event": "retry", "step": step, "attempt": attempt,
                                     "errors": [c.get("error") for c in message.invalid_tool_calls]})
        return {"messages": report_invalid(message)}

    return agent


def route(state: MessagesState) -> Literal["tools", "agent", "__end__"]:
    """Tools when the model called some, the model again after a reported invalid call, else the end."""
    last = state["messages"][-1]
    if isinstance(last, AIMessage) and last.tool_calls:
        return "tools"
    if isinstance(last, HumanMessage) and last.name == FEEDBACK_NAME:
        return "agent"
    return END


def create_toolprm_agent(
    model: BaseChatModel, tools: Sequence[BaseTool | Callable[..., Any]], *,
    checkpointer: BaseCheckpointSaver | None = None, invalid_calls: InvalidCallPolicy = "report",
    max_retries: int = 2, max_steps: int = 8,
) -> CompiledStateGraph:
    """A tool-calling agent: ``agent`` (:func:`make_agent_node`) and LangGraph's ``ToolNode`` in a
    loop over ``MessagesState``, with any chat model. See :class:`AgentSettings` for the policy
    and the step limit, :class:`SearchSettings` for what a run may set (``config={"configurable":
    {"m_explore": 2}}`` or ``context={"m_explore": 2}``). ``checkpointer``: LangGraph's (e.g.
    ``InMemorySaver``, ``SqliteSaver``) to keep conversations by ``thread_id``.
    """
    settings = AgentSettings(invalid_calls, max_retries, max_steps)
    graph = StateGraph(MessagesState, context_schema=SearchSettings)
    graph.add_node("agent", make_agent_node(model, tools, settings))
    graph.add_node("tools", ToolNode(list(tools)))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", route, ["tools", "agent", END])
    graph.add_edge("tools", "agent")
    # Each model step takes at most two graph steps (agent, tools): LangGraph's own recursion
    # limit must not end a turn before the step limit does.
    return graph.compile(checkpointer=checkpointer).with_config(recursion_limit=max(25, 2 * max_steps + 3))


__all__ = [
    "FEEDBACK_NAME", "INVALID_CALL_POLICIES", "SEARCH_KEYS", "STEP_LIMIT", "AgentSettings", "InvalidCallPolicy",
    "SearchSettings", "create_toolprm_agent", "make_agent_node", "report_invalid", "route", "steps_this_turn",
]
