"""Tiny random-weight policies built locally, for tests and smoke runs (nothing downloaded).

``build_tiny_model(path)`` trains a small byte-level BPE tokenizer on a built-in corpus and
saves it with a random-weight causal LM of the same architecture family as the real models:
``"gemma3"`` (sliding-window layers, no chat template: the built-in prompt path) or
``"qwen2"`` (a Qwen-style tool-aware chat template with ``<tool_call>`` blocks).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from langchain_core.tools import tool


def needs_apibank_data() -> Any:
    """A pytest mark that skips a test when API-Bank's data is not where the package looks
    (``../shared/data/apibank`` from the repository, or ``$TOOLPRM_APIBANK_DIR``)."""
    import pytest

    from .agents.apibank import APIBANK_ENV, apibank_dir

    root = apibank_dir()
    return pytest.mark.skipif(not (root / "init_database").is_dir() or not (root / "test").is_dir(),
                              reason=f"API-Bank data not found at {root} (set ${APIBANK_ENV} or $TOOLPRM_DATA)")


# A question and two tools the unit tests of the chat model and the agent share.
QUESTION = "what is the weather in paris"


@tool
def get_weather(city: Literal["paris", "tokyo", "london"],
                unit: Literal["celsius", "fahrenheit"] = "celsius") -> str:
    """Current weather in a city."""
    return f"sunny in {city}"


@tool
def set_alarm(on: bool) -> str:
    """Turn the alarm on or off."""
    return "done"


_SPECIAL = ["<pad>", "<eos>", "<bos>", "<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>"]

_QWEN_TEMPLATE = (
    "{%- if tools %}<|im_start|>system\n"
    "{%- if messages[0].role == 'system' %}{{ messages[0].content }}\n{% endif %}"
    "You may call functions. Signatures:\n<tools>\n"
    "{%- for tool in tools %}\n{{ tool | tojson }}{%- endfor %}\n</tools>\n"
    "For each call return <tool_call>\n{\"name\": <name>, \"arguments\": <args>}\n</tool_call><|im_end|>\n"
    "{%- elif messages[0].role == 'system' %}<|im_start|>system\n{{ messages[0].content }}<|im_end|>\n{%- endif %}"
    "{%- for m in messages %}"
    "{%- if m.role == 'user' or (m.role == 'system' and not loop.first) %}"
    "<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n"
    "{%- elif m.role == 'assistant' %}<|im_start|>assistant\n{{ m.content }}"
    "{%- for c in m.tool_calls | default([]) %}\n<tool_call>\n"
    "{\"name\": \"{{ c.function.name }}\", \"arguments\": {{ c.function.arguments | tojson }}}\n</tool_call>"
    "{%- endfor %}<|im_end|>\n"
    "{%- elif m.role == 'tool' %}<|im_start|>user\n<tool_response>\n{{ m.content }}\n</tool_response><|im_end|>\n"
    "{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}<|im_start|>assistant\n{%- endif %}"
)


def _corpus() -> list[str]:
    words = (
        "the weather in paris tokyo london city unit celsius fahrenheit amount currency usd eur "
        "convert get set find search book flight hotel date time name value true false null "
        "user assistant system tool calls function arguments parameters description type string "
        "integer number boolean array object enum required items properties hello please what is "
        "how much many from to of and a an for with on at by 0 1 2 3 4 5 6 7 8 9 10 42 100 3.5"
    ).split()
    lines = [" ".join(words[i:i + 9]) for i in range(0, len(words), 3)]
    lines += [
        json.dumps([{"name": w, "arguments": {"city": "Paris", "n": i, "ok": True, "xs": [1.5, None]}}])
        for i, w in enumerate(words[:40])
    ]
    lines += ['{"type": "object", "properties": {"a": {"type": "string", "enum": ["x", "y"]}}}']
    lines += ["Calls: [] User: Assistant: Tool (f): System: ### Example Task Functions:\n"]
    return lines * 3


def build_tiny_model(path: str | Path, arch: Literal["gemma3", "qwen2"] = "gemma3", *, seed: int = 0,
                     vocab_size: int = 512, max_context: int = 2048) -> Path:
    """Save a tiny random-weight causal LM and its tokenizer to ``path``; returns the path."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

    path = Path(path)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, show_progress=False, special_tokens=_SPECIAL,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(_corpus(), trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>",
                                   bos_token="<bos>", additional_special_tokens=_SPECIAL[3:])
    if arch == "qwen2":
        fast.chat_template = _QWEN_TEMPLATE
        fast.eos_token = "<|im_end|>"
    torch.manual_seed(seed)
    common = dict(vocab_size=len(fast), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                  num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=max_context,
                  pad_token_id=fast.pad_token_id, eos_token_id=fast.eos_token_id,
                  bos_token_id=fast.bos_token_id)
    if arch == "gemma3":
        from transformers import Gemma3TextConfig

        config = Gemma3TextConfig(head_dim=32, sliding_window=16, query_pre_attn_scalar=32,
                                  layer_types=["sliding_attention", "full_attention"], **common)
    else:
        from transformers import Qwen2Config

        config = Qwen2Config(tie_word_embeddings=False, **common)
    model = AutoModelForCausalLM.from_config(config)
    model.generation_config.eos_token_id = fast.eos_token_id
    model.save_pretrained(path)
    fast.save_pretrained(path)
    return path


def build_tiny_adapter(base: Path, path: Path) -> Any:
    """A LoRA adapter with random (non-zero) weights on the model at ``base``, saved at ``path``;
    returns the unmerged peft model, whose logits a loaded adapter must reproduce."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = get_peft_model(AutoModelForCausalLM.from_pretrained(str(base)),
                           LoraConfig(r=4, target_modules="all-linear", init_lora_weights=False))
    model.save_pretrained(path)
    return model.eval()


def adapter_logits(peft_model: Any, ids: list[int]) -> tuple[Any, Any]:
    """Logits of ``ids`` with the adapter and without it: what a merged load must give, and what
    it must not."""
    import torch

    batch = torch.tensor([ids])
    with torch.no_grad():
        tuned = peft_model(input_ids=batch).logits
        with peft_model.disable_adapter():
            return tuned, peft_model(input_ids=batch).logits


def full_hidden(backend: Any, ids: list[int]) -> Any:
    """Final hidden states at every position of ``ids`` from one uncached forward pass of a
    transformers backend's model: the reference its cached states are checked against."""
    import torch

    with torch.no_grad():
        return backend.model.get_decoder()(input_ids=torch.tensor([ids])).last_hidden_state[0]
