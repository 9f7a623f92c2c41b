"""The served backend without a model: each engine's request and response fields, and the replica
pool's round robin, skipping, bounded retries and errors against small local HTTP servers.
(The backend on a real llama.cpp server: integration_tests/test_served_live.py.)"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from langchain_toolprm.backends.served import (
    VLLM,
    Completion,
    LlamaCppPython,
    LlamaServer,
    Replicas,
    SeededRng,
    ServedBackend,
    ServedBackendError,
    SGLang,
    SState,
    gbnf,
    xgrammar_ebnf,
)
from langchain_toolprm.core.backend import Backend

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


# ---- dialects -------------------------------------------------------------------------------------
def test_llama_cpp_python_fields() -> None:
    path, body = LlamaCppPython().complete("Q: x\nA:", max_tokens=8, temperature=0.8, seed=3, schema=SCHEMA,
                                           prompt_logprobs=True)
    assert path == "/v1/completions"
    assert body["echo"] is True and body["logprobs"] == 0 and body["seed"] == 3
    assert "city" in body["grammar"] and "root ::=" in body["grammar"]  # GBNF from llama-cpp-python itself
    _, plain = LlamaCppPython().complete("p", max_tokens=4, temperature=0.0, seed=None, stop=["\n"], logprobs=False)
    assert "grammar" not in plain and "seed" not in plain and plain["stop"] == ["\n"] and plain["echo"] is False
    assert "logprobs" not in plain and "stream" not in plain  # a prose reply: no per-token vocabulary sort


def test_llama_server_fields() -> None:
    path, body = LlamaServer().complete("Q: x\nA:", max_tokens=8, temperature=0.8, seed=3, schema=SCHEMA,
                                        lead=" ", tail=",}")
    assert path == "/completion" and body["n_predict"] == 8 and body["seed"] == 3
    # log-probabilities of the raw logits (before the grammar and the samplers), samplers off
    assert body["n_probs"] == 1 and body["post_sampling_probs"] is False and body["cache_prompt"] is True
    assert (body["top_k"], body["top_p"], body["min_p"], body["repeat_penalty"]) == (0, 1.0, 0.0, 1.0)
    assert body["grammar"] == gbnf(SCHEMA, " ", ",}")
    _, plain = LlamaServer().complete("p", max_tokens=4, temperature=0.0, seed=None, stop=["\n"], logprobs=False)
    assert "grammar" not in plain and "seed" not in plain and "n_probs" not in plain and plain["stop"] == ["\n"]
    assert LlamaServer().tokenize("ab") == ("/tokenize", {"content": "ab", "add_special": True})
    assert LlamaServer().count({"tokens": [2, 7, 9]}) == 3


def test_llama_server_response_is_read_per_token() -> None:
    # "é" split over two tokens: the first carries a byte the token text drops
    probs = [{"token": " caf", "bytes": list(b" caf"), "logprob": -0.5},
             {"token": "", "bytes": [0xC3], "logprob": -0.25},
             {"token": "", "bytes": [0xA9], "logprob": -0.125},
             {"token": ",", "bytes": [44], "logprob": -2.0}]
    response = {"content": " café,", "completion_probabilities": probs, "stop_type": "eos",
                "tokens_evaluated": 5, "tokens_predicted": 4}
    got = LlamaServer().read(response, "ab", False)
    assert got.text == " café," and got.logprob == -2.875
    assert [o for o, _ in got.token_logprobs] == [2, 6, 6, 7]  # character offsets in prompt + text
    assert (got.prompt_tokens, got.completion_tokens) == (5, 4)


def test_vllm_fields() -> None:
    path, body = VLLM().complete("p", max_tokens=8, temperature=0.5, seed=1, schema=SCHEMA)
    assert path == "/v1/completions"
    assert body["structured_outputs"] == {"json": SCHEMA} and body["logprobs"] == 0
    _, tailed = VLLM().complete("p", max_tokens=8, temperature=0.5, seed=1, schema=SCHEMA, tail=",}")
    assert set(tailed["structured_outputs"]) == {"grammar"} and "city" in tailed["structured_outputs"]["grammar"]
    _, prose = VLLM().complete("p", max_tokens=8, temperature=0.5, seed=1, stop=["\n"], logprobs=False)
    assert "logprobs" not in prose and "structured_outputs" not in prose


def _accepts(grammar: str, text: str) -> bool:
    xgr = pytest.importorskip("xgrammar")
    from xgrammar.testing import _is_grammar_accept_string

    return _is_grammar_accept_string(xgr.Grammar.from_ebnf(grammar), text)


@pytest.mark.parametrize("build", ["gbnf", "xgrammar"])
def test_a_value_grammar_ends_at_a_tail_character(build: str) -> None:
    """Without the tail, a number could only end at EOS, which the model never writes there:
    "5" ran on as "5000000000000000" to the token budget."""
    number = {"type": "integer"}
    grammar = gbnf(number, " ", ",}") if build == "gbnf" else xgrammar_ebnf(number, ",}")
    lead = " " if build == "gbnf" else ""
    assert _accepts(grammar, lead + "5,") and _accepts(grammar, lead + "5}]")  # a token may run on ("}]")
    assert not _accepts(grammar, lead + "5") and not _accepts(grammar, lead + "5000")
    assert not _accepts(grammar, lead + "5}}}}}")  # no more than a token's worth after the tail


def test_sampled_values_are_read_up_to_their_tail(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = ServedBackend(_dead_url())
    answers = iter([' "a, b"}]', " 5,", " 5000", " 7}"])  # " 5000": cut by the budget; " 7}": after its tail

    def complete(prompt: str, **kw) -> Completion:
        assert kw["tail"] == ",}" and kw["lead"] == " "
        text = next(answers)
        # Tokens at absolute offsets: " 5" (or ' "a'), then the tail and a forced EOS at -9.
        tokens = ((100, -0.5), (102, -0.25), (100 + len(text), -9.0))
        return Completion(text, -9.75, 3, 2, token_logprobs=tokens)

    monkeypatch.setattr(backend, "_complete", complete)
    got = [backend.sample_values(SState("q"), " ", {}, 1, tail=",}", temperature=1.0, max_tokens=8, rng=SeededRng(0))[0]
           for _ in range(4)]
    assert got[0].value == "a, b" and got[0].move.text == ' "a, b"' and got[1].value == 5
    assert got[0].logprob == -0.75 and got[1].logprob == -0.5  # the value's tokens, not the tail's or EOS
    assert got[2] is None  # the budget ran out before the value ended
    assert got[3].value == 7  # ... and here after its tail: the value is whole


def test_a_prose_reply_asks_for_no_log_probabilities(monkeypatch: pytest.MonkeyPatch) -> None:
    backend, asked = ServedBackend(_dead_url()), []

    def complete(prompt: str, **kw) -> Completion:
        asked.append(kw)
        return Completion(" Hello.", 0.0)

    monkeypatch.setattr(backend, "_complete", complete)
    text = backend.write(SState("q"), "\nAssistant:", max_tokens=8, temperature=0.0, stop=("\nUser:", ""),
                         rng=SeededRng(0))
    assert text == "Hello." and asked[0]["logprobs"] is False and asked[0]["stop"] == ["\nUser:"]


def test_sglang_fields() -> None:
    path, body = SGLang().complete("p", max_tokens=8, temperature=0.5, seed=1, schema=SCHEMA, prompt_logprobs=True)
    assert path == "/generate"
    params = body["sampling_params"]
    assert json.loads(params["json_schema"]) == SCHEMA and params["max_new_tokens"] == 8
    _, tailed = SGLang().complete("p", max_tokens=8, temperature=0.5, seed=1, schema=SCHEMA, tail="}")
    assert "city" in tailed["sampling_params"]["ebnf"] and "json_schema" not in tailed["sampling_params"]
    assert body["return_logprob"] is True and body["logprob_start_len"] == 0
    _, prose = SGLang().complete("p", max_tokens=8, temperature=0.5, seed=1, stop=["\n"], logprobs=False)
    assert prose["return_logprob"] is False and prose["sampling_params"]["stop"] == ["\n"]


def _openai_echo(prompt: str, tokens: list[str], logprobs: list[float | None], generated: str) -> dict:
    offsets, pos = [], 0
    for t in tokens:
        offsets.append(pos)
        pos += len(t)
    return {"choices": [{"text": prompt + generated, "finish_reason": "length",
                         "logprobs": {"tokens": tokens, "text_offset": offsets, "token_logprobs": logprobs}}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1}}


def test_openai_echo_is_read_per_prompt_token() -> None:
    prompt = "ab cd"
    got = LlamaCppPython().read(_openai_echo(prompt, ["ab", " cd", "!"], [None, -1.5, -0.25], "!"), prompt, True)
    assert got.prompt_logprobs == ((0, 0.0), (2, -1.5))
    assert got.text == "!" and got.logprob == -0.25
    assert (got.prompt_tokens, got.completion_tokens) == (3, 1)


def test_sglang_response_is_read() -> None:
    response = {"text": '"Paris"', "meta_info": {
        "input_token_logprobs": [[None, 2, "ab"], [-1.0, 5, " cd"]],
        "output_token_logprobs": [[-0.5, 7, '"Paris"']], "finish_reason": {"type": "stop"},
        "prompt_tokens": 2, "completion_tokens": 1}}
    got = SGLang().read(response, "ab cd", True)
    assert got.prompt_logprobs == ((0, 0.0), (2, -1.0)) and got.logprob == -0.5


# ---- replicas against local HTTP servers ------------------------------------------------------------
class _Server:
    """A loopback HTTP server answering every POST with ``status`` and a JSON echo of its name."""

    def __init__(self, name: str, status: int = 200, delay: float = 0.0) -> None:
        self.name, self.status, self.delay, self.hits = name, status, delay, 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                outer.hits += 1
                self.rfile.read(int(self.headers.get("content-length", 0)))
                time.sleep(outer.delay)
                body = json.dumps({"server": outer.name, "count": 7}).encode()
                self.send_response(outer.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def servers() -> Iterator[list[_Server]]:
    made: list[_Server] = []
    yield made
    for s in made:
        s.close()


def _dead_url() -> str:
    s = _Server("gone")
    url = s.url
    s.close()
    return url


def test_round_robin(servers: list[_Server]) -> None:
    servers += [_Server("a"), _Server("b")]
    pool = Replicas([s.url for s in servers])
    names = [pool.post("/x", {})["server"] for _ in range(4)]
    assert names == ["a", "b", "a", "b"]


def test_failed_replicas_are_skipped(servers: list[_Server]) -> None:
    servers += [_Server("broken", status=503), _Server("ok")]
    pool = Replicas([_dead_url(), servers[0].url, servers[1].url], backoff=0.01)
    assert all(pool.post("/x", {})["server"] == "ok" for _ in range(3))


def test_every_replica_failing_is_a_bounded_clear_error(servers: list[_Server]) -> None:
    servers.append(_Server("broken", status=500))
    dead = _dead_url()
    pool = Replicas([dead, servers[0].url], retries=2, backoff=0.01)
    start = time.monotonic()
    with pytest.raises(ServedBackendError) as err:
        pool.post("/x", {})
    assert time.monotonic() - start < 5
    assert dead in str(err.value) and servers[0].url in str(err.value) and "HTTP 500" in str(err.value)
    assert servers[0].hits == 3  # one try per round: the first and two retries


def test_a_bad_request_is_not_retried(servers: list[_Server]) -> None:
    servers += [_Server("strict", status=400), _Server("ok")]
    pool = Replicas([s.url for s in servers], backoff=0.01)
    with pytest.raises(ServedBackendError, match="HTTP 400"):
        pool.post("/x", {})
    assert servers[1].hits == 0


def test_a_slow_replica_times_out_and_the_next_answers(servers: list[_Server]) -> None:
    servers += [_Server("slow", delay=2.0), _Server("fast")]
    pool = Replicas([s.url for s in servers], timeout=0.3, backoff=0.01)
    assert pool.post("/x", {})["server"] == "fast"


def test_deadline_stops_the_rounds() -> None:
    pool = Replicas([_dead_url()], retries=50, backoff=0.05)
    with pytest.raises(TimeoutError):
        pool.post("/x", {}, deadline=time.monotonic() + 0.2)


# ---- the backend's own logic ----------------------------------------------------------------------
def test_the_served_backend_is_a_backend() -> None:
    backend = ServedBackend(_dead_url())
    assert isinstance(backend, Backend)
    with pytest.raises(ValueError, match="unknown serving engine"):
        ServedBackend("http://x", engine="tgi")


def test_scores_of_several_texts_are_renormalised(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = ServedBackend(_dead_url())
    own = {"a": math.log(0.2), "b": math.log(0.6)}
    monkeypatch.setattr(backend, "_text_logprob", lambda prefix, text: own[text])
    state = SState("q")
    restricted = [s.logprob for s in backend.score(state, ["a", "b"])]
    assert restricted == pytest.approx([math.log(0.25), math.log(0.75)])
    assert [s.logprob for s in backend.score(state, ["a", "b"], free=True)] == pytest.approx(list(own.values()))
    with_rest = [s.logprob for s in backend.score(state, ["a", None])]
    assert with_rest == pytest.approx([math.log(0.2), math.log(0.8)])
    assert backend.score(state, ["a"])[0].logprob == 0.0  # forced: nothing asked of the server


def test_seeded_rng_repeats() -> None:
    a, b = SeededRng(5), SeededRng(5)
    assert a.categorical([-1.0, -0.1, -3.0], 1.0, 20) == b.categorical([-1.0, -0.1, -3.0], 1.0, 20)
    assert a.seed() == b.seed()


def test_an_empty_server_list_is_refused(tiny_gemma_path) -> None:
    """``base_url=[]`` is a mistake, not a request for the in-process model."""
    from langchain_toolprm import ToolPRMChatModel

    with pytest.raises(ValueError, match="no server URL"):
        ToolPRMChatModel(base_url=[], model=str(tiny_gemma_path)).invoke("hi")


def test_a_served_default_is_named_for_the_base_gguf_it_serves(tiny_gemma_path, monkeypatch) -> None:
    """In process, None is the tuned policy; a server started on the embedded GGUF serves the base,
    so its results must not carry the tuned policy's name."""
    from langchain_toolprm.backends.served import load_backend
    from langchain_toolprm.core import embedded

    monkeypatch.setattr(embedded, "ensure_embedded_model", lambda: tiny_gemma_path)
    url = "http://127.0.0.1:9"  # never contacted: loading reads only the tokenizer
    assert load_backend(None, base_url=url).name == embedded.policy_name(embedded.EMBEDDED_BASE)
    assert load_backend(embedded.EMBEDDED_TUNED, base_url=url).name == embedded.policy_name(embedded.EMBEDDED_TUNED)
    assert embedded.policy_name(None) == embedded.policy_name(embedded.EMBEDDED_TUNED)
