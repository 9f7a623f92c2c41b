"""The same BFCL items through the in-process backend and through llama.cpp's server, side by side.

For each non-live BFCL category: constrained greedy and beam N=1 M=4 in process
(transformers) and on a server serving the embedded GGUF (llama.cpp's own ``llama-server`` or
llama-cpp-python's, ``--engine``; one run each, the same items and seeds), and the engine's own
JSON-Schema-constrained greedy without our search (the call list's schema as a GBNF grammar, one
request without log-probabilities: what a user of the engine has today). Accuracy and wall time
per item go to per-item JSONL files under ``--out/<where>/``; the table gives each setting's
accuracy and mean seconds per item, and the served/in-process time ratio. Resumes.

    GGUF="$(python -c 'from langchain_toolprm.core.embedded import embedded_gguf; print(embedded_gguf())')"
    llama-server --model "$GGUF" --ctx-size 2048 --threads 1 --parallel 1 --port 8765 &
    python benchmarks/served.py --engine llama-server --base-url http://127.0.0.1:8765 --limit 50 --out runs/served
    python -m llama_cpp.server --model "$GGUF" --n_ctx 2048 --n_threads 1 --interrupt_requests false --port 8766 &
    python benchmarks/served.py --engine llama-cpp-python --base-url http://127.0.0.1:8766 --limit 50 --out runs/served

``--where in-process`` / ``--where server`` run one side (two lanes at once); a later run
without it reads both sides' files and prints the table.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from langchain_toolprm.backends.served import DIALECTS, ServedBackend
from langchain_toolprm.core.loader import load_backend, load_scorer
from langchain_toolprm.core.prompts import build_prompt
from langchain_toolprm.data.records import append_jsonl, call_to_dict, read_jsonl
from langchain_toolprm.evaluation.baselines import parse_calls
from langchain_toolprm.evaluation.benchmarks import BFCL_CATEGORIES, load_benchmark, scored_as
from langchain_toolprm.evaluation.metrics import sign_test
from langchain_toolprm.evaluation.runner import run_eval
from langchain_toolprm.evaluation.specs import EvalSpec

CATEGORIES = [c for c in BFCL_CATEGORIES if not c.startswith("live_")]
SPECS = {"greedy": EvalSpec("greedy"), "beam N=1 M=4": EvalSpec("beam", n=1, m=4)}
ENGINE = "engine json-schema greedy"


def call_list_schema(tools: list[dict]) -> dict:
    """The JSON list of calls the embedded model's prompt asks for, as one JSON Schema."""
    items = [{"type": "object", "properties": {"name": {"const": t["function"]["name"]},
                                               "arguments": t["function"].get("parameters") or {"type": "object"}},
              "required": ["name", "arguments"]} for t in tools]
    return {"type": "array", "items": {"anyOf": items}}


def engine_greedy(backend: ServedBackend, examples: list, path: Path) -> None:
    """The engine alone: the chat model's prompt, the whole call list under one grammar, greedy,
    one plain request (no log-probabilities, which a user of the engine would not ask for)."""
    done = {r["id"] for r in read_jsonl(path)} if path.exists() else set()
    for ex in examples:
        if ex.id in done:
            continue
        prompt = build_prompt(backend.tokenizer, ex.lc_messages(), ex.specs())
        start = time.perf_counter()
        text = backend.dialect.read(backend.replicas.post(*backend.dialect.complete(  # "Calls: [...]"
            prompt.text, max_tokens=256, temperature=0.0, seed=None, schema=call_list_schema(list(ex.tools)),
            lead=" ", logprobs=False)), prompt.text, False).text
        calls = parse_calls(text, prompt.call_format)
        record = {"id": ex.id, "strategy": ENGINE, "raw": text,
                  "calls": None if calls is None else [call_to_dict(c) for c in calls],
                  **scored_as("bfcl").score(ex, calls), "seconds": round(time.perf_counter() - start, 3)}
        append_jsonl(path, [record])


