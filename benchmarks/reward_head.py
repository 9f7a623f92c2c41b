"""The reward head against the verifier, and generative PRMs, on held-out labelled steps, without
running a search.

Two questions, on the same unique steps (a step is its query and its prefix):
- as a classifier (the issue's "step accuracy"): p(+) > 0.5 against the label, per step tag and
  per where the steps come from (the policy's own rollouts, gold paths, rule-made negatives);
- as a ranker (what the search uses): among the steps written after the same prefix, how often
  a "+" step scores above a "-" one (ties count half). The verifier's scores are not
  probabilities, so only its ranking is comparable; it is reported as a classifier at 0.5 too.

    python benchmarks/reward_head.py --trajectories DS/test.jsonl --features HEAD/features_test.pt --head HEAD \
        [--prm toolprm --prm PRM_DIR ...]

``--prm`` adds generative PRMs (the paper's kind) on the same steps, each alone and times the
verifier, so both kinds of reward model are compared on one split. For the scorers that give
probabilities the classifier table adds the loss (binary cross-entropy of p(+) / (p(+) + p(-)))
and trajectory accuracy (every step of a trajectory right).

``--features`` is the cache ``toolprm train-head --eval-file`` wrote; the policy runs only over
steps it lacks (another split of the same queries, such as their rollouts).
"""

from __future__ import annotations

import argparse
import json
import math
from collections import defaultdict

import torch
import torch.nn.functional as F

from langchain_toolprm.core.loader import load_backend, load_scorer
from langchain_toolprm.core.scorers import GenerativePRM, RewardHead, ScoringContext
from langchain_toolprm.core.steps import StepTag
from langchain_toolprm.core.verifier import VerifierScorer
from langchain_toolprm.data.records import LabelledTrajectory, load_trajectories, step_from_dict
from langchain_toolprm.training.prm import step_probabilities
from langchain_toolprm.training.reward_head import StepFeatures, prefix_keys, step_features

TAGS = tuple(StepTag)


def verifier_scores(feats: StepFeatures, trajectories: list[LabelledTrajectory]) -> torch.Tensor:
    examples = {t.example.id: t.example for t in trajectories}
    verifier = VerifierScorer()
    contexts: dict[str, ScoringContext] = {}
    out = []
    for query, key in zip(feats.example, feats.prefix):
        ex = examples[query]
        ctx = contexts.setdefault(query, ScoringContext(tuple(ex.lc_messages()), tuple(ex.specs())))
        out.append(verifier.score(ctx, [tuple(step_from_dict(s) for s in json.loads(key))])[0])
    return torch.tensor(out)


def ranking(scores: torch.Tensor, feats: StepFeatures, rows: set[int]) -> tuple[float, int]:
    """Share of (+, -) sibling pairs ordered right, and how many pairs."""
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i in rows:
        parent = json.dumps(json.loads(feats.prefix[i])[:-1], sort_keys=True, ensure_ascii=False)
        groups[(feats.example[i], parent)].append(i)
    good = pairs = 0.0
    for members in groups.values():
        pos = [i for i in members if feats.labels[i] > 0.5]
        neg = [i for i in members if feats.labels[i] <= 0.5]
        for p in pos:
            for n in neg:
                pairs += 1
                good += 1.0 if scores[p] > scores[n] else 0.5 if scores[p] == scores[n] else 0.0
    return (good / pairs if pairs else math.nan), int(pairs)


def prm_scores(prm: str, feats: StepFeatures, trajectories: list[LabelledTrajectory]) -> torch.Tensor:
    """A generative PRM's p(+) for every unique step, read from one pass over each trajectory."""
    model = load_scorer("prm", prm)
    if not isinstance(model, GenerativePRM):
        raise ValueError(f"--prm takes a generative PRM (a directory or toolprm), not the reward head in {prm}")
    probs = step_probabilities(model, trajectories)
    by_step = {(t.example.id, key): p for t, ps in zip(trajectories, probs) for key, p in zip(prefix_keys(t), ps)}
    return torch.tensor([by_step[(q, key)] for q, key in zip(feats.example, feats.prefix)])


