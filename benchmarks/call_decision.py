"""Could any bias toward "no call" make a policy's constrained greedy both answer BFCL's simple
questions and refuse its irrelevant ones?

Constrained greedy's first step chooses between ``[]`` and the tools' names by the policy's
probability alone, so one number per question decides it: the margin, log P(``[]``) minus the
likeliest name's log-probability (both under decoding restricted to the grammar's choices, as
the proposer scores them). Greedy answers ``[]`` exactly where the margin is above 0; a bias b
added to ``[]`` moves that line to -b. For b >= 0 the outcome follows exactly from the margins
and greedy's own per-item results, because a larger b only turns calls into ``[]``: an
irrelevance question is right when its margin is above -b, a simple one when greedy was right
and its margin is at most -b. The AUC is the chance that an irrelevance question's margin is
above a simple question's: how well the decision separates the two at any b. This measures the
policy; it chooses no b for the product (chosen on a test set it would be tuning on one).

    python benchmarks/call_decision.py --model gemma-3-270m-tools \\
        --greedy benchmarks/per_item/policy_v3/tuned --out docs/call_decision.md

``--greedy DIR`` holds each model's greedy results as ``toolprm eval`` writes them
(``DIR/bfcl/simple_python/greedy*.jsonl[.gz]``, shards too), one DIR per ``--model``.
"""

from __future__ import annotations

import argparse
import bisect
import gzip
import json
import math
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_toolprm.core.backend import Backend
from langchain_toolprm.core.loader import load_backend
from langchain_toolprm.core.proposer import Beam, Constraints, options
from langchain_toolprm.core.search import SearchConfig, prepare_problem
from langchain_toolprm.core.steps import StepTag
from langchain_toolprm.data.records import ToolExample
from langchain_toolprm.evaluation.benchmarks import load_benchmark

CALLS, NONE = "simple_python", "irrelevance"
BIASES = (0.0, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0)
RESERVE = SearchConfig().max_value_tokens * 4  # what the engine keeps free for the answer


def first_step(backend: Backend, example: ToolExample, max_calls: int = 4) -> tuple[float, Any]:
    """log P(``[]``) minus the likeliest function name's, at the first step (as greedy sees it),
    and the backend's state at the prompt's end (what a probe of the decision reads)."""
    specs = example.specs()
    rules = Constraints(tuple(specs), max_calls=max_calls)
    problem, _ = prepare_problem(backend, example.lc_messages(), specs, rules, RESERVE)
    opts = options(Beam((), problem.root), problem.call_format, rules)
    scored = backend.score(problem.root, [o.scored or None for o in opts])
    empty = [s.logprob for o, s in zip(opts, scored) if o.step.tag is StepTag.TOTAL_FINISH]
    names = [s.logprob for o, s in zip(opts, scored) if o.step.tag is StepTag.FUNC_NAME]
    if len(empty) != 1 or not names:
        raise ValueError(f"{example.id}: the first step offers no choice between [] and a call")
    return empty[0] - max(names), problem.root


def auc(high: Sequence[float], low: Sequence[float]) -> float:
    """P(a ``high`` value > a ``low`` value), ties counted half (Mann-Whitney)."""
    ordered = sorted(low)
    wins = sum(bisect.bisect_left(ordered, h) + (bisect.bisect_right(ordered, h) - bisect.bisect_left(ordered, h)) / 2
               for h in high)
    return wins / (len(high) * len(low))


def outcome(bias: float, none: Sequence[float], calls: Sequence[tuple[float, bool]]) -> tuple[float, float]:
    """(% of irrelevance questions answered ``[]``, % of simple questions right) with ``bias`` >= 0
    added to ``[]``."""
    if bias < 0:
        raise ValueError("only a bias toward [] (>= 0) follows from greedy's results")
    refused = sum(m + bias > 0 for m in none)
    right = sum(ok and m + bias <= 0 for m, ok in calls)
    return 100 * refused / len(none), 100 * right / len(calls)


