"""Benchmark evaluation: every decoding strategy on one policy, one prompt, one cost measure.

All strategies pose the question the way the chat model does (``prepare_problem``'s prompt) to
the same ``TransformersPolicy``, so accuracy differences come from decoding alone:

- ``unconstrained``: plain greedy ``model.generate``, the text parsed into calls afterwards
  (what a user of the bare model has today);
- ``token_beam``: transformers' token-level beam search, parsed the same way;
- ``greedy``, ``best_of_n``, ``majority``, ``beam``: the package's step-level strategies.

Cost is counted in tokens, not only seconds: policy tokens fed plus sampled and scorer tokens
fed, so strategies compare across machines. Results go to one JSONL file per (benchmark,
category, strategy label), one line per item, appended as items finish: a run resumes where it
stopped and ``summarize`` can read any set of them.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import re
import sys
import time
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal, get_args

import torch
from tqdm import tqdm
from transformers import StoppingCriteria, StoppingCriteriaList

from ..backends.embedded import SHIPPED_PRM, prm_digest, resolve_prm
from ..backends.transformers import Constraints, ContextLengthError, TransformersPolicy, Usage
from ..core.prompts import CallFormat, build_prompt
from ..core.schema import ToolSchemaError, ToolSpec
from ..core.scorers import CombinedScorer, GenerativePRM, Scorer
from ..core.search import Aggregation, SearchConfig, check_policy_weight, prepare_problem, run_search
from ..core.steps import Call
from ..core.verifier import ABLATABLE, VerifierScorer
from ..data.records import (
    DataFileError,
    ToolExample,
    append_jsonl,
    call_from_dict,
    call_to_dict,
    read_jsonl,
    write_jsonl,
)
from .benchmarks import BENCHMARKS, BFCL_CATEGORIES, load_benchmark
from .metrics import aggregate_hammer, score_item

EvalStrategy = Literal["unconstrained", "greedy", "best_of_n", "majority", "token_beam", "beam"]
STRATEGIES: tuple[str, ...] = get_args(EvalStrategy)
TEXT_STRATEGIES = ("unconstrained", "token_beam")  # decode free text with model.generate
_SAMPLES = ("token_beam", "best_of_n", "majority")  # sized by ``samples`` (default N*M)
_SEARCH = {"temperature", "aggregation", "policy_weight", "max_value_tokens", "max_calls", "seed", "scorer", "prm",
           "ablate"}
_RELEVANT: dict[str, set[str]] = {  # the spec fields each strategy's result depends on
    "unconstrained": {"max_new_tokens"},
    "token_beam": {"max_new_tokens", "samples"},
    "greedy": {"max_value_tokens", "max_calls"},
    "best_of_n": _SEARCH | {"samples"},
    "majority": _SEARCH | {"samples"},
    "beam": _SEARCH | {"n", "m"},
}


@dataclass(frozen=True)
class EvalSpec:
    """One decoding setting. ``samples`` is best-of-N/majority's sample count and token beam's
    beam count; None matches the fine-grained search's candidate budget N*M.

    ``scorer`` is "verifier", "prm" or "combined" (verifier x PRM); the last two need ``prm``.
    """

    strategy: EvalStrategy
    scorer: Literal["verifier", "prm", "combined"] = "verifier"
    prm: str | None = None
    n: int = 1
    m: int = 4
    samples: int | None = None
    temperature: float = 0.8
    aggregation: Aggregation = "min"
    policy_weight: float = 0.0
    max_value_tokens: int = 32
    max_new_tokens: int = 256
    max_calls: int = 4
    seed: int | None = 0
    ablate: str = ""
    """Verifier signals switched off, a sorted comma list of ``ABLATABLE`` (for ablation rows)."""
    label: str | None = None

    def __post_init__(self) -> None:
        unknown = [a for a in self.ablate.split(",") if a and a not in ABLATABLE]
        if unknown:
            raise ValueError(f"unknown verifier signal(s) {', '.join(unknown)}: choose from {', '.join(ABLATABLE)}")
        if self.ablate and self.scorer == "prm":
            raise ValueError("--ablate switches verifier signals off: it needs the verifier or combined scorer")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {self.strategy!r}: choose from {', '.join(STRATEGIES)}")
        if self.scorer not in ("verifier", "prm", "combined"):
            raise ValueError(f"unknown scorer {self.scorer!r}: verifier, prm or combined")
        if self.scorer != "verifier" and not self.prm:
            raise ValueError(f"scorer {self.scorer!r} needs a PRM path")
        if min(self.n, self.m, self.samples or 1) < 1:
            raise ValueError("N, M and samples must be at least 1")
        check_policy_weight(self.policy_weight)

    @property
    def budget(self) -> int:
        """Candidates per item for the sampling baselines and token beams: ``samples``, else N*M."""
        return self.samples or self.n * self.m

    def canonical(self) -> EvalSpec:
        """The spec with the fields its strategy ignores reset, so results that cannot differ
        share one label and one file (greedy under any scorer, say)."""
        spec = replace(self, samples=self.budget) if self.strategy in _SAMPLES else self
        keep = _RELEVANT[self.strategy] | {"strategy", "label"}
        return replace(spec, **{f.name: f.default for f in fields(EvalSpec) if f.name not in keep})

    @property
    def name(self) -> str:
        """The label used in tables and file names."""
        if self.label:
            return self.label
        spec = self.canonical()
        weight = f" pw={spec.policy_weight:g}" if spec.policy_weight else ""
        if spec.strategy == "beam":
            return f"beam N={spec.n} M={spec.m} {scorer_label(spec)}{weight}"
        if spec.strategy in ("best_of_n", "majority"):
            return f"{spec.strategy} {spec.samples} {scorer_label(spec)}{weight}"
        if spec.strategy == "token_beam":
            return f"token_beam {spec.samples}"
        return spec.strategy

    def identity(self) -> dict[str, Any]:
        """What a results file must have been produced with for a resumed run to append to it.
        ``policy_weight`` came later: left out at its default, files written before it resume."""
        identity = asdict(replace(self.canonical(), label=None))
        for late in ("policy_weight", "ablate"):  # added later: at their defaults, older files still resume
            if not identity[late]:
                del identity[late]
        return identity


@dataclass
class Prediction:
    """A strategy's answer to one item (``calls`` None: no valid call list) and what it cost."""

    calls: list[Call] | None
    raw: str
    policy_input_tokens: int
    policy_output_tokens: int
    scorer_tokens: int
    seconds: float
    error: str | None = None

    @property
    def policy_tokens(self) -> int:
        return self.policy_input_tokens + self.policy_output_tokens