def paired(rows: list[tuple[str, str, str, list[dict]]], served: str) -> str:
    """Per category, settings compared item by item over the items both ran (a run still going is
    not compared on fewer): how many each got right, right only in one (exact sign test), the same
    call list, and the time ratio (first over second, summed over those items)."""
    pairs = [(("greedy", served), ("greedy", "in process")), (("beam N=1 M=4", served), ("beam N=1 M=4", "in process")),
             ((ENGINE, served), ("greedy", "in process")), ((ENGINE, served), ("beam N=1 M=4", "in process")),
             (("beam N=1 M=4", served), (ENGINE, served)), (("beam N=1 M=4", served), ("greedy", served))]
    out = ["| category | first / second | items | correct (first / second) | only first / only second | sign test p "
           "| same calls | time first / second |", "|---|---|---|---|---|---|---|---|"]
    for cat in dict.fromkeys(c for c, *_ in rows):
        got = {(n, w): {r["id"]: r for r in recs} for c, n, w, recs in rows if c == cat}
        for a, b in pairs:
            if a not in got or b not in got:
                continue
            first, second = got[a], got[b]
            ids = first.keys() & second.keys()
            if not ids:
                continue
            right = [sum(bool(run[i].get("correct")) for i in ids) for run in (first, second)]
            only = [sum(bool(x[i].get("correct")) and not y[i].get("correct") for i in ids)
                    for x, y in ((first, second), (second, first))]
            same = sum(first[i].get("calls") == second[i].get("calls") for i in ids)
            ratio = sum(first[i]["seconds"] for i in ids) / max(sum(second[i]["seconds"] for i in ids), 1e-9)
            out.append(f"| {cat} | {a[0]} ({a[1]}) / {b[0]} ({b[1]}) | {len(ids)} | {right[0]} / {right[1]} | "
                       f"{only[0]} / {only[1]} | {sign_test(*only):.2g} | {same} | {ratio:.2f} |")
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--base-url", help="a server of the embedded GGUF")
    p.add_argument("--engine", default="llama-server", choices=list(DIALECTS),
                   help="which server --base-url is (its results go to --out/<engine>/)")
    p.add_argument("--limit", type=int, default=50, help="items per category (the first N)")
    p.add_argument("--category", action="append", help="BFCL categories (default: the five non-live ones)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--setting", action="append", choices=[*SPECS, "engine"],
                   help="settings to run (default: all); the engine's own greedy is 'engine'")
    p.add_argument("--where", choices=["in-process", "server"], help="run one side only (default: both)")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    if args.where != "in-process" and not args.base_url:
        p.error("--base-url is needed unless --where in-process")
    torch.set_num_threads(args.threads)
    served = args.engine
    backends = {"in process": load_backend() if args.where != "server" else None,
                served: load_backend(kind="served", base_url=args.base_url, engine=served, max_context=2048)
                if args.where != "in-process" else None}
    scorer = load_scorer()
    settings = args.setting or [*SPECS, "engine"]
    rows = []
    for cat in args.category or CATEGORIES:
        examples = load_benchmark("bfcl", cat, limit=args.limit)
        ids = {e.id for e in examples}
        for name, spec in SPECS.items():
            for where, backend in backends.items():
                path = args.out / where.replace(" ", "_").replace(".", "") / f"{cat}_{spec.name}.jsonl"
                if backend is not None and name in settings:
                    run_eval(examples, spec, path, policy=backend, scorer=scorer, progress=False)
                if path.exists():
                    rows.append((cat, name, where, [r for r in read_jsonl(path) if r["id"] in ids]))
        path = args.out / served / f"{cat}_engine.jsonl"
        if backends[served] is not None and "engine" in settings:
            engine_greedy(backends[served], examples, path)
        if path.exists():
            rows.append((cat, ENGINE, served, [r for r in read_jsonl(path) if r["id"] in ids]))
    print("| category | setting | where | items | accuracy | s/item |")
    print("|---|---|---|---|---|---|")
    for cat, name, where, recs in rows:
        acc = sum(bool(r.get("correct")) for r in recs) / max(len(recs), 1)
        secs = sum(r["seconds"] for r in recs) / max(len(recs), 1)
        print(f"| {cat} | {name} | {where} | {len(recs)} | {100 * acc:.1f}% | {secs:.2f} |")
    print()
    print(paired(rows, served))
    flags = [f"--{k.replace('_', '-')} {x}" for k, v in vars(args).items() if v not in (None, [])
             for x in (v if isinstance(v, list) else [v])]
    print(json.dumps({"command": "python benchmarks/served.py " + " ".join(flags)}))


if __name__ == "__main__":
    main()
