"""How the training sources' gold calls stand to three verifier rules and one candidate (no model):

- route legs (``verifier.route_legs``): requests with legs, and gold lists that use no call for one;
- a later call to a function and the optional arguments an earlier call to it set: kept, changed
  or left out;
- unit parameters (``verifier.asks_unit``): gold values, and how many the unit rule scores;
- the candidate "the request says a value the parameter's description offers" ("e.g. vegan,
  gluten-free"): such optional parameters set or left out by the gold call.

    python benchmarks/gold_rule_counts.py --sources sealtools,glaive,toolace,apibank_lv3
"""

from __future__ import annotations

import argparse
import re
from collections import Counter

from langchain_toolprm.core.scorers import ScoringContext
from langchain_toolprm.core.steps import Step, StepTag
from langchain_toolprm.core.verifier import (
    _EXAMPLE,
    NOT_A_UNIT,
    VerifierScorer,
    asks_unit,
    route_legs,
    tokens,
)
from langchain_toolprm.data.sources import load_training_sources


def offered_said(description: str, said: set[str]) -> bool:
    """Whether the request says one of the values a description offers after "e.g.", "such as"..."""
    m = _EXAMPLE.search(description)
    if not m:
        return False
    options = [o.strip(" '\"") for o in re.split(r",|\bor\b|/", m.group(1).split(")")[0])]
    return any(len(o) > 2 and tokens(o) and all(w in said for w in tokens(o)) for o in options)


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
                    if offered_said(str(p.schema.get("description", "")), said):
                        counts[f"optional, the request says an offered value: {'set' if value is not None else 'left out'}"] += 1
                seen[call.name] = {**seen.get(call.name, {}), **call.arguments}
    for k, v in counts.items():
        print(f"{k}: {v}")


if __name__ == "__main__":
    main()
