"""Does the policy's own state know when no call fits, where its first step's odds do not?

``call_decision.py`` found that greedy's first choice (``[]`` or a name, by the policy's odds)
separates BFCL's irrelevance questions from its simple ones little better than chance. This
probe asks whether the knowledge is there all the same, in the policy's hidden state at the
prompt's end, readable by a linear model (``training/reward_head.py``'s fit, one tag) trained on
the training sources only: the one-turn questions of ``build-dataset --examples-only``, where
"no call" was made by removing the gold tool. It reports the AUC of the margin alone, of the
state, and of both, on the training sources' held-out split and on BFCL simple_python against
irrelevance; then BFCL's scores when the probe vetoes a strategy's call (greedy's or the beam's)
above the threshold that balances the two kinds of error on the held-out training split. A veto
only turns calls into ``[]``, so those scores follow exactly from the strategies' per-item
results. Nothing is chosen on BFCL (docs/call_gate.md has the runs).

    OMP_NUM_THREADS=1 python benchmarks/call_gate.py --model gemma-3-270m-tools \\
        --examples /work/runs/sft_data4b --results greedy=benchmarks/per_item/policy_v3/tuned \\
        --cache /work/runs/gate/tuned.pt --out OUT/tuned.md

Features are cached in ``--cache`` (resumable every 25 questions; they belong to one policy).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import zlib
from pathlib import Path
from typing import Any

import torch
from call_decision import CALLS, NONE, auc, first_step, per_item_results
from tqdm import tqdm

from langchain_toolprm.core.loader import load_backend
from langchain_toolprm.core.scorers import RewardHead
from langchain_toolprm.core.steps import StepTag
from langchain_toolprm.data.records import ToolExample, load_examples, require_file
from langchain_toolprm.evaluation.benchmarks import load_benchmark
from langchain_toolprm.training.reward_head import StepFeatures, train_head

L2_GRID = (0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0, 100000.0)


def one_turn(examples: list[ToolExample], limit: int) -> list[ToolExample]:
    """The questions asked in one user turn (no tool results yet), in a fixed pseudo-random order."""
    kept = [ex for ex in examples if all(m.get("role") in ("system", "user") for m in ex.messages) and ex.tools]
    kept.sort(key=lambda ex: zlib.crc32(ex.id.encode()))
    return kept[:limit] if limit else kept


def features(backend: Any, examples: list[ToolExample], cache: Path | None) -> dict[str, tuple[torch.Tensor, float]]:
    """Each question's (state at the prompt's end, first-step margin), cached and resumed."""
    name = str(getattr(backend, "name", type(backend).__name__))
    known = torch.load(cache, weights_only=False) if cache and cache.exists() else {"policy": name, "items": {}}
    if known["policy"] != name:
        raise ValueError(f"the feature cache {cache} holds states of {known['policy']!r}, not {name!r}")
    items = known["items"]
    todo = [ex for ex in examples if ex.id not in items]
    for n, ex in enumerate(tqdm(todo, desc="prompt states"), 1):
        margin, root = first_step(backend, ex)
        items[ex.id] = (root.kv.hidden.detach().float().clone(), margin)
        if cache and (n % 25 == 0 or n == len(todo)):
            cache.parent.mkdir(parents=True, exist_ok=True)
            torch.save(known, cache)
    return {ex.id: items[ex.id] for ex in examples}


def matrix(feats: dict[str, tuple[torch.Tensor, float]], ids: list[str], kind: str) -> torch.Tensor:
    """Rows of the chosen features: ``state``, or ``both`` (the state with the margin appended)."""
    hidden = torch.stack([feats[i][0] for i in ids])
    if kind == "state":
        return hidden
    return torch.cat([hidden, torch.tensor([[feats[i][1]] for i in ids])], 1)


def fit(x: torch.Tensor, labels: list[bool], ids: list[str], policy: str) -> tuple[RewardHead, dict[str, Any]]:
    """The probe: one logistic model ("no call" is 1), L2 chosen on training questions held out."""
    n = len(ids)
    data = StepFeatures(x, torch.full((n,), list(StepTag).index(StepTag.TOTAL_FINISH)),
                        torch.tensor([float(y) for y in labels]), list(ids), [""] * n, [[i] for i in range(n)],
                        ["gold"] * n, policy)
    return train_head(data, l2_grid=L2_GRID)


def no_call_scores(head: RewardHead, x: torch.Tensor) -> list[float]:
    with torch.no_grad():
        return head.logits(x, [StepTag.TOTAL_FINISH] * len(x)).tolist()


def balanced_threshold(scores: list[float], labels: list[bool]) -> float:
    """The score above which "no call" is said, balancing both kinds of error (chosen where the
    mean of the two recalls is highest)."""
    pos = [s for s, y in zip(scores, labels) if y]
    neg = [s for s, y in zip(scores, labels) if not y]

    def balanced(t: float) -> float:
        return (sum(s > t for s in pos) / len(pos) + sum(s <= t for s in neg) / len(neg)) / 2

    return max(sorted(set(scores)), key=balanced)


def refused_at(none: list[float], calls: list[float], share: float) -> float:
    """The share of ``none`` scored at or above the score that refuses ``share`` of ``calls``: one
    point of the ROC, to set a score beside a strategy that refuses that share of calls."""
    k = round(share * len(calls))
    if k == 0:
        return 0.0
    cut = sorted(calls, reverse=True)[k - 1]
    return sum(s >= cut for s in none) / len(none)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="the policy: a name or a local directory")
    parser.add_argument("--examples", type=Path, required=True,
                        help="build-dataset --examples-only output (examples_train.jsonl, examples_test.jsonl)")
    parser.add_argument("--results", type=Path, nargs="+", required=True,
                        help="the policy's per-item BFCL results: STRATEGY=DIR each (STRATEGY: the files' prefix, "
                             "e.g. greedy or beam_N=1_M=4_verifier)")
    parser.add_argument("--also", nargs="*", default=[], choices=["multiple", "parallel", "parallel_multiple"],
                        help="other categories that all need calls, where a veto can only lose: its cost there")
    parser.add_argument("--limit", type=int, default=0, help="first N BFCL questions of each category (0: all)")
    parser.add_argument("--train-limit", type=int, default=800, help="one-turn training questions used (0: all)")
    parser.add_argument("--data-dir", help="BFCL data (default: the benchmark's)")
    parser.add_argument("--cache", type=Path, help="feature cache (resumable)")
    parser.add_argument("--only-features", action="store_true", help="compute and cache the features, then stop")
    parser.add_argument("--out", type=Path, help="write the markdown here too")
    parser.add_argument("--items", type=Path, help="write each BFCL question's scores here (JSONL)")
    args = parser.parse_args()
    train = one_turn(load_examples(require_file(args.examples / "examples_train.jsonl", "training examples")),
                     args.train_limit)
    held = one_turn(load_examples(require_file(args.examples / "examples_test.jsonl", "held-out examples")), 0)
    cats = (NONE, CALLS, *args.also)
    bfcl = {c: load_benchmark("bfcl", c, args.data_dir, args.limit or None) for c in cats}
    results = {}
    for spec in args.results:
        strategy, sep, folder = str(spec).rpartition("=")
        if not sep:
            parser.error(f"--results takes STRATEGY=DIR, not {spec}")
        results[strategy] = {c: per_item_results(Path(folder), c, strategy) for c in cats}
        missing = [ex.id for c in bfcl for ex in bfcl[c] if ex.id not in results[strategy][c]]
        if missing:
            parser.error(f"no {strategy} result for {len(missing)} BFCL questions under {folder}, e.g. {missing[0]}")
    backend = load_backend(args.model)
    policy = str(getattr(backend, "name", args.model))
    feats = features(backend, [*train, *held, *(ex for c in cats for ex in bfcl[c])], args.cache)
    if args.only_features:
        return 0

    bfcl_all = [ex for c in cats for ex in bfcl[c]]
    sets = {"train": train, "held": held, "bfcl": bfcl_all}
    ids = {k: [ex.id for ex in v] for k, v in sets.items()}
    labels = {k: [not ex.gold for ex in v] for k, v in sets.items()}
    labels["bfcl"] = [c == NONE for c in cats for _ in bfcl[c]]

    def pct(res: dict[str, dict[str, dict]], category: str, veto: dict[str, bool]) -> float:
        """A category's score when ``veto`` turns the strategy's calls into ``[]``."""
        def right(ex: ToolExample) -> bool:
            return category == NONE if veto.get(ex.id) else bool(res[category][ex.id]["correct"])
        return 100 * sum(map(right, bfcl[category])) / len(bfcl[category])

    scores = {"margin": {k: [feats[i][1] for i in ids[k]] for k in sets}}
    cards = {}
    for kind in ("state", "both"):
        head, cards[kind] = fit(matrix(feats, ids["train"], kind), labels["train"], ids["train"], policy)
        scores[kind] = {k: no_call_scores(head, matrix(feats, ids[k], kind)) for k in sets}

    compared = {ex.id for c in (NONE, CALLS) for ex in bfcl[c]}  # BFCL's AUC: irrelevance against simple_python

    def split_auc(kind: str, k: str) -> float:
        rows = [(v, y) for v, y, i in zip(scores[kind][k], labels[k], ids[k]) if k != "bfcl" or i in compared]
        return auc([v for v, y in rows if y], [v for v, y in rows if not y])

    n_none = {k: sum(v) for k, v in labels.items()}
    lines = [f"Command: `{shlex.join(['python', 'benchmarks/call_gate.py', *sys.argv[1:]])}`", "",
             f"**{args.model}**: {len(train)} one-turn training questions ({n_none['train']} with no call), "
             f"{len(held)} held out ({n_none['held']}), BFCL {len(bfcl[CALLS])} simple_python and "
             f"{len(bfcl[NONE])} irrelevance. L2 chosen: state {cards['state']['l2']:g}, both {cards['both']['l2']:g}.",
             "", "| no-call score | AUC, training (fitted) | AUC, held-out training sources | AUC, BFCL irrelevance vs simple |",
             "|---|---|---|---|"]
    for kind, label in (("margin", "first-step margin (greedy's)"), ("state", "probe on the state"),
                        ("both", "probe on state and margin")):
        lines.append(f"| {label} | {split_auc(kind, 'train'):.3f} | {split_auc(kind, 'held'):.3f} | "
                     f"{split_auc(kind, 'bfcl'):.3f} |")
    lines += ["", "BFCL when a score above the threshold (balanced on the held-out training split) vetoes the "
              "strategy's call, answering `[]`; below it the strategy's own answer stands:", "",
              f"| strategy | veto by | threshold | {' | '.join(f'{c} right' for c in cats)} |",
              "|---|---|---|" + "---|" * len(cats)]
    records = {ex.id: {"id": ex.id, "margin": round(feats[ex.id][1], 4)} for ex in sets["bfcl"]}
    for kind in ("state", "both"):
        for i, s in zip(ids["bfcl"], scores[kind]["bfcl"]):
            records[i][kind] = round(s, 4)
    for strategy, res in results.items():
        lines.append(f"| {strategy} | none | | {' | '.join(f'{pct(res, c, {}):.1f}' for c in cats)} |")
        for kind in ("state", "both"):
            t = balanced_threshold(scores[kind]["held"], labels["held"])
            veto = {ex.id: s > t for ex, s in zip(bfcl_all, scores[kind]["bfcl"])}
            lines.append(f"| {strategy} | {kind} | {t:.3f} | {' | '.join(f'{pct(res, c, veto):.1f}' for c in cats)} |")
    state_of = dict(zip(ids["bfcl"], scores["state"]["bfcl"]))
    none_scores = [state_of[ex.id] for ex in bfcl[NONE]]
    call_scores = [state_of[ex.id] for ex in bfcl[CALLS]]
    lines.append("")
    for strategy, res in results.items():
        share = sum(res[CALLS][ex.id]["calls"] == [] for ex in bfcl[CALLS]) / len(bfcl[CALLS])
        own = sum(res[NONE][ex.id]["calls"] == [] for ex in bfcl[NONE]) / len(bfcl[NONE])
        lines.append(f"{strategy} answers `[]` on {100 * share:.1f}% of simple_python and {100 * own:.1f}% of "
                     f"irrelevance; at that rate on simple_python the state probe answers `[]` on "
                     f"{100 * refused_at(none_scores, call_scores, share):.1f}% of irrelevance.")
    text = "\n".join(lines + [""])
    print(text)
    if args.items:
        args.items.write_text("".join(json.dumps(r) + "\n" for r in records.values()))
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
