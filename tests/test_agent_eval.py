"""The agent evaluator on real API-Bank level-1 turns with scripted fake chat models: the history a
graph is shown, the judge (result and state against the gold call on an identical episode), the
error categories, ROUGE-L of the reply, resuming, and the command line on a tiny random model.
All but the missing-data check need the shared API-Bank folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.messages.tool import tool_call

from langchain_toolprm.agents.apibank import apibank_dir
from langchain_toolprm.cli import main
from langchain_toolprm.data.records import DataFileError, read_jsonl
from langchain_toolprm.evaluation.agent_eval import (
    ApiTurn,
    agent_endings,
    agent_paired,
    agent_report,
    episode,
    evaluate_agent,
    judge,
    load_turns,
    rouge_l,
)
from langchain_toolprm.testing import build_tiny_model, needs_apibank_data

DATA = apibank_dir()
needs_data = needs_apibank_data()

ALARM = "AddAlarm-level-1-1.jsonl#2"  # AddAlarm with the token an earlier GetUserToken got
TOKEN = "AddAgenda-AddMeeting-GetUserToken-level-2-4.jsonl#0"  # GetUserToken; another call follows, no reply
STOCK = "QueryStock-level-1-2.jsonl#0"  # QueryStock, the first turn of its dialogue
DELETE = "DeleteAccount-level-1-1.jsonl#2"  # DeleteAccount with an earlier GetUserToken's token
IDS = (ALARM, TOKEN, STOCK, DELETE)
IDENTITY = {"agent": "scripted"}


class Scripted(GenericFakeChatModel):
    """A fake chat model that answers from a script, whatever tools it is bound to."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> Scripted:
        return self


def call(name: str, **args: Any) -> AIMessage:
    return AIMessage("", tool_calls=[tool_call(name=name, args=args, id=f"call_{name}")])


@pytest.fixture(scope="module")
def turns() -> dict[str, ApiTurn]:
    if not (DATA / "test" / "level-1-api.json").is_file():
        pytest.skip(f"API-Bank data not found at {DATA}")
    return {t.id: t for t in load_turns() if t.id in IDS}


def gold_script(turns: dict[str, ApiTurn], ids: tuple[str, ...]) -> Scripted:
    """The gold call of each turn, then its recorded reply (or any text where none was recorded)."""
    script = []
    for i in ids:
        t = turns[i]
        script += [call(t.gold.name, **t.gold.arguments), AIMessage(t.reply or "Done.")]
    return Scripted(messages=iter(script))


def wrong_script() -> Scripted:
    return Scripted(messages=iter([
        call("AddAlarm", token="z9x8c7v6b5n4m3q2w1", time="2021-10-14 09:00:00"),  # another time, also "success"
        AIMessage("Alarm has been set for 8 am tomorrow."),
        call("AddAgenda", token="a9s8d7f6g5h4j3k2l1", content="x", time="2023-12-15 14:00:00", location="y"),
        AIMessage("Done."),
        AIMessage("The stock price of SQ"),  # no call: the graph ends on this reply
        call("DeleteAccount", token="not-a-token"),
        AIMessage(""),
    ]))


@needs_data
def test_turns_are_the_recorded_dialogue_up_to_the_call(turns: dict[str, ApiTurn]) -> None:
    assert len(load_turns()) == 399 and len(load_turns(limit=3)) == 3
    t = turns[ALARM]
    assert t.apis == ("AddAlarm", "GetUserToken")
    assert (t.gold.name, t.gold.arguments) == ("AddAlarm", {"token": "z9x8c7v6b5n4m3q2w1", "time": "2021-10-14 08:00:00"})
    assert [(c.name, c.arguments) for c in t.earlier] == [("GetUserToken", {"username": "foo", "password": "bar"})]
    assert t.reply == "Alarm has been set for 8 am tomorrow."
    kinds = [type(m).__name__ for m in t.history]
    assert kinds[0] == "HumanMessage" and "ToolMessage" in kinds
    made = next(i for i, m in enumerate(t.history) if isinstance(m, AIMessage) and m.tool_calls)
    result = t.history[made + 1]
    assert isinstance(result, ToolMessage) and result.tool_call_id == t.history[made].tool_calls[0]["id"]
    assert json.loads(result.content) == {"token": "z9x8c7v6b5n4m3q2w1"}  # as the tools write results
    assert turns[TOKEN].reply is None and turns[STOCK].earlier == ()
    # a list written as a quoted string is read as API-Bank reads it
    meeting = next(t for t in load_turns() if t.gold.name == "AddMeeting")
    assert isinstance(meeting.gold.arguments["attendees"], str)
    assert episode(meeting).execute(meeting.gold.name, meeting.gold.arguments).exception is None


