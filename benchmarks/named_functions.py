"""How the verifier's "a function the request names is owed a call" rule behaves on the training
sources' multi-tool requests (no model; no test set is read):

- how often ``asks_several_tasks`` marks requests whose gold calls two functions or more, and
  requests whose gold calls one;
- recall: a gold list of two functions or more, cut to the calls of its first function, is
  closed; how often the verifier names a missing gold function as owed;
- false alarms: how often closing the whole gold list still names a function as owed.

    python benchmarks/named_functions.py
"""

from __future__ import annotations

import argparse
from collections import Counter

from langchain_toolprm.core.scorers import ScoringContext
from langchain_toolprm.core.steps import segment
from langchain_toolprm.core.verifier import VerifierScorer, asks_several_tasks
from langchain_toolprm.data.sources import load_training_sources


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", default="sealtools,glaive,toolace")
    args = parser.parse_args()
    verifier = VerifierScorer()
    n = Counter()
    for report in load_training_sources(sources=args.sources.split(",")):
        for ex in report.examples:
            specs = ex.specs()
            if not ex.gold or len(specs) < 2:
                continue
            ctx = ScoringContext(tuple(ex.lc_messages()), tuple(specs))
            names = list(dict.fromkeys(c.name for c in ex.gold))
            several = len(names) > 1
            kind = "several" if several else "one"
            n[f"{kind} functions"] += 1
            n[f"{kind} functions, marked"] += asks_several_tasks(ctx.request)
            [whole] = verifier.judge(ctx, [segment(list(ex.gold))])
            n["false alarms on whole gold lists"] += "()" in whole.reason
            if several:
                [cut] = verifier.judge(ctx, [segment([c for c in ex.gold if c.name == names[0]])])
                n["cut lists naming a missing gold function"] += any(f"{m}()" in cut.reason for m in names[1:])
    lists = n["several functions"] + n["one functions"]
    print(f"{lists} multi-tool gold lists ({n['several functions']} with two functions or more)")
    print(f"marked as several tasks: {n['several functions, marked'] / n['several functions']:.1%} of those with "
          f"two functions or more, {n['one functions, marked'] / n['one functions']:.1%} of the rest")
    print(f"recall: {n['cut lists naming a missing gold function'] / n['several functions']:.1%} of cut lists name a "
          f"missing gold function")
    print(f"false alarms: {n['false alarms on whole gold lists'] / lists:.1%} of whole gold lists name a function "
          f"as owed")


if __name__ == "__main__":
    main()
