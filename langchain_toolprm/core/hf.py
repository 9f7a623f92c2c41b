"""Hugging Face models on torch, shared by the transformers backend and the generative PRM:
loading (a model directory, a cached hub id or a LoRA adapter, offline) and KV-cache copies."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch


def clone_cache(cache: Any) -> Any:
    """A copy of a transformers KV cache that shares its tensors: every update of a dynamic
    cache concatenates into new tensors (never writes in place), so the original stays intact
    and no key or value is copied until a forward pass extends the clone."""
    clone = copy.copy(cache)
    clone.layers = [copy.copy(layer) for layer in cache.layers]
    return clone


def load_causal_lm(path: str | Path, *, base_model: str | Path | None = None, dtype: str | torch.dtype = "float32",
                   device_map: str | dict | None = None) -> tuple[Any, Any]:
    """(model, tokenizer) from a model directory, a hub id already in the local Hugging Face
    cache, or a peft adapter directory (``adapter_config.json``).

    An adapter is merged into its base, so a tuned model costs no time per call; ``base_model``
    replaces the base its config records (an adapter trained on another machine's path). The
    tokenizer is the adapter's if it saved one, else the base's. Nothing is downloaded: a hub id
    not cached locally is an error naming it.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dtype = torch_dtype(dtype)
    path = Path(path)
    if path.is_absolute() and not path.exists():
        raise FileNotFoundError(f"no model directory at {path}")
    adapter = (path / "adapter_config.json").exists()
    if adapter:
        from peft import PeftConfig

        base = base_model or PeftConfig.from_pretrained(str(path)).base_model_name_or_path
        if Path(base).is_absolute() and not Path(base).exists():
            raise FileNotFoundError(f"the adapter at {path} names its base model {base}, which is not here: "
                                    f"pass its directory as base_model")
        tok_src = path if (path / "tokenizer_config.json").exists() else base
    else:
        base = base_model or path
        tok_src = path
    local = Path(base).exists()
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(tok_src), local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(str(base), dtype=dtype, device_map=device_map,
                                                     local_files_only=True)
    except OSError as e:
        if local:
            raise
        raise FileNotFoundError(
            f"model {str(base)!r} is neither a local directory nor in the local Hugging Face cache; nothing "
            f"is downloaded at run time: fetch it elsewhere and pass its directory") from e
    if adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(path)).merge_and_unload()
    return model, tokenizer


def torch_dtype(dtype: str | torch.dtype) -> torch.dtype:
    """``"bfloat16"`` -> ``torch.bfloat16``; a name torch lacks is an error naming it."""
    found = getattr(torch, dtype, None) if isinstance(dtype, str) else dtype
    if not isinstance(found, torch.dtype):
        raise ValueError(f"unknown dtype {dtype!r}: use a torch dtype name such as 'float32' or 'bfloat16'")
    return found
