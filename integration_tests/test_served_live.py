"""The search on a real llama.cpp server serving the embedded GGUF on loopback: llama-cpp-python's
(always) and llama.cpp's own ``llama-server`` (where its binary is found: ``TOOLPRM_LLAMA_SERVER``
or ``PATH``; docs/served.md builds it). The same calls as in process, two replicas with one killed
mid-run, clear errors."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from langchain_core.tools import tool

from langchain_toolprm import ContextLengthError, ToolPRMChatModel
from langchain_toolprm.backends.served import ServedBackendError
from langchain_toolprm.core.embedded import embedded_gguf

pytest.importorskip("llama_cpp.server", reason="the served backend's tests need llama-cpp-python[server]")
pytestmark = pytest.mark.integration


@tool
def get_weather(city: str, unit: str = "celsius") -> str:
    """Current weather in a city."""
    return f"sunny in {city}"


@tool
def convert_currency(amount: float, from_currency: str, to_currency: str) -> str:
    """Convert an amount of money from one currency to another."""
    return str(amount)


@tool
def factorial(number: int) -> int:
    """The factorial of a whole number."""
    return number


QUESTIONS = ["What's the weather like in Tokyo?", "Convert 20 euros to dollars.", "Tell me a joke."]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


LLAMA_SERVER = os.environ.get("TOOLPRM_LLAMA_SERVER") or shutil.which("llama-server")


def _serve(command: list[str], port: int, ready: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{command[0]} exited with {proc.returncode}")
        try:
            if httpx.get(url + ready, timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"{command[0]} did not start within 180 s")


def _start_server() -> tuple[subprocess.Popen, str]:
    port = _free_port()
    return _serve([sys.executable, "-m", "llama_cpp.server", "--model", str(embedded_gguf()), "--host", "127.0.0.1",
                   "--port", str(port), "--n_ctx", "2048", "--n_threads", "1", "--verbose", "false",
                   "--interrupt_requests", "false"], port, "/v1/models")


@pytest.fixture(scope="module")
def servers() -> Iterator[list[tuple[subprocess.Popen, str]]]:
    started = [_start_server(), _start_server()]
    yield started
    for proc, _ in started:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def llama_server() -> Iterator[str]:
    if not LLAMA_SERVER:
        pytest.skip("llama.cpp's llama-server not found (TOOLPRM_LLAMA_SERVER or PATH; docs/served.md builds it)")
    port = _free_port()
    # One slot with the whole context. Not --swa-full: with it the same request answered otherwise
    # after other requests had run, even uncached (docs/served.md).
    proc, url = _serve([LLAMA_SERVER, "--model", str(embedded_gguf()), "--host", "127.0.0.1", "--port", str(port),
                        "--ctx-size", "2048", "--threads", "1", "--parallel", "1", "--no-webui"],
                       port, "/health")
    yield url
    proc.kill()
    proc.wait()


@pytest.fixture(params=["llama-cpp-python", "llama-server"])
def server(request: pytest.FixtureRequest) -> tuple[str, str]:
    """(URL, engine) of a live server of each engine."""
    if request.param == "llama-server":
        return request.getfixturevalue("llama_server"), "llama-server"
    return request.getfixturevalue("servers")[0][1], "llama-cpp-python"


def _calls(msg) -> list[tuple[str, dict]]:
    return [(c["name"], c["args"]) for c in msg.tool_calls]


def test_the_server_scores_choices_as_the_model_does_in_process(server) -> None:
    """The first decision (which function, or none) read from the server's Q4 GGUF agrees with
    the in-process model converted from it: each option's own log-probability within 0.6 nat (the
    Q4 kernels and one route of tokens against every route: up to 0.35 measured), and the same
    first choice wherever the in-process model is not split between two (a margin over 0.5 nat;
    "the weather in Tokyo" is a 0.02 nat tie between the two tools, which either engine may break
    either way)."""
    from langchain_core.messages import HumanMessage

    from langchain_toolprm.core.loader import load_backend
    from langchain_toolprm.core.prompts import build_prompt
    from langchain_toolprm.core.proposer import Beam, Constraints, options
    from langchain_toolprm.core.schema import normalize_tools

    specs = normalize_tools([get_weather, convert_currency])
    local = load_backend("gemma-3-270m")  # the base: what the server's GGUF holds
    served = load_backend(kind="served", base_url=server[0], engine=server[1], max_context=2048)
    decided = 0
    for q in QUESTIONS:
        got = []
        for backend in (local, served):
            prompt = build_prompt(backend.tokenizer, [HumanMessage(q)], specs)
            state = backend.start(prompt, 128)
            opts = options(Beam((), state), prompt.call_format, Constraints(tuple(specs)))
            got.append([s.logprob for s in backend.score(state, [o.scored for o in opts], free=True)])
        want, have = got
        assert max(abs(a - b) for a, b in zip(want, have)) < 0.6, (q, want, have)
        first, second = sorted(want, reverse=True)[:2]
        if first - second > 0.5:
            decided += 1
            assert want.index(first) == have.index(max(have)), (q, want, have)
    assert decided >= 1  # "Convert 20 euros to dollars." is clear: convert_currency


def test_greedy_on_the_server(server) -> None:
    served = ToolPRMChatModel(base_url=server[0], engine=server[1], strategy="greedy", max_calls=1).bind_tools(
        [get_weather])
    local = ToolPRMChatModel(model="gemma-3-270m", strategy="greedy", max_calls=1).bind_tools([get_weather])
    got, want = served.invoke("Weather in Lyon?"), local.invoke("Weather in Lyon?")
    # The same call; whether to add the optional unit is a close decision the two numerics may split.
    for msg in (got, want):
        assert [c["name"] for c in msg.tool_calls] == ["get_weather"]
        assert msg.tool_calls[0]["args"]["city"] == "Lyon"
    assert got.response_metadata["search"]["trace"]


def test_a_number_ends_where_the_model_ends_it(server) -> None:
    """The value's grammar lets a number end at the character after it: without that, "5" ran
    on as "5000000000000000" (the model never writes EOS inside a call)."""
    llm = ToolPRMChatModel(base_url=server[0], engine=server[1], strategy="greedy", max_calls=1)
    msg = llm.bind_tools([factorial]).invoke("What is the factorial of 5?")
    assert [(c["name"], c["args"]) for c in msg.tool_calls] == [("factorial", {"number": 5})]


def test_beam_on_the_server(server) -> None:
    llm = ToolPRMChatModel(base_url=server[0], engine=server[1], n_retain=1, m_explore=4, max_tokens=12, max_calls=1)
    msg = llm.bind_tools([get_weather]).invoke("Weather in Lyon?")
    assert [c["name"] for c in msg.tool_calls] == ["get_weather"]
    assert "lyon" in msg.tool_calls[0]["args"]["city"].lower()
    trace = msg.response_metadata["search"]["trace"]
    assert max(len(d.get("candidates", [])) for d in trace) > 1  # it explored
    assert msg.usage_metadata["input_tokens"] > 0


def test_a_replica_killed_mid_run_is_skipped(servers) -> None:
    victim, survivor = _start_server(), servers[1]
    llm = ToolPRMChatModel(base_url=[victim[1], survivor[1]], strategy="greedy", max_calls=1).bind_tools(
        [get_weather])
    first = llm.invoke("Weather in Paris?")
    assert _calls(first)
    killer = threading.Timer(0.5, victim[0].kill)
    killer.start()
    answers = llm.batch([f"Weather in {c}?" for c in ("Oslo", "Rome")])
    killer.join()
    victim[0].wait()
    assert victim[0].returncode is not None
    assert all(a.tool_calls and a.tool_calls[0]["name"] == "get_weather" for a in answers)


def test_no_replica_answers_is_a_clear_error() -> None:
    dead = [f"http://127.0.0.1:{_free_port()}", f"http://127.0.0.1:{_free_port()}"]
    llm = ToolPRMChatModel(base_url=dead, strategy="greedy")
    start = time.monotonic()
    with pytest.raises(ServedBackendError) as err:
        llm.bind_tools([get_weather]).invoke("Weather in Paris?")
    assert time.monotonic() - start < 30
    assert all(u in str(err.value) for u in dead)


def test_a_prompt_too_long_is_refused_before_the_search(servers) -> None:
    llm = ToolPRMChatModel(base_url=servers[0][1], max_prompt_tokens=50)
    with pytest.raises(ContextLengthError):
        llm.bind_tools([get_weather]).invoke("Weather in Paris? " * 40)
