"""The transformers policy on tiny random-weight models, checked against brute-force references."""

from __future__ import annotations

import json
import math
import random
from typing import Any

import pytest
import torch
from langchain_core.messages import HumanMessage

from langchain_toolprm import GenerativePRM, TransformersPolicy
from langchain_toolprm.policy import (
    Beam,
    Candidate,
    Constraints,
    ContextLengthError,
    KVState,
    _draw,
)
from langchain_toolprm.prompts import build_prompt
from langchain_toolprm.schema import ToolSpec, normalize_tools
from langchain_toolprm.steps import StepTag, assemble, dump_value, next_tags, replay

SHORT_TEXT = "the weather in paris"
LONG_TEXT = (
    "the weather in paris tokyo london city unit celsius fahrenheit amount currency usd eur "
    "convert get set find search book flight hotel date time name value true false"
)


@pytest.fixture(params=["gemma", "qwen"])
def policy(request: pytest.FixtureRequest) -> TransformersPolicy:
    return request.getfixturevalue("tiny_policy" if request.param == "gemma" else "tiny_qwen_policy")


def full_logits(policy: TransformersPolicy, ids: list[int]) -> torch.Tensor:
    """Logits at every position of ``ids``, one uncached forward pass of the whole model."""
    with torch.no_grad():
        return policy.model(input_ids=torch.tensor([ids])).logits[0].float()


def full_hidden(policy: TransformersPolicy, ids: list[int]) -> torch.Tensor:
    with torch.no_grad():
        return policy.model.get_decoder()(input_ids=torch.tensor([ids])).last_hidden_state[0]


def reference_scores(policy: TransformersPolicy, prompt: list[int],
                     options: list[tuple[int, ...] | None]) -> list[float]:
    """Constrained log-probs by brute force: a fresh full forward pass per option."""
    real = [o for o in options if o is not None]
    children: dict[tuple[int, ...], set[int]] = {}
    for o in real:
        for d in range(len(o)):
            children.setdefault(o[:d], set()).add(o[d])
    complement = None in options
    root_full = torch.log_softmax(full_logits(policy, prompt)[-1], -1)
    out = []
    for o in options:
        if o is None:
            mass = sum(math.exp(float(root_full[k])) for k in children[()])
            out.append(math.log(max(1.0 - mass, 1e-12)))
            continue
        logits = full_logits(policy, prompt + list(o[:-1]))[len(prompt) - 1:]
        total = 0.0
        for d in range(len(o)):
            if d == 0 and complement:
                total += float(torch.log_softmax(logits[0], -1)[o[0]])
                continue
            kids = sorted(children[o[:d]])
            restricted = torch.log_softmax(logits[d][kids], -1)
            total += float(restricted[kids.index(o[d])])
        out.append(total)
    return out


# ---- (1) score_options against brute force ----------------------------------------------------
SYNTHETIC = [
    (40, 41, 42),
    (40, 41, 43, 44),
    (40, 45),
    (50,),
    (60, 61, 62, 63, 64),
    (40, 41, 42),  # a duplicate scores the same
]


@pytest.mark.parametrize("text", [SHORT_TEXT, LONG_TEXT], ids=["short", "past-window"])
@pytest.mark.parametrize("complement", [False, True], ids=["closed", "with-None"])
def test_score_options_matches_brute_force(policy: TransformersPolicy, text: str, complement: bool) -> None:
    prompt = policy.encode(text, special=True)
    if text == LONG_TEXT:
        assert len(prompt) > 16  # past the tiny Gemma's sliding window
    options: list[tuple[int, ...] | None] = list(SYNTHETIC)
    if complement:
        options.insert(2, None)
    state = policy.prefill(prompt)
    got = policy.score_options(state, options)
    want = reference_scores(policy, prompt, options)
    assert got == pytest.approx(want, abs=1e-4)
    assert got[0] == pytest.approx(got[-1], abs=1e-6)
    assert all(g <= 1e-6 for g in got)
    # Distinct options (and the complement) partition the probability mass.
    distinct = dict(zip(options, got, strict=True))
    assert sum(math.exp(g) for g in distinct.values()) == pytest.approx(1.0, abs=1e-4)


