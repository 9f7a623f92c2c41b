"""The reward head on a tiny policy: its states are the search's own, it fits, saves, loads and
guides a search through the loader, and bad inputs are refused with a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from langchain_core.messages import HumanMessage

from langchain_toolprm.backends.transformers import TransformersBackend
from langchain_toolprm.cli import main
from langchain_toolprm.core.chat_model import ToolPRMChatModel
from langchain_toolprm.core.loader import load_scorer
from langchain_toolprm.core.prompts import build_prompt
from langchain_toolprm.core.proposer import answer_texts
from langchain_toolprm.core.scorers import CombinedScorer, HeadScorer, RewardHead, ScoringContext, TieBroken
from langchain_toolprm.core.steps import Call, Step, StepTag, segment
from langchain_toolprm.core.verifier import VerifierScorer
from langchain_toolprm.data.negatives import rule_negatives
from langchain_toolprm.data.records import DataFileError, LabelledTrajectory, ToolExample, write_jsonl
from langchain_toolprm.testing import full_hidden
from langchain_toolprm.training.reward_head import evaluate_head, step_features, train_head

TOOLS = (
    {"name": "get_weather", "description": "Weather in a city", "parameters": {"type": "object", "properties": {
        "city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["city"]}},
    {"name": "set_alarm", "description": "Set an alarm", "parameters": {"type": "object", "properties": {
        "hour": {"type": "integer"}}, "required": ["hour"]}},
)
CITIES = ["paris", "tokyo", "london", "rome", "oslo", "lima", "cairo", "quito"]


def examples() -> list[ToolExample]:
    out = []
    for i, city in enumerate(CITIES):
        out.append(ToolExample(f"w{i}", "test", ({"role": "user", "content": f"Weather in {city}, in celsius?"},),
                               TOOLS, (Call("get_weather", {"city": city, "unit": "celsius"}),)))
        out.append(ToolExample(f"a{i}", "test", ({"role": "user", "content": f"Wake me at {i + 5}."},),
                               TOOLS, (Call("set_alarm", {"hour": i + 5}),)))
    return out


def labelled() -> list[LabelledTrajectory]:
    from langchain_toolprm.data.labels import label_steps

    out = []
    for ex in examples():
        gold = tuple(segment(list(ex.gold)))
        out.append(LabelledTrajectory(ex, gold, tuple(label_steps(gold, ex.gold, ex.specs())), "gold"))
        out += rule_negatives(ex, 2)
    return out


def test_step_states_are_the_policys_states_at_each_step_end(tiny_policy: TransformersBackend) -> None:
    ex = examples()[0]
    prompt = build_prompt(tiny_policy.tokenizer, ex.lc_messages(), ex.specs())
    steps = tuple(segment(list(ex.gold)))
    texts = answer_texts(steps, prompt.call_format)
    tiny_policy.reset()
    got = tiny_policy.step_states(prompt, texts)
    ids = tiny_policy.encode(prompt.text, special=not prompt.chat_template)
    answer = tiny_policy.natural("".join(texts).encode())
    ref = full_hidden(tiny_policy, ids + answer)
    ends, pos, rows = [], 0, []
    for t in texts:
        pos += len(t.encode())
        ends.append(pos)
    for end in ends:  # the token holding the step's last byte
        k = next(i for i in range(len(answer)) if len(tiny_policy.token_bytes(answer[:i + 1])) >= end)
        rows.append(ref[len(ids) + k])
    assert got.shape == (len(steps), ref.shape[-1])
    assert torch.allclose(got, torch.stack(rows), atol=1e-4)
    # A path's next step extends the cached answer; the result is the same as computed afresh.
    before = tiny_policy.usage.input_tokens
    again = tiny_policy.step_states(prompt, texts[:-1] + ["}"])
    assert tiny_policy.usage.input_tokens - before < len(answer)
    assert torch.allclose(again[:-1], got[:-1], atol=1e-4)


def test_head_fits_saves_loads_and_scores_in_a_search(tiny_policy: TransformersBackend, tmp_path: Path) -> None:
    data = labelled()
    feats = step_features(tiny_policy, data, tmp_path / "f.pt", progress=False)
    assert len(feats.labels) < sum(len(t.steps) for t in data)  # shared gold prefixes computed once
    head, report = train_head(feats, l2_grid=(0.01, 1.0))
    fitted = evaluate_head(head, feats)
    trivial = evaluate_head(None, feats)
    assert fitted["step_accuracy"] > trivial["step_accuracy"] and fitted["loss"] < 0.69
    assert report["l2"] in (0.01, 1.0)
    # Resumed from the cache without running the model again.
    used = tiny_policy.usage.input_tokens
    assert torch.equal(step_features(tiny_policy, data, tmp_path / "f.pt", progress=False).hidden, feats.hidden)
    assert tiny_policy.usage.input_tokens == used
    # Another split of the same queries (their rollouts) adds only its own steps.
    extra = LabelledTrajectory(data[0].example, (Step(StepTag.FUNC_NAME, "get_weather"),
                                                 Step(StepTag.ARG_VALUE, "city", "nowhere")), (True, False))
    more = step_features(tiny_policy, [extra], tmp_path / "f.pt", progress=False)
    assert len(more.labels) == 2 and more.labels.tolist() == [1.0, 0.0] and tiny_policy.usage.input_tokens > used
    assert more.origin == ["rollout"] and more.traj == [[0, 1]]
    loaded = RewardHead.load(head.save(tmp_path / "head"))
    scorer = HeadScorer(tiny_policy, loaded)
    ex = data[0].example
    ctx = ScoringContext(tuple(ex.lc_messages()), tuple(ex.specs()))
    paths = [t.steps for t in data if t.example.id == ex.id]
    policy_before = tiny_policy.usage.input_tokens
    scores = scorer.score(ctx, paths)
    assert tiny_policy.usage.input_tokens == policy_before and scorer.usage.input_tokens > 0
    tags = [p[-1].tag for p in paths]
    prompt = build_prompt(tiny_policy.tokenizer, ex.lc_messages(), ex.specs())
    hidden = torch.stack([tiny_policy.step_states(prompt, answer_texts(p, prompt.call_format))[-1] for p in paths])
    assert scores == pytest.approx(torch.sigmoid(head.logits(hidden, tags)).tolist(), abs=1e-5)
    # Through the loader and the chat model: prm=<head dir> guides the search (verifier x head).
    assert isinstance(load_scorer(None, str(tmp_path / "head"), policy=tiny_policy), CombinedScorer)
    assert isinstance(load_scorer("prm", str(tmp_path / "head"), policy=tiny_policy), HeadScorer)
    tied = load_scorer("tiebreak", str(tmp_path / "head"), policy=tiny_policy)
    assert isinstance(tied, TieBroken) and isinstance(tied.secondary, HeadScorer)
    assert tied.score(ctx, paths) == VerifierScorer().score(ctx, paths)  # the verifier ranks
    assert tied.break_ties(ctx, paths) == pytest.approx(scores, abs=1e-6)  # the head breaks its ties
    assert tied.usage.input_tokens == tied.secondary.usage.input_tokens > 0
    chat = ToolPRMChatModel(backend=tiny_policy, prm=str(tmp_path / "head"), scorer="prm", max_value_tokens=8)
    msg = chat.bind_tools(list(TOOLS), tool_choice="any").invoke([HumanMessage("Weather in paris?")])
    assert msg.tool_calls and msg.usage_metadata is not None
    assert msg.response_metadata["scorer_input_tokens"] > 0


def test_bad_inputs_name_the_problem(tiny_policy: TransformersBackend, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(FileNotFoundError, match="no reward head"):
        RewardHead.load(tmp_path)
    with pytest.raises(ValueError, match="inconsistent reward head"):
        RewardHead(torch.zeros(4), torch.ones(4), torch.zeros(2, 4), torch.zeros(len(StepTag)), "x")
    head = RewardHead(torch.zeros(3), torch.ones(3), torch.zeros(len(StepTag), 3), torch.zeros(len(StepTag)), "")
    ex = examples()[0]
    ctx = ScoringContext(tuple(ex.lc_messages()), tuple(ex.specs()))
    with pytest.raises(ValueError, match="states of size 3"):
        HeadScorer(tiny_policy, head).score(ctx, [(Step(StepTag.FUNC_NAME, "get_weather"),)])
    with pytest.warns(UserWarning, match="trained on the states of 'x'"):
        HeadScorer(tiny_policy, RewardHead(head.mean, head.scale, head.weight, head.bias, "x"))
    with pytest.raises(TypeError, match="hidden states"):
        HeadScorer(object(), head)  # type: ignore[arg-type]
    head.save(tmp_path / "h")
    with pytest.raises(ValueError, match="pass the policy"):
        load_scorer("prm", str(tmp_path / "h"))
    with pytest.raises(DataFileError, match="too few queries"):
        train_head(step_features(tiny_policy, labelled()[:3], progress=False))
    with pytest.raises(DataFileError, match="no labelled steps"):
        step_features(tiny_policy, [], progress=False)
    assert main(["train-head", "--train-file", str(tmp_path / "none.jsonl"), "--output-dir", str(tmp_path / "o")]) == 2
    assert "missing data file" in capsys.readouterr().err
    write_jsonl(tmp_path / "t.jsonl", labelled())
    assert main(["train-head", "--train-file", str(tmp_path / "t.jsonl"), "--output-dir", str(tmp_path / "o"),
                 "--l2", "x"]) == 2
    assert "--l2" in capsys.readouterr().err