def classifier_row(name: str, p: torch.Tensor, feats: StepFeatures, rows: set[int]) -> str:
    """Loss, step accuracy and trajectory accuracy of ``p`` on ``rows`` (trajectories wholly in them)."""
    idx = torch.tensor(sorted(rows))
    y = feats.labels[idx]
    right = (p > 0.5).float() == feats.labels
    hard = bool(((p[idx] == 0) | (p[idx] == 1)).all())  # "always -": no probability to take a loss of
    loss = "" if hard else f"{float(F.binary_cross_entropy(p[idx].clamp(1e-6, 1 - 1e-6), y)):.3f}"
    trajs = [t for t in feats.traj if set(t) <= rows]
    traj_acc = sum(bool(right[t].all()) for t in trajs) / len(trajs) if trajs else math.nan
    return f"| {name} | {loss} | {float(right[idx].float().mean()):.1%} | {traj_acc:.1%} ({len(trajs)}) |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trajectories", required=True, help="the labelled split the features were computed on")
    ap.add_argument("--features", required=True, help="a feature cache (train-head's features_test.pt): steps it "
                    "lacks are computed with the policy and added")
    ap.add_argument("--head", required=True, help="the reward head directory")
    ap.add_argument("--model", help="the policy the head was trained on (default: the package's, gemma-3-270m-tools)")
    ap.add_argument("--prm", action="append", default=[],
                    help="a generative PRM to score the same steps: a directory or toolprm (repeatable)")
    args = ap.parse_args()
    trajectories = load_trajectories(args.trajectories)
    feats = step_features(load_backend(args.model), trajectories, args.features)
    head = RewardHead.load(args.head)
    with torch.no_grad():
        p_head = torch.sigmoid(head.logits(feats.hidden, [TAGS[int(t)] for t in feats.tags]))
    p_ver = verifier_scores(feats, trajectories)
    scorers = {"always -": torch.zeros_like(p_head), "verifier": p_ver, "head": p_head,
               "verifier x head": (p_ver.clamp_min(1e-9) * p_head).sqrt()}
    for prm in args.prm:
        p_prm = prm_scores(prm, feats, trajectories)
        scorers[f"PRM {prm}"] = p_prm
        scorers[f"verifier x PRM {prm}"] = (p_ver.clamp_min(1e-9) * p_prm).sqrt()
    sets: dict[str, set[int]] = defaultdict(set)
    for rows, origin in zip(feats.traj, feats.origin):
        if origin.startswith("rule:"):  # the step the rule wrote is the first "-" after a gold prefix
            bad = next((k for k, r in enumerate(rows) if feats.labels[r] <= 0.5), None)
            if bad is not None:
                sets["rule-made wrong steps"].add(rows[bad])
                sets["after a rule-made wrong step"] |= set(rows[bad + 1:])
        else:
            sets[origin] |= set(rows)
    sets["all"] = set(range(len(feats.labels)))
    y = feats.labels
    print(f"policy {feats.policy}; {len(y)} unique steps, {len(set(feats.example))} queries, "
          f"{len(trajectories)} trajectories\n")
    print("| steps | n | positive | " + " | ".join(f"{k} acc" for k in scorers) + " | "
          + " | ".join(f"{k} rank" for k in scorers if k != "always -") + " |")
    print("|---" * (3 + 2 * len(scorers) - 1) + "|")
    for name in ["all", "rollout", "gold", "empty", "rule-made wrong steps", "after a rule-made wrong step"]:
        rows = sets.get(name)
        if not rows:
            continue
        idx = torch.tensor(sorted(rows))
        accs = [float(((s[idx] > 0.5).float() == y[idx]).float().mean()) for s in scorers.values()]
        ranks = [ranking(s, feats, rows) for k, s in scorers.items() if k != "always -"]
        print(f"| {name} | {len(idx)} | {float(y[idx].mean()):.1%} | " + " | ".join(f"{a:.1%}" for a in accs)
              + " | " + " | ".join(f"{r:.1%} ({n})" for r, n in ranks) + " |")
    probabilistic = {k: s for k, s in scorers.items() if k != "verifier" and not k.startswith("verifier x")}
    for name in ["all", "rollout"]:
        if sets.get(name):
            print(f"\nas classifiers, {name} steps: | scorer | loss | step acc | trajectory acc (trajectories) |")
            print("|---|---|---|---|")
            for k, s in probabilistic.items():
                print(classifier_row(k, s, feats, sets[name]))
    print("\nper step tag (all steps): accuracy at 0.5, then ranking of siblings; scorers in the order above")
    for k, tag in enumerate(TAGS):
        rows = {i for i in range(len(y)) if int(feats.tags[i]) == k}
        if not rows:
            continue
        idx = torch.tensor(sorted(rows))
        acc = [float(((s[idx] > 0.5).float() == y[idx]).float().mean()) for s in scorers.values()]
        rk = [ranking(s, feats, rows)[0] for n, s in scorers.items() if n != "always -"]
        print(f"- {tag.name}: {len(idx)} steps, {float(y[idx].mean()):.0%} positive; acc "
              + " / ".join(f"{a:.1%}" for a in acc) + "; rank " + " / ".join(f"{r:.1%}" for r in rk))


if __name__ == "__main__":
    main()
