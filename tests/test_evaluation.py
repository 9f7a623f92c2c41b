"""The evaluation harness on the tiny random models: strategies, parsing, runs, tables, grid, CLI."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest
import torch

from langchain_toolprm import TransformersPolicy
from langchain_toolprm.cli import main
from langchain_toolprm.core.prompts import BUILTIN_JSON, llama3_format, qwen_format
from langchain_toolprm.core.scorers import GenerativePRM
from langchain_toolprm.core.steps import Call
from langchain_toolprm.core.verifier import VerifierScorer
from langchain_toolprm.data.records import ToolExample
from langchain_toolprm.evaluation import runner as evaluation
from langchain_toolprm.evaluation.benchmarks import bfcl_example, load_benchmark
from langchain_toolprm.evaluation.runner import (
    STRATEGIES,
    EvalSpec,
    Prediction,
    parse_calls,
    plot_grid,
    predict,
    read_results,
    reread_text_answers,
    run_eval,
    run_grid,
    slug,
    summarize,
)

WEATHER = {"name": "get_weather", "description": "Weather in a city", "parameters": {
    "type": "dict", "properties": {
        "city": {"type": "string", "description": "a city"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "unit"}},
    "required": ["city"]}}
ALARM = {"name": "set_alarm", "description": "Set an alarm", "parameters": {
    "type": "dict", "properties": {"hour": {"type": "integer", "description": "hour"}}, "required": ["hour"]}}
QUESTIONS = [
    {"id": "simple_python_0", "question": [[{"role": "user", "content": "What is the weather in paris in celsius?"}]],
     "function": [WEATHER]},
    {"id": "simple_python_1", "question": [[{"role": "user", "content": "Set an alarm at 7."}]], "function": [ALARM]},
]
ANSWERS = [
    {"id": "simple_python_0", "ground_truth": [{"get_weather": {"city": ["paris"], "unit": ["celsius", ""]}}]},
    {"id": "simple_python_1", "ground_truth": [{"set_alarm": {"hour": [7]}}]},
]
FAST = {"max_value_tokens": 6, "max_new_tokens": 12}  # keep the tiny model's rambling short


@pytest.fixture(scope="module")
def bfcl_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-question BFCL ``simple_python`` category in BFCL's own file layout."""
    root = tmp_path_factory.mktemp("bfcl")
    (root / "possible_answer").mkdir()
    (root / "BFCL_v4_simple_python.json").write_text("\n".join(json.dumps(q) for q in QUESTIONS) + "\n")
    (root / "possible_answer" / "BFCL_v4_simple_python.json").write_text("\n".join(json.dumps(a) for a in ANSWERS))
    return root


@pytest.fixture(scope="module")
def examples(bfcl_dir: Path) -> list[ToolExample]:
    return load_benchmark("bfcl", "simple_python", bfcl_dir)


# ---- parsing free text -----------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    (' [{"name": "get_weather", "arguments": {"city": "Paris"}}]\nTool (get_weather): sunny',
     [Call("get_weather", {"city": "Paris"})]),
    (" []\nAssistant: no tool fits", []),
    (' [{"name": "get_weather", "arguments": {"city": "Paris"}}, {"name": "get_weather", "arguments": '
     '{"city": "Oslo", "unit": "celsius"}}]', [Call("get_weather", {"city": "Paris"}),
                                               Call("get_weather", {"city": "Oslo", "unit": "celsius"})]),
    # Read as calls however wrong: the benchmark's scorer judges names and values.
    (' [{"name": "get_weather", "arguments": {"city": {"type": "string"}}}]',  # schema copied as value
     [Call("get_weather", {"city": {"type": "string"}})]),
    (' [{"name": "get_time", "arguments": {}}]', [Call("get_time", {})]),  # no such tool
    (' [{"name": "get_weather", "arguments": {"city": "Paris"}}, {"name": "get_weather"}]',  # no arguments
     [Call("get_weather", {"city": "Paris"}), Call("get_weather", {})]),
    (' [{"name": "get_weather", "arguments": "Paris"}]', None),  # arguments not an object
    (' [{"arguments": {"city": "Paris"}}]', None),  # no name
    (' [{"name": "get_weather", "arguments": {"city": "Par', None),  # cut off
    (' {"name": "get_weather", "arguments": {"city": "Paris"}}', None),  # not a list
    ("I think it is sunny.", None),
])
def test_parse_json_list(text: str, expected: list[Call] | None) -> None:
    assert parse_calls(text, BUILTIN_JSON) == expected


