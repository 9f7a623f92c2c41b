"""One API-Bank episode: fresh copies of the mock databases and LangChain tools bound to them.

An agent run (or one replayed dialogue) must see the databases as shipped and must not leak its
writes into the next run, so every :class:`ApiBankEnv` deep-copies the databases the APIs write;
the large read-only ones (image captions, wiki pages, search documents, ...) are shared, and
results are copied out so no caller can write through them. Nothing under the data folder is
ever written.

A call never raises: an unknown API, a bad argument or an API failure comes back as an
:class:`ApiResult` whose ``exception`` holds API-Bank's error text (the text the model sees), so
a LangGraph tool node keeps running. API-Bank judges a call by comparing this result (``input``,
``output``, ``exception``) with the recorded one, which :meth:`ApiResult.to_dict` spells alike.
"""

from __future__ import annotations

import ast
import copy
import json
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from langchain_core.tools import BaseTool, StructuredTool

from ...data.sources import coerce_value
from .apis import (
    APIS,
    TODAY,
    TOOL_SEARCHER,
    ApiError,
    Episode,
    Offline,
    dictionary_key,
    split_name,
    translation_key,
)
from .bm25 import BM25, tokenize
from .data import ApiSpec, apibank_dir, catalogue, level1_specs, read_json, recorded_dialogues

WRITABLE = ("Account", "Agenda", "Alarm", "Appointments", "Bank", "HealthData", "Hotel", "Meeting",
            "Reminder", "Scenes", "TimeSwitch")
"""The databases an API writes: copied for every episode."""
READ_ONLY = ("History", "ImageCaptioning", "QuestionAnswering", "SearchEngine", "SpeechRecognition",
             "Stock", "Symptom", "Wiki")
"""The databases only read: loaded once per data folder and shared."""

ALIASES: dict[str, dict[str, str]] = {"TimedSwitch": {"device_id": "name"}, "CancelTimedSwitch": {"device_id": "name"}}
"""Argument names the recorded dialogues and gold calls use where the level-1 descriptions say ``name``."""


@dataclass(frozen=True)
class ApiResult:
    """A call's result as API-Bank records it: the (normalised) input, the output, the error text."""

    api_name: str
    input: dict[str, Any]
    output: Any = None
    exception: str | None = None

    @property
    def ok(self) -> bool:
        return self.exception is None

    @property
    def text(self) -> str:
        """What the model reads: the error text, else the output (JSON unless it is a string)."""
        if self.exception is not None:
            return self.exception
        return self.output if isinstance(self.output, str) else json.dumps(self.output, ensure_ascii=False)

    def to_dict(self) -> dict[str, Any]:
        return {"api_name": self.api_name, "input": self.input, "output": self.output, "exception": self.exception}


@dataclass(frozen=True)
class _Bank:
    """Everything read from one data folder (read-only, shared by its episodes)."""

    specs: dict[str, ApiSpec]
    databases: dict[str, Any]
    offline: Offline


@lru_cache(maxsize=2)
def _databases(root: Path) -> dict[str, Any]:
    return {name: read_json(root, f"init_database/{name}.json", f"{name} database") for name in WRITABLE + READ_ONLY}


@lru_cache(maxsize=4)
def _bank(root: Path, search_catalogue: bool) -> _Bank:
    databases = _databases(root)
    specs = {**level1_specs(root), TOOL_SEARCHER.name: TOOL_SEARCHER}
    searchable = catalogue(root) if search_catalogue else specs
    tools = [s for n, s in sorted(searchable.items()) if n != TOOL_SEARCHER.name]
    dictionary: dict[str, Any] = {}
    translations: dict[tuple[str, str], str] = {}
    for calls in recorded_dialogues(root).values():
        for call in calls:
            if call.exception is None and call.api_name == "Dictionary":
                dictionary.setdefault(dictionary_key(call.arguments["keyword"]), call.output)
            elif call.exception is None and call.api_name == "Translate":
                key = translation_key(call.arguments["src"], call.arguments.get("tgt_lang"))
                translations.setdefault(key, call.output)
    offline = Offline(
        search_engine=BM25(databases["SearchEngine"]["tokenized_documents"]),
        documents=databases["SearchEngine"]["raw_documents"],
        tool_index=BM25([tokenize(f"{split_name(s.name)} {s.description}") for s in tools]), tools=tools,
        dictionary=dictionary, translations=translations,
    )
    return _Bank(specs, databases, offline)


