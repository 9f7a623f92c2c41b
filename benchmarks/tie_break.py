"""How much would a better tie breaker give the verifier's beam? An oracle and a reward head, paired.

    python benchmarks/tie_break.py --set bfcl:simple_python --limit 50 --variant verifier gold --out OUT
    python benchmarks/tie_break.py --set bfcl:simple_python --limit 50 --variant HEAD_DIR --out OUT
    python benchmarks/tie_break.py --table OUT

Where the verifier scores two candidates of one step alike, the beam keeps the one the policy
finds likelier (``search._key``). ``scorers.TieBroken`` hands those ties, and only those, to a
second scorer (``search.break_ties``: among candidates of one tag that could be kept). This
script runs beam N=1 M=4 on each item of a slice with:

- ``verifier``: the product's beam (ties to the policy);
- ``gold``: ties broken by the annotator's label against the item's gold (``data.labels``): an
  oracle, the most any tie breaker could give this beam (gold as the loader spells it, so a
  second accepted value counts as wrong there and the oracle is a lower bound);
- ``gold-any``: the same oracle asked about ties across step tags too (``[]`` or a call,
  another argument or the close), which a breaker must be calibrated across tags to decide;
- a reward head directory (``toolprm train-head``; ``tie_data.py fit --head``): ties broken by
  the head, the candidate for issue 18's scorer that costs nothing where the verifier decides;
- ``toolprm`` (the shipped generative PRM) or a PRM directory (``toolprm train-prm``): ties
  broken by its p(+).

Seeds are the evaluation harness's (``runner._item_seed``), so the ``verifier`` rows repeat
``toolprm eval``'s. Per-item records (right, seconds, how many candidates the breaker was asked
about, scorer tokens) go to ``--out`` as JSONL, one file per variant; a run resumes where it
stopped. ``--table`` prints right per set and variant and each variant paired against
``verifier`` (better / worse items, two-sided sign test) with its time ratio; it reads a run's
folder or the same files gzipped (``benchmarks/per_item/tie_break``).
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_toolprm.core.backend import Backend, Usage
from langchain_toolprm.core.embedded import SHIPPED_PRM
from langchain_toolprm.core.loader import load_backend, load_scorer
from langchain_toolprm.core.schema import ToolSpec
from langchain_toolprm.core.scorers import ScoringContext, TieBroken, is_reward_head
from langchain_toolprm.core.steps import Call, Step
from langchain_toolprm.core.verifier import VerifierScorer
from langchain_toolprm.data.labels import label_steps
from langchain_toolprm.data.records import call_to_dict
from langchain_toolprm.evaluation.benchmarks import load_benchmark
from langchain_toolprm.evaluation.metrics import score_item, sign_test
from langchain_toolprm.evaluation.runner import predict
from langchain_toolprm.evaluation.specs import EvalSpec

BASELINE = "verifier"


@dataclass
class GoldSteps:
    """1 for a step the annotator labels right against ``gold``, else 0: an oracle tie breaker."""

    gold: Sequence[Call]
    tools: Sequence[ToolSpec]
    usage: Usage = field(default_factory=Usage)

    def score(self, ctx: ScoringContext, trajectories: Sequence[Sequence[Step]]) -> list[float]:
        return [float(label_steps(t, self.gold, self.tools)[-1]) for t in trajectories]


@dataclass
class Asked:
    """Counts the candidates a tie breaker is asked about."""

    scorer: Any
    asked: int = 0

    @property
    def usage(self) -> Usage:
        return self.scorer.usage

    def score(self, ctx: ScoringContext, trajectories: Sequence[Sequence[Step]]) -> list[float]:
        self.asked += len(trajectories)
        return self.scorer.score(ctx, trajectories)


ORACLES = ("gold", "gold-any")


def variant_name(variant: str) -> str:
    """A variant's label: a reward head's or a generative PRM's directory name, marked as which."""
    if variant in (BASELINE, *ORACLES):
        return variant
    kind = "head" if is_reward_head(variant) else "prm"
    name = Path(variant).name
    return name if name.startswith(f"{kind}-") or name == kind else f"{kind}-{name}"


def parse_set(value: str) -> tuple[str, str | None]:
    benchmark, _, category = value.partition(":")
    return benchmark, category or None


