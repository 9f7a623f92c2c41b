"""Tables for docs/results.md from the results folder that ``benchmarks/results.sh`` fills.

A strategy enters a category's rows only once it has answered every item of that category's
slice (the first ``--slice`` items), so all rows of a category cover the same items; the
second section does the same for whole categories; ``--common`` adds a third over the items every
strategy of a category has answered (runs still in progress). ``--pack DIR`` also writes a gzipped copy of
every result file under DIR without the raw texts (how benchmarks/per_item/v1 and v2 were made), which this
script reads as well. ``--reread`` first reads the free-text strategies' calls again from their
raw texts (``evaluation.reports.reread_text_answers``; needs the policy's tokenizer, ``--model``).

    python benchmarks/results_tables.py results/ [--slice 50] [--reread] [--pack benchmarks/per_item/v2]
    python benchmarks/results_tables.py benchmarks/per_item/v2 "old proposer=benchmarks/per_item/v1"

Several folders can be read together; ``PREFIX=FOLDER`` prefixes that folder's strategy labels
(``old proposer: greedy``), so runs of another version sit beside today's without mixing. The
unprefixed ``greedy`` is the reference of every ratio and paired test (``--reference`` names another).
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from langchain_toolprm.core.embedded import ensure_embedded_model
from langchain_toolprm.data.records import ToolExample, read_jsonl
from langchain_toolprm.evaluation.benchmarks import BFCL_CATEGORIES, load_benchmark
from langchain_toolprm.evaluation.metrics import aggregate_hammer, sign_test
from langchain_toolprm.evaluation.reports import read_results, reread_text_answers, summary_table

BFCL = [c for c in BFCL_CATEGORIES if not c.startswith("live_")]
GROUPS = [("bfcl", c) for c in BFCL] + [("toolalpaca", "-"), ("apibank_l1", "-")]
Group = tuple[str, str]  # benchmark, category ("-" for the Hammer sets)
UNPACKED = ("raw", "detail")
"""Left out of packed copies: the model's raw text can quote the benchmarks' tool schemas, and a
BFCL failure's detail quotes its gold answer; neither feeds a table (details are recomputed)."""


def _group(r: dict[str, Any]) -> Group:
    return r["benchmark"], r["category"] or "-"


def _examples() -> dict[Group, list[ToolExample]]:
    return {(b, c): load_benchmark(b, None if c == "-" else c) for b, c in GROUPS}


def _items(examples: dict[Group, list[ToolExample]], limit: int | None) -> dict[Group, set[str]]:
    return {g: {e.id for e in exs[:limit]} for g, exs in examples.items()}


def _complete(records: list[dict[str, Any]], items: dict[Group, set[str]]) -> set[tuple[str, Group]]:
    """(strategy, group) pairs where the strategy answered every item of ``items[group]``."""
    done: dict[tuple[str, Group], set[str]] = defaultdict(set)
    for r in records:
        done[(r["strategy"], _group(r))].add(r["id"])
    return {key for key, ids in done.items() if items[key[1]] <= ids}


def _common(records: list[dict[str, Any]]) -> dict[Group, set[str]]:
    """Per group, the items every strategy there has answered (runs still in progress compared on
    what they share)."""
    done: dict[tuple[str, Group], set[str]] = defaultdict(set)
    for r in records:
        done[(r["strategy"], _group(r))].add(r["id"])
    out: dict[Group, set[str]] = {g: set() for g in GROUPS}
    for g in GROUPS:
        answered = [ids for (_, grp), ids in done.items() if grp == g]
        out[g] = set.intersection(*answered) if answered else set()
    return out


