"""ToolPRMChatModel: a LangChain chat model whose tool calls come from PRM-guided search.

It translates LangChain messages and tools to the policy's prompt, runs a search strategy
(policy proposes, scorer scores) and translates the chosen call list back into an AIMessage
with ``tool_calls``, usage and the search trace. Models load lazily, once, and are shared by
every copy ``bind_tools`` / ``with_structured_output`` make.
"""

from __future__ import annotations

import contextlib
import json
import math
import queue
import sys
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import LanguageModelInput
from langchain_core.language_models.chat_models import BaseChatModel, LangSmithParams
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, ToolMessage
from langchain_core.messages.tool import invalid_tool_call, tool_call, tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, Field, PrivateAttr

from .backend import Backend
from .embedded import policy_name
from .engine import Answer, Reply, answer
from .loader import ScorerKind, load_backend, load_scorer
from .proposer import Constraints
from .schema import normalize_tools
from .scorers import GenerativePRM, Scorer
from .search import Aggregation, OnTrace, SearchConfig, Strategy
from .steps import Step, StepTag, replay
from .verifier import VerifierScorer

ToolChoice = str | bool | dict[str, Any] | None


@dataclass
class _Loaded:
    backend: Backend
    scorer: Scorer
    lock: threading.Lock


_LOADED: weakref.WeakValueDictionary[tuple[Any, ...], _Loaded] = weakref.WeakValueDictionary()
"""Models loaded in this process by (model, prm, scorer, device, dtype): two chat models with the
same settings share one copy (and its lock) for as long as either is alive."""


class _Holder:
    """Lazily loaded models, shared by reference between copies of the chat model."""

    def __init__(self) -> None:
        self.loaded: _Loaded | None = None
        self.key: tuple[Any, ...] = ()
        self.lock = threading.Lock()


def resolve_tool_choice(tool_choice: ToolChoice, names: Sequence[str]) -> tuple[bool, str | None, bool]:
    """-> (a call is required, the forced first function, calls are disabled)."""
    if tool_choice in (None, "auto"):
        return False, None, False
    if tool_choice == "none":
        return False, None, True
    if tool_choice in ("any", "required", True):
        return True, None, False
    name = tool_choice
    if isinstance(tool_choice, dict):
        name = (tool_choice.get("function") or {}).get("name") or tool_choice.get("name")
    if isinstance(name, str) and name in names:
        return True, name, False
    raise ValueError(
        f"unknown tool_choice {tool_choice!r}: use 'auto', 'none', 'any', 'required', True, "
        f"or one of the bound tool names {list(names)}"
    )


