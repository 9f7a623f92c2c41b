"""The in-process backend: a Hugging Face causal LM on transformers, read in its own tokens.

Steps are read and written in the model's own tokens. A BPE model writes ``"Tokyo"}},`` as
``Tokyo``, ``"``, ``}},``: a step boundary falls inside its tokens, so feeding each step's
text on its own (a lone ``"`` and then ``}``) puts the model off its distribution. Each beam
therefore keeps its last token unfed (``pending`` text, as in token healing) and the next
step is scored over every route that spells ``pending + text`` from a token boundary: its
first token is any vocabulary token that starts the text, the rest is the text's natural
tokenization, and the last token stands for every token that starts with it (its "cover":
``"}}`` also counts ``"}},`` and ``"}}]``), so a choice gets the mass the model would give
the text however it continued. Free values are sampled under an xgrammar grammar of
``pending``, the value and the first character of what may follow it, so the value ends
inside the token the model would really write.

Everything starts from one encoded prompt: each beam holds the KV cache of its fed prefix,
a chosen step's tokens are fed once on top of it, and candidates are decoded as one batch
over a copy. Finite choices are scored on their own tokens: logits come from the output
projection rows of the tokens allowed at a position, not the whole vocabulary.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import json
import math
import os
import pickle
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from importlib.metadata import version
from pathlib import Path
from typing import Any

import torch

from ..core.backend import ContextLengthError, Sampled, Scored, Usage, char_class
from ..core.embedded import policy_name, resolve_policy
from ..core.hf import clone_cache, load_causal_lm
from ..core.prompts import PolicyPrompt


@dataclass
class KVState:
    """An encoded prefix: its KV cache (batch 1), length and the last position's hidden state."""

    cache: Any
    length: int
    hidden: torch.Tensor  # [hidden_size]


@dataclass(frozen=True)
class TState:
    """Where a path stands: the KV state of its fed tokens, and its last text left unfed (it may
    merge with what follows into one token)."""

    kv: KVState
    pending: bytes = b""
    fed: tuple[int, ...] = ()
    """Every token fed after the prompt: with ``pending`` it spells the call list so far."""


@dataclass(frozen=True)
class TMove:
    """Tokens to feed for a step, and the text it leaves unfed."""

    feed: tuple[int, ...]
    pending: bytes


class TorchRng:
    """A torch generator (None: torch's global stream) behind the search's random stream."""

    def __init__(self, seed: int | None) -> None:
        self.generator = torch.Generator().manual_seed(seed) if seed is not None else None

    def categorical(self, logprobs: Sequence[float], temperature: float, n: int) -> list[int]:
        probs = torch.softmax(torch.tensor(list(logprobs)) / temperature, -1)
        return torch.multinomial(probs, n, replacement=True, generator=self.generator).tolist()


# What may follow the last token of a structural step: a token that extends it only with these
# characters is the same decision (``"}}`` + ``,``); anything else would be another text.
_FOLLOW = frozenset(b' ,:}]{["\n')


