"""The proposer: which steps may come next in a call list, and which of them to try.

It reads the step grammar (a function name or the end of the list, then arguments, then the
call's close) and the rules of the request (which tools, whether a call is required, how many),
asks the backend for the probability of each finite choice and for sampled values, and hands the
search its M most likely distinct candidates. It knows nothing of tokens or tensors: every
backend gets the same candidates from the same model probabilities.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .backend import Backend, Move, Rng, Scored, State
from .prompts import CallFormat
from .schema import ParamSpec, ToolSpec
from .steps import PartialState, Step, StepTag, dump_value, replay


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
    """A partial trajectory: its steps, the backend's state after them, its score history."""

    steps: tuple[Step, ...]
    state: State
    logprob: float = 0.0
    scores: tuple[float, ...] = ()
    texts: tuple[str, ...] = ()
    tiebreak: float = 1.0
    """A second scorer's say on a closed list's last step, read only between lists of equal score
    (1: none; see ``search.break_ties``)."""

    @property
    def partial(self) -> PartialState:
        return replay(self.steps)

    @property
    def finished(self) -> bool:
        return bool(self.steps) and self.steps[-1].tag is StepTag.TOTAL_FINISH


@dataclass(frozen=True)
class Candidate:
    """A proposed next step: its text, its log-probability, and how to write it (``move`` from
    ``base``: the beam's state, or the state after an argument's key when a value was sampled
    there, so advancing writes only the value)."""

    step: Step
    text: str
    logprob: float
    base: State = field(compare=False, repr=False)
    move: Move = field(compare=False, repr=False)


@dataclass(frozen=True)
class _Option:
    """A finite next-step choice. ``scored`` is the text its probability is read over (its own
    text, cut or extended to where the choice is decided); empty = the complement (prose)."""

    step: Step
    text: str
    scored: str


def step_text(step: Step, fmt: CallFormat, state: PartialState, *, key_only: bool = False) -> str:
    """The text the search writes for ``step`` after a prefix that built ``state``: the one
    spelling of a step in the policy's call format (a learned scorer reads it back).
    ``key_only``: an argument's key alone, what is scored before its value is chosen."""
    if step.tag is StepTag.FUNC_NAME:
        return fmt.open_call(step.name or "", not state.calls)
    if step.tag is StepTag.TOTAL_FINISH:
        return (fmt.list_close if state.calls else fmt.empty) or ""
    if step.tag is StepTag.ARG_VALUE:
        key = ("" if not state.open_args else ", ") + dump_value(step.name) + ":"
        return key if key_only else _with_value(key, step.value)
    return "}" if step.tag is StepTag.PARAM_FINISH else fmt.call_close


def answer_texts(steps: Sequence[Step], fmt: CallFormat) -> list[str]:
    """:func:`step_text` of every step of a trajectory; joined, the call list as the search wrote it."""
    return [step_text(step, fmt, replay(steps[:i])) for i, step in enumerate(steps)]


def _with_value(key: str, value: Any) -> str:
    return key + " " + dump_value(value)


def options(beam: Beam, fmt: CallFormat, rules: Constraints) -> list[_Option]:
    """The finite choices at this point of the grammar (names, finishes)."""
    state = beam.partial
    last = beam.steps[-1].tag if beam.steps else None

    def option(step: Step, scored: str | None = None) -> _Option:
        text = step_text(step, fmt, state, key_only=step.tag is StepTag.ARG_VALUE)
        return _Option(step, text, text if scored is None else scored)

    if state.open_name is None:  # choose a function, or end the list
        n_calls = len(state.calls)
        opts: list[_Option] = []
        if n_calls < rules.max_calls:
            names = [t.name for t in rules.tools]
            if n_calls == 0 and rules.forced_name:
                names = [rules.forced_name]
            opts += [option(Step(StepTag.FUNC_NAME, n), fmt.name_text(n, n_calls == 0)) for n in names]
        if n_calls > 0 or not rules.require_call:
            opts.append(option(Step(StepTag.TOTAL_FINISH)))
        return opts
    if last is StepTag.PARAM_FINISH:
        return [option(Step(StepTag.FUNC_FINISH))]
    tool = rules.tool(state.open_name)
    opts = [option(Step(StepTag.ARG_VALUE, p.name)) for p in tool.params if p.name not in state.open_args]
    if all(r in state.open_args for r in tool.required):
        # Scored with the call's close that must follow, so ``"}}`` counts as the model writes it.
        opts.append(option(Step(StepTag.PARAM_FINISH), "}" + fmt.call_close))
    return opts


