"""Function masking and no-call examples for PRM and policy training data (ToolPRM section 3).

Masking renames functions and parameters to random strings while keeping the descriptions, so
the policy (and the PRM judging it) must read what a tool does instead of recognising a
memorised name. Defaults that equal the gold value are perturbed so copying a default is not a
shortcut; tool lists are padded with other examples' tools and shuffled so the gold tool is not
always the only or the first one. Irrelevance examples take the gold tool away; contrast pairs
ask one request with its tool alone and with a near miss alone. Everything is deterministic
under ``MaskConfig.seed``.
"""

from __future__ import annotations

import copy
import json
import random
import re
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..core.schema import ParamSpec, normalize_tools
from ..core.steps import Call
from ..core.verifier import content_words, relevance
from .labels import values_equal
from .records import ToolExample


@dataclass(frozen=True)
class MaskConfig:
    """How to mask. ``pad_tools_to``: pad each tool list to a random size in this range
    (None: no padding). Dots are allowed in names: the tool schema accepts them."""

    fraction: float = 2 / 3
    name_len: tuple[int, int] = (5, 15)
    param_len: tuple[int, int] = (4, 10)
    alphabet: str = string.ascii_letters + string.digits + "_."
    pad_tools_to: tuple[int, int] | None = (2, 6)
    shuffle: bool = True
    perturb_defaults: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        if self.pad_tools_to is not None:
            low, high = self.pad_tools_to
            if not 1 <= low <= high:
                raise ValueError(f"pad_tools_to must be (low, high) with 1 <= low <= high, got {self.pad_tools_to}")


def _name(tool: dict[str, Any]) -> str:
    return tool["function"]["name"]


def random_name(rng: random.Random, length: tuple[int, int], alphabet: str, taken: set[str]) -> str:
    """A fresh identifier-like name: starts with a letter, never ends with a dot, not in ``taken``."""
    letters = [c for c in alphabet if c.isalpha()] or list(string.ascii_letters)
    tail = [c for c in alphabet if c != "."] or letters
    while True:
        n = rng.randint(*length)
        name = rng.choice(letters) + "".join(rng.choice(alphabet) for _ in range(max(n - 2, 0)))
        name += rng.choice(tail) if n > 1 else ""
        if name not in taken and ".." not in name:
            taken.add(name)
            return name


def tool_pool(examples: Sequence[ToolExample]) -> list[dict[str, Any]]:
    """Every distinct tool (by name, first seen wins) offered by ``examples``: the padding supply."""
    seen: dict[str, dict[str, Any]] = {}
    for ex in examples:
        for tool in ex.tools:
            seen.setdefault(_name(tool), tool)
    return list(seen.values())


def _clashing(avoid: Sequence[dict[str, Any]]) -> Callable[[dict[str, Any]], bool]:
    """Whether a tool shares a name or a description with one of ``avoid`` (case-folded)."""
    names = {_name(t).casefold() for t in avoid}
    descs = {str(t["function"].get("description", "")).casefold() for t in avoid}
    return lambda tool: (_name(tool).casefold() in names
                         or str(tool["function"].get("description", "")).casefold() in descs)


