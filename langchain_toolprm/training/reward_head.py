"""A reward head on the policy's own hidden states: trained on a CPU in minutes, scored for free.

The generative PRM (``prm.py``) needs a second model and backpropagation through it: about 50
hours of this project's 2-core machine for a useful run. The head needs neither. The policy is
run once over each trajectory (a query's prompt encoded once for all of its trajectories), its
final hidden state is read where each step's text ends (``TransformersBackend.step_states``,
the very states the search computes), and a logistic model per step tag is fitted on them with
L-BFGS; its L2 strength is chosen on queries held out from the training split. The result is
a :class:`~langchain_toolprm.core.scorers.RewardHead`, read at search time by ``HeadScorer``.

Features are cached per split (``features_<name>.pt``, resumable query by query), so changing
the fit costs nothing; they belong to one policy and are rebuilt for another.
"""

from __future__ import annotations

import argparse
import json
import math
import zlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from ..core.embedded import DEFAULT_POLICY
from ..core.prompts import build_prompt
from ..core.proposer import answer_texts
from ..core.scorers import RewardHead, StepStates
from ..core.steps import StepTag
from ..data.records import DataFileError, LabelledTrajectory, load_trajectories, require_file, step_to_dict

_TAGS = tuple(StepTag)


@dataclass
class StepFeatures:
    """Unique labelled steps of a split (a step is its query and its prefix) and the trajectories
    they make up. ``example`` is each step's query id, ``prefix`` its steps (JSON), ``traj`` each
    trajectory's step rows."""

    hidden: torch.Tensor  # [S, H]
    tags: torch.Tensor  # [S] index into StepTag
    labels: torch.Tensor  # [S] 1.0 is "+"
    example: list[str]
    prefix: list[str]
    traj: list[list[int]]
    origin: list[str]
    policy: str

    def rows(self, examples: set[str]) -> list[int]:
        return [i for i, e in enumerate(self.example) if e in examples]


def step_features(policy: StepStates, trajectories: Sequence[LabelledTrajectory], cache: str | Path | None = None,
                  *, progress: bool = True) -> StepFeatures:
    """The policy's hidden state at the end of every unique step of ``trajectories``.

    ``cache``: a file the features are written to every few queries and resumed from; steps
    it already holds are not computed again (another split of the same queries adds only its own).
    """
    by_query: dict[str, list[LabelledTrajectory]] = defaultdict(list)
    for t in trajectories:
        by_query[t.example.id].append(t)
    name = str(getattr(policy, "name", type(policy).__name__))
    known: dict[str, Any] = {}
    if cache is not None and Path(cache).exists():
        known = torch.load(cache, weights_only=False)
        if known.get("policy") != name:
            raise ValueError(f"the feature cache {cache} holds states of {known.get('policy')!r}, not {name!r}")
    states: dict[str, dict[str, Any]] = known.get("queries", {})
    todo = [q for q, ts in by_query.items() if any(k not in states.get(q, {}) for t in ts for k in prefix_keys(t))]
    for n, query in enumerate(tqdm(todo, desc="step states", disable=not progress), 1):
        ex = by_query[query][0].example
        prompt = build_prompt(policy.tokenizer, ex.lc_messages(), ex.specs())
        steps = states.setdefault(query, {})
        for t in by_query[query]:
            keys = prefix_keys(t)
            if all(k in steps for k in keys):
                continue
            hidden = policy.step_states(prompt, answer_texts(t.steps, prompt.call_format))
            for i, k in enumerate(keys):
                steps.setdefault(k, (hidden[i].clone(), _TAGS.index(t.steps[i].tag), t.labels[i]))
        if cache is not None and (n % 25 == 0 or n == len(todo)):
            torch.save({"policy": name, "queries": states}, cache)
    row: dict[tuple[str, str], int] = {}
    hidden, tags, labels, example, prefix, trajs, origin = [], [], [], [], [], [], []
    for query, ts in by_query.items():
        for key in dict.fromkeys(k for t in ts for k in prefix_keys(t)):  # this split's steps only
            h, tag, label = states[query][key]
            row[(query, key)] = len(hidden)
            hidden.append(h)
            tags.append(tag)
            labels.append(float(label))
            example.append(query)
            prefix.append(key)
        trajs += [[row[(query, k)] for k in prefix_keys(t)] for t in ts]
        origin += [t.origin for t in ts]
    if not hidden:
        raise DataFileError("no labelled steps to compute features for")
    return StepFeatures(torch.stack(hidden).float(), torch.tensor(tags), torch.tensor(labels), example, prefix, trajs, origin,
                        name)


def prefix_keys(t: LabelledTrajectory) -> list[str]:
    """Each step's key within its query: the steps up to it, as JSON."""
    steps = [step_to_dict(s) for s in t.steps]
    return [json.dumps(steps[: i + 1], sort_keys=True, ensure_ascii=False) for i in range(len(steps))]


def fit_head(features: StepFeatures, rows: Sequence[int], l2: float, *, max_iter: int = 200) -> RewardHead:
    """A logistic model per step tag on standardised states, L2-penalised, fitted by L-BFGS."""
    x, tags, y = features.hidden[rows], features.tags[rows], features.labels[rows]
    mean, scale = x.mean(0), x.std(0).clamp_min(1e-4)
    x = (x - mean) / scale
    weight = torch.zeros(len(_TAGS), x.shape[1], requires_grad=True)
    bias = torch.zeros(len(_TAGS), requires_grad=True)
    opt = torch.optim.LBFGS([weight, bias], max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        logits = (x * weight[tags]).sum(-1) + bias[tags]
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y) + l2 * weight.pow(2).sum() / len(y)
        loss.backward()
        return loss

    opt.step(closure)
    return RewardHead(mean, scale, weight.detach(), bias.detach(), features.policy)


