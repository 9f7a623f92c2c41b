"""Can the policy's own states break the verifier's ties better than its likelihood does?

[tie_break.md](../docs/tie_break.md) found that an oracle confined to the verifier's ties adds
3.5 points to the beam, and that a reward head trained on rule-made steps loses where the
policy's log-probability decides today. This script asks the question on the ties themselves,
on training-source queries (never a test set):

    python benchmarks/tie_data.py collect --examples DS/examples_train.jsonl --examples DS/examples_test.jsonl \
        --out OUT --shard 0/2          # and 1/2 in a second lane; resumable
    python benchmarks/tie_data.py fit OUT [--head HEAD_DIR]

``collect`` runs beam N=1 M=4 with the verifier on each query, ties broken by the gold oracle
(``tie_break.GoldSteps``, so later ties sit on right prefixes), and records every group of
candidates the search hands a tie breaker (``search.tie_groups``): each candidate's steps, its
label against gold (``data.labels``) and the policy's log-probability. For a group with both
labels it also stores the policy's hidden state at each candidate's end (the state a
``HeadScorer`` reads). One JSONL line per query in ``OUT/groups_K.jsonl``, the states in one
file per query.

``fit`` fits a listwise ranker on those states (a softmax over each group's candidates, the "+"
ones its target; L2 chosen on a fifth of the fitted queries), with and without the policy's
log-probability as a feature, and prints how often each ranker's top candidate is a "+" one on
queries it was not fitted on (cross-validation over queries; both dataset splits are training
sources), beside the policy's own choice (the likeliest candidate) and a random one. ``--head`` saves the states-only ranker as a reward head, for
``tie_break.py --variant HEAD_DIR``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tie_break import GoldSteps

from langchain_toolprm.core import search
from langchain_toolprm.core.backend import Backend
from langchain_toolprm.core.loader import load_backend
from langchain_toolprm.core.prompts import build_prompt
from langchain_toolprm.core.proposer import answer_texts
from langchain_toolprm.core.scorers import RewardHead, TieBroken
from langchain_toolprm.core.steps import Step, StepTag
from langchain_toolprm.core.verifier import VerifierScorer
from langchain_toolprm.data.labels import label_steps
from langchain_toolprm.data.records import ToolExample, read_jsonl, require_file, step_to_dict
from langchain_toolprm.evaluation.runner import predict
from langchain_toolprm.evaluation.specs import EvalSpec

L2_GRID = (1.0, 10.0, 100.0, 1000.0, 10000.0)


def _state_file(query: str) -> str:
    return f"{zlib.crc32(query.encode()):08x}.pt"


def collect(policy: Backend, examples: Sequence[tuple[str, ToolExample]], out: Path, shard: tuple[int, int]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    k, n = shard
    items = sorted(examples, key=lambda t: zlib.crc32(t[1].id.encode()))  # splits and sources mixed
    items = [t for i, t in enumerate(items) if i % n == k]
    log = out / f"groups_{k}.jsonl"
    done = {json.loads(line)["id"] for line in log.read_text().splitlines()} if log.exists() else set()
    (out / "policy.json").write_text(json.dumps({"policy": policy.name}) + "\n")
    forms = search.tie_groups
    seen: dict[str, Any] = {}

    def recording(trajectories: Sequence[Sequence[Step]], keys: Sequence[tuple[float, float, float]], width: int,
                  across_tags: bool = False) -> list[list[int]]:  # what break_ties asks the breaker about
        groups = forms(trajectories, keys, width, across_tags)
        ex: ToolExample = seen["example"]
        for g in groups:
            labels = [int(label_steps(trajectories[i], ex.gold, ex.specs())[-1]) for i in g]
            rec: dict[str, Any] = {"tag": trajectories[g[0]][-1].tag.name, "labels": labels,
                                   "logprob": [keys[i][2] for i in g],
                                   "steps": [[step_to_dict(s) for s in trajectories[i]] for i in g]}
            if 0 < sum(labels) < len(labels):
                if seen["prompt"] is None:  # built once per query, not per group
                    seen["prompt"] = build_prompt(policy.tokenizer, ex.lc_messages(), ex.specs())
                prompt = seen["prompt"]
                rec["state_rows"] = list(range(len(seen["states"]), len(seen["states"]) + len(g)))
                seen["states"] += [policy.step_states(prompt, answer_texts(trajectories[i], prompt.call_format))[-1]
                                   for i in g]
            seen["groups"].append(rec)
        return groups

    search.tie_groups = recording
    spec = EvalSpec(strategy="beam", n=1, m=4)
    try:
        for split, ex in items:
            if ex.id in done:
                continue
            seen.update(example=ex, groups=[], states=[], prompt=None)
            start = time.perf_counter()
            got = predict(policy, TieBroken(VerifierScorer(), GoldSteps(ex.gold, ex.specs())), ex, spec)
            if seen["states"]:
                torch.save(torch.stack(seen["states"]).half(), out / _state_file(ex.id))
            with log.open("a", encoding="utf-8") as f:
                f.write(json.dumps({"id": ex.id, "split": split, "source": ex.source, "error": got.error,
                                    "seconds": round(time.perf_counter() - start, 2), "groups": seen["groups"],
                                    "state_file": _state_file(ex.id) if seen["states"] else None}) + "\n")
            print(f"{ex.id} ({split}): {len(seen['groups'])} tie groups, {time.perf_counter() - start:.1f}s", flush=True)
    finally:
        search.tie_groups = forms


@dataclass(frozen=True)
class Group:
    """One mixed tie group: the states, log-probabilities and labels of its candidates."""

    split: str
    query: str
    tag: str
    states: torch.Tensor  # [k, H]
    logprob: torch.Tensor  # [k], relative to the group's likeliest
    labels: torch.Tensor  # [k], 1 is "+"


def load_groups(folder: Path) -> tuple[list[Group], dict[str, Any]]:
    groups, counts = [], {"queries": 0, "groups": 0, "one_label": 0, "no_plus": 0}
    for path in sorted(folder.glob("groups_*.jsonl")):
        for rec in read_jsonl(path):
            counts["queries"] += 1
            states = torch.load(folder / rec["state_file"]).float() if rec["state_file"] else None
            for g in rec["groups"]:
                counts["groups"] += 1
                if "state_rows" not in g:
                    counts["no_plus" if not sum(g["labels"]) else "one_label"] += 1
                    continue
                lp = torch.tensor(g["logprob"])
                groups.append(Group(rec["split"], rec["id"], g["tag"], states[g["state_rows"]], lp - lp.max(),
                                    torch.tensor(g["labels"], dtype=torch.float)))
    return groups, counts


def fit_ranker(groups: Sequence[Group], l2: float, with_logprob: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor,
                                                                                  float]:
    """Standardised states' weights (and the log-probability's) maximising the probability a
    softmax over each group gives its "+" candidates, L2-penalised; fitted by L-BFGS."""
    x = torch.cat([g.states for g in groups])
    mean, scale = x.mean(0), x.std(0).clamp_min(1e-4)
    z = [((g.states - mean) / scale, g.logprob, g.labels > 0) for g in groups]
    w = torch.zeros(x.shape[1], requires_grad=True)
    a = torch.zeros((), requires_grad=True)
    opt = torch.optim.LBFGS([w, a] if with_logprob else [w], max_iter=300, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = sum(torch.logsumexp(s, 0) - torch.logsumexp(s[plus], 0)
                   for s, plus in ((zz @ w + a * lp, plus) for zz, lp, plus in z))
        loss = (loss + l2 * w.pow(2).sum()) / len(z)
        loss.backward()
        return loss

    opt.step(closure)
    return mean, scale, w.detach(), float(a.detach())


def top1(groups: Sequence[Group], rank: Any) -> float:
    """Share of groups whose top candidate by ``rank`` (a score per candidate) is a "+" one."""
    return sum(float(g.labels[int(torch.argmax(rank(g)))]) for g in groups) / max(len(groups), 1)


def _fold(query: str, folds: int, salt: str = "") -> int:
    return zlib.crc32(f"{salt}{query}".encode()) % folds


def _choose_and_fit(groups: Sequence[Group], with_logprob: bool) -> tuple[float, Any]:
    """L2 chosen on a fifth of ``groups``' queries, then the ranker refitted on all of them."""
    val = [g for g in groups if _fold(g.query, 5, "val:") == 0]
    fit_on = [g for g in groups if _fold(g.query, 5, "val:") != 0]
    models = {l2: fit_ranker(fit_on, l2, with_logprob) for l2 in L2_GRID}
    best = max(L2_GRID, key=lambda l2: (top1(val, lambda g: _rank(models[l2], g)), l2))
    return best, fit_ranker(groups, best, with_logprob)