def propose(
    backend: Backend, beam: Beam, m: int, *, fmt: CallFormat, rules: Constraints, temperature: float,
    max_value_tokens: int, rng: Rng, enumerate_choices: bool = True,
    copies: Callable[[ParamSpec], list[Any]] | None = None, nominees: Sequence[str] = (),
    memo: dict[int, list[Scored]] | None = None,
) -> list[Candidate]:
    """Up to ``m`` distinct candidate next steps for ``beam`` (a few more where values of
    several arguments are sampled; fewer when fewer exist).

    ``enumerate_choices``: finite choices (names, enum values, ``[]`` or a call, another
    argument or finish, another call or close) are the ``m`` most likely distinct ones, with
    the finishing option (``[]``, close the list, finish the arguments) always among them, and
    free values are sampled at ``temperature`` (greedy at 0). Otherwise every choice is
    drawn ``m`` times at ``temperature`` (independent samples, as best-of-N needs).
    ``copies`` offers values taken from the conversation for a free parameter: they join
    the sampled ones (when enumerating with ``m`` > 1), each with the model's own probability.
    ``nominees``: function names offered at every name step too (when enumerating with ``m`` >
    1), however unlikely the policy finds them: the tools the request is about, so that the
    order of the tool list, which moves the policy's probabilities, cannot hide them.
    ``memo`` keeps each beam's option scores (by ``id``, while the beam lives), so a step proposed
    again with a wider ``m`` (adaptive exploration) does not score its options twice.
    """
    opts = options(beam, fmt, rules)
    scored = memo.get(id(beam)) if memo is not None else None
    if scored is None:
        scored = backend.score(beam.state, [o.scored or None for o in opts])
        if memo is not None:
            memo[id(beam)] = scored
    counts = choose([s.logprob for s in scored], m, temperature, rng, enumerate_choices)
    if enumerate_choices and m > 1:
        # "No call", "no more calls" and "no more arguments" always compete, however unlikely
        # the policy finds them: the scorer, not the policy's top m, decides when to stop.
        for k, opt in enumerate(opts):
            if opt.step.tag in (StepTag.TOTAL_FINISH, StepTag.PARAM_FINISH) or (
                    opt.step.tag is StepTag.FUNC_NAME and opt.step.name in nominees):
                counts.setdefault(k, 1)
    total = sum(math.exp(scored[k].logprob) for k in counts if opts[k].step.tag is StepTag.ARG_VALUE)
    out: list[Candidate] = []
    for k, count in counts.items():
        opt, sc = opts[k], scored[k]
        move = backend.move(beam.state, sc, opt.text)
        if opt.step.tag is not StepTag.ARG_VALUE:
            out.append(Candidate(opt.step, opt.text, sc.logprob, beam.state, move))
            continue
        if enumerate_choices:
            # Values share the budget by the likelihood of their argument, one at least.
            count = max(1, round(m * math.exp(sc.logprob) / total)) if total > 0 else 1
        tool = rules.tool(beam.partial.open_name)  # type: ignore[arg-type]
        param = tool.param(opt.step.name)  # type: ignore[arg-type]
        offered = copies(param) if copies is not None and enumerate_choices and m > 1 else []
        after_key = backend.advance(beam.state, move)
        out += _value_candidates(backend, beam, opt, after_key, sc.logprob, param, tool, count, temperature,
                                 max_value_tokens, rng, enumerate_choices, offered)
    return out


def _value_candidates(
    backend: Backend, beam: Beam, opt: _Option, after_key: State, key_lp: float, param: ParamSpec,
    tool: ToolSpec, count: int, temperature: float, max_value_tokens: int, rng: Rng,
    enumerate_choices: bool, offered: Sequence[Any] = (),
) -> list[Candidate]:
    """Distinct valid values for ``param``: enum choices scored, free values sampled under the
    schema's grammar, values offered from the conversation scored at the model's own odds."""
    given = {*beam.partial.open_args, param.name}
    tail = ("," if any(p.name not in given for p in tool.params) else "") + "}"
    values: list[tuple[Any, float, Move] | None]
    if param.choices is not None:
        texts = [" " + dump_value(v) for v in param.choices]
        scored = backend.score(after_key, texts)
        picked = choose([s.logprob for s in scored], count, temperature, rng, enumerate_choices)
        values = [(param.choices[j], scored[j].logprob, backend.move(after_key, scored[j], texts[j]))
                  for j in picked]
    else:
        sampled = backend.sample_values(after_key, " ", param.schema, count, tail=tail, temperature=temperature,
                                        max_tokens=max_value_tokens, rng=rng, distinct=enumerate_choices)
        values = [(s.value, s.logprob, s.move) if s is not None else None for s in sampled]
        seen = {dump_value(s.value) for s in sampled if s is not None}
        offered = [v for v in offered if param.is_valid(v) and dump_value(v) not in seen]
        if offered:
            texts = [" " + dump_value(v) for v in offered]
            scored = backend.score(after_key, texts, free=True)
            values += [(v, sc.logprob, backend.move(after_key, sc, t)) for v, t, sc in zip(offered, texts, scored)]
    seen_keys: set[str] = set()
    out = []
    for v in values:
        if v is None:
            continue
        value, vlp, move = v
        key = dump_value(value)
        # Keywords a grammar may not enforce (e.g. a format) are checked here, so a returned
        # call always validates against its schema.
        if key in seen_keys or not param.is_valid(value):
            continue
        seen_keys.add(key)
        step = Step(StepTag.ARG_VALUE, param.name, value)
        out.append(Candidate(step, _with_value(opt.text, value), key_lp + vlp, after_key, move))
    return out


def advance(backend: Backend, beam: Beam, cand: Candidate, score: float) -> Beam:
    """The beam with ``cand`` appended (its text written once, from the candidate's base)."""
    return Beam(beam.steps + (cand.step,), backend.advance(cand.base, cand.move), beam.logprob + cand.logprob,
                beam.scores + (score,), beam.texts + (cand.text,))


def choose(logprobs: list[float], m: int, temperature: float, rng: Rng, enumerate_choices: bool) -> dict[int, int]:
    """Which options to expand -> {option index: budget}, most likely first.

    Enumerating: the ``m`` most likely distinct options, one each (at temperature 0, the best).
    Sampling: ``m`` draws at ``temperature`` with repeats, each option's budget its draw count.
    """
    if temperature <= 0 or m <= 0:
        return {max(range(len(logprobs)), key=logprobs.__getitem__): max(m, 1)}
    if enumerate_choices:
        order = sorted(range(len(logprobs)), key=lambda k: -logprobs[k])
        return {k: 1 for k in order[:m]}
    counts: dict[int, int] = {}
    for k in sorted(rng.categorical(logprobs, temperature, m), key=lambda k: -logprobs[k]):
        counts[k] = counts.get(k, 0) + 1
    return counts