class TransformersBackend:
    """A Hugging Face causal LM as a :class:`~langchain_toolprm.core.backend.Backend`."""

    thread_safe = False
    """One model and its caches: the chat model runs one search at a time on it."""
    restrict_limit = 4096
    """When at most this many tokens are legal at a value position, only their logits are computed."""
    prompt_cache_size = 4
    """Encoded prompts kept so a later prompt that starts with one (a growing conversation, the
    same tools and instructions) feeds only its new tokens; 0 disables."""
    min_shared_prefix = 64
    chunk = 512
    """Tokens fed per forward pass when encoding a long prompt."""
    answer_cache_size = 16
    """Step-boundary states :meth:`step_states` keeps, so a path's next step feeds only its own tokens."""
    deadline: float | None = None
    """A ``time.monotonic()`` after which every forward pass raises ``TimeoutError`` (set per call)."""

    def __init__(self, model: Any, tokenizer: Any, name: str | None = None) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name = name or getattr(model.config, "name_or_path", None) or type(model).__name__
        self.usage = Usage()
        self._grammars: dict[tuple[str, str, str], tuple[Any, list[int]]] = {}
        self._prompt_states: dict[tuple[int, ...], KVState] = {}
        self._pinned: dict[tuple[int, ...], KVState] = {}
        self._covers: dict[int, tuple[int, ...]] = {}
        self._answers: dict[tuple[tuple[int, ...], tuple[int, ...]], tuple[KVState, torch.Tensor]] = {}
        self._last_prompt: tuple[Any, list[int]] = (None, [])
        head = model.get_output_embeddings()
        self._head = head.weight
        self._head_bias = getattr(head, "bias", None)
        self._softcap = getattr(model.config, "final_logit_softcapping", None)
        self._eos_ids = _eos_ids(model, tokenizer)

    @classmethod
    def from_pretrained(
        cls, path: str | Path, *, device: str | None = None, dtype: str | torch.dtype = "float32",
        device_map: str | dict | None = None, base_model: str | Path | None = None,
    ) -> TransformersBackend:
        """Load a model directory, a hub id already in the local cache, or a LoRA adapter
        directory merged into its base (see :func:`load_causal_lm`). Nothing is downloaded."""
        model, tokenizer = load_causal_lm(path, base_model=base_model, dtype=dtype, device_map=device_map)
        if device and device_map is None:
            model = model.to(device)
        return cls(model, tokenizer, name=str(path))

    # ---- low level: forward passes and logits -------------------------------------------
    @property
    def device(self) -> torch.device:
        return self._head.device

    @property
    def max_context(self) -> int:
        return int(getattr(self.model.config, "max_position_embeddings", 1 << 30))

    def encode(self, text: str, *, special: bool = False) -> list[int]:
        return self.tokenizer(text, add_special_tokens=special)["input_ids"]

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=False)

    @torch.no_grad()
    def _forward(self, ids: torch.Tensor, cache: Any) -> torch.Tensor:
        """Feed ``ids`` [B, L] on top of ``cache`` (updated in place); final hidden states.

        Long inputs go in chunks of ``chunk`` tokens, and ``deadline`` is checked before each,
        so a timeout interrupts even the encoding of a long prompt."""
        parts = []
        for at in range(0, ids.shape[1], self.chunk):
            if self.deadline is not None and time.monotonic() > self.deadline:
                raise TimeoutError("the call ran past its timeout")
            piece = ids[:, at: at + self.chunk]
            self.usage.input_tokens += int(piece.numel())
            out = self.model.get_decoder()(input_ids=piece.to(self.device), cache=cache, use_cache=True)
            parts.append(out.last_hidden_state)
        return parts[0] if len(parts) == 1 else torch.cat(parts, 1)

    @torch.no_grad()
    def _logits(self, hidden: torch.Tensor, token_ids: torch.Tensor | None = None) -> torch.Tensor:
        """Logits of ``hidden`` [..., H] over the vocabulary, or over ``token_ids`` alone."""
        weight = self._head if token_ids is None else self._head[token_ids]
        logits = hidden.to(weight.dtype) @ weight.T
        if self._head_bias is not None:
            logits = logits + (self._head_bias if token_ids is None else self._head_bias[token_ids])
        if self._softcap:
            logits = torch.tanh(logits / self._softcap) * self._softcap
        return logits.float()

    def prefill(self, ids: list[int], reserve: int = 0, *, pin: int = 0) -> KVState:
        """Encode a prompt once; every beam and step of a search starts from this state.

        ``pin``: the length of a static head (instructions and examples) whose state is kept for
        the life of the policy, so every later prompt that starts with it feeds only the rest.
        """
        if not ids:
            raise ValueError("empty prompt")
        if len(ids) + reserve > self.max_context:
            raise ContextLengthError(
                f"the prompt is {len(ids)} tokens and the answer may need {reserve} more, "
                f"but the policy's context window is {self.max_context} tokens"
            )
        key = tuple(ids)
        if 0 < pin < len(ids) and key[:pin] not in self._pinned:
            self._pinned[key[:pin]] = self._encode_fresh(list(key[:pin]))
        known = {**self._pinned, **self._prompt_states}
        base = max((p for p in known if key[: len(p)] == p), key=len, default=None)
        base_state = known.get(base) if base is not None else None
        if base_state is None:  # share the longest common prefix with a recent prompt (tools, instructions)
            common = max((_common_prefix(p, key) for p in self._prompt_states), default=0)
            if common >= self.min_shared_prefix:
                base, base_state = key[:common], self._encode_fresh(list(key[:common]))
                self._remember(base, base_state)
        state = self._encode_fresh(ids) if base_state is None else self.extend(base_state, key[len(base):])
        self._remember(key, state)
        return state

    def _encode_fresh(self, ids: list[int]) -> KVState:
        from transformers import DynamicCache

        cache = DynamicCache(config=self.model.config)
        hidden = self._forward(torch.tensor([ids]), cache)
        return KVState(cache, len(ids), hidden[0, -1])

    def clear_prompt_cache(self, *, pinned: bool = False) -> None:
        """Forget encoded prompts and compiled grammars (``pinned``: the static heads too)."""
        self._prompt_states.clear()
        self._grammars.clear()
        if pinned:
            self._pinned.clear()

    def warm_up(self) -> None:
        """Build the per-process tables over the vocabulary now, so no timed call pays for them."""
        _ = self._vocab, self._starts, self._blanks

    @property
    def eos_ids(self) -> list[int]:
        return list(self._eos_ids)

    def _remember(self, key: tuple[int, ...], state: KVState) -> None:
        """Keep a prompt's state for later prompts that start with it (states are never mutated)."""
        if self.prompt_cache_size <= 0:
            return
        self._prompt_states.pop(key, None)
        self._prompt_states[key] = state
        while len(self._prompt_states) > self.prompt_cache_size:
            self._prompt_states.pop(next(iter(self._prompt_states)))

    def extend(self, state: KVState, ids: Sequence[int]) -> KVState:
        """A new state with ``ids`` appended; ``state`` itself is left untouched."""
        if not ids:
            return state
        cache = clone_cache(state.cache)
        hidden = self._forward(torch.tensor([list(ids)]), cache)
        return KVState(cache, state.length + len(ids), hidden[0, -1])

    def _repeat(self, state: KVState, n: int) -> Any:
        cache = clone_cache(state.cache)
        if n > 1:
            cache.batch_repeat_interleave(n)
        return cache

    # ---- the vocabulary as bytes --------------------------------------------------------------
    @cached_property
    def _vocab(self) -> tuple[list[bytes], dict[bytes, int], list[tuple[bytes, int]]]:
        """Every token's bytes, the token of each spelling (an ordinary one where there is one), and
        the ordinary tokens sorted by spelling (for covers)."""
        texts = self._tables[2]
        special = set(getattr(self.tokenizer, "all_special_ids", [])) | set(self._eos_ids)
        by_text: dict[bytes, int] = {}
        for i, t in enumerate(texts):
            if t and (t not in by_text or (by_text[t] in special and i not in special)):
                by_text[t] = i
        ordered = sorted((t, i) for i, t in enumerate(texts) if t and i not in special)
        return texts, by_text, ordered

    @cached_property
    def _starts(self) -> dict[bytes, torch.Tensor]:
        """Boolean masks over the vocabulary: tokens whose text starts with ``"`` / with ``,`` or
        ``}`` / with a digit or ``-`` / with ``]``."""
        firsts = [t[:1] for t in self._vocab[0]]
        quote = torch.tensor([f == b'"' for f in firsts], dtype=torch.bool, device=self.device)
        tail = torch.tensor([f in (b",", b"}") for f in firsts], dtype=torch.bool, device=self.device)
        number = torch.tensor([f.isdigit() or f == b"-" for f in firsts], dtype=torch.bool, device=self.device)
        close = torch.tensor([f == b"]" for f in firsts], dtype=torch.bool, device=self.device)
        return {b'"': quote, b",}": tail, b"0-": number, b"]": close}

    @cached_property
    def _blanks(self) -> dict[bytes, list[int]]:
        """The tokens of each whitespace-only spelling (a vocabulary may spell one space twice)."""
        out: dict[bytes, list[int]] = {}
        for i, t in enumerate(self._vocab[0]):
            if t and not t.strip():
                out.setdefault(t, []).append(i)
        return out

    def _split_lead(self, matcher: Any, lead: bytes) -> list[int]:
        """The tokens that must not end where ``lead``'s trailing space ends (``matcher``, at the
        start of the lead's grammar, is spent on the check): the lone space where the value cannot start with
        a number, and the space with a lone ``[`` where only strings may follow the ``[``.

        A tokenizer writes the space after a colon merged with what follows (`` "``, `` [``,
        `` true``), except before a number, which some (Gemma) split into a lone space and digits;
        likewise `` ["`` for an array of strings and `` [`` then digits for one of numbers. A
        split the tokenizer would not make is a spelling the model never saw: a tuned model that
        puts its mass on the lone space because it expects a number then meets only the
        ``"``-led tokens a string allows, and writes ``">Gold"`` (``">`` is a common token)."""
        space = lead[len(lead.rstrip()):]
        if not space or not all(matcher.accept_token(t) for t in self.natural(lead)):
            return []
        out: list[int] = []
        if not (self._next(matcher) & self._starts[b"0-"]).any():
            out += self._blanks.get(space, [])
        by_text = self._vocab[1]
        bracket, merged, opening = by_text.get(space + b"["), by_text.get(space + b'["'), by_text.get(b"[")
        if None not in (bracket, merged, opening) and matcher.accept_token(opening):
            # Only strings (or the close) may follow: `` ["`` then spells every item the split would.
            if not (self._next(matcher) & ~self._starts[b'"'] & ~self._starts[b"]"]).any():
                out.append(bracket)
        return out

    def _next(self, matcher: Any) -> torch.Tensor:
        """The tokens the grammar at ``matcher`` allows next, as a boolean mask over the vocabulary."""
        xgr, _, _ = self._xgr
        bitmask = xgr.allocate_token_bitmask(1, self._head.shape[0])
        matcher.fill_next_token_bitmask(bitmask, 0)
        return _unpack_bitmask(bitmask, self._head.shape[0])[0].to(self.device)

    def token_bytes(self, ids: Sequence[int]) -> bytes:
        texts = self._vocab[0]
        return b"".join(texts[i] for i in ids)

    def natural(self, text: bytes) -> list[int]:
        """The tokenizer's own tokens for ``text`` (spelled back exactly), else a longest-match split."""
        if not text:
            return []
        ids = self.encode(text.decode("utf-8"))
        if self.token_bytes(ids) == text:
            return ids
        by_text = self._vocab[1]
        out, pos = [], 0
        while pos < len(text):
            end = next(e for e in range(len(text), pos, -1) if text[pos:e] in by_text or e == pos + 1)
            if text[pos:end] not in by_text:
                raise ValueError(f"no token spells {text[pos:end]!r}")
            out.append(by_text[text[pos:end]])
            pos = end
        return out

    def _cover(self, token: int) -> tuple[int, ...]:
        """The tokens that start with ``token``'s text and extend it only by structural characters."""
        if token not in self._covers:
            texts, _, ordered = self._vocab
            text = texts[token]
            lo = bisect.bisect_left(ordered, (text, -1))
            out = [token]
            for t, i in ordered[lo:]:
                if not t.startswith(text):
                    break
                if i != token and len(t) > len(text) and all(c in _FOLLOW for c in t[len(text):]):
                    out.append(i)
            self._covers[token] = tuple(out)
        return self._covers[token]

    def routes(self, pending: bytes, text: bytes) -> list[tuple[int, ...]]:
        """The token sequences that spell ``pending + text`` from the last fed boundary.

        With nothing pending the boundary is clean and the natural tokenization is the route;
        otherwise the first token is any vocabulary token that starts the text (a lone ``"``,
        ``",`` or ``"}}``), followed by the natural tokenization of the rest.
        """
        z = pending + text
        natural = tuple(self.natural(z))
        if not pending:
            return [natural]
        by_text = self._vocab[1]
        out = {natural: None}
        for end in range(1, len(z) + 1):
            first = by_text.get(z[:end])
            if first is None or not _utf8_boundary(z, end):
                continue
            out[(first, *self.natural(z[end:]))] = None
        return list(out)

    # ---- choosing among a finite set of texts ---------------------------------------------
    def score_texts(self, state: KVState, pending: bytes, texts: Sequence[str | None], *,
                    free: bool = False) -> list[Scored]:
        """Log-probability of each text following ``pending``, under decoding restricted to the texts.

        Every route of every text is scored on one token trie: at each node the softmax runs over
        the tokens some route takes there, a route's last token counting with its cover (a token
        in two covers goes to the longer leaf; a token that is another route's path stays its).
        A text's probability sums its routes; a route whose first token is a thousand times less
        likely than its text's best first token is left out (it cannot change the sum). A
        ``None`` text stands for any other continuation (a prose answer): then the first
        position uses the full softmax and ``None`` gets the mass left over. ``free``: every node
        uses the full softmax, so a text's probability is the model's own, comparable with a
        sampled value's (for values copied from the conversation).
        """
        complement = None in texts
        if complement and pending:
            raise ValueError("a complement option needs a clean token boundary (nothing pending)")
        per_text = [self.routes(pending, t.encode("utf-8")) if t is not None else [] for t in texts]
        for t, rs in zip(texts, per_text):
            if t is not None and not all(rs):
                raise ValueError(f"the option {t!r} has no tokens")
        lp_of: dict[tuple[tuple[int, ...], int], float] = {}  # (node, child) -> log p, covers summed in
        root_mass = self._node_lps(state.hidden, (), {r for rs in per_text for r in rs}, complement or free, lp_of)
        per_text = [[r for r in rs if lp_of[((), r[0])] >= max(lp_of[((), q[0])] for q in rs) - math.log(1e3)]
                    for rs in per_text]
        routes = {r for rs in per_text for r in rs}
        deep = sorted(r for r in routes if len(r) > 1)
        hidden_of = self._trie_hidden(state, deep)
        nodes = sorted({r[:d] for r in deep for d in range(1, len(r))}, key=len)
        # The full softmax of every node at once: one pass over the output projection.
        full = torch.log_softmax(self._logits(torch.stack([hidden_of[n] for n in nodes])), -1) \
            if free and nodes else None
        for k, node in enumerate(nodes):
            self._node_lps(hidden_of[node], node, {r for r in routes if r[:len(node)] == node and len(r) > len(node)},
                           free, lp_of, None if full is None else full[k])
        out = []
        for t, rs in zip(texts, per_text):
            if t is None:
                out.append(Scored(math.log(max(1.0 - root_mass, 1e-12)), ()))
                continue
            scored = [(sum(lp_of[(r[:d], r[d])] for d in range(len(r))), r) for r in rs]
            out.append(Scored(_logsumexp([x for x, _ in scored]), max(scored)[1]))
        return out

    def _node_lps(self, hidden: torch.Tensor, node: tuple[int, ...], routes: set[tuple[int, ...]],
                  full: bool, lp_of: dict[tuple[tuple[int, ...], int], float],
                  full_row: torch.Tensor | None = None) -> float:
        """Log-probabilities of the children of one trie node into ``lp_of``; returns the mass the
        children hold under the full softmax (with ``full``, from ``full_row`` when computed), else 0."""
        d = len(node)
        path = {r[d] for r in routes if len(r) > d + 1}
        own = {t: t for t in path}
        for leaf in sorted({r[d] for r in routes if len(r) == d + 1}, key=lambda t: len(self._vocab[0][t])):
            own.update({c: leaf for c in self._cover(leaf) if c == leaf or c not in path})
        if len(own) == 1 and not full:
            lp_of[(node, next(iter(own.values())))] = 0.0
            return 0.0
        ids = sorted(own)
        if full:
            row = full_row if full_row is not None else torch.log_softmax(self._logits(hidden), -1)
            vals = row[torch.tensor(ids, device=row.device)]
        else:
            vals = torch.log_softmax(self._logits(hidden, torch.tensor(ids, device=hidden.device)), -1)
        grouped: dict[int, list[float]] = {}
        for i, v in zip(ids, vals.tolist()):
            grouped.setdefault(own[i], []).append(v)
        lp_of.update({(node, child): _logsumexp(vs) for child, vs in grouped.items()})
        return float(vals.exp().sum()) if full else 0.0

    def _trie_hidden(self, state: KVState, routes: list[tuple[int, ...]]) -> dict[tuple[int, ...], torch.Tensor]:
        """Hidden states after every proper prefix of ``routes``, from one padded batch."""
        hidden_of: dict[tuple[int, ...], torch.Tensor] = {(): state.hidden}
        if not routes:
            return hidden_of
        longest = max(len(r) for r in routes) - 1
        pad = self._eos_ids[0] if self._eos_ids else 0
        batch = torch.tensor([list(r[:-1]) + [pad] * (longest - len(r) + 1) for r in routes])
        hidden = self._forward(batch, self._repeat(state, len(routes)))
        for row, r in enumerate(routes):
            for d in range(1, len(r)):
                hidden_of[r[:d]] = hidden[row, d - 1]
        return hidden_of

    # ---- sampling a free JSON value -------------------------------------------------------
    @cached_property
    def _xgr(self) -> tuple[Any, Any, Any]:
        xgr, info, _ = self._tables
        return xgr, xgr.GrammarCompiler(info, max_threads=1), info

    @cached_property
    def _tables(self) -> tuple[Any, Any, list[bytes]]:
        """xgrammar's tokenizer info and every token's bytes: seconds to build for a large
        vocabulary, so kept on disk (``$TOOLPRM_CACHE/tokenizers``) keyed by the tokenizer file's
        digest, and read back by later processes in a fraction of that."""
        import xgrammar as xgr

        path = _tables_path(self.tokenizer, self._head.shape[0], self._eos_ids, version("xgrammar"))
        if path is not None and path.is_file():
            try:
                with path.open("rb") as f:
                    saved = pickle.load(f)
                return xgr, xgr.TokenizerInfo.deserialize_json(saved["info"]), saved["texts"]
            except Exception:  # noqa: BLE001 - a damaged cache file is rebuilt, never trusted
                path.unlink(missing_ok=True)
        info = xgr.TokenizerInfo.from_huggingface(
            self.tokenizer, vocab_size=self._head.shape[0], stop_token_ids=self._eos_ids or None
        )
        texts = [bytes(t) for t in info.decoded_vocab][: self._head.shape[0]]
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(f".{os.getpid()}.tmp")
                with tmp.open("wb") as f:
                    pickle.dump({"info": info.serialize_json(), "texts": texts}, f)
                os.replace(tmp, path)
            except OSError:  # a read-only cache only costs the next process the build
                pass
        return xgr, info, texts

    def _grammar(self, lead: str, schema: dict[str, Any], tail: str) -> tuple[Any, list[int]]:
        """``lead`` (the unfed text before the value, with the space after the colon), the value,
        then one character of ``tail`` and whatever a token may carry after it; compiled, with the
        tokens that must not end where the lead's space ends (:meth:`_split_lead`)."""
        key = (lead, json.dumps(schema, sort_keys=True), tail)
        if key not in self._grammars:
            xgr, compiler, _ = self._xgr
            # Compiled in the schema's own key order: nested objects are written as declared.
            value = xgr.Grammar.from_json_schema(json.dumps(schema), any_whitespace=False, separators=(", ", ": "))
            head = xgr.Grammar.from_ebnf(f"root ::= {json.dumps(lead, ensure_ascii=False)}")
            after = xgr.Grammar.from_ebnf(f"root ::= {char_class(tail)} rest\nrest ::= [ -~\\n]*")
            compiled = compiler.compile_grammar(xgr.Grammar.concat(head, value, after))
            self._grammars[key] = compiled, self._split_lead(xgr.GrammarMatcher(compiled), lead.encode("utf-8"))
        return self._grammars[key]

    def _sample_values(
        self, state: KVState, lead: bytes, schema: dict[str, Any], n: int, *, tail: str, temperature: float,
        max_tokens: int, generator: torch.Generator | None, distinct: bool = False,
    ) -> list[tuple[Any, tuple[int, ...], float, int] | None]:
        """``n`` JSON values sampled in one batch after the unfed ``lead`` text.

        Each result is (value, tokens, logprob, end): the tokens spell ``lead``, the value and
        possibly the start of what follows (a ``",`` token); ``end`` is the byte length of
        ``lead`` plus the value. A value that has not ended within ``max_tokens`` is None.
        Numbers end when the model writes a character of ``tail`` after them; strings, arrays
        and objects at their closing character; a number still growing when the budget is spent
        ends there. At temperature 0 the model's mass on all the
        tokens that end a number or a string competes, as one choice, with the best token
        that goes on.

        ``distinct``: the values share one row, greedily, while nothing of the value's content is
        written and the model is fairly sure (``":``, the opening quote); at the first content
        token the rows take its most likely distinct tokens, then each samples on, so ``n``
        samples are not ``n`` copies of the favourite.
        """
        xgr, _, _ = self._xgr
        compiled, split = self._grammar(lead.decode("utf-8"), schema, tail)
        together = distinct and n > 1 and temperature > 0
        rows = 1 if together else n
        matchers = [xgr.GrammarMatcher(compiled) for _ in range(rows)]
        vocab = self._head.shape[0]
        bitmask = xgr.allocate_token_bitmask(n, vocab)
        results: list[tuple[Any, tuple[int, ...], float, int] | None] = [None] * n
        tokens: list[list[int]] = [[] for _ in range(rows)]
        logprobs = [0.0] * rows
        alive = list(range(rows))
        cache = self._repeat(state, rows)
        hidden = state.hidden.expand(rows, -1)
        start = len(lead)
        texts = self._vocab[0]
        split_at = len(lead.rstrip())  # where the lead's space starts
        for _ in range(max_tokens):
            for r, i in enumerate(alive):
                matchers[i].fill_next_token_bitmask(bitmask, r)
            allowed = _unpack_bitmask(bitmask[: len(alive)], vocab).to(self.device)
            for r, i in enumerate(alive):
                if split and len(self.token_bytes(tokens[i])) == split_at \
                        and bool(allowed[r].sum() > allowed[r, split].sum()):
                    allowed[r, split] = False
            union = allowed.any(0).nonzero().squeeze(1)
            # Inside a number or a closing bracket few tokens are legal: project onto those alone.
            ids = union if len(union) <= self.restrict_limit else None
            logits = self._logits(hidden, ids)
            mask = allowed if ids is None else allowed[:, ids]
            logits = logits.masked_fill(~mask, float("-inf"))
            logp = torch.log_softmax(logits, -1)
            if together and (float(logp[0].max()) < math.log(0.5) or _has_content(self.token_bytes(tokens[0])[start:])):
                # The first real choice: every row takes its own of the likeliest tokens.
                together = False
                top = logp[0].topk(min(n, int(mask[0].sum())))
                firsts = [int(k) for k, v in zip(top.indices, top.values) if v >= top.values[0] - math.log(1e3)]
                extra = _sample(logits[:1].expand(n - len(firsts), -1), temperature, generator).tolist() \
                    if n > len(firsts) else []
                picks = torch.tensor(firsts + extra)
                matchers = [matchers[0]] + [matchers[0].fork() for _ in range(n - 1)]
                tokens = [list(tokens[0]) for _ in range(n)]
                logprobs = logprobs * n
                alive = list(range(n))
                cache.batch_repeat_interleave(n)
                logp = logp.expand(n, -1)
            elif temperature <= 0 or together:
                picks = self._greedy_picks(logp, [self.token_bytes(tokens[i])[start:] for i in alive], ids)
            else:
                picks = _sample(logits, temperature, generator)
            keep: list[int] = []
            for r, i in enumerate(alive):
                pick = int(picks[r])
                tok = pick if ids is None else int(ids[pick])
                logprobs[i] += float(logp[r, pick])
                self.usage.output_tokens += 1
                matchers[i].accept_token(tok)
                tokens[i].append(tok)
                done = _value_end(self.token_bytes(tokens[i]), start)
                if done is not None:
                    results[i] = (done[0], tuple(tokens[i]), logprobs[i], done[1])
                elif texts[tok] and not matchers[i].is_terminated():
                    keep.append(r)
            if not keep:
                break
            if len(keep) < len(alive):
                cache.batch_select_indices(torch.tensor(keep, device=self.device))
            alive = [alive[r] for r in keep]
            feed = torch.tensor([[tokens[i][-1]] for i in alive])
            hidden = self._forward(feed, cache)[:, -1]
        for i in alive:  # the budget is spent: a number that runs on ("1000000...") ends where it is
            if results[i] is None:
                done = _value_end(self.token_bytes(tokens[i]), start, final=True)
                if done is not None:
                    results[i] = (done[0], tuple(tokens[i]), logprobs[i], done[1])
        if together and results[0] is not None:  # never split: one value, the same for every row
            results = [results[0]] * n
        return results

    def _greedy_picks(self, logp: torch.Tensor, written: list[bytes], ids: torch.Tensor | None) -> torch.Tensor:
        """Greedy choice where ending a value is one option: all the tokens that end a number
        (``,``/``}`` first) or close a string (``"`` first) weigh together against the best other."""
        picks = logp.argmax(-1)
        for r, text in enumerate(written):
            kind = _open_value(text)
            if kind is None:
                continue
            ends = self._starts[kind] if ids is None else self._starts[kind][ids]
            row = logp[r]
            end_lp = torch.logsumexp(row.masked_fill(~ends, float("-inf")), -1)
            go = row.masked_fill(ends, float("-inf"))
            if end_lp > go.max():
                picks[r] = int(row.masked_fill(~ends, float("-inf")).argmax())
            else:
                picks[r] = int(go.argmax())
        return picks

    # ---- free text --------------------------------------------------------------------------
    def generate_text(
        self, state: KVState, *, max_tokens: int, temperature: float, stop: tuple[str, ...],
        generator: torch.Generator | None, on_text: Callable[[str], None] | None = None,
    ) -> str:
        """A prose continuation, ended by EOS, a stop string or ``max_tokens``.

        ``on_text(delta)`` receives the reply as it grows (for streaming); text that could still
        be the start of a stop string or trailing space is held back, so the deltas join to
        exactly the returned reply.
        """
        cache = clone_cache(state.cache)
        hidden = state.hidden[None]
        ids: list[int] = []
        text, sent = "", 0
        hold = max((len(s) - 1 for s in stop if s), default=0)
        for _ in range(max_tokens):
            tok = int(_sample(self._logits(hidden), temperature, generator)[0])
            self.usage.output_tokens += 1
            if tok in self._eos_ids:
                break
            ids.append(tok)
            text = self.tokenizer.decode(ids, skip_special_tokens=True).lstrip()
            cut = min((text.find(s) for s in stop if s and s in text), default=-1)
            if cut >= 0:
                text = text[:cut]
                break
            safe = min(len(text) - hold, len(text.rstrip()))
            while safe > sent and text[safe - 1] == "\ufffd":  # a character whose bytes are not all here yet
                safe -= 1
            if on_text is not None and safe > sent:
                on_text(text[sent:safe])
                sent = safe
            hidden = self._forward(torch.tensor([[tok]]), cache)[:, -1]
        text = text.strip()
        if on_text is not None and len(text) > sent:
            on_text(text[sent:])
        return text

    # ---- the Backend interface ---------------------------------------------------------------
    def start(self, prompt: PolicyPrompt, reserve: int, *, max_prompt: int | None = None) -> TState:
        """Encode the prompt, its static head (instructions and examples) pinned for the life of
        the backend, so every later prompt that starts with it feeds only the rest."""
        special = not prompt.chat_template
        ids = self._prompt_ids(prompt)
        if max_prompt is not None and len(ids) > max_prompt:
            raise ContextLengthError(
                f"the prompt is {len(ids)} tokens, over max_prompt_tokens={max_prompt}: encoding it on this backend "
                f"would take too long (raise max_prompt_tokens, up to the model's {self.max_context}, to allow it)")
        head = self.encode(prompt.static_head, special=special) if prompt.static_head else []
        pin = len(head) if ids[:len(head)] == head else 0  # a head whose tokens merge with what follows: none
        return TState(self.prefill(ids, reserve, pin=pin))

    def reset(self) -> None:
        self.clear_prompt_cache()
        self._answers.clear()

    def _prompt_ids(self, prompt: PolicyPrompt) -> list[int]:
        """The prompt's tokens, remembered for the last prompt: a learned scorer asks for them at
        every candidate of the question the search just encoded."""
        key = (prompt.text, prompt.chat_template)
        if self._last_prompt[0] != key:
            self._last_prompt = (key, self.encode(prompt.text, special=not prompt.chat_template))
        return list(self._last_prompt[1])

    @torch.no_grad()
    def step_states(self, prompt: PolicyPrompt, texts: Sequence[str]) -> torch.Tensor:
        """The policy's final hidden state where each step's text ends, the texts written after
        ``prompt`` as the search writes them (``proposer.answer_texts``): [len(texts), hidden].

        What a learned reward head reads, at search time and in training alike. The prompt comes
        from the prompt cache the search filled; an answer that shares steps with one seen
        recently feeds only the tokens after their last shared step boundary. A step's state is
        the one at the token holding its last byte (a step that writes nothing shares the state
        before it)."""
        ids = self._prompt_ids(prompt)
        root = self.prefill(ids)
        key, toks = tuple(ids), tuple(self.natural("".join(texts).encode("utf-8")))
        bounds = list(itertools.accumulate(len(self._vocab[0][t]) for t in toks))
        ends = list(itertools.accumulate(len(t.encode("utf-8")) for t in texts))
        at = [next((i for i, b in enumerate(bounds) if b >= end), None) if end else None for end in ends]
        # A state is kept at every step boundary (before the token holding a step's end, which
        # may merge with what follows): a path's children and a trajectory's rule-made siblings
        # then feed only their own step.
        done = max((a for (p, a) in self._answers if p == key and toks[:len(a)] == a), key=len, default=())
        kv, seen = self._answers[(key, done)] if done else (root, root.hidden[None][:0])
        for stop in [*sorted({a for a in at if a}), len(toks)]:
            if stop > len(seen):
                cache = clone_cache(kv.cache)
                fresh = self._forward(torch.tensor([list(toks[len(seen):stop])]), cache)[0]
                kv, seen = KVState(cache, kv.length + len(fresh), fresh[-1]), torch.cat([seen, fresh])
                if stop < len(toks):
                    self._answers.pop((key, toks[:stop]), None)
                    self._answers[(key, toks[:stop])] = (kv, seen)
                    while len(self._answers) > self.answer_cache_size:
                        self._answers.pop(next(iter(self._answers)))
        out = [root.hidden if a is None else seen[a] for a in at]
        return torch.stack(out)

    def rng(self, seed: int | None) -> TorchRng:
        return TorchRng(seed)

    def score(self, state: TState, texts: Sequence[str | None], *, free: bool = False) -> list[Scored]:
        if len(texts) == 1 and not free:  # forced: nothing to score, written in its natural tokens
            text = texts[0]
            return [Scored(0.0, self.routes(state.pending, text.encode("utf-8"))[0] if text else ())]
        return self.score_texts(state.kv, state.pending, texts, free=free)

    def move(self, state: TState, scored: Scored, text: str) -> TMove:
        return TMove(*self._settle(scored.route, state.pending + text.encode("utf-8")))

    def advance(self, state: TState, move: TMove) -> TState:
        """``move``'s tokens fed once on the state's cache (the state itself is left as it was)."""
        return TState(self.extend(state.kv, move.feed), move.pending, state.fed + move.feed)

    def sample_values(
        self, state: TState, lead: str, schema: dict[str, Any], n: int, *, tail: str, temperature: float,
        max_tokens: int, rng: TorchRng, distinct: bool = False,
    ) -> list[Sampled | None]:
        full_lead = state.pending + lead.encode("utf-8")
        out: list[Sampled | None] = []
        for got in self._sample_values(state.kv, full_lead, schema, n, tail=tail, temperature=temperature,
                                       max_tokens=max_tokens, generator=rng.generator, distinct=distinct):
            if got is None:
                out.append(None)
                continue
            value, ids, logprob, end = got
            out.append(Sampled(value, logprob, TMove(*self._settle(ids, self.token_bytes(ids)[:end]))))
        return out

    def write(
        self, state: TState, prefix: str, *, max_tokens: int, temperature: float, stop: tuple[str, ...],
        rng: TorchRng, on_text: Callable[[str], None] | None = None,
    ) -> str:
        text = state.pending.decode("utf-8") + prefix
        kv = self.extend(state.kv, self.encode(text)) if text else state.kv
        return self.generate_text(kv, max_tokens=max_tokens, temperature=temperature, stop=stop,
                                  generator=rng.generator, on_text=on_text)

    def _settle(self, route: Sequence[int], full: bytes) -> tuple[tuple[int, ...], bytes]:
        """Tokens to feed and text left unfed once ``full`` (the pending text and a step's) is written.

        The tokens of ``route`` (the scored or sampled tokens) that lie inside ``full`` are kept
        but the last; the rest is tokenized naturally and its last token held back, as it may
        merge with what follows. No route (a forced step, nothing scored): everything stays unfed.
        """
        if not route:
            return (), full
        texts = self._vocab[0]
        keep, pos = [], 0
        for t in route:
            if full[pos: pos + len(texts[t])] != texts[t]:
                break
            keep.append(t)
            pos += len(texts[t])
        if keep:
            pos -= len(texts[keep.pop()])
        while pos and not _utf8_boundary(full, pos):  # never leave half a character unfed
            pos -= len(texts[keep.pop()])
        rest = self.natural(full[pos:])
        return tuple(keep) + tuple(rest[:-1]), self.token_bytes(rest[-1:])