def test_parse_tool_call_blocks() -> None:
    fmt = qwen_format("<|im_end|>")
    good = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
    assert parse_calls(good + "\n" + good.replace("Paris", "Oslo"), fmt) == [
        Call("get_weather", {"city": "Paris"}), Call("get_weather", {"city": "Oslo"})]
    assert parse_calls("It is sunny in Paris.", fmt) == []  # prose: no call
    assert parse_calls('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Pa', fmt) is None
    assert parse_calls("<tool_call>\n{'name': 'get_weather'}\n</tool_call>", fmt) is None
    assert parse_calls('<tool_call>{"name": "get_weather", "arguments": {}}</tool_call>', fmt) == [Call("get_weather", {})]


def test_parse_llama3() -> None:
    fmt = llama3_format("<|eot_id|>")
    text = '{"name": "get_weather", "parameters": {"city": "Paris"}}; {"name": "get_weather", "parameters": {"city": "Rome"}}'
    assert parse_calls(text, fmt) == [Call("get_weather", {"city": "Paris"}), Call("get_weather", {"city": "Rome"})]
    assert parse_calls('{"name": "get_weather", "parameters": {"city": 3}}', fmt) == [Call("get_weather", {"city": 3})]
    assert parse_calls('{"name": "get_weather", "parameters": [3]}', fmt) is None


# ---- specs -----------------------------------------------------------------------------------
def test_spec_labels_and_matched_budget(tmp_path: Path) -> None:
    prm = str(tmp_path / "my-prm")
    assert EvalSpec("beam", n=2, m=4).name == "beam N=2 M=4 verifier"
    assert EvalSpec("beam", scorer="combined", prm=prm).name == "beam N=1 M=4 verifier*my-prm"
    assert EvalSpec("best_of_n", n=2, m=4).name == "best_of_n 8 verifier"  # N*M samples by default
    assert EvalSpec("majority", samples=3, scorer="prm", prm=prm).name == "majority 3 prm:my-prm"
    assert EvalSpec("token_beam", m=3).name == "token_beam 3"
    # What a strategy ignores does not split its results: greedy under any scorer is one run.
    assert EvalSpec("greedy", scorer="prm", prm=prm, n=4, temperature=0.1).identity() == EvalSpec("greedy").identity()
    assert EvalSpec("unconstrained", max_value_tokens=9).name == "unconstrained"
    assert EvalSpec("greedy", label="mine").name == "mine"
    # policy_weight came later: at its default it is not in the identity, so older files resume.
    assert "policy_weight" not in EvalSpec("beam").identity()
    weighed = EvalSpec("beam", scorer="combined", prm=prm, policy_weight=0.2)
    assert weighed.name == "beam N=1 M=4 verifier*my-prm pw=0.2" and weighed.identity()["policy_weight"] == 0.2
    assert EvalSpec("greedy", policy_weight=0.2).identity() == EvalSpec("greedy").identity()
    for bad in ({"strategy": "nope"}, {"strategy": "beam", "scorer": "prm"}, {"strategy": "beam", "m": 0},
                {"strategy": "beam", "policy_weight": -1.0}):
        with pytest.raises(ValueError):
            EvalSpec(**bad)


# ---- one item --------------------------------------------------------------------------------
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_strategy_predicts_with_cost(strategy: str, tiny_policy: TransformersPolicy,
                                           examples: list[ToolExample]) -> None:
    pred = predict(tiny_policy, VerifierScorer(), examples[0], EvalSpec(strategy, m=2, **FAST))
    assert isinstance(pred, Prediction) and pred.error is None
    assert pred.policy_input_tokens > 20 and pred.policy_tokens >= pred.policy_input_tokens
    assert pred.seconds > 0 and isinstance(pred.raw, str)
    if pred.calls is not None:
        tools = {t.name: t for t in examples[0].specs()}
        assert all(tools[c.name].validate_arguments(c.arguments) is None for c in pred.calls)
    if strategy in ("unconstrained", "token_beam"):
        assert pred.policy_output_tokens > 0  # generated text is counted too


def test_text_strategies_on_a_chat_template(tiny_qwen_policy: TransformersPolicy, examples: list[ToolExample]) -> None:
    """The <tool_call> template path: random text holds no block, which reads as "no call"."""
    for strategy in ("unconstrained", "token_beam"):
        pred = predict(tiny_qwen_policy, VerifierScorer(), examples[1], EvalSpec(strategy, m=2, **FAST))
        assert pred.policy_output_tokens > 0 and (pred.calls is None or isinstance(pred.calls, list))


