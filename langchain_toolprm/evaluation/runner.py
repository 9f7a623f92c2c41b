"""Benchmark evaluation: every decoding strategy on one policy, one prompt, one cost measure.

All strategies pose the question the way the chat model does (the answer engine's prompt) to
the same backend, so accuracy differences come from decoding alone:

- ``unconstrained``: plain greedy ``model.generate``, the text parsed into calls afterwards
  (what a user of the bare model has today);
- ``token_beam``: transformers' token-level beam search, parsed the same way;
- ``greedy``, ``best_of_n``, ``majority``, ``beam``: the package's step-level strategies.

Cost is counted in tokens, not only seconds: policy tokens fed plus sampled and scorer tokens
fed, so strategies compare across machines. Results go to one JSONL file per (benchmark,
category, strategy label), one line per item, appended as items finish: a run resumes where it
stopped and :func:`~langchain_toolprm.evaluation.reports.summarize` can read any set of them.
"""

from __future__ import annotations

import copy
import json
import time
import zlib
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ..core.backend import Backend, ContextLengthError
from ..core.embedded import prm_digest
from ..core.engine import answer
from ..core.loader import load_scorer
from ..core.proposer import Constraints
from ..core.schema import ToolSchemaError, ToolSpec
from ..core.scorers import Scorer
from ..core.search import SAMPLE_PICKS, SearchConfig
from ..core.steps import Call, assemble
from ..data.records import DataFileError, ToolExample, append_jsonl, call_to_dict
from .baselines import generate_text
from .benchmarks import benchmark_of, scored_as
from .specs import TEXT_STRATEGIES, EvalSpec, Prediction, check_one_search, slug


def make_scorer(spec: EvalSpec, *, prm_base: str | None = None, policy: Backend | None = None) -> Scorer:
    """The scorer a spec names (``prm_base``: the base model of a PRM adapter stored elsewhere;
    ``policy``: the search's policy, whose states a reward head reads)."""
    return load_scorer(spec.scorer, spec.prm, prm_base=prm_base,  # type: ignore[arg-type]
                       ablate=[a for a in spec.ablate.split(",") if a], policy=policy)


# ---- one item ------------------------------------------------------------------------------------
def _item_seed(spec: EvalSpec, example: ToolExample) -> int | None:
    """Per item and independent of order, so a resumed run draws what a full run would."""
    return None if spec.seed is None else spec.seed + zlib.crc32(example.id.encode())


def _search(backend: Backend, scorer: Scorer, example: ToolExample, specs: list[ToolSpec],
            group: Sequence[EvalSpec]) -> list[tuple[list[Call] | None, str]]:
    """One search for ``group`` (one spec, or best-of-N and majority vote over the same samples);
    each spec's calls and text."""
    spec = group[0]
    rules = Constraints(tuple(specs), max_calls=spec.max_calls)
    beam = spec.strategy == "beam"
    config = SearchConfig(
        strategy=spec.strategy, n_retain=spec.n if beam else spec.budget, m_explore=spec.m if beam else 1,  # type: ignore[arg-type]
        temperature=spec.temperature, aggregation=spec.aggregation, policy_weight=spec.policy_weight,
        widen_below=spec.widen_below, widen_policy=spec.widen_policy, max_value_tokens=spec.max_value_tokens, seed=_item_seed(spec, example),
    )
    result = answer(backend, scorer, example.lc_messages(), specs, config, rules=rules).result
    answers = []
    for s in group:
        best = None if result is None else result.best if s is spec else SAMPLE_PICKS[s.strategy](result.finished, config)
        answers.append((None if best is None else assemble(best.steps), "".join(best.texts) if best else ""))
    return answers


def predict(policy: Backend, scorer: Scorer, example: ToolExample, spec: EvalSpec) -> Prediction:
    """Answer one item with one strategy (:func:`predict_group`)."""
    return predict_group(policy, scorer, example, [spec])[0]