def load_backend(model: str | Path | None = None, *, device: str | None = None, dtype: str = "float32",
                 device_map: str | dict | None = None) -> TransformersBackend:
    """The backend for a ``model`` setting (:func:`~langchain_toolprm.core.embedded.resolve_policy`:
    ``"gemma-3-270m"`` is the embedded Gemma, None or ``"gemma-3-270m-tools"`` it with the shipped
    tool-calling adapter); anything else a model directory, a hub id in the local cache, or a LoRA adapter
    directory whose config names its base. The per-process tables over the vocabulary are built
    here, so no timed call pays for them."""
    path, base = resolve_policy(model)
    backend = TransformersBackend.from_pretrained(path, device=device, dtype=dtype, device_map=device_map,
                                                  base_model=base)
    backend.name = policy_name(model)
    backend.warm_up()
    return backend


def _tables_path(tokenizer: Any, vocab: int, eos: list[int], version: str) -> Path | None:
    """Where a tokenizer's tables are kept: by the digest of its ``tokenizer.json`` (None when it
    has none to read, e.g. a tokenizer built in memory)."""
    source = Path(str(getattr(tokenizer, "name_or_path", "") or "")) / "tokenizer.json"
    if not source.is_file():
        return None
    h = hashlib.sha256(source.read_bytes())
    h.update(json.dumps([vocab, eos, version]).encode())
    root = os.environ.get("TOOLPRM_CACHE") or Path.home() / ".cache" / "langchain_toolprm"
    return Path(root) / "tokenizers" / f"{h.hexdigest()[:32]}.pkl"


