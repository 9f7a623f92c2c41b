"""Tables for docs/results.md from the results folder that ``benchmarks/results.sh`` fills.

Strategies are compared only on items every one of them answered: first the slice (the
first ``--slice`` items of each BFCL category and Hammer set), then every item that all the
strategies run past the slice have finished.

    python benchmarks/results_tables.py results/ [--slice 50]
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from langchain_toolprm.benchmarks import BFCL_CATEGORIES, load_benchmark
from langchain_toolprm.evaluation import summarize
from langchain_toolprm.metrics import aggregate_hammer

Key = tuple[str, str, str]  # benchmark, category ("-" for the Hammer sets), item id


def _key(r: dict[str, Any]) -> Key:
    return r["benchmark"], r["category"] or "-", r["id"]


def _slice(n: int) -> set[Key]:
    keys: set[Key] = set()
    for cat in (c for c in BFCL_CATEGORIES if not c.startswith("live_")):
        keys |= {("bfcl", cat, e.id) for e in load_benchmark("bfcl", cat, limit=n)}
    for bench in ("toolalpaca", "apibank_l1"):
        keys |= {(bench, "-", e.id) for e in load_benchmark(bench, limit=n)}
    return keys


def _common(records: list[dict[str, Any]], strategies: set[str], within: set[Key] | None) -> set[Key]:
    """Items that every strategy in ``strategies`` answered (inside ``within``, if given)."""
    done: dict[str, set[Key]] = defaultdict(set)
    for r in records:
        if r["strategy"] in strategies and (within is None or _key(r) in within):
            done[r["strategy"]].add(_key(r))
    return set.intersection(*(done[s] for s in strategies)) if len(done) == len(strategies) else set()


def headline(records: list[dict[str, Any]], keep: Callable[[dict[str, Any]], bool]) -> str:
    """One row per strategy: BFCL accuracy averaged over categories, the Hammer sets' average F1,
    and mean seconds per item relative to constrained greedy on the same items."""
    by: dict[str, dict[tuple[str, str], list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        if keep(r):
            by[r["strategy"]][(r["benchmark"], r["category"] or "-")].append(r)

    def seconds(label: str) -> float:
        recs = [r for group in by[label].values() for r in group]
        return sum(r["seconds"] for r in recs) / len(recs)

    head = "| strategy | BFCL non-live (mean of categories) | ToolAlpaca avg F1 | API-Bank L1 avg F1 | s/item | time x greedy |"
    out = [head, "|---|---|---|---|---|---|"]
    for label, groups in sorted(by.items(), key=lambda kv: kv[0] != "greedy"):
        bfcl = [sum(r["correct"] for r in g) / len(g) for (b, _), g in groups.items() if b == "bfcl"]
        cells = [f"{100 * sum(bfcl) / len(bfcl):.1f}" if bfcl else "-"]
        for bench in ("toolalpaca", "apibank_l1"):
            g = groups.get((bench, "-"))
            cells.append(f"{100 * aggregate_hammer(g)['avg_f1']:.1f}" if g else "-")
        ratio = seconds(label) / seconds("greedy") if "greedy" in by else float("nan")
        out.append(f"| {label} | " + " | ".join(cells) + f" | {seconds(label):.1f} | {ratio:.2f} |")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the results folder")
    parser.add_argument("--slice", type=int, default=50, help="items per category in the slice")
    args = parser.parse_args()
    records = [json.loads(line) for f in sorted(args.out.rglob("*.jsonl"))
               for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
    sliced = _slice(args.slice)
    everyone = _common(records, {r["strategy"] for r in records}, sliced)
    beyond = {r["strategy"] for r in records if _key(r) not in sliced}
    full = _common(records, beyond, None) if beyond else set()
    sections = [(f"Slice: the first {args.slice} items of each category, every strategy", everyone, None),
                (f"Past the slice: every item that {', '.join(sorted(beyond))} all finished", full, beyond)]
    for title, keys, strategies in sections:
        if not keys:
            continue

        def keep(r: dict[str, Any], keys: set[Key] = keys, strategies: set[str] | None = strategies) -> bool:
            return _key(r) in keys and (strategies is None or r["strategy"] in strategies)

        print(f"## {title} ({len(keys)} items)\n\n{headline(records, keep)}\n\n{summarize([args.out], keep)}")

if __name__ == "__main__":
    main()
