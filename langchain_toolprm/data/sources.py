"""Loaders that turn the PRM training sources into :class:`~langchain_toolprm.data.records.ToolExample`.

Each source spells conversations, tools and calls its own way (Seal-Tools' typed catalogue,
glaive's and ToolACE's ShareGPT turns, API-Bank's ``[Api(k='v')]`` strings). The loaders
normalise them to OpenAI-style messages and function schemas so that masking, rollouts and
labelling never look at a source again. A record that cannot be honoured is skipped and
counted under a reason rather than crashing the build: the counts go on the dataset card.
"""

from __future__ import annotations

import ast
import functools
import json
import re
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from ..core.schema import ToolSchemaError, ToolSpec, normalize_tool
from ..core.steps import Call
from .records import DataFileError, ToolExample, data_dir, require_file

SEALTOOLS, GLAIVE, TOOLACE, APIBANK = "sealtools", "glaive", "toolace", "apibank_lv3"
ALL_SOURCES: tuple[str, ...] = (SEALTOOLS, GLAIVE, TOOLACE, APIBANK)
APIBANK_REPLIES = "apibank_lv3_replies"
"""API-Bank level-3's reply items (gold: no call, after the results): read on request, not a
default source of the PRM data."""


@dataclass
class LoadReport:
    """What one loader produced, and how many candidate examples it skipped for each reason."""

    source: str
    examples: list[ToolExample] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)


class _Skip(Exception):
    """A candidate example that cannot be used; the message is the (countable) reason."""


# ---------------------------------------------------------------- shared helpers

_TYPES = {
    "str": "string", "string": "string", "text": "string", "datetime": "string", "date": "string",
    "time": "string", "int": "integer", "integer": "integer", "float": "number", "number": "number",
    "double": "number", "bool": "boolean", "boolean": "boolean", "list": "array", "array": "array",
    "tuple": "array", "dict": "object", "object": "object", "null": "null",
}


def type_schema(name: str) -> dict[str, Any] | None:
    """A Python-ish type name (``str``, ``List[str]``, ``dict``) as a JSON schema; None if unknown."""
    name = name.strip()
    inner = re.fullmatch(r"(?i)(?:list|array)\[(\w+)\]", name)
    if inner:
        items = type_schema(inner.group(1))
        return {"type": "array", "items": items} if items else None
    kind = _TYPES.get(name.lower())
    return {"type": kind} if kind else None


def _clean_schema(schema: Any) -> Any:
    """Map the Python type names some JSON schemas use (``dict``, ``float``) to JSON Schema ones."""
    if isinstance(schema, list):
        return [_clean_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if value is None:
            continue
        if key == "type":
            names = value if isinstance(value, list) else [value]
            mapped = [_TYPES.get(v.lower(), v) if isinstance(v, str) else v for v in names]
            out[key] = mapped if isinstance(value, list) else mapped[0]
        elif key == "properties" and isinstance(value, dict):
            out[key] = {k: _clean_schema(v) for k, v in value.items()}
        elif key in ("items", "anyOf", "oneOf", "additionalProperties"):
            out[key] = _clean_schema(value)
        else:
            out[key] = value
    return out


def openai_tool(name: str, description: str, parameters: dict[str, Any]) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "description": description, "parameters": parameters}}


def _typed_parameters(params: dict[str, Any], required: Sequence[str]) -> dict[str, Any]:
    """Seal-Tools / API-Bank ``{name: {type, description[, default]}}`` as a JSON object schema."""
    props: dict[str, Any] = {}
    for pname, spec in params.items():
        schema = type_schema(str(spec.get("type", ""))) if isinstance(spec, dict) else None
        if schema is None:
            raise _Skip("unsupported parameter type")
        if spec.get("description"):
            schema["description"] = str(spec["description"])
        if "default" in spec:  # checked against the schema in _usable_tools
            schema["default"] = spec["default"]
        props[pname] = schema
    return {"type": "object", "properties": props, "required": [r for r in required if r in props]}


