"""Agent graphs on API-Bank level 1, judged by what their calls do.

``toolprm eval --benchmark apibank_l1`` scores one call's text against Hammer's label; an agent's
call is only as good as its effect, and its turn does not end at the call. Here every API turn of
API-Bank's level-1 test set runs through a LangGraph graph: the graph is shown the dialogue as
recorded up to that turn (earlier API calls as AIMessage ``tool_calls`` and ToolMessages), its
call runs on a fresh :class:`~langchain_toolprm.agents.apibank.ApiBankEnv` on which the earlier
recorded calls were replayed, and the call is right when its result (and the episode's state
after it) equals that of the gold call executed on an identical episode. Comparing with the
recorded result instead would mark 11 gold calls wrong (drawn identifiers, CancelTimedSwitch:
``docs/apibank_tools.md``). The graph's next reply is scored with ROUGE-L against the recorded
reply, as API-Bank scores replies. Results are one JSONL record per turn (resumable, as
``toolprm eval``'s files are), with each turn's messages in a JSONL trace beside them.
"""

from __future__ import annotations

import functools
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.messages.tool import tool_call
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.tools import BaseTool
from tqdm import tqdm

from ..agents.apibank import ApiBankEnv, ApiResult, apibank_dir
from ..agents.apibank.data import described_apis, read_json
from ..agents.graph import create_toolprm_agent
from ..core.backend import ContextLengthError
from ..core.steps import Call
from ..data.records import DataFileError, append_jsonl, call_to_dict
from ..data.sources import parse_api_call, parse_api_result
from .metrics import sign_test
from .runner import load_done

BENCHMARK = "apibank-l1"
AGENT_BENCHMARKS: tuple[str, ...] = (BENCHMARK,)
ErrorCategory = Literal["no call", "wrong API", "wrong arguments", "API exception"]
ERROR_CATEGORIES: tuple[str, ...] = get_args(ErrorCategory)
Ending = Literal["called, replied", "called, called again", "called, stopped", "no call, replied", "no call, silent"]
ENDINGS: tuple[str, ...] = get_args(Ending)
"""How a turn ended: after its call, a prose reply, another call (the evaluator stops there) or
nothing; without a call, a prose reply or nothing."""
GraphFactory = Callable[[list[BaseTool]], Runnable[Any, Any]]
"""Builds the graph for one turn over that turn's tools (bound to its fresh episode)."""


# ---- the test turns ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ApiTurn:
    """One API turn of a level-1 dialogue: what the graph is shown, the recorded calls before it
    (replayed for state), the gold call, and the recorded reply after its result (None where the
    dialogue goes on with another call)."""

    dialogue: str
    index: int
    apis: tuple[str, ...]
    history: tuple[BaseMessage, ...]
    earlier: tuple[Call, ...]
    gold: Call
    reply: str | None

    @property
    def id(self) -> str:
        return f"{self.dialogue}#{self.index}"


def recorded_history(text: str) -> tuple[list[BaseMessage], list[Call]]:
    """A test item's ``input`` as messages, and the API calls in it. Each line is one message: a
    user or AI utterance, or an API request (an AIMessage with the call, then a ToolMessage with
    the recorded result, written as the tools write results)."""
    messages: list[BaseMessage] = []
    calls: list[Call] = []
    for n, line in enumerate(text.splitlines()):
        role, _, rest = line.partition(":")
        if not line.strip() or role in ("Generate API Request", "Generate AI Response"):
            continue
        if role == "User":
            messages.append(HumanMessage(rest.strip()))
        elif role == "AI":
            messages.append(AIMessage(rest.strip()))
        elif role == "API-Request":
            call, result = parse_api_call(rest)
            call_id = f"call_{n}"
            output = ApiResult(call.name, call.arguments, parse_api_result(result.removeprefix("->")))
            messages += [AIMessage("", tool_calls=[tool_call(name=call.name, args=call.arguments, id=call_id)]),
                         ToolMessage(output.text, tool_call_id=call_id, name=call.name)]
            calls.append(call)
        else:
            raise ValueError(f"line {n + 1} is neither User, AI nor API-Request: {line[:60]!r}")
    return messages, calls