class ToolPRMChatModel(BaseChatModel):
    """A Hugging Face causal LM that answers tool calls by fine-grained PRM-guided search.

    ``ToolPRMChatModel()`` uses the embedded Gemma 3 270M with its shipped tool-calling adapter
    (``model="gemma-3-270m"``: the base as packaged) and the training-free verifier. Pass ``model`` (a local path or cached hub id) for another policy, ``prm`` for
    a trained generative PRM, and the search knobs (``n_retain`` = N, ``m_explore`` = M).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, protected_namespaces=())

    model: str | None = None
    """Policy: a local model directory, a hub id in the local cache, or a LoRA adapter directory
    (merged into the base its config names); None or ``"gemma-3-270m-tools"`` = the embedded Gemma 3
    270M with the shipped tool-calling adapter (docs/policy.md), ``"gemma-3-270m"`` = the base as packaged."""
    prm: str | None = None
    """A trained generative PRM (full model or peft adapter directory), or a reward head on the
    policy's own states (``toolprm train-head``); ``"toolprm"`` = the shipped ToolPRM (trained on
    the embedded policy's rollouts); None = the verifier alone."""
    scorer: ScorerKind | None = None
    """Which scorer guides the search; default: verifier, or combined when ``prm`` is set;
    ``"tiebreak"``: the verifier ranks and ``prm`` only breaks its ties."""
    strategy: Strategy = "beam"
    n_retain: int = Field(default=1, ge=1)
    """N: open paths kept after each step."""
    m_explore: int = Field(default=4, ge=1)
    """M: candidates explored per path and step (finite choices enumerated, values sampled)."""
    temperature: float = Field(default=0.8, ge=0.0, allow_inf_nan=False)
    """Sampling temperature of the search's candidate values (the paper's 0.8)."""
    reply_temperature: float = Field(default=0.3, ge=0.0, allow_inf_nan=False)
    """Sampling temperature of a prose reply: lower than the search's, since a 270M model's prose
    at 0.8 drifts off the conversation (0: greedy)."""
    aggregation: Aggregation = "min"
    policy_weight: float = Field(default=0.0, ge=0.0, allow_inf_nan=False)
    """Paths rank by score x p(path)^policy_weight; 0: the policy's log-probability only breaks ties."""
    widen_below: float | None = Field(default=None, gt=0.0, le=1.0)
    """Adaptive exploration: a path takes the policy's likeliest step alone and explores M only where
    the scorer rates that step below this (docs/adaptive.md); None: M at every step."""
    widen_policy: float = Field(default=0.0, ge=0.0, le=1.0)
    """With ``widen_below``: also explore M where the policy gives its likeliest step less than this."""
    max_tokens: int = Field(default=128, ge=1)
    """Bound on a prose reply's tokens."""
    max_value_tokens: int = Field(default=32, ge=1)
    """Bound on one argument value's tokens; longer values are cut and never returned."""
    max_calls: int = Field(default=4, ge=1)
    seed: int | None = 0
    timeout: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    """Seconds for a whole call: waiting for the model, prompt encoding, search and reply (the
    one-time model load is not counted). Past it a ``TimeoutError`` is raised."""
    max_prompt_tokens: int | None = Field(default=8192, ge=1)
    """Prompts longer than this are refused before encoding (None: the model's context window).
    Encoding grows faster than linearly with length: on 2 CPU cores an 8k-token prompt takes
    tens of seconds (docs/first_call.md), a 19k-token one minutes."""
    stop: list[str] | None = None
    device: str | None = None
    """Where the policy runs ("cpu", "cuda"); or ``device_map`` for accelerate's placement."""
    device_map: str | None = None
    base_url: str | list[str] | None = None
    """A serving engine that already serves the policy (several URLs: replicas of one model, used
    round robin); ``model`` then only names its tokenizer (None: the embedded model's)."""
    engine: Literal["llama-cpp-python", "llama-server", "vllm", "sglang"] = "llama-cpp-python"
    """Which engine serves ``base_url`` (its request fields: docs/served.md)."""
    dtype: str = "float32"
    """float32 is the fast path on CPUs without native bf16 (AVX2); bfloat16 on GPUs."""
    backend: Backend | None = Field(default=None, exclude=True)
    """An already-built policy backend (takes precedence over ``model``)."""
    prm_model: GenerativePRM | None = Field(default=None, exclude=True)
    """An already-loaded PRM (takes precedence over ``prm``)."""

    _holder: _Holder = PrivateAttr(default_factory=_Holder)

    @property
    def _llm_type(self) -> str:
        return "toolprm"

    @property
    def model_name(self) -> str:
        if self.backend is not None:
            return self.backend.name
        return policy_name(self.model)

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name, "prm": self.prm, "strategy": self.strategy,
            "n_retain": self.n_retain, "m_explore": self.m_explore, "temperature": self.temperature,
            "aggregation": self.aggregation, "policy_weight": self.policy_weight,
            "widen_below": self.widen_below, "widen_policy": self.widen_policy,
        }

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = super()._get_ls_params(stop=stop, **kwargs)
        params.update(ls_provider="toolprm", ls_model_name=kwargs.get("model") or self.model_name,
                      ls_model_type="chat", ls_temperature=kwargs.get("temperature", self.temperature),
                      ls_max_tokens=kwargs.get("max_tokens", self.max_tokens))
        if stop or self.stop:
            params["ls_stop"] = stop or self.stop
        return params

    # ---- loading --------------------------------------------------------------------------
    def _load_key(self) -> tuple[Any, ...]:
        urls = tuple([self.base_url] if isinstance(self.base_url, str) else self.base_url or ())
        return (self.model, self.prm, self.scorer, self.device, self.device_map, self.dtype, urls, self.engine,
                id(self.backend), id(self.prm_model))

    def _load(self) -> _Loaded:
        holder = self._holder
        with holder.lock:
            if holder.loaded is not None and holder.key != self._load_key():
                # A copy made with another model or scorer must not reuse its origin's models.
                self._holder = holder = _Holder()
            if holder.loaded is None and self.backend is None and self.prm_model is None:
                # Another model in this process with the same settings already loaded them.
                holder.loaded = _LOADED.get(self._load_key())
                holder.key = self._load_key()
            if holder.loaded is None:
                start = time.perf_counter()
                if self.backend is None:
                    print(f"toolprm: loading the policy {self.model_name} ...", file=sys.stderr, flush=True)
                if self.backend is not None:
                    backend = self.backend
                elif self.base_url is not None:
                    backend = load_backend(self.model, kind="served", base_url=self.base_url, engine=self.engine)
                else:
                    backend = load_backend(self.model, device=self.device, dtype=self.dtype, device_map=self.device_map)
                scorer = load_scorer(self.scorer, self.prm, prm_model=self.prm_model, dtype=self.dtype,
                                     device=self.device, policy=backend)
                holder.loaded = _Loaded(backend, scorer, threading.Lock())
                holder.key = self._load_key()
                if self.backend is None and self.prm_model is None:
                    _LOADED[holder.key] = holder.loaded
                if self.backend is None:
                    print(f"toolprm: ready in {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
            return holder.loaded

    # ---- tools ------------------------------------------------------------------------------
    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable | BaseTool],
        *,
        tool_choice: ToolChoice = None,
        parallel_tool_calls: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools; the schemas are checked here so a bad one fails before any search."""
        tools = _drop_repeats(tools)
        specs = normalize_tools(tools)
        resolve_tool_choice(tool_choice, [s.name for s in specs])
        formatted = [convert_to_openai_tool(t) for t in tools]
        extra: dict[str, Any] = {}
        if tool_choice is not None:
            extra["tool_choice"] = tool_choice
        if parallel_tool_calls is not None:
            extra["parallel_tool_calls"] = parallel_tool_calls
        return super().bind(tools=formatted, **extra, **kwargs)

    # ---- generation -------------------------------------------------------------------------
    def _search_config(self, **overrides: Any) -> SearchConfig:
        fields = ("strategy", "n_retain", "m_explore", "temperature", "aggregation", "policy_weight",
                  "widen_below", "widen_policy", "max_value_tokens", "seed", "timeout")
        values = {f: overrides.get(f, getattr(self, f)) for f in fields}
        return SearchConfig(**values)

    def _respond(self, messages: list[BaseMessage], stop: list[str] | None, *,
                 on_decided: Callable[[tuple[Step, ...]], None] | None = None,
                 on_text: Callable[[str], None] | None = None, on_trace: OnTrace | None = None,
                 call_ids: Sequence[str] = (), **kwargs: Any) -> AIMessage:
        """Answer ``messages``. ``on_decided``/``on_text`` stream the decided steps and the prose
        reply; ``on_trace`` (a per-call argument: ``invoke(..., on_trace=fn)``) receives each trace
        entry as the search writes it; ``call_ids`` are the ids the returned tool calls take, in
        order (for streaming)."""
        if kwargs.get("model") not in (None, self.model, self.model_name):
            raise ValueError(f"per-call model={kwargs['model']!r} is not supported: the policy is "
                             f"{self.model_name!r}; construct another ToolPRMChatModel instead")
        config = self._search_config(**kwargs)  # checks every search setting
        started = time.monotonic()
        max_tokens = _positive_int("max_tokens", kwargs.get("max_tokens", self.max_tokens))
        max_calls = _positive_int("max_calls", kwargs.get("max_calls", self.max_calls))
        reply_temperature = kwargs.get("reply_temperature", self.reply_temperature)
        if not (isinstance(reply_temperature, (int, float)) and math.isfinite(reply_temperature)
                and reply_temperature >= 0):
            raise ValueError(f"reply_temperature must be a finite number >= 0, not {reply_temperature!r}")
        tools = kwargs.get("tools") or []
        specs = normalize_tools(tools) if tools else []
        required, forced, disabled = resolve_tool_choice(kwargs.get("tool_choice"), [s.name for s in specs])
        if required and not specs:
            raise ValueError(f"tool_choice={kwargs.get('tool_choice')!r} requires a call, but no tools are bound: "
                             f"use bind_tools([...]) first")
        check_conversation(messages)
        if disabled:
            specs = []
        loaded = self._load()
        rules = Constraints(tuple(specs), required, forced,
                            max_calls if kwargs.get("parallel_tool_calls", True) is not False else 1)
        reply = Reply(max_tokens, float(reply_temperature), tuple(stop or self.stop or ()))
        # A served backend with the verifier holds no per-call state: calls (batch()) run at once
        # and share the servers. An in-process model or PRM answers one call at a time.
        concurrent = loaded.backend.thread_safe and isinstance(loaded.scorer, VerifierScorer)
        with contextlib.nullcontext() if concurrent else loaded.lock:
            got = answer(loaded.backend, loaded.scorer, messages, specs, config, rules=rules, reply=reply,
                         max_prompt=self.max_prompt_tokens,
                         deadline=started + config.timeout if config.timeout else None,
                         on_decided=on_decided, on_text=on_text, on_trace=on_trace)
        return _message(got, config, loaded.backend.name, list(call_ids), rules.max_calls)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        message = self._respond(messages, stop, **kwargs)
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        """Stream as the answer is decided: each step every path still in contention shares
        becomes a ``tool_call_chunk`` (every step with greedy; with beam search once the
        candidates agree), a prose reply streams token by token, and the last chunk carries
        usage and the search trace. The search runs in a worker thread; ``on_trace`` is called in
        the caller's."""
        events: queue.Queue[tuple[str, Any]] = queue.Queue()
        ids = [_call_id() for _ in range(_positive_int("max_calls", kwargs.get("max_calls", self.max_calls)))]
        on_trace: OnTrace | None = kwargs.pop("on_trace", None)

        def work() -> None:
            try:
                message = self._respond(messages, stop, on_decided=lambda steps: events.put(("steps", steps)),
                                        on_text=lambda text: events.put(("text", text)),
                                        on_trace=(lambda entry: events.put(("trace", entry))) if on_trace else None,
                                        call_ids=ids, **kwargs)
                events.put(("done", message))
            except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
                events.put(("error", e))

        worker = threading.Thread(target=work, name="toolprm-stream", daemon=True)
        worker.start()
        sent = 0
        while True:
            kind, payload = events.get()
            if kind == "error":
                worker.join()
                raise payload
            if kind == "done":
                break
            if kind == "trace":
                on_trace(payload)  # type: ignore[misc]  # only queued when on_trace is set
                continue
            if kind == "steps":
                chunks = _step_chunks(payload, sent, ids)
                sent = len(payload)
                if not chunks:
                    continue
                chunk = AIMessageChunk(content="", tool_call_chunks=chunks)
            else:
                chunk = AIMessageChunk(content=payload)
            if run_manager:
                run_manager.on_llm_new_token(payload if kind == "text" else "", chunk=ChatGenerationChunk(message=chunk))
            yield ChatGenerationChunk(message=chunk)
        worker.join()
        message: AIMessage = payload
        last = AIMessageChunk(content="", usage_metadata=message.usage_metadata,
                              response_metadata=message.response_metadata,
                              invalid_tool_calls=message.invalid_tool_calls, chunk_position="last")
        if run_manager:
            run_manager.on_llm_new_token("", chunk=ChatGenerationChunk(message=last))
        yield ChatGenerationChunk(message=last)


