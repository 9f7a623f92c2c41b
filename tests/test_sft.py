"""Policy fine-tuning: answers spelled as the grammar writes them, encoding as the search poses a
question, training that teaches a tiny model its answers, resume, and the command line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from langchain_toolprm.backends.transformers import TransformersBackend
from langchain_toolprm.cli import main
from langchain_toolprm.core.prompts import BUILTIN_JSON, build_prompt, qwen_format
from langchain_toolprm.core.proposer import Constraints
from langchain_toolprm.core.search import SearchConfig, prepare_problem, run_search
from langchain_toolprm.core.steps import Call, fragments, segment
from langchain_toolprm.core.verifier import VerifierScorer
from langchain_toolprm.data.records import DataFileError, ToolExample, write_jsonl
from langchain_toolprm.evaluation.baselines import parse_calls
from langchain_toolprm.training.sft import (
    MAX_REPLY_CHARS,
    PolicyTrainConfig,
    answer_text,
    decision_index,
    encode_example,
    encode_examples,
    evaluate_policy,
    train_policy,
)

TOOLS = (
    {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
    {"type": "function", "function": {"name": "convert", "description": "Convert money", "parameters": {
        "type": "object", "properties": {"amount": {"type": "number"}, "to": {"type": "string"}},
        "required": ["amount", "to"]}}},
)
EXAMPLES = [
    ToolExample("w", "test", ({"role": "user", "content": "weather in Oslo"},), TOOLS, (Call("get_weather", {"city": "Oslo"}),)),
    ToolExample("c", "test", ({"role": "user", "content": "7 dollars in yen"},), TOOLS,
                (Call("convert", {"amount": 7, "to": "JPY"}), Call("convert", {"amount": 7, "to": "EUR"}))),
    ToolExample("n", "test", ({"role": "user", "content": "tell me a joke"},), TOOLS, ()),
]


def test_answers_are_spelled_as_the_grammar_writes_them() -> None:
    calls = [Call("convert", {"amount": 7, "to": "JPY"}), Call("get_weather", {"city": "Oslo"})]
    text = answer_text(calls, BUILTIN_JSON)
    assert text == " " + "".join(fragments(segment(calls)))  # the built-in list opens with its space
    assert parse_calls(text, BUILTIN_JSON) == calls
    assert answer_text([], BUILTIN_JSON) == " []"
    assert answer_text([], qwen_format("<|im_end|>")) is None  # "no call" is prose there: nothing to learn
    # After no call, a short reply is learnt as the chat model writes it; a long one is not.
    assert answer_text([], BUILTIN_JSON, "\nAssistant:", " It is sunny. ") == " []\nAssistant: It is sunny.\n"
    assert answer_text([], qwen_format("<|im_end|>"), "", "It is sunny.") == "It is sunny.<|im_end|>"
    assert answer_text([], BUILTIN_JSON, "\nAssistant:", "x" * (MAX_REPLY_CHARS + 1)) == " []"
    assert answer_text(calls, BUILTIN_JSON, "\nAssistant:", "ignored") == text  # a reply follows results, not calls


def test_encoding_poses_the_question_as_the_search_does(tiny_policy: TransformersBackend) -> None:
    tok = tiny_policy.tokenizer
    ex = EXAMPLES[1]
    enc = encode_example(tok, ex)
    assert enc is not None
    problem, prompt = prepare_problem(tiny_policy, ex.lc_messages(), ex.specs(), Constraints(tuple(ex.specs())), 64)
    head = tiny_policy.encode(prompt.text, special=True)
    assert enc.ids.tolist()[:len(head)] == head
    assert list(enc.positions) == list(range(len(head) - 1, len(enc.ids) - 1))
    assert tok.decode(list(enc.targets)) == answer_text(ex.gold, prompt.call_format)
    assert encode_example(tok, ex, max_length=len(head)) is None  # too long to learn whole: skipped
    kept, skipped = encode_examples(tok, EXAMPLES, max_length=len(enc.ids))
    assert len(kept) == 3 and skipped == 0


def test_decision_weight_counts_the_call_decision_more(tiny_policy: TransformersBackend) -> None:
    tok = tiny_policy.tokenizer
    for ex in EXAMPLES:  # a call list and "no call": the repeated target is where the two kinds part
        plain, weighted = encode_example(tok, ex), encode_example(tok, ex, decision_weight=4)
        assert weighted.ids.tolist() == plain.ids.tolist() and weighted.targets[:len(plain.targets)] == plain.targets
        prompt = build_prompt(tok, ex.lc_messages(), ex.specs())
        other = answer_text([] if ex.gold else [Call("f", {})], prompt.call_format)
        other_ids = tok(prompt.text + other)["input_ids"][len(plain.ids) - len(plain.targets):]
        i = decision_index(plain.targets, other_ids)
        assert plain.targets[:i] == tuple(other_ids[:i]) and plain.targets[i] != other_ids[i]
        assert weighted.targets[len(plain.targets):] == (plain.targets[i],) * 3
        assert weighted.positions[len(plain.positions):] == (plain.positions[i],) * 3
    assert decision_index([5, 6, 7], [5, 6, 9]) == 2 and decision_index([5, 6], None) == 0
    with pytest.raises(ValueError, match="decision_weight"):
        encode_example(tok, EXAMPLES[0], decision_weight=0)


def test_qwen_format_skips_prose_no_call_examples(tiny_qwen_policy: TransformersBackend) -> None:
    kept, skipped = encode_examples(tiny_qwen_policy.tokenizer, EXAMPLES)
    assert len(kept) == 2 and skipped == 1
    prompt = build_prompt(tiny_qwen_policy.tokenizer, EXAMPLES[0].lc_messages(), EXAMPLES[0].specs())
    assert tiny_qwen_policy.tokenizer.decode(list(kept[0].targets)) == answer_text(EXAMPLES[0].gold,
                                                                                   prompt.call_format)


@pytest.fixture(scope="module")
def train_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sft-data") / "examples_train.jsonl"
    write_jsonl(path, EXAMPLES)
    return path


def config(base: Path, data: Path, out: Path, **kw: object) -> PolicyTrainConfig:
    values = dict(base_model=str(base), train_file=str(data), output_dir=str(out), lora=False, learning_rate=3e-3,
                  batch_size=3, grad_accum=1, log_every=1, save_every=1000, max_length=4096)
    return PolicyTrainConfig(**{**values, **kw})


@pytest.fixture(scope="module")
def trained(tiny_gemma_path: Path, train_file: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("sft-run") / "policy"
    return train_policy(config(tiny_gemma_path, train_file, out, epochs=80, eval_file=str(train_file)),
                        progress=False)


def greedy_calls(policy: TransformersBackend, ex: ToolExample) -> list[Call] | None:
    specs = ex.specs()
    problem, _ = prepare_problem(policy, ex.lc_messages(), specs, Constraints(tuple(specs), max_calls=4), 64)
    return run_search(policy, VerifierScorer(), problem, SearchConfig(strategy="greedy", max_value_tokens=8)).calls


def test_training_teaches_the_answers_the_search_then_writes(trained) -> None:
    assert trained.losses[-1] < trained.losses[0] / 4
    assert trained.eval is not None and trained.eval["answer_acc"] == 1.0  # every answer token ranks first
    policy = TransformersBackend.from_pretrained(trained.output_dir)
    for ex in EXAMPLES[1:]:  # constrained greedy over the tuned policy writes the learnt call lists
        assert greedy_calls(policy, ex) == list(ex.gold), ex.id


@pytest.mark.xfail(strict=True, reason="token healing keeps one token pending: this tiny vocabulary has ' {\"' "
                   "but no ' {', so the search feeds ' ' and '{\"' where the model learnt ' {\"', and the memorised "
                   "value goes astray ('Os, ' for 'Oslo'); Gemma's vocabulary has ' {'")
def test_the_search_reaches_every_learnt_answer(trained) -> None:
    policy = TransformersBackend.from_pretrained(trained.output_dir)
    assert greedy_calls(policy, EXAMPLES[0]) == list(EXAMPLES[0].gold)


def test_evaluation_of_the_base_model_is_worse(trained, tiny_gemma_path: Path, train_file: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = evaluate_policy(AutoModelForCausalLM.from_pretrained(tiny_gemma_path),
                           AutoTokenizer.from_pretrained(tiny_gemma_path), EXAMPLES)
    assert base["loss"] > trained.eval["loss"] and base["n_examples"] == trained.eval["n_examples"] == 3
    assert json.loads((trained.output_dir / "eval.json").read_text()) == trained.eval


def test_resume_continues_where_it_stopped(tiny_gemma_path: Path, train_file: Path, tmp_path: Path) -> None:
    cfg = config(tiny_gemma_path, train_file, tmp_path / "policy", batch_size=1, max_steps=4, save_every=1,
                 save_total_limit=10)
    straight = train_policy(cfg, progress=False)
    with pytest.raises(ValueError, match="already holds checkpoints"):
        train_policy(cfg, progress=False)
    for step in (3, 4):  # pretend the run died after step 2: the resumed run redoes steps 3-4 (a new epoch)
        shutil.rmtree(straight.output_dir / f"checkpoint-{step}")
    resumed = train_policy(cfg, progress=False, resume=True)
    assert (resumed.start_step, resumed.steps) == (2, 4)
    assert resumed.losses == pytest.approx(straight.losses[2:], rel=1e-4)


def test_errors_name_the_problem(tiny_gemma_path: Path, train_file: Path, tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="missing.jsonl"):
        train_policy(config(tiny_gemma_path, tmp_path / "missing.jsonl", tmp_path / "o"), progress=False)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(DataFileError, match="no examples"):
        train_policy(config(tiny_gemma_path, empty, tmp_path / "o"), progress=False)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 3}\n')
    with pytest.raises(DataFileError, match="bad.jsonl"):
        train_policy(config(tiny_gemma_path, bad, tmp_path / "o"), progress=False)
    with pytest.raises(ValueError, match="none of 3 examples"):
        train_policy(config(tiny_gemma_path, train_file, tmp_path / "o", max_length=8), progress=False)
    with pytest.raises(ValueError, match="decision_weight must be at least 1"):
        config(tiny_gemma_path, train_file, tmp_path / "o", decision_weight=0)


def test_cli_trains_a_policy(tiny_gemma_path: Path, train_file: Path, tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    assert main(["train-policy", "--train-file", str(train_file), "--output-dir", str(out), "--base-model",
                 str(tiny_gemma_path), "--max-steps", "1", "--no-progress", "--grad-accum", "1",
                 "--decision-weight", "3"]) == 0
    assert json.loads((out / "train_config.json").read_text())["decision_weight"] == 3
    assert "trained 1 steps" in capsys.readouterr().out and (out / "adapter_config.json").exists()
    tuned = TransformersBackend.from_pretrained(out)  # a LoRA adapter loads as a policy (base path recorded)
    base = TransformersBackend.from_pretrained(tiny_gemma_path)
    ids = torch.tensor([base.encode("weather in Oslo", special=True)])
    assert not torch.allclose(tuned.model(ids).logits, base.model(ids).logits)  # with the trained adapter applied
    assert main(["train-policy", "--train-file", str(tmp_path / "nope.jsonl"), "--output-dir", str(out / "x"),
                 "--base-model", str(tiny_gemma_path), "--no-progress"]) == 2
    assert "nope.jsonl" in capsys.readouterr().err


def test_training_continues_from_an_adapter(tiny_gemma_path: Path, train_file: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    first = train_policy(config(tiny_gemma_path, train_file, tmp_path / "a", lora=True, max_steps=2), progress=False)
    recorded = json.loads((first.output_dir / "adapter_config.json").read_text())
    recorded["base_model_name_or_path"] = "the embedded model"  # as the shipped adapter records it: no path
    (first.output_dir / "adapter_config.json").write_text(json.dumps(recorded))
    # Learning rate 0: the continued run must come out as the adapter it started from (a fresh LoRA
    # would come out as the base model), with the adapter's own rank whatever lora_r says.
    again = train_policy(config(tiny_gemma_path, train_file, tmp_path / "b", lora=True, max_steps=1, learning_rate=0.0,
                                lora_r=2, init_adapter=str(first.output_dir)), progress=False)
    assert again.losses[0] == pytest.approx(first.losses[-1], rel=0.2) and again.losses[0] < first.losses[0]
    saved = json.loads((again.output_dir / "adapter_config.json").read_text())
    assert saved["r"] == 8 and saved["base_model_name_or_path"] == str(tiny_gemma_path.resolve())
    ids = torch.tensor([TransformersBackend.from_pretrained(tiny_gemma_path).encode("weather in Oslo", special=True)])
    logits = {k: TransformersBackend.from_pretrained(p, base_model=base).model(ids).logits
              for k, p, base in (("first", first.output_dir, tiny_gemma_path), ("again", again.output_dir, None),
                                 ("base", tiny_gemma_path, None))}  # "again" loads from its own record
    assert torch.allclose(logits["again"], logits["first"], atol=1e-5)
    assert not torch.allclose(logits["again"], logits["base"], atol=1e-3)

    with pytest.raises(FileNotFoundError, match="no LoRA adapter"):
        train_policy(config(tiny_gemma_path, train_file, tmp_path / "c", lora=True, init_adapter=str(tmp_path)),
                     progress=False)
    with pytest.raises(ValueError, match="needs lora=True"):
        config(tiny_gemma_path, train_file, tmp_path / "c", init_adapter=str(first.output_dir))
    assert main(["train-policy", "--train-file", str(train_file), "--output-dir", str(tmp_path / "d"), "--base-model",
                 str(tiny_gemma_path), "--init-adapter", str(tmp_path / "nowhere"), "--no-progress"]) == 2
    assert "no LoRA adapter at" in capsys.readouterr().err
