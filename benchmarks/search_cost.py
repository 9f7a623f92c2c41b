"""Cost of fine-grained search against constrained greedy on the same questions, same run.

    python benchmarks/search_cost.py --out docs/search_cost.md

Runs the embedded Gemma 3 270M (or --model) on a fixed set of questions, for constrained
greedy and a small (N, M) grid of fine-grained beam search with the verifier, and reports
wall time and policy tokens per question, with each setting's ratio to greedy.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path
from typing import Literal

import torch
from langchain_core.tools import tool

from langchain_toolprm import ToolPRMChatModel


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
GRID = [(1, 2), (1, 4), (1, 8), (2, 4), (4, 4)]


def run(llm: ToolPRMChatModel) -> tuple[float, int, int, list[str]]:
    bound = llm.bind_tools(TOOLS, tool_choice="any")
    wall, tokens_in, tokens_out, answers = 0.0, 0, 0, []
    for q in QUESTIONS:
        start = time.perf_counter()
        msg = bound.invoke(q)
        wall += time.perf_counter() - start
        meta = msg.response_metadata
        tokens_in += meta["policy_input_tokens"]
        tokens_out += msg.usage_metadata["output_tokens"]
        answers.append(str([(c["name"], c["args"]) for c in msg.tool_calls]))
    return wall, tokens_in, tokens_out, answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="policy directory (default: embedded Gemma 3 270M)")
    parser.add_argument("--out", type=Path, help="write the markdown table here")
    args = parser.parse_args()
    base = ToolPRMChatModel(model=args.model)
    base.bind_tools(TOOLS, tool_choice="any").invoke("warm-up: weather in Rome?")  # load + compile once
    rows = []
    g_wall, g_in, g_out, g_answers = run(base.model_copy(update={"strategy": "greedy"}))
    rows.append(("constrained greedy", g_wall, g_in, g_out))
    for n, m in GRID:
        wall, t_in, t_out, _ = run(base.model_copy(update={"strategy": "beam", "n_retain": n, "m_explore": m}))
        rows.append((f"beam N={n} M={m}", wall, t_in, t_out))
    k = len(QUESTIONS)
    lines = [
        f"Machine: {platform.processor() or platform.machine()}, torch threads {torch.get_num_threads()}, "
        f"{os.cpu_count()} CPUs; policy {base.model_name}; {k} questions, 5 tools, verifier scorer.",
        "",
        "| strategy | wall s / question | x greedy | policy tokens fed / question | tokens sampled / question |",
        "|---|---|---|---|---|",
    ]
    for name, wall, t_in, t_out in rows:
        lines.append(f"| {name} | {wall / k:.2f} | {wall / g_wall:.2f} | {t_in / k:.0f} | {t_out / k:.0f} |")
    lines += ["", "Greedy answers:", *[f"- {q} -> {a}" for q, a in zip(QUESTIONS, g_answers)]]
    table = "\n".join(lines)
    print(table)
    if args.out:
        args.out.write_text(f"# Search cost\n\nCommand: `python benchmarks/search_cost.py --out {args.out}`\n\n{table}\n")


if __name__ == "__main__":
    main()