def _eos_ids(model: Any, tokenizer: Any) -> list[int]:
    ids = getattr(model.generation_config, "eos_token_id", None)
    ids = [ids] if isinstance(ids, int) else list(ids or [])
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in ids:
        ids.append(tokenizer.eos_token_id)
    return ids


def _common_prefix(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    n = min(len(a), len(b))
    return next((i for i in range(n) if a[i] != b[i]), n)


def _utf8_boundary(data: bytes, pos: int) -> bool:
    """Whether ``pos`` falls between two UTF-8 characters of ``data``."""
    return pos >= len(data) or (data[pos] & 0xC0) != 0x80


def _logsumexp(values: Sequence[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))


def _value_end(written: bytes, start: int, final: bool = False) -> tuple[Any, int] | None:
    """(value, end) once ``written[start:]`` holds a whole JSON value: a string, array or object at
    its closing character, a number or literal once ``,`` ``}`` or ``]`` follows it (or, when the
    token budget is spent, ``final``, at its last character)."""
    try:
        text = written[start:].decode("utf-8")
        value, end = json.JSONDecoder().raw_decode(text)
    except (ValueError, UnicodeDecodeError):
        return None
    if (isinstance(value, (int, float, bool)) or value is None) and text[end:end + 1] not in (",", "}", "]"):
        if not (final and end == len(text)):
            return None  # a number may take another digit or an exponent ("1.5" then "e3") until one follows
    return value, start + len(text[:end].encode("utf-8"))


def _has_content(text: bytes) -> bool:
    """Whether a value's text has more than its opening (space, quote, bracket)."""
    return bool(text.strip(b' "[{'))


def _open_value(text: bytes) -> bytes | None:
    """What ends the value written so far: ``"`` inside a string, ``,}`` after a whole number."""
    if text[:1] == b'"':
        body = text[1:]
        escaped = False
        for c in body:
            if escaped:
                escaped = False
            elif c == 0x5C:
                escaped = True
            elif c == 0x22:
                return None
        return b'"'
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return b",}" if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _unpack_bitmask(bitmask: torch.Tensor, vocab: int) -> torch.Tensor:
    """xgrammar's packed int32 bitmask [rows, words] -> bool [rows, vocab] (bit j of word w is token 32w+j)."""
    shifts = torch.arange(32, dtype=torch.int32)
    bits = (bitmask.unsqueeze(-1) >> shifts) & 1
    return bits.reshape(bitmask.shape[0], -1)[:, :vocab].bool()


def _sample(logits: torch.Tensor, temperature: float, generator: torch.Generator | None) -> torch.Tensor:
    """One token per row at ``temperature`` (argmax at 0), by inverting the cumulative distribution:
    exact, and much faster than ``torch.multinomial`` over a 262k-token vocabulary."""
    if temperature <= 0:
        return logits.argmax(-1)
    probs = torch.softmax(logits.float() / temperature, -1)
    cdf = probs.cumsum(-1)
    # Drawn on the CPU (where the search's generator lives), so a seed gives the same draws on any device.
    u = torch.rand(probs.shape[0], 1, generator=generator, dtype=cdf.dtype).to(cdf.device).clamp(min=1e-7) * cdf[:, -1:]
    return torch.searchsorted(cdf, u).squeeze(-1).clamp(max=probs.shape[-1] - 1)