_INT = re.compile(r"[+-]?\d+")
_NUM = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def coerce_value(value: Any, schema: dict[str, Any]) -> Any:
    """Fix a lossless type slip in a gold value (``"63"`` for an integer, ``5`` for a string).

    Sources written as Python call strings or typed by hand often disagree with their own
    schema this way; the value is meant the same, so the call is kept rather than dropped.
    """
    if Draft202012Validator(schema).is_valid(value):
        return value
    kinds = schema.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if isinstance(value, str):
        text = value.strip()
        if "integer" in kinds and _INT.fullmatch(text):
            return int(text)
        if "number" in kinds and _NUM.fullmatch(text):
            number = float(text)
            return int(number) if number.is_integer() and _INT.fullmatch(text) else number
        if "boolean" in kinds and text.lower() in ("true", "false"):
            return text.lower() == "true"
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and "string" in kinds:
        return str(value)
    return value


def _gold_call(name: str, arguments: Any, specs: dict[str, ToolSpec]) -> Call:
    """A gold call checked against its tool (after :func:`coerce_value`); else :class:`_Skip`."""
    spec = specs.get(name)
    if spec is None:
        raise _Skip("gold call to a tool that is not offered")
    if not isinstance(arguments, dict):
        raise _Skip("gold arguments are not an object")
    args = {k: coerce_value(v, spec.param(k).schema) if spec.param(k) else v for k, v in arguments.items()}
    reason = spec.validate_arguments(args)
    if reason is not None:
        if reason.startswith("unknown argument"):
            raise _Skip("gold call has an argument its tool does not declare")
        if reason.startswith("missing required"):
            raise _Skip("gold call lacks a required argument")
        raise _Skip("gold argument does not match its schema")
    return Call(name, args)


def _usable_tools(raw: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, ToolSpec]]:
    """The tools that normalise (first of a duplicated name wins); unsupported ones are dropped.

    A distractor tool with an odd schema should not cost the example; if a gold call needs a
    dropped tool, :func:`_gold_call` skips the example instead.
    """
    tools: list[dict[str, Any]] = []
    specs: dict[str, ToolSpec] = {}
    for tool in raw:
        try:
            spec = normalize_tool(tool)
            if any("default" in p.schema and not p.is_valid(p.schema["default"]) for p in spec.params):
                spec = normalize_tool(_without_bad_defaults(spec))
        except ToolSchemaError:
            continue
        if spec.name not in specs:
            specs[spec.name] = spec
            tools.append(spec.openai)
    return tools, specs


def _without_bad_defaults(spec: ToolSpec) -> dict[str, Any]:
    """The tool without defaults its own schema rejects (ToolACE has ``"default": ""`` for
    numbers): labels treat a default as a legal value to omit or repeat, so it must be one."""
    props = {
        p.name: {k: v for k, v in p.schema.items() if k != "default" or p.is_valid(v)} for p in spec.params
    }
    return openai_tool(spec.name, spec.description, {"type": "object", "properties": props, "required": list(spec.required)})


def _call_message(calls: Sequence[Call], ids: Sequence[str]) -> dict[str, Any]:
    return {"role": "assistant", "content": "", "tool_calls": [
        {"id": i, "type": "function",
         "function": {"name": c.name, "arguments": json.dumps(c.arguments, ensure_ascii=False)}}
        for c, i in zip(calls, ids)
    ]}


def _tool_message(call_id: str, content: Any) -> dict[str, Any]:
    text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
    return {"role": "tool", "tool_call_id": call_id, "content": text}


def _example(source: str, n: int, messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]],
             gold: Sequence[Call], meta: dict[str, Any]) -> ToolExample:
    """The final example, after the tool list passes :func:`~langchain_toolprm.core.schema.normalize_tools`."""
    if not tools:
        raise _Skip("no usable tools")
    ex = ToolExample(f"{source}-{n}", source, tuple(dict(m) for m in messages), tuple(tools), tuple(gold), meta)
    try:
        ex.specs()
    except ToolSchemaError as exc:
        raise _Skip("tool list does not normalise") from exc
    return ex


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataFileError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc


def _read_jsonl(path: Path) -> Iterator[Any]:
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataFileError(f"{path}:{n}: not valid JSON ({exc.msg})") from exc


def _json_list(path: Path) -> list[Any]:
    data = _read_json(path)
    if not isinstance(data, list):
        raise DataFileError(f"{path}: expected a JSON list of records, got {type(data).__name__}")
    return data


