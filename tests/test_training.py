"""PRM training: label selection, train/inference encoding agreement, training, resume, evaluation."""

from __future__ import annotations

import argparse
import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from tokenizers.processors import TemplateProcessing
from transformers import AutoModelForCausalLM, AutoTokenizer

from langchain_toolprm import GenerativePRM, ToolPRMChatModel
from langchain_toolprm.core.embedded import cache_dir
from langchain_toolprm.core.scorers import ScoringContext, encode_trajectory, label_token_ids
from langchain_toolprm.core.steps import Call, StepTag, segment
from langchain_toolprm.data.records import DataFileError, LabelledTrajectory, ToolExample, write_jsonl
from langchain_toolprm.training.prm import (
    PRMTrainConfig,
    add_eval_prm_parser,
    add_train_parser,
    collate,
    encode_dataset,
    encode_labelled,
    evaluate_reward_model,
    prefix_past,
    select_labels,
    shared_prefix,
    step_probabilities,
    token_nll,
    train_prm,
)

T = StepTag
TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
    {"type": "function", "function": {"name": "convert", "description": "Convert money", "parameters": {
        "type": "object", "properties": {"amount": {"type": "number"}, "to": {"type": "string"}},
        "required": ["amount", "to"]}}},
]


def example(i: int, question: str, gold: list[Call]) -> ToolExample:
    return ToolExample(f"ex{i}", "test", ({"role": "user", "content": question},), tuple(TOOLS), tuple(gold))


def labelled(ex: ToolExample, calls: list[Call], labels: list[bool] | None = None) -> LabelledTrajectory:
    steps = segment(calls)
    return LabelledTrajectory(ex, tuple(steps), tuple(labels if labels is not None else [True] * len(steps)))


def dataset() -> list[LabelledTrajectory]:
    """Gold trajectories all "+"; the same questions answered with the other function all "-"."""
    out = []
    for i, city in enumerate(["Paris", "Tokyo", "London"]):
        ex = example(i, f"what is the weather in {city}", [Call("get_weather", {"city": city})])
        out.append(labelled(ex, list(ex.gold)))
        bad = segment([Call("convert", {"amount": 3, "to": "EUR"})])
        out.append(LabelledTrajectory(ex, tuple(bad), tuple([False] * len(bad))))
    for i, amount in enumerate([10, 42], 3):
        ex = example(i, f"convert {amount} usd to eur", [Call("convert", {"amount": amount, "to": "EUR"})])
        out.append(labelled(ex, list(ex.gold)))
        bad = segment([Call("get_weather", {"city": "Paris"})])
        out.append(LabelledTrajectory(ex, tuple(bad), tuple([False] * len(bad))))
    return out


def ctx_of(traj: LabelledTrajectory) -> ScoringContext:
    return ScoringContext(tuple(traj.example.lc_messages()), tuple(traj.example.specs()))


