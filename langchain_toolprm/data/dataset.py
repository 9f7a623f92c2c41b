"""The PRM dataset, end to end: sources -> split -> masking + no-call examples -> rollouts -> labels -> card.

Every stage writes its files into one directory and is safe to re-run: examples are rebuilt
only when missing, rollouts resume (and may be sharded across processes), annotation and the
dataset card are recomputed from whatever rollouts exist. The split is made on the source
conversations before masking, so no query (masked or not) crosses from train to test.
"""

from __future__ import annotations

import argparse
import json
import random
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..core.embedded import MODEL_HELP
from ..core.steps import StepTag, segment
from .labels import label_steps
from .masking import MaskConfig, contrast_examples, irrelevance_examples, mask_examples
from .negatives import rule_negatives
from .records import (
    DataFileError,
    LabelledTrajectory,
    ToolExample,
    load_examples,
    read_jsonl,
    step_from_dict,
    write_jsonl,
)
from .rollouts import RolloutConfig
from .sources import ALL_SOURCES, LoadReport, load_training_sources

SPLITS = ("train", "test")


@dataclass(frozen=True)
class DatasetConfig:
    """What goes into the dataset. ``limit`` caps queries per source (before masking)."""

    sources: tuple[str, ...] = ALL_SOURCES
    limit: int | None = None
    test_fraction: float = 0.1
    irrelevance_fraction: float = 0.15
    irrelevance_near_misses: int = 0
    """Tools on a removed gold tool's topic added to an irrelevance example (see
    :func:`masking.near_misses`); 0: the tools left after the removal, padded at random. Off by
    default until a policy trained with them is measured (some near misses may still serve the
    request: docs/policy.md)."""
    contrast_fraction: float = 0.0
    """About this share of the queries becomes a pair of one-tool questions, one with its gold
    tool (a call) and one with a near miss of it (``[]``): see :func:`masking.contrast_examples`.
    0: none, as in every dataset before docs/policy.md section v8."""
    include_gold: bool = True
    include_empty: bool = True
    negatives: int = 0
    """Rule-made trajectories per rule and query (``negatives.rule_negatives``); 0: none, as in
    the datasets of docs/prm.md sections 1-4."""
    seed: int = 0
    mask: MaskConfig = field(default_factory=MaskConfig)

    def __post_init__(self) -> None:
        if self.irrelevance_near_misses < 0:
            raise ValueError(f"irrelevance_near_misses must be 0 or more, not {self.irrelevance_near_misses}")
        for name in ("irrelevance_fraction", "contrast_fraction"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be between 0 and 1, not {getattr(self, name)}")
        if self.negatives < 0:
            raise ValueError(f"negatives (per rule and query) must be 0 or more, not {self.negatives}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit (queries per source) must be 1 or more, or None for all, not {self.limit}")


def group_of(example: ToolExample) -> str:
    """Examples cut from one conversation share a group, and so a split."""
    return str(example.meta.get("conversation", example.id))


def split_examples(examples: Sequence[ToolExample], test_fraction: float, seed: int) -> dict[str, list[ToolExample]]:
    """Deterministic train/test split by conversation (a hash, so adding sources keeps old splits)."""
    out: dict[str, list[ToolExample]] = {s: [] for s in SPLITS}
    for ex in examples:
        h = zlib.crc32(f"{seed}:{group_of(ex)}".encode()) / 2**32
        out["test" if h < test_fraction else "train"].append(ex)
    return out


def build_examples(out_dir: Path, data_dir: str | Path | None, config: DatasetConfig) -> dict[str, list[ToolExample]]:
    """Load, split, mask and add irrelevance examples; written once to ``examples_<split>.jsonl``."""
    paths = {s: out_dir / f"examples_{s}.jsonl" for s in SPLITS}
    if all(p.exists() for p in paths.values()):
        return {s: load_examples(p) for s, p in paths.items()}
    reports = load_training_sources(data_dir, config.sources)
    examples: list[ToolExample] = []
    for report in reports:
        chosen = report.examples
        if config.limit is not None and len(chosen) > config.limit:
            chosen = random.Random(config.seed).sample(chosen, config.limit)
        examples += chosen
    if not examples:
        raise DataFileError(f"no usable examples in sources {', '.join(config.sources)}")
    split = split_examples(examples, config.test_fraction, config.seed)
    out: dict[str, list[ToolExample]] = {}
    for name, exs in split.items():
        masked = mask_examples(exs, config.mask)
        irrelevant = irrelevance_examples(exs, config.mask, fraction=config.irrelevance_fraction,
                                          near=config.irrelevance_near_misses)
        contrast = contrast_examples(exs, config.mask, fraction=config.contrast_fraction)
        out[name] = masked + irrelevant + contrast
        write_jsonl(paths[name], out[name])
    write_jsonl(out_dir / "sources.jsonl", [_report_row(r) for r in reports])
    (out_dir / "dataset_config.json").write_text(json.dumps(asdict(config), indent=2, default=list) + "\n")
    return out


def _report_row(report: LoadReport) -> dict[str, Any]:
    return {"source": report.source, "examples": len(report.examples), "skipped": dict(report.skipped)}


def rollout_files(out_dir: Path, split: str) -> list[Path]:
    """The rollout file of a split and any shard files beside it."""
    return sorted(out_dir.glob(f"rollouts_{split}.jsonl")) + sorted(out_dir.glob(f"rollouts_{split}.shard*.jsonl"))


def annotate(out_dir: Path, split: str, include_gold: bool, include_empty: bool = True,
             negatives: int = 0, seed: int = 0) -> list[LabelledTrajectory]:
    """Label every collected rollout step by rule against gold; add the gold path itself, and for
    a query that needs a call the empty answer ``[]``, if asked.

    Duplicate rollouts of a query are kept once per sampled copy, so the label distribution is
    that of the sampler. The sampler rarely answers ``[]`` when a call is needed, so without
    the added empty answers nearly every ``[]`` seen in training is right (the no-call queries'
    gold paths), and a PRM learns to prefer ``[]`` over any function name.

    ``negatives``: up to this many rule-made trajectories per rule (``negatives.rule_negatives``)
    for every example of the split, sampled or not, so a dataset needs no rollouts at all.
    """
    rollouts: dict[str, list[dict[str, Any]]] = {}
    examples: dict[str, ToolExample] = {}
    for path in rollout_files(out_dir, split):
        for rec in read_jsonl(path):
            ex = ToolExample.from_dict(rec["example"])
            if ex.id not in examples:
                examples[ex.id], rollouts[ex.id] = ex, rec["rollouts"]
    listed = out_dir / f"examples_{split}.jsonl"
    if negatives and listed.exists():
        examples.update({ex.id: ex for ex in load_examples(listed) if ex.id not in examples})
    trajectories: list[LabelledTrajectory] = []
    for ex in examples.values():
        specs = ex.specs()
        for r in rollouts.get(ex.id, []):
            steps = tuple(step_from_dict(s) for s in r["steps"])
            labels = tuple(label_steps(steps, ex.gold, specs))
            trajectories += [LabelledTrajectory(ex, steps, labels)] * int(r.get("count", 1))
        made = rule_negatives(ex, negatives, seed) if negatives else []
        if not (rollouts.get(ex.id) or made):
            continue
        if include_gold:
            steps = tuple(segment(list(ex.gold)))
            trajectories.append(LabelledTrajectory(ex, steps, tuple(label_steps(steps, ex.gold, specs)), "gold"))
        if include_empty and ex.gold:
            steps = tuple(segment([]))
            trajectories.append(LabelledTrajectory(ex, steps, tuple(label_steps(steps, ex.gold, specs)), "empty"))
        trajectories += made
    write_jsonl(out_dir / f"{split}.jsonl", trajectories)
    return trajectories


def statistics(trajectories: Sequence[LabelledTrajectory]) -> dict[str, Any]:
    """Counts and positive rates, overall and per step tag (the paper reports 85.7% / 78.5%)."""
    per_tag: dict[str, list[int]] = {t.name: [0, 0] for t in StepTag}
    for t in trajectories:
        for step, label in zip(t.steps, t.labels):
            per_tag[step.tag.name][0] += int(label)
            per_tag[step.tag.name][1] += 1
    steps = sum(n for _, n in per_tag.values())
    positive = sum(p for p, _ in per_tag.values())
    return {
        "queries": len({t.example.id for t in trajectories}),
        "trajectories": len(trajectories),
        "steps": steps,
        "steps_per_trajectory": steps / len(trajectories) if trajectories else 0.0,
        "positive_step_rate": positive / steps if steps else 0.0,
        "positive_trajectory_rate": (
            sum(all(t.labels) for t in trajectories) / len(trajectories) if trajectories else 0.0
        ),
        "per_tag": {tag: {"steps": n, "positive_rate": p / n if n else 0.0} for tag, (p, n) in per_tag.items()},
        "origins": dict(Counter(t.origin for t in trajectories)),
        "sources": dict(Counter(t.example.source for t in trajectories)),
    }


def write_card(out_dir: Path, stats: dict[str, dict[str, Any]], command: str) -> Path:
    """A dataset card (README.md) beside the data: sources, counts and label balance."""
    config = json.loads((out_dir / "dataset_config.json").read_text())
    sources = list(read_jsonl(out_dir / "sources.jsonl"))
    lines = [
        "# ToolPRM step-labelled dataset", "",
        "Fine-grained trajectories (sampled by the policy, or derived from gold by rule), each step labelled `+`/`-` by rule against",
        "the gold calls (langchain_toolprm.data.labels). Built with:", "", "```", command, "```", "",
        "## Sources (queries loaded before masking, and what each loader skipped)", "",
        "| source | examples | skipped |", "|---|---|---|",
    ]
    for row in sources:
        skipped = ", ".join(f"{k}: {v}" for k, v in sorted(row["skipped"].items())) or "none"
        lines.append(f"| {row['source']} | {row['examples']} | {skipped} |")
    lines += ["", "## Counts", "",
              "| split | queries | trajectories | steps | steps/traj | positive steps | positive trajectories |",
              "|---|---|---|---|---|---|---|"]
    for split, s in stats.items():
        lines.append(
            f"| {split} | {s['queries']} | {s['trajectories']} | {s['steps']} | {s['steps_per_trajectory']:.2f} "
            f"| {s['positive_step_rate']:.1%} | {s['positive_trajectory_rate']:.1%} |"
        )
    lines += ["", "Where the trajectories come from (rollout: sampled; gold; empty: `[]` for a query that needs a call; "
              "rule:*: derived from gold by a rule of `langchain_toolprm.data.negatives`):", ""]
    for split, s in stats.items():
        lines.append(f"- {split}: " + ", ".join(f"{k} {v}" for k, v in sorted(s["origins"].items())))
    lines += ["", "Paper (xLAM-based, Hammer2.1 rollouts): 85.7% of steps and 78.5% of trajectories positive.", "",
              "## Positive rate per step tag", "", "| split | " + " | ".join(t.name for t in StepTag) + " |",
              "|---|" + "---|" * len(StepTag)]
    for split, s in stats.items():
        cells = [f"{s['per_tag'][t.name]['positive_rate']:.1%} ({s['per_tag'][t.name]['steps']})" for t in StepTag]
        lines.append(f"| {split} | " + " | ".join(cells) + " |")
    lines += ["", "## Configuration", "", "```json", json.dumps(config, indent=2), "```", ""]
    path = out_dir / "README.md"
    path.write_text("\n".join(lines))
    (out_dir / "stats.json").write_text(json.dumps(stats, indent=2) + "\n")
    return path


def build_dataset(
    out_dir: str | Path, *, policy: Any | None, data_dir: str | Path | None = None,
    config: DatasetConfig | None = None, rollout: RolloutConfig | None = None,
    command: str = "", progress: bool = True,
) -> dict[str, dict[str, Any]]:
    """Run every stage; ``policy`` None skips sampling (annotate what is already collected)."""
    from .rollouts import collect_rollouts

    config = config or DatasetConfig()
    rollout = rollout or RolloutConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    examples = build_examples(out, data_dir, config)
    if policy is not None:
        for split in reversed(SPLITS):  # the small held-out split first: an interrupted run can still be scored
            collect_rollouts(policy, examples[split], out / f"rollouts_{split}.jsonl", rollout, progress=progress)
    stats = {split: statistics(annotate(out, split, config.include_gold, config.include_empty, config.negatives,
                                        config.seed)) for split in SPLITS}
    if not any(s["steps"] for s in stats.values()):
        raise ValueError(f"the dataset in {out} has no labelled steps: no rollout finished and no negatives asked")
    write_card(out, stats, command)
    return stats


def _count(text: str) -> int:
    """An argparse type: a whole number of at least 1 (a query count, rollouts per query)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _pad_range(text: str) -> tuple[int, int]:
    try:
        low, high = (int(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LOW,HIGH such as 1,5, got {text!r}") from None
    try:
        MaskConfig(pad_tools_to=(low, high))  # the one place the range is checked
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 1 <= LOW <= HIGH, got {text!r}") from None
    return low, high


def add_build_parser(sub: Any) -> None:
    """``toolprm build-dataset``: every stage, resumable; ``--shard i/n`` splits the sampling."""
    p = sub.add_parser("build-dataset", help="build the step-labelled PRM dataset (sources, masking, rollouts, labels)")
    p.add_argument("--out", required=True, help="output directory (re-running resumes)")
    p.add_argument("--data-dir", help="shared data directory (default: $TOOLPRM_DATA or ../shared/data)")
    p.add_argument("--sources", default=",".join(ALL_SOURCES), help="comma list of sources")
    p.add_argument("--limit", type=_count, help="at most this many queries per source (default: all)")
    p.add_argument("--model", help=f"the rollouts' {MODEL_HELP}")
    p.add_argument("--k", type=_count, default=4, help="rollouts per query")
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--max-value-tokens", type=int, default=RolloutConfig().max_value_tokens,
                   help="a value longer than this is cut and its trajectory dropped")
    p.add_argument("--mask-fraction", type=float, default=MaskConfig().fraction)
    p.add_argument("--pad-tools", type=_pad_range, default=MaskConfig().pad_tools_to, metavar="LOW,HIGH",
                   help="pad each tool list with other examples' tools to a random size in LOW..HIGH "
                        "(default %(default)s; a LOW of 1 keeps some one-tool questions, as BFCL asks them)")
    p.add_argument("--irrelevance-fraction", type=float, default=DatasetConfig().irrelevance_fraction)
    p.add_argument("--irrelevance-near-misses", type=int, default=DatasetConfig().irrelevance_near_misses,
                   help="tools on the removed tool's topic added to each irrelevance example")
    p.add_argument("--contrast-fraction", type=float, default=DatasetConfig().contrast_fraction,
                   help="share of queries made into a pair of one-tool questions: with the gold tool (a call) "
                        "and with a near miss of it (no call)")
    p.add_argument("--test-fraction", type=float, default=DatasetConfig().test_fraction)
    p.add_argument("--no-gold", action="store_true", help="do not add each query's gold trajectory")
    p.add_argument("--no-empty", action="store_true",
                   help="do not add the empty answer [] (labelled -) to each query that needs a call")
    p.add_argument("--negatives", type=int, default=0, metavar="K",
                   help="rule-made trajectories per rule and query (wrong function, swapped value, dropped argument, "
                        "missing or extra call, ...; see langchain_toolprm.data.negatives); with --annotate-only "
                        "a dataset needs no rollouts")
    p.add_argument("--shard", default="0/1", help="i/n: sample only queries i, i+n, ... (annotate merges shards)")
    p.add_argument("--annotate-only", action="store_true", help="skip sampling; label what is collected")
    p.add_argument("--examples-only", action="store_true",
                   help="stop after the masked and irrelevance examples (the data of train-policy): no model")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_build_command)


def _build_command(args: Any) -> int:
    import shlex

    try:
        shard, num_shards = (int(x) for x in args.shard.split("/"))
    except ValueError as exc:
        raise ValueError(f"--shard must look like 0/4, got {args.shard!r}") from exc
    sources = tuple(s.strip() for s in args.sources.split(",") if s.strip())
    unknown = sorted(set(sources) - set(ALL_SOURCES))
    if unknown:
        raise ValueError(f"unknown source(s) {', '.join(unknown)}; known: {', '.join(ALL_SOURCES)}")
    config = DatasetConfig(
        sources=sources, limit=args.limit, test_fraction=args.test_fraction,
        irrelevance_fraction=args.irrelevance_fraction, irrelevance_near_misses=args.irrelevance_near_misses,
        contrast_fraction=args.contrast_fraction,
        include_gold=not args.no_gold,
        include_empty=not args.no_empty, negatives=args.negatives, seed=args.seed,
        mask=MaskConfig(fraction=args.mask_fraction, pad_tools_to=args.pad_tools, seed=args.seed),
    )
    rollout = RolloutConfig(k=args.k, temperature=args.temperature, max_value_tokens=args.max_value_tokens,
                            seed=args.seed, shard=shard, num_shards=num_shards)
    if args.examples_only:
        for split, exs in build_examples(Path(args.out), args.data_dir, config).items():
            calls = sum(bool(e.gold) for e in exs)
            print(f"{split}: {len(exs)} examples ({calls} with calls, {len(exs) - calls} without) -> "
                  f"{Path(args.out) / f'examples_{split}.jsonl'}")
        return 0
    policy = None
    if not args.annotate_only:
        from ..core.loader import load_backend

        policy = load_backend(args.model)
    command = "toolprm " + " ".join(shlex.quote(a) for a in args.argv)
    stats = build_dataset(args.out, policy=policy, data_dir=args.data_dir, config=config, rollout=rollout,
                          command=command, progress=not args.quiet)
    for split, s in stats.items():
        print(f"{split}: {s['queries']} queries, {s['trajectories']} trajectories, {s['steps']} steps, "
              f"{s['positive_step_rate']:.1%} positive steps")
    print(f"dataset card: {Path(args.out) / 'README.md'}")
    return 0
