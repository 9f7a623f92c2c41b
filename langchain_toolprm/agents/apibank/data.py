"""API-Bank's files, read where they lie (never copied into the repo): the level-1 API specs, the
wider API catalogue ToolSearcher retrieves from, the mock databases and the recorded dialogues.

The level-1 test items carry the API descriptions a model is shown, so they define each tool's
name, parameters and description; ``all_apis.csv`` adds the APIs only level 2 can retrieve.
Everything parsed here is cached per data folder and treated as read-only: an episode copies the
databases it may write (:mod:`.env`).
"""

from __future__ import annotations

import ast
import csv
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ...data.records import DataFileError, require_file
from ...data.records import data_dir as shared_data_dir
from ...data.sources import type_schema

APIBANK_ENV = "TOOLPRM_APIBANK_DIR"

_OPTIONAL = re.compile(r"^\[Optional\]|Only needed for", re.I)


def apibank_dir(path: str | Path | None = None) -> Path:
    """API-Bank's data folder: ``path``, else ``$TOOLPRM_APIBANK_DIR``, else ``apibank`` in the
    shared data (``$TOOLPRM_DATA`` or the nearest ``shared/data``, i.e. ``../shared/data`` from the repo)."""
    if path is not None:
        return Path(path)
    if os.environ.get(APIBANK_ENV):
        return Path(os.environ[APIBANK_ENV])
    return shared_data_dir() / "apibank"


def read_json(root: Path, relative: str, what: str) -> Any:
    """The JSON file ``root/relative``; a :class:`DataFileError` naming it when missing or unreadable."""
    path = require_file(root / relative, f"API-Bank {what} (or set ${APIBANK_ENV})")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataFileError(f"{path}: not valid JSON ({exc.msg})") from exc


@dataclass(frozen=True)
class ApiSpec:
    """One API as API-Bank describes it: parameters as ``{name: {type, description}}``."""

    name: str
    description: str
    input_parameters: Mapping[str, Mapping[str, str]]
    output_parameters: Mapping[str, Mapping[str, str]]

    @property
    def required(self) -> list[str]:
        """API-Bank marks nothing optional in its schema; its descriptions say so in words."""
        return [p for p, d in self.input_parameters.items() if not _OPTIONAL.search(d.get("description", ""))]

    def schema(self, parameter: str) -> dict[str, Any]:
        """A parameter's JSON schema (``list(str)`` is read as ``list[str]``)."""
        spec = self.input_parameters[parameter]
        kind = str(spec.get("type", "str")).replace("(", "[").replace(")", "]")
        found = type_schema(kind)
        if found is None:
            raise DataFileError(f"API {self.name}, parameter {parameter!r}: unknown type {kind!r}")
        return {**found, "description": spec.get("description", "")}

    @property
    def parameters(self) -> dict[str, Any]:
        """The input parameters as a JSON object schema (what a chat model is bound with)."""
        return {"type": "object", "properties": {p: self.schema(p) for p in self.input_parameters},
                "required": self.required}

    def to_dict(self) -> dict[str, Any]:
        """API-Bank's own description object (what ToolSearcher answers with)."""
        return {"name": self.name, "description": self.description,
                "input_parameters": {k: dict(v) for k, v in self.input_parameters.items()},
                "output_parameters": {k: dict(v) for k, v in self.output_parameters.items()}}


def _spec(data: Mapping[str, Any], name: str) -> ApiSpec:
    """A few catalogue rows write ``{'none'}`` (a set) for "no parameters"."""
    inputs, outputs = (data.get(k) for k in ("input_parameters", "output_parameters"))
    return ApiSpec(name, str(data.get("description", "")), dict(inputs) if isinstance(inputs, dict) else {},
                   dict(outputs) if isinstance(outputs, dict) else {})


@lru_cache(maxsize=4)
def level1_specs(data_dir: str | Path | None = None) -> dict[str, ApiSpec]:
    """Every API the level-1 test items describe, by name (the descriptions follow ``API descriptions:``)."""
    specs: dict[str, ApiSpec] = {}
    for item in read_json(apibank_dir(data_dir), "test/level-1-api.json", "level-1 test items"):
        for data in described_apis(item):
            specs.setdefault(data["name"], _spec(data, data["name"]))
    return specs


def described_apis(item: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The API descriptions a level-1 test item shows its model (the JSON lines after ``API descriptions:``)."""
    _, _, listing = item["instruction"].partition("API descriptions:")
    return [json.loads(line) for line in listing.splitlines() if line.strip().startswith("{")]


def _catalogue_row(info: str) -> dict[str, Any]:
    """The ``description = ...`` / ``input_parameters = {...}`` assignments of an ``api_info`` cell."""
    out: dict[str, Any] = {}
    for node in ast.parse(info).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            out[node.targets[0].id] = ast.literal_eval(node.value)
    return out


@lru_cache(maxsize=4)
def catalogue(data_dir: str | Path | None = None) -> dict[str, ApiSpec]:
    """API-Bank's catalogue (``all_apis.csv``), with the level-1 specs for the APIs level 1 uses.

    A row whose ``api_info`` is not readable Python literals is left out (one, ImageCaption,
    holds only ``.``; level 1 describes it anyway).
    """
    path = require_file(apibank_dir(data_dir) / "all_apis.csv", f"API-Bank API catalogue (or set ${APIBANK_ENV})")
    found: dict[str, ApiSpec] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            try:
                data = _catalogue_row(row["api_info"])
            except (SyntaxError, ValueError):
                continue
            found[row["类名"]] = _spec(data, row["类名"])
    return {**found, **level1_specs(data_dir)}


@dataclass(frozen=True)
class RecordedCall:
    """One API turn of a recorded dialogue: the arguments as written and the result API-Bank recorded."""

    dialogue: str
    turn: int
    api_name: str
    arguments: dict[str, Any]
    output: Any
    exception: str | None


@lru_cache(maxsize=4)
def recorded_dialogues(data_dir: str | Path | None = None) -> dict[str, tuple[RecordedCall, ...]]:
    """The API calls of every level-1 dialogue (``dialogues/*.jsonl``), in order, by file name."""
    folder = apibank_dir(data_dir) / "dialogues"
    files = sorted(folder.glob("*.jsonl"))
    if not files:
        raise DataFileError(f"missing data files for API-Bank level-1 dialogues: {folder}/*.jsonl "
                            f"(set ${APIBANK_ENV} or pass the data directory)")
    out: dict[str, tuple[RecordedCall, ...]] = {}
    for path in files:
        calls = []
        for turn, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
            row = json.loads(line) if line.strip() else {}
            if row.get("role") == "API":
                result = row["result"]
                calls.append(RecordedCall(path.name, turn, row["api_name"], dict(row["param_dict"]),
                                          result["output"], result["exception"]))
        out[path.name] = tuple(calls)
    return out
