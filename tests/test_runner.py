"""The evaluation runner on the tiny random models: one item per strategy and its cost, results
files that resume, refuse foreign content untouched, and grids that share files with eval."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from langchain_toolprm import TransformersBackend
from langchain_toolprm.core import search
from langchain_toolprm.core.proposer import Beam
from langchain_toolprm.core.scorers import GenerativePRM
from langchain_toolprm.core.search import SearchConfig
from langchain_toolprm.core.verifier import VerifierScorer
from langchain_toolprm.data.records import ToolExample
from langchain_toolprm.evaluation import runner
from langchain_toolprm.evaluation.runner import predict, predict_group, run_eval, run_grid
from langchain_toolprm.evaluation.specs import STRATEGIES, EvalSpec, Prediction, one_search_each, slug


# ---- one item --------------------------------------------------------------------------------
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_strategy_predicts_with_cost(strategy: str, tiny_policy: TransformersBackend,
                                           tiny_bfcl: list[ToolExample], fast: dict[str, int]) -> None:
    pred = predict(tiny_policy, VerifierScorer(), tiny_bfcl[0], EvalSpec(strategy, m=2, **fast))
    assert isinstance(pred, Prediction) and pred.error is None
    assert pred.policy_input_tokens > 20 and pred.policy_tokens >= pred.policy_input_tokens
    assert pred.seconds > 0 and isinstance(pred.raw, str)
    if pred.calls is not None:
        tools = {t.name: t for t in tiny_bfcl[0].specs()}
        assert all(tools[c.name].validate_arguments(c.arguments) is None for c in pred.calls)
    if strategy in ("unconstrained", "token_beam"):
        assert pred.policy_output_tokens > 0  # generated text is counted too


def test_prm_cost_is_counted_and_greedy_does_not_pay_it(tiny_gemma_path: Path, tiny_policy: TransformersBackend,
                                                         tiny_bfcl: list[ToolExample], fast: dict[str, int]) -> None:
    prm = GenerativePRM.from_pretrained(tiny_gemma_path)
    spec = {"scorer": "prm", "prm": str(tiny_gemma_path), "m": 2, **fast}
    assert predict(tiny_policy, prm, tiny_bfcl[0], EvalSpec("beam", **spec)).scorer_tokens > 0
    assert predict(tiny_policy, prm, tiny_bfcl[0], EvalSpec("greedy", **spec)).scorer_tokens == 0


def test_results_name_the_prm_weights(tmp_path: Path, tiny_gemma_path: Path, tiny_policy: TransformersBackend,
                                      tiny_bfcl: list[ToolExample], fast: dict[str, int]) -> None:
    """Retrained weights under the same path must not extend results scored with the old ones."""
    prm_dir = tmp_path / "prm"
    shutil.copytree(tiny_gemma_path, prm_dir)
    spec, path = EvalSpec("beam", scorer="prm", prm=str(prm_dir), m=2, **fast), tmp_path / "beam.jsonl"
    prm = GenerativePRM.from_pretrained(prm_dir)
    run_eval(tiny_bfcl[:1], spec, path, policy=tiny_policy, scorer=prm, progress=False)
    digest = json.loads(path.read_text())["spec"]["prm_sha256"]
    assert len(digest) == 16
    weights = next(prm_dir.glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes() + b" ")
    with pytest.raises(ValueError, match="another setting"):
        run_eval(tiny_bfcl, spec, path, policy=tiny_policy, scorer=prm, progress=False)


def test_a_prompt_too_long_is_an_item_error(tiny_policy: TransformersBackend, tiny_bfcl: list[ToolExample]) -> None:
    pred = predict(tiny_policy, VerifierScorer(), tiny_bfcl[0], EvalSpec("unconstrained", max_new_tokens=10**6))
    assert pred.calls is None and pred.error.startswith("ContextLengthError")


# ---- runs --------------------------------------------------------------------------------------
def test_run_eval_writes_jsonl_and_resumes(tmp_path: Path, tiny_policy: TransformersBackend,
                                           tiny_bfcl: list[ToolExample], fast: dict[str, int],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    examples = tiny_bfcl
    spec, path = EvalSpec("greedy", **fast), tmp_path / "greedy.jsonl"
    records = run_eval(examples, spec, path, policy=tiny_policy, scorer=VerifierScorer(), progress=False)
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [r["id"] for r in lines] == [e.id for e in examples] and lines == records
    for key in ("benchmark", "category", "strategy", "calls", "raw", "correct", "reason", "policy_tokens",
                "policy_input_tokens", "policy_output_tokens", "scorer_tokens", "seconds", "spec"):
        assert key in lines[0]
    assert (lines[0]["benchmark"], lines[0]["category"], lines[0]["strategy"]) == ("bfcl", "simple_python", "greedy")

    def no_work(*args: object) -> Prediction:
        raise AssertionError("a resumed run predicted an item already in its file")

    monkeypatch.setattr(runner, "predict_group", no_work)
    assert run_eval(examples, spec, path, policy=tiny_policy, scorer=VerifierScorer(), progress=False) == records
    with pytest.raises(ValueError, match="another setting"):
        run_eval(examples, EvalSpec("greedy", max_value_tokens=7), path, policy=tiny_policy,
                 scorer=VerifierScorer(), progress=False)
    # A crash mid-write leaves a torn last line: it is cut and only that item is done again.
    path.write_text(path.read_text()[:-40])
    done = []
    monkeypatch.setattr(runner, "predict_group",
                        lambda p, s, ex, g: done.append(ex.id) or [Prediction([], "", 1, 0, 0, 0.1)])
    run_eval(examples, spec, path, policy=tiny_policy, scorer=VerifierScorer(), progress=False)
    assert done == [examples[1].id] and len(path.read_text().splitlines()) == 2
    run_eval(examples, spec, path, policy=tiny_policy, scorer=VerifierScorer(), progress=False, resume=False)
    assert done[1:] == [e.id for e in examples]


def test_best_of_n_and_majority_read_one_set_of_samples(tmp_path: Path, tiny_policy: TransformersBackend,
                                                        tiny_bfcl: list[ToolExample], fast: dict[str, int],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """One sampling run answers both, as two runs of their own would, and each file resumes alone.
    (The tiny model's samples never repeat, so its votes would follow the scores: the vote here
    takes the least likely sample instead, so the two answers differ.)"""
    def least_likely(paths: list[Beam], config: SearchConfig) -> Beam | None:
        return min(paths, key=lambda b: b.logprob, default=None)

    monkeypatch.setattr(search, "most_voted", least_likely)
    monkeypatch.setitem(search.SAMPLE_PICKS, "majority", least_likely)
    setting = {"samples": 4, "temperature": 1.5, "seed": 1, **fast}  # one item then samples two lists
    best, vote = EvalSpec("best_of_n", **setting), EvalSpec("majority", **setting)
    alone = [run_eval(tiny_bfcl, s, tmp_path / f"{s.strategy}.jsonl", policy=tiny_policy, scorer=VerifierScorer(),
                      progress=False) for s in (best, vote)]
    assert [r["raw"] for r in alone[0]] != [r["raw"] for r in alone[1]]
    searches = []
    real = runner._search
    monkeypatch.setattr(runner, "_search", lambda *a: searches.append(a[-1]) or real(*a))
    shared = tmp_path / "shared"
    together = run_eval(tiny_bfcl, best, shared / "best.jsonl", policy=tiny_policy, scorer=VerifierScorer(),
                        progress=False, also=[(vote, shared / "vote.jsonl")])
    assert len(searches) == len(tiny_bfcl) and together == [json.loads(x) for x in (shared / "best.jsonl").open()]
    votes = [json.loads(x) for x in (shared / "vote.jsonl").open()]
    for mine, theirs in zip((together, votes), alone):
        assert [r["calls"] for r in mine] == [r["calls"] for r in theirs]
        assert [r["raw"] for r in mine] == [r["raw"] for r in theirs]
    assert votes[0]["same_search_as"] == [best.name] and votes[0]["strategy"] == vote.name
    (shared / "vote.jsonl").write_text((shared / "vote.jsonl").read_text().splitlines()[0] + "\n")
    run_eval(tiny_bfcl, best, shared / "best.jsonl", policy=tiny_policy, scorer=VerifierScorer(), progress=False,
             also=[(vote, shared / "vote.jsonl")])  # the one item missing from one file is searched again
    assert len(searches) == len(tiny_bfcl) + 1
    assert [json.loads(x)["calls"] for x in (shared / "vote.jsonl").open()] == [r["calls"] for r in alone[1]]
    assert len((shared / "best.jsonl").read_text().splitlines()) == len(tiny_bfcl)


def test_only_samples_of_one_setting_are_shared(tmp_path: Path, tiny_policy: TransformersBackend,
                                                tiny_bfcl: list[ToolExample], fast: dict[str, int]) -> None:
    vote = EvalSpec("majority", samples=3, **fast)
    assert one_search_each([EvalSpec("best_of_n", samples=3, **fast), EvalSpec("beam", **fast), vote,
                            EvalSpec("majority", samples=2, **fast)]) == [
        [EvalSpec("best_of_n", samples=3, **fast), vote], [EvalSpec("beam", **fast)],
        [EvalSpec("majority", samples=2, **fast)]]
    for other in (EvalSpec("majority", samples=3, temperature=0.5, **fast), EvalSpec("beam", **fast)):
        with pytest.raises(ValueError, match="one search cannot answer"):
            run_eval(tiny_bfcl, vote, tmp_path / "a.jsonl", policy=tiny_policy, scorer=VerifierScorer(),
                     progress=False, also=[(other, tmp_path / "b.jsonl")])
        with pytest.raises(ValueError, match="one search cannot answer"):  # a direct caller too
            predict_group(tiny_policy, VerifierScorer(), tiny_bfcl[0], [vote, other])
    assert not list(tmp_path.iterdir())  # refused before anything is written


# ---- grid ---------------------------------------------------------------------------------------
def test_grid_runs_share_files_with_eval(tmp_path: Path, tiny_policy: TransformersBackend,
                                         tiny_bfcl: list[ToolExample], fast: dict[str, int]) -> None:
    base = EvalSpec("beam", **fast)
    paths = run_grid(tiny_bfcl[:1], [1, 2], [1, 2], tmp_path, policy=tiny_policy, scorer=VerifierScorer(),
                     base=base, progress=False)
    assert len(paths) == 4 and all(p.exists() for p in paths)
    assert tmp_path / f"{slug(EvalSpec('beam', n=1, m=2, **fast).name)}.jsonl" in paths


# ---- resuming from a results file: refusals leave the file as it was ------------------------------
SPEC = {"strategy": "greedy", "model": "tiny"}
GOOD = json.dumps({"id": "a", "spec": SPEC, "correct": True}) + "\n"


@pytest.mark.parametrize(("content", "message"), [
    (GOOD + "[1, 2]\n", r":2: a JSON list, not a results record"),
    (GOOD + "not json\n", r":2: not valid JSON"),
    (GOOD + json.dumps({"spec": SPEC}) + "\n", r':2: a record without an "id"'),
    (json.dumps({"id": "a", "spec": {**SPEC, "model": "other"}}) + "\n" + GOOD, r":1 holds results of another setting"),
    # Another setting's file with a torn or unterminated last line was once cut before it was refused.
    (json.dumps({"id": "a", "spec": {**SPEC, "model": "other"}}) + "\n" + GOOD[:30], "another setting"),
    (json.dumps({"id": "a", "spec": {**SPEC, "model": "other"}}), r":1 holds results of another setting"),
    (GOOD + "hello", r":2: not valid JSON"),  # an unterminated line that cannot be a torn record
    (GOOD + '{"id": "b", "spec": {"strategy": "beam"}}', r":2 holds results of another setting"),
])
def test_resume_refuses_a_foreign_file_without_touching_it(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "greedy.jsonl"
    path.write_text(content)
    before = path.read_bytes()
    with pytest.raises(ValueError, match=message) as info:
        runner.load_done(path, SPEC)
    assert str(path) in str(info.value)
    assert path.read_bytes() == before


def test_resume_from_a_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "greedy.jsonl").mkdir()
    with pytest.raises(ValueError, match="is not a results file"):
        runner.load_done(tmp_path / "greedy.jsonl", SPEC)


def test_resume_cuts_only_a_torn_record(tmp_path: Path) -> None:
    path = tmp_path / "greedy.jsonl"
    second = json.dumps({"id": "b", "spec": SPEC, "raw": "caf\u00e9 \u2028 ok"}, ensure_ascii=False) + "\n"
    whole = second.encode()
    half = whole.index("\u00e9".encode()) + 1  # inside the two bytes of é: not UTF-8 text
    for tail in (whole[:-5], b'{"i', whole[:half]):
        path.write_bytes(GOOD.encode() + tail)
        assert list(runner.load_done(path, SPEC)) == ["a"]
        assert path.read_bytes() == GOOD.encode()
    # A whole record whose newline never came is kept, and the newline added for the next one.
    path.write_bytes(GOOD.encode() + second.encode()[:-1])
    assert list(runner.load_done(path, SPEC)) == ["a", "b"]
    assert path.read_bytes() == (GOOD + second).encode()
