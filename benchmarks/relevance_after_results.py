"""Which tool the verifier's relevance ranks first in conversations that already hold a tool's
result, counting the whole conversation for every tool (before); for a tool whose call has its
result, only the user's words since (``ScoringContext.said_for``, since only); or those and the
earlier words at ``DONE_TASK_WEIGHT`` (now, what the verifier does). Training sources
only (no test set is read; API-Bank level-3 is the training split); examples whose gold calls a
tool after an earlier result in the same conversation:

    python benchmarks/relevance_after_results.py
"""

from __future__ import annotations

import argparse
from collections import Counter

from langchain_core.messages import ToolMessage

from langchain_toolprm.core.scorers import ScoringContext
from langchain_toolprm.core.verifier import DONE_TASK_WEIGHT, VerifierScorer, relevance
from langchain_toolprm.data.sources import ALL_SOURCES, load_training_sources


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", default=",".join(ALL_SOURCES))
    args = parser.parse_args()
    threshold = VerifierScorer().relevance_threshold
    n: Counter[tuple[str, str]] = Counter()
    for report in load_training_sources(sources=args.sources.split(",")):
        for ex in report.examples:
            messages = ex.lc_messages()
            if not ex.gold or not any(isinstance(m, ToolMessage) for m in messages):
                continue
            ctx = ScoringContext(tuple(messages), tuple(ex.specs()))
            gold = ex.gold[0].name
            n[("examples", report.source)] += 1
            for scheme in ("before", "since only", "now"):
                rel = {t.name: relevance(ctx.said_text, t) for t in ctx.tools} if scheme == "before" else \
                    {t.name: relevance(ctx.said_for(t.name), t) for t in ctx.tools}
                if scheme == "now":  # what the verifier does: earlier words kept at DONE_TASK_WEIGHT
                    rel = {t.name: max(r, DONE_TASK_WEIGHT * relevance(ctx.said_text, t))
                           for t, r in zip(ctx.tools, rel.values(), strict=True)}
                top = [name for name, r in rel.items() if r == max(rel.values())]
                n[(scheme, "gold first alone" if top == [gold] else "gold tied first" if gold in top
                   else "another tool first")] += 1
                n[(scheme, f"gold below the threshold {threshold}")] += rel[gold] < threshold
    print(", ".join(f"{source} {count}" for (kind, source), count in sorted(n.items()) if kind == "examples"))
    print("| scheme | gold first alone | gold tied first | another tool first | gold below the threshold |")
    print("|---|---:|---:|---:|---:|")
    for scheme in ("before", "since only", "now"):
        print(f"| {scheme} | {n[(scheme, 'gold first alone')]} | {n[(scheme, 'gold tied first')]} | "
              f"{n[(scheme, 'another tool first')]} | {n[(scheme, f'gold below the threshold {threshold}')]} |")


if __name__ == "__main__":
    main()
