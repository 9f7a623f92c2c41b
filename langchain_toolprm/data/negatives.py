"""Hard negatives derived from gold by rule: labelled trajectories without sampling a model.

Sampling rollouts from the policy is the slow part of building a PRM dataset on a CPU (seconds
per query), and a weak policy's rollouts miss the decisions a reward model must judge (a second
call, an optional argument). Each rule here takes a gold trajectory, keeps a prefix of it and
writes one wrong step where the policy is known to go wrong: another function of the same list,
a value taken from elsewhere in the request or from another argument, a schema word as a value,
a dropped argument, a missing or extra call, a call where none fits. A wrong argument (a swapped,
added or dropped one) is followed by the rest of the gold trajectory, so closing a wrong call
and ending a wrong list are judged too, as in the policy's own rollouts (a head trained only on
prefixes that end at the mistake calls every finish "+"); a wrong function or an extra or
missing call ends there. Every step is labelled by the same annotator as the rollouts
(``labels.label_steps``), so a rule that happens to write a right step yields a "+" label.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ..core.schema import ParamSpec
from ..core.steps import Step, StepTag, segment
from ..core.verifier import copy_values
from .labels import label_steps, values_equal
from .records import LabelledTrajectory, ToolExample, step_to_dict

RULES = ("other_function", "request_span", "other_argument", "schema_word", "drop_argument",
         "extra_argument", "missing_call", "extra_call", "call_where_none_fits")
"""The rule names, as written in a negative's ``origin`` (``rule:<name>``)."""


def _value_positions(steps: Sequence[Step]) -> Iterator[tuple[int, str, str]]:
    """(index, function, parameter) of every argument step of a gold trajectory."""
    name = ""
    for i, step in enumerate(steps):
        if step.tag is StepTag.FUNC_NAME:
            name = step.name or ""
        elif step.tag is StepTag.ARG_VALUE:
            yield i, name, step.name or ""


def _differs(value: Any, gold: Any, param: ParamSpec) -> bool:
    return param.is_valid(value) and not values_equal(value, gold, param.schema)


def _schema_words(param: ParamSpec) -> list[Any]:
    """What a weak policy copies from a schema instead of the request: the parameter's name, its
    type, a word of its description."""
    words = [param.name, str(param.schema.get("type", "")),
             *re.findall(r"[A-Za-z]{4,}", str(param.schema.get("description", "")))[:3]]
    return [w for w in words if w]


def _with_value(steps: Sequence[Step], i: int, value: Any) -> tuple[Step, ...]:
    """Gold with argument ``i`` given ``value`` instead, continued to the end."""
    return (*steps[:i], Step(StepTag.ARG_VALUE, steps[i].name, value), *steps[i + 1:])


def rule_trajectories(example: ToolExample, rule: str, rng: random.Random) -> list[tuple[Step, ...]]:
    """Every trajectory ``rule`` makes from ``example``'s gold (none where it does not apply)."""
    specs = {t.name: t for t in example.specs()}
    gold = tuple(segment(list(example.gold)))
    values = list(_value_positions(gold))
    out: list[tuple[Step, ...]] = []
    if rule == "call_where_none_fits":
        if not example.gold:
            out = [(Step(StepTag.FUNC_NAME, name),) for name in specs]
    elif rule == "other_function":
        used = {c.name for c in example.gold}
        for i, step in enumerate(gold):
            if step.tag is StepTag.FUNC_NAME:
                out += [(*gold[:i], Step(StepTag.FUNC_NAME, n)) for n in specs if n not in used]
    elif rule == "missing_call":
        ends = [i for i, s in enumerate(gold) if s.tag is StepTag.FUNC_FINISH]
        out = [(*gold[: i + 1], Step(StepTag.TOTAL_FINISH)) for i in ends[:-1]]
    elif rule == "extra_call":
        if example.gold:
            out = [(*gold[:-1], Step(StepTag.FUNC_NAME, n)) for n in specs]
    elif rule == "drop_argument":
        # Closing the arguments where a gold argument still had to come (where the grammar
        # allows it: every required argument already given).
        out = [(*gold[:i], Step(StepTag.PARAM_FINISH), *gold[_call_end(gold, i):]) for i, fn, _ in values
               if fn in specs and set(specs[fn].required) <= _open_args(gold, i)]
    elif rule == "extra_argument":
        for i, step in enumerate(gold):
            if step.tag is not StepTag.PARAM_FINISH:
                continue
            fn = next(s.name for s in reversed(gold[:i]) if s.tag is StepTag.FUNC_NAME)
            given = _open_args(gold, i)
            for p in specs[fn].params if fn in specs else ():
                if p.name not in given:
                    picks = [v for v in copy_values(example.request, p.schema) if p.is_valid(v)]
                    if picks:
                        out.append((*gold[:i], Step(StepTag.ARG_VALUE, p.name, rng.choice(picks)), *gold[i:]))
    else:
        pick: Callable[[int, ParamSpec, Any], list[Any]] = {
            "request_span": lambda i, p, g: copy_values(example.request, p.schema),
            "other_argument": lambda i, p, g: [s.value for s in gold if s.tag is StepTag.ARG_VALUE],
            "schema_word": lambda i, p, g: _schema_words(p),
        }[rule]
        for i, fn, name in values:
            param = specs[fn].param(name) if fn in specs else None
            if param is None:
                continue
            choices = [v for v in pick(i, param, gold[i].value) if _differs(v, gold[i].value, param)]
            if choices:
                out.append(_with_value(gold, i, rng.choice(choices)))
    return out


def _call_end(steps: Sequence[Step], i: int) -> int:
    """Index of the FUNC_FINISH that closes the call open at ``steps[i]``."""
    return next(j for j in range(i, len(steps)) if steps[j].tag is StepTag.FUNC_FINISH)


def _open_args(steps: Sequence[Step], end: int) -> set[str]:
    """Arguments of the call open before ``steps[end]``."""
    start = max(i for i in range(end) if steps[i].tag is StepTag.FUNC_NAME)
    return {s.name or "" for s in steps[start + 1: end] if s.tag is StepTag.ARG_VALUE}


def _key(steps: Sequence[Step]) -> str:
    return json.dumps([step_to_dict(s) for s in steps], sort_keys=True, ensure_ascii=False)


def rule_negatives(example: ToolExample, per_rule: int, seed: int = 0,
                   rules: Sequence[str] = RULES) -> list[LabelledTrajectory]:
    """Up to ``per_rule`` labelled trajectories per rule for one query (chosen at random, seeded
    by the query id so a rebuilt dataset is the same), labelled by the step annotator."""
    unknown = sorted(set(rules) - set(RULES))
    if unknown:
        raise ValueError(f"unknown negative rule(s) {', '.join(unknown)}; known: {', '.join(RULES)}")
    if per_rule < 0:
        raise ValueError(f"per_rule must be 0 or more, not {per_rule}")
    rng = random.Random(f"{seed}:{example.id}")
    specs = example.specs()
    out: list[LabelledTrajectory] = []
    seen: set[str] = set()
    for rule in rules:
        made = {_key(t): t for t in rule_trajectories(example, rule, rng)}
        keys = [k for k in made if k not in seen]
        for key in rng.sample(keys, min(per_rule, len(keys))):
            seen.add(key)
            steps = made[key]
            out.append(LabelledTrajectory(example, steps, tuple(label_steps(steps, example.gold, specs)),
                                          f"rule:{rule}"))
    return out