@needs_data
def test_state_decides_a_write_that_answers_success_either_way(turns: dict[str, ApiTurn]) -> None:
    t = turns[ALARM]
    env, gold_env = episode(t), episode(t)
    gold = gold_env.execute(t.gold.name, t.gold.arguments)
    other = env.execute("AddAlarm", {"token": "z9x8c7v6b5n4m3q2w1", "time": "2021-10-14 09:00:00"})
    assert other.output == gold.output == "success"
    assert judge(other, env, gold, gold_env) == "wrong arguments"
    env = episode(t)
    assert judge(env.execute(t.gold.name, t.gold.arguments), env, gold, gold_env) is None


@needs_data
def test_gold_calls_are_right_and_replies_score_one(turns: dict[str, ApiTurn], tmp_path: Path) -> None:
    chosen = [turns[i] for i in IDS]
    records = evaluate_agent(gold_script(turns, IDS), chosen, tmp_path / "gold.jsonl", identity=IDENTITY,
                             progress=False)
    assert [r["id"] for r in records] == list(IDS)
    assert all(r["correct"] and r["error_category"] is None for r in records)
    assert [r["rouge_l"] for r in records] == [1.0, None, 1.0, 1.0]
    assert records[0]["result"] == {"api_name": "AddAlarm", "input": turns[ALARM].gold.arguments,
                                    "output": "success", "exception": None}
    assert records[0]["result"] == records[0]["gold_result"]
    assert "| **all** | 4 | 100.0 | 100.0 | 3 | 0 | 0 | 0 | 0 |" in agent_report(records)


@needs_data
def test_wrong_calls_fall_in_their_categories(turns: dict[str, ApiTurn], tmp_path: Path) -> None:
    out = tmp_path / "wrong.jsonl"
    records = evaluate_agent(wrong_script(), [turns[i] for i in IDS], out, identity=IDENTITY, progress=False)
    assert [r["error_category"] for r in records] == ["wrong arguments", "wrong API", "no call", "API exception"]
    assert not any(r["correct"] for r in records)
    # the stock reply is the first 5 of the gold reply's 12 words: P = 1, R = 5/12
    assert [r["rouge_l"] for r in records] == [1.0, None, pytest.approx(10 / 17), 0.0]
    assert records[2]["call"] is None and records[2]["reply"] == "The stock price of SQ"
    assert [r["ended"] for r in records] == ["called, replied", "called, replied", "no call, replied",
                                             "called, stopped"]
    assert records[3]["result"]["exception"] == "The token is invalid."
    report = agent_report(records)
    assert "| AddAlarm | 1 | 0.0 | 100.0 | 1 | 0 | 0 | 1 | 0 |" in report
    assert "| **all** | 4 | 0.0 |" in report and report.endswith("| 1 | 1 | 1 | 1 |")
    traces = list(read_jsonl(out.with_name("wrong.traces.jsonl")))
    assert [t["id"] for t in traces] == list(IDS)
    assert [m["type"] for m in traces[0]["messages"]] == ["ai", "tool", "ai"]
    assert [m["type"] for m in traces[2]["messages"]] == ["ai"]


