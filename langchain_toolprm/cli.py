"""The ``toolprm`` command line: ``toolprm demo`` runs a real bind_tools call and prints the search.

``eval`` and ``grid`` are parsed here into plain :class:`~langchain_toolprm.evaluation.specs.EvalSpec`
values, so the evaluation modules stay callable from Python without an argparse namespace.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from langchain_core.tools import tool

from .core.backend import Backend
from .core.embedded import MODEL_HELP, SHIPPED_PRM
from .core.loader import load_backend
from .core.search import STRATEGY_NAMES
from .core.verifier import ABLATABLE, VerifierScorer
from .data.dataset import add_build_parser
from .data.records import DataFileError
from .evaluation.agent_eval import (
    AGENT_BENCHMARKS,
    BENCHMARK,
    agent_report,
    agent_results,
    evaluate_agent,
    load_turns,
    rouge_scorer,
)
from .evaluation.benchmarks import BENCHMARKS, get_benchmark, load_benchmark
from .evaluation.plots import plot_grid
from .evaluation.reports import summarize
from .evaluation.runner import make_scorer, run_eval, run_grid
from .evaluation.specs import STRATEGIES, EvalSpec, one_search_each, scorer_label, slug
from .training.prm import add_eval_prm_parser, add_train_parser
from .training.reward_head import add_train_head_parser
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
                           m_explore=args.m, seed=args.seed, policy_weight=args.policy_weight,
                           widen_below=args.widen_below)
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
    from .core.embedded import ensure_embedded_model

    # An explicit prepare re-hashes every file, whatever an earlier check stamped.
    print(ensure_embedded_model(force=args.force, full_check=True))
    return 0


# ---- eval and grid --------------------------------------------------------------------------------
def _split(values: Sequence[str] | None) -> list[str]:
    """Repeatable options that also take comma lists: ``--x a --x b,c`` -> [a, b, c]."""
    return [v.strip() for value in values or () for v in value.split(",") if v.strip()]


def _categories(benchmark: str, given: Sequence[str] | None) -> list[str | None]:
    """The ``--category`` values checked against the benchmark's (all unknown ones named at once),
    else its defaults; ``[None]`` for a benchmark without categories."""
    bench = get_benchmark(benchmark)
    cats = _split(given)
    if not bench.categories:
        if cats:
            raise ValueError(f"{benchmark} has no categories (got {', '.join(cats)})")
        return [None]
    unknown = [c for c in cats if c not in bench.categories]
    if unknown:
        raise ValueError(f"unknown {benchmark.upper()} category {', '.join(unknown)}; "
                         f"valid: {', '.join(bench.categories)}")
    return list(dict.fromkeys(cats) or bench.default_categories)


def _scorer_args(value: str) -> dict[str, Any]:
    """``verifier``, a PRM path, ``combined:PATH`` (verifier x PRM) or ``tiebreak:PATH`` (the
    verifier, its ties broken by the PRM) -> EvalSpec fields."""
    if value == "verifier":
        return {"scorer": "verifier"}
    kind, path = value.split(":", 1) if value.startswith(("combined:", "tiebreak:")) else ("prm", value)
    if path != SHIPPED_PRM and not Path(path).exists():
        raise FileNotFoundError(f"no PRM at {path} (--scorer takes verifier, {SHIPPED_PRM}, a PRM path, "
                                f"combined:PATH or tiebreak:PATH)")
    return {"scorer": kind, "prm": path}


def _load_policy(args: argparse.Namespace) -> Backend:
    """The per-process tables over the vocabulary are built as it loads, so the first item of the
    first strategy is not charged for them."""
    return load_backend(args.model, device=args.device)


def _run_command(args: argparse.Namespace) -> int:
    """``eval`` and ``grid``: check every argument and load the data before the models load."""
    try:
        categories = _categories(args.benchmark, args.category)
        base = {"seed": args.seed, "temperature": args.temperature, "aggregation": args.aggregation,
                "policy_weight": args.policy_weight, "widen_below": args.widen_below,
                "widen_policy": args.widen_policy, "ablate": ",".join(sorted(_split([args.ablate or ""]))),
                **_scorer_args(args.scorer)}
        if args.command == "grid":
            ns, ms = ([int(x) for x in _split([v])] for v in (args.ns, args.ms))
            specs = [EvalSpec("beam", n=n, m=m, **base) for n in ns for m in ms]
        else:
            names = dict.fromkeys(_split(args.strategy) or ["greedy", "beam"])
            specs = [EvalSpec(s, n=args.n, m=args.m, samples=args.samples, **base) for s in names]  # type: ignore[arg-type]
        if args.limit < 0:
            raise ValueError(f"--limit must be 0 (every item) or more, not {args.limit}")
        k, n = getattr(args, "shard", (0, 1))  # grid has no shards
        data = {c: load_benchmark(args.benchmark, c, args.data_dir, args.limit or None)[k::n] for c in categories}
        empty = [c or args.benchmark for c, exs in data.items() if not exs]
        if empty:
            raise DataFileError(f"no items loaded for {', '.join(empty)}")
        needs_prm = any(s.scored for s in specs)
        policy = _load_policy(args)
        scorer = make_scorer(specs[0], prm_base=args.prm_base, policy=policy) if needs_prm else VerifierScorer()
    except (ValueError, OSError) as e:  # DataFileError is a ValueError; missing models raise OSError
        print(f"toolprm {args.command}: error: {e}", file=sys.stderr)
        return 2
    folders = []
    for category, examples in data.items():
        out_dir = Path(args.out) / args.benchmark / (category or "all")
        folders.append(out_dir)
        if args.command == "grid":
            run_grid(examples, ns, ms, out_dir, policy=policy, scorer=scorer, base=specs[0], resume=args.resume)
            print(f"{category or args.benchmark}: {plot_grid(out_dir, scorer=scorer_label(specs[0]))}")
            continue
        shard = f".shard-{k}-of-{n}" if n > 1 else ""
        for first, *rest in one_search_each(specs):  # best_of_n and majority: one set of samples
            run_eval(examples, first, out_dir / f"{slug(first.name)}{shard}.jsonl", policy=policy, scorer=scorer,
                     resume=args.resume, also=[(s, out_dir / f"{slug(s.name)}{shard}.jsonl") for s in rest])
    # With earlier runs in the same folders (e.g. greedy for the ratios), scored by today's metrics.
    print(summarize(folders, examples=[ex for exs in data.values() for ex in exs]))
    return 0


def _shard(text: str) -> tuple[int, int]:
    """``"K/N"`` -> (K, N), with 0 <= K < N."""
    try:
        k, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard takes K/N (e.g. 0/4), not {text!r}") from None
    if not 0 <= k < n:
        raise argparse.ArgumentTypeError(f"--shard {text}: K must be at least 0 and below N")
    return k, n


def add_eval_parser(subparsers: Any) -> None:
    """Register ``eval`` (strategies x categories) and ``grid`` (beam search over N x M)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--benchmark", required=True, choices=list(BENCHMARKS))
    common.add_argument("--category", action="append",
                        help="BFCL category, repeatable or comma list (default: the non-live ones)")
    common.add_argument("--scorer", default="verifier",
                        help=f"verifier, a PRM path or {SHIPPED_PRM} (the shipped ToolPRM), combined:PATH "
                             f"(verifier x that PRM) or tiebreak:PATH (the verifier, its ties broken by that PRM)")
    common.add_argument("--prm-base", help="base model for a PRM adapter whose recorded base is elsewhere")
    common.add_argument("--limit", type=int, default=100, help="first items per category (0: all)")
    common.add_argument("--out", default="results", help="results folder (one JSONL per category x strategy)")
    common.add_argument("--model", help=MODEL_HELP)
    common.add_argument("--device", help="where the policy runs (cpu, cuda)")
    common.add_argument("--data-dir", help="BFCL's data folder, or the shared data folder for the Hammer sets")
    common.add_argument("--seed", type=int, default=0)
    common.add_argument("--temperature", type=float, default=0.8)
    common.add_argument("--aggregation", default="min", choices=["last", "min", "mean", "product"])
    common.add_argument("--policy-weight", type=float, default=0.0,
                        help="rank paths by score x p(path)^W (default 0: the policy only breaks ties)")
    common.add_argument("--widen-below", type=float,
                        help="adaptive exploration (beam): take the policy's likeliest step alone and explore M only "
                             "where the scorer rates it below this (docs/adaptive.md)")
    common.add_argument("--widen-policy", type=float, default=0.0,
                        help="with --widen-below: also explore M where the policy gives its likeliest step less than this")
    common.add_argument("--ablate", help=f"verifier signals to switch off, comma list of {', '.join(ABLATABLE)}")
    common.add_argument("--no-resume", dest="resume", action="store_false",
                        help="start over instead of skipping items already in the results files")
    ev = subparsers.add_parser("eval", parents=[common], help="evaluate decoding strategies on a benchmark")
    ev.add_argument("--strategy", action="append",
                    help=f"repeatable or comma list of {', '.join(STRATEGIES)} (default: greedy,beam)")
    ev.add_argument("--N", dest="n", type=int, default=1, help="beams retained by fine-grained search")
    ev.add_argument("--M", dest="m", type=int, default=4, help="candidates explored per beam")
    ev.add_argument("--samples", type=int, help="best_of_n/majority samples, token_beam beams (default N*M)")
    ev.add_argument("--shard", type=_shard, default=(0, 1), metavar="K/N",
                    help="only every N-th item from the K-th (0-based), into its own results files "
                         "(<strategy>.shard-K-of-N.jsonl): one run split over processes or machines; "
                         "reports read a folder's shards together")
    ev.set_defaults(func=_run_command)
    grid = subparsers.add_parser("grid", parents=[common], help="fine-grained beam search over an N x M grid")
    grid.add_argument("--N", dest="ns", default="1,2,4", help="comma list of N (retain)")
    grid.add_argument("--M", dest="ms", default="1,2,4,8", help="comma list of M (explore)")
    grid.set_defaults(func=_run_command)


