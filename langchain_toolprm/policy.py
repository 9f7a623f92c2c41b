"""The policy backend on transformers: proposes candidate next steps of a call list.

Everything starts from one encoded prompt: each beam holds the KV cache of its prefix, a
step's tokens are fed once on top of it, and the M candidates of a step are decoded as one
batch over a copy of that cache. Steps with a finite set of texts (function and parameter
names, enum values, closing brackets) are scored on those tokens alone: their logits come
from the rows of the output projection for the allowed tokens, not the whole vocabulary.
Free values are sampled under an xgrammar JSON-schema grammar and cut at a token bound.
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import torch

from .prompts import CallFormat
from .schema import ParamSpec, ToolSpec
from .steps import PartialState, Step, StepTag, dump_value, replay


class ContextLengthError(ValueError):
    """The prompt does not fit the policy's context window."""


@dataclass
class Usage:
    """Tokens a model processed (fed through forward passes) and sampled."""

    input_tokens: int = 0
    output_tokens: int = 0

    def add(self, other: Usage) -> None:
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens


@dataclass
class KVState:
    """An encoded prefix: its KV cache (batch 1), length and the last position's hidden state."""

    cache: Any
    length: int
    hidden: torch.Tensor  # [hidden_size]


@dataclass(frozen=True)
class Candidate:
    """A proposed next step: its step, the tokens it adds and their log-probability."""

    step: Step
    token_ids: tuple[int, ...]
    logprob: float
    text: str


@dataclass(frozen=True)
class Constraints:
    """What the call list may contain: which tools, whether a call is required, how many."""

    tools: tuple[ToolSpec, ...]
    require_call: bool = False
    forced_name: str | None = None
    max_calls: int = 4

    def tool(self, name: str) -> ToolSpec:
        return next(t for t in self.tools if t.name == name)


@dataclass
class Beam:
    """A partial trajectory with the KV state of everything it has written."""

    steps: tuple[Step, ...]
    kv: KVState
    logprob: float = 0.0
    scores: tuple[float, ...] = ()
    texts: tuple[str, ...] = ()

    @property
    def state(self) -> PartialState:
        return replay(self.steps)

    @property
    def finished(self) -> bool:
        return bool(self.steps) and self.steps[-1].tag is StepTag.TOTAL_FINISH


@dataclass
class _Option:
    """A finite next-step choice; empty ``text`` stands for the complement (a prose answer)."""

    step: Step
    text: str