def _collect(source: str, records: Iterable[Any], build: Callable[[int, Any], ToolExample]) -> LoadReport:
    """Build one example per record; a :class:`_Skip` (or a malformed record) is counted, not raised."""
    report = LoadReport(source)
    for n, record in enumerate(records):
        try:
            report.examples.append(build(n, record))
        except _Skip as exc:
            report.skipped[str(exc)] += 1
        except (KeyError, TypeError, ValueError, AttributeError):
            report.skipped["malformed record"] += 1
    return report


# ---------------------------------------------------------------- Seal-Tools

_CALL_REF = re.compile(r"API_call_\d+")


def load_sealtools(root: str | Path | None = None) -> LoadReport:
    """Seal-Tools dev queries; the tools offered are the catalogue entries the gold calls use.

    Items whose arguments are outputs of earlier calls ("API_call_0") are skipped: the value is
    unknowable from the query alone, so no single-turn gold exists for them.
    """
    base = data_dir(root) / "train_sources" / "sealtools"
    dev = require_file(base / "dev.jsonl", "Seal-Tools dev queries")
    catalogue: dict[str, dict[str, Any]] = {}
    for entry in _read_jsonl(require_file(base / "tool.jsonl", "the Seal-Tools tool catalogue")):
        if isinstance(entry, dict) and isinstance(entry.get("api_name"), str):
            catalogue[entry["api_name"]] = entry

    def build(n: int, item: dict[str, Any]) -> ToolExample:
        calling = item["calling"]
        if not isinstance(item["query"], str) or not isinstance(calling, list) or not calling:
            raise _Skip("malformed record")
        if _CALL_REF.search(json.dumps([c.get("parameters") for c in calling])):
            raise _Skip("argument refers to an earlier call's output")
        raw: list[dict[str, Any]] = []
        for call in calling:
            api = catalogue.get(call["api"])
            if api is None:
                raise _Skip("API not in the catalogue")
            if all(t["function"]["name"] != api["api_name"] for t in raw):
                params = _typed_parameters(api.get("parameters") or {}, api.get("required") or [])
                raw.append(openai_tool(api["api_name"], str(api.get("api_description", "")), params))
        tools, specs = _usable_tools(raw)
        gold = [_gold_call(c["api"], c.get("parameters") or {}, specs) for c in calling]
        meta = {"conversation": f"{SEALTOOLS}-{item.get('id', n)}", "kind": "call", "record": item.get("id", n)}
        return _example(SEALTOOLS, n, [{"role": "user", "content": item["query"]}], tools, gold, meta)

    return _collect(SEALTOOLS, _read_jsonl(dev), build)


# ---------------------------------------------------------------- glaive / ToolACE (ShareGPT turns)

_TOOLACE_TOOLS = "Here is a list of functions in JSON format that you can invoke:"


def _parse_calls(value: str) -> list[tuple[str, Any]]:
    """A ShareGPT ``function_call`` turn: one ``{"name", "arguments"}`` object or a list of them."""
    data = json.loads(value)
    items = data if isinstance(data, list) else [data]
    calls = []
    for item in items:
        args = item["arguments"] if "arguments" in item else {}
        if isinstance(args, str):
            args = json.loads(args) if args.strip() else {}
        calls.append((item["name"], args))
    if not calls:
        raise ValueError("empty function_call")
    return calls


def _resolve_name(name: str, args: dict[str, Any], specs: dict[str, ToolSpec]) -> str:
    """ToolACE's "fixed" file keeps only the last word of a call's name ("API" for "Market
    Trends API"); find the one offered tool it can mean, using the argument names to break ties."""
    if name in specs:
        return name
    fits = [
        s.name for s in specs.values()
        if re.split(r"[^A-Za-z0-9_]+", s.name.strip())[-1] == name and all(s.param(k) for k in args)
    ]
    if len(fits) == 1:
        return fits[0]
    raise _Skip("call name matches no offered tool" if not fits else "call name is ambiguous")


def _observation_parts(value: str, n: int) -> list[Any]:
    """Split one observation turn among ``n`` calls when it is a list of ``n`` results."""
    try:
        data = json.loads(value)
    except json.JSONDecodeError:
        return [value] * n
    wrapped = isinstance(data, list) and all(isinstance(d, dict) and "results" in d for d in data)
    if isinstance(data, list) and len(data) == n and (n > 1 or wrapped):
        # ToolACE wraps each result as {"name": ..., "results": ...}; keep the result only, so a
        # tool's real name does not survive masking inside the conversation.
        return [d["results"] if wrapped else d for d in data]
    return [data] * n