def test_score_options_on_real_texts(policy: TransformersPolicy) -> None:
    prompt = policy.encode(LONG_TEXT + " Calls:", special=True)
    texts = [' [{"name": "get_weather", "arguments": {', ' [{"name": "get_time", "arguments": {',
             ' [{"name": "convert", "arguments": {', " []"]
    options: list[tuple[int, ...] | None] = [tuple(policy.encode(t)) for t in texts]
    assert len({o[:2] for o in options if o}) < len(options)  # the trie branches below its root
    state = policy.prefill(prompt)
    for opts in (options, [*options[:3], None]):
        got = policy.score_options(state, opts)
        assert got == pytest.approx(reference_scores(policy, prompt, opts), abs=1e-4)


def test_score_options_single_chains_and_errors(tiny_policy: TransformersPolicy) -> None:
    prompt = tiny_policy.encode(SHORT_TEXT, special=True)
    state = tiny_policy.prefill(prompt)
    # One option: certain. Two options that differ only at their first token: no deeper forward.
    assert tiny_policy.score_options(state, [(40, 41, 42)]) == [0.0]
    got = tiny_policy.score_options(state, [(40, 41), (50, 51)])
    assert got == pytest.approx(reference_scores(tiny_policy, prompt, [(40, 41), (50, 51)]), abs=1e-4)
    # Only the complement and one chain.
    got = tiny_policy.score_options(state, [(40, 41), None])
    assert got == pytest.approx(reference_scores(tiny_policy, prompt, [(40, 41), None]), abs=1e-4)
    with pytest.raises(ValueError, match="no tokens"):
        tiny_policy.score_options(state, [(), (40,)])


def test_score_options_leaves_state_untouched(tiny_policy: TransformersPolicy) -> None:
    prompt = tiny_policy.encode(LONG_TEXT, special=True)
    state = tiny_policy.prefill(prompt)
    first = tiny_policy.score_options(state, SYNTHETIC)
    assert state.length == len(prompt)
    assert tiny_policy.score_options(state, SYNTHETIC) == pytest.approx(first, abs=1e-6)
    after = tiny_policy.extend(state, [40, 41])
    assert torch.allclose(after.hidden, full_hidden(tiny_policy, prompt + [40, 41])[-1], atol=1e-4)


# ---- (2) extend = encoding at once -------------------------------------------------------------
@pytest.mark.parametrize(("prefix", "pieces"), [
    (5, [1, 3, 4]),        # stays inside the sliding window
    (10, [10]),            # crosses the window in one piece
    (20, [1, 20, 2]),      # starts past the window; one piece longer than the window
    (30, [1] * 6),
])
def test_extend_matches_full_encoding(policy: TransformersPolicy, prefix: int, pieces: list[int]) -> None:
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


@pytest.mark.parametrize("kind", VALUE_SCHEMAS)
def test_sample_values_are_valid(tiny_policy: TransformersPolicy, kind: str) -> None:
    from jsonschema import Draft202012Validator

    schema = VALUE_SCHEMAS[kind]
    state = tiny_policy.prefill(tiny_policy.encode(LONG_TEXT + ' "value":', special=True))
    finished = []
    for seed in range(2):
        gen = torch.Generator().manual_seed(seed)
        out = tiny_policy.sample_values(state, schema, 4, temperature=1.0, max_tokens=24, generator=gen)
        assert len(out) == 4
        for item in out:
            if item is None:
                continue
            value, ids, logprob = item
            assert Draft202012Validator(schema).is_valid(value), (kind, value)
            text = tiny_policy.decode(ids)
            assert text.startswith(" ") and not text.startswith("  ")
            assert json.loads(text) == value
            assert 0 < len(ids) <= 24
            assert logprob <= 1e-6
            finished.append(value)
    assert finished, f"no {kind} value finished within 24 tokens"