# ---- eval-agent ------------------------------------------------------------------------------------
AGENT_STRATEGIES = ("greedy", "beam", "unconstrained")


def _agent_label(args: argparse.Namespace) -> str:
    return f"beam N={args.n} M={args.m}" if args.strategy == "beam" else args.strategy


def _run_agent_eval(args: argparse.Namespace) -> int:
    """``eval-agent``: the turns, the databases and ROUGE are checked before the policy loads."""
    from .agents.apibank import ApiBankEnv
    from .core.chat_model import ToolPRMChatModel
    from .evaluation.baselines import UnconstrainedChatModel

    try:
        if args.limit < 0:
            raise ValueError(f"--limit must be 0 (every turn) or more, not {args.limit}")
        k, n = args.shard
        turns = load_turns(args.data_dir, args.limit or None)[k::n]
        if not turns:
            raise DataFileError(f"no turns loaded for {args.benchmark}")
        ApiBankEnv(args.data_dir)  # reads every database now, not at the first turn
        rouge_scorer()
        policy = _load_policy(args)
    except (ValueError, OSError, ImportError) as e:  # DataFileError is a ValueError; missing models raise OSError
        print(f"toolprm eval-agent: error: {e}", file=sys.stderr)
        return 2
    label = _agent_label(args)
    llm = (UnconstrainedChatModel(backend=policy) if args.strategy == "unconstrained" else  # type: ignore[arg-type]
           ToolPRMChatModel(backend=policy, strategy=args.strategy, n_retain=args.n, m_explore=args.m, seed=args.seed))
    out = Path(args.out) / args.benchmark / f"{slug(label)}{f'.shard-{k}-of-{n}' if n > 1 else ''}.jsonl"
    identity = {"agent": label, "model": policy.name, "seed": args.seed}
    records = evaluate_agent(llm, turns, out, identity=identity, data_dir=args.data_dir, seed=args.seed,
                             resume=args.resume)
    if n > 1:  # the report covers every shard finished so far
        records = agent_results(out.parent, slug(label), identity)
    print(agent_report(records))
    print(f"results: {out} (messages: {out.with_name(out.stem + '.traces.jsonl')})")
    return 0