def run(policy: Backend, sets: Sequence[str], limit: int, variants: Sequence[str], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    spec = EvalSpec(strategy="beam", n=1, m=4)
    heads = {v: load_scorer("prm", v, policy=policy) for v in variants if v not in (BASELINE, *ORACLES)}
    for variant in variants:
        path = out / f"{variant_name(variant)}.jsonl"
        done = {json.loads(line)["id"] for line in path.read_text().splitlines()} if path.exists() else set()
        for item_set in sets:
            benchmark, category = parse_set(item_set)
            for ex in load_benchmark(benchmark, category, None, limit or None):
                if ex.id in done:
                    continue
                breaker = None if variant == BASELINE else Asked(
                    GoldSteps(ex.gold, ex.specs()) if variant in ORACLES else heads[variant])
                scorer = VerifierScorer() if breaker is None else \
                    TieBroken(VerifierScorer(), breaker, across_tags=variant == "gold-any")
                got = predict(policy, scorer, ex, spec)
                scored = score_item(ex, got.calls)
                record = {
                    "id": ex.id, "set": item_set, "variant": variant_name(variant),
                    "calls": None if got.calls is None else [call_to_dict(c) for c in got.calls],
                    "correct": scored["correct"],
                    **({"avg_f1": (scored["name_f1"] + scored["arg_f1"]) / 2} if "arg_f1" in scored else {}),
                    "asked": breaker.asked if breaker else 0, "scorer_tokens": got.scorer_tokens,
                    "seconds": round(got.seconds, 3), "error": got.error,
                }
                with path.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(record) + "\n")
                print(f"{record['variant']} {ex.id}: {record['correct']} asked {record['asked']} "
                      f"{record['seconds']:.1f}s", flush=True)


def item_score(rec: dict[str, Any]) -> float:
    """BFCL: right or not; the F1-scored sets: avg F1."""
    return float(rec["avg_f1"]) if "avg_f1" in rec else float(bool(rec["correct"]))


def table(folder: Path) -> str:
    runs: dict[str, dict[str, dict[str, Any]]] = {}
    for path in sorted(folder.glob("*.jsonl*")):  # a run's folder, or its gzipped pack
        text = gzip.decompress(path.read_bytes()).decode() if path.suffix == ".gz" else path.read_text()
        for line in text.splitlines():
            rec = json.loads(line)
            runs.setdefault(rec["variant"], {})[rec["id"]] = rec
    if BASELINE not in runs:
        raise SystemExit(f"no {BASELINE}.jsonl in {folder}: the table pairs every variant against it")
    runs = {BASELINE: runs.pop(BASELINE), **runs}
    base = runs[BASELINE]
    sets = list(dict.fromkeys(r["set"] for r in base.values()))
    lines = ["| set | variant | items | score | better / worse vs verifier | p | asked per item | time vs verifier |",
             "|---|---|---|---|---|---|---|---|"]
    for item_set in [*sets, "all"]:
        for variant, recs in runs.items():
            ids = [i for i, r in base.items() if item_set in ("all", r["set"]) and i in recs]
            if not ids:
                continue
            score = 100 * sum(item_score(recs[i]) for i in ids) / len(ids)
            better = sum(item_score(recs[i]) > item_score(base[i]) for i in ids)
            worse = sum(item_score(recs[i]) < item_score(base[i]) for i in ids)
            ratio = sum(recs[i]["seconds"] for i in ids) / max(sum(base[i]["seconds"] for i in ids), 1e-9)
            pair = "" if variant == BASELINE else f"{better} / {worse}"
            p = "" if variant == BASELINE or not better + worse else f"{sign_test(better, worse):.2g}"
            asked = sum(recs[i]["asked"] for i in ids) / len(ids)
            lines.append(f"| {item_set} | {variant} | {len(ids)} | {score:.1f} | {pair} | {p} | {asked:.1f} | "
                         f"{ratio:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", action="append", default=[],
                        help="BENCHMARK[:CATEGORY], repeatable (bfcl:simple_python, toolalpaca, apibank_l1)")
    parser.add_argument("--limit", type=int, default=50, help="first items of each set (0: all)")
    parser.add_argument("--variant", nargs="+", default=[BASELINE, "gold"],
                        help="verifier, gold, gold-any, toolprm (the shipped PRM), or reward head or PRM directories")
    parser.add_argument("--model", help="the policy (default: the package's, gemma-3-270m-tools; gemma-3-270m for the base)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/tie_break"))
    parser.add_argument("--table", type=Path, help="print the table of a run's folder and exit")
    args = parser.parse_args(argv)
    if args.table:
        print(table(args.table), end="")
        return 0
    if not args.set:
        parser.error("name at least one --set")
    if args.limit < 0:
        parser.error("--limit must be 0 (all) or more")
    for v in args.variant:
        if v not in (BASELINE, *ORACLES, SHIPPED_PRM) and not Path(v).is_dir():
            parser.error(f"--variant {v}: not verifier, gold, gold-any, toolprm or a reward head or PRM directory")
    run(load_backend(args.model), args.set, args.limit, args.variant, args.out)
    print(table(args.out), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