def load_turns(data_dir: str | Path | None = None, limit: int | None = None) -> list[ApiTurn]:
    """The first ``limit`` (None: all 399) API turns of ``test/level-1-api.json``, with the replies
    of ``test/level-1-response.json``, from API-Bank's folder (as :func:`~.apibank_dir` finds it)."""
    root = apibank_dir(data_dir)
    items = read_json(root, "test/level-1-api.json", "level-1 test items")
    replies = {(r["file"], r["id"]): r["expected_output"]
               for r in read_json(root, "test/level-1-response.json", "level-1 reply items")}
    turns = []
    for item in items[:limit]:
        try:
            history, earlier = recorded_history(item["input"])
            gold, _ = parse_api_call(item["expected_output"].removeprefix("API-Request:"))
            apis = tuple(d["name"] for d in described_apis(item))
            turns.append(ApiTurn(item["file"], item["id"], apis, tuple(history), tuple(earlier), gold,
                                 replies.get((item["file"], item["id"] + 1))))
        except (KeyError, TypeError, ValueError) as exc:
            raise DataFileError(f"{root / 'test/level-1-api.json'}: item {item.get('file')}#{item.get('id')} "
                                f"cannot be read: {exc}") from exc
    return turns


def episode(turn: ApiTurn, data_dir: str | Path | None = None, seed: int = 0) -> ApiBankEnv:
    """A fresh episode with the turn's earlier recorded calls replayed on it, in order."""
    env = ApiBankEnv(data_dir, seed=seed)
    for call in turn.earlier:
        env.execute(call.name, call.arguments)
    return env


# ---- judging -------------------------------------------------------------------------------------
def judge(predicted: ApiResult | None, env: ApiBankEnv, gold: ApiResult, gold_env: ApiBankEnv) -> ErrorCategory | None:
    """None when the predicted call is right: the gold API, the same output and error text as the
    gold call's, and the same episode state after it (so a write with other values is wrong even
    where both answer "success"). Else why it is wrong."""
    if predicted is None:
        return "no call"
    if predicted.api_name != gold.api_name:
        return "wrong API"
    if (predicted.output, predicted.exception) == (gold.output, gold.exception) and env.state == gold_env.state:
        return None
    return "API exception" if predicted.exception is not None else "wrong arguments"


@functools.cache
def rouge_scorer() -> Any:
    """Google's ``rouge-score`` ROUGE-L scorer (lower-cased word tokens, no stemming); an extra,
    not a dependency of the chat model, so a missing install is a clear error."""
    try:
        from rouge_score.rouge_scorer import RougeScorer
    except ImportError as exc:
        raise ImportError("ROUGE-L needs rouge-score: pip install 'langchain-toolprm[eval]'") from exc
    return RougeScorer(["rougeL"])


def rouge_l(reference: str, prediction: str) -> float:
    """ROUGE-L F1 of ``prediction`` against ``reference``; 0 for an empty reply."""
    return rouge_scorer().score(reference, prediction)["rougeL"].fmeasure


def split_turn(new: Sequence[BaseMessage]) -> tuple[AIMessage | None, list[ToolMessage], AIMessage | None]:
    """The messages a graph added in one turn as (the step with its first calls, their results, the
    reply after them). Without a call the step is None and the reply is the graph's last AIMessage."""
    step_at = next((i for i, m in enumerate(new) if isinstance(m, AIMessage) and m.tool_calls), None)
    if step_at is None:
        return None, [], next((m for m in reversed(new) if isinstance(m, AIMessage)), None)
    results: list[ToolMessage] = []
    for m in new[step_at + 1:]:
        if isinstance(m, ToolMessage):
            results.append(m)
        elif isinstance(m, AIMessage) and results:
            return new[step_at], results, m  # type: ignore[return-value]
    return new[step_at], results, None  # type: ignore[return-value]


def ending(step: AIMessage | None, reply: AIMessage | None) -> Ending:
    """How a turn whose messages :func:`split_turn` split into ``step`` and ``reply`` ended."""
    if step is None:
        return "no call, replied" if reply is not None and reply.text.strip() else "no call, silent"
    if reply is not None and reply.tool_calls:
        return "called, called again"
    return "called, replied" if reply is not None and reply.text.strip() else "called, stopped"


def _run_graph(graph: Runnable[Any, Any], history: list[BaseMessage], config: RunnableConfig | None) -> list[BaseMessage]:
    """Stream the graph (its state must hold ``messages``) until its reply after the first call's
    results, or its end; a graph that would go on calling is stopped there."""
    new: list[BaseMessage] = []
    for state in graph.stream({"messages": history}, config, stream_mode="values"):
        new = list(state["messages"][len(history):])
        step, _, reply = split_turn(new)
        if step is not None and reply is not None:
            break
    return new


def _result(call: dict[str, Any], results: list[ToolMessage], env: ApiBankEnv) -> ApiResult:
    """The judged call's result: the artifact of the ToolMessage that answers it (the dict form
    after a checkpoint round trip), else the call run here (the graph did not run it)."""
    for m in results:
        if m.tool_call_id == call["id"] and isinstance(m.artifact, (ApiResult, dict)):
            return m.artifact if isinstance(m.artifact, ApiResult) else ApiResult(**m.artifact)
    return env.execute(call["name"], call["args"])


