"""Shared fixtures: tiny random-weight models built locally once per test session, and a tiny
BFCL category for the evaluation harness."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from langchain_toolprm import ToolPRMChatModel, TransformersBackend
from langchain_toolprm.data.records import ToolExample
from langchain_toolprm.evaluation.benchmarks import load_benchmark
from langchain_toolprm.testing import build_tiny_model


@pytest.fixture(scope="session")
def tiny_gemma_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Gemma 3 architecture (sliding-window layers), no chat template: the built-in prompt."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-gemma3"), "gemma3")


@pytest.fixture(scope="session")
def tiny_qwen_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Qwen2 architecture with a tool-aware chat template (<tool_call> format)."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-qwen2"), "qwen2")


@pytest.fixture(scope="session")
def tiny_policy(tiny_gemma_path: Path) -> TransformersBackend:
    return TransformersBackend.from_pretrained(tiny_gemma_path)


@pytest.fixture(scope="session")
def tiny_qwen_policy(tiny_qwen_path: Path) -> TransformersBackend:
    return TransformersBackend.from_pretrained(tiny_qwen_path)


@pytest.fixture()
def tiny_chat(tiny_policy: TransformersBackend) -> ToolPRMChatModel:
    """A chat model over the shared tiny Gemma policy (no reload per test)."""
    return ToolPRMChatModel(backend=tiny_policy, max_tokens=16, max_value_tokens=12)


WEATHER = {"name": "get_weather", "description": "Weather in a city", "parameters": {
    "type": "dict", "properties": {
        "city": {"type": "string", "description": "a city"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "unit"}},
    "required": ["city"]}}
ALARM = {"name": "set_alarm", "description": "Set an alarm", "parameters": {
    "type": "dict", "properties": {"hour": {"type": "integer", "description": "hour"}}, "required": ["hour"]}}
QUESTIONS = [
    {"id": "simple_python_0", "question": [[{"role": "user", "content": "What is the weather in paris in celsius?"}]],
     "function": [WEATHER]},
    {"id": "simple_python_1", "question": [[{"role": "user", "content": "Set an alarm at 7."}]], "function": [ALARM]},
]
ANSWERS = [
    {"id": "simple_python_0", "ground_truth": [{"get_weather": {"city": ["paris"], "unit": ["celsius", ""]}}]},
    {"id": "simple_python_1", "ground_truth": [{"set_alarm": {"hour": [7]}}]},
]


@pytest.fixture(scope="session")
def tiny_bfcl_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-question BFCL ``simple_python`` category in BFCL's own file layout."""
    root = tmp_path_factory.mktemp("bfcl")
    (root / "possible_answer").mkdir()
    (root / "BFCL_v4_simple_python.json").write_text("\n".join(json.dumps(q) for q in QUESTIONS) + "\n")
    (root / "possible_answer" / "BFCL_v4_simple_python.json").write_text("\n".join(json.dumps(a) for a in ANSWERS))
    return root


@pytest.fixture(scope="session")
def tiny_bfcl(tiny_bfcl_dir: Path) -> list[ToolExample]:
    """The two items of :func:`tiny_bfcl_dir`, loaded."""
    return load_benchmark("bfcl", "simple_python", tiny_bfcl_dir)


@pytest.fixture(scope="session")
def fast() -> dict[str, int]:
    """EvalSpec settings that keep the tiny model's rambling short."""
    return {"max_value_tokens": 6, "max_new_tokens": 12}