def config(tiny: Path, tmp: Path, data: Path, **kw: object) -> PRMTrainConfig:
    base = dict(base_model=str(tiny), train_file=str(data), output_dir=str(tmp / "out"), batch_size=2, grad_accum=1,
                learning_rate=5e-3, lora_r=8, lora_dropout=0.0, log_every=1, save_every=1000)
    return PRMTrainConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def prm_base(tiny_gemma_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model with 5x larger (tied) embeddings, as a PRM base.

    At the random init's scale (std 0.02) the "+"/"-" logits stay near 0 whatever the hidden
    state, so the full-vocabulary loss can hardly fall; a real LM's embeddings are larger.
    """
    model = AutoModelForCausalLM.from_pretrained(tiny_gemma_path)
    with torch.no_grad():
        model.get_input_embeddings().weight.mul_(5.0)
    path = tmp_path_factory.mktemp("prm-base")
    model.save_pretrained(path)
    AutoTokenizer.from_pretrained(tiny_gemma_path).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def data_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("prm-data") / "train.jsonl"
    write_jsonl(path, dataset())
    return path


@pytest.fixture(scope="module")
def trained(prm_base: Path, data_file: Path, tmp_path_factory: pytest.TempPathFactory):
    """One LoRA run shared by the round-trip tests: the tiny dataset repeated at a high LR."""
    tmp = tmp_path_factory.mktemp("prm-run")
    cfg = config(prm_base, tmp, data_file, epochs=20, eval_file=str(data_file))
    return train_prm(cfg, progress=False)


# ---- label selection ------------------------------------------------------------------------------
def test_select_labels_per_mode() -> None:
    ex = example(0, "q", [])
    calls = [Call("get_weather", {"city": "Paris"}), Call("convert", {"amount": 1, "to": "EUR"})]
    traj = labelled(ex, calls, [True, True, False, True, True, True, True, True, True, False])
    tags = [s.tag for s in traj.steps]
    assert select_labels(traj, "prm") == list(enumerate(traj.labels))
    cprm = select_labels(traj, "cprm")
    assert [i for i, _ in cprm] == [i for i, t in enumerate(tags) if t is not T.ARG_VALUE]
    assert all(traj.labels[i] == y for i, y in cprm)
    assert select_labels(traj, "orm") == [(9, False)]
    good = labelled(ex, calls)
    assert select_labels(good, "orm") == [(9, True)]
    unfinished = LabelledTrajectory(ex, good.steps[:3], (True, True, True))
    assert select_labels(unfinished, "orm") == [(2, False)]
    assert select_labels(LabelledTrajectory(ex, (), ()), "prm") == []
    with pytest.raises(ValueError, match="unknown label mode"):
        select_labels(good, "bogus")  # type: ignore[arg-type]


# ---- train-time input == inference-time input ---------------------------------------------------------
def _bos_tokenizer(path: Path):
    tok = AutoTokenizer.from_pretrained(path)
    tok._tokenizer.post_processor = TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", tok.bos_token_id)])
    return tok


@pytest.mark.parametrize("bos", [False, True])
def test_train_ids_and_positions_equal_inference(tiny_gemma_path: Path, bos: bool,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    tok = _bos_tokenizer(tiny_gemma_path) if bos else AutoTokenizer.from_pretrained(tiny_gemma_path)
    assert (tok("", add_special_tokens=True)["input_ids"] == [tok.bos_token_id]) is bos
    prm = GenerativePRM(AutoModelForCausalLM.from_pretrained(tiny_gemma_path), tok)
    traj = dataset()[0]
    enc = encode_labelled(tok, traj)
    assert enc is not None and bos is (int(enc.ids[0]) == tok.bos_token_id)

    fed: list[torch.Tensor] = []
    forward = prm._forward
    monkeypatch.setattr(prm, "_forward", lambda ids, cache: (fed.append(ids), forward(ids, cache))[1])
    scores = prm.score(ctx_of(traj), [traj.steps[:k] for k in range(1, len(traj.steps) + 1)])
    context_ids, rows = fed[0][0].tolist(), fed[1]
    # Each row is one prefix; the longest is the whole trajectory (right-padded ones are shorter).
    assert context_ids + rows[-1].tolist() == enc.ids.tolist()

    with torch.no_grad():
        hidden = prm.model.get_decoder()(input_ids=enc.ids[None].long()).last_hidden_state[0]
        logits = prm.model.get_output_embeddings()(hidden[list(enc.positions)])[:, list(prm.label_ids)]
    assert torch.allclose(torch.softmax(logits, -1)[:, 0], torch.tensor(scores), atol=1e-5)


def test_gemma_tokenizer_bos_handling() -> None:
    """The real tokenizer adds BOS: context + steps as encoded at train time == as at inference."""
    path = cache_dir()
    if not (path / "tokenizer.json").exists():
        pytest.skip("the embedded Gemma 3 270M is not converted on this machine")
    tok = AutoTokenizer.from_pretrained(path)
    traj = dataset()[6]
    text = ctx_of(traj).text
    start = len(tok("", add_special_tokens=True)["input_ids"])
    steps_ids, _ = encode_trajectory(tok, "", traj.steps)
    inference = tok(text, add_special_tokens=True)["input_ids"] + steps_ids[start:]
    enc = encode_labelled(tok, traj)
    assert start == 1 and enc is not None and enc.ids.tolist() == inference
    assert all(tok.decode(int(enc.ids[p])).endswith(">") for p in enc.positions)
    assert label_token_ids(tok)


def test_truncation_keeps_bos_and_every_label(tiny_gemma_path: Path) -> None:
    tok = _bos_tokenizer(tiny_gemma_path)
    traj = dataset()[0]
    full = encode_labelled(tok, traj)
    assert full is not None
    cut = encode_labelled(tok, traj, max_length=len(full.ids) - 5)
    assert cut is not None and len(cut.ids) == len(full.ids) - 5 and int(cut.ids[0]) == tok.bos_token_id
    assert [int(cut.ids[p]) for p in cut.positions] == [int(full.ids[p]) for p in full.positions]
    assert cut.ids[-20:].tolist() == full.ids[-20:].tolist()
    steps_only = len(full.ids) - len(tok(ctx_of(traj).text, add_special_tokens=True)["input_ids"])
    bare = encode_labelled(tok, traj, max_length=steps_only + 1)  # BOS and the steps: no context left
    assert bare is not None and bare.ids.tolist() == [tok.bos_token_id] + full.ids[-steps_only:].tolist()
    assert encode_labelled(tok, traj, max_length=steps_only) is None  # would cut a step
    data, skipped = encode_dataset(tok, dataset(), "prm", max_length=steps_only)
    assert skipped >= 1 and len(data) + skipped == len(dataset())


# ---- training ---------------------------------------------------------------------------------------
def test_training_lowers_the_loss_and_round_trips(trained) -> None:
    out = trained.output_dir
    assert trained.steps == len(trained.losses) == 20 * 5 and trained.start_step == 0 and trained.skipped == 0
    first, last = sum(trained.losses[:5]) / 5, sum(trained.losses[-5:]) / 5
    assert last < 0.5 * first and sum(trained.accuracies[-5:]) / 5 > 0.8
    for name in ("adapter_config.json", "adapter_model.safetensors", "tokenizer_config.json", "train_config.json"):
        assert (out / name).exists(), name
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in log] == list(range(1, trained.steps + 1))
    assert {"step", "loss", "lr", "seconds"} <= set(log[0])
    assert json.loads((out / "train_config.json").read_text())["mode"] == "prm"

    prm = GenerativePRM.from_pretrained(out)
    data = dataset()
    for gold, bad in zip(data[::2], data[1::2]):
        ctx = ctx_of(gold)
        good_scores = prm.score(ctx, [gold.steps[:k] for k in range(1, len(gold.steps) + 1)])
        bad_scores = prm.score(ctx, [bad.steps[:k] for k in range(1, len(bad.steps) + 1)])
        assert sum(good_scores) / len(good_scores) > 0.5 > sum(bad_scores) / len(bad_scores)
        assert good_scores[-1] > bad_scores[-1]

    metrics = evaluate_reward_model(prm, data, "prm", batch_size=3)
    n_steps = sum(len(t.steps) for t in data)
    assert metrics["n_steps"] == n_steps and metrics["n_trajectories"] == len(data)
    assert 0.9 <= metrics["step_acc"] <= 1.0 and metrics["traj_acc"] <= metrics["step_acc"]
    assert 0 <= metrics["loss"] < first
    assert set(metrics["tag_acc"]) == {t.name for t in T}
    # The merged, reloaded adapter gives what the in-training evaluation measured.
    assert trained.eval is not None and metrics["loss"] == pytest.approx(trained.eval["loss"], rel=1e-3)


def test_evaluation_numbers_are_consistent(tiny_gemma_path: Path) -> None:
    prm = GenerativePRM(AutoModelForCausalLM.from_pretrained(tiny_gemma_path),
                        AutoTokenizer.from_pretrained(tiny_gemma_path))
    data = dataset()
    for mode in ("prm", "cprm", "orm"):
        m = evaluate_reward_model(prm, data, mode, batch_size=4)  # type: ignore[arg-type]
        assert all(0.0 <= m[k] <= 1.0 for k in ("step_acc", "traj_acc"))
        assert all(0.0 <= v <= 1.0 for v in m["tag_acc"].values()) and m["loss"] > 0
        assert m["n_steps"] == sum(len(select_labels(t, mode)) for t in data)  # type: ignore[arg-type]
        assert m["traj_acc"] <= m["step_acc"] or mode == "orm"
    orm = evaluate_reward_model(prm, data, "orm")
    assert orm["traj_acc"] == orm["step_acc"] and orm["n_steps"] == len(data)
    # Batching changes nothing.
    one, many = evaluate_reward_model(prm, data, batch_size=1), evaluate_reward_model(prm, data, batch_size=8)
    assert one["loss"] == pytest.approx(many["loss"], rel=1e-4) and one["step_acc"] == many["step_acc"]


def test_step_probabilities_are_what_the_search_scores(tiny_gemma_path: Path) -> None:
    prm = GenerativePRM(AutoModelForCausalLM.from_pretrained(tiny_gemma_path),
                        AutoTokenizer.from_pretrained(tiny_gemma_path))
    data = dataset()
    probs = step_probabilities(prm, data, batch_size=3)
    assert [len(p) for p in probs] == [len(t.steps) for t in data]
    for t, p in zip(data, probs):
        searched = prm.score(ctx_of(t), [t.steps[:k] for k in range(1, len(t.steps) + 1)])
        assert p == pytest.approx(searched, abs=1e-4)
    one_by_one = step_probabilities(prm, data, batch_size=1)
    assert all(a == pytest.approx(b, abs=1e-4) for a, b in zip(one_by_one, probs))


def test_resume_continues_where_it_stopped(tiny_gemma_path: Path, data_file: Path, tmp_path: Path) -> None:
    cfg = config(tiny_gemma_path, tmp_path, data_file, lora_dropout=0.1, save_every=1, save_total_limit=10,
                 epochs=2, max_steps=6)
    straight = train_prm(cfg, progress=False)
    out = straight.output_dir
    assert straight.steps == 6 and len(list(out.glob("checkpoint-*"))) == 6
    assert {"optimizer.pt", "scheduler.pt", "rng_state.pt", "trainer_state.json", "adapter_model.safetensors"} <= {
        p.name for p in (out / "checkpoint-4").iterdir()}
    with pytest.raises(ValueError, match="already holds checkpoints"):
        train_prm(cfg, progress=False)
    # Pretend the run died after step 3: the resumed run redoes steps 4-6 (crossing an epoch) exactly,
    # dropout included.
    for step in (4, 5, 6):
        shutil.rmtree(out / f"checkpoint-{step}")
    resumed = train_prm(cfg, progress=False, resume=True)
    assert resumed.start_step == 3 and resumed.steps == 6 and len(resumed.losses) == 3
    assert resumed.losses == pytest.approx(straight.losses[3:], rel=1e-4)
    # A longer run continues the step count; old checkpoints are pruned to the limit.
    longer = train_prm(replace(cfg, max_steps=8, save_total_limit=2), progress=False, resume=True)
    assert (longer.start_step, longer.steps, len(longer.losses)) == (6, 8, 2)
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-7", "checkpoint-8"]
    log = [json.loads(line)["step"] for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert log == list(range(1, 9))


def test_full_finetune_saves_and_loads(tiny_gemma_path: Path, data_file: Path, tmp_path: Path) -> None:
    result = train_prm(config(tiny_gemma_path, tmp_path, data_file, lora=False, max_steps=2, learning_rate=None),
                       progress=False)
    out = result.output_dir
    assert result.steps == 2 and (out / "model.safetensors").exists() and not (out / "adapter_config.json").exists()
    assert (out / "checkpoint-2" / "model.safetensors").exists()
    assert json.loads((out / "train_config.json").read_text())["learning_rate"] == 1e-5
    prm = GenerativePRM.from_pretrained(out)
    traj = dataset()[0]
    assert 0.0 <= prm.score(ctx_of(traj), [traj.steps])[0] <= 1.0


def test_adapter_base_model_override(trained, prm_base: Path, tmp_path: Path) -> None:
    moved = shutil.copytree(trained.output_dir, tmp_path / "adapter",
                            ignore=shutil.ignore_patterns("checkpoint-*", "tokenizer*"))
    cfg_path = moved / "adapter_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["base_model_name_or_path"] = str(tmp_path / "gone")
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(OSError):
        GenerativePRM.from_pretrained(moved)
    prm = GenerativePRM.from_pretrained(moved, base_model=prm_base)  # tokenizer from the base
    reference = GenerativePRM.from_pretrained(trained.output_dir)
    traj = dataset()[0]
    assert prm.score(ctx_of(traj), [traj.steps]) == pytest.approx(reference.score(ctx_of(traj), [traj.steps]))


def test_chat_model_loads_a_trained_adapter(trained, tiny_gemma_path: Path) -> None:
    from langchain_core.tools import tool

    from langchain_toolprm import CombinedScorer

    @tool
    def set_alarm(on: bool) -> str:
        """Switch the alarm on or off."""
        return str(on)

    llm = ToolPRMChatModel(model=str(tiny_gemma_path), prm=str(trained.output_dir), max_tokens=16,
                           max_value_tokens=12, m_explore=2)
    msg = llm.bind_tools([set_alarm], tool_choice="any").invoke("switch the alarm on")
    assert msg.tool_calls and {c["name"] for c in msg.tool_calls} == {"set_alarm"}
    scorer = llm._load().scorer
    assert isinstance(scorer, CombinedScorer) and isinstance(scorer.scorers[1], GenerativePRM)
    assert scorer.scorers[1].usage.input_tokens > 0


# ---- errors and the command line ------------------------------------------------------------------------
def test_errors_name_the_file_and_mode(tiny_gemma_path: Path, tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="missing data file"):
        train_prm(config(tiny_gemma_path, tmp_path, tmp_path / "nope.jsonl"), progress=False)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"example": {}}\n')
    with pytest.raises(DataFileError, match="record 1 is malformed"):
        train_prm(config(tiny_gemma_path, tmp_path, bad), progress=False)
    empty = tmp_path / "empty.jsonl"
    write_jsonl(empty, [LabelledTrajectory(example(0, "q", []), (), ())])
    with pytest.raises(ValueError, match=r"empty\.jsonl: no labelled steps for mode 'cprm'"):
        train_prm(config(tiny_gemma_path, tmp_path, empty, mode="cprm"), progress=False)
    with pytest.raises(FileNotFoundError, match="no base model"):
        train_prm(config(tmp_path / "no-model", tmp_path, empty), progress=False)
    with pytest.raises(ValueError, match="unknown mode"):
        config(tiny_gemma_path, tmp_path, empty, mode="xx")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="toolprm")
    sub = parser.add_subparsers(dest="command", required=True)
    add_train_parser(sub)
    add_eval_prm_parser(sub)
    return parser


def test_cli_train_and_eval(trained, tiny_gemma_path: Path, data_file: Path, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    args = _parser().parse_args(["train-prm", "--train-file", str(data_file), "--output-dir", str(tmp_path / "o"),
                                 "--base-model", str(tiny_gemma_path), "--max-steps", "1", "--mode", "orm",
                                 "--target-modules", "q_proj", "v_proj", "--no-progress"])
    assert args.func(args) == 0 and "trained 1 steps" in capsys.readouterr().out
    cfg = json.loads((tmp_path / "o" / "train_config.json").read_text())
    assert cfg["mode"] == "orm" and cfg["target_modules"] == ["q_proj", "v_proj"] and cfg["grad_accum"] == 8

    args = _parser().parse_args(["eval-prm", "--prm", str(trained.output_dir), "--data", str(data_file)])
    assert args.func(args) == 0
    row = capsys.readouterr().out.splitlines()[-1]
    assert row.startswith("| ") and "| prm | " in row and row.count("%") == 2
    args = _parser().parse_args(["eval-prm", "--prm", str(trained.output_dir), "--data", str(data_file),
                                 "--mode", "orm", "--json"])
    assert args.func(args) == 0
    assert json.loads(capsys.readouterr().out)["n_steps"] == len(dataset())

    for argv in (["train-prm", "--train-file", str(tmp_path / "x.jsonl"), "--output-dir", str(tmp_path / "p"),
                  "--base-model", str(tiny_gemma_path)],
                 ["eval-prm", "--prm", str(tmp_path / "none"), "--data", str(data_file)],
                 ["eval-prm", "--prm", str(trained.output_dir), "--data", str(tmp_path / "x.jsonl")]):
        args = _parser().parse_args(argv)
        assert args.func(args) == 2
        err = capsys.readouterr().err
        assert "error:" in err and "Traceback" not in err


def test_a_shared_prefix_fed_once_gives_the_same_losses(tiny_gemma_path: Path) -> None:
    """Feeding the prefix every input shares once (as training does per optimizer step) changes
    no loss or accuracy; the prefix stops before the first learnt position."""
    from langchain_toolprm.training.sft import EncodedAnswer

    head = list(range(2, 40))
    data = [EncodedAnswer(torch.tensor(head + tail, dtype=torch.int32), tuple(range(len(head) + k, len(head) + len(tail) - 1)),
                          tuple(tail[k + 1:]))
            for tail, k in (([50, 51, 52, 53, 54, 55], 1), ([60, 61, 62], 0), ([70, 71, 72, 73], 2))]
    assert shared_prefix(data) == tuple(head)
    early = EncodedAnswer(torch.tensor(head + [99], dtype=torch.int32), (20, 21), (22, 23))
    assert shared_prefix([*data, early]) == tuple(head[:20])
    model = AutoModelForCausalLM.from_pretrained(str(tiny_gemma_path)).eval()
    device = torch.device("cpu")
    with torch.no_grad():
        whole_nll, whole_right = token_nll(model, collate(data, 0, device))
        past = prefix_past(model, shared_prefix(data), len(data), device)
        nll, right = token_nll(model, collate(data, 0, device, past))
        again, _ = token_nll(model, collate(data, 0, device, past))  # the prefix's cache is not consumed
    assert torch.allclose(nll, whole_nll, atol=1e-4)
    assert torch.equal(right, whole_right)
    assert torch.allclose(again, nll)
