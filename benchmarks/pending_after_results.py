"""After a call's result, is the request done (``[]``: the assistant replies) or does it owe another
call? How rules that read the verifier's relevance decide it, against the gold, on the training
sources only (no test set is read; API-Bank level-3 is the training split, its reply items
included): the examples whose conversation already holds calls made since the last user turn,
counted by their gold (a call, or none) and by whether each rule finds a call still owed.

    python benchmarks/pending_after_results.py
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Callable

from langchain_core.messages import HumanMessage

from langchain_toolprm.core.scorers import ScoringContext
from langchain_toolprm.core.verifier import RELEVANCE_THRESHOLD, _facts, owed_after_results, relevance
from langchain_toolprm.data.sources import ALL_SOURCES, APIBANK_REPLIES, load_training_sources


def _at_request(ctx: ScoringContext) -> ScoringContext:
    """The conversation up to its last user turn: what the tools' relevance was when it was asked."""
    last = max((i for i, m in enumerate(ctx.messages) if isinstance(m, HumanMessage)), default=-1)
    return ScoringContext(ctx.messages[:last + 1], ctx.tools)


RULES: dict[str, Callable[[ScoringContext], bool]] = {
    "never (before)": lambda ctx: False,
    "a relevant tool not called since": lambda ctx: any(
        r >= RELEVANCE_THRESHOLD and n not in {c.name for c in ctx.calls_since_request}
        for n, r in _facts(ctx).relevance.items()),
    "the most relevant tool not called since (now: verifier.owed_after_results)": lambda ctx: owed_after_results(ctx)
    is not None,
    "the same, relevance over the whole conversation (no discount for done tasks)": lambda ctx: owed_after_results(
        ctx, relevance={t.name: relevance(ctx.said_text, t) for t in ctx.tools}) is not None,
    "the same, relevance as of the last user turn": lambda ctx: owed_after_results(
        ctx, relevance=_facts(_at_request(ctx)).relevance) is not None,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", default=",".join([*ALL_SOURCES, APIBANK_REPLIES]))
    args = parser.parse_args()
    n: Counter[tuple[str, ...]] = Counter()
    for report in load_training_sources(sources=args.sources.split(",")):
        for ex in report.examples:
            ctx = ScoringContext(tuple(ex.lc_messages()), tuple(ex.specs()))
            if not ctx.calls_since_request:
                continue
            group = (report.source, "a call" if ex.gold else "none")
            n[("examples", *group)] += 1
            for rule, owed in RULES.items():
                n[(rule, *group)] += owed(ctx)
    groups = sorted(k[1:] for k in n if k[0] == "examples")
    total = sum(n[("examples", *g)] for g in groups)
    print("| rule | " + " | ".join(f"{s}, gold {g} ({n[('examples', s, g)]}): owed" for s, g in groups) + " | right |")
    print("|---|" + "---:|" * (len(groups) + 1))
    for rule in RULES:
        right = sum(n[(rule, *g)] if g[1] == "a call" else n[("examples", *g)] - n[(rule, *g)] for g in groups)
        print(f"| {rule} | " + " | ".join(str(n[(rule, *g)]) for g in groups) + f" | {100 * right / total:.1f}% |")


if __name__ == "__main__":
    main()
