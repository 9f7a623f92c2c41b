"""Cost of fine-grained search against constrained greedy on the same questions, same run.

    python benchmarks/search_cost.py --out docs/search_cost.md

Runs the embedded Gemma 3 270M (or --model) on a fixed set of questions, for constrained
greedy and a small (N, M) grid of fine-grained beam search with the verifier, and reports
wall time and policy tokens per question, with each setting's ratio to greedy. With several
``--dtype`` or ``--model`` values every setting runs once per (model, dtype) variant, and the
ratio and answer agreement are against the first: e.g. ``--dtype float32 bfloat16`` measures
what bfloat16 buys on a CPU with AMX or AVX512-BF16, and ``--model gemma-3-270m ADAPTER_DIR``
what a tuned LoRA adapter (merged at load) costs per call.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import time
from pathlib import Path
from typing import Literal

import torch
from langchain_core.tools import tool

from langchain_toolprm import ToolPRMChatModel, TransformersBackend
from langchain_toolprm.core.embedded import EMBEDDED_BASE
from langchain_toolprm.core.loader import load_backend
from langchain_toolprm.core.search import check_widen


@tool
def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> str:
    """Get the current weather in a city."""
    return ""


@tool
def convert_currency(amount: float, from_currency: str, to_currency: str) -> str:
    """Convert an amount of money between currencies given as ISO codes."""
    return ""


@tool
def book_table(restaurant: str, people: int, time: str) -> str:
    """Book a table at a restaurant for a number of people at a time (HH:MM)."""
    return ""


@tool
def send_email(to: str, subject: str, body: str = "") -> str:
    """Send an email to an address."""
    return ""


@tool
def search_flights(origin: str, destination: str, date: str, direct_only: bool = False) -> str:
    """Search flights between two cities on a date (YYYY-MM-DD)."""
    return ""


TOOLS = [get_weather, convert_currency, book_table, send_email, search_flights]
QUESTIONS = [
    "What's the weather like in Tokyo?",
    "Is it cold in Oslo right now? Give me fahrenheit.",
    "How much is 250 US dollars in euros?",
    "Convert 99.5 GBP to JPY please.",
    "Book a table for 4 people at Luigi's at 19:30.",
    "Email bob@example.com with the subject 'Lunch' and say I'm running late.",
    "Find flights from Paris to Berlin on 2025-03-14, direct only.",
    "Any flights from Madrid to Rome on 2025-07-01?",
]
GRID = [(1, 2, None, 0.0), (1, 4, None, 0.0), (1, 8, None, 0.0), (2, 4, None, 0.0), (4, 4, None, 0.0)]


def call(bound: object, question: str) -> tuple[float, int, int, str]:
    start = time.perf_counter()
    msg = bound.invoke(question)  # type: ignore[attr-defined]
    wall = time.perf_counter() - start
    answer = str([(c["name"], c["args"]) for c in msg.tool_calls])
    return wall, msg.response_metadata["policy_input_tokens"], msg.usage_metadata["output_tokens"], answer


def beam_setting(text: str) -> tuple[int, int, float | None, float]:
    """``"2x4"`` -> (N=2, M=4, None, 0); ``"1x4w1"`` -> adaptive exploration, widening where the
    verifier scores the likeliest step below 1; ``"1x4w1p0.5"`` also where the policy gives it under 0.5."""
    nm, _, widen = text.partition("w")
    n, sep, m = nm.partition("x")
    below_text, _, policy_text = widen.partition("p")
    try:
        if not (sep and n.isdigit() and m.isdigit() and int(n) > 0 and int(m) > 0):
            raise ValueError("N and M must be positive integers")
        below = float(below_text) if widen else None
        policy = float(policy_text) if policy_text else 0.0
        check_widen(below, policy)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"beam setting {text!r} is not NxM (1x4) or NxMwS[pP] (1x4w1, 1x4w1p0.5): "
                                         f"{exc}") from None
    return int(n), int(m), below, policy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", nargs="+", default=[EMBEDDED_BASE],
                        help="policies (model directories, LoRA adapter directories, gemma-3-270m for the "
                             "embedded base, gemma-3-270m-tools for the default); the first is the baseline")
    parser.add_argument("--dtype", nargs="+", default=["float32"], help="policy dtypes; the first is the baseline")
    parser.add_argument("--grid", nargs="*", type=beam_setting, default=GRID,
                        help="beam settings NxM, e.g. 1x4 2x4; NxMwS[pP] explores adaptively (widen where the score "
                             "is below S or the policy's probability below P), e.g. 1x4w1 1x4w1p0.5")
    parser.add_argument("--out", type=Path, help="write the markdown table here")
    args = parser.parse_args()
    variants = [(model, dtype) for model in args.model for dtype in args.dtype]
    several = len(variants) > 1

    def label(variant: tuple[str, str]) -> str:
        model, dtype = variant
        parts = ([model] if len(args.model) > 1 else []) + ([dtype] if len(args.dtype) > 1 else [])
        return ", ".join(parts)

    settings = {"constrained greedy": {"strategy": "greedy"}}
    settings |= {f"beam N={n} M={m}" + ("" if w is None else f" widen<{w:g}") + (f" p<{p:g}" if p else ""):
                 {"strategy": "beam", "n_retain": n, "m_explore": m, "widen_below": w, "widen_policy": p}
                 for n, m, w, p in args.grid}
    runs: dict[tuple[str, tuple[str, str]], tuple[TransformersBackend, object]] = {}  # (setting, variant) -> ...
    for variant in variants:
        policy = load_backend(variant[0], dtype=variant[1])
        base = ToolPRMChatModel(backend=policy)
        base.bind_tools(TOOLS, tool_choice="any").invoke("warm-up: weather in Rome?")  # load + compile once
        for name, upd in settings.items():
            runs[(name, variant)] = (policy, base.model_copy(update=upd).bind_tools(TOOLS, tool_choice="any"))
    totals = {key: [0.0, 0, 0] for key in runs}
    answers: dict[tuple[str, tuple[str, str]], list[str]] = {key: [] for key in runs}
    for q in QUESTIONS:  # settings interleaved per question, so load on the machine hits all alike
        for key, (policy, b) in runs.items():
            policy.clear_prompt_cache()  # every call encodes its prompt: no setting inherits another's
            wall, t_in, t_out, answer = call(b, q)
            totals[key][0] += wall
            totals[key][1] += t_in
            totals[key][2] += t_out
            answers[key].append(answer)
    first = ("constrained greedy", variants[0])
    g_wall = totals[first][0]
    k = len(QUESTIONS)
    columns = ["strategy", "wall s / question", "x greedy", "policy tokens fed / question", "tokens sampled / question"]
    columns += [f"answers as {label(variants[0])}"] if several else []
    lines = [
        f"Machine: {platform.processor() or platform.machine()}, torch threads {torch.get_num_threads()}, "
        f"{os.cpu_count()} CPUs; policy {', '.join(args.model)}; {k} questions, 5 tools, "
        "verifier scorer, tool_choice='any'; settings interleaved per question; each call encodes its "
        "prompt from scratch (prompt cache cleared).",
        "",
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
    ]
    for (name, variant), (wall, t_in, t_out) in totals.items():
        cells = [f"{name} ({label(variant)})" if several else name, f"{wall / k:.2f}", f"{wall / g_wall:.2f}",
                 f"{t_in / k:.0f}", f"{t_out / k:.0f}"]
        if several:
            same = sum(a == b for a, b in zip(answers[(name, variant)], answers[(name, variants[0])]))
            cells.append(f"{same}/{k}")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"Answers of constrained greedy ({label(variants[0]) or args.model[0]}):",
              *[f"- {q} -> {a}" for q, a in zip(QUESTIONS, answers[first])]]
    table = "\n".join(lines)
    print(table)
    if args.out:
        command = shlex.join(["python", "benchmarks/search_cost.py", *sys.argv[1:]])
        args.out.write_text(f"# Search cost\n\nCommand: `{command}`\n\n{table}\n")


if __name__ == "__main__":
    main()