def _sharegpt(source: str, records: list[Any],
              tools_of: Callable[[dict[str, Any]], list[dict[str, Any]]]) -> LoadReport:
    """Every function_call turn is an example (gold: its calls); every assistant reply to a user
    turn (tools offered) or to a tool result is a no-call example."""
    report = LoadReport(source)
    n = 0
    for c, record in enumerate(records):
        try:
            turns = record["conversations"]
            raw_tools = tools_of(record)
        except (KeyError, TypeError, ValueError, AttributeError):
            report.skipped["malformed record"] += 1
            continue
        if not raw_tools:
            report.skipped["conversation offers no tools"] += 1
            continue
        tools, specs = _usable_tools(raw_tools)
        messages: list[dict[str, Any]] = []
        pending: list[str] = []
        prev = None
        i = 0
        while i < len(turns):
            turn = turns[i]
            role, value = turn.get("from"), turn.get("value", "")
            meta = {"conversation": f"{source}-c{c}", "turn": i}
            if role == "function_call":
                group: list[tuple[str, Any]] = []
                try:
                    while i < len(turns) and turns[i].get("from") == "function_call":
                        group += _parse_calls(turns[i]["value"])
                        i += 1
                    group = [(_resolve_name(name, args, specs), args) for name, args in group]
                    gold = [_gold_call(name, args, specs) for name, args in group]
                    report.examples.append(_example(source, n, messages, tools, gold, {**meta, "kind": "call"}))
                except _Skip as exc:
                    report.skipped[str(exc)] += 1
                except (KeyError, TypeError, ValueError, AttributeError):
                    # The rest of the conversation depends on this turn: stop here.
                    report.skipped["malformed function_call turn"] += 1
                    n += 1
                    break
                n += 1
                ids = [f"call_{len(messages)}_{k}" for k in range(len(group))]
                messages.append(_call_message([Call(name, args) for name, args in group], ids))
                pending = ids
                prev = role
                continue
            if role == "observation":
                if not pending:
                    report.skipped["observation without a call"] += 1
                    break
                # One observation turn per call (glaive), or one turn holding every result (ToolACE).
                last = i + 1 >= len(turns) or turns[i + 1].get("from") != "observation"
                share = pending if last else pending[:1]
                for call_id, part in zip(share, _observation_parts(value, len(share))):
                    messages.append(_tool_message(call_id, part))
                pending = pending[len(share):]
            elif role == "gpt":
                kind = {"human": "no_call", "observation": "reply_after_result"}.get(prev or "")
                if kind:
                    try:
                        report.examples.append(_example(source, n, messages, tools, [],
                                                        {**meta, "kind": kind, "reply": value}))
                    except _Skip as exc:
                        report.skipped[str(exc)] += 1
                    n += 1
                messages.append({"role": "assistant", "content": value})
            elif role == "human":
                messages.append({"role": "user", "content": value})
            else:
                report.skipped["unknown turn role"] += 1
                break
            prev = role
            i += 1
    return report


def _glaive_tools(record: dict[str, Any]) -> list[dict[str, Any]]:
    tools = json.loads(record.get("tools") or "[]")
    return [openai_tool(t["name"], t.get("description", ""), _clean_schema(t.get("parameters") or {}))
            for t in tools]


def _toolace_tools(record: dict[str, Any]) -> list[dict[str, Any]]:
    """ToolACE's ``tools`` field is empty: the list is embedded in the system prompt as JSON."""
    tools = json.loads(record.get("tools") or "[]")
    if not tools:
        system = record.get("system") or ""
        start = system.find(_TOOLACE_TOOLS)
        if start < 0:
            return []
        tools, _ = json.JSONDecoder().raw_decode(system[start + len(_TOOLACE_TOOLS):].lstrip())
    return [openai_tool(t["name"], t.get("description", ""), _clean_schema(t.get("parameters") or {}))
            for t in tools]


