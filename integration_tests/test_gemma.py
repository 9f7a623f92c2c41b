"""The real embedded Gemma 3 270M answering function-calling questions end to end.

Every question here was first tried by hand (deterministic under the default ``seed=0``) and is
kept only because the model gets it right; the assertions check the correct answer, never a
known-wrong one. Where the model leaves out an optional argument a person would fill (e.g.
``direct_only`` for "direct flights"), that argument is not asserted either way.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from pydantic import BaseModel, Field

from langchain_toolprm import ToolPRMChatModel
from langchain_toolprm.cli import DEMO_TOOLS


@tool
def set_thermostat(temperature: int, mode: Literal["heat", "cool", "off"]) -> str:
    """Set the home thermostat to a target temperature in degrees and a mode."""
    return f"Thermostat set to {temperature} ({mode})."


@tool
def set_alarm(hour: int, minute: int, repeat_daily: bool) -> str:
    """Set an alarm clock at the given hour and minute; repeat_daily makes it ring every day."""
    return f"Alarm set for {hour:02d}:{minute:02d}{' every day' if repeat_daily else ''}."


@tool
def search_flights(origin: str, destination: str, passengers: int, direct_only: bool = False) -> str:
    """Search flights between two cities for a number of passengers."""
    return f"3 flights from {origin} to {destination} for {passengers}."


ALL_TOOLS = [*DEMO_TOOLS, set_thermostat, set_alarm, search_flights]


class Person(BaseModel):
    """A person mentioned in the text."""

    name: str = Field(description="The person's name")
    age: int = Field(description="The person's age in years")


def calls(message: AIMessage) -> list[tuple[str, dict[str, Any]]]:
    return [(c["name"], c["args"]) for c in message.tool_calls]


def assert_searched(message: AIMessage, *, n_calls: int = 1) -> list[dict[str, Any]]:
    """A successful search: valid calls only, a trace ending in the chosen path, positive usage."""
    assert message.invalid_tool_calls == []
    assert len(message.tool_calls) == n_calls
    assert all(c["id"] and c["type"] == "tool_call" for c in message.tool_calls)
    assert message.response_metadata["finish_reason"] == "tool_calls"
    assert_usage(message)
    search = message.response_metadata["search"]
    assert (search["strategy"], search["n_retain"], search["m_explore"]) == ("beam", 1, 4)
    trace = search["trace"]
    steps, chosen = trace[:-1], trace[-1]
    assert steps and [s["depth"] for s in steps] == list(range(len(steps)))
    for step in steps:
        for c in step["candidates"]:
            assert 0.0 <= c["score"] <= 1.0 and c["logprob"] <= 0.0
    assert len(chosen["chosen"]) == len(chosen["scores"]) <= len(steps)  # other paths may have gone on
    assert chosen["chosen"][0].startswith(' [{"name": ') and chosen["chosen"][-1] == "]"
    return trace


def assert_usage(message: AIMessage) -> None:
    usage = message.usage_metadata
    assert usage is not None
    assert usage["input_tokens"] > 0 and usage["output_tokens"] > 0
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]


# ---- bind_tools ---------------------------------------------------------------------------


def test_weather_in_a_named_city(gemma: ToolPRMChatModel) -> None:
    msg = gemma.bind_tools(DEMO_TOOLS).invoke("What's the weather like in Tokyo?")
    assert calls(msg) == [("get_weather", {"city": "Tokyo"})]
    assert msg.content == ""
    trace = assert_searched(msg)
    # The name step enumerated both bound functions and the empty list; the relevant name scored
    # high, the other low, and the grounded value 1.0.
    first = {c["text"]: c for c in trace[0]["candidates"]}
    assert set(first) == {' [{"name": "get_weather", "arguments": {', ' [{"name": "convert_currency", "arguments": {',
                          " []"}
    assert first[' [{"name": "get_weather", "arguments": {']["score"] > 0.9
    assert first[' [{"name": "convert_currency", "arguments": {']["score"] < 0.5
    assert trace[-1]["scores"][1:] == [1.0] * (len(trace[-1]["scores"]) - 1)


def test_currency_conversion_with_amount(gemma: ToolPRMChatModel) -> None:
    msg = gemma.bind_tools(DEMO_TOOLS).invoke("Convert 250 USD to EUR.")
    assert calls(msg) == [("convert_currency", {"amount": 250, "from_currency": "USD", "to_currency": "EUR"})]
    assert_searched(msg)


def test_enum_and_int_arguments(gemma: ToolPRMChatModel) -> None:
    # Three tools bound. With all five, the default N=1 commits to set_alarm at the name step
    # (every bound name scores 1.0, the policy's log-probability decides, and no beam is left
    # to back out of it); n_retain=2 gets set_thermostat there too.
    msg = gemma.bind_tools([*DEMO_TOOLS, set_thermostat]).invoke("Set the thermostat to heat at 22 degrees.")
    assert calls(msg) == [("set_thermostat", {"temperature": 22, "mode": "heat"})]
    assert isinstance(msg.tool_calls[0]["args"]["temperature"], int)
    assert_searched(msg)


def test_int_and_bool_arguments(gemma: ToolPRMChatModel) -> None:
    # repeat_daily is not asserted: both booleans score alike (the verifier does not read "set to
    # true" as naming one), and the policy prefers false.
    msg = gemma.bind_tools([set_alarm]).invoke("Set an alarm at 6:15 with repeat_daily set to true.")
    [(name, args)] = calls(msg)
    assert name == "set_alarm" and (args["hour"], args["minute"]) == (6, 15)
    assert isinstance(args["repeat_daily"], bool)
    assert_searched(msg)


def test_two_cities_and_a_count(gemma: ToolPRMChatModel) -> None:
    msg = gemma.bind_tools(ALL_TOOLS).invoke("Find direct flights from Boston to Denver for 3 passengers.")
    [(name, args)] = calls(msg)
    assert name == "search_flights"
    assert {k: args[k] for k in ("origin", "destination", "passengers")} == {
        "origin": "Boston", "destination": "Denver", "passengers": 3,
    }
    assert set(args) <= {"origin", "destination", "passengers", "direct_only"}
    assert_searched(msg)


def test_a_huge_message_is_refused_at_once(gemma: ToolPRMChatModel) -> None:
    from langchain_toolprm import ContextLengthError

    gemma.invoke("Hi")  # loads the policy
    policy = gemma._load().backend
    fed = policy.usage.input_tokens
    with pytest.raises(ContextLengthError, match="max_prompt_tokens=8192"):
        gemma.bind_tools(DEMO_TOOLS).invoke("Please summarise this. " + "word " * 20000)
    assert policy.usage.input_tokens == fed  # refused before any encoding (19k tokens took minutes before)
    with pytest.raises(TimeoutError):  # and a timeout covers the encoding of what is allowed
        gemma.invoke("word " * 6000, timeout=0.5)


def test_tool_choice_none_answers_in_text(gemma: ToolPRMChatModel) -> None:
    msg = gemma.bind_tools(DEMO_TOOLS, tool_choice="none").invoke("What's the weather like in Tokyo?")
    assert msg.tool_calls == [] and msg.invalid_tool_calls == []
    assert isinstance(msg.content, str) and msg.content.strip()
    assert "search" not in msg.response_metadata
    assert msg.response_metadata["finish_reason"] == "stop"
    assert_usage(msg)


def test_forced_tool_name(gemma: ToolPRMChatModel) -> None:
    question = "I'm flying to Madrid tomorrow, should I pack an umbrella?"
    msg = gemma.bind_tools(DEMO_TOOLS, tool_choice="get_weather").invoke(question)
    [(name, args)] = calls(msg)
    assert name == "get_weather" and args["city"] == "Madrid" and args.get("unit", "celsius") == "celsius"
    trace = assert_searched(msg)
    # Forcing leaves one option for the first name: no alternative, no empty list.
    assert [(c["tag"], c["text"], c["logprob"]) for c in trace[0]["candidates"]] == [
        ("FUNC_NAME", ' [{"name": "get_weather", "arguments": {', 0.0)
    ]


def test_two_cities_give_two_calls(gemma: ToolPRMChatModel) -> None:
    msg = gemma.bind_tools(DEMO_TOOLS).invoke("What's the weather in Paris and in London?")
    assert sorted(args["city"] for _, args in calls(msg)) == ["London", "Paris"]
    assert {name for name, _ in calls(msg)} == {"get_weather"}
    assert_searched(msg, n_calls=2)


def test_no_tool_fits_gives_prose(gemma: ToolPRMChatModel) -> None:
    msg = gemma.bind_tools(DEMO_TOOLS).invoke("Tell me a joke.")
    assert msg.tool_calls == [] and isinstance(msg.content, str) and msg.content.strip()
    assert msg.response_metadata["search"]["trace"][-1]["chosen"] == [" []"]


def test_readme_demo_converts_dollars_to_euros(gemma: ToolPRMChatModel) -> None:
    msg = gemma.bind_tools(DEMO_TOOLS).invoke("How much is 250 US dollars in euros?")
    assert calls(msg) == [("convert_currency", {"amount": 250, "from_currency": "USD", "to_currency": "EUR"})]


def test_steps_are_read_in_the_models_own_tokens(gemma: ToolPRMChatModel) -> None:
    """Fed fragment by fragment, "another argument" and "another call" get a small fraction of what
    the model gives them in its own tokens; the search scores them the natural way, and a chosen
    path's fed tokens are the tokenizer's own tokens of its text."""
    from langchain_toolprm.core.prompts import build_prompt
    from langchain_toolprm.core.schema import normalize_tools

    policy = gemma._load().backend
    specs = normalize_tools(DEMO_TOOLS)

    def both(question: str, written: str, options: list[str]) -> tuple[list[float], list[float]]:
        prompt = build_prompt(policy.tokenizer, [HumanMessage(question)], specs)
        ids = policy.encode(prompt.text)
        natural = policy.natural(written.encode())
        ours = policy.score_texts(policy.prefill(ids + natural[:-1]), policy.token_bytes(natural[-1:]), options)
        # The old way: the written text encoded on its own, then each option's text on its own.
        state = policy.prefill(ids + policy.encode(written))
        fragments = [tuple(policy.encode(o)) for o in options]
        old = policy.score_texts(state, b"", [policy.decode(f) for f in fragments])
        return [math.exp(x.logprob) for x in ours], [math.exp(x.logprob) for x in old]

    call = ' [{"name": "get_weather", "arguments": {"city": "Paris"'
    ours, old = both("What's the weather in Paris in fahrenheit?", call, [', "unit":', "}}"])
    assert ours[0] > 0.5 and ours[0] > 20 * old[0]  # another argument
    ours, old = both("What's the weather in Paris and in London?", call + "}}",
                     [', {"name": "get_weather"', "]"])
    assert ours[0] > 0.3 and ours[0] > 20 * old[0]  # another call

    from langchain_toolprm.core.proposer import Constraints
    from langchain_toolprm.core.search import SearchConfig, beam_search, prepare_problem
    from langchain_toolprm.core.verifier import VerifierScorer

    problem, _ = prepare_problem(policy, [HumanMessage("What's the weather in Paris and in London?")], specs,
                                 Constraints(tuple(specs)), 128)
    best = beam_search(policy, VerifierScorer(), problem, SearchConfig()).best
    assert best is not None and len(best.texts) > 6
    # What the chosen path fed is what the tokenizer makes of its text: the model reads its own
    # tokens. (A closed list keeps the state before its closing step: nothing follows it.)
    text = "".join(best.texts[:-1]).encode()
    assert policy.token_bytes(best.state.fed) + best.state.pending == text
    assert list(best.state.fed) == policy.natural(text)[: len(best.state.fed)]


@pytest.mark.parametrize(("schema", "split", "values"), [
    ({"type": "string"}, [b" "], ['"Gold"']),
    ({"type": "boolean"}, [b" "], ["true"]),
    ({"type": "array", "items": {"type": "string"}}, [b" ", b" ["], ['["a", "b"]', "[]"]),
    ({"type": "array", "items": {"type": "integer"}}, [b" "], ["[1, 2]"]),
    ({"type": "array", "items": {"type": "boolean"}}, [b" "], ["[true]"]),
    ({"type": "integer"}, [], ["12", "-3"]),
    ({"type": ["string", "number"]}, [], ["12", '"ab"']),
])
def test_the_colons_space_is_spelled_as_gemma_spells_it(gemma: ToolPRMChatModel, schema: dict[str, Any],
                                                        split: list[bytes], values: list[str]) -> None:
    """Gemma writes the space after ``":`` alone only before a number, and `` [`` alone only
    before numbers or literals: the splits a value's decoding refuses are exactly the others
    (a lone space then ``">`` wrote ``">Gold"`` for a tuned policy, docs/policy.md), and never
    the tokenizer's own spelling of a valid value."""
    policy = gemma._load().backend
    lead = b'": '
    _, refused_ids = policy._grammar(lead.decode(), schema, ",}")
    refused = {policy.token_bytes([t]) for t in refused_ids}
    assert refused == set(split)
    for value in values:
        own = policy.natural(lead + value.encode())
        assert policy.token_bytes(own[:1]) == b'":' and policy.token_bytes(own[1:2]) not in refused


# ---- with_structured_output --------------------------------------------------------------


def test_structured_output_extracts_a_person(gemma: ToolPRMChatModel) -> None:
    out = gemma.with_structured_output(Person, include_raw=True).invoke(
        "Alice is 31 years old and lives in Berlin."
    )
    assert out["parsing_error"] is None
    assert out["parsed"] == Person(name="Alice", age=31)
    raw = out["raw"]
    assert calls(raw) == [("Person", {"name": "Alice", "age": 31})]
    assert_searched(raw)


class Address(BaseModel):
    """A postal address."""

    street: str
    city: str


def test_structured_output_keeps_the_house_number(gemma: ToolPRMChatModel) -> None:
    # "12 Oak Street" once came back as "Oak Street": the verifier preferred a shorter verbatim span.
    out = gemma.with_structured_output(Address).invoke("I live at 12 Oak Street in Springfield.")
    assert out == Address(street="12 Oak Street", city="Springfield")


# ---- conversations -------------------------------------------------------------------------


def test_after_a_tool_result_the_model_replies_in_text(gemma: ToolPRMChatModel) -> None:
    bound = gemma.bind_tools(DEMO_TOOLS)
    history: list[BaseMessage] = [
        HumanMessage("What's the weather like in Paris?"),
        AIMessage("", tool_calls=[{"name": "get_weather", "args": {"city": "Paris"}, "id": "call_1"}]),
        ToolMessage("Rainy, 12 degrees celsius in Paris.", tool_call_id="call_1", name="get_weather"),
    ]
    reply = bound.invoke(history)
    assert reply.tool_calls == [] and reply.invalid_tool_calls == []
    assert isinstance(reply.content, str) and "Paris" in reply.content
    assert reply.response_metadata["finish_reason"] == "stop"
    assert_usage(reply)
    # The built-in prompt's example: after a tool result, `Calls: []` and then the reply.
    assert reply.response_metadata["search"]["trace"][-1]["chosen"] == [" []"]

    # A new question in the same conversation calls the tool again, with the new city.
    follow_up = bound.invoke([*history, reply, HumanMessage("Thanks! And what about in Madrid?")])
    assert calls(follow_up) == [("get_weather", {"city": "Madrid"})]
    assert_searched(follow_up)


def test_create_agent_full_turn(gemma: ToolPRMChatModel) -> None:
    agent = create_agent(gemma, tools=DEMO_TOOLS)
    result = agent.invoke({"messages": [("user", "What's the weather like in Tokyo?")]})
    messages = result["messages"]
    assert [type(m) for m in messages] == [HumanMessage, AIMessage, ToolMessage, AIMessage]
    human, call, tool_result, answer = messages
    assert calls(call) == [("get_weather", {"city": "Tokyo"})]
    assert_searched(call)
    assert tool_result.tool_call_id == call.tool_calls[0]["id"] and tool_result.name == "get_weather"
    assert tool_result.content == "Sunny, 21 degrees celsius in Tokyo."
    assert answer.tool_calls == [] and isinstance(answer.content, str) and "Tokyo" in answer.content
    assert_usage(answer)


def test_shipped_toolprm_guides_the_search() -> None:
    llm = ToolPRMChatModel(prm="toolprm")
    msg = llm.bind_tools([set_alarm], tool_choice="any").invoke("Set an alarm at 6:15.")
    [(name, args)] = calls(msg)
    assert name == "set_alarm" and set(args) >= {"hour", "minute"}
    assert msg.response_metadata["scorer_input_tokens"] > 0  # the PRM read every candidate
    assert all(0.0 < s <= 1.0 for s in assert_searched(msg)[-1]["scores"])


def test_eval_names_the_shipped_toolprm_and_its_weights() -> None:
    """``toolprm eval --scorer combined:toolprm`` builds verifier x the shipped adapter, and the
    results record which weights scored them."""
    from langchain_toolprm.core.embedded import prm_digest, shipped_prm_dir
    from langchain_toolprm.core.scorers import CombinedScorer, GenerativePRM
    from langchain_toolprm.evaluation.runner import make_scorer
    from langchain_toolprm.evaluation.specs import EvalSpec

    scorer = make_scorer(EvalSpec("beam", scorer="combined", prm="toolprm"))
    assert isinstance(scorer, CombinedScorer) and isinstance(scorer.scorers[1], GenerativePRM)
    digest = prm_digest("toolprm")
    assert digest == prm_digest(str(shipped_prm_dir())) and len(digest) == 16