def add_eval_agent_parser(subparsers: Any) -> None:
    """Register ``eval-agent``: an agent graph over the chat model, judged by executing its calls."""
    ev = subparsers.add_parser("eval-agent", help="run the LangGraph agent on API-Bank level-1 dialogues and "
                                                  "judge each call by executing it")
    ev.add_argument("--benchmark", default=BENCHMARK, choices=AGENT_BENCHMARKS)
    ev.add_argument("--model", help=MODEL_HELP)
    ev.add_argument("--strategy", default="greedy", choices=AGENT_STRATEGIES,
                    help="the chat model's search, or unconstrained: plain greedy generation of the same policy")
    ev.add_argument("--N", dest="n", type=int, default=1, help="beams retained (beam)")
    ev.add_argument("--M", dest="m", type=int, default=4, help="candidates explored per beam (beam)")
    ev.add_argument("--limit", type=int, default=0, help="first API turns (0: all 399)")
    ev.add_argument("--out", default="results/agents",
                    help="results folder: <out>/<benchmark>/<strategy>.jsonl and .traces.jsonl")
    ev.add_argument("--data-dir", help="API-Bank's data folder (default: $TOOLPRM_APIBANK_DIR, else apibank/ in "
                    "the shared data)")
    ev.add_argument("--device", help="where the policy runs (cpu, cuda)")
    ev.add_argument("--seed", type=int, default=0, help="search and reply sampling seed; issued IDs' seed")
    ev.add_argument("--no-resume", dest="resume", action="store_false",
                    help="start over instead of skipping turns already in the results file")
    ev.add_argument("--shard", type=_shard, default=(0, 1), metavar="K/N",
                    help="only every N-th turn from the K-th (0-based), into its own results files "
                         "(<strategy>.shard-K-of-N.jsonl); the report reads every shard of the run")
    ev.set_defaults(func=_run_agent_eval)


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
    demo.add_argument("--model", help=MODEL_HELP)
    demo.add_argument("--prm", help="a trained PRM directory, or \"toolprm\" for the shipped one (default: the verifier)")
    demo.add_argument("--strategy", default="beam", choices=STRATEGY_NAMES,
                      help="decoding strategy")
    demo.add_argument("--n", type=int, default=1, help="beams retained (N)")
    demo.add_argument("--m", type=int, default=4, help="candidates explored per beam (M)")
    demo.add_argument("--seed", type=int, default=0, help="sampling seed")
    demo.add_argument("--policy-weight", type=float, default=0.0,
                      help="rank paths by score x p(path)^W (0: the policy only breaks ties; docs/prm.md)")
    demo.add_argument("--widen-below", type=float,
                      help="adaptive exploration: explore M only where the scorer rates the likeliest step below this")
    demo.set_defaults(func=_demo)
    prep = sub.add_parser("prepare", help="convert the embedded Gemma 3 270M to its safetensors cache "
                                          "(or check every digest of the cache already there)")
    prep.add_argument("--force", action="store_true", help="rebuild the cache even if present")
    prep.set_defaults(func=_prepare)
    add_eval_parser(sub)
    add_eval_agent_parser(sub)
    add_build_parser(sub)
    add_train_parser(sub)
    add_train_policy_parser(sub)
    add_eval_prm_parser(sub)
    add_train_head_parser(sub)
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