def test_prm_cost_is_counted_and_greedy_does_not_pay_it(tiny_gemma_path: Path, tiny_policy: TransformersPolicy,
                                                         examples: list[ToolExample]) -> None:
    prm = GenerativePRM.from_pretrained(tiny_gemma_path)
    spec = {"scorer": "prm", "prm": str(tiny_gemma_path), "m": 2, **FAST}
    assert predict(tiny_policy, prm, examples[0], EvalSpec("beam", **spec)).scorer_tokens > 0
    assert predict(tiny_policy, prm, examples[0], EvalSpec("greedy", **spec)).scorer_tokens == 0


def test_results_name_the_prm_weights(tmp_path: Path, tiny_gemma_path: Path, tiny_policy: TransformersPolicy,
                                      examples: list[ToolExample]) -> None:
    """Retrained weights under the same path must not extend results scored with the old ones."""
    prm_dir = tmp_path / "prm"
    shutil.copytree(tiny_gemma_path, prm_dir)
    spec, path = EvalSpec("beam", scorer="prm", prm=str(prm_dir), m=2, **FAST), tmp_path / "beam.jsonl"
    prm = GenerativePRM.from_pretrained(prm_dir)
    run_eval(examples[:1], spec, path, policy=tiny_policy, scorer=prm, progress=False)
    digest = json.loads(path.read_text())["spec"]["prm_sha256"]
    assert len(digest) == 16
    weights = next(prm_dir.glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes() + b" ")
    with pytest.raises(ValueError, match="another setting"):
        run_eval(examples, spec, path, policy=tiny_policy, scorer=prm, progress=False)


def test_unconstrained_stops_once_the_json_list_closes(tiny_policy: TransformersPolicy) -> None:
    """Text after a closed list cannot change what ``parse_calls`` reads, so greedy stops there."""
    tok = tiny_policy.tokenizer
    prompt = tok("Calls:", add_special_tokens=False).input_ids
    stop = evaluation._StopText(tok, ("\nUser:",), len(prompt), evaluation._json_closed)
    def done(text: str) -> bool:
        ids = prompt + tok(text, add_special_tokens=False).input_ids
        return bool(stop(torch.tensor([ids]), None)[0])

    assert not done(' [{"name": "f", "arguments": {"a": "]"')
    assert done(' [{"name": "f", "arguments": {"a": "]"}}]') and done(" [] and then")
    assert done(" no list\nUser:") and not done(" no list")
    assert evaluation._json_closed(" []") and not evaluation._json_closed(" [")


def test_a_prompt_too_long_is_an_item_error(tiny_policy: TransformersPolicy, examples: list[ToolExample]) -> None:
    pred = predict(tiny_policy, VerifierScorer(), examples[0], EvalSpec("unconstrained", max_new_tokens=10**6))
    assert pred.calls is None and pred.error.startswith("ContextLengthError")


# ---- runs --------------------------------------------------------------------------------------
def test_run_eval_writes_jsonl_and_resumes(tmp_path: Path, tiny_policy: TransformersPolicy,
                                           examples: list[ToolExample], monkeypatch: pytest.MonkeyPatch) -> None:
    spec, path = EvalSpec("greedy", **FAST), tmp_path / "greedy.jsonl"
    records = run_eval(examples, spec, path, policy=tiny_policy, scorer=VerifierScorer(), progress=False)
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [r["id"] for r in lines] == [e.id for e in examples] and lines == records
    for key in ("benchmark", "category", "strategy", "calls", "raw", "correct", "reason", "policy_tokens",
                "policy_input_tokens", "policy_output_tokens", "scorer_tokens", "seconds", "spec"):
        assert key in lines[0]
    assert (lines[0]["benchmark"], lines[0]["category"], lines[0]["strategy"]) == ("bfcl", "simple_python", "greedy")

    def no_work(*args: object) -> Prediction:
        raise AssertionError("a resumed run predicted an item already in its file")

    monkeypatch.setattr(evaluation, "predict", no_work)
    assert run_eval(examples, spec, path, policy=tiny_policy, scorer=VerifierScorer(), progress=False) == records
    with pytest.raises(ValueError, match="another setting"):
        run_eval(examples, EvalSpec("greedy", max_value_tokens=7), path, policy=tiny_policy,
                 scorer=VerifierScorer(), progress=False)
    # A crash mid-write leaves a torn last line: it is cut and only that item is done again.
    path.write_text(path.read_text()[:-40])
    done = []
    monkeypatch.setattr(evaluation, "predict", lambda p, s, ex, sp: done.append(ex.id) or Prediction([], "", 1, 0, 0, 0.1))
    run_eval(examples, spec, path, policy=tiny_policy, scorer=VerifierScorer(), progress=False)
    assert done == [examples[1].id] and len(path.read_text().splitlines()) == 2
    run_eval(examples, spec, path, policy=tiny_policy, scorer=VerifierScorer(), progress=False, resume=False)
    assert done[1:] == [e.id for e in examples]


