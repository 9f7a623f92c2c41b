"""After a call's result, is the request done (``[]``: the assistant replies) or does it owe another
call? How rules that read the verifier's relevance decide it, against the gold, on the training
sources only (no test set is read; API-Bank level-3 is the training split): the examples whose
conversation already holds calls made since the last user turn, counted by their gold (a call, or
none) and by whether each rule finds a call still owed.

    python benchmarks/pending_after_results.py
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Callable

from langchain_toolprm.core.scorers import ScoringContext
from langchain_toolprm.core.verifier import RELEVANCE_THRESHOLD, _facts, owed_after_results, relevance
from langchain_toolprm.data.sources import ALL_SOURCES, load_training_sources


def _top(rel: dict[str, float]) -> list[str]:
    best = max(rel.values(), default=0.0)
    return [n for n, r in rel.items() if r == best and r >= RELEVANCE_THRESHOLD]


RULES: dict[str, Callable[[ScoringContext], bool]] = {
    "never (before)": lambda ctx: False,
    "a relevant tool not called since": lambda ctx: any(
        r >= RELEVANCE_THRESHOLD and n not in {c.name for c in ctx.calls_since_request}
        for n, r in _facts(ctx).relevance.items()),
    "the most relevant tool not called since (now: verifier.owed_after_results)": lambda ctx: owed_after_results(ctx)
    is not None,
    "the same, relevance over the whole conversation (no discount for done tasks)": lambda ctx: bool(
        set(_top({t.name: relevance(ctx.said_text, t) for t in ctx.tools})) - {c.name for c in ctx.calls_since_request}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", default=",".join(ALL_SOURCES))
    args = parser.parse_args()
    n: Counter[tuple[str, ...]] = Counter()
    for report in load_training_sources(sources=args.sources.split(",")):
        for ex in report.examples:
            ctx = ScoringContext(tuple(ex.lc_messages()), tuple(ex.specs()))
            if not ctx.calls_since_request:
                continue
            gold = "gold call" if ex.gold else "gold []"
            n[("examples", report.source, gold)] += 1
            for rule, owed in RULES.items():
                n[(rule, gold)] += owed(ctx)
    calls = sum(v for k, v in n.items() if k[0] == "examples" and k[2] == "gold call")
    nones = sum(v for k, v in n.items() if k[0] == "examples" and k[2] == "gold []")
    print(", ".join(f"{k[1]} {k[2]} {v}" for k, v in sorted(n.items()) if k[0] == "examples"))
    print(f"| rule | gold a call ({calls}): owed | gold none ({nones}): owed | right |")
    print("|---|---:|---:|---:|")
    for rule in RULES:
        a, b = n[(rule, "gold call")], n[(rule, "gold []")]
        print(f"| {rule} | {a} | {b} | {100 * (a + nones - b) / (calls + nones):.1f}% |")


if __name__ == "__main__":
    main()
