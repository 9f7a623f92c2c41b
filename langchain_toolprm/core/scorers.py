"""Step scorers: each maps partial trajectories to a score in [0, 1] for their last step.

The one interface is :class:`Scorer`. ``verifier.VerifierScorer`` needs no training;
``GenerativePRM`` reads p(+) / (p(+) + p(-)) after the last step tag of any causal LM trained in
the format of :func:`encode_trajectory`; ``HeadScorer`` reads a small logistic head on the
policy's own hidden state at the step's end (no second model: the policy's forward pass over
the step is all it costs); ``CombinedScorer`` multiplies weighted scores (a weighted geometric
mean); ``TieBroken`` lets one scorer rank and asks a second only where the first ranks
candidates alike.
"""

from __future__ import annotations

import copy
import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

import torch
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from .backend import Usage
from .hf import clone_cache, load_causal_lm
from .prompts import PolicyPrompt, build_prompt, message_text, render_context
from .proposer import answer_texts
from .schema import ToolSpec
from .steps import Call, Step, StepTag, fragments


@dataclass(frozen=True)
class ScoringContext:
    """What a scorer may read besides the trajectory: the conversation and the tools."""

    messages: tuple[BaseMessage, ...]
    tools: tuple[ToolSpec, ...]

    @cached_property
    def text(self) -> str:
        return render_context(self.messages, self.tools) + " "

    @cached_property
    def evidence(self) -> str:
        """Lower-cased text values may be grounded in: every turn but the assistant's own."""
        return "\n".join(message_text(m) for m in self.messages if not isinstance(m, AIMessage)).lower()

    @cached_property
    def answered_calls(self) -> frozenset[str]:
        """Calls made earlier in the conversation whose result is already there."""
        answered = {m.tool_call_id for m in self.messages if isinstance(m, ToolMessage)}
        return frozenset(
            call_key(c["name"], c["args"])
            for m in self.messages if isinstance(m, AIMessage)
            for c in m.tool_calls if c.get("id") in answered
        )

    @cached_property
    def request(self) -> str:
        """The text of the last user turn: what the call list answers."""
        return next((message_text(m) for m in reversed(self.messages) if isinstance(m, HumanMessage)), "")

    @cached_property
    def said_text(self) -> str:
        """What the user and the assistant said (no tool results): what a call list answers."""
        return "\n".join(message_text(m) for m in self.messages if isinstance(m, (HumanMessage, AIMessage)))

    def said_for(self, tool: str) -> str:
        """What a call to ``tool`` answers: :attr:`said_text`, but once a call to it has its result,
        only what the user said since (that task is done; "Thanks. Now calculate (5+6)*3" after a
        stock price asks for no other price)."""
        names = {c.get("id"): c["name"] for m in self.messages if isinstance(m, AIMessage) for c in m.tool_calls}
        done = [i for i, m in enumerate(self.messages)
                if isinstance(m, ToolMessage) and (m.name or names.get(m.tool_call_id)) == tool]
        if not done:
            return self.said_text
        return "\n".join(message_text(m) for m in self.messages[done[-1] + 1:] if isinstance(m, HumanMessage))

    @cached_property
    def calls_since_request(self) -> tuple[Call, ...]:
        """Calls already made for the last user turn (with or without results)."""
        last = max((i for i, m in enumerate(self.messages) if isinstance(m, HumanMessage)), default=-1)
        return tuple(Call(c["name"], c["args"]) for m in self.messages[last + 1:] if isinstance(m, AIMessage)
                     for c in m.tool_calls)

    @cached_property
    def cache(self) -> dict[Any, Any]:
        """Per-question facts a scorer computes once (the verifier's relevance, entities)."""
        return {}

    def tool(self, name: str) -> ToolSpec | None:
        return next((t for t in self.tools if t.name == name), None)


def call_key(name: str, arguments: dict[str, Any]) -> str:
    """One spelling of a call, argument order ignored."""
    return json.dumps([name, arguments], sort_keys=True, ensure_ascii=False)