@needs_data
def test_how_turns_end_and_wrong_apis_that_repeat_are_counted(turns: dict[str, ApiTurn], tmp_path: Path) -> None:
    script = Scripted(messages=iter([
        call("AddAlarm", **turns[ALARM].gold.arguments), call("AddAlarm", token="x", time="y"),  # calls again
        call("GetUserToken", username="JohnDoe", password="pass123"), AIMessage(""),  # a repeat; then nothing
        AIMessage(""),  # no call, no reply
        AIMessage("Which account?"),  # no call, a question back
    ]))
    chosen = [turns[i] for i in (ALARM, DELETE, STOCK, TOKEN)]
    records = evaluate_agent(script, chosen, tmp_path / "e.jsonl", identity=IDENTITY, progress=False)
    assert [r["ended"] for r in records] == ["called, called again", "called, stopped", "no call, silent",
                                             "no call, replied"]
    assert records[1]["earlier_apis"] == ["GetUserToken"] and records[1]["error_category"] == "wrong API"
    table = agent_endings({"scripted": records}).splitlines()
    assert table[0] == ("| agent | turns | called, replied | called, called again | called, stopped | no call, replied "
                        "| no call, silent | wrong API repeating an earlier API |")
    assert table[2] == "| scripted | 4 | 0 | 1 | 1 | 1 | 1 | 1 |"


@needs_data
def test_runs_pair_turn_by_turn_against_a_reference(turns: dict[str, ApiTurn], tmp_path: Path) -> None:
    chosen = [turns[i] for i in IDS]
    gold = evaluate_agent(gold_script(turns, IDS), chosen, tmp_path / "g.jsonl", identity=IDENTITY, progress=False)
    wrong = evaluate_agent(wrong_script(), chosen, tmp_path / "w.jsonl", identity=IDENTITY, progress=False)
    # the wrong run's last two turns only: pairs cover the turns both ran
    table = agent_paired({"gold": gold, "wrong": wrong[2:]}, "wrong").splitlines()
    assert len(table) == 3 and table[0].startswith("| agent | turns | call acc | wrong call acc | right only here |")
    # STOCK and DELETE: gold right on both (p = 2/4); ROUGE 1 vs 10/17 and 1 vs 0, both higher
    assert table[2].startswith("| gold | 2 | 100.0 | 0.0 | 2 | 0 | 0.5 | 100.0 | 29.4 | 2 | 0 | 0.5 |")
    assert "| wrong |" not in "\n".join(table)
    with pytest.raises(ValueError, match="no run named 'greedy'"):
        agent_paired({"gold": gold}, "greedy")


@needs_data
def test_a_resumed_run_skips_the_turns_done(turns: dict[str, ApiTurn], tmp_path: Path) -> None:
    out = tmp_path / "run.jsonl"
    chosen = [turns[i] for i in IDS]
    evaluate_agent(gold_script(turns, IDS[:2]), chosen[:2], out, identity=IDENTITY, progress=False)
    # the script only answers the last two turns: a rerun of the first two would misalign it
    records = evaluate_agent(gold_script(turns, IDS[2:]), chosen, out, identity=IDENTITY, progress=False)
    assert all(r["correct"] for r in records)
    assert [r["id"] for r in read_jsonl(out)] == list(IDS)
    with pytest.raises(ValueError, match="another setting"):
        evaluate_agent(gold_script(turns, ()), chosen, out, identity={"agent": "other"}, progress=False)


@needs_data
def test_a_graph_factory_runs_any_graph(turns: dict[str, ApiTurn], tmp_path: Path) -> None:
    from langgraph.graph import END, START, MessagesState, StateGraph

    def answer_only(tools: list[Any]) -> Any:  # a graph that never calls: every turn is "no call"
        graph = StateGraph(MessagesState)
        graph.add_node("say", lambda state: {"messages": [AIMessage("I cannot do that.")]})
        graph.add_edge(START, "say")
        graph.add_edge("say", END)
        return graph.compile()

    records = evaluate_agent(answer_only, [turns[STOCK]], tmp_path / "g.jsonl", identity=IDENTITY, progress=False)
    assert records[0]["error_category"] == "no call" and records[0]["reply"] == "I cannot do that."
    with pytest.raises(TypeError, match="chat model or a function"):
        evaluate_agent(answer_only([]), [turns[STOCK]], tmp_path / "h.jsonl", identity=IDENTITY)


def test_rouge_l_is_google_rouge_score() -> None:
    assert rouge_l("The stock price of SQ was 250.3.", "the stock price of sq was 250.3") == 1.0
    assert rouge_l("a b c d", "a x c") == pytest.approx(2 * (2 / 3) * (2 / 4) / (2 / 3 + 2 / 4))
    assert rouge_l("a b", "") == 0.0