def headline(records: list[dict[str, Any]], keep: Callable[[dict[str, Any]], bool], reference: str = "greedy") -> str:
    """One row per strategy: BFCL accuracy averaged over the five categories, the Hammer sets'
    average F1, and seconds per item against constrained greedy on the same items ("-" where a
    strategy has not finished a group)."""
    by: dict[str, dict[Group, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        if keep(r):
            by[r["strategy"]][_group(r)].append(r)
    greedy = by.get(reference, {})
    out = ["| strategy | BFCL non-live (mean of 5 categories) | ToolAlpaca avg F1 | API-Bank L1 avg F1 | "
           f"time x {reference} |", "|---|---|---|---|---|"]
    for label, groups in sorted(by.items(), key=lambda kv: kv[0] != reference):
        bfcl = [sum(r["correct"] for r in groups[("bfcl", c)]) / len(groups[("bfcl", c)])
                for c in BFCL if groups.get(("bfcl", c))]
        cells = [f"{100 * sum(bfcl) / len(bfcl):.1f}" if len(bfcl) == len(BFCL) else f"- ({len(bfcl)}/5 done)"]
        for bench in ("toolalpaca", "apibank_l1"):
            g = groups.get((bench, "-"))
            cells.append(f"{100 * aggregate_hammer(g)['avg_f1']:.1f}" if g else "-")
        shared = [g for g in groups if g in greedy]
        mine = sum(r["seconds"] for g in shared for r in groups[g])
        ref = sum(r["seconds"] for g in shared for r in greedy[g])
        cells.append(f"{mine / ref:.2f}" if ref else "-")
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def _quality(r: dict[str, Any]) -> float:
    return float(r["correct"]) if r["benchmark"] == "bfcl" else (r["name_f1"] + r["arg_f1"]) / 2


def paired(records: list[dict[str, Any]], keep: Callable[[dict[str, Any]], bool], reference: str = "greedy") -> str:
    """Each strategy against constrained greedy item by item: on how many items it scored higher
    (BFCL: right where greedy was wrong; the Hammer sets: a higher average of name and argument F1)
    or lower, and the sign test's p-value. Differences of means hide how many items moved."""
    q: dict[tuple[str, Group], dict[str, float]] = defaultdict(dict)
    for r in records:
        if keep(r):
            q[(r["strategy"], _group(r))][r["id"]] = _quality(r)
    out = [f"| benchmark | category | strategy | items | better than {reference} | worse | sign test p |",
           "|---|---|---|---|---|---|---|"]
    for (label, group), mine in sorted(q.items(), key=lambda kv: (GROUPS.index(kv[0][1]), kv[0][0])):
        ref = q.get((reference, group))
        if label == reference or not ref:
            continue
        ids = mine.keys() & ref.keys()
        better = sum(mine[i] > ref[i] for i in ids)
        worse = sum(mine[i] < ref[i] for i in ids)
        out.append(f"| {group[0]} | {group[1]} | {label} | {len(ids)} | {better} | {worse} | "
                   f"{sign_test(better, worse):.3f} |")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="+", help="results folders; PREFIX=FOLDER prefixes its strategy labels")
    parser.add_argument("--slice", type=int, default=50, help="items per category in the slice")
    parser.add_argument("--pack", type=Path, help="also write a gzipped copy of every result file here")
    parser.add_argument("--reread", action="store_true",
                        help="first read the free-text answers' calls again from their raw texts")
    parser.add_argument("--model", type=Path, help="with --reread: the policy (default: the embedded Gemma)")
    parser.add_argument("--common", action="store_true",
                        help="also compare every category on the items all its strategies answered (runs in progress)")
    parser.add_argument("--reference", default="greedy",
                        help="the strategy label of the time ratios and paired tests (e.g. 'v1: greedy')")
    args = parser.parse_args()
    if args.model and not args.reread:
        parser.error("--model is only used with --reread")
    folders = [(None, Path(f)) if "=" not in f else (f.split("=", 1)[0], Path(f.split("=", 1)[1])) for f in args.out]
    if (args.reread or args.pack) and len(folders) > 1:
        parser.error("--reread and --pack take one folder")
    args.out = folders[0][1]
    examples = _examples()
    every = [ex for exs in examples.values() for ex in exs]
    if args.reread:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(args.model or ensure_embedded_model())
        for f in sorted(args.out.rglob("*.jsonl")):
            if n := reread_text_answers(f, tokenizer, every):
                print(f"{f}: {n} records updated", file=sys.stderr)
    if args.pack:
        for f in sorted(args.out.rglob("*.jsonl")):
            target = args.pack / f.relative_to(args.out).with_suffix(".jsonl.gz")
            target.parent.mkdir(parents=True, exist_ok=True)
            with gzip.GzipFile(target, "wb", mtime=0) as dst:
                for rec in read_jsonl(f):
                    dst.write((json.dumps({k: v for k, v in rec.items() if k not in UNPACKED}) + "\n").encode())
    records = []  # scored by today's metrics, from the stored calls
    for prefix, folder in folders:
        records += [r if prefix is None else {**r, "strategy": f"{prefix}: {r['strategy']}"}
                    for r in read_results([folder], every)]
    sections = [(f"Slice: the first {args.slice} items of each category", _items(examples, args.slice)),
                ("Whole categories", _items(examples, None))]
    if args.common:
        sections.append(("Items every strategy of the category answered", _common(records)))
    for title, items in sections:
        complete = _complete(records, items)
        if not complete:
            continue

        def keep(r: dict[str, Any], items: dict[Group, set[str]] = items,
                 complete: set[tuple[str, Group]] = complete) -> bool:
            return r["id"] in items[_group(r)] and (r["strategy"], _group(r)) in complete

        print(f"## {title}\n\n{headline(records, keep, args.reference)}\n\n{paired(records, keep, args.reference)}\n\n"
              f"{summary_table(records, keep)}")


if __name__ == "__main__":
    main()
