"""The text-decoding baselines: what a user of the bare model gets, to compare the search with.

``unconstrained`` is plain greedy ``model.generate`` and ``token_beam`` transformers' token-level
beam search, both on the prompt the chat model builds. The answer text is read into calls
afterwards by :func:`parse_calls`, which ``reports.reread_text_answers`` re-applies to stored answers.
:class:`UnconstrainedChatModel` wraps the same decoding as a chat model, so an agent graph can run
the bare policy beside the search on the same tools.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import torch
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.messages.tool import tool_call
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, Field
from transformers import StoppingCriteria, StoppingCriteriaList

from ..backends.transformers import TransformersBackend
from ..core.backend import ContextLengthError, Usage
from ..core.engine import Reply, answer
from ..core.prompts import CallFormat, build_prompt
from ..core.schema import ToolSpec, normalize_tools
from ..core.search import SearchConfig
from ..core.steps import Call
from ..core.verifier import VerifierScorer
from .specs import EvalSpec

# ---- parsing free text ---------------------------------------------------------------------------
_TOOL_CALL = re.compile(r"<tool_call>(.*?)(?:</tool_call>|$)", re.S)


def _as_call(obj: Any) -> Call | None:
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        return None
    args = obj.get("arguments", obj.get("parameters", {}))
    return Call(obj["name"], args) if isinstance(args, dict) else None


def _all_calls(calls: list[Call | None]) -> list[Call] | None:
    return None if any(c is None for c in calls) else list(calls)  # type: ignore[arg-type]


def parse_calls(text: str, fmt: CallFormat) -> list[Call] | None:
    """Calls a free-text answer spells in ``fmt``, or None when it cannot be read as calls.

    JSON-list formats must open with the list (trailing text is ignored); ``<tool_call>``
    formats may hold zero blocks (a prose answer: no call); Llama-3 style is ``;``-separated
    objects. Each call needs a string name and an object of arguments. Names and values are
    not checked against the tools: the benchmark's scorer judges them, as BFCL's AST checker
    and the Hammer F1 scores do (an unknown name or a wrong value is a wrong call, and on
    irrelevance any call read counts as calling).
    """
    decoder = json.JSONDecoder()
    if fmt.name == "qwen":
        calls: list[Call | None] = []
        for block in _TOOL_CALL.findall(text):
            try:
                calls.append(_as_call(json.loads(block)))
            except ValueError:
                return None
        return _all_calls(calls)
    if fmt.name == "llama3":
        calls, rest = [], text.strip()
        while rest.startswith("{"):
            try:
                obj, end = decoder.raw_decode(rest)
            except ValueError:
                return None
            calls.append(_as_call(obj))
            rest = rest[end:].lstrip().removeprefix(";").lstrip()
        return _all_calls(calls)
    try:
        obj, _ = decoder.raw_decode(text.strip())
    except ValueError:
        return None
    return _all_calls([_as_call(o) for o in obj]) if isinstance(obj, list) else None


# ---- decoding ------------------------------------------------------------------------------------
def _json_closed(text: str) -> bool:
    """Whether ``text`` already opens with a whole JSON value: all ``parse_calls`` reads of a
    JSON-list answer, so decoding further cannot change the prediction."""
    try:
        json.JSONDecoder().raw_decode(text.strip())
    except ValueError:
        return False
    return True


class _StopText(StoppingCriteria):
    """Ends a row once its new text holds a stop string (or, with ``closed``, once the answer is
    complete). transformers' own ``stop_strings`` preprocesses the whole vocabulary on every
    call (seconds for Gemma's 262k tokens); decoding each row's few new tokens costs next to
    nothing."""

    def __init__(self, tokenizer: Any, stops: Sequence[str], start: int,
                 closed: Callable[[str], bool] | None = None) -> None:
        self.tokenizer, self.stops, self.start, self.closed = tokenizer, tuple(stops), start, closed

    def _done(self, text: str) -> bool:
        return any(s in text for s in self.stops) or (self.closed is not None and self.closed(text))

    def __call__(self, input_ids: torch.Tensor, scores: Any, **kwargs: Any) -> torch.Tensor:
        texts = self.tokenizer.batch_decode(input_ids[:, self.start:])
        return torch.tensor([self._done(t) for t in texts], dtype=torch.bool, device=input_ids.device)


def generate_text(
    policy: TransformersBackend, messages: Sequence[BaseMessage], specs: Sequence[ToolSpec], spec: EvalSpec,
) -> tuple[list[Call] | None, str]:
    """Plain transformers decoding of the same prompt text: greedy, or ``num_beams`` beams."""
    prompt = build_prompt(policy.tokenizer, messages, specs)
    ids = policy.encode(prompt.text, special=not prompt.chat_template)
    if len(ids) + spec.max_new_tokens > policy.max_context:
        raise ContextLengthError(f"the prompt is {len(ids)} tokens and the answer may need {spec.max_new_tokens} "
                                 f"more, but the policy's context window is {policy.max_context} tokens")
    beams = spec.budget if spec.strategy == "token_beam" else 1
    inputs = torch.tensor([ids], device=policy.device)
    # The built-in prompt's answer ends where the next turn starts; templates end at EOS.
    # Greedy JSON-list answers also end once the list closes (beams keep their own course).
    closed = _json_closed if beams == 1 and prompt.call_format.name == "json_list" else None
    stops = [] if prompt.chat_template else [
        _StopText(policy.tokenizer, (*prompt.stop, "\nAssistant:"), len(ids), closed)]
    with torch.no_grad():
        out = policy.model.generate(
            inputs, attention_mask=torch.ones_like(inputs), max_new_tokens=spec.max_new_tokens, do_sample=False,
            num_beams=beams, stopping_criteria=StoppingCriteriaList(stops),
        )
    steps = out.shape[1] - len(ids)
    # As transformers feeds them: every beam gets the prompt, then one token per step.
    policy.usage.add(Usage(beams * (len(ids) + max(steps - 1, 0)), beams * steps))
    new = out[0, len(ids):].tolist()
    ends = {*policy.eos_ids, policy.tokenizer.pad_token_id}  # EOS, then padding for a shorter beam
    new = new[: next((i for i, t in enumerate(new) if t in ends), len(new))]
    # Special tokens stay: some templates' call markers (<tool_call>) are special tokens.
    raw = policy.tokenizer.decode(new, skip_special_tokens=False)
    return parse_calls(raw, prompt.call_format), raw


# ---- as a chat model -----------------------------------------------------------------------------
class UnconstrainedChatModel(BaseChatModel):
    """The ``unconstrained`` baseline as a LangChain chat model: what an agent built on the bare
    policy does. A step with tools bound is :func:`generate_text` (greedy, no grammar) read by
    :func:`parse_calls`. Calls read -> ``tool_calls``; an empty list -> a prose reply written
    greedily as ToolPRMChatModel writes one with no tools offered; text that cannot be read as
    calls -> that text is the reply (the bare model answered in prose, or broke its call)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    backend: TransformersBackend = Field(exclude=True)
    max_new_tokens: int = Field(default=256, ge=1)
    """Bound on the tokens of a step's call text."""
    max_tokens: int = Field(default=128, ge=1)
    """Bound on a prose reply's tokens."""

    @property
    def _llm_type(self) -> str:
        return "toolprm-unconstrained"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Runnable[LanguageModelInput, AIMessage]:
        normalize_tools(tools)  # a schema the prompt cannot show fails here, before any step
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        specs = normalize_tools(kwargs.get("tools") or [])
        spec = EvalSpec("unconstrained", max_new_tokens=self.max_new_tokens)
        calls, raw = generate_text(self.backend, messages, specs, spec) if specs else ([], "")
        if calls:
            message = AIMessage("", tool_calls=[tool_call(name=c.name, args=c.arguments, id=f"call_{uuid.uuid4().hex[:12]}")
                                                for c in calls])
        elif calls is None:
            message = AIMessage(raw.strip())
        else:
            got = answer(self.backend, VerifierScorer(), messages, [], SearchConfig(strategy="greedy"),
                         reply=Reply(self.max_tokens, 0.0, tuple(stop or ())))
            message = AIMessage(got.reply)
        return ChatResult(generations=[ChatGeneration(message=message)])