def load_glaive(root: str | Path | None = None) -> LoadReport:
    path = require_file(data_dir(root) / "train_sources" / "glaive" / "glaive_toolcall_en_demo.json",
                        "glaive function-calling conversations")
    return _sharegpt(GLAIVE, _json_list(path), _glaive_tools)


def load_toolace(root: str | Path | None = None) -> LoadReport:
    """ToolACE conversations. The system prompt is not kept: it holds the tool list and a
    call format of its own, both of which the policy's prompt supplies (and masking renames)."""
    path = require_file(data_dir(root) / "train_sources" / "toolace" / "sharegpt_func_fixed.json",
                        "ToolACE conversations")
    return _sharegpt(TOOLACE, _json_list(path), _toolace_tools)


# ---------------------------------------------------------------- API-Bank level-3

_TIME = re.compile(r"\s*TIME:\s*(.+?)\s*$")
_BARE_TYPE = re.compile(r"('type':\s*)(str|int|float|bool|list|dict)\b")
_APOSTROPHE = re.compile(r"(?<=\w)'(?=\w)")


def _split_top(text: str) -> list[str]:
    """Split at commas outside quotes and brackets."""
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote and text[i - 1] != "\\":
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _literal(text: str) -> Any:
    """A Python literal, else the text itself (API-Bank often leaves strings unquoted), without
    the quotes around it where quotes inside break the literal (``'['John', 'Jane']'``: API-Bank's
    parser drops them and reads the value by the parameter's type)."""
    text = text.strip()
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        quoted = len(text) > 1 and text[0] == text[-1] and text[0] in "'\""
        return text[1:-1] if quoted else text


def parse_api_call(text: str) -> tuple[Call, str]:
    """``[Name(k='v', k2=3)]->rest`` (brackets optional) -> the call and the text after it."""
    text = text.strip()
    m = re.match(r"\[?\s*([A-Za-z_][\w.]*)\s*\(", text)
    if not m:
        raise ValueError(f"not an API call: {text[:60]!r}")
    depth, quote, end = 1, "", -1
    for i in range(m.end(), len(text)):
        ch = text[i]
        if quote:
            if ch == quote and text[i - 1] != "\\":
                quote = ""
        elif ch in "'\"" and not (text[i - 1].isalnum() and i + 1 < len(text) and text[i + 1].isalnum()):
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                end = i
                break
    if end < 0:
        raise ValueError(f"unbalanced call: {text[:60]!r}")
    inner, rest = text[m.end():end], text[end + 1:].lstrip().removeprefix("]")
    args = _ast_args(m.group(1), inner)
    if args is None:
        args = {}
        key = None
        for piece in _split_top(inner) if inner.strip() else []:
            km = re.match(r"\s*([A-Za-z_]\w*)\s*=(.*)$", piece, re.S)
            if km:
                key = km.group(1)
                args[key] = km.group(2)
            elif key is not None:  # an unquoted value that itself holds a comma
                args[key] += "," + piece
            else:
                raise ValueError(f"positional argument in {text[:60]!r}")
        args = {k: _literal(v) for k, v in args.items()}
    return Call(m.group(1), args), rest


def _ast_args(name: str, inner: str) -> dict[str, Any] | None:
    try:
        node = ast.parse(f"f({inner})", mode="eval").body
        assert isinstance(node, ast.Call) and not node.args
        return {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords if kw.arg}
    except (ValueError, SyntaxError, AssertionError, TypeError):
        return None


def parse_api_result(text: str) -> Any:
    """An API-Bank result (a Python repr, often with bare ``str`` types or unescaped apostrophes)."""
    value = _literal(text)
    if isinstance(value, str):
        fixed = _literal(_APOSTROPHE.sub("\u2019", _BARE_TYPE.sub(r"\1'\2'", text)))
        if not isinstance(fixed, str):
            value = json.loads(json.dumps(fixed, ensure_ascii=False).replace("\u2019", "'"))
    return value


def _apibank_tool(desc: dict[str, Any]) -> dict[str, Any]:
    """A tool revealed by ToolSearcher. API-Bank marks no parameter optional, so all are required."""
    params = desc.get("input_parameters")
    params = params if isinstance(params, dict) else {}  # a few say {'none'} for "no parameters"
    return openai_tool(str(desc["name"]), str(desc.get("description", "")), _typed_parameters(params, list(params)))