def run_turn(build: GraphFactory, turn: ApiTurn, *, config: RunnableConfig | None = None,
             data_dir: str | Path | None = None, seed: int = 0) -> tuple[dict[str, Any], list[BaseMessage]]:
    """One turn: the graph's step on a fresh episode, judged against the gold call on another;
    returns the scores (without the run's identity) and the messages the graph added."""
    env, gold_env = episode(turn, data_dir, seed), episode(turn, data_dir, seed)
    gold = gold_env.execute(turn.gold.name, turn.gold.arguments)
    start = time.perf_counter()
    error = None
    try:
        new = _run_graph(build(env.get_tools(turn.apis)), list(turn.history), config)
    except ContextLengthError as exc:  # the dialogue does not fit the policy: no call, recorded why
        new, error = [], f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - start
    step, results, reply = split_turn(new)
    call = step.tool_calls[0] if step is not None else None
    predicted = _result(call, results, env) if call is not None else None
    category = judge(predicted, env, gold, gold_env)
    reply_text = reply.text if reply is not None else ""
    return {
        "call": None if call is None else {"name": call["name"], "arguments": call["args"]},
        "step_calls": len(step.tool_calls) if step is not None else 0,
        "result": None if predicted is None else predicted.to_dict(),
        "gold_call": call_to_dict(turn.gold), "gold_result": gold.to_dict(),
        "correct": category is None, "error_category": category,
        "reply": reply_text, "gold_reply": turn.reply,
        "rouge_l": None if turn.reply is None else rouge_l(turn.reply, reply_text),
        "ended": ending(step, reply), "seconds": round(seconds, 3), "error": error,
    }, new


def _trace(message: BaseMessage) -> dict[str, Any]:
    """A message as JSON (a ToolMessage's ApiResult artifact is in the results record instead)."""
    return message.model_dump(mode="json", exclude={"artifact"})


def as_factory(agent: BaseChatModel | GraphFactory) -> GraphFactory:
    """A chat model as the graph factory that wraps it with :func:`create_toolprm_agent`."""
    if isinstance(agent, BaseChatModel):
        return lambda tools: create_toolprm_agent(agent, tools)
    if isinstance(agent, Runnable) or not callable(agent):
        raise TypeError("agent must be a chat model or a function from a turn's tools to a graph: each turn "
                        "runs on its own fresh episode, whose tools a graph compiled beforehand cannot hold")
    return agent


def evaluate_agent(
    agent: BaseChatModel | GraphFactory, turns: Sequence[ApiTurn], out_path: str | Path, *,
    identity: Mapping[str, Any], config: RunnableConfig | None = None, data_dir: str | Path | None = None,
    seed: int = 0, resume: bool = True, progress: bool = True,
) -> list[dict[str, Any]]:
    """Run ``turns`` through ``agent`` into ``out_path`` (one JSONL record per turn, appended as it
    finishes; with ``resume`` turns already there are skipped) and the turns' messages into
    ``<name>.traces.jsonl`` beside it. ``agent``: any chat model (wrapped with
    :func:`create_toolprm_agent`) or a function that compiles any LangGraph graph over the tools it
    is given (a state with ``messages``). ``identity``: what the results were produced with (a
    resumed run must match it). ``config``: the graph's run config (e.g. search settings). Returns
    the records of ``turns``."""
    build = as_factory(agent)
    out_path = Path(out_path)
    traces = out_path.with_name(out_path.name.removesuffix(".jsonl") + ".traces.jsonl")
    identity = {"benchmark": BENCHMARK, **identity}
    if not resume:
        out_path.unlink(missing_ok=True)
        traces.unlink(missing_ok=True)
    done = load_done(out_path, identity)
    todo = [t for t in turns if t.id not in done]
    for turn in tqdm(todo, desc=str(identity.get("agent", BENCHMARK)), disable=not progress,
                     initial=len(turns) - len(todo), total=len(turns)):
        scores, new = run_turn(build, turn, config=config, data_dir=data_dir, seed=seed)
        record = {"id": turn.id, "benchmark": BENCHMARK, "dialogue": turn.dialogue, "turn": turn.index,
                  "api": turn.gold.name, "earlier_apis": sorted({c.name for c in turn.earlier}),
                  "spec": identity, **scores}
        append_jsonl(traces, [{"id": turn.id, "messages": [_trace(m) for m in new]}])
        append_jsonl(out_path, [record])
        done[turn.id] = record
    return [done[t.id] for t in turns]