def fit(folder: Path, head_dir: Path | None, folds: int = 5) -> str:
    """Each ranker's held-out top-1 by cross-validation over queries (no query's groups are both
    fitted on and scored), beside the policy's likeliest candidate and a random one."""
    groups, counts = load_groups(folder)
    if len({g.query for g in groups}) < 2 * folds:
        raise SystemExit(f"too few queries with mixed tie groups in {folder} for {folds}-fold cross-validation")
    rankers = {"states": False, "states + log-probability": True}
    picked: dict[str, list[float]] = {name: [] for name in rankers}
    chosen: dict[str, list[str]] = {name: [] for name in rankers}
    held: list[Group] = []
    for k in range(folds):
        test = [g for g in groups if _fold(g.query, folds) == k]
        train = [g for g in groups if _fold(g.query, folds) != k]
        held += test
        for name, with_logprob in rankers.items():
            l2, m = _choose_and_fit(train, with_logprob)
            picked[name] += [float(g.labels[int(torch.argmax(_rank(m, g)))]) for g in test]
            chosen[name].append(f"{l2:g}" + (f"/{m[3]:.2f}" if with_logprob else ""))
    lines = [f"{counts['queries']} queries, {counts['groups']} tie groups: {len(groups)} with both labels "
             f"({len({g.query for g in groups})} queries), {counts['no_plus']} without a \"+\" candidate, "
             f"{counts['one_label']} all \"+\"", "",
             f"| ranker ({folds}-fold cross-validation over queries) | held-out top-1 | L2 per fold"
             " (/ log-probability weight) |", "|---|---|---|",
             f"| random | {sum(float(g.labels.mean()) for g in held) / len(held):.1%} | |",
             f"| the policy's likeliest (today's tie breaker) | {top1(held, lambda g: g.logprob):.1%} | |"]
    lines += [f"| {name} | {sum(v) / len(v):.1%} | {', '.join(chosen[name])} |" for name, v in picked.items()]
    lines.append("")
    for tag in sorted({g.tag for g in held}):
        rows = [i for i, g in enumerate(held) if g.tag == tag]
        gs = [held[i] for i in rows]
        lines.append(f"{tag}: {len(gs)} groups; the policy's likeliest {top1(gs, lambda g: g.logprob):.1%}, " +
                     ", ".join(f"{name} {sum(picked[name][i] for i in rows) / len(rows):.1%}" for name in rankers))
    if head_dir is not None:
        l2, (mean, scale, w, _) = _choose_and_fit(groups, False)
        RewardHead(mean, scale, w.expand(len(StepTag), -1).clone(), torch.zeros(len(StepTag)), _policy_of(folder),
                   card={"kind": "listwise tie ranker", "groups": str(folder), "l2": l2}).save(head_dir)
        lines.append(f"states-only ranker on all groups (L2 {l2:g}) -> {head_dir}")
    return "\n".join(lines) + "\n"


