"""Shared fixtures: tiny random-weight models built locally once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from langchain_toolprm import ToolPRMChatModel, TransformersPolicy
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
def tiny_policy(tiny_gemma_path: Path) -> TransformersPolicy:
    return TransformersPolicy.from_pretrained(tiny_gemma_path)


@pytest.fixture(scope="session")
def tiny_qwen_policy(tiny_qwen_path: Path) -> TransformersPolicy:
    return TransformersPolicy.from_pretrained(tiny_qwen_path)


@pytest.fixture()
def tiny_chat(tiny_policy: TransformersPolicy) -> ToolPRMChatModel:
    """A chat model over the shared tiny Gemma policy (no reload per test)."""
    return ToolPRMChatModel(policy=tiny_policy, max_tokens=16, max_value_tokens=12)