def _message(got: Answer, config: SearchConfig, model_name: str, call_ids: list[str], max_calls: int) -> AIMessage:
    """The engine's answer as an AIMessage: tool calls (or an invalid call when the search
    finished no call list), the prose reply, usage, and the search trace."""
    ids = call_ids + [_call_id() for _ in range(max_calls - len(call_ids))]
    metadata: dict[str, Any] = {"model_name": model_name, "model_provider": "toolprm"}
    tool_calls: list[Any] = []
    invalid: list[Any] = []
    if got.result is not None:
        metadata["search"] = {
            "strategy": config.strategy, "n_retain": config.n_retain, "m_explore": config.m_explore,
            "aggregation": config.aggregation, "policy_weight": config.policy_weight,
            "widen_below": config.widen_below, "widen_policy": config.widen_policy, "trace": got.result.trace,
        }
    if got.calls is None:
        error = "no call list finished within the step and value-token limits"
        invalid.append(invalid_tool_call(name=None, args=None, id=ids[0], error=error))
    else:
        tool_calls = [tool_call(name=c.name, args=c.arguments, id=i) for c, i in zip(got.calls, ids)]
    metadata["finish_reason"] = "tool_calls" if tool_calls else "stop"
    p_in, s_in, out = got.policy_usage.input_tokens, got.scorer_usage.input_tokens, got.policy_usage.output_tokens
    metadata["policy_input_tokens"], metadata["scorer_input_tokens"] = p_in, s_in
    usage = {"input_tokens": p_in + s_in, "output_tokens": out, "total_tokens": p_in + s_in + out}
    return AIMessage(content=got.reply, tool_calls=tool_calls, invalid_tool_calls=invalid,
                     usage_metadata=usage, response_metadata=metadata)