def scorer_label(spec: EvalSpec | dict[str, Any]) -> str:
    """"verifier", "prm:NAME" or "verifier*NAME" (NAME: the PRM directory's name)."""
    scorer, prm = (spec["scorer"], spec["prm"]) if isinstance(spec, dict) else (spec.scorer, spec.prm)
    ablate = (spec.get("ablate") if isinstance(spec, dict) else spec.ablate) or ""
    name = Path(prm or "").name
    verifier = "verifier" + "".join(f"-{a}" for a in ablate.split(",") if a)
    return {"verifier": verifier, "prm": f"prm:{name}", "combined": f"{verifier}*{name}"}[scorer]


def make_scorer(spec: EvalSpec, *, prm_base: str | None = None) -> Scorer:
    """The scorer a spec names (``prm_base``: the base model of a PRM adapter stored elsewhere)."""
    verifier = VerifierScorer(**{a: False for a in spec.ablate.split(",") if a})
    if spec.scorer == "verifier":
        return verifier
    path, base = resolve_prm(spec.prm)
    prm = GenerativePRM.from_pretrained(path or "", base_model=prm_base or base)
    return prm if spec.scorer == "prm" else CombinedScorer([verifier, prm])


# ---- parsing free text ---------------------------------------------------------------------------
_TOOL_CALL = re.compile(r"<tool_call>(.*?)(?:</tool_call>|$)", re.S)


def _as_call(obj: Any) -> Call | None:
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        return None
    args = obj.get("arguments", obj.get("parameters", {}))
    return Call(obj["name"], args) if isinstance(args, dict) else None