def test_sample_values_deterministic_under_seed(tiny_policy: TransformersPolicy) -> None:
    state = tiny_policy.prefill(tiny_policy.encode(SHORT_TEXT, special=True))
    runs = [
        tiny_policy.sample_values(state, {"type": "integer"}, 3, temperature=1.0, max_tokens=8,
                                  generator=torch.Generator().manual_seed(7))
        for _ in range(2)
    ]
    assert runs[0] == runs[1]


def test_sample_values_greedy_logprob_matches_model(tiny_policy: TransformersPolicy) -> None:
    """The reported log-prob is the sum of grammar-masked log-probs of the tokens taken."""
    prompt = tiny_policy.encode(LONG_TEXT, special=True)
    state = tiny_policy.prefill(prompt)
    schema = {"type": "array", "items": {"type": "boolean"}, "maxItems": 2}
    [item] = tiny_policy.sample_values(state, schema, 1, temperature=0.0, max_tokens=16, generator=None)
    assert item is not None
    value, ids, logprob = item
    assert isinstance(value, list) and all(isinstance(v, bool) for v in value) and len(value) <= 2
    # Masked log-probs are at least the unmasked ones: bounded by the plain model log-likelihood.
    logits = full_logits(tiny_policy, prompt + list(ids[:-1]))[len(prompt) - 1:]
    plain = sum(float(torch.log_softmax(logits[i], -1)[t]) for i, t in enumerate(ids))
    assert plain - 1e-4 <= logprob <= 1e-6


