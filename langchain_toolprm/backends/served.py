"""A policy served by an inference engine: the same search over HTTP.

A path's state is its text: the server's prompt cache keeps the shared prefix, so each request
pays only for what a step adds. Finite choices are scored from the log-probabilities the server
returns for a prompt's own tokens (each text appended to the path), values are sampled under a
per-request grammar compiled from their JSON Schema, prose is plain completion.

Engines differ only in request and response fields, so each is a :class:`Dialect`:
llama.cpp's own ``llama-server`` and llama-cpp-python's server (both tested against a live
server), vLLM and SGLang (their documented fields; see docs/served.md for the server flags each
needs). Several replicas may stand behind one model: requests go round robin, a replica that
refuses, times out or answers 5xx is skipped, and when every replica failed the round is retried
with bounded backoff, then a :class:`ServedBackendError` names each replica and what it answered.

Differences from the in-process backend, by design: the text of a step is appended as text
(the server tokenizes the whole prompt, so a token may straddle a step boundary; its
log-probability then counts for the step it ends in), a text's log-probability is that of one
way of writing it (the server's), and a value's is the model's own over the tokens sampled, not
renormalised under the grammar.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx

from ..core.backend import ContextLengthError, Sampled, Scored, Usage, char_class
from ..core.prompts import PolicyPrompt
from ..core.steps import dump_value


class ServedBackendError(RuntimeError):
    """No replica answered a request (each replica's failure is in the message)."""


@dataclass(frozen=True)
class SState:
    """Where a path stands: the whole text the model has been given."""

    text: str


@dataclass(frozen=True)
class SMove:
    """The text a step appends."""

    text: str


class SeededRng:
    """A Python random stream: categorical draws here, and a seed for each sampling request."""

    def __init__(self, seed: int | None) -> None:
        self.random = random.Random(seed)

    def categorical(self, logprobs: Sequence[float], temperature: float, n: int) -> list[int]:
        top = max(logprobs)
        weights = [math.exp((lp - top) / temperature) for lp in logprobs]
        return self.random.choices(range(len(logprobs)), weights=weights, k=n)

    def seed(self) -> int:
        return self.random.randrange(1 << 31)


# ---- engine dialects ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Completion:
    """What every dialect's response comes down to."""

    text: str
    """The generated text (after the prompt)."""
    logprob: float
    """Sum of the generated tokens' log-probabilities."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    prompt_logprobs: tuple[tuple[int, float], ...] = ()
    """(character offset in the prompt, log-probability) of each prompt token, when asked for."""
    token_logprobs: tuple[tuple[int, float], ...] = ()
    """(character offset in prompt + text, log-probability) of each generated token."""


class Dialect(Protocol):
    """Request builders and response readers of one serving engine."""

    name: str
    scores_prompt: bool
    """True: a text is scored from the log-probabilities of the prompt's own tokens; False: by
    generating it under a grammar that allows only it (its tokens' log-probabilities are the
    model's own, before the grammar)."""

    def complete(self, prompt: str, *, max_tokens: int, temperature: float, seed: int | None,
                 stop: Sequence[str] = (), schema: dict[str, Any] | None = None, forced: str | None = None,
                 lead: str = "", tail: str = "", prompt_logprobs: bool = False,
                 logprobs: bool = True) -> tuple[str, dict[str, Any]]:
        """(path, JSON body) of a completion request. ``schema``: the output must be a JSON
        value valid under it, after ``lead`` (written by the model where the grammar allows, so
        a token may span both) and, when ``tail`` is given, then one of its characters (so a
        number ends where the model would close it, not at the token budget); ``forced``: the
        output must be exactly this text. ``logprobs`` False: the generated tokens'
        log-probabilities are not needed (a prose reply), so the engine need not compute them."""
        ...

    def read(self, response: dict[str, Any], prompt: str, prompt_logprobs: bool) -> Completion: ...

    def tokenize(self, text: str) -> tuple[str, dict[str, Any]]: ...

    def count(self, response: dict[str, Any]) -> int: ...


def _openai_logprobs(choice: dict[str, Any], prompt: str, echoed: bool) -> tuple[
        tuple[tuple[int, float], ...], tuple[tuple[int, float], ...]]:
    """OpenAI legacy completion logprobs -> (prompt tokens', generated tokens') (offset, logprob)."""
    lp = choice.get("logprobs") or {}
    pairs = [(o, v if v is not None else 0.0) for o, v in zip(lp.get("text_offset") or [], lp.get("token_logprobs") or [])]
    cut = len(prompt) if echoed else -1
    return tuple(p for p in pairs if p[0] < cut), tuple(p for p in pairs if p[0] >= cut)


def _llama_cpp_fields(body: dict[str, Any], seed: int | None, stop: Sequence[str], schema: dict[str, Any] | None,
                      forced: str | None, lead: str, tail: str) -> dict[str, Any]:
    """``body`` with the fields both llama.cpp servers spell alike: the seed, stop strings, and the
    GBNF grammar of a value (``lead``, the value, a ``tail`` character) or of a forced text."""
    if seed is not None:
        body["seed"] = seed
    if stop:
        body["stop"] = list(stop)
    if schema is not None:
        body["grammar"] = gbnf(schema, lead, tail)
    elif forced is not None:
        body["grammar"] = forced_gbnf(forced)
    return body


class LlamaCppPython:
    """llama-cpp-python's OpenAI-compatible server (``python -m llama_cpp.server``).

    Its prompt log-probabilities (``echo``) cost a Python sort over the vocabulary per prompt
    token (minutes for a 500-token prompt), so a text is scored by generating it under a grammar
    that allows only it; and a request that is not streamed takes a log-softmax over its whole
    ``n_ctx`` x vocabulary score matrix, so requests with log-probabilities are streamed. Values use the ``grammar`` field too, GBNF written by llama-cpp-python's
    own JSON Schema converter (so the server parses what it wrote); ``n`` is not honoured by the
    server, so M samples are M requests.
    """

    name = "llama-cpp-python"
    scores_prompt = False

    def complete(self, prompt: str, *, max_tokens: int, temperature: float, seed: int | None,
                 stop: Sequence[str] = (), schema: dict[str, Any] | None = None, forced: str | None = None,
                 lead: str = "", tail: str = "", prompt_logprobs: bool = False,
                 logprobs: bool = True) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {"prompt": prompt, "max_tokens": max_tokens, "temperature": temperature,
                                "echo": prompt_logprobs, "top_k": 0, "top_p": 1.0, "min_p": 0.0,
                                "repeat_penalty": 1.0}
        if logprobs:
            body |= {"logprobs": 0, "stream": True}
        return "/v1/completions", _llama_cpp_fields(body, seed, stop, schema, forced, lead, tail)

    def read(self, response: dict[str, Any], prompt: str, prompt_logprobs: bool) -> Completion:
        return _read_openai(response, prompt, echoed=prompt_logprobs)

    def tokenize(self, text: str) -> tuple[str, dict[str, Any]]:
        return "/extras/tokenize/count", {"input": text}

    def count(self, response: dict[str, Any]) -> int:
        return int(response["count"])


def _read_openai(response: dict[str, Any], prompt: str, echoed: bool) -> Completion:
    choice = response["choices"][0]
    text = choice.get("text") or ""
    prompt_part, generated = _openai_logprobs(choice, prompt, echoed)
    usage = response.get("usage") or {}
    return Completion(text[len(prompt):] if echoed else text, sum(v for _, v in generated),
                      int(usage.get("prompt_tokens") or 0),
                      int(usage.get("completion_tokens") or 0), prompt_part, generated)


class LlamaServer:
    """llama.cpp's own server (``llama-server``), on its native ``/completion``.

    As with llama-cpp-python, a text is scored by generating it under a grammar that allows only
    it, and values come under GBNF (the same converter's, the same grammar language); here the
    log-probabilities are computed in C++ (``n_probs`` from the raw logits,
    ``post_sampling_probs: false``), so asking for them costs next to nothing. Samplers are set to
    plain temperature sampling; ``cache_prompt`` keeps a path's prefix in the slot's cache (on
    models without sliding-window layers; Gemma 3 needs ``--swa-full`` for that, which is unsafe
    on the build tested: docs/served.md).
    """

    name = "llama-server"
    scores_prompt = False

    def complete(self, prompt: str, *, max_tokens: int, temperature: float, seed: int | None,
                 stop: Sequence[str] = (), schema: dict[str, Any] | None = None, forced: str | None = None,
                 lead: str = "", tail: str = "", prompt_logprobs: bool = False,
                 logprobs: bool = True) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {"prompt": prompt, "n_predict": max_tokens, "temperature": temperature, "top_k": 0,
                                "top_p": 1.0, "min_p": 0.0, "typical_p": 1.0, "repeat_penalty": 1.0,
                                "cache_prompt": True}
        if logprobs:
            body |= {"n_probs": 1, "post_sampling_probs": False}
        return "/completion", _llama_cpp_fields(body, seed, stop, schema, forced, lead, tail)

    def read(self, response: dict[str, Any], prompt: str, prompt_logprobs: bool) -> Completion:
        tokens, done = [], b""
        for p in response.get("completion_probabilities") or []:
            # Offsets from the tokens' bytes: a token may end inside a character its text drops.
            tokens.append((len(prompt) + len(done.decode("utf-8", errors="ignore")), float(p.get("logprob", 0.0))))
            done += bytes(p["bytes"]) if p.get("bytes") is not None else str(p.get("token", "")).encode("utf-8")
        return Completion(response.get("content") or "", sum(v for _, v in tokens),
                          int(response.get("tokens_evaluated") or 0),
                          int(response.get("tokens_predicted") or 0), token_logprobs=tuple(tokens))

    def tokenize(self, text: str) -> tuple[str, dict[str, Any]]:
        return "/tokenize", {"content": text, "add_special": True}

    def count(self, response: dict[str, Any]) -> int:
        return len(response["tokens"])


class VLLM:
    """vLLM's OpenAI-compatible server (``vllm serve MODEL``).

    Prompt log-probabilities come from ``echo`` with ``logprobs`` (legacy completions format);
    values from ``structured_outputs`` (``{"json": schema}``, or ``{"grammar": ...}`` in
    xgrammar's EBNF when a value must be followed by a character of ``tail``).
    """

    name = "vllm"
    scores_prompt = True

    def complete(self, prompt: str, *, max_tokens: int, temperature: float, seed: int | None,
                 stop: Sequence[str] = (), schema: dict[str, Any] | None = None, forced: str | None = None,
                 lead: str = "", tail: str = "", prompt_logprobs: bool = False,
                 logprobs: bool = True) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {"prompt": prompt + lead, "max_tokens": max_tokens, "temperature": temperature,
                                "echo": prompt_logprobs, "top_k": -1, "top_p": 1.0}
        if logprobs or prompt_logprobs:
            body["logprobs"] = 0
        if seed is not None:
            body["seed"] = seed
        if stop:
            body["stop"] = list(stop)
        if schema is not None:
            body["structured_outputs"] = {"grammar": xgrammar_ebnf(schema, tail)} if tail else {"json": schema}
        elif forced is not None:
            body["structured_outputs"] = {"grammar": forced_gbnf(forced)}
        return "/v1/completions", body

    def read(self, response: dict[str, Any], prompt: str, prompt_logprobs: bool) -> Completion:
        return _read_openai(response, prompt, echoed=prompt_logprobs)

    def tokenize(self, text: str) -> tuple[str, dict[str, Any]]:
        return "/tokenize", {"prompt": text, "add_special_tokens": True}

    def count(self, response: dict[str, Any]) -> int:
        return int(response["count"])


class SGLang:
    """SGLang's native ``/generate`` (``python -m sglang.launch_server``).

    Prompt log-probabilities: ``return_logprob`` from ``logprob_start_len`` 0 with token texts;
    values: ``json_schema`` in ``sampling_params`` (``ebnf``, xgrammar's, when a value must be
    followed by a character of ``tail``).
    """

    name = "sglang"
    scores_prompt = True

    def complete(self, prompt: str, *, max_tokens: int, temperature: float, seed: int | None,
                 stop: Sequence[str] = (), schema: dict[str, Any] | None = None, forced: str | None = None,
                 lead: str = "", tail: str = "", prompt_logprobs: bool = False,
                 logprobs: bool = True) -> tuple[str, dict[str, Any]]:
        params: dict[str, Any] = {"max_new_tokens": max_tokens, "temperature": temperature, "top_k": -1,
                                  "top_p": 1.0}
        if seed is not None:
            params["sampling_seed"] = seed
        if stop:
            params["stop"] = list(stop)
        if schema is not None and tail:
            params["ebnf"] = xgrammar_ebnf(schema, tail)
        elif schema is not None:
            params["json_schema"] = json.dumps(schema)
        elif forced is not None:
            params["ebnf"] = forced_gbnf(forced)
        body = {"text": prompt + lead, "sampling_params": params, "return_logprob": logprobs or prompt_logprobs,
                "return_text_in_logprobs": True, "logprob_start_len": 0 if prompt_logprobs else -1}
        return "/generate", body

    def read(self, response: dict[str, Any], prompt: str, prompt_logprobs: bool) -> Completion:
        meta = response.get("meta_info") or {}
        offsets, pos = [], 0
        for lp, _, tok in meta.get("input_token_logprobs") or []:
            offsets.append((pos, lp if lp is not None else 0.0))
            pos += len(tok or "")
        generated = sum(lp for lp, _, _ in meta.get("output_token_logprobs") or [] if lp is not None)
        return Completion(response.get("text") or "", generated,
                          int(meta.get("prompt_tokens") or 0), int(meta.get("completion_tokens") or 0),
                          tuple(offsets))

    def tokenize(self, text: str) -> tuple[str, dict[str, Any]]:
        return "/tokenize", {"prompt": text}

    def count(self, response: dict[str, Any]) -> int:
        return int(response.get("count") or len(response["tokens"]))


DIALECTS: dict[str, type] = {d.name: d for d in (LlamaCppPython, LlamaServer, VLLM, SGLang)}


# ---- replicas -------------------------------------------------------------------------------------
class Replicas:
    """Server URLs behind one model: round robin, failed replicas skipped, bounded retries."""

    def __init__(self, urls: Sequence[str], *, timeout: float = 120.0, retries: int = 3, backoff: float = 0.5) -> None:
        if not urls:
            raise ValueError("no server URL given")
        self.urls = [u.rstrip("/") for u in urls]
        self.retries, self.backoff = retries, backoff
        self._client = httpx.Client(timeout=timeout)
        self._next = itertools.count()
        self._lock = threading.Lock()

    def post(self, path: str, body: dict[str, Any], *, deadline: float | None = None) -> dict[str, Any]:
        """The first replica's answer, trying each in turn from the next in the rotation; a round
        where every replica failed is retried after ``backoff`` seconds, doubling, ``retries`` times."""
        with self._lock:
            start = next(self._next) % len(self.urls)
        order = self.urls[start:] + self.urls[:start]
        failures: dict[str, str] = {}
        for attempt in range(self.retries + 1):
            for url in order:
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError("the call ran past its timeout")
                try:
                    with self._client.stream("POST", url + path, json=body) as r:
                        r.read()
                except httpx.TransportError as e:  # refused, reset, timed out
                    failures[url] = f"{type(e).__name__}: {e}"
                    continue
                if r.status_code >= 500:
                    failures[url] = f"HTTP {r.status_code}: {r.text[:200]}"
                    continue
                if r.status_code >= 400:  # the request itself is wrong: another replica would say the same
                    raise ServedBackendError(f"{url}{path} refused the request (HTTP {r.status_code}): {r.text[:500]}")
                return _merge_events(r.text) if body.get("stream") else r.json()
            if attempt < self.retries:
                time.sleep(self.backoff * 2 ** attempt)
        detail = "; ".join(f"{u}: {m}" for u, m in failures.items())
        raise ServedBackendError(f"no replica answered {path} after {self.retries + 1} rounds ({detail})")

    def close(self) -> None:
        self._client.close()


def _merge_events(text: str) -> dict[str, Any]:
    """A streamed OpenAI completion (server-sent events) as one response: texts and per-token
    log-probabilities joined, the last finish reason."""
    chunks = [json.loads(line[5:]) for line in text.splitlines()
              if line.startswith("data:") and line[5:].strip() not in ("", "[DONE]")]
    joined: dict[str, list[Any]] = {"tokens": [], "text_offset": [], "token_logprobs": []}
    out_text, finish = "", None
    for chunk in chunks:
        choice = chunk["choices"][0]
        out_text += choice.get("text") or ""
        finish = choice.get("finish_reason") or finish
        for key in joined:
            joined[key] += (choice.get("logprobs") or {}).get(key) or []
    usage = {"prompt_tokens": 0, "completion_tokens": len(joined["token_logprobs"])}
    return {"choices": [{"text": out_text, "finish_reason": finish, "logprobs": joined}], "usage": usage}


# ---- the backend ----------------------------------------------------------------------------------
class ServedBackend:
    """A model behind one or more serving-engine replicas, as a
    :class:`~langchain_toolprm.core.backend.Backend`.

    ``tokenizer``: the model's Hugging Face tokenizer, for its chat template (None: the
    built-in prompt). ``max_context``: the server's context size (``n_ctx``).
    """

    thread_safe = True
    """Holds no per-call state but the deadline (per thread): chat-model calls may run at once."""

    def __init__(self, urls: str | Sequence[str], *, engine: str = "llama-cpp-python", tokenizer: Any = None,
                 name: str | None = None, max_context: int = 8192, timeout: float = 300.0, retries: int = 3,
                 backoff: float = 0.5, workers: int | None = None) -> None:
        if engine not in DIALECTS:
            raise ValueError(f"unknown serving engine {engine!r}: choose from {', '.join(DIALECTS)}")
        urls = [urls] if isinstance(urls, str) else list(urls)
        self.dialect: Dialect = DIALECTS[engine]()
        self.replicas = Replicas(urls, timeout=timeout, retries=retries, backoff=backoff)
        self.tokenizer = tokenizer
        self.name = name or urls[0]
        self.usage = Usage()
        self._max_context = max_context
        self._pool = ThreadPoolExecutor(max_workers=workers or len(urls))  # one request in flight per replica
        self._local = threading.local()
        self._usage_lock = threading.Lock()

    @property
    def deadline(self) -> float | None:
        return getattr(self._local, "deadline", None)

    @deadline.setter
    def deadline(self, value: float | None) -> None:
        self._local.deadline = value

    @property
    def max_context(self) -> int:
        return self._max_context

    def _complete(self, prompt: str, **kwargs: Any) -> Completion:
        path, body = self.dialect.complete(prompt, **kwargs)
        got = self.dialect.read(self.replicas.post(path, body, deadline=self.deadline), prompt,
                                kwargs.get("prompt_logprobs", False))
        with self._usage_lock:
            self.usage.input_tokens += got.prompt_tokens
            self.usage.output_tokens += got.completion_tokens
        return got

    def _map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        """``fn`` over ``items`` concurrently (the replicas share the requests), in order."""
        deadline = self.deadline

        def call(item: Any) -> Any:
            self.deadline = deadline  # worker threads inherit the caller's deadline
            return fn(item)

        return list(self._pool.map(call, items)) if len(items) > 1 else [fn(i) for i in items]

    # ---- the Backend interface ------------------------------------------------------------------
    def start(self, prompt: PolicyPrompt, reserve: int, *, max_prompt: int | None = None) -> SState:
        text = prompt.text
        bos = getattr(self.tokenizer, "bos_token", None)
        if prompt.chat_template and bos and text.startswith(bos):
            text = text[len(bos):]  # the server adds the BOS token itself
        path, body = self.dialect.tokenize(text)
        n = self.dialect.count(self.replicas.post(path, body, deadline=self.deadline))
        with self._usage_lock:
            self.usage.input_tokens += n  # the prompt once: the server's cache holds it for the steps
        if max_prompt is not None and n > max_prompt:
            raise ContextLengthError(f"the prompt is {n} tokens, over max_prompt_tokens={max_prompt}")
        if n + reserve > self.max_context:
            raise ContextLengthError(f"the prompt is {n} tokens and the answer may need {reserve} more, but the "
                                     f"server's context is {self.max_context} tokens")
        return SState(text)

    def reset(self) -> None:
        """Nothing is cached here; the server's prompt cache is its own."""

    def rng(self, seed: int | None) -> SeededRng:
        return SeededRng(seed)

    def score(self, state: SState, texts: Sequence[str | None], *, free: bool = False) -> list[Scored]:
        if len(texts) == 1 and not free:
            return [Scored(0.0)]
        known = [t for t in texts if t is not None]
        own = dict(zip(known, self._map(lambda t: self._text_logprob(state.text, t), known)))
        if None in texts:  # the complement: whatever mass the texts leave
            rest = math.log(max(1.0 - sum(math.exp(v) for v in own.values()), 1e-12))
            return [Scored(own[t] if t is not None else rest) for t in texts]
        if free:
            return [Scored(own[t]) for t in texts]  # type: ignore[index]
        top = max(own.values())
        norm = top + math.log(sum(math.exp(v - top) for v in own.values()))
        return [Scored(own[t] - norm) for t in texts]  # type: ignore[index]

    def _text_logprob(self, prefix: str, text: str) -> float:
        """log p(text | prefix): the log-probabilities of its tokens, read from the prompt (every
        token that ends inside ``text``) or from generating it.

        Generating, the end of ``prefix`` (its last word, at most ``_REDO`` characters) is
        written again with the text, so a token the model would write across the boundary
        (``"Tokyo",`` as ``Tokyo`` + ``",``) is found; the text may be followed by a few
        structural characters, so its last token may be one that runs on (``"`` as ``",``). The
        tokens that start inside the text count.
        """
        if not self.dialect.scores_prompt:
            redo = min(len(prefix) - len(prefix.rstrip().rsplit(None, 1)[0]) if prefix.strip() else 0, _REDO)
            head, tail = prefix[:len(prefix) - redo], prefix[len(prefix) - redo:]
            got = self._complete(head, max_tokens=len((tail + text).encode("utf-8")) + 4, temperature=0.0, seed=0,
                                 forced=tail + text)
            spans = [o - len(head) for o, _ in got.token_logprobs] + [1 << 30]
            return sum(v for (o, v), end in zip(got.token_logprobs, spans[1:])
                       if end > len(tail) and o - len(head) < len(tail) + len(text))
        whole = prefix + text
        got = self._complete(whole, max_tokens=1, temperature=0.0, seed=0, prompt_logprobs=True)
        offsets = [o for o, _ in got.prompt_logprobs] + [len(whole)]
        return sum(v for (o, v), end in zip(got.prompt_logprobs, offsets[1:]) if end > len(prefix))

    def move(self, state: SState, scored: Scored, text: str) -> SMove:
        return SMove(text)

    def advance(self, state: SState, move: SMove) -> SState:
        return SState(state.text + move.text)

    def sample_values(
        self, state: SState, lead: str, schema: dict[str, Any], n: int, *, tail: str, temperature: float,
        max_tokens: int, rng: SeededRng, distinct: bool = False,
    ) -> list[Sampled | None]:
        prompt = state.text
        rows = 1 if temperature <= 0 else n  # greedy: one request stands for every row
        seeds = [rng.seed() for _ in range(rows)]

        def one(seed: int) -> Sampled | None:
            # The tail character ends a number where the model would close it (without it, the
            # grammar lets "5" run on as "5000..." until the budget, as the model never ends it).
            # Once it is written the value is whole: the budget may run out in what follows it
            # (a run-on token, the EOS), so a value of ``max_tokens`` tokens is kept as in process.
            got = self._complete(prompt, max_tokens=max_tokens + 1, temperature=temperature, seed=seed,
                                 schema=schema, lead=lead, tail=tail)
            text = got.text.removeprefix(lead)
            try:
                value, end = _DECODER.raw_decode(text, len(text) - len(text.lstrip()))
            except ValueError:
                return None
            rest = text[end:].lstrip()
            if not rest or rest[0] not in tail:  # "" is in every string
                return None
            end += len(got.text) - len(text)
            return Sampled(value, _logprob_before(got, end), SMove(lead + dump_value(value)))

        out = self._map(one, seeds)
        return out * n if rows == 1 else out

    def write(
        self, state: SState, prefix: str, *, max_tokens: int, temperature: float, stop: tuple[str, ...],
        rng: SeededRng, on_text: Callable[[str], None] | None = None,
    ) -> str:
        got = self._complete(state.text + prefix, max_tokens=max_tokens, temperature=temperature, seed=rng.seed(),
                             stop=[s for s in stop if s], logprobs=False)
        text = got.text.strip()
        if on_text is not None and text:
            on_text(text)
        return text


@functools.lru_cache(maxsize=256)
def _gbnf(schema_json: str) -> str:
    try:
        from llama_cpp.llama_grammar import json_schema_to_gbnf
    except ImportError as e:
        raise ImportError("values for llama-cpp-python's server are constrained by GBNF from its own JSON Schema "
                          "converter: pip install llama-cpp-python") from e
    return json_schema_to_gbnf(schema_json)


_DECODER = json.JSONDecoder()
_REDO = 24
"""At most this many characters of a path's end are written again with a scored text."""
_RUN_ON = " ,:}]{[\"\n"
"""What may follow a scored text in the same token (as the in-process backend's covers)."""


def _logprob_before(got: Completion, end: int) -> float:
    """The log-probability of the generated tokens that start before character ``end`` of the
    text: a value's own, as in process, without the tail and the EOS the grammar forces after it
    (where the engine reports tokens; else the whole)."""
    if not got.token_logprobs:
        return got.logprob
    base = got.token_logprobs[0][0]
    return sum(v for o, v in got.token_logprobs if o - base < end)


def forced_gbnf(text: str) -> str:
    """GBNF for exactly ``text``, then up to three structural characters."""
    return f"root ::= {json.dumps(text, ensure_ascii=False)} {char_class(_RUN_ON)}{{0,3}}"


def gbnf(schema: dict[str, Any], lead: str = "", tail: str = "") -> str:
    """A GBNF grammar for ``lead``, a JSON value valid under ``schema`` (properties in declared
    order), then one character of ``tail`` (and what a token may carry after it) when given."""
    rules = _gbnf(json.dumps(schema))
    if not lead and not tail:
        return rules
    after = f" {_after(tail)}" if tail else ""
    return rules.replace("root ::=", "value ::=", 1) + f"\nroot ::= {json.dumps(lead)} value{after}\n"


def xgrammar_ebnf(schema: dict[str, Any], tail: str) -> str:
    """xgrammar's EBNF (what vLLM's and SGLang's default grammar backend parse) for a JSON
    value valid under ``schema`` then one character of ``tail`` (and what a token may carry after it)."""
    import xgrammar as xgr

    value = xgr.Grammar.from_json_schema(json.dumps(schema), any_whitespace=False, separators=(", ", ": "))
    return str(xgr.Grammar.concat(value, xgr.Grammar.from_ebnf(f"root ::= {_after(tail)}")))


def _after(tail: str) -> str:
    """One character of ``tail``, then what a token may carry after it (``}]``, ``",``): the
    model's mass on ending a value is not cut to the tokens that hold exactly one character."""
    return f"{char_class(tail)} {char_class(_RUN_ON)}{{0,3}}"


def load_backend(model: str | Path | None = None, *, base_url: str | Sequence[str], engine: str = "llama-cpp-python",
                 **settings: Any) -> ServedBackend:
    """A served backend for ``model``'s tokenizer (None or ``"gemma-3-270m"``: the embedded
    model's, which its tuned adapter shares; a directory: its own). The weights are the server's,
    so the name is the base's unless ``model`` names another: the embedded GGUF a server loads is
    the base (no tuned GGUF ships), whatever the in-process default."""
    from transformers import AutoTokenizer

    from ..core.embedded import EMBEDDED_BASE, EMBEDDED_TUNED, ensure_embedded_model, policy_name

    embedded = model in (None, EMBEDDED_BASE, EMBEDDED_TUNED)
    name = policy_name(EMBEDDED_BASE if model is None else model)
    backend = ServedBackend(base_url, engine=engine, name=name, **settings)  # settings checked first
    path = ensure_embedded_model() if embedded else model
    backend.tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    return backend