class TransformersPolicy:
    """A Hugging Face causal LM used as the step proposer."""

    restrict_limit = 4096
    """When at most this many tokens are legal at a value position, only their logits are computed."""
    prompt_cache_size = 4
    """Encoded prompts kept so a later prompt that starts with one (a growing conversation, the
    same tools and instructions) feeds only its new tokens; 0 disables."""
    min_shared_prefix = 64

    def __init__(self, model: Any, tokenizer: Any, name: str | None = None) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name = name or getattr(model.config, "name_or_path", None) or type(model).__name__
        self.usage = Usage()
        self._grammars: dict[str, Any] = {}
        self._prompt_states: dict[tuple[int, ...], KVState] = {}
        head = model.get_output_embeddings()
        self._head = head.weight
        self._head_bias = getattr(head, "bias", None)
        self._softcap = getattr(model.config, "final_logit_softcapping", None)
        self._eos_ids = _eos_ids(model, tokenizer)

    @classmethod
    def from_pretrained(
        cls, path: str | Path, *, device: str | None = None, dtype: str | torch.dtype = "float32",
        device_map: str | dict | None = None,
    ) -> TransformersPolicy:
        """Load from a local directory, or a hub id already in the local Hugging Face cache.

        Nothing is downloaded: a hub id that is not cached locally is an error naming it.
        """
        from transformers import AutoModelForCausalLM, AutoTokenizer

        dtype = torch_dtype(dtype)
        local = Path(path).exists()
        if not local and Path(path).is_absolute():
            raise FileNotFoundError(f"no model directory at {path}")
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=not local)
            model = AutoModelForCausalLM.from_pretrained(
                str(path), dtype=dtype, device_map=device_map, local_files_only=not local
            )
        except OSError as e:
            if local:
                raise
            raise FileNotFoundError(
                f"model {str(path)!r} is neither a local directory nor in the local Hugging Face "
                f"cache; nothing is downloaded at run time: fetch it elsewhere and pass its directory"
            ) from e
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

    def decode(self, ids: list[int] | tuple[int, ...]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=False)

    @torch.no_grad()
    def _forward(self, ids: torch.Tensor, cache: Any) -> torch.Tensor:
        """Feed ``ids`` [B, L] on top of ``cache`` (updated in place); final hidden states."""
        self.usage.input_tokens += int(ids.numel())
        out = self.model.get_decoder()(input_ids=ids.to(self.device), past_key_values=cache, use_cache=True)
        return out.last_hidden_state

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

    def prefill(self, ids: list[int], reserve: int = 0) -> KVState:
        """Encode a prompt once; every beam and step of a search starts from this state."""
        if not ids:
            raise ValueError("empty prompt")
        if len(ids) + reserve > self.max_context:
            raise ContextLengthError(
                f"the prompt is {len(ids)} tokens and the answer may need {reserve} more, "
                f"but the policy's context window is {self.max_context} tokens"
            )
        key = tuple(ids)
        base = max((p for p in self._prompt_states if key[: len(p)] == p), key=len, default=None)
        base_state = self._prompt_states.get(base) if base is not None else None
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

    def clear_prompt_cache(self) -> None:
        """Forget encoded prompts and compiled grammars (e.g. to time each call from scratch)."""
        self._prompt_states.clear()
        self._grammars.clear()

    def warm_up(self) -> None:
        """Build the per-process tables over the vocabulary now, so no timed call pays for them."""
        _ = self._xgr, self._terminator_ids

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

    def extend(self, state: KVState, ids: tuple[int, ...] | list[int]) -> KVState:
        """A new state with ``ids`` appended; ``state`` itself is left untouched."""
        if not ids:
            return state
        cache = copy.deepcopy(state.cache)
        hidden = self._forward(torch.tensor([list(ids)]), cache)
        return KVState(cache, state.length + len(ids), hidden[0, -1])

    def _repeat(self, state: KVState, n: int) -> Any:
        cache = copy.deepcopy(state.cache)
        if n > 1:
            cache.batch_repeat_interleave(n)
        return cache

    # ---- choosing among a finite set of texts ---------------------------------------------
    def score_options(self, state: KVState, options: list[tuple[int, ...] | None]) -> list[float]:
        """Log-probability of each option under decoding restricted to the options' tokens.

        At each branching point of the options' token trie the softmax runs over the
        children's logits alone. A ``None`` option stands for any other continuation (a prose
        answer); it needs the full softmax at the first position, once.
        """
        real = [o for o in options if o is not None]
        if any(len(o) == 0 for o in real):
            raise ValueError("an option has no tokens")
        longest = max((len(o) for o in real), default=0)
        deep = [o for o in dict.fromkeys(real) if len(o) > 1]
        hidden_of: dict[tuple[int, ...], torch.Tensor] = {(): state.hidden}
        if deep and self._branches_below_root(real):
            pad = self._eos_ids[0] if self._eos_ids else 0
            batch = torch.tensor([list(o[:-1]) + [pad] * (longest - len(o)) for o in deep])
            hidden = self._forward(batch, self._repeat(state, len(deep)))
            for row, o in enumerate(deep):
                for d in range(1, len(o)):
                    hidden_of[o[:d]] = hidden[row, d - 1]
        children: dict[tuple[int, ...], list[int]] = {}
        for o in real:
            for d in range(len(o)):
                kids = children.setdefault(o[:d], [])
                if o[d] not in kids:
                    kids.append(o[d])
        child_lp: dict[tuple[int, ...], dict[int, float]] = {}
        for prefix, kids in children.items():
            if len(kids) == 1 and not (prefix == () and None in options):
                child_lp[prefix] = {kids[0]: 0.0}
                continue
            h = hidden_of[prefix]
            if prefix == () and None in options:
                full = torch.log_softmax(self._logits(h), -1)
                child_lp[prefix] = {k: float(full[k]) for k in kids}
            else:
                lp = torch.log_softmax(self._logits(h, torch.tensor(kids, device=h.device)), -1)
                child_lp[prefix] = {k: float(v) for k, v in zip(kids, lp)}
        out = []
        for o in options:
            if o is None:
                mass = sum(math.exp(v) for v in child_lp.get((), {}).values())
                out.append(math.log(max(1.0 - mass, 1e-12)))
            else:
                out.append(sum(child_lp[o[:d]][o[d]] for d in range(len(o))))
        return out

    @staticmethod
    def _branches_below_root(options: list[tuple[int, ...]]) -> bool:
        prefixes: dict[tuple[int, ...], set[int]] = {}
        for o in options:
            for d in range(1, len(o)):
                prefixes.setdefault(o[:d], set()).add(o[d])
        return any(len(v) > 1 for v in prefixes.values())

    # ---- sampling a free JSON value -------------------------------------------------------
    @cached_property
    def _xgr(self) -> tuple[Any, Any]:
        import xgrammar as xgr

        info = xgr.TokenizerInfo.from_huggingface(
            self.tokenizer, vocab_size=self._head.shape[0], stop_token_ids=self._eos_ids or None
        )
        return xgr, xgr.GrammarCompiler(info, max_threads=1)

    def _grammar(self, schema: dict[str, Any]) -> Any:
        key = json.dumps(schema, sort_keys=True)
        if key not in self._grammars:
            xgr, compiler = self._xgr
            # The value carries the space after the colon, so tokens like ' "' stay whole.
            value = xgr.Grammar.from_json_schema(key, any_whitespace=False, separators=(", ", ": "))
            grammar = xgr.Grammar.concat(xgr.Grammar.from_ebnf('root ::= " "'), value)
            self._grammars[key] = compiler.compile_grammar(grammar)
        return self._grammars[key]

    @cached_property
    def _terminator_ids(self) -> torch.Tensor:
        """Tokens that start with what follows a value (',', '}', ']'): ending a number."""
        ids = [
            i for i, tok in enumerate(self.tokenizer.convert_ids_to_tokens(list(range(len(self.tokenizer)))))
            if isinstance(tok, str) and tok.replace("\u2581", " ").replace("\u0120", " ").lstrip()[:1] in (",", "}", "]")
        ]
        return torch.tensor([i for i in ids if i < self._head.shape[0]], dtype=torch.long)

    def sample_values(
        self, state: KVState, schema: dict[str, Any], n: int, *, temperature: float,
        max_tokens: int, generator: torch.Generator | None,
    ) -> list[tuple[Any, tuple[int, ...], float] | None]:
        """``n`` JSON values for ``schema`` sampled in one batch: (value, tokens, logprob).

        A value that has not ended after ``max_tokens`` tokens is cut and returned as None.
        Numbers can always take another digit, so they end when the model's mass on a
        terminator token (',' '}' ...) wins, standing in for the grammar's stop token.
        """
        xgr, _ = self._xgr
        compiled = self._grammar(schema)
        matchers = [xgr.GrammarMatcher(compiled) for _ in range(n)]
        vocab = self._head.shape[0]
        bitmask = xgr.allocate_token_bitmask(n, vocab)
        results: list[tuple[Any, tuple[int, ...], float] | None] = [None] * n
        tokens: list[list[int]] = [[] for _ in range(n)]
        logprobs = [0.0] * n
        alive = list(range(n))
        cache = self._repeat(state, n)
        hidden = state.hidden.expand(n, -1)
        stop = self._eos_ids[0]
        for _ in range(max_tokens):
            for r, i in enumerate(alive):
                matchers[i].fill_next_token_bitmask(bitmask, r)
            allowed = _unpack_bitmask(bitmask[: len(alive)], vocab)
            union = allowed.any(0).nonzero().squeeze(1)
            # Inside a number or a closing bracket few tokens are legal: project onto those alone.
            ids = union if len(union) <= self.restrict_limit else None
            logits = self._logits(hidden, ids)
            mask = allowed if ids is None else allowed[:, ids]
            completed = [r for r, i in enumerate(alive) if matchers[i].is_completed()]
            if completed:
                col = stop if ids is None else int((ids == stop).nonzero()[0, 0])
                term = torch.logsumexp(self._logits(hidden[completed], self._terminator_ids), -1)
                logits[completed, col] = term
            logits = logits.masked_fill(~mask, float("-inf"))
            logp = torch.log_softmax(logits, -1)
            picks = _sample(logits, temperature, generator)
            keep: list[int] = []
            for r, i in enumerate(alive):
                pick = int(picks[r])
                tok = pick if ids is None else int(ids[pick])
                logprobs[i] += float(logp[r, pick])
                self.usage.output_tokens += 1
                if tok in self._eos_ids:
                    results[i] = self._finish(tokens[i], logprobs[i])
                    continue
                matchers[i].accept_token(tok)
                tokens[i].append(tok)
                done = self._complete_non_number(tokens[i]) if matchers[i].is_completed() else None
                if done is not None:
                    results[i] = (done, tuple(tokens[i]), logprobs[i])
                else:
                    keep.append(r)
            if not keep:
                break
            if len(keep) < len(alive):
                cache.batch_select_indices(torch.tensor(keep, device=self.device))
            alive = [alive[r] for r in keep]
            feed = torch.tensor([[tokens[i][-1]] for i in alive])
            hidden = self._forward(feed, cache)[:, -1]
        return results

    def _finish(self, ids: list[int], logprob: float) -> tuple[Any, tuple[int, ...], float] | None:
        try:
            return json.loads(self.decode(ids)), tuple(ids), logprob
        except ValueError:
            return None

    def _complete_non_number(self, ids: list[int]) -> Any | None:
        try:
            value = json.loads(self.decode(ids))
        except ValueError:
            return None
        return None if isinstance(value, (int, float)) and not isinstance(value, bool) else value

    # ---- free text --------------------------------------------------------------------------
    def generate_text(
        self, state: KVState, *, max_tokens: int, temperature: float, stop: tuple[str, ...],
        generator: torch.Generator | None,
    ) -> str:
        """A prose continuation, ended by EOS, a stop string or ``max_tokens``."""
        cache = copy.deepcopy(state.cache)
        hidden = state.hidden[None]
        ids: list[int] = []
        text = ""
        for _ in range(max_tokens):
            tok = int(_sample(self._logits(hidden), temperature, generator)[0])
            self.usage.output_tokens += 1
            if tok in self._eos_ids:
                break
            ids.append(tok)
            text = self.tokenizer.decode(ids, skip_special_tokens=True)
            cut = min((text.find(s) for s in stop if s and s in text), default=-1)
            if cut >= 0:
                return text[:cut].strip()
            hidden = self._forward(torch.tensor([[tok]]), cache)[:, -1]
        return text.strip()

    # ---- proposing steps ------------------------------------------------------------------
    def _options(self, beam: Beam, fmt: CallFormat, rules: Constraints) -> list[_Option]:
        """The finite choices at this point of the grammar (names, finishes)."""
        state = beam.state
        last = beam.steps[-1].tag if beam.steps else None
        if state.open_name is None:  # choose a function, or end the list
            n_calls = len(state.calls)
            opts: list[_Option] = []
            if n_calls < rules.max_calls:
                names = [t.name for t in rules.tools]
                if n_calls == 0 and rules.forced_name:
                    names = [rules.forced_name]
                opts += [_Option(Step(StepTag.FUNC_NAME, n), fmt.open_call(n, n_calls == 0)) for n in names]
            if n_calls > 0 or not rules.require_call:
                text = fmt.list_close if n_calls else fmt.empty
                opts.append(_Option(Step(StepTag.TOTAL_FINISH), text or ""))
            return opts
        if last is StepTag.PARAM_FINISH:
            return [_Option(Step(StepTag.FUNC_FINISH), fmt.call_close)]
        tool = rules.tool(state.open_name)
        first = not state.open_args
        opts = [
            _Option(Step(StepTag.ARG_VALUE, p.name), ("" if first else ", ") + dump_value(p.name) + ":")
            for p in tool.params if p.name not in state.open_args
        ]
        if all(r in state.open_args for r in tool.required):
            opts.append(_Option(Step(StepTag.PARAM_FINISH), "}"))
        return opts

    def propose(
        self, beam: Beam, m: int, *, fmt: CallFormat, rules: Constraints, temperature: float,
        max_value_tokens: int, generator: torch.Generator | None,
    ) -> list[Candidate]:
        """Up to ``m`` distinct candidate next steps for ``beam`` (fewer when fewer exist)."""
        options = self._options(beam, fmt, rules)
        ids = [tuple(self.encode(o.text)) if o.text else None for o in options]
        if len(options) == 1:
            lps = [0.0]
        else:
            lps = self.score_options(beam.kv, ids)
        draws = _draw(lps, m, temperature, generator)
        out: list[Candidate] = []
        for k, count in draws.items():
            opt, opt_ids, lp = options[k], ids[k], lps[k]
            if opt.step.tag is not StepTag.ARG_VALUE:
                out.append(Candidate(opt.step, opt_ids or (), lp, opt.text))
                continue
            param = rules.tool(beam.state.open_name).param(opt.step.name)  # type: ignore[arg-type]
            out += self._value_candidates(beam, opt, opt_ids or (), lp, param, count, temperature,
                                          max_value_tokens, generator)
        return out

    def _value_candidates(
        self, beam: Beam, opt: _Option, name_ids: tuple[int, ...], name_lp: float, param: ParamSpec,
        count: int, temperature: float, max_value_tokens: int, generator: torch.Generator | None,
    ) -> list[Candidate]:
        after_name = self.extend(beam.kv, name_ids)
        values: list[tuple[Any, tuple[int, ...], float] | None]
        if param.choices is not None:
            texts = [" " + dump_value(v) for v in param.choices]
            vids = [tuple(self.encode(t)) for t in texts]
            vlps = self.score_options(after_name, vids) if len(vids) > 1 else [0.0]
            picked = _draw(vlps, count, temperature, generator)
            values = [(param.choices[j], vids[j], vlps[j]) for j in picked]
        else:
            values = self.sample_values(after_name, param.schema, count, temperature=temperature,
                                        max_tokens=max_value_tokens, generator=generator)
        seen: set[str] = set()
        out = []
        for v in values:
            if v is None:
                continue
            value, vids_, vlp = v
            key = dump_value(value)
            # Keywords a grammar may not enforce (e.g. a format) are checked here, so a returned
            # call always validates against its schema.
            if key in seen or not param.is_valid(value):
                continue
            seen.add(key)
            step = Step(StepTag.ARG_VALUE, param.name, value)
            out.append(Candidate(step, name_ids + vids_, name_lp + vlp, opt.text + self.decode(vids_)))
        return out

    def advance(self, beam: Beam, cand: Candidate, score: float) -> Beam:
        """The beam with ``cand`` appended: its tokens are fed once on the beam's cache."""
        return Beam(
            beam.steps + (cand.step,), self.extend(beam.kv, cand.token_ids),
            beam.logprob + cand.logprob, beam.scores + (score,), beam.texts + (cand.text,),
        )