def agent_results(folder: str | Path, stem: str, identity: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The records of one run split into shards (``<stem>.shard-K-of-N.jsonl`` in ``folder``), each
    file checked to hold this run's results (``identity`` as given to :func:`evaluate_agent`)."""
    full = {"benchmark": BENCHMARK, **identity}
    done: dict[str, dict[str, Any]] = {}
    for path in sorted(Path(folder).glob(f"{stem}.shard-*-of-*.jsonl")):
        if not path.name.endswith(".traces.jsonl"):
            done.update(load_done(path, full))
    return list(done.values())


# ---- reports -------------------------------------------------------------------------------------
def _mean(xs: Iterable[float]) -> float | None:
    xs = list(xs)
    return sum(xs) / len(xs) if xs else None


def agent_report(records: Iterable[dict[str, Any]]) -> str:
    """A markdown table: per API (of the gold call) and overall, the turns, call accuracy, mean
    ROUGE-L over the turns with a recorded reply, and how many calls fell in each error category."""
    by_api: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        by_api[r["api"]].append(r)
        by_api["**all**"].append(r)
    if not by_api:
        return "no results"
    head = ["API", "turns", "call acc", "ROUGE-L", "replies", *ERROR_CATEGORIES]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for api in [*sorted(a for a in by_api if a != "**all**"), "**all**"]:
        recs = by_api[api]
        rouge = _mean(r["rouge_l"] for r in recs if r["rouge_l"] is not None)
        errors = Counter(r["error_category"] for r in recs)
        cells = [api, str(len(recs)), f"{100 * sum(r['correct'] for r in recs) / len(recs):.1f}",
                 "-" if rouge is None else f"{100 * rouge:.1f}", str(sum(r["rouge_l"] is not None for r in recs)),
                 *(str(errors[c]) for c in ERROR_CATEGORIES)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def agent_endings(runs: Mapping[str, Sequence[dict[str, Any]]]) -> str:
    """A markdown table: per run, how many turns ended each way (:data:`ENDINGS`), and how many of
    its wrong-API calls called an API the dialogue had already called before the turn."""
    head = ["agent", "turns", *ENDINGS, "wrong API repeating an earlier API"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for label, records in sorted(runs.items()):
        ends = Counter(r.get("ended") for r in records)
        repeats = sum(r["error_category"] == "wrong API" and r["call"]["name"] in r.get("earlier_apis", ())
                      for r in records)
        lines.append("| " + " | ".join([label, str(len(records)), *(str(ends[e]) for e in ENDINGS), str(repeats)]) + " |")
    return "\n".join(lines)


def agent_paired(runs: Mapping[str, Sequence[dict[str, Any]]], reference: str) -> str:
    """A markdown table: each run against ``reference`` turn by turn, over the turns both ran. Call
    accuracy of both, the turns right only in the run or only in the reference and the sign test's
    p; mean ROUGE-L of both over the shared turns with a recorded reply, on how many it is higher or
    lower and that sign test; seconds per turn and their ratio. Means alone hide how many turns moved."""
    if reference not in runs:
        raise ValueError(f"no run named {reference!r} to compare with (runs: {', '.join(sorted(runs)) or 'none'})")
    ref = {r["id"]: r for r in runs[reference]}
    head = ["agent", "turns", "call acc", f"{reference} call acc", "right only here", f"right only in {reference}",
            "p", "ROUGE-L", f"{reference} ROUGE-L", "higher", "lower", "p", "s/turn", f"time x {reference}"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for label, records in sorted(runs.items()):
        if label == reference:
            continue
        pairs = [(r, ref[r["id"]]) for r in records if r["id"] in ref]
        if not pairs:
            lines.append(f"| {label} | 0 |" + " - |" * (len(head) - 2))
            continue
        gain = sum(a["correct"] and not b["correct"] for a, b in pairs)
        loss = sum(b["correct"] and not a["correct"] for a, b in pairs)
        rouge = [(a["rouge_l"], b["rouge_l"]) for a, b in pairs if b["rouge_l"] is not None]
        higher, lower = sum(x > y for x, y in rouge), sum(x < y for x, y in rouge)
        secs = [sum(r[k]["seconds"] for r in pairs) for k in (0, 1)]
        n = len(pairs)
        cells = [label, str(n), f"{100 * sum(a['correct'] for a, _ in pairs) / n:.1f}",
                 f"{100 * sum(b['correct'] for _, b in pairs) / n:.1f}", str(gain), str(loss),
                 f"{sign_test(gain, loss):.3g}", *(f"{100 * m:.1f}" if (m := _mean(x[k] for x in rouge)) is not None
                                                   else "-" for k in (0, 1)),
                 str(higher), str(lower), f"{sign_test(higher, lower):.3g}", f"{secs[0] / n:.1f}",
                 f"{secs[0] / secs[1]:.2f}" if secs[1] else "-"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