class Scorer(Protocol):
    usage: Usage

    def score(self, ctx: ScoringContext, trajectories: Sequence[Sequence[Step]]) -> list[float]:
        """Score the last step of each (non-empty) trajectory."""
        ...


def encode_trajectory(tokenizer: Any, context: str, steps: Sequence[Step]) -> tuple[list[int], list[int]]:
    """Token ids of :func:`steps.render_trajectory` and the position of each step tag's last token.

    The PRM's label for step i is the token predicted at ``positions[i]`` ('+' or '-').
    Pieces are tokenized separately so positions are exact.
    """
    ids = list(tokenizer(context, add_special_tokens=True)["input_ids"])
    positions = []
    for frag, step in zip(fragments(steps), steps):
        ids += tokenizer(frag + step.tag.value, add_special_tokens=False)["input_ids"]
        positions.append(len(ids) - 1)
        ids += tokenizer("\n", add_special_tokens=False)["input_ids"]
    return ids, positions


def label_token_ids(tokenizer: Any, plus: str = "+", minus: str = "-") -> tuple[int, int]:
    """The single tokens the PRM predicts for a good and a bad step."""
    out = []
    for text in (plus, minus):
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(ids) != 1:
            raise ValueError(f"the label {text!r} is not a single token for this tokenizer: {ids}")
        out.append(ids[0])
    return out[0], out[1]


class GenerativePRM:
    """A causal LM as process reward model: p(+) / (p(+) + p(-)) after the last step tag.

    The shared context (tools + conversation) is encoded once per search and reused; each
    call feeds only the trajectories' step tokens, batched.
    """

    def __init__(self, model: Any, tokenizer: Any, name: str | None = None) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name = name or getattr(model.config, "name_or_path", type(model).__name__)
        self.usage = Usage()
        self.label_ids = label_token_ids(tokenizer)
        self._context: tuple[str, Any, int] | None = None

    @classmethod
    def from_pretrained(cls, path: str | Path, *, base_model: str | Path | None = None,
                        dtype: str = "float32", device: str | None = None) -> GenerativePRM:
        """A full model directory, or a peft adapter directory (``adapter_config.json``).

        For an adapter, ``base_model`` replaces the base recorded in its config (an adapter
        trained on one machine's local path); the tokenizer is the adapter's, else the base's.
        """
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no PRM at {path}")
        model, tokenizer = load_causal_lm(path, base_model=base_model, dtype=dtype)
        return cls(model.to(device) if device else model, tokenizer, name=str(path))

    @torch.no_grad()
    def _forward(self, ids: torch.Tensor, cache: Any) -> torch.Tensor:
        self.usage.input_tokens += int(ids.numel())
        device = self.model.get_output_embeddings().weight.device
        return self.model.get_decoder()(input_ids=ids.to(device), cache=cache, use_cache=True).last_hidden_state

    def _context_cache(self, text: str) -> tuple[Any, int]:
        if self._context is None or self._context[0] != text:
            from transformers import DynamicCache

            ids = self.tokenizer(text, add_special_tokens=True)["input_ids"]
            cache = DynamicCache(config=self.model.config)
            self._forward(torch.tensor([ids]), cache)
            self._context = (text, cache, len(ids))
        return self._context[1], self._context[2]

    @torch.no_grad()
    def score(self, ctx: ScoringContext, trajectories: Sequence[Sequence[Step]]) -> list[float]:
        if not trajectories:
            return []
        cache, n_ctx = self._context_cache(ctx.text)
        rows, last = [], []
        start = len(self.tokenizer("", add_special_tokens=True)["input_ids"])  # BOS: already in the cache
        for steps in trajectories:
            ids, pos = encode_trajectory(self.tokenizer, "", steps)
            rows.append(ids[start:])
            last.append(pos[-1] - start)
        width = max(map(len, rows))
        pad = self.tokenizer.pad_token_id or 0
        batch = torch.tensor([r + [pad] * (width - len(r)) for r in rows])
        cache = clone_cache(cache)
        if len(rows) > 1:
            cache.batch_repeat_interleave(len(rows))
        hidden = self._forward(batch, cache)
        h = hidden[torch.arange(len(rows), device=hidden.device), torch.tensor(last, device=hidden.device)]
        head = self.model.get_output_embeddings()
        logits = h.to(head.weight.dtype) @ head.weight[list(self.label_ids)].T
        p = torch.softmax(logits.float(), -1)[:, 0]
        return [float(x) for x in p]