def _step_chunks(steps: tuple[Step, ...], sent: int, ids: Sequence[str]) -> list[Any]:
    """``tool_call_chunk`` s for the steps decided since ``sent``: a call's name when it is chosen,
    each argument as a fragment of its JSON arguments, the closing brace when they end."""
    state = replay(steps[:sent])
    index = len(state.calls) - (1 if state.open_name is None else 0)
    first_arg = not state.open_args
    out = []
    for step in steps[sent:]:
        if step.tag is StepTag.FUNC_NAME:
            index += 1
            first_arg = True
            out.append(tool_call_chunk(name=step.name, args="", id=ids[index], index=index))
        elif step.tag is StepTag.ARG_VALUE:
            text = ("{" if first_arg else ", ") + json.dumps(step.name) + ": " + json.dumps(step.value, ensure_ascii=False)
            first_arg = False
            out.append(tool_call_chunk(name=None, args=text, id=None, index=index))
        elif step.tag is StepTag.PARAM_FINISH:
            out.append(tool_call_chunk(name=None, args="{}" if first_arg else "}", id=None, index=index))
    return out


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, not {value!r}")
    return value


def check_conversation(messages: Sequence[BaseMessage]) -> None:
    """Refuse histories a hosted chat model refuses: a tool result that answers no earlier call,
    and a call whose result is missing when the conversation moves on (a new user or assistant
    turn). A call may be the last message's (its result has not come back yet)."""
    open_ids: dict[str, str] = {}
    for i, m in enumerate(messages):
        if isinstance(m, ToolMessage):
            if m.tool_call_id not in open_ids:
                raise ValueError(f"message {i} is a tool result for call id {m.tool_call_id!r}, but no earlier "
                                 f"assistant message made a call with that id")
            del open_ids[m.tool_call_id]
            continue
        if open_ids and isinstance(m, (HumanMessage, AIMessage)):
            missing = ", ".join(f"{name} ({cid})" for cid, name in open_ids.items())
            raise ValueError(f"message {i} follows tool calls whose results are missing: {missing}; add a "
                             f"ToolMessage for each call before it")
        if isinstance(m, AIMessage):
            open_ids.update({c["id"]: c["name"] for c in m.tool_calls if c.get("id")})


def _drop_repeats(tools: Sequence[Any]) -> list[Any]:
    """Drop a tool that repeats an earlier one with the same name and the same parameter
    schema up to annotations (e.g. a pydantic model and its ``model_json_schema()``); a name
    bound twice with different schemas is left for ``normalize_tools`` to reject."""

    def bare(schema: Any) -> Any:
        if isinstance(schema, list):
            return [bare(s) for s in schema]
        if not isinstance(schema, dict):
            return schema
        return {k: ({n: bare(v) for n, v in sub.items()} if k == "properties" and isinstance(sub, dict)
                    else bare(sub))
                for k, sub in schema.items() if k not in ("title", "description", "examples")}

    kept: list[Any] = []
    seen: dict[str, Any] = {}
    for t in tools:
        try:
            fn = convert_to_openai_tool(t)["function"]
        except Exception:  # noqa: BLE001 - normalize_tools reports it with its context
            kept.append(t)
            continue
        key = bare(fn.get("parameters") or {})
        if fn.get("name") in seen and seen[fn.get("name")] == key:
            continue
        seen.setdefault(fn.get("name"), key)
        kept.append(t)
    return kept


def _call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


__all__ = ["ToolPRMChatModel", "check_conversation", "resolve_tool_choice"]
