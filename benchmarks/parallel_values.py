"""How often the verifier's "this number is another argument's" checks fire on gold calls of the
training sources (no model; no test set is read). Each fires on a wrong value by design; on a
gold value it is a false alarm:

- a number the request ties to another numeric parameter of the function and not to its own;
- a number an earlier call to the same function gave another argument;
- a number with the unit of a number an earlier call gave another argument ("10 years" beside an
  earlier ``duration`` of "20 years");
- a number where the call holds one half of a pair the request writes and the other is unused
  ("96 and 128").

Every value step of every gold list is judged as the search would judge it, with the gold calls
before it.

    python benchmarks/parallel_values.py
"""

from __future__ import annotations

import argparse
from collections import Counter

from langchain_toolprm.core.scorers import ScoringContext
from langchain_toolprm.core.steps import StepTag, segment
from langchain_toolprm.core.verifier import VerifierScorer
from langchain_toolprm.data.sources import load_training_sources

CHECKS = {"the request ties": "tied to another argument", "an earlier call's": "an earlier call's other argument",
          "a number in": "the unit of an earlier call's other argument", "the request pairs": "a pair's other half",
          "listed with": "a list member of an earlier call's other argument"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", default="sealtools,glaive,toolace")
    args = parser.parse_args()
    verifier = VerifierScorer()
    n: Counter[str] = Counter()
    for report in load_training_sources(sources=args.sources.split(",")):
        for ex in report.examples:
            if not ex.gold:
                continue
            ctx = ScoringContext(tuple(ex.lc_messages()), tuple(ex.specs()))
            steps = segment(list(ex.gold))
            repeated = len({c.name for c in ex.gold}) < len(ex.gold)
            for i, step in enumerate(steps):
                if step.tag is not StepTag.ARG_VALUE or isinstance(step.value, bool) \
                        or not isinstance(step.value, (int, float)):
                    continue
                n["number values"] += 1
                n["number values in lists that call a function again"] += repeated
                why = verifier.judge(ctx, [steps[: i + 1]])[0].reason
                hit = next((label for key, label in CHECKS.items() if why.startswith(key)), None)
                if hit:
                    n[f"flagged: {hit}"] += 1
    total = n["number values"]
    print(f"gold number values: {total} ({n['number values in lists that call a function again']} in lists "
          "that call a function again)")
    for label in CHECKS.values():
        print(f"  flagged as {label}: {n[f'flagged: {label}']} ({n[f'flagged: {label}'] / max(total, 1):.1%})")


if __name__ == "__main__":
    main()
