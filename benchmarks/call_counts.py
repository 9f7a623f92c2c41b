"""How a strategy's BFCL answers miss on call count: fewer calls than the gold, as many with a
wrong value, more; and how many calls the answers have. From a per-item results file (packed or not).

    python benchmarks/call_counts.py benchmarks/per_item/v3_474c773/bfcl/parallel/beam_N=1_M=4_verifier.jsonl.gz
"""

from __future__ import annotations

import argparse
import gzip
import json
from collections import Counter

from langchain_toolprm.evaluation.benchmarks import load_benchmark


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", help="per-item JSONL (.gz too) of one BFCL category")
    args = parser.parse_args()
    opener = gzip.open if args.results.endswith(".gz") else open
    with opener(args.results, "rt") as f:
        records = [json.loads(line) for line in f]
    gold = {e.id: len(e.gold) for e in load_benchmark("bfcl", records[0]["category"])}
    counts: Counter[str] = Counter()
    for r in records:
        n = len(r["calls"] or [])
        counts["one call"] += n == 1
        if r["correct"]:
            counts["right"] += 1
        elif r["calls"] is None:
            counts["no answer"] += 1
        else:
            counts["fewer calls" if n < gold[r["id"]] else "more calls" if n > gold[r["id"]] else
                   "right count, wrong value"] += 1
    print(f"{len(records)} items: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    sizes = Counter(len(r["calls"] or []) for r in records)
    print("answers by number of calls: " + ", ".join(f"{n}: {sizes[n]}" for n in sorted(sizes)))


if __name__ == "__main__":
    main()