def test_reread_text_answers_applies_todays_parser(tmp_path: Path, tiny_policy: TransformersPolicy,
                                                  examples: list[ToolExample], monkeypatch: pytest.MonkeyPatch) -> None:
    # As an older parser stored it: the schema copied as the value, read as no call at all.
    raw = ' [{"name": "get_weather", "arguments": {"city": {"type": "string"}}}]'
    monkeypatch.setattr(evaluation, "predict", lambda p, s, ex, sp: Prediction(None, raw, 1, 0, 0, 0.1))
    for strategy in ("unconstrained", "greedy"):
        run_eval(examples, EvalSpec(strategy, **FAST), tmp_path / f"{strategy}.jsonl", policy=tiny_policy,
                 scorer=VerifierScorer(), progress=False)
    greedy = (tmp_path / "greedy.jsonl").read_text()

    assert reread_text_answers(tmp_path / "unconstrained.jsonl", tiny_policy.tokenizer, examples) == 2
    first = json.loads((tmp_path / "unconstrained.jsonl").read_text().splitlines()[0])
    assert first["calls"] == [{"name": "get_weather", "arguments": {"city": {"type": "string"}}}]
    assert (first["correct"], first["reason"]) == (False, "type_error")  # judged by the checker, not the parser
    assert reread_text_answers(tmp_path / "unconstrained.jsonl", tiny_policy.tokenizer, examples) == 0
    assert reread_text_answers(tmp_path / "greedy.jsonl", tiny_policy.tokenizer, examples) == 0  # grammar-built
    assert (tmp_path / "greedy.jsonl").read_text() == greedy
    with pytest.raises(ValueError, match="no example given"):
        reread_text_answers(tmp_path / "unconstrained.jsonl", tiny_policy.tokenizer, examples[:1])


