"""Does the order of the tool list decide the function? Hand-written questions, several shuffles.

    python benchmarks/tool_order.py --strategy beam greedy --orders 3 --out docs/tool_order.md

Every question of ``langchain_toolprm.evaluation.tool_order`` is answered with the same tools listed in
``--orders`` orders (as given, reversed, random); a question is order-stable when every order
calls the same functions (as a multiset), and right when those are the expected ones.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time

from langchain_toolprm import ToolPRMChatModel
from langchain_toolprm.core.embedded import EMBEDDED_BASE, EMBEDDED_TUNED
from langchain_toolprm.evaluation.tool_order import ORDER_QUESTIONS, ORDER_TOOLS, shuffles


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--strategy", nargs="+", default=["beam", "greedy"])
    parser.add_argument("--orders", type=int, default=3)
    parser.add_argument("--model", nargs="+", default=[EMBEDDED_TUNED],
                        help=f"policies, e.g. {EMBEDDED_TUNED} (the package's default), {EMBEDDED_BASE} or a directory")
    parser.add_argument("--out", help="write the markdown table here too")
    args = parser.parse_args()
    if args.orders < 2:
        parser.error("--orders must be at least 2")
    lines = [f"Command: `{shlex.join(['python', 'benchmarks/tool_order.py', *sys.argv[1:]])}`", "",
             "| strategy | question | expected | chosen per order | stable | right in every order |",
             "|---|---|---|---|---|---|"]
    totals = {}
    llms = {model: ToolPRMChatModel(model=model) for model in args.model}  # each loads its policy once
    for model, strategy in ((m, s) for m in args.model for s in args.strategy):
        llm = llms[model]
        name = f"{model} {strategy}" if len(args.model) > 1 else strategy
        stable = right = 0
        start = time.perf_counter()
        for question, expected in ORDER_QUESTIONS:
            chosen = []
            for order in shuffles(ORDER_TOOLS, args.orders):
                msg = llm.bind_tools(order).invoke(question, strategy=strategy)
                chosen.append(tuple(sorted(c["name"] for c in msg.tool_calls)))
            same = len(set(chosen)) == 1
            ok = all(c == tuple(sorted(expected)) for c in chosen)
            stable += same
            right += ok
            shown = " / ".join(",".join(c) or "[]" for c in chosen)
            lines.append(f"| {name} | {question} | {','.join(expected) or '[]'} | {shown} | {'yes' if same else 'no'} "
                         f"| {'yes' if ok else 'no'} |")
        totals[name] = (stable, right, time.perf_counter() - start)
    lines += ["", "| strategy | order-stable questions | right in every order | seconds |", "|---|---|---|---|"]
    lines += [f"| {s} | {a} of {len(ORDER_QUESTIONS)} | {b} of {len(ORDER_QUESTIONS)} | {t:.0f} |"
              for s, (a, b, t) in totals.items()]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
