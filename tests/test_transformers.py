"""The transformers policy on tiny random-weight models, checked against brute-force references."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
import torch
from jsonschema import Draft202012Validator

from langchain_toolprm import GenerativePRM, TransformersBackend
from langchain_toolprm.backends.transformers import (
    ContextLengthError,
    KVState,
    _value_end,
)
from langchain_toolprm.testing import full_hidden

SHORT_TEXT = "the weather in paris"
LONG_TEXT = (
    "the weather in paris tokyo london city unit celsius fahrenheit amount currency usd eur "
    "convert get set find search book flight hotel date time name value true false"
)


@pytest.fixture(params=["gemma", "qwen"])
def policy(request: pytest.FixtureRequest) -> TransformersBackend:
    return request.getfixturevalue("tiny_policy" if request.param == "gemma" else "tiny_qwen_policy")


def full_logits(policy: TransformersBackend, ids: list[int]) -> torch.Tensor:
    """Logits at every position of ``ids``, one uncached forward pass of the whole model."""
    with torch.no_grad():
        return policy.model(input_ids=torch.tensor([ids])).logits[0].float()



def reference_texts(policy: TransformersBackend, prompt: list[int], pending: bytes,
                    texts: list[str | None], free: bool = False) -> list[float]:
    """``score_texts`` by brute force: every trie node's distribution from a fresh, uncached forward
    pass of the whole sequence, with the same routes, covers, restriction and route pruning."""
    per_text = [policy.routes(pending, t.encode()) if t is not None else [] for t in texts]
    routes = {r for rs in per_text for r in rs}
    complement = None in texts

    def node_lps(node: tuple[int, ...]) -> dict[int, float]:
        d = len(node)
        below = {r for r in routes if r[:d] == node and len(r) > d}
        path = {r[d] for r in below if len(r) > d + 1}
        own = {t: t for t in path}
        for leaf in sorted({r[d] for r in below if len(r) == d + 1}, key=lambda t: len(policy.token_bytes([t]))):
            own.update({c: leaf for c in policy._cover(leaf) if c == leaf or c not in path})
        logits = full_logits(policy, prompt + list(node))[-1]
        ids = sorted(own)
        full = (complement and node == ()) or free
        vals = torch.log_softmax(logits, -1)[ids] if full else torch.log_softmax(logits[ids], -1)
        grouped: dict[int, list[float]] = {}
        for i, v in zip(ids, vals.tolist()):
            grouped.setdefault(own[i], []).append(v)
        return {k: math.log(sum(math.exp(x) for x in v)) for k, v in grouped.items()}

    root = node_lps(())
    result = []
    for t, rs in zip(texts, per_text):
        if t is None:
            mass = sum(math.exp(v) for v in root.values())
            result.append(math.log(max(1 - mass, 1e-12)))
            continue
        best_first = max(root[r[0]] for r in rs)
        kept = [r for r in rs if root[r[0]] >= best_first - math.log(1e3)]
        totals = [sum((root if d == 0 else node_lps(r[:d]))[r[d]] for d in range(len(r))) for r in kept]
        result.append(math.log(sum(math.exp(x) for x in totals)))
    return result


# ---- (1) choosing among texts: routes, covers, the trie against brute force ---------------------
OPTION_TEXTS: list[str | None] = [', "city":', ', "unit":', "}}", "}]", ', "cities":']


def test_routes_spell_the_text(policy: TransformersBackend) -> None:
    for pending, text in [(b"", ' [{"name": "get"'), (b'"', ', "city":'), (b'"}', "}"), (b" {", '"unit":')]:
        z = pending + text.encode()
        routes = policy.routes(pending, text.encode())
        assert routes[0] == tuple(policy.natural(z))  # the natural tokenization comes first
        assert len(set(routes)) == len(routes)
        assert all(policy.token_bytes(r) == z for r in routes)
        if not pending:
            assert len(routes) == 1
        else:  # a route opens with every vocabulary token that starts the text
            starts = {z[:end] for end in range(1, len(z) + 1) if z[:end] in policy._vocab[1]}
            assert {policy.token_bytes(r[:1]) for r in routes} == starts


def test_cover_extends_a_token_by_structure_only(policy: TransformersBackend) -> None:
    for text in ('"', "}", ",", " ["):
        [tok] = policy.natural(text.encode())
        cover = policy._cover(tok)
        assert cover[0] == tok
        for c in cover[1:]:
            spelled = policy.token_bytes([c])
            assert spelled.startswith(text.encode()) and len(spelled) > len(text)
            assert set(spelled[len(text):]) <= set(b' ,:}]{["\n')


@pytest.mark.parametrize("text", [SHORT_TEXT, LONG_TEXT], ids=["short", "past-window"])
@pytest.mark.parametrize("pending", [b"", b'"'], ids=["clean", "pending"])
def test_score_texts_matches_brute_force(policy: TransformersBackend, text: str, pending: bytes) -> None:
    prompt = policy.encode(text, special=True)
    if text == LONG_TEXT:
        assert len(prompt) > 16  # past the tiny Gemma's sliding window
    state = policy.prefill(prompt)
    scored = policy.score_texts(state, pending, OPTION_TEXTS)
    got = [s.logprob for s in scored]
    assert got == pytest.approx(reference_texts(policy, prompt, pending, OPTION_TEXTS), abs=1e-4)
    assert all(g <= 1e-6 for g in got)
    for s, t in zip(scored, OPTION_TEXTS):  # the best route spells the text
        assert policy.token_bytes(s.route) == pending + str(t).encode()
    # Every child of every node belongs to one text: the texts share (nearly) all the mass.
    assert 0.9 <= sum(math.exp(g) for g in got) <= 1 + 1e-4


def test_score_texts_with_a_complement(policy: TransformersBackend) -> None:
    prompt = policy.encode(LONG_TEXT + " Calls:", special=True)
    state = policy.prefill(prompt)
    texts: list[str | None] = [' [{"name": "get_weather"', ' [{"name": "get_time"', " []", None]
    scored = policy.score_texts(state, b"", texts)
    got = [s.logprob for s in scored]
    assert got == pytest.approx(reference_texts(policy, prompt, b"", texts), abs=1e-4)
    assert sum(math.exp(g) for g in got) == pytest.approx(1.0, abs=1e-4)
    assert scored[-1].route == ()
    with pytest.raises(ValueError, match="clean token boundary"):
        policy.score_texts(state, b'"', [None, "]"])


def test_free_scoring_uses_the_models_own_probabilities(policy: TransformersBackend) -> None:
    """``free``: the full softmax at every node (values copied from the request, beside sampled ones)."""
    prompt = policy.encode(LONG_TEXT + ' {"city', special=True)
    state = policy.prefill(prompt)
    texts: list[str | None] = ['"paris"', '"tokyo"', '"new york"', "12"]
    got = [s.logprob for s in policy.score_texts(state, b'": ', texts, free=True)]
    assert got == pytest.approx(reference_texts(policy, prompt, b'": ', texts, free=True), abs=1e-4)
    restricted = [s.logprob for s in policy.score_texts(state, b'": ', texts)]
    assert all(f <= r + 1e-6 for f, r in zip(got, restricted))  # the model's own: never above the restricted


def test_score_texts_errors_and_state_untouched(tiny_policy: TransformersBackend) -> None:
    prompt = tiny_policy.encode(LONG_TEXT, special=True)
    state = tiny_policy.prefill(prompt)
    first = tiny_policy.score_texts(state, b"", OPTION_TEXTS)
    assert state.length == len(prompt)
    assert tiny_policy.score_texts(state, b"", OPTION_TEXTS) == first
    with pytest.raises(ValueError, match="no tokens"):
        tiny_policy.score_texts(state, b"", ["", "}"])
    after = tiny_policy.extend(state, [40, 41])
    assert torch.allclose(after.hidden, full_hidden(tiny_policy, prompt + [40, 41])[-1], atol=1e-4)


# ---- (2) extend = encoding at once -------------------------------------------------------------
@pytest.mark.parametrize(("prefix", "pieces"), [
    (5, [1, 3, 4]),        # stays inside the sliding window
    (10, [10]),            # crosses the window in one piece
    (20, [1, 20, 2]),      # starts past the window; one piece longer than the window
    (30, [1] * 6),
])
def test_extend_matches_full_encoding(policy: TransformersBackend, prefix: int, pieces: list[int]) -> None:
    ids = policy.encode(LONG_TEXT + " " + LONG_TEXT, special=True)
    assert len(ids) >= prefix + sum(pieces)
    full = full_hidden(policy, ids)
    state = policy.prefill(ids[:prefix])
    assert state.length == prefix
    assert torch.allclose(state.hidden, full[prefix - 1], atol=1e-4)
    at = prefix
    for n in pieces:
        before_len, before_hidden = state.length, state.hidden.clone()
        new = policy.extend(state, ids[at:at + n])
        # The old state is left untouched and can be extended again.
        assert state.length == before_len and torch.equal(state.hidden, before_hidden)
        again = policy.extend(state, ids[at:at + n])
        at += n
        assert new.length == at
        assert torch.allclose(new.hidden, full[at - 1], atol=1e-4)
        assert torch.allclose(again.hidden, new.hidden, atol=1e-5)
        state = new
    assert policy.extend(state, []) is state


# ---- (3) sample_values -----------------------------------------------------------------------
VALUE_SCHEMAS = {
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "number": {"type": "number"},
    "array": {"type": "array", "items": {"type": "string"}},
    "object": {"type": "object", "properties": {"n": {"type": "integer"}, "ok": {"type": "boolean"}},
               "required": ["n", "ok"], "additionalProperties": False},
}
LEAD = b'": '


def _value_state(policy: TransformersBackend, text: str = LONG_TEXT + ' {"value') -> KVState:
    return policy.prefill(policy.encode(text, special=True))


@pytest.mark.parametrize("kind", VALUE_SCHEMAS)
def testsample_values_are_valid(tiny_policy: TransformersBackend, kind: str) -> None:
    schema = VALUE_SCHEMAS[kind]
    state = _value_state(tiny_policy)
    finished = []
    for seed in range(2):
        gen = torch.Generator().manual_seed(seed)
        out = tiny_policy._sample_values(state, LEAD, schema, 4, tail=",}", temperature=1.0, max_tokens=24,
                                        generator=gen)
        assert len(out) == 4
        for item in out:
            if item is None:
                continue
            value, ids, logprob, end = item
            assert Draft202012Validator(schema).is_valid(value), (kind, value)
            written = tiny_policy.token_bytes(ids)
            # The tokens spell the lead, the value, and at most the start of what follows it.
            assert written.startswith(LEAD) and json.loads(written[len(LEAD):end]) == value
            assert written[end:] == b"" or written[end:end + 1] in (b",", b"}")
            assert 0 < len(ids) <= 24 and logprob <= 1e-6
            finished.append(value)
    assert finished, f"no {kind} value finished within 24 tokens"


def testsample_values_deterministic_under_seed(tiny_policy: TransformersBackend) -> None:
    state = _value_state(tiny_policy, SHORT_TEXT)
    runs = [tiny_policy._sample_values(state, LEAD, {"type": "integer"}, 3, tail=",}", temperature=1.0,
                                      max_tokens=8, generator=torch.Generator().manual_seed(7)) for _ in range(2)]
    assert runs[0] == runs[1]


def test_numbers_end_only_at_a_following_character(tiny_policy: TransformersBackend) -> None:
    """A number can always take another digit: it ends where the model writes ``,`` or ``}``."""
    state = _value_state(tiny_policy)
    out = tiny_policy._sample_values(state, LEAD, {"type": "integer"}, 6, tail="}", temperature=1.0,
                                    max_tokens=12, generator=torch.Generator().manual_seed(1))
    done = [o for o in out if o is not None]
    assert done
    for value, ids, _, end in done:
        written = tiny_policy.token_bytes(ids)
        assert written[end:end + 1] == b"}"  # the tail given; "," was not allowed
        assert int(written[len(LEAD):end]) == value


def testsample_values_greedy_logprob_is_bounded_by_the_model(tiny_policy: TransformersBackend) -> None:
    """Grammar-masked log-probs are at least the plain ones of the same tokens."""
    prompt = tiny_policy.encode(LONG_TEXT + ' {"value', special=True)
    state = tiny_policy.prefill(prompt)
    schema = {"type": "array", "items": {"type": "boolean"}, "maxItems": 2}
    [item] = tiny_policy._sample_values(state, LEAD, schema, 1, tail=",}", temperature=0.0, max_tokens=16,
                                       generator=None)
    assert item is not None
    value, ids, logprob, _ = item
    assert isinstance(value, list) and all(isinstance(v, bool) for v in value) and len(value) <= 2
    logits = full_logits(tiny_policy, prompt + list(ids[:-1]))[len(prompt) - 1:]
    plain = sum(float(torch.log_softmax(logits[i], -1)[t]) for i, t in enumerate(ids))
    assert plain - 1e-4 <= logprob <= 1e-6


@pytest.mark.parametrize("kind", ["integer", "number", "string", "object"])
def test_restricted_projection_matches_full(tiny_policy: TransformersBackend, kind: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Projecting onto the legal tokens alone gives the same greedy values and log-probs as the full vocabulary."""
    state = _value_state(tiny_policy)

    def run(limit: int) -> list[Any]:
        monkeypatch.setattr(tiny_policy, "restrict_limit", limit)
        return tiny_policy._sample_values(state, LEAD, VALUE_SCHEMAS[kind], 1, tail=",}", temperature=0.0,
                                         max_tokens=12, generator=None)

    restricted, full = run(10**9), run(0)
    assert [r is None for r in restricted] == [f is None for f in full]
    for r, f in zip(restricted, full):
        if r is not None:
            assert r[0] == f[0] and r[1] == f[1] and r[3] == f[3]
            assert r[2] == pytest.approx(f[2], abs=1e-4)


