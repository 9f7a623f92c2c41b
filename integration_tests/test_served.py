"""The search on a real llama.cpp server (llama-cpp-python's) serving the embedded GGUF on loopback:
the same calls as in process, two replicas with one killed mid-run, clear errors."""

from __future__ import annotations

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


QUESTIONS = ["What's the weather like in Tokyo?", "Convert 20 euros to dollars.", "Tell me a joke."]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server() -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(embedded_gguf()), "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "4096", "--n_threads", "1", "--verbose", "false"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited with {proc.returncode}")
        try:
            if httpx.get(url + "/v1/models", timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("llama_cpp.server did not start within 180 s")


@pytest.fixture(scope="module")
def servers() -> Iterator[list[tuple[subprocess.Popen, str]]]:
    started = [_start_server(), _start_server()]
    yield started
    for proc, _ in started:
        proc.kill()
        proc.wait()


def _calls(msg) -> list[tuple[str, dict]]:
    return [(c["name"], c["args"]) for c in msg.tool_calls]


def test_greedy_on_the_server_matches_in_process(servers) -> None:
    """Constrained greedy decides each step by the model's probabilities: the served Q4 GGUF and
    the in-process model converted from it choose the same calls."""
    url = servers[0][1]
    tools = [get_weather, convert_currency]
    served = ToolPRMChatModel(base_url=url, strategy="greedy", max_tokens=12).bind_tools(tools)
    local = ToolPRMChatModel(strategy="greedy", max_tokens=12).bind_tools(tools)
    for q in QUESTIONS[:2]:
        got, want = served.invoke(q), local.invoke(q)
        assert _calls(got) == _calls(want), q
        assert got.response_metadata["search"]["trace"]


def test_beam_on_the_server(servers) -> None:
    llm = ToolPRMChatModel(base_url=servers[0][1], n_retain=1, m_explore=4, max_tokens=12)
    msg = llm.bind_tools([get_weather]).invoke("Weather in Lyon?")
    assert [c["name"] for c in msg.tool_calls] == ["get_weather"]
    assert "lyon" in msg.tool_calls[0]["args"]["city"].lower()
    trace = msg.response_metadata["search"]["trace"]
    assert max(len(d.get("candidates", [])) for d in trace) > 1  # it explored
    assert msg.usage_metadata["input_tokens"] > 0


def test_a_replica_killed_mid_run_is_skipped(servers) -> None:
    victim, survivor = _start_server(), servers[1]
    llm = ToolPRMChatModel(base_url=[victim[1], survivor[1]], strategy="greedy", max_tokens=8).bind_tools(
        [get_weather])
    first = llm.invoke("Weather in Paris?")
    assert _calls(first)
    killer = threading.Timer(0.5, victim[0].kill)
    killer.start()
    answers = llm.batch([f"Weather in {c}?" for c in ("Oslo", "Rome", "Madrid", "Lima")])
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
