"""Tables for docs/agent_eval.md from the results folder ``toolprm eval-agent`` fills.

Every results file of the folder (``<strategy>.jsonl`` and its shards, gzipped or not, not the
traces) is one run, named by the agent label it was produced with (``greedy``, ``beam N=1 M=4``,
``unconstrained``); shards of a run are read together. Prints each run's table per API, how each
run's turns ended (``agent_eval.agent_endings``), then every run against the reference turn by
turn (``agent_eval.agent_paired``: the turns both ran, sign tests).

    python benchmarks/agent_tables.py results/agents/apibank-l1 [PREFIX=FOLDER ...] [--reference greedy]

A folder given as ``PREFIX=FOLDER`` prefixes its labels (``92f66ff: beam N=1 M=4``), so runs of
one agent at two commits are compared turn by turn.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path
from typing import Any

from langchain_toolprm.data.records import read_jsonl
from langchain_toolprm.evaluation.agent_eval import agent_endings, agent_paired, agent_report


def read_runs(folder: Path, prefix: str = "") -> dict[str, list[dict[str, Any]]]:
    """Records per agent label (``prefix: label`` with a prefix); a run's model must be the same in
    every file (else: an error)."""
    runs: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    models: dict[str, str] = {}
    for path in sorted([*folder.glob("*.jsonl"), *folder.glob("*.jsonl.gz")]):
        if ".traces.jsonl" in path.name:
            continue
        for r in read_jsonl(path):
            label = f"{prefix}: {r['spec']['agent']}" if prefix else r["spec"]["agent"]
            if models.setdefault(label, r["spec"].get("model", "")) != r["spec"].get("model", ""):
                raise ValueError(f"{path}: run {label!r} mixes models ({models[label]} and {r['spec'].get('model')})")
            runs[label][r["id"]] = r
    if not runs:
        raise ValueError(f"no results files in {folder}")
    return {label: list(records.values()) for label, records in runs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", help="<out>/apibank-l1 of toolprm eval-agent; PREFIX=FOLDER prefixes "
                        "its labels")
    parser.add_argument("--reference", default="greedy", help="the run every other run is paired with")
    args = parser.parse_args()
    runs: dict[str, list[dict[str, Any]]] = {}
    for arg in args.folders:
        prefix, _, folder = arg.rpartition("=")
        for label, records in read_runs(Path(folder), prefix).items():
            if label in runs:
                raise SystemExit(f"run {label!r} is in two folders: give one of them a PREFIX=")
            runs[label] = records
    for label, records in sorted(runs.items()):
        print(f"### {label} ({len(records)} turns)\n\n{agent_report(records)}\n")
    print(f"### How the turns ended\n\n{agent_endings(runs)}\n")
    if len(runs) > 1:
        print(f"### Paired with {args.reference}, turn by turn\n\n{agent_paired(runs, args.reference)}")


if __name__ == "__main__":
    main()