def _coerce(value: Any, schema: dict[str, Any]) -> Any:
    """A model's loosely typed value as the parameter's type (``"3"`` -> 3, ``"['a']"`` -> ['a'])."""
    if schema.get("type") in ("array", "object") and isinstance(value, str):
        try:
            value = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return value
    return coerce_value(value, schema)


class ApiBankEnv:
    """One episode of API-Bank: ``tools`` for an agent, ``execute`` for a harness.

    ``data_dir``: API-Bank's data folder (default :func:`~.data.apibank_dir`); ``seed`` fixes the
    identifiers the episode issues (new user tokens, appointment IDs); ``today``: GetToday's date.
    ToolSearcher ranks the APIs the episode can run, as API-Bank's does; ``search_catalogue``
    makes it rank all of ``all_apis.csv`` instead (distractors included: an API without an
    implementation here answers "invalid tool name.").
    """

    def __init__(self, data_dir: str | Path | None = None, seed: int = 0, today: str = TODAY,
                 search_catalogue: bool = False) -> None:
        self._bank = _bank(apibank_dir(data_dir).resolve(), search_catalogue)
        databases = self._bank.databases
        self.episode = Episode(
            db={name: copy.deepcopy(databases[name]) if name in WRITABLE else databases[name] for name in databases},
            offline=self._bank.offline, rng=random.Random(seed), today=today,
        )

    @property
    def specs(self) -> dict[str, ApiSpec]:
        """Every API of the episode by name: the level-1 APIs and ToolSearcher."""
        return self._bank.specs

    @property
    def databases(self) -> dict[str, Any]:
        """The episode's databases (its own copies of the writable ones), for inspecting state."""
        return self.episode.db

    @property
    def state(self) -> dict[str, Any]:
        """Everything a call can change: the writable databases, the bank accounts opened, the mails
        sent and a pending password reset. Two episodes whose states are equal answer alike."""
        episode = self.episode
        return {**{name: episode.db[name] for name in WRITABLE}, "bank_accounts": episode.bank_accounts,
                "outbox": episode.outbox, "password_reset": episode.password_reset}

    def execute(self, name: str, arguments: Mapping[str, Any] | None = None) -> ApiResult:
        """Run one API call; never raises (failures are the result's ``exception``)."""
        arguments = dict(arguments or {})
        spec = self.specs.get(name)
        if spec is None:
            return ApiResult(name, arguments, exception="invalid tool name.")
        aliases = ALIASES.get(name, {})
        given = {aliases.get(k, k): v for k, v in arguments.items()}
        args: dict[str, Any] = {}
        for key, value in given.items():
            if key not in spec.input_parameters:
                return ApiResult(name, given, exception=f"invalid parameter name. parameter: {key}")
            schema = spec.schema(key)
            args[key] = _coerce(value, schema)
            if not Draft202012Validator(schema).is_valid(args[key]):
                return ApiResult(name, given, exception=f"invalid parameter type. parameter: {value}")
        missing = [p for p in spec.required if p not in args]
        if missing:
            return ApiResult(name, args, exception=f"missing required parameter(s): {', '.join(missing)}")
        try:
            output = APIS[name](self.episode, **args)
        except ApiError as exc:
            return ApiResult(name, args, exception=str(exc))
        return ApiResult(name, args, output=copy.deepcopy(output))

    def get_tools(self, names: Iterable[str] | None = None) -> list[BaseTool]:
        """LangChain tools for ``names`` (default: every API), bound to this episode.

        Each returns ``(text, ApiResult)`` as content and artifact, so a ``ToolMessage`` carries
        the text the model reads and the result a judge compares.
        """
        return [self._tool(self.specs[n]) for n in (self.specs if names is None else names)]

    @property
    def tools(self) -> list[BaseTool]:
        return self.get_tools()

    def _tool(self, spec: ApiSpec) -> BaseTool:
        def run(**kwargs: Any) -> tuple[str, ApiResult]:
            result = self.execute(spec.name, kwargs)
            return result.text, result

        # a JSON-schema dict is not validated by LangChain, so every argument reaches ``execute``
        return StructuredTool(name=spec.name, description=spec.description, args_schema=spec.parameters,
                              func=run, response_format="content_and_artifact")
