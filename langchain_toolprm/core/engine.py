"""The answer engine: messages + tools -> search -> calls or a prose reply, with usage and trace.

The chat model, evaluation and rollout collection all answer through :func:`answer`, so a
question is posed, searched and costed the same way everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from langchain_core.messages import BaseMessage

from .backend import Backend, Usage
from .prompts import PolicyPrompt
from .proposer import Constraints
from .schema import ToolSpec
from .scorers import Scorer
from .search import OnDecided, OnTrace, SearchConfig, SearchResult, prepare_problem, run_search
from .steps import Call
from .verifier import VerifierScorer


@dataclass(frozen=True)
class Reply:
    """How to write a prose reply when the answer is not a call."""

    max_tokens: int
    temperature: float = 0.0
    stop: tuple[str, ...] = ()


@dataclass
class Answer:
    """Calls (None: the search finished no call list) or a prose reply, and what they cost."""

    calls: list[Call] | None
    reply: str
    prompt: PolicyPrompt
    result: SearchResult | None = None
    """The search, when tools were offered (its trace, its finished paths)."""
    policy_usage: Usage = field(default_factory=Usage)
    scorer_usage: Usage = field(default_factory=Usage)


def answer(
    backend: Backend, scorer: Scorer, messages: Sequence[BaseMessage], specs: Sequence[ToolSpec],
    config: SearchConfig, *, rules: Constraints | None = None, reply: Reply | None = None,
    max_prompt: int | None = None, deadline: float | None = None, on_decided: OnDecided | None = None,
    on_text: Callable[[str], None] | None = None, on_trace: OnTrace | None = None,
) -> Answer:
    """Answer one conversation with ``specs`` offered (none: prose only).

    Constrained greedy's choice ignores scores, so it is scored by the verifier alone (for the
    trace) and never pays for a PRM. ``reply``: when the search chooses no call (or no tools are
    offered) and a call is not required, write a prose reply; None: calls only (the search runs
    even over no tools, and answers ``[]``). ``deadline``: a ``time.monotonic()`` after which
    model calls raise ``TimeoutError``. ``on_decided``/``on_trace``: the search's hooks
    (:data:`~.search.OnDecided`, :data:`~.search.OnTrace`); ``on_text``: the reply as it is written.
    """
    rules = rules or Constraints(tuple(specs))
    if config.strategy == "greedy":
        scorer = VerifierScorer()
    before_p, before_s = Usage(**vars(backend.usage)), Usage(**vars(scorer.usage))
    searching = bool(specs) or reply is None
    reserve = config.max_value_tokens * 4 if searching else reply.max_tokens  # type: ignore[union-attr]
    backend.deadline = deadline
    try:
        problem, prompt = prepare_problem(backend, messages, specs, rules, reserve, max_prompt=max_prompt)
        result = run_search(backend, scorer, problem, config, on_decided, on_trace=on_trace) if searching else None
        calls = result.calls if result is not None else []
        text = ""
        if reply is not None and calls == [] and not rules.require_call:
            prefix = (prompt.call_format.empty or "") + prompt.reply_prefix if specs else ""
            text = backend.write(problem.root, prefix, max_tokens=reply.max_tokens, temperature=reply.temperature,
                                 stop=tuple(prompt.stop) + reply.stop, rng=backend.rng(config.seed),
                                 on_text=on_text)
    finally:
        backend.deadline = None
    spent_p = Usage(backend.usage.input_tokens - before_p.input_tokens,
                    backend.usage.output_tokens - before_p.output_tokens)
    spent_s = Usage(scorer.usage.input_tokens - before_s.input_tokens,
                    scorer.usage.output_tokens - before_s.output_tokens)
    return Answer(calls, text, prompt, result, spent_p, spent_s)