@pytest.mark.parametrize("kind", ["integer", "number", "string", "object"])
def test_restricted_projection_matches_full(tiny_policy: TransformersPolicy, kind: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Projecting onto the legal tokens alone gives the same greedy values and log-probs as the full vocabulary."""
    state = tiny_policy.prefill(tiny_policy.encode(LONG_TEXT + ' "value":', special=True))

    def run(limit: int) -> list[Any]:
        monkeypatch.setattr(tiny_policy, "restrict_limit", limit)
        return tiny_policy.sample_values(state, VALUE_SCHEMAS[kind], 1, temperature=0.0, max_tokens=12,
                                         generator=None)

    restricted, full = run(10**9), run(0)
    if kind in ("integer", "number"):
        assert restricted[0] is not None
    assert [r is None for r in restricted] == [f is None for f in full]
    for r, f in zip(restricted, full):
        if r is not None:
            assert r[0] == f[0] and r[1] == f[1]
            assert r[2] == pytest.approx(f[2], abs=1e-4)


@pytest.mark.parametrize("schema", [{"type": "string"}, {"type": "integer"},
                                    {"type": "array", "items": {"type": "string"}, "minItems": 1}])
def test_sample_values_cut_at_max_tokens(tiny_policy: TransformersPolicy, schema: dict[str, Any]) -> None:
    state = tiny_policy.prefill(tiny_policy.encode(SHORT_TEXT, special=True))
    out = tiny_policy.sample_values(state, schema, 5, temperature=1.0, max_tokens=1,
                                    generator=torch.Generator().manual_seed(0))
    assert out == [None] * 5


# ---- (4) context length -----------------------------------------------------------------------
def test_prefill_context_length(tiny_policy: TransformersPolicy) -> None:
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


# ---- (5) propose ------------------------------------------------------------------------------
TOOLS_RAW = [
    {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city", "parameters": {
        "type": "object", "properties": {
            "city": {"type": "string", "enum": ["paris", "tokyo", "london"]},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "days": {"type": "integer"}},
        "required": ["city", "unit"]}}},
    {"type": "function", "function": {"name": "set_alarm", "description": "Set an alarm", "parameters": {
        "type": "object", "properties": {
            "hour": {"type": "integer"}, "minute": {"type": "integer"}, "loud": {"type": "boolean"},
            "label": {"const": "wake"}},
        "required": ["hour", "minute"]}}},
    {"type": "function", "function": {"name": "ping", "description": "Ping", "parameters": {
        "type": "object", "properties": {}}}},
]


@pytest.fixture(scope="module")
def tools() -> list[ToolSpec]:
    return normalize_tools(TOOLS_RAW)


_ROOTS: dict[int, tuple[KVState, Any, list[int]]] = {}


def _root(policy: TransformersPolicy, tools: list[ToolSpec]) -> tuple[KVState, Any, list[int]]:
    """The encoded prompt, once per policy (states are never modified: extend copies the cache)."""
    if id(policy) not in _ROOTS:
        prompt = build_prompt(policy.tokenizer, [HumanMessage("weather in paris, and an alarm at 7")], tools)
        ids = policy.encode(prompt.text, special=not prompt.chat_template)
        _ROOTS[id(policy)] = (policy.prefill(ids), prompt.call_format, ids)
    return _ROOTS[id(policy)]


def _check_candidates(policy: TransformersPolicy, beam: Beam, cands: list[Candidate], rules: Constraints,
                      m: int) -> None:
    state = replay(beam.steps)
    allowed = next_tags(beam.steps)
    assert 1 <= len(cands) <= m
    keys = [(c.step.tag, c.step.name, dump_value(c.step.value)) for c in cands]
    assert len(set(keys)) == len(keys), "duplicate candidates"
    names = {t.name for t in rules.tools}
    for c in cands:
        assert c.step.tag in allowed
        assert c.logprob <= 1e-6
        if c.token_ids:
            assert policy.decode(c.token_ids) == c.text
        if c.step.tag is StepTag.FUNC_NAME:
            assert c.step.name in names
            assert len(state.calls) < rules.max_calls
            if rules.forced_name and not state.calls:
                assert c.step.name == rules.forced_name
        elif c.step.tag is StepTag.ARG_VALUE:
            tool = rules.tool(state.open_name)
            param = tool.param(c.step.name)
            assert param is not None, f"unknown argument {c.step.name!r}"
            assert c.step.name not in state.open_args, f"repeated argument {c.step.name!r}"
            assert param.is_valid(c.step.value)
        elif c.step.tag is StepTag.PARAM_FINISH:
            tool = rules.tool(state.open_name)
            assert all(r in state.open_args for r in tool.required), "PARAM_FINISH before required args"
        elif c.step.tag is StepTag.TOTAL_FINISH:
            assert state.calls or not rules.require_call


def _walk(policy: TransformersPolicy, tools: list[ToolSpec], rules: Constraints, seed: int,
          m: int = 6, max_depth: int = 30, prefer_args: bool = True) -> tuple[Beam, Any, list[int], int]:
    root, fmt, prompt = _root(policy, tools)
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    beam = Beam((), root)
    proposals = 0
    for _ in range(max_depth):
        if beam.finished:
            break
        cands = policy.propose(beam, m, fmt=fmt, rules=rules, temperature=1.5, max_value_tokens=6,
                               generator=gen)
        proposals += 1
        _check_candidates(policy, beam, cands, rules, m)
        args = [c for c in cands if c.step.tag is StepTag.ARG_VALUE]
        pick = rng.choice(args if prefer_args and args and rng.random() < 0.7 else cands)
        beam = policy.advance(beam, pick, 1.0)
    return beam, fmt, prompt, proposals


@pytest.mark.parametrize("seed", [0, 2, 3])
def test_propose_walk_respects_the_grammar(tiny_policy: TransformersPolicy, tools: list[ToolSpec],
                                           seed: int) -> None:
    rules = Constraints(tuple(tools), require_call=True, max_calls=2)
    beam, fmt, prompt, proposals = _walk(tiny_policy, tools, rules, seed)
    assert proposals >= 3
    # The beam's cache holds exactly the prompt and every step's tokens.
    written = prompt + [t for step_ids in _token_ids(tiny_policy, beam) for t in step_ids]
    assert beam.kv.length == len(written)
    assert torch.allclose(beam.kv.hidden, full_hidden(tiny_policy, written)[-1], atol=1e-4)
    assert beam.finished
    calls = assemble(beam.steps)
    assert 1 <= len(calls) <= rules.max_calls
    for call in calls:
        assert rules.tool(call.name).validate_arguments(call.arguments) is None
    text = "".join(beam.texts)
    assert json.loads(text) == [{"name": c.name, "arguments": c.arguments} for c in calls]


def _token_ids(policy: TransformersPolicy, beam: Beam) -> list[list[int]]:
    return [policy.encode(t) if t else [] for t in beam.texts]


def test_propose_walk_qwen_format(tiny_qwen_policy: TransformersPolicy, tools: list[ToolSpec]) -> None:
    rules = Constraints(tuple(tools), require_call=True, max_calls=1)
    beam, fmt, _, _ = _walk(tiny_qwen_policy, tools, rules, seed=5)
    assert fmt.name == "qwen"
    assert beam.finished
    calls = assemble(beam.steps)
    assert len(calls) == 1
    text = "".join(beam.texts)
    assert text.startswith("<tool_call>\n") and text.endswith("</tool_call>" + fmt.list_close)
    body = text[len("<tool_call>\n"):-len("\n</tool_call>" + fmt.list_close)]
    assert json.loads(body) == {"name": calls[0].name, "arguments": calls[0].arguments}


def test_propose_first_step_options(tiny_policy: TransformersPolicy, tools: list[ToolSpec]) -> None:
    root, fmt, _ = _root(tiny_policy, tools)
    beam = Beam((), root)
    gen = torch.Generator().manual_seed(0)

    def tags(rules: Constraints) -> set[tuple[StepTag, str | None]]:
        seen = set()
        for _ in range(2):
            for c in tiny_policy.propose(beam, 40, fmt=fmt, rules=rules, temperature=5.0, max_value_tokens=4,
                                         generator=gen):
                seen.add((c.step.tag, c.step.name))
        return seen

    free = tags(Constraints(tuple(tools)))
    assert free == {(StepTag.FUNC_NAME, t.name) for t in tools} | {(StepTag.TOTAL_FINISH, None)}
    assert tags(Constraints(tuple(tools), require_call=True)) == {(StepTag.FUNC_NAME, t.name) for t in tools}
    assert tags(Constraints(tuple(tools), forced_name="ping")) == {
        (StepTag.FUNC_NAME, "ping"), (StepTag.TOTAL_FINISH, None)}
    assert tags(Constraints(tuple(tools), require_call=True, forced_name="set_alarm")) == {
        (StepTag.FUNC_NAME, "set_alarm")}
    assert tags(Constraints(tuple(tools), max_calls=0)) == {(StepTag.TOTAL_FINISH, None)}


def test_propose_inside_a_call(tiny_policy: TransformersPolicy, tools: list[ToolSpec]) -> None:
    root, fmt, _ = _root(tiny_policy, tools)
    rules = Constraints(tuple(tools), max_calls=1)
    gen = torch.Generator().manual_seed(1)
    beam = Beam((), root)
    [open_call] = [c for c in tiny_policy.propose(beam, 16, fmt=fmt, rules=Constraints(
        tuple(tools), require_call=True, forced_name="get_weather"), temperature=1.0, max_value_tokens=4,
        generator=gen)]
    beam = tiny_policy.advance(beam, open_call, 1.0)
    seen: set[tuple[StepTag, str | None]] = set()
    for _ in range(2):
        for c in tiny_policy.propose(beam, 16, fmt=fmt, rules=rules, temperature=5.0, max_value_tokens=4,
                                     generator=gen):
            seen.add((c.step.tag, c.step.name))
    # city and unit are required: no PARAM_FINISH yet; every parameter is offered.
    assert seen == {(StepTag.ARG_VALUE, n) for n in ("city", "unit", "days")}
    # Give both required arguments; then PARAM_FINISH appears and they are not offered again.
    for name in ("city", "unit"):
        cand = next(c for c in tiny_policy.propose(beam, 16, fmt=fmt, rules=rules, temperature=5.0,
                                                   max_value_tokens=4, generator=gen) if c.step.name == name)
        beam = tiny_policy.advance(beam, cand, 1.0)
    seen = set()
    for _ in range(2):
        for c in tiny_policy.propose(beam, 16, fmt=fmt, rules=rules, temperature=5.0, max_value_tokens=4,
                                     generator=gen):
            seen.add((c.step.tag, c.step.name))
    assert seen == {(StepTag.ARG_VALUE, "days"), (StepTag.PARAM_FINISH, None)}
    finish = next(c for c in tiny_policy.propose(beam, 16, fmt=fmt, rules=rules, temperature=5.0,
                                                 max_value_tokens=4, generator=gen)
                  if c.step.tag is StepTag.PARAM_FINISH)
    beam = tiny_policy.advance(beam, finish, 1.0)
    only = tiny_policy.propose(beam, 5, fmt=fmt, rules=rules, temperature=1.0, max_value_tokens=4, generator=gen)
    assert [(c.step.tag, c.logprob) for c in only] == [(StepTag.FUNC_FINISH, 0.0)]
    beam = tiny_policy.advance(beam, only[0], 1.0)
    # max_calls=1 reached: only the list's end remains.
    last = tiny_policy.propose(beam, 5, fmt=fmt, rules=rules, temperature=1.0, max_value_tokens=4, generator=gen)
    assert [c.step.tag for c in last] == [StepTag.TOTAL_FINISH]
    assert beam.scores == (1.0,) * 5 and len(beam.texts) == 5


def test_propose_greedy_is_deterministic(tiny_policy: TransformersPolicy, tools: list[ToolSpec]) -> None:
    root, fmt, _ = _root(tiny_policy, tools)
    rules = Constraints(tuple(tools), require_call=True)
    runs = [tiny_policy.propose(Beam((), root), 4, fmt=fmt, rules=rules, temperature=0.0, max_value_tokens=4,
                                generator=None) for _ in range(2)]
    assert len(runs[0]) == 1 and runs[0] == runs[1]
    # Greedy picks the most likely option among the function names.
    options = [tuple(tiny_policy.encode(fmt.open_call(t.name, True))) for t in tools]
    lps = tiny_policy.score_options(root, options)
    assert runs[0][0].step.name == tools[max(range(len(tools)), key=lambda i: lps[i])].name
    assert runs[0][0].logprob == pytest.approx(max(lps), abs=1e-6)


# ---- helpers ---------------------------------------------------------------------------------
def test_draw() -> None:
    assert _draw([-3.0, -0.1, -2.0], 5, 0.0, None) == {1: 5}
    counts = _draw([-3.0, -0.1, -2.0], 50, 1.0, torch.Generator().manual_seed(0))
    assert sum(counts.values()) == 50
    keys = list(counts)
    assert keys == sorted(keys, key=lambda k: -[-3.0, -0.1, -2.0][k])
    assert _draw([-1.0, -1.0], 7, 1.0, torch.Generator().manual_seed(3)) == _draw(
        [-1.0, -1.0], 7, 1.0, torch.Generator().manual_seed(3))


def test_prefill_reuses_recent_prompts(tiny_gemma_path: Any) -> None:
    """A prompt sharing a long prefix with a recent one feeds only its new tokens, same states."""
    policy = TransformersPolicy.from_pretrained(tiny_gemma_path)
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
    off = TransformersPolicy.from_pretrained(tiny_gemma_path)
    off.prompt_cache_size = 0
    off.prefill(first)
    off.prefill(second)
    assert off.usage.input_tokens == len(first) + len(second)


def _common_len(a: list[int], b: list[int]) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


def test_unknown_dtype_is_named(tiny_gemma_path: Any) -> None:
    with pytest.raises(ValueError, match="unknown dtype 'float33'"):
        TransformersPolicy.from_pretrained(tiny_gemma_path, dtype="float33")
    with pytest.raises(ValueError, match="unknown dtype 'nn'"):
        GenerativePRM.from_pretrained(tiny_gemma_path, dtype="nn")  # torch.nn exists, but is no dtype


def test_from_pretrained_never_downloads(tmp_path: Any) -> None:
    with pytest.raises(FileNotFoundError, match="no model directory"):
        TransformersPolicy.from_pretrained(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="nothing is downloaded"):
        TransformersPolicy.from_pretrained("no-such-org/no-such-model-xyz")