def bias_for(share: float, none: Sequence[float]) -> float:
    """The least bias >= 0 at which ``share`` of the irrelevance questions are answered ``[]``."""
    k = math.ceil(share * len(none))
    kth = sorted(none, reverse=True)[k - 1]
    return max(0.0, math.nextafter(-kth, math.inf))


def per_item_results(folder: Path, category: str, strategy: str = "greedy") -> dict[str, dict]:
    """Per-item records of ``strategy`` (greedy unless told) for ``category`` under ``folder``
    (plain or gzipped, shards too)."""
    files = sorted((folder / "bfcl" / category).glob(f"{strategy}.*jsonl*"))
    if not files:
        raise FileNotFoundError(f"no {strategy} results for {category} under {folder}/bfcl/{category}")
    out = {}
    for f in files:
        with (gzip.open(f, "rt") if f.suffix == ".gz" else open(f)) as lines:
            out.update((r["id"], r) for r in map(json.loads, lines))
    return out


def table(model: str, margins: dict[str, dict[str, float]], greedy: dict[str, dict[str, dict]]) -> list[str]:
    none = list(margins[NONE].values())
    calls = [(m, bool(greedy[CALLS][i]["correct"])) for i, m in margins[CALLS].items()]
    # The margin's sign must reproduce greedy's own first choice, or this is not measuring greedy.
    agree = sum((m > 0) == (greedy[c][i]["calls"] == []) for c in (CALLS, NONE) for i, m in margins[c].items())
    total = sum(len(margins[c]) for c in (CALLS, NONE))
    b85 = bias_for(0.85, none)
    lines = [f"**{model}**: AUC {auc(none, [m for m, _ in calls]):.3f} (irrelevance above simple); "
             f"the margin's sign matches greedy's first choice on {agree} of {total} questions.", "",
             "| bias on [] | irrelevance answered [] | simple_python right |", "|---|---|---|"]
    rows = sorted({*BIASES, b85})
    for b in rows:
        refused, right = outcome(b, none, calls)
        mark = " (85% irrelevance)" if b == b85 else ""
        lines.append(f"| {b:.2f}{mark} | {refused:.1f} | {right:.1f} |")
    return lines + [""]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", nargs="+", required=True, help="policies: a name or a local directory each")
    parser.add_argument("--greedy", nargs="+", type=Path, required=True,
                        help="one folder of greedy per-item results per --model")
    parser.add_argument("--data-dir", help="BFCL data (default: the benchmark's)")
    parser.add_argument("--limit", type=int, default=0, help="first N questions of each category (0: all)")
    parser.add_argument("--items", type=Path, help="write each question's margin here (JSONL)")
    parser.add_argument("--out", type=Path, help="write the markdown here too")
    args = parser.parse_args()
    if len(args.greedy) != len(args.model):
        parser.error("give one --greedy folder per --model")
    greedy = {m: {c: per_item_results(g, c) for c in (CALLS, NONE)} for m, g in zip(args.model, args.greedy)}
    data = {c: load_benchmark("bfcl", c, args.data_dir, args.limit or None) for c in (CALLS, NONE)}
    for model in args.model:
        missing = [ex.id for c in data for ex in data[c] if ex.id not in greedy[model][c]]
        if missing:
            parser.error(f"{model}: no greedy result for {len(missing)} questions, e.g. {missing[0]}")
    lines = [f"Command: `{shlex.join(['python', 'benchmarks/call_decision.py', *sys.argv[1:]])}`", ""]
    records = []
    for model in args.model:
        backend = load_backend(model)
        margins = {c: {ex.id: first_step(backend, ex)[0] for ex in data[c]} for c in data}
        records += [{"model": model, "id": i, "margin": round(m, 4)} for c in margins for i, m in margins[c].items()]
        lines += table(model, margins, greedy[model])
        del backend
    text = "\n".join(lines)
    print(text)
    if args.items:
        args.items.write_text("".join(json.dumps(r) + "\n" for r in records))
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