def _all_calls(calls: list[Call | None]) -> list[Call] | None:
    return None if any(c is None for c in calls) else list(calls)  # type: ignore[arg-type]


def parse_calls(text: str, fmt: CallFormat) -> list[Call] | None:
    """Calls a free-text answer spells in ``fmt``, or None when it cannot be read as calls.

    JSON-list formats must open with the list (trailing text is ignored); ``<tool_call>``
    formats may hold zero blocks (a prose answer: no call); Llama-3 style is ``;``-separated
    objects. Each call needs a string name and an object of arguments. Names and values are
    not checked against the tools: the benchmark's scorer judges them, as BFCL's AST checker
    and the Hammer F1 scores do (an unknown name or a wrong value is a wrong call, and on
    irrelevance any call read counts as calling).
    """
    decoder = json.JSONDecoder()
    if fmt.name == "qwen":
        calls: list[Call | None] = []
        for block in _TOOL_CALL.findall(text):
            try:
                calls.append(_as_call(json.loads(block)))
            except ValueError:
                return None
        return _all_calls(calls)
    if fmt.name == "llama3":
        calls, rest = [], text.strip()
        while rest.startswith("{"):
            try:
                obj, end = decoder.raw_decode(rest)
            except ValueError:
                return None
            calls.append(_as_call(obj))
            rest = rest[end:].lstrip().removeprefix(";").lstrip()
        return _all_calls(calls)
    try:
        obj, _ = decoder.raw_decode(text.strip())
    except ValueError:
        return None
    return _all_calls([_as_call(o) for o in obj]) if isinstance(obj, list) else None


# ---- one item ------------------------------------------------------------------------------------
def _item_seed(spec: EvalSpec, example: ToolExample) -> int | None:
    """Per item and independent of order, so a resumed run draws what a full run would."""
    return None if spec.seed is None else spec.seed + zlib.crc32(example.id.encode())


def _json_closed(text: str) -> bool:
    """Whether ``text`` already opens with a whole JSON value: all ``parse_calls`` reads of a
    JSON-list answer, so decoding further cannot change the prediction."""
    try:
        json.JSONDecoder().raw_decode(text.strip())
    except ValueError:
        return False
    return True


class _StopText(StoppingCriteria):
    """Ends a row once its new text holds a stop string (or, with ``closed``, once the answer is
    complete). transformers' own ``stop_strings`` preprocesses the whole vocabulary on every
    call (seconds for Gemma's 262k tokens); decoding each row's few new tokens costs next to
    nothing."""

    def __init__(self, tokenizer: Any, stops: Sequence[str], start: int,
                 closed: Callable[[str], bool] | None = None) -> None:
        self.tokenizer, self.stops, self.start, self.closed = tokenizer, tuple(stops), start, closed

    def _done(self, text: str) -> bool:
        return any(s in text for s in self.stops) or (self.closed is not None and self.closed(text))

    def __call__(self, input_ids: torch.Tensor, scores: Any, **kwargs: Any) -> torch.Tensor:
        texts = self.tokenizer.batch_decode(input_ids[:, self.start:])
        return torch.tensor([self._done(t) for t in texts], dtype=torch.bool, device=input_ids.device)