def test_summarize_renders_quality_and_cost_ratios(tmp_path: Path, tiny_policy: TransformersPolicy,
                                                   examples: list[ToolExample], monkeypatch: pytest.MonkeyPatch) -> None:
    irrelevance = [bfcl_example({**QUESTIONS[0], "id": "irrelevance_0"}, None, "irrelevance")]
    alpaca = [ToolExample("toolalpaca-0", "toolalpaca", ({"role": "user", "content": "weather in paris"},),
                          (examples[0].tools[0],), (Call("get_weather", {"city": "paris"}),))]

    def fake(policy: object, scorer: object, ex: ToolExample, spec: EvalSpec) -> Prediction:
        cost = 100 if spec.strategy == "greedy" else 300
        calls = [] if "irrelevance" in ex.id else list(ex.gold) if spec.strategy == "beam" else None
        return Prediction(calls, "", cost, 0, cost // 3 if spec.strategy == "beam" else 0, cost / 100)

    monkeypatch.setattr(evaluation, "predict", fake)
    for exs in (examples, irrelevance, alpaca):
        for spec in (EvalSpec("greedy"), EvalSpec("beam")):
            run_eval(exs, spec, tmp_path / exs[0].source / f"{slug(spec.name)}.jsonl", policy=tiny_policy,
                     scorer=VerifierScorer(), progress=False)
    table = summarize([tmp_path])
    assert "### bfcl" in table and "### toolalpaca" in table
    assert "| category | strategy | n | accuracy | policy tok | scorer tok | s/item | tok x greedy | time x greedy |" in table
    assert "| simple_python | greedy | 2 | 0.0 | 100 | 0 | 1.0 | 1.00 | 1.00 |" in table
    assert "| simple_python | beam N=1 M=4 verifier | 2 | 100.0 | 300 | 100 | 3.0 | 4.00 | 3.00 |" in table
    assert "| irrelevance | greedy | 1 | 100.0 |" in table
    assert "| mean | greedy | 3 | 50.0 | 100 | 0 | 1.0 | 1.00 | 1.00 |" in table
    assert "| mean | beam N=1 M=4 verifier | 3 | 100.0 |" in table
    assert "name F1 | arg F1 | avg F1 | exact" in table
    assert "| - | beam N=1 M=4 verifier | 1 | 100.0 | 100.0 | 100.0 | 100.0 |" in table
    (tmp_path / "empty").mkdir()
    assert summarize([tmp_path / "empty"]) == "no results"
    only = summarize([tmp_path], keep=lambda r: r["id"] == examples[0].id)
    assert "| simple_python | greedy | 1 |" in only and "irrelevance" not in only and "toolalpaca" not in only
    # Gzipped copies (as committed) read the same, and are not counted twice beside their originals.
    packed = tmp_path.parent / "packed"
    for f in tmp_path.rglob("*.jsonl"):
        target = packed / f.relative_to(tmp_path).with_suffix(".jsonl.gz")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(gzip.compress(f.read_bytes()))
    assert read_results([packed]) and sorted(map(json.dumps, read_results([packed]))) == sorted(
        map(json.dumps, read_results([tmp_path])))
    assert summarize([packed]) == table
    shutil.copytree(packed, tmp_path, dirs_exist_ok=True)
    assert len(read_results([tmp_path])) == len(read_results([packed]))
    # Records are scored again from their stored calls when their examples are given (a metric fix
    # reaches old results); records of other examples are left as stored.
    stale = tmp_path / "toolalpaca" / "beam_N=1_M=4_verifier.jsonl"
    rec = json.loads(stale.read_text())
    stale.write_text(json.dumps({**rec, "arg_f1": 0.0, "exact": False}) + "\n")
    assert read_results([stale])[0]["arg_f1"] == 0.0
    fixed = read_results([stale], alpaca + examples)[0]
    assert (fixed["arg_f1"], fixed["exact"], fixed["name_f1"]) == (1.0, True, 1.0)
    assert "| - | beam N=1 M=4 verifier | 1 | 100.0 | 100.0 | 100.0 | 100.0 |" in summarize([tmp_path], examples=alpaca)


# ---- grid ---------------------------------------------------------------------------------------
def test_grid_runs_share_files_with_eval_and_plot(tmp_path: Path, tiny_policy: TransformersPolicy,
                                                   examples: list[ToolExample]) -> None:
    base = EvalSpec("beam", **FAST)
    paths = run_grid(examples[:1], [1, 2], [1, 2], tmp_path, policy=tiny_policy, scorer=VerifierScorer(),
                     base=base, progress=False)
    assert len(paths) == 4 and all(p.exists() for p in paths)
    assert tmp_path / f"{slug(EvalSpec('beam', n=1, m=2, **FAST).name)}.jsonl" in paths
    run_eval(examples[:1], EvalSpec("greedy", **FAST), tmp_path / "greedy.jsonl", policy=tiny_policy,
             scorer=VerifierScorer(), progress=False)
    png = plot_grid(tmp_path)
    assert png.exists() and png.stat().st_size > 1000 and png.read_bytes()[:4] == b"\x89PNG"
    md = (tmp_path / "grid.md").read_text()
    assert "| N \\ M | 1 | 2 |" in md and md.count("\n| ") == 2 + 1  # header + one row per N


# ---- command line --------------------------------------------------------------------------------
def test_cli_eval_end_to_end_and_resume(tmp_path: Path, tiny_gemma_path: Path, bfcl_dir: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["eval", "--benchmark", "bfcl", "--category", "simple_python", "--strategy", "greedy",
            "--strategy", "beam,best_of_n", "--M", "2", "--limit", "2", "--model", str(tiny_gemma_path),
            "--data-dir", str(bfcl_dir), "--out", str(tmp_path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "### bfcl" in out and "| simple_python | greedy | 2 |" in out and "| simple_python | best_of_n 2 verifier | 2 |" in out
    folder = tmp_path / "bfcl" / "simple_python"
    assert sorted(p.name for p in folder.iterdir()) == ["beam_N=1_M=2_verifier.jsonl", "best_of_n_2_verifier.jsonl",
                                                        "greedy.jsonl"]
    before = {p: p.read_text() for p in folder.iterdir()}
    assert main(argv) == 0  # resumed: nothing to do, nothing appended
    assert {p: p.read_text() for p in folder.iterdir()} == before


def test_cli_limit_zero_runs_every_item(tmp_path: Path, tiny_gemma_path: Path, bfcl_dir: Path) -> None:
    argv = ["eval", "--benchmark", "bfcl", "--category", "simple_python", "--strategy", "greedy", "--limit", "0",
            "--model", str(tiny_gemma_path), "--data-dir", str(bfcl_dir), "--out", str(tmp_path)]
    assert main(argv) == 0
    lines = (tmp_path / "bfcl" / "simple_python" / "greedy.jsonl").read_text().splitlines()
    assert len(lines) == len(QUESTIONS) == 2  # every item, where a --limit of 0 once loaded none


def test_cli_grid(tmp_path: Path, tiny_gemma_path: Path, bfcl_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["grid", "--benchmark", "bfcl", "--category", "simple_python", "--N", "1", "--M", "1,2", "--limit", "1",
            "--model", str(tiny_gemma_path), "--data-dir", str(bfcl_dir), "--out", str(tmp_path)]
    assert main(argv) == 0
    folder = tmp_path / "bfcl" / "simple_python"
    assert (folder / "grid.png").exists() and (folder / "grid.md").exists()
    assert "beam N=1 M=2 verifier" in capsys.readouterr().out


@pytest.mark.parametrize(("args", "message"), [
    (["--benchmark", "bfcl", "--category", "simple_python,nope"], "unknown BFCL category nope"),
    (["--benchmark", "bfcl", "--category", "simple_python", "--strategy", "greedy,sampling"], "unknown strategy 'sampling'"),
    (["--benchmark", "bfcl", "--category", "simple_python", "--data-dir", "{tmp}/missing"], "BFCL data not found"),
    (["--benchmark", "toolalpaca", "--data-dir", "{tmp}"], "missing data file"),
    (["--benchmark", "toolalpaca", "--category", "simple_python"], "toolalpaca has no categories"),
    (["--benchmark", "bfcl", "--scorer", "{tmp}/no-prm"], "no PRM at"),
    (["--benchmark", "bfcl", "--category", "simple_python", "--N", "0"], "at least 1"),
    (["--benchmark", "bfcl", "--category", "simple_python", "--limit", "-1"], "--limit must be 0"),
])
def test_cli_errors_are_clear(args: list[str], message: str, tmp_path: Path, tiny_gemma_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["eval", *(a.format(tmp=tmp_path) for a in args), "--model", str(tiny_gemma_path), "--out", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("toolprm eval: error:") and message in err


def test_cli_unknown_benchmark(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["eval", "--benchmark", "nope"])
    assert exit_info.value.code == 2 and "invalid choice: 'nope'" in capsys.readouterr().err


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
        evaluation._load_done(path, SPEC)
    assert str(path) in str(info.value)
    assert path.read_bytes() == before


def test_resume_from_a_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "greedy.jsonl").mkdir()
    with pytest.raises(ValueError, match="is not a results file"):
        evaluation._load_done(tmp_path / "greedy.jsonl", SPEC)


def test_resume_cuts_only_a_torn_record(tmp_path: Path) -> None:
    path = tmp_path / "greedy.jsonl"
    second = json.dumps({"id": "b", "spec": SPEC, "raw": "caf\u00e9 \u2028 ok"}, ensure_ascii=False) + "\n"
    whole = second.encode()
    half = whole.index("\u00e9".encode()) + 1  # inside the two bytes of é: not UTF-8 text
    for tail in (whole[:-5], b'{"i', whole[:half]):
        path.write_bytes(GOOD.encode() + tail)
        assert list(evaluation._load_done(path, SPEC)) == ["a"]
        assert path.read_bytes() == GOOD.encode()
    # A whole record whose newline never came is kept, and the newline added for the next one.
    path.write_bytes(GOOD.encode() + second.encode()[:-1])
    assert list(evaluation._load_done(path, SPEC)) == ["a", "b"]
    assert path.read_bytes() == (GOOD + second).encode()


def test_cli_eval_over_a_folder_is_one_error_line(tmp_path: Path, tiny_gemma_path: Path, bfcl_dir: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bfcl" / "simple_python" / "greedy.jsonl").mkdir(parents=True)
    argv = ["eval", "--benchmark", "bfcl", "--category", "simple_python", "--strategy", "greedy", "--limit", "1",
            "--model", str(tiny_gemma_path), "--data-dir", str(bfcl_dir), "--out", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err  # after the model's loading bar
    last = err.strip().splitlines()[-1]
    assert last.startswith("toolprm: error:") and "greedy.jsonl is not a results file" in last
    assert "Traceback" not in err
