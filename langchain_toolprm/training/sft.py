"""Supervised fine-tuning of a policy on tool calling: teach a base model the answer the search asks of it.

An example is posed exactly as the chat model poses it (:func:`prompts.build_prompt`: the
built-in prompt for a base model, the model's own chat template otherwise) and the target is
the call list spelled in that prompt's call format, as the step grammar writes it, ``[]``
included, and after "no call" the source's reply when it has a short one (a reply to a tool
result, or to a question no tool serves). Only the answer's tokens carry loss. The data are
``examples_<split>.jsonl`` files of ``toolprm build-dataset`` (training sources only, with
Hammer-style function masking, shuffled and padded tool lists and removed-tool irrelevance
examples); optimisation, checkpoints and resume are the PRM trainer's (:func:`training.fit`).

The loss is a mean over answer tokens, so the one token where an answer commits to calling or
not (`` []`` against `` [{"name"...``) weighs as little as any other of a call's answer tokens
(a median of 32 on the v4 data of docs/policy.md), and a bare ``[]`` example is one token among
the ~280 of a batch of 8. ``decision_weight`` counts that token several times: the call
decision is what constrained greedy gets wrong on questions that need no call.
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


def _answer_ids(tokenizer: Any, prompt_text: str, head: list[int], answer: str, special: bool) -> list[int]:
    """Prompt and answer tokens: the whole text is tokenized at once unless the prompt's last
    token would merge with the answer's first."""
    ids = tokenizer(prompt_text + answer, add_special_tokens=special)["input_ids"]
    return ids if ids[:len(head)] == head else head + tokenizer(answer, add_special_tokens=False)["input_ids"]


def check_decision_weight(k: int) -> None:
    """The one check of a decision weight, shared by the config (before any loading) and the encoder."""
    if k < 1:
        raise ValueError(f"decision_weight must be at least 1, got {k}")


def decision_index(answer: Sequence[int], other: Sequence[int] | None) -> int:
    """The answer token that commits to calling or not: the first where ``answer`` and the
    ``other`` kind of answer part (0 when the other kind is not written, or one extends the other)."""
    if other is None:
        return 0
    return next((i for i, (a, b) in enumerate(zip(answer, other)) if a != b), 0)


def encode_example(tokenizer: Any, example: ToolExample, max_length: int | None = None,
                   decision_weight: int = 1) -> EncodedAnswer | None:
    """``example`` as a training input; None when it cannot be learnt whole (longer than
    ``max_length``, or "no call" in a prose format). The answer keeps the tokens the model
    would write after the prompt. With ``decision_weight`` k > 1 the call decision's target
    (:func:`decision_index`) is repeated k - 1 more times, so the mean loss counts it k times."""
    check_decision_weight(decision_weight)
    prompt = build_prompt(tokenizer, example.lc_messages(), example.specs())
    fmt = prompt.call_format
    answer = answer_text(example.gold, fmt, prompt.reply_prefix, example.meta.get("reply"))
    if answer is None:
        return None
    special = not prompt.chat_template
    head = tokenizer(prompt.text, add_special_tokens=special)["input_ids"]
    ids = _answer_ids(tokenizer, prompt.text, head, answer, special)
    if max_length is not None and len(ids) > max_length:
        return None
    n = len(head)
    positions, targets = list(range(n - 1, len(ids) - 1)), ids[n:]
    if decision_weight > 1:
        other = fmt.empty if example.gold else fmt.open_call("f", True)
        other_ids = None if other is None else _answer_ids(tokenizer, prompt.text, head, other, special)[n:]
        i = decision_index(targets, other_ids)
        positions += [positions[i]] * (decision_weight - 1)
        targets = targets + [targets[i]] * (decision_weight - 1)
    return EncodedAnswer(torch.tensor(ids, dtype=torch.int32), tuple(positions), tuple(targets))


def encode_examples(tokenizer: Any, examples: Sequence[ToolExample], max_length: int | None = None,
                    progress: bool = False, decision_weight: int = 1) -> tuple[list[EncodedAnswer], int]:
    """Encoded examples, and how many were skipped (too long, or no learnable answer)."""
    from tqdm import tqdm

    bar = tqdm(examples, desc="encoding", disable=not progress, leave=False)
    out = [encode_example(tokenizer, ex, max_length, decision_weight) for ex in bar]
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
        nll_sum += sum(nll)
        right += sum(mine)
        whole += all(mine)
    n = sum(len(e.positions) for e in data)
    return {"loss": nll_sum / n, "token_acc": right / n, "answer_acc": whole / len(data), "n_tokens": n,
            "n_examples": len(data), "skipped": skipped}


@dataclass
class PolicyTrainConfig(TrainConfig):
    """A policy run: ``decision_weight`` is how many times the call decision's token counts in
    the loss (1: a token like any other; see the module docstring). The logged training loss and
    accuracy count it as often; held-out evaluation counts every token once."""

    decision_weight: int = 1

    def __post_init__(self) -> None:
        check_decision_weight(self.decision_weight)
        super().__post_init__()


def train_policy(config: PolicyTrainConfig, progress: bool = True, *, resume: bool = False) -> TrainResult:
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
    data, skipped = encode_examples(tokenizer, examples, config.max_length, progress, config.decision_weight)
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
    """Register ``train-policy``: every :class:`PolicyTrainConfig` field as a flag."""
    p = subparsers.add_parser("train-policy", help="fine-tune a policy on tool calling (LoRA or full)")
    p.add_argument("--decision-weight", type=int, default=PolicyTrainConfig.decision_weight,
                   help="how many times the token deciding between a call and [] counts in the loss")
    add_config_flags(p, "examples (examples_<split>.jsonl of build-dataset)", "the tuned policy")
    p.set_defaults(func=_train_policy_command)
    return p


def _train_policy_command(args: argparse.Namespace) -> int:
    return run_training_command(args, PolicyTrainConfig, train_policy, "train-policy", "examples")