def torch_dtype(dtype: str | torch.dtype) -> torch.dtype:
    """``"bfloat16"`` -> ``torch.bfloat16``; a name torch lacks is an error naming it."""
    found = getattr(torch, dtype, None) if isinstance(dtype, str) else dtype
    if not isinstance(found, torch.dtype):
        raise ValueError(f"unknown dtype {dtype!r}: use a torch dtype name such as 'float32' or 'bfloat16'")
    return found


def _eos_ids(model: Any, tokenizer: Any) -> list[int]:
    ids = getattr(model.generation_config, "eos_token_id", None)
    ids = [ids] if isinstance(ids, int) else list(ids or [])
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in ids:
        ids.append(tokenizer.eos_token_id)
    return ids


def _common_prefix(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    n = min(len(a), len(b))
    return next((i for i in range(n) if a[i] != b[i]), n)


def _unpack_bitmask(bitmask: torch.Tensor, vocab: int) -> torch.Tensor:
    """xgrammar's packed int32 bitmask [rows, words] -> bool [rows, vocab] (bit j of word w is token 32w+j)."""
    shifts = torch.arange(32, dtype=torch.int32)
    bits = (bitmask.unsqueeze(-1) >> shifts) & 1
    return bits.reshape(bitmask.shape[0], -1)[:, :vocab].bool()


def _sample(logits: torch.Tensor, temperature: float, generator: torch.Generator | None) -> torch.Tensor:
    if temperature <= 0:
        return logits.argmax(-1)
    probs = torch.softmax(logits / temperature, -1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


def _draw(logprobs: list[float], m: int, temperature: float, generator: torch.Generator | None) -> dict[int, int]:
    """Draw ``m`` options (with repeats) -> {option index: times drawn}, most likely first."""
    lp = torch.tensor(logprobs)
    if temperature <= 0 or m <= 0:
        return {int(lp.argmax()): max(m, 1)}
    picks = torch.multinomial(torch.softmax(lp / temperature, -1), m, replacement=True, generator=generator)
    counts: dict[int, int] = {}
    for k in sorted(picks.tolist(), key=lambda k: -logprobs[k]):
        counts[k] = counts.get(k, 0) + 1
    return counts
