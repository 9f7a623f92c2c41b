"""The step grammar of a call list (ToolPRM section 1).

A response is a list of calls, built as a sequence of steps: ``FUNC_NAME`` (choose the
function), one ``ARG_VALUE`` per argument (its name and value), ``PARAM_FINISH`` (close the
arguments), ``FUNC_FINISH`` (close the call) and finally ``TOTAL_FINISH`` (close the list,
possibly empty). The search, the scorers and the dataset builder share these functions so a
trajectory means the same thing everywhere.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class StepTag(str, Enum):
    FUNC_NAME = "<FUNC_NAME>"
    ARG_VALUE = "<ARG_VALUE>"
    PARAM_FINISH = "<PARAM_FINISH>"
    FUNC_FINISH = "<FUNC_FINISH>"
    TOTAL_FINISH = "<TOTAL_FINISH>"


@dataclass(frozen=True)
class Step:
    """One decision. ``name`` is the function (FUNC_NAME) or parameter (ARG_VALUE) name."""

    tag: StepTag
    name: str | None = None
    value: Any = None

    def __post_init__(self) -> None:
        if self.tag in (StepTag.FUNC_NAME, StepTag.ARG_VALUE) and not self.name:
            raise ValueError(f"a {self.tag.value} step needs a name")


@dataclass(frozen=True)
class Call:
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


class StepOrderError(ValueError):
    """A step sequence that the grammar does not allow."""


_NEXT: dict[StepTag | None, frozenset[StepTag]] = {
    None: frozenset({StepTag.FUNC_NAME, StepTag.TOTAL_FINISH}),
    StepTag.FUNC_NAME: frozenset({StepTag.ARG_VALUE, StepTag.PARAM_FINISH}),
    StepTag.ARG_VALUE: frozenset({StepTag.ARG_VALUE, StepTag.PARAM_FINISH}),
    StepTag.PARAM_FINISH: frozenset({StepTag.FUNC_FINISH}),
    StepTag.FUNC_FINISH: frozenset({StepTag.FUNC_NAME, StepTag.TOTAL_FINISH}),
    StepTag.TOTAL_FINISH: frozenset(),
}


def next_tags(steps: Sequence[Step]) -> frozenset[StepTag]:
    """The tags the grammar allows after ``steps``."""
    return _NEXT[steps[-1].tag if steps else None]


@dataclass(frozen=True)
class PartialState:
    """What a step prefix has built: finished calls and the open call, if any."""

    calls: tuple[Call, ...]
    open_name: str | None
    open_args: dict[str, Any]
    finished: bool


def replay(steps: Iterable[Step]) -> PartialState:
    """Fold a step prefix into its calls, checking the order as it goes."""
    calls: list[Call] = []
    name: str | None = None
    args: dict[str, Any] = {}
    last: StepTag | None = None
    for step in steps:
        if step.tag not in _NEXT[last]:
            raise StepOrderError(
                f"{step.tag.value} cannot follow {last.value if last else 'the start'}"
            )
        if step.tag is StepTag.FUNC_NAME:
            name, args = step.name, {}
        elif step.tag is StepTag.ARG_VALUE:
            if step.name in args:
                raise StepOrderError(f"argument {step.name!r} is given twice")
            args[step.name] = step.value
        elif step.tag is StepTag.FUNC_FINISH:
            calls.append(Call(name, args))  # type: ignore[arg-type]
            name, args = None, {}
        last = step.tag
    return PartialState(tuple(calls), name, dict(args), last is StepTag.TOTAL_FINISH)


def segment(calls: Sequence[Call]) -> list[Step]:
    """Split a complete call list into its steps (arguments in their given order)."""
    steps: list[Step] = []
    for call in calls:
        steps.append(Step(StepTag.FUNC_NAME, call.name))
        steps.extend(Step(StepTag.ARG_VALUE, k, v) for k, v in call.arguments.items())
        steps += [Step(StepTag.PARAM_FINISH), Step(StepTag.FUNC_FINISH)]
    steps.append(Step(StepTag.TOTAL_FINISH))
    return steps


def assemble(steps: Sequence[Step]) -> list[Call]:
    """The call list of a finished trajectory; the inverse of :func:`segment`."""
    state = replay(steps)
    if not state.finished:
        raise StepOrderError("the trajectory is not finished (no TOTAL_FINISH)")
    return list(state.calls)


def dump_value(value: Any) -> str:
    """Compact JSON, the one spelling of a value used in prompts and PRM inputs."""
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def step_fragment(step: Step, first: bool) -> str:
    """The canonical JSON-list text a step adds (``first``: first call or first argument)."""
    sep = "" if first else ", "
    if step.tag is StepTag.FUNC_NAME:
        return f'{"[" if first else ", "}{{"name": {dump_value(step.name)}, "arguments": {{'
    if step.tag is StepTag.ARG_VALUE:
        return f"{sep}{dump_value(step.name)}: {dump_value(step.value)}"
    if step.tag is StepTag.TOTAL_FINISH:
        return "[]" if first else "]"
    return "}"


def fragments(steps: Sequence[Step]) -> list[str]:
    """The canonical fragment of every step; joined they spell the JSON call list."""
    out: list[str] = []
    last: StepTag | None = None
    for step in steps:
        if step.tag is StepTag.ARG_VALUE:
            first = last is StepTag.FUNC_NAME
        else:
            first = last is None
        out.append(step_fragment(step, first))
        last = step.tag
    return out


def render_trajectory(context: str, steps: Sequence[Step]) -> str:
    """A (partial) trajectory as a PRM reads it: each step's fragment, then its tag.

    The PRM predicts ``+`` or ``-`` as the token after each tag; labels are never part of
    the input, so one forward pass scores every step of a trajectory.
    """
    return context + "".join(f"{frag}{step.tag.value}\n" for frag, step in zip(fragments(steps), steps))
