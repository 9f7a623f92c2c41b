"""Messages + tools -> the policy's prompt, and the text format the policy writes calls in.

Models with a tool-aware chat template are prompted through it (``tools=``) so they stay in
their own format; base models without one (Gemma 3 270M) get the documented built-in prompt
below, which asks for a JSON list of calls after ``Calls:``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from .schema import ToolSpec
from .steps import dump_value


@dataclass(frozen=True)
class CallFormat:
    """How a policy spells a call list; ``empty`` None means "no call" is written as prose."""

    name: str
    list_open: str
    call_open: str  # with {name}
    call_sep: str
    call_close: str
    list_close: str
    empty: str | None

    def open_call(self, name: str, first: bool) -> str:
        return (self.list_open if first else self.call_sep) + self.call_open.format(name=dump_value(name))

    def name_text(self, name: str, first: bool) -> str:
        """:meth:`open_call` up to the end of the name: where the choice of function is decided."""
        head = self.call_open.split("{name}")[0].format()
        return (self.list_open if first else self.call_sep) + head + dump_value(name)


JSON_LIST = CallFormat("json_list", "[", '{{"name": {name}, "arguments": {{', ", ", "}", "]", "[]")


# Base-model prompts end with "Calls:"; the list's opening token carries its leading space,
# as in the few-shot example, instead of a lone space token the model never saw there.
BUILTIN_JSON = CallFormat("json_list", " [", '{{"name": {name}, "arguments": {{', ", ", "}", "]", " []")


def qwen_format(eos: str) -> CallFormat:
    return CallFormat(
        "qwen", "<tool_call>\n", '{{"name": {name}, "arguments": {{', "\n<tool_call>\n",
        "}\n</tool_call>", eos, None,
    )


def llama3_format(eos: str) -> CallFormat:
    return CallFormat("llama3", "", '{{"name": {name}, "parameters": {{', "; ", "}", eos, None)


@dataclass(frozen=True)
class PolicyPrompt:
    """The prompt text, the call format, and what ends a prose reply."""

    text: str
    call_format: CallFormat
    reply_prefix: str  # appended after an empty call list before a prose reply
    stop: tuple[str, ...]
    chat_template: bool
    static_head: str = ""
    """The start of ``text`` that is the same for every question (instructions, examples)."""


BUILTIN_INTRO = (
    "You are an assistant that calls functions. Functions are given as JSON Schema. "
    "After 'Calls:' write a JSON list of function calls whose argument values come from the "
    "conversation: one call for each thing the user asks for, [] when no function fits. "
    "Then reply after 'Assistant:'.\n\n"
)
_EXAMPLE_TOOLS = [
    {"name": "find_recipes", "description": "Search recipes by main ingredient", "parameters": {
        "type": "object", "properties": {"ingredient": {"type": "string"}, "max_results": {"type": "integer"}},
        "required": ["ingredient"]}},
    {"name": "set_timer", "description": "Start a kitchen timer", "parameters": {
        "type": "object", "properties": {"minutes": {"type": "integer"}, "label": {"type": "string"}},
        "required": ["minutes"]}},
]
_EXAMPLE = (
    "### Example\nFunctions:\n" + "\n".join(json.dumps(t) for t in _EXAMPLE_TOOLS) + "\n"
    "User: Start a 12 minute timer for the pasta and a 5 minute one for the sauce.\n"
    'Calls: [{"name": "set_timer", "arguments": {"minutes": 12, "label": "pasta"}}, '
    '{"name": "set_timer", "arguments": {"minutes": 5, "label": "sauce"}}]\n'
    "Tool (set_timer): pasta timer started\n"
    "Tool (set_timer): sauce timer started\n"
    "Calls: []\n"
    "Assistant: Both timers are running: 12 minutes for the pasta and 5 for the sauce.\n"
    "User: Who wrote the novel Dracula?\n"
    "Calls: []\n"
    "Assistant: Bram Stoker wrote Dracula.\n"
    "User: Any ideas for dinner with leeks?\n"
    'Calls: [{"name": "find_recipes", "arguments": {"ingredient": "leeks"}}]\n\n'
)
BUILTIN_HEAD = BUILTIN_INTRO + _EXAMPLE + "### Task\n"
"""The built-in prompt's static head: instructions and a worked example (two calls, a list
closed after a tool result, ``[]`` when no function fits, one call with only what was asked)."""
_ROLE = {"system": "System", "human": "User", "ai": "Assistant", "tool": "Tool"}
BUILTIN_STOP = ("\nUser:", "\nSystem:", "\nTool", "\nCalls:", "\n###", "\n---", "\nFunctions:")


def message_text(message: BaseMessage) -> str:
    """The text of a message; non-text content blocks are an error, not silently dropped."""
    if isinstance(message.content, str):
        return message.content
    parts = []
    for block in message.content:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, dict) and block.get("type") == "text":
            parts.append(block.get("text", ""))
        elif isinstance(block, dict) and block.get("type") in (
            "tool_use", "reasoning", "thinking", "tool_call", "tool_call_chunk", "invalid_tool_call"
        ):
            continue
        else:
            kind = block.get("type") if isinstance(block, dict) else type(block).__name__
            raise ValueError(f"content blocks of type {kind!r} are not supported (text only)")
    return "".join(parts)


def _tool_lines(tools: Sequence[ToolSpec]) -> str:
    return "\n".join(json.dumps(t.openai["function"], ensure_ascii=False) for t in tools)


def render_conversation(messages: Sequence[BaseMessage]) -> str:
    """The conversation in the built-in plain-text format (also the PRM's context)."""
    lines = []
    for m in messages:
        role = _ROLE.get(m.type)
        if role is None:
            raise ValueError(f"unsupported message type {m.type!r}")
        text = message_text(m)
        if isinstance(m, AIMessage) and m.tool_calls:
            calls = [{"name": c["name"], "arguments": c["args"]} for c in m.tool_calls]
            if text:
                lines.append(f"Assistant: {text}")
            lines.append("Calls: " + dump_value(calls))
        elif isinstance(m, ToolMessage):
            lines.append(f"Tool ({m.name or m.tool_call_id}): {text}")
        else:
            lines.append(f"{role}: {text}")
    return "\n".join(lines) + "\n"


def render_context(messages: Sequence[BaseMessage], tools: Sequence[ToolSpec]) -> str:
    """Functions + conversation, ending where the call list starts: the PRM's context."""
    head = f"Functions:\n{_tool_lines(tools)}\n" if tools else ""
    return head + render_conversation(messages) + "Calls:"


def builtin_prompt(messages: Sequence[BaseMessage], tools: Sequence[ToolSpec]) -> PolicyPrompt:
    if not tools:
        return PolicyPrompt(render_conversation(messages) + "Assistant:", BUILTIN_JSON, "\nAssistant:",
                            BUILTIN_STOP, chat_template=False)
    return PolicyPrompt(BUILTIN_HEAD + render_context(messages, tools), BUILTIN_JSON, "\nAssistant:",
                        BUILTIN_STOP, chat_template=False, static_head=BUILTIN_HEAD)


def _hf_message(m: BaseMessage) -> dict[str, Any]:
    role = {"system": "system", "human": "user", "ai": "assistant", "tool": "tool"}.get(m.type)
    if role is None:
        raise ValueError(f"unsupported message type {m.type!r}")
    out: dict[str, Any] = {"role": role, "content": message_text(m)}
    if isinstance(m, AIMessage) and m.tool_calls:
        out["tool_calls"] = [
            {"type": "function", "id": c.get("id"), "function": {"name": c["name"], "arguments": c["args"]}}
            for c in m.tool_calls
        ]
    if isinstance(m, ToolMessage):
        out["tool_call_id"] = m.tool_call_id
        if m.name:
            out["name"] = m.name
    return out


def detect_format(template: str, eos: str) -> CallFormat:
    if "<tool_call>" in template:
        return qwen_format(eos)
    if '"parameters"' in template or "<|python_tag|>" in template:
        return llama3_format(eos)
    return JSON_LIST


def build_prompt(tokenizer: Any, messages: Sequence[BaseMessage], tools: Sequence[ToolSpec]) -> PolicyPrompt:
    """The policy's prompt: its own tool-aware chat template, else the built-in prompt."""
    if not messages:
        raise ValueError("no messages to answer")
    for m in messages:
        if not isinstance(m, (SystemMessage, HumanMessage, AIMessage, ToolMessage)):
            raise ValueError(f"unsupported message type {type(m).__name__}")
    template = tokenizer.chat_template if isinstance(getattr(tokenizer, "chat_template", None), str) else None
    if template is None or (tools and "tools" not in template):
        return builtin_prompt(messages, tools)
    text = tokenizer.apply_chat_template(
        [_hf_message(m) for m in messages],
        tools=[t.openai for t in tools] or None,
        add_generation_prompt=True,
        tokenize=False,
    )
    eos = tokenizer.eos_token or ""
    fmt = detect_format(template, eos) if tools else JSON_LIST
    return PolicyPrompt(text, fmt, "", (eos,) if eos else (), chat_template=True)