def evaluate_head(head: RewardHead | None, features: StepFeatures, rows: Sequence[int] | None = None) -> dict[str, Any]:
    """Loss, step and trajectory accuracy (a trajectory is right when all its steps are), per tag.
    ``head`` None: the trivial baseline that calls every step "-"."""
    rows = list(range(len(features.labels))) if rows is None else list(rows)
    keep = set(rows)
    y = features.labels
    if head is None:
        p = torch.zeros_like(y)
    else:
        with torch.no_grad():
            p = torch.sigmoid(head.logits(features.hidden, [_TAGS[int(t)] for t in features.tags]))
    right = (p > 0.5).float() == y
    idx = torch.tensor(rows)
    loss = float(torch.nn.functional.binary_cross_entropy(p[idx].clamp(1e-6, 1 - 1e-6), y[idx])) if head else None
    per_tag = {}
    for k, tag in enumerate(_TAGS):
        sel = idx[features.tags[idx] == k]
        if len(sel):
            per_tag[tag.name] = {"steps": len(sel), "accuracy": float(right[sel].float().mean()),
                                 "positive_rate": float(y[sel].mean())}
    trajs = [t for t in features.traj if t and t[0] in keep]
    return {
        "steps": len(rows), "loss": loss, "step_accuracy": float(right[idx].float().mean()),
        "trajectories": len(trajs),
        "trajectory_accuracy": sum(all(bool(right[i]) for i in t) for t in trajs) / max(len(trajs), 1),
        "per_tag": per_tag,
    }


def train_head(train: StepFeatures, *, l2_grid: Sequence[float] = (0.1, 1.0, 10.0, 100.0), val_fraction: float = 0.2,
               seed: int = 0) -> tuple[RewardHead, dict[str, Any]]:
    """Choose L2 on queries held out of the training split (by query, so no prefix leaks), then
    refit on the whole split."""
    queries = sorted(set(train.example))
    val = {q for q in queries if zlib.crc32(f"{seed}:{q}".encode()) / 2**32 < val_fraction}
    fit_rows = [i for i, e in enumerate(train.example) if e not in val]
    val_rows = train.rows(val)
    if not fit_rows or not val_rows:
        raise DataFileError(f"too few queries ({len(queries)}) to hold some out for choosing the L2 strength")
    grid = {}
    for l2 in l2_grid:
        grid[l2] = evaluate_head(fit_head(train, fit_rows, l2), train, val_rows)
    best = min(grid, key=lambda k: (grid[k]["loss"], -grid[k]["step_accuracy"]))
    head = fit_head(train, list(range(len(train.labels))), best)
    report = {"l2": best, "validation": {str(k): {"loss": v["loss"], "step_accuracy": v["step_accuracy"]}
                                          for k, v in grid.items()}}
    return replace(head, card=report), report


def add_train_head_parser(subparsers: Any) -> argparse.ArgumentParser:
    """``toolprm train-head``: features, fit and held-out evaluation of a reward head."""
    p = subparsers.add_parser("train-head", help="train a reward head on the policy's hidden states (CPU, minutes)")
    p.add_argument("--train-file", required=True, help="labelled trajectories (build-dataset's train.jsonl)")
    p.add_argument("--eval-file", help="held-out labelled trajectories (test.jsonl), scored after training")
    p.add_argument("--output-dir", required=True, help="where the head, its card and the feature caches go")
    p.add_argument("--model", help="the policy whose states the head reads (default: the default policy, "
                   f"{DEFAULT_POLICY}); use the policy the search will run")
    p.add_argument("--l2", default="0.1,1,10,100", help="comma list of L2 strengths to choose from")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_train_head_command)
    return p


def _train_head_command(args: Any) -> int:
    from ..core.loader import load_backend

    try:
        grid = [float(x) for x in args.l2.split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"--l2 must be a comma list of numbers, got {args.l2!r}") from None
    if not grid or not all(math.isfinite(g) and g >= 0 for g in grid):
        raise ValueError(f"--l2 needs finite numbers >= 0, got {args.l2!r}")
    files = {"train": require_file(args.train_file, "train-head --train-file")}
    if args.eval_file:
        files["test"] = require_file(args.eval_file, "train-head --eval-file")
    data = {k: load_trajectories(v) for k, v in files.items()}  # malformed files fail before the model loads
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    policy = load_backend(args.model)
    feats = {k: step_features(policy, v, out / f"features_{k}.pt", progress=not args.quiet) for k, v in data.items()}
    head, report = train_head(feats["train"], l2_grid=grid)
    result: dict[str, Any] = {"train": evaluate_head(head, feats["train"]), **report}
    if "test" in feats:
        result["test"] = evaluate_head(head, feats["test"])
        result["test_always_minus"] = evaluate_head(None, feats["test"])
    head = replace(head, card={"train_file": str(args.train_file), "eval_file": args.eval_file and str(args.eval_file),
                               "l2": report["l2"], "test_step_accuracy": result.get("test", {}).get("step_accuracy")})
    head.save(out)
    (out / "eval.json").write_text(json.dumps(result, indent=2) + "\n")
    for split in ("train", "test", "test_always_minus"):
        if split in result:
            r = result[split]
            loss = "" if r["loss"] is None else f"loss {r['loss']:.3f}, "
            print(f"{split}: {r['steps']} steps, {loss}step acc {r['step_accuracy']:.1%}, "
                  f"trajectory acc {r['trajectory_accuracy']:.1%}")
    print(f"reward head -> {out} (chosen l2 {report['l2']})")
    return 0
