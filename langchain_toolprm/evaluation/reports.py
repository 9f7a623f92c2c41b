"""Reading results files back into tables: per benchmark, quality and mean cost per item for
each category x strategy, with cost ratios to constrained greedy.

Apart from the runner so that results can be read and tabulated without loading a model; the
stored answers are scored again by the current metrics where their examples are given.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..core.prompts import build_prompt
from ..data.records import ToolExample, call_from_dict, call_to_dict, read_jsonl, write_jsonl
from .benchmarks import benchmark_of, scored_as
from .specs import STRATEGIES, TEXT_STRATEGIES


def read_results(paths: Iterable[str | Path], examples: Iterable[ToolExample] = ()) -> list[dict[str, Any]]:
    """Every per-item record in these files and folders (``*.jsonl``, or ``*.jsonl.gz`` as
    committed; a folder's gzipped copy is skipped where the plain file is beside it).

    Records of ``examples`` are scored again from their stored calls, so a fix to the metrics
    reaches results written before it without decoding anything again.
    """
    files: list[Path] = []
    for p in map(Path, paths):
        if not p.is_dir():
            files.append(p)
            continue
        plain = sorted(p.rglob("*.jsonl"))
        files += plain + [f for f in sorted(p.rglob("*.jsonl.gz")) if f.with_suffix("") not in plain]
    gold = {(benchmark_of(ex)[0], ex.id): ex for ex in examples}
    out = []
    for rec in (r for f in files for r in read_jsonl(f)):
        ex = gold.get((rec["benchmark"], rec["id"]))
        if ex is not None:
            calls = None if rec["calls"] is None else [call_from_dict(c) for c in rec["calls"]]
            rec = {**rec, **scored_as(rec["benchmark"]).score(ex, calls)}
        out.append(rec)
    return out


def reread_text_answers(path: str | Path, tokenizer: Any, examples: Iterable[ToolExample]) -> int:
    """Read the calls of a results file's free-text answers again from their stored raw text,
    and score them again, so a fix to :func:`~.baselines.parse_calls` reaches finished runs without
    decoding anything again (the other strategies' calls come from the grammar, not from text).

    ``tokenizer`` is the policy's: its prompt decides the call format. The file is rewritten
    atomically, and only if a record changed; returns how many did.
    """
    from .baselines import parse_calls  # decoding's module: imports transformers, which only this needs

    gold = {(benchmark_of(ex)[0], ex.id): ex for ex in examples}
    records = list(read_jsonl(path))
    changed = 0
    for i, rec in enumerate(records):
        if rec["spec"]["strategy"] not in TEXT_STRATEGIES or rec["error"] is not None or "raw" not in rec:
            continue
        ex = gold.get((rec["benchmark"], rec["id"]))
        if ex is None:
            raise ValueError(f"{path}: no example given for {rec['benchmark']} item {rec['id']!r}")
        calls = parse_calls(rec["raw"], build_prompt(tokenizer, ex.lc_messages(), ex.specs()).call_format)
        new = {**rec, "calls": None if calls is None else [call_to_dict(c) for c in calls],
               **scored_as(rec["benchmark"]).score(ex, calls)}
        changed += new != rec
        records[i] = new
    if changed:
        write_jsonl(path, records)
    return changed


def _mean(xs: Iterable[float]) -> float:
    xs = list(xs)
    return sum(xs) / len(xs) if xs else math.nan


def _quality(benchmark: str, recs: list[dict[str, Any]]) -> dict[str, float]:
    """The benchmark's quality columns (BFCL: accuracy; the F1 sets: name, argument and average F1,
    exact match) over one category x strategy."""
    bench = scored_as(benchmark)
    return dict(zip(bench.columns, bench.quality(recs), strict=True))


_COSTS = ("policy_tokens", "scorer_tokens", "seconds")


def _order(spec: dict[str, Any], label: str) -> tuple[Any, ...]:
    return (STRATEGIES.index(spec["strategy"]), spec["n"], spec["m"], spec["samples"] or 0, label)


def summarize(
    paths: Iterable[str | Path], keep: Callable[[dict[str, Any]], bool] | None = None,
    examples: Iterable[ToolExample] = (),
) -> str:
    """A markdown table per benchmark: quality and mean cost per item for each category x strategy,
    with token and time ratios to constrained greedy on the same category. With several
    categories a "mean" row averages them (each weighs the same, as BFCL's overall score does).
    ``keep`` selects records, so strategies can be compared on the items they all answered;
    records of ``examples`` are scored again by the current metrics (:func:`read_results`)."""
    return summary_table(read_results(paths, examples), keep)


def summary_table(records: Iterable[dict[str, Any]], keep: Callable[[dict[str, Any]], bool] | None = None) -> str:
    """:func:`summarize` over records already read (and scored), for callers that also use them."""
    groups: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = defaultdict(dict)
    for r in records:
        if keep is not None and not keep(r):
            continue
        groups[(r["benchmark"], r["category"] or "-", r["strategy"])][r["id"]] = r
    if not groups:
        return "no results"
    tables: dict[str, dict[tuple[str, str], dict[str, Any]]] = defaultdict(dict)
    for (bench, cat, label), by_id in groups.items():
        recs = list(by_id.values())
        tables[bench][(cat, label)] = {
            "n": len(recs), "order": _order(recs[0]["spec"], label), "quality": _quality(bench, recs),
            **{k: _mean(r[k] for r in recs) for k in _COSTS},
        }
    out = []
    for bench, table in sorted(tables.items()):
        cats = sorted({c for c, _ in table})
        for label in {s for _, s in table} if len(cats) > 1 else ():
            cells = [table[(c, label)] for c in cats if (c, label) in table]
            if len(cells) == len(cats):
                table[("mean", label)] = {
                    "n": sum(x["n"] for x in cells), "order": cells[0]["order"],
                    "quality": {q: _mean(x["quality"][q] for x in cells) for q in cells[0]["quality"]},
                    **{k: _mean(x[k] for x in cells) for k in _COSTS},
                }
        quality = list(next(iter(table.values()))["quality"])
        head = ["category", "strategy", "n", *quality, "policy tok", "scorer tok", "s/item", "tok x greedy",
                "time x greedy"]
        out += [f"### {bench}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for (cat, label), v in sorted(table.items(), key=lambda kv: (kv[0][0] == "mean", kv[0][0], kv[1]["order"])):
            greedy = [(lab, x) for (c, lab), x in table.items() if c == cat and x["order"][0] == STRATEGIES.index("greedy")]
            ref = next((x for lab, x in greedy if lab == "greedy"), greedy[0][1] if greedy else None)
            tokens = v["policy_tokens"] + v["scorer_tokens"]
            ref_tokens = ref["policy_tokens"] + ref["scorer_tokens"] if ref else 0
            cells = [cat, label, str(v["n"]), *(f"{100 * v['quality'][q]:.1f}" for q in quality),
                     f"{v['policy_tokens']:.0f}", f"{v['scorer_tokens']:.0f}", f"{v['seconds']:.1f}",
                     f"{tokens / ref_tokens:.2f}" if ref_tokens else "-",
                     f"{v['seconds'] / ref['seconds']:.2f}" if ref and ref["seconds"] else "-"]
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)