def _apibank_build(n: int, item: dict[str, Any], source: str = APIBANK) -> ToolExample:
    """One level-3 item: an API request's (gold: that call) or, for ``APIBANK_REPLIES``, an AI
    reply's (gold: no call)."""
    lines = [ln for ln in item["input"].split("\n") if ln.strip()]
    searcher = json.loads(lines[0])
    raw = [openai_tool(searcher["apiCode"], searcher.get("description", ""),
                       _typed_parameters(searcher["parameters"], list(searcher["parameters"])))]
    messages: list[dict[str, Any]] = []
    user = None
    for k, line in enumerate(lines[1:]):
        if line.startswith("User:"):
            text = line[len("User:"):].strip()
            tm = _TIME.search(text)
            if tm:  # API-Bank's own prompt gives the time as "The current time is {{time}}."
                messages.append({"role": "system", "content": f"The current time is {tm.group(1)}."})
                text = text[: tm.start()].rstrip()
            user = text
            messages.append({"role": "user", "content": text})
        elif line.startswith("AI:"):
            messages.append({"role": "assistant", "content": line[len("AI:"):].strip()})
        elif line.startswith("API-Request:"):
            call, rest = parse_api_call(line[len("API-Request:"):])
            result = parse_api_result(rest.removeprefix("->")) if rest.startswith("->") else rest
            if call.name == searcher["apiCode"] and isinstance(result, dict) and "name" in result:
                raw.append(_apibank_tool(result))
                result = {"name": result["name"], "description": result.get("description", "")}
            call_id = f"call_{k}"
            messages += [_call_message([call], [call_id]), _tool_message(call_id, result)]
        elif not line.startswith(("Generate API Request", "Generate AI Response")):  # the task's prompts
            raise _Skip("unrecognised input line")
    if user is None:
        raise _Skip("no user turn")
    output = item["output"].strip()
    tools, specs = _usable_tools(raw)
    if source == APIBANK_REPLIES:
        if not output.startswith("AI:"):
            raise _Skip("output is not an AI reply")
        gold, kind = [], "reply_after_result"
    else:
        if not output.startswith("API-Request:"):
            raise _Skip("output is not an API request")
        call, _ = parse_api_call(output[len("API-Request:"):])
        gold, kind = [_gold_call(call.name, call.arguments, specs)], "call"
    conversation = f"{APIBANK}-{zlib.crc32(user.encode()):08x}"
    return _example(source, n, messages, tools, gold, {"conversation": conversation, "kind": kind})


def load_apibank_lv3(root: str | Path | None = None) -> LoadReport:
    """API-Bank level-3 API-call pairs. Items cut from one dialogue share a ``conversation``."""
    path = require_file(data_dir(root) / "apibank" / "train" / "lv3-api-train.json", "API-Bank level-3 training pairs")
    return _collect(APIBANK, _json_list(path), _apibank_build)


def load_apibank_lv3_replies(root: str | Path | None = None) -> LoadReport:
    """API-Bank level-3 reply items: the conversation up to the AI's reply after the API results,
    gold no call (whether a request is done once its calls have their results)."""
    path = require_file(data_dir(root) / "apibank" / "train" / "lv3-response-train.json",
                        "API-Bank level-3 training replies")
    return _collect(APIBANK_REPLIES, _json_list(path), functools.partial(_apibank_build, source=APIBANK_REPLIES))


# ---------------------------------------------------------------- all of them

LOADERS: dict[str, Callable[[str | Path | None], LoadReport]] = {
    SEALTOOLS: load_sealtools, GLAIVE: load_glaive, TOOLACE: load_toolace, APIBANK: load_apibank_lv3,
    APIBANK_REPLIES: load_apibank_lv3_replies,
}


def load_training_sources(data_dir: str | Path | None = None, sources: Sequence[str] = ALL_SOURCES) -> list[LoadReport]:
    """One report per source, in the order asked; an unknown source name is an error."""
    unknown = [s for s in sources if s not in LOADERS]
    if unknown:
        raise ValueError(f"unknown source(s) {', '.join(unknown)}; known: {', '.join(LOADERS)}")
    return [LOADERS[s](data_dir) for s in sources]