HEAD_WEIGHTS, HEAD_CONFIG = "head.safetensors", "head.json"
_TAGS = tuple(StepTag)


@dataclass(frozen=True)
class RewardHead:
    """p(+) of a step from the policy's hidden state ``h`` at its end: a logistic model per step
    tag, ``sigmoid(weight[tag] . (h - mean) / scale + bias[tag])``. ``policy`` names the model
    whose states it was trained on (another model's states mean nothing to it)."""

    mean: torch.Tensor  # [H]
    scale: torch.Tensor  # [H]
    weight: torch.Tensor  # [len(StepTag), H]
    bias: torch.Tensor  # [len(StepTag)]
    policy: str
    card: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        h = self.mean.shape[-1]
        if self.scale.shape != (h,) or self.weight.shape != (len(_TAGS), h) or self.bias.shape != (len(_TAGS),):
            raise ValueError(f"inconsistent reward head shapes: mean {tuple(self.mean.shape)}, scale "
                             f"{tuple(self.scale.shape)}, weight {tuple(self.weight.shape)}, bias {tuple(self.bias.shape)}")

    @property
    def hidden_size(self) -> int:
        return int(self.mean.shape[-1])

    def logits(self, hidden: torch.Tensor, tags: Sequence[StepTag]) -> torch.Tensor:
        rows = torch.tensor([_TAGS.index(t) for t in tags], device=self.weight.device)
        x = (hidden.to(self.weight) - self.mean) / self.scale
        return (x * self.weight[rows]).sum(-1) + self.bias[rows]

    def save(self, path: str | Path) -> Path:
        from safetensors.torch import save_file

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        tensors = {"mean": self.mean, "scale": self.scale, "weight": self.weight, "bias": self.bias}
        save_file({k: v.detach().float().cpu().contiguous() for k, v in tensors.items()}, str(path / HEAD_WEIGHTS))
        config = {"policy": self.policy, "hidden_size": self.hidden_size, "tags": [t.name for t in _TAGS], **self.card}
        (path / HEAD_CONFIG).write_text(json.dumps(config, indent=2) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> RewardHead:
        from safetensors.torch import load_file

        path = Path(path)
        if not (path / HEAD_WEIGHTS).is_file() or not (path / HEAD_CONFIG).is_file():
            raise FileNotFoundError(f"no reward head in {path}: expected {HEAD_WEIGHTS} and {HEAD_CONFIG}")
        config = json.loads((path / HEAD_CONFIG).read_text())
        if config.get("tags") != [t.name for t in _TAGS]:
            raise ValueError(f"the reward head in {path} was saved for step tags {config.get('tags')}")
        t = load_file(str(path / HEAD_WEIGHTS))
        card = {k: v for k, v in config.items() if k not in ("policy", "hidden_size", "tags")}
        return cls(t["mean"], t["scale"], t["weight"], t["bias"], str(config.get("policy", "")), card)


def is_reward_head(path: str | Path) -> bool:
    return (Path(path) / HEAD_CONFIG).is_file()


class StepStates(Protocol):
    """A backend that exposes its hidden states at step ends (the transformers backend does)."""

    tokenizer: Any
    usage: Usage

    def step_states(self, prompt: PolicyPrompt, texts: Sequence[str]) -> torch.Tensor: ...


class HeadScorer:
    """A :class:`RewardHead` on the search's own policy: it reads the hidden state the policy
    computes over each candidate step, so it needs no model of its own. Its tokens are counted
    as the scorer's, not the policy's."""

    def __init__(self, policy: StepStates, head: RewardHead) -> None:
        if not callable(getattr(policy, "step_states", None)):
            raise TypeError(f"a reward head needs a policy that exposes its hidden states (an in-process "
                            f"transformers model), not {type(policy).__name__}")
        self.policy, self.head, self.usage = policy, head, Usage()
        name = getattr(policy, "name", None)
        if head.policy and name and name != head.policy:
            warnings.warn(f"the reward head was trained on the states of {head.policy!r}, but the policy is {name!r}: "
                          "its scores mean nothing for another model", stacklevel=2)

    def score(self, ctx: ScoringContext, trajectories: Sequence[Sequence[Step]]) -> list[float]:
        if not trajectories:
            return []
        prompt = ctx.cache.get(HeadScorer)
        if prompt is None:
            prompt = ctx.cache[HeadScorer] = build_prompt(self.policy.tokenizer, list(ctx.messages), list(ctx.tools))
        before = self.policy.usage.input_tokens
        hidden = torch.stack([self.policy.step_states(prompt, answer_texts(steps, prompt.call_format))[-1]
                              for steps in trajectories])
        if hidden.shape[-1] != self.head.hidden_size:
            raise ValueError(f"the reward head reads states of size {self.head.hidden_size} (trained on "
                             f"{self.head.policy}), but this policy's are {hidden.shape[-1]}")
        spent = self.policy.usage.input_tokens - before
        self.policy.usage.input_tokens -= spent
        self.usage.input_tokens += spent
        with torch.no_grad():
            p = torch.sigmoid(self.head.logits(hidden, [steps[-1].tag for steps in trajectories]))
        return [float(x) for x in p]


@dataclass
class CombinedScorer:
    """Weighted geometric mean of several scorers' scores."""

    scorers: Sequence[Any]
    weights: Sequence[float] | None = None
    usage: Usage = field(default_factory=Usage)

    def score(self, ctx: ScoringContext, trajectories: Sequence[Sequence[Step]]) -> list[float]:
        weights = list(self.weights or [1.0] * len(self.scorers))
        total = sum(weights)
        logs = [0.0] * len(trajectories)
        for scorer, w in zip(self.scorers, weights):
            before = copy.copy(scorer.usage)
            for i, s in enumerate(scorer.score(ctx, trajectories)):
                logs[i] += w / total * math.log(max(s, 1e-9))
            self.usage.input_tokens += scorer.usage.input_tokens - before.input_tokens
        return [math.exp(x) for x in logs]


@dataclass(frozen=True)
class TieBroken:
    """``primary`` ranks; ``secondary`` is asked only about candidates that ``primary`` scores
    alike (``search.break_ties``), where the policy's log-probability would otherwise decide.

    A reward model that ranks siblings well but is not calibrated against the verifier can so
    help only where the verifier has no opinion, and costs nothing where it has one."""

    primary: Any
    secondary: Any
    across_tags: bool = False
    """Ask about ties between different slots too (a breaker calibrated across them)."""

    @property
    def usage(self) -> Usage:
        """Both scorers' tokens."""
        return Usage(self.primary.usage.input_tokens + self.secondary.usage.input_tokens,
                     self.primary.usage.output_tokens + self.secondary.usage.output_tokens)

    @property
    def judge(self) -> Any:
        """The primary's scores with reasons, where it gives them (the verifier does)."""
        return getattr(self.primary, "judge", None)

    def score(self, ctx: ScoringContext, trajectories: Sequence[Sequence[Step]]) -> list[float]:
        return self.primary.score(ctx, trajectories)

    def break_ties(self, ctx: ScoringContext, trajectories: Sequence[Sequence[Step]]) -> list[float]:
        return self.secondary.score(ctx, trajectories)