def _rank(model: tuple[torch.Tensor, torch.Tensor, torch.Tensor, float], g: Group) -> torch.Tensor:
    mean, scale, w, a = model
    return (g.states - mean) / scale @ w + a * g.logprob


def _policy_of(folder: Path) -> str:
    meta = folder / "policy.json"
    return json.loads(meta.read_text())["policy"] if meta.exists() else ""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("collect", help="record the verifier's tie groups on training-source queries")
    c.add_argument("--examples", action="append", required=True, type=Path,
                   help="build-dataset's examples_train.jsonl / examples_test.jsonl (the split is read from the name)")
    c.add_argument("--out", required=True, type=Path)
    c.add_argument("--shard", default="0/1", help="K/N: this lane's share of the queries")
    c.add_argument("--model", help="the policy (default: the package's)")
    f = sub.add_parser("fit", help="fit and compare rankers on a collected folder")
    f.add_argument("folder", type=Path)
    f.add_argument("--head", type=Path, help="save the states-only ranker here as a reward head")
    args = parser.parse_args(argv)
    if args.command == "fit":
        print(fit(args.folder, args.head), end="")
        return 0
    try:
        k, n = (int(x) for x in args.shard.split("/"))
    except ValueError:
        parser.error(f"--shard must be K/N, got {args.shard!r}")
    if not 0 <= k < n:
        parser.error(f"--shard {args.shard}: K must be in 0..N-1")
    examples = []
    for path in args.examples:
        split = "test" if "test" in require_file(path, "--examples").name else "train"
        examples += [(split, ToolExample.from_dict(r)) for r in read_jsonl(path)]
    collect(load_backend(args.model), examples, args.out, (k, n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
