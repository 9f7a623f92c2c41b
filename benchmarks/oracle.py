"""Is the right answer in the explored tree? The limit of proposals and of choices, side by side.

    python benchmarks/oracle.py --limit 25 --m 4 8 --out benchmarks/oracle   # then --table
    python benchmarks/oracle.py --table benchmarks/oracle > docs/oracle.md

For each item of a fixed slice (the first ``--limit`` items of each BFCL non-live category)
fine-grained beam search (N=1, the verifier) runs at each M; every call list that closed and
was compared at the end (the pool) is scored with the benchmark's checker. "chosen" is the
search's answer; "in the pool" counts items where some compared list is right (an oracle
choosing among what the search explored). The gap between the two is the choice's limit, the
gap between "in the pool" and 100% the proposals' limit (lists dropped by the search because
they could not beat a closed one are not in the pool). Per-item results go to ``--out`` as
JSONL, one file per M, and a run resumes where it stopped.
"""

from __future__ import annotations

import argparse
import json
import sys
import zlib
from collections import defaultdict
from pathlib import Path

from langchain_toolprm.core.embedded import EMBEDDED_BASE
from langchain_toolprm.core.loader import load_backend
from langchain_toolprm.core.proposer import Constraints
from langchain_toolprm.core.search import SearchConfig, beam_search, prepare_problem
from langchain_toolprm.core.steps import assemble
from langchain_toolprm.core.verifier import VerifierScorer
from langchain_toolprm.data.records import call_to_dict
from langchain_toolprm.evaluation.benchmarks import BFCL_CATEGORIES, load_benchmark
from langchain_toolprm.evaluation.metrics import score_item

CATEGORIES = [c for c in BFCL_CATEGORIES if not c.startswith("live_")]


def run(limit: int, ms: list[int], out: Path, model: str) -> None:
    policy = load_backend(model)
    out.mkdir(parents=True, exist_ok=True)
    for m in ms:
        path = out / f"oracle_M={m}.jsonl"
        done = {json.loads(line)["id"] for line in path.read_text().splitlines()} if path.exists() else set()
        for category in CATEGORIES:
            for ex in load_benchmark("bfcl", category, None, limit):
                if ex.id in done:
                    continue
                specs = ex.specs()
                policy.clear_prompt_cache()
                problem, _ = prepare_problem(policy, ex.lc_messages(), specs, Constraints(tuple(specs)), 128)
                config = SearchConfig(n_retain=1, m_explore=m, seed=zlib.crc32(ex.id.encode()))
                result = beam_search(policy, VerifierScorer(), problem, config)
                pool = [assemble(b.steps) for b in result.finished]
                record = {
                    "id": ex.id, "category": category, "m": m,
                    "chosen": None if result.calls is None else [call_to_dict(c) for c in result.calls],
                    "chosen_correct": score_item(ex, result.calls)["correct"],
                    "pool": len(pool), "pool_correct": any(score_item(ex, calls)["correct"] for calls in pool),
                }
                with path.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(record) + "\n")
                print(f"M={m} {ex.id}: chosen {record['chosen_correct']} pool {record['pool_correct']} "
                      f"({len(pool)} lists)", flush=True)


def table(folder: Path) -> str:
    rows: dict[tuple[str, int], list[dict]] = defaultdict(list)
    for path in sorted(folder.glob("oracle_M=*.jsonl")):
        for line in path.read_text().splitlines():
            rec = json.loads(line)
            rows[(rec["category"], rec["m"])].append(rec)
    ms = sorted({m for _, m in rows})
    lines = ["| category | items | " + " | ".join(f"M={m} chosen | M={m} in the pool" for m in ms) + " |",
             "|---|---|" + "---|---|" * len(ms)]
    for category in CATEGORIES:
        cells = []
        n = 0
        for m in ms:
            recs = rows.get((category, m), [])
            n = max(n, len(recs))
            if recs:
                cells += [f"{100 * sum(r['chosen_correct'] for r in recs) / len(recs):.0f}%",
                          f"{100 * sum(r['pool_correct'] for r in recs) / len(recs):.0f}%"]
            else:
                cells += ["-", "-"]
        lines.append(f"| {category} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=25, help="first items of each BFCL non-live category")
    parser.add_argument("--m", type=int, nargs="+", default=[4, 8], help="M values (N is 1)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/oracle"))
    parser.add_argument("--model", default=EMBEDDED_BASE,
                        help="the policy (default: the base, which docs/oracle.md measured; one model per --out)")
    parser.add_argument("--table", type=Path, help="print the table of a finished run's folder and exit")
    args = parser.parse_args()
    if args.table:
        print(table(args.table), end="")
        return 0
    if args.limit < 1 or min(args.m) < 1:
        parser.error("--limit and every --m must be at least 1")
    run(args.limit, args.m, args.out, args.model)
    print(table(args.out), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