def test_missing_data_is_a_clear_error_before_any_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(DataFileError, match="level-1-api.json"):
        load_turns(tmp_path)
    assert main(["eval-agent", "--data-dir", str(tmp_path), "--model", str(tmp_path / "no-model")]) == 2
    err = capsys.readouterr().err
    assert "level-1-api.json" in err and "Traceback" not in err


@pytest.fixture(scope="module")
def tiny_long_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny Gemma with room for an API-Bank dialogue in its 512-token vocabulary's many tokens."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-long"), "gemma3", max_context=16384)


@needs_data
def test_cli_runs_a_tiny_model_end_to_end(tiny_long_path: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    strategy = "greedy"
    argv = ["eval-agent", "--model", str(tiny_long_path), "--strategy", strategy, "--limit", "2",
            "--out", str(tmp_path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    records = list(read_jsonl(tmp_path / "apibank-l1" / f"{strategy}.jsonl"))
    assert [r["turn"] for r in records] == [0, 2] and all(r["spec"]["agent"] == strategy for r in records)
    assert all(r["error_category"] in (None, "no call", "wrong API", "wrong arguments", "API exception")
               for r in records)
    assert all(r["error"] is None for r in records)  # the dialogues fit the tiny model: its steps ran
    assert "| **all** | 2 |" in out
    assert len(list(read_jsonl(tmp_path / "apibank-l1" / f"{strategy}.traces.jsonl"))) == 2
    assert main(argv) == 0  # resumed: nothing left to run, the same two records
    assert len(list(read_jsonl(tmp_path / "apibank-l1" / f"{strategy}.jsonl"))) == 2


@needs_data
def test_cli_shards_split_the_turns_and_report_them_together(tiny_long_path: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    base = ["eval-agent", "--model", str(tiny_long_path), "--limit", "3", "--out", str(tmp_path)]
    for k in (0, 1):
        assert main([*base, "--shard", f"{k}/2"]) == 0
    folder = tmp_path / "apibank-l1"
    turns = [[r["id"] for r in read_jsonl(folder / f"greedy.shard-{k}-of-2.jsonl")] for k in (0, 1)]
    first3 = [t.id for t in load_turns(limit=3)]
    assert turns == [first3[0::2], first3[1::2]]  # every other turn, each shard in its own file
    assert "| **all** | 3 |" in capsys.readouterr().out.split("results:")[-2]  # the last report counts all shards
    assert len(list(read_jsonl(folder / "greedy.shard-1-of-2.traces.jsonl"))) == 1
    with pytest.raises(SystemExit) as exit_info:
        main([*base, "--shard", "2/2"])
    assert exit_info.value.code == 2


def test_history_lines_must_be_known() -> None:
    from langchain_toolprm.evaluation.agent_eval import recorded_history

    messages, calls = recorded_history("User: hi\nAI: hello\nAPI-Request: [GetToday()]->2023-03-31\n"
                                       "Generate API Request:\n")
    assert [type(m) for m in messages] == [HumanMessage, AIMessage, AIMessage, ToolMessage]
    assert messages[3].content == "2023-03-31" and [c.name for c in calls] == ["GetToday"]
    with pytest.raises(ValueError, match="line 1"):
        recorded_history("Robot: hi")


@needs_data
def test_the_unconstrained_policy_runs_as_an_agent(turns: dict[str, ApiTurn], tiny_long_path: Path,
                                                   tmp_path: Path) -> None:
    from langchain_toolprm import TransformersBackend
    from langchain_toolprm.evaluation.baselines import UnconstrainedChatModel

    llm = UnconstrainedChatModel(backend=TransformersBackend.from_pretrained(tiny_long_path), max_new_tokens=8,
                                 max_tokens=4)
    records = evaluate_agent(llm, [turns[STOCK]], tmp_path / "u.jsonl", identity=IDENTITY, progress=False)
    assert records[0]["error"] is None and records[0]["rouge_l"] is not None
    # random text is no call list: the reply is that text, and the turn ends on it
    assert records[0]["error_category"] == "no call" and records[0]["reply"]