def _generate(
    policy: TransformersPolicy, example: ToolExample, specs: list[ToolSpec], spec: EvalSpec,
) -> tuple[list[Call] | None, str]:
    """Plain transformers decoding of the same prompt text: greedy, or ``num_beams`` beams."""
    prompt = build_prompt(policy.tokenizer, example.lc_messages(), specs)
    ids = policy.encode(prompt.text, special=not prompt.chat_template)
    if len(ids) + spec.max_new_tokens > policy.max_context:
        raise ContextLengthError(f"the prompt is {len(ids)} tokens and the answer may need {spec.max_new_tokens} "
                                 f"more, but the policy's context window is {policy.max_context} tokens")
    beams = spec.budget if spec.strategy == "token_beam" else 1
    inputs = torch.tensor([ids], device=policy.device)
    # The built-in prompt's answer ends where the next turn starts; templates end at EOS.
    # Greedy JSON-list answers also end once the list closes (beams keep their own course).
    closed = _json_closed if beams == 1 and prompt.call_format.name == "json_list" else None
    stops = [] if prompt.chat_template else [
        _StopText(policy.tokenizer, (*prompt.stop, "\nAssistant:"), len(ids), closed)]
    with torch.no_grad():
        out = policy.model.generate(
            inputs, attention_mask=torch.ones_like(inputs), max_new_tokens=spec.max_new_tokens, do_sample=False,
            num_beams=beams, stopping_criteria=StoppingCriteriaList(stops),
        )
    steps = out.shape[1] - len(ids)
    # As transformers feeds them: every beam gets the prompt, then one token per step.
    policy.usage.add(Usage(beams * (len(ids) + max(steps - 1, 0)), beams * steps))
    new = out[0, len(ids):].tolist()
    ends = {*policy.eos_ids, policy.tokenizer.pad_token_id}  # EOS, then padding for a shorter beam
    new = new[: next((i for i, t in enumerate(new) if t in ends), len(new))]
    # Special tokens stay: some templates' call markers (<tool_call>) are special tokens.
    raw = policy.tokenizer.decode(new, skip_special_tokens=False)
    return parse_calls(raw, prompt.call_format), raw


def _search(policy: TransformersPolicy, scorer: Scorer, example: ToolExample, specs: list[ToolSpec],
            spec: EvalSpec) -> tuple[list[Call] | None, str]:
    rules = Constraints(tuple(specs), max_calls=spec.max_calls)
    problem, _ = prepare_problem(policy, example.lc_messages(), specs, rules, spec.max_value_tokens * 4)
    beam = spec.strategy == "beam"
    config = SearchConfig(
        strategy=spec.strategy, n_retain=spec.n if beam else spec.budget, m_explore=spec.m if beam else 1,  # type: ignore[arg-type]
        temperature=spec.temperature, aggregation=spec.aggregation, policy_weight=spec.policy_weight,
        max_value_tokens=spec.max_value_tokens, seed=_item_seed(spec, example),
    )
    result = run_search(policy, scorer, problem, config)
    return result.calls, "".join(result.best.texts) if result.best else ""


def predict(policy: TransformersPolicy, scorer: Scorer, example: ToolExample, spec: EvalSpec) -> Prediction:
    """Answer one item with one strategy, from cold prompt and grammar caches so every item and
    strategy pays for its own prompt and value grammars (whatever ran before). A prompt too long
    for the policy or a tool schema the grammar cannot honour is recorded as an error (no
    prediction) rather than ending the run."""
    if spec.strategy == "greedy":
        scorer = VerifierScorer()  # greedy's choice ignores scores: do not pay a PRM for them
    before_p, before_s = copy.copy(policy.usage), copy.copy(scorer.usage)
    policy.clear_prompt_cache()
    start = time.perf_counter()
    calls: list[Call] | None = None
    raw, error = "", None
    try:
        specs = example.specs()
        if spec.strategy in TEXT_STRATEGIES:
            calls, raw = _generate(policy, example, specs, spec)
        else:
            calls, raw = _search(policy, scorer, example, specs, spec)
    except (ContextLengthError, ToolSchemaError) as e:
        error = f"{type(e).__name__}: {e}"
    return Prediction(
        calls, raw, policy.usage.input_tokens - before_p.input_tokens,
        policy.usage.output_tokens - before_p.output_tokens, scorer.usage.input_tokens - before_s.input_tokens,
        time.perf_counter() - start, error,
    )


# ---- runs ----------------------------------------------------------------------------------------
def benchmark_of(example: ToolExample) -> tuple[str, str | None]:
    """(benchmark, category): BFCL items come as source "bfcl-<category>", Hammer sets by name."""
    return example.source.split("-", 1)[0], example.meta.get("category")


_RECORD_START = b'{"id": '  # how every line run_eval appends begins