SHORT_VALUES = {
    "string": {"type": "string", "maxLength": 3},
    "strings": {"type": "array", "items": {"type": "string", "maxLength": 2}, "maxItems": 2},
    "booleans": {"type": "array", "items": {"type": "boolean"}, "maxItems": 2},
    "boolean": {"type": "boolean"},
    "integer": {"type": "integer", "maximum": 9},
    "string or number": {"type": ["string", "number"], "maxLength": 3, "maximum": 9},
}


@pytest.mark.parametrize(("kind", "second"), [
    ("string", None), ("strings", "merged?"), ("booleans", b" ["), ("boolean", None), ("integer", b" "),
    ("string or number", b" "),
])
def test_the_colons_space_is_split_only_where_the_tokenizer_splits_it(
        policy: TransformersBackend, kind: str, second: bytes | str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A model that favours the colon's space alone, or with a lone ``[`` (as a tuned Gemma does
    where it expects a number), may take them before a number (and `` [`` before booleans); before
    a string it writes the merged `` "``, before an array of strings `` ["`` where the vocabulary
    has it (the tiny ones do not; the real Gemma's is checked in integration_tests): a lone space
    then ``">`` once gave ``">Gold"``."""
    if second == "merged?":
        second = None if b' ["' in policy._vocab[1] else b" ["
    split = [i for ids in policy._blanks.values() for i in ids] + [policy._vocab[1][b" ["]]
    plain = TransformersBackend._logits
    calls = []

    ends = policy._starts[b'"'] | policy._starts[b"]"] | policy._starts[b",}"]

    def favour_splits(self: TransformersBackend, hidden: torch.Tensor, ids: torch.Tensor | None = None) -> torch.Tensor:
        logits = plain(self, hidden, ids)
        calls.append(1)
        bias = torch.zeros(policy._head.shape[0])
        if len(calls) <= 2:  # the colon, then the space
            bias[split] = 30.0
        else:  # then close the value soon (a random model may never end a string)
            bias[ends] = 30.0
        return logits + (bias if ids is None else bias[ids])

    monkeypatch.setattr(TransformersBackend, "_logits", favour_splits)
    schema = SHORT_VALUES[kind]
    [item] = policy._sample_values(_value_state(policy), LEAD, schema, 1, tail=",}", temperature=0.0,
                                   max_tokens=24, generator=None)
    assert item is not None and Draft202012Validator(schema).is_valid(item[0])
    spelled = [policy.token_bytes([t]) for t in item[1]]
    assert spelled[0] == b'":', spelled
    if second is None:
        assert spelled[1] not in (b" ", b" ["), spelled
    else:
        assert spelled[1] == second, spelled


@pytest.mark.parametrize("schema", [{"type": "string"}, {"type": "integer"},
                                    {"type": "array", "items": {"type": "string"}, "minItems": 1}])
def testsample_values_cut_at_max_tokens(tiny_policy: TransformersBackend, schema: dict[str, Any]) -> None:
    state = _value_state(tiny_policy, SHORT_TEXT)
    out = tiny_policy._sample_values(state, LEAD, schema, 5, tail=",}", temperature=1.0, max_tokens=1,
                                    generator=torch.Generator().manual_seed(0))
    assert out == [None] * 5


# ---- (4) context length -----------------------------------------------------------------------
def test_prefill_context_length(tiny_policy: TransformersBackend) -> None:
    limit = tiny_policy.max_context
    assert limit == tiny_policy.model.config.max_position_embeddings == 2048
    before = tiny_policy.usage.input_tokens
    with pytest.raises(ContextLengthError, match=str(limit)):
        tiny_policy.prefill([5] * (limit + 1))
    with pytest.raises(ContextLengthError):
        tiny_policy.prefill([5] * 100, reserve=limit - 99)
    assert tiny_policy.usage.input_tokens == before  # refused before any forward pass
    assert issubclass(ContextLengthError, ValueError)
    with pytest.raises(ValueError, match="empty"):
        tiny_policy.prefill([])
    state = tiny_policy.prefill([5] * 100, reserve=limit - 100)
    assert state.length == 100 and tiny_policy.usage.input_tokens == before + 100


# ---- helpers ---------------------------------------------------------------------------------
def test_value_end() -> None:
    assert _value_end(b'": 12,', 3) == (12, 5)
    assert _value_end(b'": "a b"', 3) == ("a b", 8)
    assert _value_end(b'": 100000', 3) is None  # a number may take another digit
    assert _value_end(b'": 100000', 3, final=True) == (100000, 9)  # unless the budget is spent
    assert _value_end(b'": 1.', 3, final=True) is None and _value_end(b'": "ab', 3, final=True) is None


def test_prefill_reuses_recent_prompts(tiny_gemma_path: Any) -> None:
    """A prompt sharing a long prefix with a recent one feeds only its new tokens, same states."""
    policy = TransformersBackend.from_pretrained(tiny_gemma_path)
    head = policy.encode(LONG_TEXT * 3, special=True)
    first, second = head + policy.encode(" weather in paris"), head + policy.encode(" convert 3 usd")
    policy.prefill(first)
    fed = policy.usage.input_tokens
    state = policy.prefill(second)
    shared = _common_len(first, second)
    assert shared >= policy.min_shared_prefix
    # the shared prefix is encoded once more as its own entry, then only the tail of `second`
    assert policy.usage.input_tokens - fed == len(second)
    fed = policy.usage.input_tokens
    third = second + policy.encode(" and eur")
    state3 = policy.prefill(third)
    assert policy.usage.input_tokens - fed == len(third) - len(second)
    for ids, st in ((second, state), (third, state3)):
        assert torch.allclose(st.hidden, full_hidden(policy, ids)[-1], atol=1e-4)
    off = TransformersBackend.from_pretrained(tiny_gemma_path)
    off.prompt_cache_size = 0
    off.prefill(first)
    off.prefill(second)
    assert off.usage.input_tokens == len(first) + len(second)


def test_pinned_head_survives_clearing(tiny_gemma_path: Any) -> None:
    """The static head is encoded once per process: clearing the prompt cache keeps it."""
    policy = TransformersBackend.from_pretrained(tiny_gemma_path)
    head = policy.encode(LONG_TEXT, special=True)
    a, b = head + policy.encode(" weather"), head + policy.encode(" alarm at 7")
    policy.prefill(a, pin=len(head))
    policy.clear_prompt_cache()
    fed = policy.usage.input_tokens
    state = policy.prefill(b, pin=len(head))
    assert policy.usage.input_tokens - fed == len(b) - len(head)
    assert torch.allclose(state.hidden, full_hidden(policy, b)[-1], atol=1e-4)
    policy.clear_prompt_cache(pinned=True)
    fed = policy.usage.input_tokens
    policy.prefill(b, pin=len(head))
    assert policy.usage.input_tokens - fed == len(b)  # the head again on its own, then the rest of b


def _common_len(a: list[int], b: list[int]) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


def test_unknown_dtype_is_named(tiny_gemma_path: Any) -> None:
    with pytest.raises(ValueError, match="unknown dtype 'float33'"):
        TransformersBackend.from_pretrained(tiny_gemma_path, dtype="float33")
    with pytest.raises(ValueError, match="unknown dtype 'nn'"):
        GenerativePRM.from_pretrained(tiny_gemma_path, dtype="nn")  # torch.nn exists, but is no dtype


def test_from_pretrained_never_downloads(tmp_path: Any) -> None:
    with pytest.raises(FileNotFoundError, match="no model directory"):
        TransformersBackend.from_pretrained(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="nothing is downloaded"):
        TransformersBackend.from_pretrained("no-such-org/no-such-model-xyz")


def test_distinct_samples_split_at_the_first_content_token(tiny_policy: TransformersBackend) -> None:
    """With ``distinct`` the rows share the value's opening, then take the likeliest distinct tokens."""
    state = _value_state(tiny_policy)
    out = tiny_policy._sample_values(state, LEAD, {"type": "string", "maxLength": 2}, 4, tail=",}", temperature=1.0,
                                    max_tokens=16, generator=torch.Generator().manual_seed(0), distinct=True)
    seqs = [o[1] for o in out if o is not None]
    assert len(seqs) >= 2
    split = next(d for d in range(min(map(len, seqs))) if len({s[d] for s in seqs}) > 1)
    assert len({s[:split] for s in seqs}) == 1  # one shared row until then
    assert len({s[split] for s in seqs}) >= 2
    # Before the split nothing of the value itself was written.
    assert not tiny_policy.token_bytes(seqs[0][:split])[len(LEAD):].strip(b' "')


def test_vocabulary_tables_are_kept_across_processes(tiny_gemma_path: Any, tmp_path: Any,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The tables a policy builds over its vocabulary are written once and read back later; a damaged
    file is rebuilt, never trusted."""
    monkeypatch.setenv("TOOLPRM_CACHE", str(tmp_path))
    first = TransformersBackend.from_pretrained(tiny_gemma_path)
    first.warm_up()
    [saved] = list((tmp_path / "tokenizers").glob("*.pkl"))
    second = TransformersBackend.from_pretrained(tiny_gemma_path)
    second.warm_up()
    assert second._vocab[0] == first._vocab[0] and torch.equal(second._starts[b'"'], first._starts[b'"'])
    saved.write_bytes(b"not a pickle")
    third = TransformersBackend.from_pretrained(tiny_gemma_path)
    assert third._vocab[0] == first._vocab[0]
    assert saved.read_bytes() != b"not a pickle"  # rebuilt and written again


def test_lora_adapter_loads_merged_into_its_base(tiny_gemma_path: Any, tmp_path: Any) -> None:
    """An adapter directory is a policy: merged, it gives the adapted logits with no adapter left."""
    import json

    from langchain_toolprm.testing import adapter_logits, build_tiny_adapter

    ids = torch.tensor([[2, 10, 20, 30]])
    want, base_logits = adapter_logits(build_tiny_adapter(tiny_gemma_path, tmp_path / "adapter"), ids[0].tolist())
    policy = TransformersBackend.from_pretrained(str(tmp_path / "adapter"))  # a str path, as the CLI passes it
    assert not any("lora" in name for name, _ in policy.model.named_parameters())
    with torch.no_grad():
        got = policy.model(input_ids=ids).logits
    assert torch.allclose(got, want, atol=1e-4)
    assert not torch.allclose(got, base_logits, atol=1e-3)

    # An adapter trained elsewhere names a base path this machine lacks: said, and overridable.
    config_path = tmp_path / "adapter" / "adapter_config.json"
    config = json.loads(config_path.read_text())
    config_path.write_text(json.dumps({**config, "base_model_name_or_path": str(tmp_path / "elsewhere")}))
    with pytest.raises(FileNotFoundError, match="names its base model .*elsewhere.*pass its directory"):
        TransformersBackend.from_pretrained(tmp_path / "adapter")
    moved = TransformersBackend.from_pretrained(tmp_path / "adapter", base_model=tiny_gemma_path)
    with torch.no_grad():
        assert torch.allclose(moved.model(input_ids=ids).logits, want, atol=1e-4)
