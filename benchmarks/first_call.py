"""Where the first call's time goes, in a fresh process, against the second call of the same process.

    python benchmarks/first_call.py --out docs/first_call.md

Phases of the first call (each timed on its own): loading the tokenizer and weights, the
per-process tables over the vocabulary (xgrammar's tokenizer info, token spellings), compiling
the value grammars of the tools, encoding the prompt (static head, then the question), and
the search. The second and third calls show what is cached within a process (the head's
encoding, compiled grammars, tables); the vocabulary tables are also kept on disk, so a second
process reads them instead of building them (run the command twice). Long prompts show the
encoding cost that ``max_prompt_tokens`` guards against.
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import contextmanager
from typing import Any

import torch

from langchain_toolprm import ToolPRMChatModel
from langchain_toolprm.backends.transformers import TransformersBackend
from langchain_toolprm.cli import DEMO_TOOLS
from langchain_toolprm.core.embedded import ensure_embedded_model
from langchain_toolprm.core.proposer import Constraints
from langchain_toolprm.core.schema import normalize_tools
from langchain_toolprm.core.search import SearchConfig, prepare_problem, run_search
from langchain_toolprm.core.verifier import VerifierScorer

ROWS: list[tuple[str, float]] = []


@contextmanager
def phase(name: str) -> Any:
    start = time.perf_counter()
    yield
    ROWS.append((name, time.perf_counter() - start))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--long", type=int, nargs="*", default=[1024, 2048, 4096, 8192],
                        help="prompt lengths (tokens) whose encoding is timed on its own")
    parser.add_argument("--out", help="write the markdown table here too")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    question = "What's the weather like in Tokyo?"
    with phase("embedded model present (conversion done earlier)"):
        path = ensure_embedded_model()
    with phase("load tokenizer and weights"):
        policy = TransformersBackend.from_pretrained(path)
    with phase("tables over the vocabulary (xgrammar tokenizer info, spellings)"):
        policy.warm_up()
    specs = normalize_tools(DEMO_TOOLS)
    with phase("compile the value grammars of 2 tools (5 parameters)"):
        for spec in specs:
            for p in spec.params:
                policy._grammar('": ', p.schema, ",}")
    from langchain_core.messages import HumanMessage

    rules = Constraints(tuple(specs))
    with phase("encode the first prompt (static head + question)"):
        problem, _ = prepare_problem(policy, [HumanMessage(question)], specs, rules, 128)
    with phase("search (beam N=1 M=4, verifier)"):
        run_search(policy, VerifierScorer(), problem, SearchConfig())
    with phase("second call, same process: encode + search"):
        policy.clear_prompt_cache()  # keeps the pinned head and the tables, drops the question's state
        problem, _ = prepare_problem(policy, [HumanMessage("How much is 250 US dollars in euros?")], specs, rules, 128)
        run_search(policy, VerifierScorer(), problem, SearchConfig())
    llm = ToolPRMChatModel(backend=policy)
    with phase("third call through ToolPRMChatModel.bind_tools(...).invoke"):
        llm.bind_tools(DEMO_TOOLS).invoke("Is it sunny in Lyon?")
    sentence = policy.encode(" The quick brown fox jumps over the lazy dog.")
    for n in args.long:
        ids = policy.encode(question, special=True) + sentence * (n // len(sentence) + 1)
        policy.clear_prompt_cache(pinned=True)
        with phase(f"encode a prompt of {n} tokens (no cache)"):
            policy.prefill(ids[:n])
    total_first = sum(t for _, t in ROWS[:6])
    long = " ".join(map(str, args.long))
    lines = [f"Command: `python benchmarks/first_call.py --threads {args.threads} --long {long}`", "",
             "| phase | seconds |", "|---|---|"]
    lines += [f"| {name} | {t:.2f} |" for name, t in ROWS]
    lines += [f"| **first call in a fresh process (the first six rows)** | **{total_first:.2f}** |"]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