def _draw(rng: random.Random, pool: Sequence[dict[str, Any]], k: int,
          avoid: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Up to ``k`` pool tools whose name and description clash with nothing in ``avoid``.

    A clashing description would be the same tool under another name, and could make a
    distractor a second right answer.
    """
    clashes = _clashing(avoid)
    out: list[dict[str, Any]] = []
    drawn: set[str] = set()
    for _ in range(20 * k if pool else 0):
        if len(out) == k:
            break
        tool = pool[rng.randrange(len(pool))]
        if clashes(tool) or _name(tool).casefold() in drawn:
            continue
        out.append(tool)
        drawn.add(_name(tool).casefold())
    return out


def _perturbed(value: Any, schema: dict[str, Any], rng: random.Random) -> tuple[bool, Any]:
    """A different legal default, or (False, None) when there is none worth inventing."""
    if "enum" in schema:
        others = [v for v in schema["enum"] if not values_equal(v, value)]
        return (True, rng.choice(others)) if others else (False, None)
    if isinstance(value, bool):
        return True, not value
    if isinstance(value, int):
        return True, value + rng.randint(1, 9)
    if isinstance(value, float):
        return True, round(value + rng.randint(1, 9) * 0.5, 6)
    return False, None


def _perturb_defaults(tools: list[dict[str, Any]], gold: Sequence[Call], rng: random.Random) -> list[str]:
    """Change (or drop) each default that equals a gold value, in place; returns ``tool.param``s."""
    by_name = {_name(t): t for t in tools}
    changed: list[str] = []
    for call in gold:
        props = ((by_name.get(call.name) or {}).get("function", {}).get("parameters") or {}).get("properties", {})
        for key, value in call.arguments.items():
            schema = props.get(key)
            if not isinstance(schema, dict) or "default" not in schema or not values_equal(schema["default"], value, schema):
                continue
            ok, new = _perturbed(schema["default"], schema, rng)
            gold_values = [c.arguments[key] for c in gold if c.name == call.name and key in c.arguments]
            if ok and ParamSpec(key, schema, False).is_valid(new) and not any(values_equal(new, g) for g in gold_values):
                schema["default"] = new
            else:
                del schema["default"]
            changed.append(f"{call.name}.{key}")
    return changed


def _distinctive(name: str) -> bool:
    """A name safe to replace in free text: snake_case, camelCase, dotted, with digits or spaces."""
    return bool(re.search(r"[_\d\s.]|[a-z][A-Z]", name))


def _rename_text(text: str, names: dict[str, str]) -> str:
    for old in sorted((n for n in names if _distinctive(n)), key=len, reverse=True):
        text = re.sub(rf"(?<![\w.]){re.escape(old)}(?![\w.])", lambda _, new=names[old]: new, text)
    return text


def _rename_message(msg: dict[str, Any], fn: dict[str, str], params: dict[str, dict[str, str]]) -> dict[str, Any]:
    msg = copy.deepcopy(msg)
    for tc in msg.get("tool_calls") or []:
        f = tc.get("function") or {}
        old = f.get("name")
        if old in fn:
            try:
                args = json.loads(f.get("arguments") or "{}")
            except json.JSONDecodeError:
                args = None
            if isinstance(args, dict):
                f["arguments"] = json.dumps({params[old].get(k, k): v for k, v in args.items()}, ensure_ascii=False)
            f["name"] = fn[old]
    if msg.get("role") in ("tool", "assistant") and isinstance(msg.get("content"), str):
        msg["content"] = _rename_text(msg["content"], fn)
    if msg.get("name") in fn:
        msg["name"] = fn[msg["name"]]
    return msg


def _rename_tool(tool: dict[str, Any], new: str, params: dict[str, str]) -> dict[str, Any]:
    fn = tool["function"]
    schema = fn.get("parameters") or {"type": "object", "properties": {}}
    renamed = {
        **schema,
        "properties": {params[k]: v for k, v in (schema.get("properties") or {}).items()},
        "required": [params[r] for r in schema.get("required", []) if r in params],
    }
    return {**tool, "function": {**fn, "name": new, "parameters": renamed}}


def _arrange(ex: ToolExample, rng: random.Random, pool: Sequence[dict[str, Any]], config: MaskConfig,
             mask: bool, avoid: Sequence[dict[str, Any]] = ()) -> ToolExample:
    """Pad, optionally mask, and shuffle one example; tools like ``avoid`` never enter as padding."""
    tools = [copy.deepcopy(t) for t in ex.tools]
    meta: dict[str, Any] = {**ex.meta, "masked": mask}
    if config.pad_tools_to is not None:
        want = rng.randint(*config.pad_tools_to) - len(tools)
        extra = _draw(rng, pool, want, [*tools, *avoid]) if want > 0 else []
        tools += [copy.deepcopy(t) for t in extra]
        meta["padded"] = [_name(t) for t in extra]
    gold = list(ex.gold)
    messages = list(ex.messages)
    if mask:
        if config.perturb_defaults:
            meta["perturbed_defaults"] = _perturb_defaults(tools, gold, rng)
        taken = {_name(t) for t in tools}
        fn_map: dict[str, str] = {}
        param_map: dict[str, dict[str, str]] = {}
        for i, tool in enumerate(tools):
            old = _name(tool)
            fn_map[old] = random_name(rng, config.name_len, config.alphabet, taken)
            props = list((tool["function"].get("parameters") or {}).get("properties") or {})
            used = set(props)
            param_map[old] = {p: random_name(rng, config.param_len, config.alphabet, used) for p in props}
            tools[i] = _rename_tool(tool, fn_map[old], param_map[old])
        gold = [Call(fn_map.get(c.name, c.name), {param_map.get(c.name, {}).get(k, k): v for k, v in c.arguments.items()})
                for c in gold]
        messages = [_rename_message(m, fn_map, param_map) for m in messages]
        meta["renames"] = {old: {"name": fn_map[old], "params": param_map[old]} for old in fn_map}
    if config.shuffle:
        rng.shuffle(tools)
    return replace(ex, messages=tuple(messages), tools=tuple(tools), gold=tuple(gold), meta=meta)


def mask_example(ex: ToolExample, rng: random.Random, pool: Sequence[dict[str, Any]],
                 config: MaskConfig = MaskConfig()) -> ToolExample:
    """Rename functions and parameters consistently in tools, gold calls and the conversation's
    earlier tool calls (descriptions stay); perturb defaults equal to gold; pad and shuffle."""
    return _arrange(ex, rng, pool, config, mask=True)


def _rng(config: MaskConfig, *key: object) -> random.Random:
    # A string seed is hashed with SHA-512, so the stream is stable across runs and platforms.
    return random.Random(":".join(map(str, (config.seed, *key))))


def mask_examples(examples: Sequence[ToolExample], config: MaskConfig = MaskConfig()) -> list[ToolExample]:
    """Mask ``config.fraction`` of ``examples`` (chosen under the seed); pad and shuffle all of them.

    Each example draws from its own generator keyed by its id, so its result does not depend on
    the other examples except through the padding pool.
    """
    pool = tool_pool(examples)
    k = round(config.fraction * len(examples))
    chosen = set(_rng(config, "choose").sample(range(len(examples)), k))
    return [_arrange(ex, _rng(config, ex.id), pool, config, i in chosen) for i, ex in enumerate(examples)]


def _topic(tool: dict[str, Any]) -> set[str]:
    fn = tool["function"]
    return content_words(f"{fn['name']} {fn.get('description', '')}")


NEAR_MISS_MAX_OVERLAP = 0.5
"""A near miss shares less than this share (Jaccard) of its topic words with a removed tool:
more and it may be the same tool under another name, a second right answer."""


def near_misses(pool: Sequence[dict[str, Any]], removed: Sequence[dict[str, Any]], k: int,
                avoid: Sequence[dict[str, Any]], request: str) -> list[dict[str, Any]]:
    """Up to ``k`` pool tools on a removed tool's topic that do something else: the most topic
    words shared with it (at least one, under ``NEAR_MISS_MAX_OVERLAP``), at most half as
    relevant to ``request`` as the removed tool (a tool the request speaks of as much may serve
    it: "ChronicPainStrategies" for techniques against chronic pain), nothing in ``avoid``.

    Removing the gold tool alone leaves tools of other topics, which a request tells apart by
    its words; a tool that shares the request's topic but not its task is what a tuned policy
    must learn to refuse ("the area of a circle" with only a rectangle's area offered)."""
    clashes = _clashing([*avoid, *removed])
    topics = [_topic(t) for t in removed]
    bar = 0.5 * max((relevance(request, spec) for spec in normalize_tools(list(removed))), default=0.0)
    scored = []
    for tool in pool:
        if clashes(tool):
            continue
        words = _topic(tool)
        overlaps = [len(words & t) / len(words | t) for t in topics if words | t]
        if overlaps and 0 < max(overlaps) < NEAR_MISS_MAX_OVERLAP \
                and relevance(request, normalize_tools([tool])[0]) <= bar:
            scored.append((max(overlaps), _name(tool), tool))
    scored.sort(key=lambda x: (-x[0], x[1]))
    return [tool for _, _, tool in scored[:k]]


def _called(ex: ToolExample) -> set[str]:
    """The functions the conversation already called: a no-call example must not drop one."""
    return {tc["function"]["name"] for m in ex.messages for tc in m.get("tool_calls") or []}


def irrelevance_examples(examples: Sequence[ToolExample], config: MaskConfig = MaskConfig(),
                         fraction: float = 0.15, near: int = 0) -> list[ToolExample]:
    """About ``fraction`` x len(examples) new no-call examples: a query with its gold tools taken
    away (at least one other tool stays, drawn from the pool if needed), and up to ``near``
    :func:`near_misses` of them added. The conversation must not already call a removed tool.
    Masked at ``config.fraction`` like the rest."""
    pool = tool_pool(examples)
    eligible = []
    for ex in examples:
        gold_names = {c.name for c in ex.gold}
        if gold_names and not gold_names & _called(ex):
            eligible.append(ex)
    rng = _rng(config, "irrelevance")
    picked = rng.sample(eligible, min(round(fraction * len(examples)), len(eligible)))
    masked = set(rng.sample(range(len(picked)), round(config.fraction * len(picked))))
    out: list[ToolExample] = []
    for i, ex in enumerate(picked):
        ex_rng = _rng(config, ex.id, "irr")
        gold_names = {c.name for c in ex.gold}
        removed = [t for t in ex.tools if _name(t) in gold_names]
        others = [t for t in ex.tools if _name(t) not in gold_names]
        nearby = near_misses(pool, removed, near, ex.tools, ex.request) if near else []
        kept = others + nearby or _draw(ex_rng, pool, 1, ex.tools)
        if not kept:
            continue
        base = replace(ex, id=f"{ex.id}-irr", tools=tuple(kept), gold=(),
                       meta={**ex.meta, "kind": "irrelevance", "removed_tools": sorted(gold_names),
                             **({"near_misses": [_name(t) for t in nearby]} if near else {})})
        out.append(_arrange(base, ex_rng, pool, config, i in masked, removed))
    return out


CONTRAST_MIN_RELEVANCE = 0.3
"""A contrast pair needs a gold tool the request clearly speaks of (API-Bank's ``ToolSearcher``
scores 0 against the requests it serves): otherwise nothing tells it from its near miss."""


def contrast_examples(examples: Sequence[ToolExample], config: MaskConfig = MaskConfig(),
                      fraction: float = 0.3) -> list[ToolExample]:
    """Pairs of one-tool questions that differ only in their tool, for about ``fraction`` x
    len(examples) single-call questions: the question with its gold tool alone (the call), and
    with only that tool's nearest :func:`near_misses` (``[]``). Their cap of half the gold
    tool's relevance stays: between 0.6 and 0.75 of it, the training sources' near misses are
    mostly the same tool again ("deployApplication" for "deployApp", "ClinicalTrialSearch" for
    "BreastCancerClinicalTrialSearch").

    BFCL asks both its simple and its irrelevance questions with one tool, and its irrelevant
    tool is usually on the question's topic ("the area of a triangle" with a body-mass-index
    tool). A policy trained on padded lists learns "no call" where the request's words point
    nowhere; the pair makes the same request and a tool of the same topic decide both ways, so
    only whether the tool does the asked task can (docs/policy.md, v8). No padding; masked at
    ``config.fraction``, both halves of a pair alike."""
    pool = tool_pool(examples)
    eligible = []
    for ex in examples:
        gold = [t for t in ex.tools if len(ex.gold) == 1 and _name(t) == ex.gold[0].name]
        if gold and _name(gold[0]) not in _called(ex) \
                and relevance(ex.request, normalize_tools(gold)[0]) >= CONTRAST_MIN_RELEVANCE:
            eligible.append((ex, gold[0]))
    rng = _rng(config, "contrast")
    picked = rng.sample(eligible, min(round(fraction * len(examples)), len(eligible)))
    masked = set(rng.sample(range(len(picked)), round(config.fraction * len(picked))))
    alone = replace(config, pad_tools_to=None)
    out: list[ToolExample] = []
    for i, (ex, gold) in enumerate(picked):
        nearby = near_misses(pool, [gold], 1, ex.tools, ex.request)
        if not nearby:
            continue
        ex_rng = _rng(config, ex.id, "contrast")
        right = replace(ex, id=f"{ex.id}-one", tools=(gold,), meta={**ex.meta, "kind": "contrast-call"})
        wrong = replace(ex, id=f"{ex.id}-near", tools=tuple(nearby), gold=(),
                        meta={**ex.meta, "kind": "contrast-near-miss", "removed_tools": [_name(gold)],
                              "near_misses": [_name(t) for t in nearby]})
        out += [_arrange(right, ex_rng, pool, alone, i in masked),
                _arrange(wrong, ex_rng, pool, alone, i in masked, [gold])]
    return out
