"""Supervised fine-tuning of a policy on tool calling: teach a base model the answer the search asks of it.

An example is posed exactly as the chat model poses it (:func:`prompts.build_prompt`: the
built-in prompt for a base model, the model's own chat template otherwise) and the target is
the call list spelled in that prompt's call format, as the step grammar writes it, ``[]``
included, and after "no call" the source's reply when it has a short one (a reply to a tool
result, or to a question no tool serves). Only the answer's tokens carry loss. The data are
``examples_<split>.jsonl`` files of ``toolprm build-dataset`` (training sources only, with
Hammer-style function masking, shuffled and padded tool lists and removed-tool irrelevance
examples); optimisation, checkpoints and resume are the PRM trainer's (:func:`training.fit`).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..core.prompts import CallFormat, build_prompt
from ..core.steps import Call, Step, StepTag, step_fragment
from ..data.records import DataFileError, ToolExample, load_examples
from .prm import (
    TrainConfig,
    TrainResult,
    add_config_flags,
    fit,
    run_training_command,
    scored,
    start_checkpoint,
    token_nll,
)

MAX_REPLY_CHARS = 400
"""Longer replies are not learnt (the example keeps its call list alone): a few long prose
replies would otherwise outweigh the call tokens the search depends on."""


def answer_text(calls: Sequence[Call], fmt: CallFormat, reply_prefix: str = "", reply: str | None = None) -> str | None:
    """The answer as the chat model writes it in ``fmt``: the call list as the grammar spells it,
    then, after no call, the reply (``reply_prefix`` and the text, as the built-in prompt's
    example writes it). None when nothing is learnable: "no call" in a format that writes it as
    prose, with no reply to learn."""
    if not calls:
        if reply is not None and len(reply) <= MAX_REPLY_CHARS and reply.strip():
            if fmt.empty is None:
                return reply.strip() + fmt.list_close
            return f"{fmt.empty}{reply_prefix} {reply.strip()}\n"
        return fmt.empty
    parts = []
    for i, call in enumerate(calls):
        args = "".join(step_fragment(Step(StepTag.ARG_VALUE, k, v), j == 0)
                       for j, (k, v) in enumerate(call.arguments.items()))
        parts.append(fmt.open_call(call.name, i == 0) + args + "}" + fmt.call_close)
    return "".join(parts) + fmt.list_close


@dataclass(frozen=True)
class EncodedAnswer:
    """Prompt and answer tokens; ``positions`` predict ``targets``, the answer's tokens."""

    ids: torch.Tensor
    positions: tuple[int, ...]
    targets: tuple[int, ...]


def encode_example(tokenizer: Any, example: ToolExample, max_length: int | None = None) -> EncodedAnswer | None:
    """``example`` as a training input; None when it cannot be learnt whole (longer than
    ``max_length``, or "no call" in a prose format). The answer keeps the tokens the model
    would write after the prompt: the whole text is tokenized at once unless the prompt's last
    token would merge with the answer's first."""
    prompt = build_prompt(tokenizer, example.lc_messages(), example.specs())
    answer = answer_text(example.gold, prompt.call_format, prompt.reply_prefix, example.meta.get("reply"))
    if answer is None:
        return None
    special = not prompt.chat_template
    head = tokenizer(prompt.text, add_special_tokens=special)["input_ids"]
    ids = tokenizer(prompt.text + answer, add_special_tokens=special)["input_ids"]
    if ids[:len(head)] != head:
        ids = head + tokenizer(answer, add_special_tokens=False)["input_ids"]
    if max_length is not None and len(ids) > max_length:
        return None
    n = len(head)
    return EncodedAnswer(torch.tensor(ids, dtype=torch.int32), tuple(range(n - 1, len(ids) - 1)), tuple(ids[n:]))


def encode_examples(tokenizer: Any, examples: Sequence[ToolExample], max_length: int | None = None,
                    progress: bool = False) -> tuple[list[EncodedAnswer], int]:
    """Encoded examples, and how many were skipped (too long, or no learnable answer)."""
    from tqdm import tqdm

    out = [encode_example(tokenizer, ex, max_length) for ex in tqdm(examples, desc="encoding", disable=not progress,
                                                                    leave=False)]
    kept = [e for e in out if e is not None]
    return kept, len(out) - len(kept)


@torch.no_grad()
def evaluate_policy(model: Any, tokenizer: Any, examples: Sequence[ToolExample], *, batch_size: int = 8,
                    max_length: int | None = None) -> dict[str, Any]:
    """Answer-token loss and accuracy (the target token ranked first), and the share of examples
    whose every answer token ranks first (greedy would write the answer whole)."""
    data, skipped = encode_examples(tokenizer, examples, max_length)
    if not data:
        raise ValueError(f"evaluation data: none of {len(examples)} examples has a learnable answer within "
                         f"{max_length} tokens")
    nll_sum, right, whole = 0.0, 0, 0
    for _, nll, mine in scored(model, tokenizer, data, token_nll, batch_size):
        nll_sum += nll
        right += sum(mine)
        whole += all(mine)
    n = sum(len(e.positions) for e in data)
    return {"loss": nll_sum / n, "token_acc": right / n, "answer_acc": whole / len(data), "n_tokens": n,
            "n_examples": len(data), "skipped": skipped}


def train_policy(config: TrainConfig, progress: bool = True, *, resume: bool = False) -> TrainResult:
    """Fine-tune ``config.base_model`` on the examples of ``config.train_file`` (LoRA or full);
    the output directory loads with ``TransformersBackend.from_pretrained`` and as
    ``ToolPRMChatModel(model=...)``. ``resume=True`` continues from the latest checkpoint."""
    from transformers import AutoTokenizer

    checkpoint = start_checkpoint(config, resume)
    examples = load_examples(config.train_file)
    held_out = load_examples(config.eval_file) if config.eval_file else None
    if not examples:
        raise DataFileError(f"{config.train_file}: no examples")
    tokenizer = AutoTokenizer.from_pretrained(config.base_model)
    data, skipped = encode_examples(tokenizer, examples, config.max_length, progress)
    if not data:
        raise ValueError(f"{config.train_file}: none of {len(examples)} examples has a learnable answer within "
                         f"{config.max_length} tokens")
    trained, state, losses, accs, start_step = fit(config, data, tokenizer.pad_token_id or 0, token_nll, checkpoint,
                                                   "train-policy", progress)
    out = Path(config.output_dir)
    tokenizer.save_pretrained(out)
    metrics = None
    if held_out is not None:
        metrics = evaluate_policy(trained, tokenizer, held_out, max_length=config.max_length)
        (out / "eval.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return TrainResult(out, losses, accs, state["step"], start_step, skipped, metrics)


# ---- command line ---------------------------------------------------------------------------------
def add_train_policy_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``train-policy``: every :class:`training.TrainConfig` field as a flag."""
    p = subparsers.add_parser("train-policy", help="fine-tune a policy on tool calling (LoRA or full)")
    add_config_flags(p, "examples (examples_<split>.jsonl of build-dataset)", "the tuned policy")
    p.set_defaults(func=_train_policy_command)
    return p


def _train_policy_command(args: argparse.Namespace) -> int:
    return run_training_command(args, TrainConfig, train_policy, "train-policy", "examples")
