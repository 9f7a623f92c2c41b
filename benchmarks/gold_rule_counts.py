"""How the training sources' gold calls stand to five verifier rules and one candidate (no model):

- route legs (``verifier.route_legs``): requests with legs, and gold lists that use no call for one;
- a later call to a function and the optional arguments an earlier call to it set: kept, changed
  or left out;
- unit parameters (``verifier.asks_unit``): gold values, and how many the unit rule scores;
- a value the parameter's description offers that the request says ("e.g. vegan, gluten-free";
  ``_Facts.offered_said``): such optional parameters set or left out by the gold call;
- task parts (``verifier.task_clauses``): requests cut into parts, and where their gold values are
  said: in the part of the call's function, or only in parts of other functions (with or without
  a parameter of the same name there);
- the candidate "an optional enum parameter whose option the request says": set or left out.

    python benchmarks/gold_rule_counts.py --sources sealtools,glaive,toolace,apibank_lv3
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Sequence

from langchain_toolprm.core.scorers import ScoringContext
from langchain_toolprm.core.steps import Call, Step, StepTag
from langchain_toolprm.core.verifier import (
    NOT_A_UNIT,
    VerifierScorer,
    _facts,
    asks_unit,
    route_legs,
    tokens,
)
from langchain_toolprm.data.sources import load_training_sources


def count_task_parts(ctx: ScoringContext, gold: Sequence[Call], counts: Counter[str]) -> None:
    facts = _facts(ctx)
    if not facts._clauses:
        return
    counts["requests in task parts"] += 1
    for call in gold:
        home = facts._homes.get(call.name)
        for name, value in call.arguments.items():
            places = facts._places(value)
            if home is None or not places:
                continue
            if home in places:
                counts["  gold values said in their function's part"] += 1
                continue
            theirs = [[t for t in ctx.tools if facts._homes.get(t.name) == i] for i in places]
            if all(theirs):
                same = any(t.param(name) for ts in theirs for t in ts)
                counts[f"  gold values said only in other functions' parts, {'a' if same else 'no'} same-named "
                       "parameter there"] += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", default="sealtools,glaive,toolace,apibank_lv3")
    args = parser.parse_args()
    verifier = VerifierScorer()
    counts: Counter[str] = Counter()
    for report in load_training_sources(sources=args.sources.split(",")):
        for ex in [e for e in report.examples if e.gold]:
            messages, specs = ex.lc_messages(), {t.name: t for t in ex.specs()}
            request = [m.content for m in messages if m.type == "human"][-1]
            said = set(tokens(" ".join(m.content for m in messages if m.type == "human")))
            legs = route_legs(request)
            counts["requests with route legs"] += bool(legs)
            counts["  whose gold list leaves a leg unused"] += any(not leg.used_by(list(ex.gold)) for leg in legs)
            ctx = ScoringContext(tuple(messages), tuple(ex.specs()))
            count_task_parts(ctx, list(ex.gold), counts)
            seen: dict[str, dict[str, object]] = {}
            for call in ex.gold:
                tool = specs.get(call.name)
                if tool is None:
                    continue
                for p in tool.params:
                    value = call.arguments.get(p.name)
                    if asks_unit(p.name, p.schema) and isinstance(value, str):
                        counts["unit values"] += 1
                        opened = [Step(StepTag.FUNC_NAME, call.name), Step(StepTag.ARG_VALUE, p.name, value)]
                        [j] = verifier.judge(ctx, [opened])
                        counts["  scored as no unit"] += j.reason == NOT_A_UNIT
                    if p.required:
                        continue
                    if call.name in seen and p.name in seen[call.name]:
                        kept = "kept" if value == seen[call.name][p.name] else "left out" if value is None else "changed"
                        counts[f"later call, an earlier call's optional argument {kept}"] += 1
                    if _facts(ctx).offered_said(p, {k: v for k, v in call.arguments.items() if k != p.name}):
                        counts[f"optional, the request says an offered value: {'set' if value is not None else 'left out'}"] += 1
                    if p.choices and len(p.choices) > 1 and any(
                            isinstance(c, str) and tokens(c) and all(w in said for w in tokens(c)) for c in p.choices):
                        counts[f"optional enum, the request says an option: {'set' if value is not None else 'left out'}"] += 1
                seen[call.name] = {**seen.get(call.name, {}), **call.arguments}
    for k, v in counts.items():
        print(f"{k}: {v}")


if __name__ == "__main__":
    main()