def predict_group(policy: Backend, scorer: Scorer, example: ToolExample,
                  group: Sequence[EvalSpec]) -> list[Prediction]:
    """Answer one item with a group of specs one search answers (``one_search_each``), from cold
    prompt and grammar caches so every item and strategy pays for its own prompt and value
    grammars (whatever ran before); each spec is charged the whole search. A prompt too long
    for the policy or a tool schema the grammar cannot honour is recorded as an error (no
    prediction) rather than ending the run. (Greedy never pays for a PRM: the engine scores it
    with the verifier.)"""
    check_one_search(group)
    before_p, before_s = copy.copy(policy.usage), copy.copy(scorer.usage)
    policy.reset()
    start = time.perf_counter()
    answers: list[tuple[list[Call] | None, str]] = [(None, "")] * len(group)
    error = None
    try:
        specs = example.specs()
        if group[0].strategy in TEXT_STRATEGIES:
            answers = [generate_text(policy, example.lc_messages(), specs, group[0])]  # type: ignore[arg-type]
        else:
            answers = _search(policy, scorer, example, specs, group)
    except (ContextLengthError, ToolSchemaError) as e:
        error = f"{type(e).__name__}: {e}"
    seconds = time.perf_counter() - start
    return [Prediction(
        calls, raw, policy.usage.input_tokens - before_p.input_tokens,
        policy.usage.output_tokens - before_p.output_tokens, scorer.usage.input_tokens - before_s.input_tokens,
        seconds, error,
    ) for calls, raw in answers]


# ---- runs ----------------------------------------------------------------------------------------
_RECORD_START = b'{"id": '  # how every line run_eval appends begins


def load_done(path: Path, identity: dict[str, Any]) -> dict[str, dict[str, Any]]:
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
                                f"not a toolprm results file") from e
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
    examples: Sequence[ToolExample], spec: EvalSpec, out_path: str | Path, *, policy: Backend,
    scorer: Scorer, resume: bool = True, progress: bool = True,
    also: Sequence[tuple[EvalSpec, str | Path]] = (),
) -> list[dict[str, Any]]:
    """Evaluate ``examples`` with ``spec`` into ``out_path`` (one JSONL line per item, flushed as it
    finishes); with ``resume`` items already there are skipped. ``also``: more (spec, file) pairs
    the same search answers (best-of-N and majority vote over the same samples: half the cost of
    two runs, and the same answers). Returns the records of ``examples`` for ``spec``."""
    jobs = [(spec, Path(out_path)), *((s, Path(p)) for s, p in also)]
    group = [s for s, _ in jobs]
    check_one_search(group)  # before any file is read or removed
    identities, dones = [], []
    for s, path in jobs:
        identity = {**s.identity(), "model": policy.name}
        if identity["prm"]:  # a retrained PRM under the same path must not extend the old results
            identity["prm_sha256"] = prm_digest(identity["prm"])
        identities.append(identity)
        dones.append(load_done(path, identity) if resume else {})
    if not resume:
        for _, path in jobs:
            path.unlink(missing_ok=True)
    todo = [ex for ex in examples if any(ex.id not in done for done in dones)]
    for ex in tqdm(todo, desc=spec.name, disable=not progress, initial=len(examples) - len(todo), total=len(examples)):
        preds = predict_group(policy, scorer, ex, group)
        benchmark, category = benchmark_of(ex)
        for (s, path), identity, done, pred in zip(jobs, identities, dones, preds):
            if ex.id in done:
                continue
            record = {
                "id": ex.id, "benchmark": benchmark, "category": category, "strategy": s.name, "spec": identity,
                "calls": None if pred.calls is None else [call_to_dict(c) for c in pred.calls],
                "raw": pred.raw, "error": pred.error, **scored_as(benchmark).score(ex, pred.calls),
                "policy_input_tokens": pred.policy_input_tokens, "policy_output_tokens": pred.policy_output_tokens,
                "policy_tokens": pred.policy_tokens, "scorer_tokens": pred.scorer_tokens,
                "seconds": round(pred.seconds, 3),
                **({"same_search_as": [o.name for o in group if o is not s]} if len(group) > 1 else {}),
            }
            append_jsonl(path, [record])
            done[ex.id] = record
    return [dones[0][ex.id] for ex in examples]


# ---- explore / retain grid -----------------------------------------------------------------------
def run_grid(
    examples: Sequence[ToolExample], ns: Sequence[int], ms: Sequence[int], out_dir: str | Path, *,
    policy: Backend, scorer: Scorer, base: EvalSpec | None = None, resume: bool = True,
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