def _load_done(path: Path, identity: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Records already in ``path`` by id. A file that is not this setting's results (a folder, a
    line that is not a record, a record without id, another setting or model) is an error naming
    the file and line, raised before anything is written: the file stays exactly as it was. Only
    a torn last line (no newline: a crash mid-write) after lines that all passed is cut off."""
    if not path.exists():
        return {}
    if not path.is_file():
        raise DataFileError(f"{path} is not a results file (a folder?); move it away or use another --out")
    data = path.read_bytes()
    keep = data.rfind(b"\n") + 1
    body, tail = data[:keep], data[keep:]  # the tail has no newline: torn, or a record left unterminated

    def record(n: int, line: str | bytes) -> dict[str, Any]:
        try:
            rec = json.loads(line)
        except ValueError as e:  # JSONDecodeError, or bytes that are not UTF-8
            raise DataFileError(f"{path}:{n}: not valid JSON ({getattr(e, 'msg', e)}); "
                                f"not a results file of toolprm eval") from e
        if not isinstance(rec, dict):
            raise DataFileError(f"{path}:{n}: a JSON {type(rec).__name__}, not a results record")
        if rec.get("spec") != identity:
            raise ValueError(f"{path}:{n} holds results of another setting or model ({rec.get('spec')}); "
                             f"use another --out or --no-resume")
        if rec.get("id") is None:
            raise DataFileError(f"{path}:{n}: a record without an \"id\"")
        return rec

    done = {}
    lines = body.split(b"\n")[:-1]
    for n, line in enumerate(lines, 1):
        if line.strip():
            rec = record(n, line)
            done[rec["id"]] = rec
    if not tail:
        return done
    try:
        json.loads(tail)
    except ValueError:
        if not (tail.startswith(_RECORD_START) or _RECORD_START.startswith(tail)):
            record(len(lines) + 1, tail)  # not the start of a record: refused, naming the line
        with path.open("r+b") as f:  # a torn record after this setting's records: cut it off
            f.truncate(keep)
        return done
    rec = record(len(lines) + 1, tail)  # whole but unterminated: kept once it passes
    done[rec["id"]] = rec
    with path.open("ab") as f:
        f.write(b"\n")
    return done


def run_eval(
    examples: Sequence[ToolExample], spec: EvalSpec, out_path: str | Path, *, policy: TransformersPolicy,
    scorer: Scorer, resume: bool = True, progress: bool = True,
) -> list[dict[str, Any]]:
    """Evaluate ``examples`` with ``spec`` into ``out_path`` (one JSONL line per item, flushed as it
    finishes); with ``resume`` items already there are skipped. Returns the records of ``examples``."""
    out_path = Path(out_path)
    identity = {**spec.identity(), "model": policy.name}
    if identity["prm"]:  # a retrained PRM under the same path must not extend the old results
        identity["prm_sha256"] = prm_digest(identity["prm"])
    if not resume:
        out_path.unlink(missing_ok=True)
    done = _load_done(out_path, identity)
    todo = [ex for ex in examples if ex.id not in done]
    for ex in tqdm(todo, desc=spec.name, disable=not progress, initial=len(examples) - len(todo), total=len(examples)):
        pred = predict(policy, scorer, ex, spec)
        benchmark, category = benchmark_of(ex)
        record = {
            "id": ex.id, "benchmark": benchmark, "category": category, "strategy": spec.name, "spec": identity,
            "calls": None if pred.calls is None else [call_to_dict(c) for c in pred.calls],
            "raw": pred.raw, "error": pred.error, **score_item(ex, pred.calls),
            "policy_input_tokens": pred.policy_input_tokens, "policy_output_tokens": pred.policy_output_tokens,
            "policy_tokens": pred.policy_tokens, "scorer_tokens": pred.scorer_tokens,
            "seconds": round(pred.seconds, 3),
        }
        append_jsonl(out_path, [record])
        done[ex.id] = record
    return [done[ex.id] for ex in examples]


def slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9.=+-]+", "_", label).strip("_")


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
            rec = {**rec, **score_item(ex, calls)}
        out.append(rec)
    return out


def reread_text_answers(path: str | Path, tokenizer: Any, examples: Iterable[ToolExample]) -> int:
    """Read the calls of a results file's free-text answers again from their stored raw text,
    and score them again, so a fix to :func:`parse_calls` reaches finished runs without
    decoding anything again (the other strategies' calls come from the grammar, not from text).

    ``tokenizer`` is the policy's: its prompt decides the call format. The file is rewritten
    atomically, and only if a record changed; returns how many did.
    """
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
        new = {**rec, "calls": None if calls is None else [call_to_dict(c) for c in calls], **score_item(ex, calls)}
        changed += new != rec
        records[i] = new
    if changed:
        write_jsonl(path, records)
    return changed


def _mean(xs: Iterable[float]) -> float:
    xs = list(xs)
    return sum(xs) / len(xs) if xs else math.nan


def _quality(benchmark: str, recs: list[dict[str, Any]]) -> dict[str, float]:
    """BFCL: accuracy (its AST check per item); the Hammer sets: name, argument and average F1, exact match."""
    if benchmark == "bfcl":
        return {"accuracy": _mean(float(r["correct"]) for r in recs)}
    agg = aggregate_hammer(recs)
    return {"name F1": agg["name_f1"], "arg F1": agg["arg_f1"], "avg F1": agg["avg_f1"], "exact": agg["exact"]}


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


# ---- explore / retain grid -----------------------------------------------------------------------
def run_grid(
    examples: Sequence[ToolExample], ns: Sequence[int], ms: Sequence[int], out_dir: str | Path, *,
    policy: TransformersPolicy, scorer: Scorer, base: EvalSpec | None = None, resume: bool = True,
    progress: bool = True,
) -> list[Path]:
    """Fine-grained beam search at every (N, M), one results file each in ``out_dir``, named as
    ``eval`` names them: a grid and plain evaluations into the same folder share their runs."""
    base = replace(base or EvalSpec("beam"), strategy="beam", label=None)
    paths = []
    for n in ns:
        for m in ms:
            spec = replace(base, n=n, m=m)
            path = Path(out_dir) / f"{slug(spec.name)}.jsonl"
            run_eval(examples, spec, path, policy=policy, scorer=scorer, resume=resume, progress=progress)
            paths.append(path)
    return paths


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


# ---- command line --------------------------------------------------------------------------------
def _split(values: Sequence[str] | None) -> list[str]:
    """Repeatable options that also take comma lists: ``--x a --x b,c`` -> [a, b, c]."""
    return [v.strip() for value in values or () for v in value.split(",") if v.strip()]


def _categories(benchmark: str, given: Sequence[str] | None) -> list[str | None]:
    cats = _split(given)
    if benchmark != "bfcl":
        if cats:
            raise ValueError(f"{benchmark} has no categories (got {', '.join(cats)})")
        return [None]
    unknown = [c for c in cats if c not in BFCL_CATEGORIES]
    if unknown:
        raise ValueError(f"unknown BFCL category {', '.join(unknown)}; valid: {', '.join(BFCL_CATEGORIES)}")
    return list(dict.fromkeys(cats) or [c for c in BFCL_CATEGORIES if not c.startswith("live_")])


def _scorer_args(value: str) -> dict[str, Any]:
    """``verifier``, a PRM path, or ``combined:PATH`` (verifier x PRM) -> EvalSpec fields."""
    if value == "verifier":
        return {"scorer": "verifier"}
    kind, path = ("combined", value.split(":", 1)[1]) if value.startswith("combined:") else ("prm", value)
    if path != SHIPPED_PRM and not Path(path).exists():
        raise FileNotFoundError(f"no PRM at {path} (--scorer takes verifier, {SHIPPED_PRM}, a PRM path, "
                                f"or combined:PATH)")
    return {"scorer": kind, "prm": path}


def _load_policy(args: argparse.Namespace) -> TransformersPolicy:
    from ..backends.embedded import load_policy

    policy = load_policy(args.model, device=args.device)
    # The grammar's tables over the vocabulary are built once per process: build them before
    # any item is timed, so the first item of the first strategy is not charged for them.
    policy.warm_up()
    return policy


def _run_command(args: argparse.Namespace) -> int:
    """``eval`` and ``grid``: check every argument and load the data before the models load."""
    try:
        categories = _categories(args.benchmark, args.category)
        base = {"seed": args.seed, "temperature": args.temperature, "aggregation": args.aggregation,
                "policy_weight": args.policy_weight, "ablate": ",".join(sorted(_split([args.ablate or ""]))),
                **_scorer_args(args.scorer)}
        if args.command == "grid":
            ns, ms = ([int(x) for x in _split([v])] for v in (args.ns, args.ms))
            specs = [EvalSpec("beam", n=n, m=m, **base) for n in ns for m in ms]
        else:
            names = dict.fromkeys(_split(args.strategy) or ["greedy", "beam"])
            specs = [EvalSpec(s, n=args.n, m=args.m, samples=args.samples, **base) for s in names]  # type: ignore[arg-type]
        if args.limit < 0:
            raise ValueError(f"--limit must be 0 (every item) or more, not {args.limit}")
        data = {c: load_benchmark(args.benchmark, c, args.data_dir, args.limit or None) for c in categories}
        empty = [c or args.benchmark for c, exs in data.items() if not exs]
        if empty:
            raise DataFileError(f"no items loaded for {', '.join(empty)}")
        needs_prm = any(s.strategy in ("best_of_n", "majority", "beam") for s in specs)
        scorer = make_scorer(specs[0], prm_base=args.prm_base) if needs_prm else VerifierScorer()
        policy = _load_policy(args)
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
        for spec in specs:
            run_eval(examples, spec, out_dir / f"{slug(spec.name)}.jsonl", policy=policy, scorer=scorer,
                     resume=args.resume)
    # With earlier runs in the same folders (e.g. greedy for the ratios), scored by today's metrics.
    print(summarize(folders, examples=[ex for exs in data.values() for ex in exs]))
    return 0


def add_eval_parser(subparsers: Any) -> None:
    """Register ``eval`` (strategies x categories) and ``grid`` (beam search over N x M)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--benchmark", required=True, choices=BENCHMARKS)
    common.add_argument("--category", action="append",
                        help="BFCL category, repeatable or comma list (default: the non-live ones)")
    common.add_argument("--scorer", default="verifier",
                        help=f"verifier, a PRM path or {SHIPPED_PRM} (the shipped ToolPRM), or combined:PATH "
                             f"(verifier x that PRM)")
    common.add_argument("--prm-base", help="base model for a PRM adapter whose recorded base is elsewhere")
    common.add_argument("--limit", type=int, default=100, help="first items per category (0: all)")
    common.add_argument("--out", default="results", help="results folder (one JSONL per category x strategy)")
    common.add_argument("--model", help="policy: local model directory (default: the embedded Gemma 3 270M)")
    common.add_argument("--device", help="where the policy runs (cpu, cuda)")
    common.add_argument("--data-dir", help="BFCL's data folder, or the shared data folder for the Hammer sets")
    common.add_argument("--seed", type=int, default=0)
    common.add_argument("--temperature", type=float, default=0.8)
    common.add_argument("--aggregation", default="min", choices=["last", "min", "mean", "product"])
    common.add_argument("--policy-weight", type=float, default=0.0,
                        help="rank paths by score x p(path)^W (default 0: the policy only breaks ties)")
    common.add_argument("--ablate", help=f"verifier signals to switch off, comma list of {', '.join(ABLATABLE)}")
    common.add_argument("--no-resume", dest="resume", action="store_false",
                        help="start over instead of skipping items already in the results files")
    ev = subparsers.add_parser("eval", parents=[common], help="evaluate decoding strategies on a benchmark")
    ev.add_argument("--strategy", action="append",
                    help=f"repeatable or comma list of {', '.join(STRATEGIES)} (default: greedy,beam)")
    ev.add_argument("--N", dest="n", type=int, default=1, help="beams retained by fine-grained search")
    ev.add_argument("--M", dest="m", type=int, default=4, help="candidates explored per beam")
    ev.add_argument("--samples", type=int, help="best_of_n/majority samples, token_beam beams (default N*M)")
    ev.set_defaults(func=_run_command)
    grid = subparsers.add_parser("grid", parents=[common], help="fine-grained beam search over an N x M grid")
    grid.add_argument("--N", dest="ns", default="1,2,4", help="comma list of N (retain)")
    grid.add_argument("--M", dest="ms", default="1,2,4,8", help="comma list of M (explore)")
    grid.set_defaults(func=_run_command)
