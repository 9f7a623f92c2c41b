"""The ``toolprm`` command line: ``toolprm demo`` runs a real bind_tools call and prints the search."""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from collections.abc import Sequence
from typing import Any, Literal

from langchain_core.tools import tool

from .data.dataset import add_build_parser
from .evaluation.runner import add_eval_parser
from .training.prm import add_eval_prm_parser, add_train_parser
from .training.sft import add_train_policy_parser


@tool
def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> str:
    """Get the current weather in a city."""
    return f"Sunny, 21 degrees {unit} in {city}."


@tool
def convert_currency(amount: float, from_currency: str, to_currency: str) -> str:
    """Convert an amount of money from one currency to another (ISO codes such as USD, EUR)."""
    return f"{amount} {from_currency} is about {amount * 0.92:.2f} {to_currency}."


DEMO_TOOLS = [get_weather, convert_currency]


TRACE_LEGEND = """How to read a search trace:
  each step lists the candidate next steps the policy proposed. #N names a candidate (and the path
  it starts), "from #P" the path it extends (#0: the empty list).
  logp  log-probability of the step's text under the policy, in its own tokens (0 = certain)
  score the scorer's judgement of this step, in [0, 1], with its reason
  path  the path's rank: its step scores aggregated (min by default), x p(path)^policy_weight
  *     kept: an open path retained for the next step, or a closed list for the final comparison
The chosen list is the closed one with the best path score (ties: the likelier one)."""


def format_trace(trace: list[dict[str, Any]]) -> str:
    """A readable table of a search trace (see ``TRACE_LEGEND``): every candidate, where it comes
    from, its log-probability, score and reason, and whether it was kept."""
    lines = []
    for entry in trace:
        if "chosen" in entry:
            lines.append("chosen: " + "".join(entry["chosen"]))
            lines.append("step scores: " + ", ".join(f"{s:.2f}" for s in entry["scores"]))
            continue
        lines.append(f"step {entry['depth']}:" + (f" {entry['note']}" if entry.get("note") else ""))
        for c in entry["candidates"]:
            mark = "*" if c["kept"] else " "
            why = f" ({c['why']})" if c.get("why") else ""
            lines.append(f"  {mark} #{c['id']:<3} from #{c['parent']:<3} {c['tag']:<12} {c['text']!r:<48} "
                         f"logp {c['logprob']:7.2f}  score {c['score']:.2f}{why}  path {c['path_score']:.2f}")
    return "\n".join(lines)


def _demo(args: argparse.Namespace) -> int:
    from .core.chat_model import ToolPRMChatModel

    llm = ToolPRMChatModel(model=args.model, prm=args.prm, strategy=args.strategy, n_retain=args.n,
                           m_explore=args.m, seed=args.seed, policy_weight=args.policy_weight)
    questions = args.question or ["What's the weather like in Tokyo?", "How much is 250 US dollars in euros?"]
    bound = llm.bind_tools(DEMO_TOOLS)
    print(TRACE_LEGEND)
    for q in questions:
        start = time.perf_counter()
        msg = bound.invoke(q)
        took = time.perf_counter() - start
        print(f"\n=== {q}")
        print(format_trace(msg.response_metadata.get("search", {}).get("trace", [])))
        print(f"tool calls: {json.dumps([{'name': c['name'], 'args': c['args']} for c in msg.tool_calls])}")
        if msg.content:
            print(f"reply: {msg.content}")
        print(f"usage: {msg.usage_metadata}  ({took:.1f} s)")
    return 0


def _prepare(args: argparse.Namespace) -> int:
    from .backends.embedded import ensure_embedded_model

    # An explicit prepare re-hashes every file, whatever an earlier check stamped.
    print(ensure_embedded_model(force=args.force, full_check=True))
    return 0


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Show each option's default, even where it has no help text, unless it has none (None), it is
    a flag (--force) or its help already says it."""

    def _format_action(self, action: argparse.Action) -> str:
        if action.help is None and self._shows_default(action):
            action = copy.copy(action)
            action.help = "(default: %(default)s)"
        return super()._format_action(action)

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if not self._shows_default(action) or "default" in (action.help or ""):
            return action.help
        return f"{action.help} (default: %(default)s)"

    @staticmethod
    def _shows_default(action: argparse.Action) -> bool:
        return (bool(action.option_strings) and action.nargs != 0
                and action.default is not None and action.default is not argparse.SUPPRESS)


class _Parser(argparse.ArgumentParser):
    """Every parser, the subcommands' ones too (``add_parser`` builds them of the parent's class),
    lists defaults in ``--help``."""

    def __init__(self, *args: Any, formatter_class: Any = _HelpFormatter, **kwargs: Any) -> None:
        super().__init__(*args, formatter_class=formatter_class, **kwargs)


DESCRIPTION = """Reliable tool calls from a small local model: a LangChain chat model whose tool calls are
built by a PRM-guided beam search. Start with "toolprm demo" (it converts the embedded Gemma 3 270M
once, about 2 minutes, or run "toolprm prepare" first)."""


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="toolprm", description=DESCRIPTION)
    parser.add_argument("--threads", type=int, help="CPU threads for torch (on a busy machine 1 is often faster)")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="answer sample questions with bind_tools and print the search trace")
    demo.add_argument("--question", "-q", action="append", help="a question (repeatable)")
    demo.add_argument("--model", help="policy: local model directory (default: embedded Gemma 3 270M)")
    demo.add_argument("--prm", help="a trained PRM directory, or \"toolprm\" for the shipped one (default: the verifier)")
    demo.add_argument("--strategy", default="beam", choices=["beam", "greedy", "best_of_n", "majority"],
                      help="decoding strategy")
    demo.add_argument("--n", type=int, default=1, help="beams retained (N)")
    demo.add_argument("--m", type=int, default=4, help="candidates explored per beam (M)")
    demo.add_argument("--seed", type=int, default=0, help="sampling seed")
    demo.add_argument("--policy-weight", type=float, default=0.0,
                      help="rank paths by score x p(path)^W (0.2 with --prm toolprm: see docs/prm.md)")
    demo.set_defaults(func=_demo)
    prep = sub.add_parser("prepare", help="convert the embedded Gemma 3 270M to its safetensors cache "
                                          "(or check every digest of the cache already there)")
    prep.add_argument("--force", action="store_true", help="rebuild the cache even if present")
    prep.set_defaults(func=_prepare)
    add_eval_parser(sub)
    add_build_parser(sub)
    add_train_parser(sub)
    add_train_policy_parser(sub)
    add_eval_prm_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv  # for commands that record how they were run (dataset cards)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    try:
        return args.func(args)
    except (ValueError, OSError, RuntimeError) as e:
        # DataFileError is a ValueError, EmbeddedModelError a RuntimeError, PermissionError an OSError.
        print(f"toolprm: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("toolprm: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
