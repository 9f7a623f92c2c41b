"""The explore/retain picture: accuracy of fine-grained beam search over its (N, M) grid.

Its own module because it alone needs matplotlib (an optional extra, imported when called).
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from .reports import _mean, read_results
from .specs import scorer_label


def plot_grid(out_dir: str | Path, scorer: str | None = None) -> Path:
    """Accuracy over the (N, M) grid in ``out_dir``: lines per N over M beside a heatmap, saved as
    ``grid.png`` with the numbers in ``grid.md``. Cells are compared on the items every cell
    answered; constrained greedy, when its results are there, is drawn as a reference line.

    ``scorer`` picks one scorer's grid (its label part, e.g. "verifier") when several are present.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    recs = read_results([out_dir])
    beams = [r for r in recs if r["spec"]["strategy"] == "beam"]
    scorers = sorted({scorer_label(r["spec"]) for r in beams})
    if scorer is not None:
        beams = [r for r in beams if scorer_label(r["spec"]) == scorer]
    elif len(scorers) > 1:
        raise ValueError(f"{out_dir} holds grids of several scorers ({', '.join(scorers)}): pick one")
    if not beams:
        raise ValueError(f"no beam-search results in {out_dir}")
    cells: dict[tuple[int, int], dict[str, dict[str, Any]]] = defaultdict(dict)
    for r in beams:
        cells[(r["spec"]["n"], r["spec"]["m"])][r["id"]] = r
    common = set.intersection(*(set(c) for c in cells.values()))
    acc = {k: _mean(float(c[i]["correct"]) for i in common) for k, c in cells.items()}
    cost = {k: _mean(c[i]["policy_tokens"] + c[i]["scorer_tokens"] for i in common) for k, c in cells.items()}
    greedy = {r["id"]: r for r in recs if r["spec"]["strategy"] == "greedy" and r["id"] in common}
    ns, ms = sorted({n for n, _ in cells}), sorted({m for _, m in cells})

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for n in ns:
        xs = [m for m in ms if (n, m) in acc]
        left.plot(xs, [100 * acc[(n, m)] for m in xs], marker="o", label=f"N={n}")
    if len(greedy) == len(common):
        left.axhline(100 * _mean(float(r["correct"]) for r in greedy.values()), color="gray", ls="--",
                     label="constrained greedy")
    left.set_xscale("log", base=2)
    left.set_xticks(ms, [str(m) for m in ms])
    left.set(xlabel="M (explore)", ylabel="accuracy (%)", title=f"accuracy over M ({len(common)} items)")
    left.legend()
    grid = [[100 * acc.get((n, m), math.nan) for m in ms] for n in ns]
    image = right.imshow(grid, cmap="viridis", origin="lower", aspect="auto")
    for i, row in enumerate(grid):
        for j, value in enumerate(row):
            right.text(j, i, f"{value:.0f}", ha="center", va="center", color="w")
    right.set_xticks(range(len(ms)), [str(m) for m in ms])
    right.set_yticks(range(len(ns)), [str(n) for n in ns])
    right.set(xlabel="M (explore)", ylabel="N (retain)", title="accuracy (%)")
    fig.colorbar(image, ax=right)
    fig.tight_layout()
    png = out_dir / "grid.png"
    fig.savefig(png, dpi=120)
    plt.close(fig)

    lines = [f"Accuracy (%) and mean tokens per item (policy + scorer) on {len(common)} items.", "",
             "| N \\ M | " + " | ".join(map(str, ms)) + " |", "|---|" + "---|" * len(ms)]
    for n in ns:
        row = [f"{100 * acc[(n, m)]:.1f} ({cost[(n, m)]:.0f})" if (n, m) in acc else "-" for m in ms]
        lines.append(f"| {n} | " + " | ".join(row) + " |")
    (out_dir / "grid.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return png
