"""What the search needs from a policy model, as one typed interface.

The proposer (which steps exist at each point of the grammar) and the strategies are written
against :class:`Backend` alone, so the same search runs on an in-process transformers model or
on a serving engine. A backend keeps its own notion of where a path stands (KV caches, token
boundaries, the text a server caches): the search only passes its states and moves back to it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from .prompts import PolicyPrompt

State = Any
"""A backend's opaque encoding of a prefix (the prompt and the steps written after it)."""
Move = Any
"""A backend's opaque recipe for writing one step's text after a state (applied by ``advance``)."""


class ContextLengthError(ValueError):
    """The prompt does not fit the policy's context window."""


def char_class(chars: str) -> str:
    """An EBNF character class of ``chars`` (as GBNF and xgrammar both read it): how a grammar
    lets a value be followed by one character of its ``tail``."""
    return "[" + "".join("\\" + c if c in "]\\^-" else c for c in chars).replace("\n", "\\n") + "]"


@dataclass
class Usage:
    """Tokens a model processed (fed through forward passes) and sampled."""

    input_tokens: int = 0
    output_tokens: int = 0

    def add(self, other: Usage) -> None:
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens


@dataclass(frozen=True)
class Scored:
    """A text's log-probability after a state, and how the backend would write it (``route``)."""

    logprob: float
    route: Any = ()


@dataclass(frozen=True)
class Sampled:
    """A JSON value sampled after a state: its log-probability and the move that writes it."""

    value: Any
    logprob: float
    move: Move


class Rng(Protocol):
    """A backend's random stream (seeded once per search, so results repeat)."""

    def categorical(self, logprobs: Sequence[float], temperature: float, n: int) -> list[int]:
        """``n`` draws with replacement from softmax(logprobs / temperature)."""
        ...


@runtime_checkable
class Backend(Protocol):
    """A policy model as the search sees it.

    ``score`` and ``sample_values`` never change a state; ``advance`` returns a new one, so any
    number of paths may branch from a state.
    """

    name: str
    usage: Usage
    tokenizer: Any
    """Source of the chat template the prompt is built with (None: the built-in prompt)."""
    deadline: float | None
    """A ``time.monotonic()`` after which model calls raise ``TimeoutError`` (set per call)."""
    thread_safe: bool
    """Whether searches may run on it from several threads at once (a served model: each request
    stands alone); the chat model serialises calls to a backend that is not."""

    @property
    def max_context(self) -> int: ...

    def reset(self) -> None:
        """Forget cached prompts and grammars, so the next question pays for its own."""
        ...

    def rng(self, seed: int | None) -> Rng:
        """A random stream for one search (``None``: unseeded)."""
        ...

    def start(self, prompt: PolicyPrompt, reserve: int, *, max_prompt: int | None = None) -> State:
        """Encode a prompt once, keeping ``reserve`` tokens free for the answer. Raises
        :class:`ContextLengthError` before any model call when it does not fit (or is over
        ``max_prompt`` tokens)."""
        ...

    def score(self, state: State, texts: Sequence[str | None], *, free: bool = False) -> list[Scored]:
        """Log-probability of each text after ``state`` under decoding restricted to the texts
        (one text: 0, nothing computed). ``None`` stands for any other continuation (prose).
        ``free``: the model's own unrestricted probabilities."""
        ...

    def move(self, state: State, scored: Scored, text: str) -> Move:
        """How to write ``text`` after ``state``, reusing what scoring it computed."""
        ...

    def advance(self, state: State, move: Move) -> State:
        """The state after ``move`` is written."""
        ...

    def sample_values(
        self, state: State, lead: str, schema: dict[str, Any], n: int, *, tail: str, temperature: float,
        max_tokens: int, rng: Rng, distinct: bool = False,
    ) -> list[Sampled | None]:
        """``n`` JSON values valid under ``schema``, written after ``lead``; a value may be
        followed by one character of ``tail``. None where a value did not end in ``max_tokens``.
        ``distinct``: the values take different first content tokens where the model allows."""
        ...

    def write(
        self, state: State, prefix: str, *, max_tokens: int, temperature: float, stop: tuple[str, ...],
        rng: Rng, on_text: Callable[[str], None] | None = None,
    ) -> str:
        """A prose reply after ``state`` and ``prefix``, ended by EOS, a stop string or
        ``max_tokens``; ``on_text`` receives it as it grows."""
        ...
