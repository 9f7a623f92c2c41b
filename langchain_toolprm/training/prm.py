"""Training and evaluating a generative PRM (ToolPRM section 4).

The model reads a trajectory exactly as :class:`scorers.GenerativePRM` does at inference
(context text, then each step's fragment and tag, see :func:`scorers.encode_trajectory`) and
learns to predict "+" or "-" as the token after each selected step tag. The loss is
-log p(label | prefix) over the full vocabulary, as in the paper; only the label positions go
through the LM head, because Gemma 3's 262k-token vocabulary would otherwise cost more than
the rest of the model. ``mode`` picks the labels: every step (ToolPRM), no per-argument labels
(C-PRM) or the outcome only (ORM).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import shutil
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal, Protocol, get_args

import torch

from ..core.embedded import EMBEDDED_TUNED, ensure_embedded_model, shipped_policy_dir
from ..core.hf import clone_cache, torch_dtype
from ..core.scorers import GenerativePRM, ScoringContext, encode_trajectory, label_token_ids
from ..core.steps import StepTag
from ..data.records import LabelledTrajectory, load_trajectories

LabelMode = Literal["prm", "cprm", "orm"]
LABEL_MODES: tuple[str, ...] = get_args(LabelMode)
_CHECKPOINT = re.compile(r"checkpoint-(\d+)")


def select_labels(traj: LabelledTrajectory, mode: LabelMode) -> list[tuple[int, bool]]:
    """The (step index, label) pairs a reward model of kind ``mode`` is trained on.

    ORM labels the last step with the outcome (the TOTAL_FINISH label); an unfinished
    trajectory has no correct outcome, so its last step is "-".
    """
    if mode not in LABEL_MODES:
        raise ValueError(f"unknown label mode {mode!r}; expected one of {', '.join(LABEL_MODES)}")
    if not traj.steps:
        return []
    if mode == "prm":
        return list(enumerate(traj.labels))
    if mode == "cprm":
        return [(i, y) for i, (s, y) in enumerate(zip(traj.steps, traj.labels)) if s.tag is not StepTag.ARG_VALUE]
    finished = traj.steps[-1].tag is StepTag.TOTAL_FINISH
    return [(len(traj.steps) - 1, finished and traj.labels[-1])]


@dataclass(frozen=True)
class EncodedTrajectory:
    """Token ids of one trajectory and, per selected label, its position, label and step tag."""

    ids: torch.Tensor
    positions: tuple[int, ...]
    labels: tuple[bool, ...]
    tags: tuple[StepTag, ...]

    @property
    def targets(self) -> tuple[bool, ...]:
        return self.labels


def encode_labelled(tokenizer: Any, traj: LabelledTrajectory, mode: LabelMode = "prm",
                    max_length: int | None = None) -> EncodedTrajectory | None:
    """The PRM input of ``traj`` with its selected labels; None when it cannot fit ``max_length``.

    Too long an input loses context tokens from the left (after BOS), never step tokens: a
    label whose prefix is cut would be learnt from a state the search never shows.
    """
    selected = select_labels(traj, mode)
    context = ScoringContext(tuple(traj.example.lc_messages()), tuple(traj.example.specs())).text
    ids, positions = encode_trajectory(tokenizer, context, traj.steps)
    pos = [positions[i] for i, _ in selected]
    if max_length is not None and len(ids) > max_length:
        keep = len(tokenizer("", add_special_tokens=True)["input_ids"])
        cut = len(ids) - max_length
        if keep + cut > len(tokenizer(context, add_special_tokens=True)["input_ids"]):
            return None
        ids = ids[:keep] + ids[keep + cut:]
        pos = [p - cut for p in pos]
    return EncodedTrajectory(torch.tensor(ids, dtype=torch.int32), tuple(pos), tuple(y for _, y in selected),
                             tuple(traj.steps[i].tag for i, _ in selected))


def _check_labelled(trajectories: Sequence[LabelledTrajectory], mode: LabelMode, source: str) -> None:
    if not any(select_labels(t, mode) for t in trajectories):
        raise ValueError(f"{source}: no labelled steps for mode {mode!r} in {len(trajectories)} trajectories")


def encode_dataset(tokenizer: Any, trajectories: Sequence[LabelledTrajectory], mode: LabelMode = "prm",
                   max_length: int | None = None, progress: bool = False) -> tuple[list[EncodedTrajectory], int]:
    """Encoded trajectories that carry at least one label, and how many were skipped as too long."""
    from tqdm import tqdm

    out, skipped = [], 0
    for traj in tqdm(trajectories, desc="encoding", disable=not progress, leave=False):
        if not select_labels(traj, mode):
            continue
        enc = encode_labelled(tokenizer, traj, mode, max_length)
        if enc is None:
            skipped += 1
        else:
            out.append(enc)
    return out, skipped


class Encoded(Protocol):
    """A training input: token ids, and the positions whose next token is learnt, with targets."""

    @property
    def ids(self) -> torch.Tensor: ...
    @property
    def positions(self) -> tuple[int, ...]: ...
    @property
    def targets(self) -> tuple[Any, ...]: ...


@dataclass(frozen=True)
class _Batch:
    ids: torch.Tensor
    mask: torch.Tensor
    rows: torch.Tensor
    cols: torch.Tensor
    targets: torch.Tensor
    past: Any = None
    """Keys and values of a prefix every row starts with (``ids`` and ``cols`` begin after it)."""


def shared_prefix(data: Sequence[Encoded]) -> tuple[int, ...]:
    """The token ids every input starts with, cut before the first learnt position (every target
    is predicted from a position after the prefix)."""
    if not data:
        return ()
    first = data[0].ids.tolist()
    n = min(min(e.positions) for e in data)
    for e in data[1:]:
        ids = e.ids[:n].tolist()
        n = next((i for i, (a, b) in enumerate(zip(first, ids)) if a != b), min(n, len(ids)))
    return tuple(first[:n])


@torch.no_grad()
def prefix_past(model: Any, prefix: Sequence[int], rows: int, device: torch.device) -> Any:
    """The prefix's keys and values for ``rows`` inputs, with the current weights and no
    dropout. Fed once per optimizer step instead of once per input (the built-in prompt's
    instructions and example are about a third of an example's tokens); no gradient flows into
    the prefix, a truncation its small share of the loss's reach makes cheap."""
    from transformers import DynamicCache

    was_training = model.training
    model.eval()
    past = DynamicCache(config=model.config)
    ids = torch.tensor([list(prefix)] * rows, dtype=torch.long, device=device)
    model.get_decoder()(input_ids=ids, cache=past, use_cache=True)
    model.train(was_training)
    return past


def collate(batch: Sequence[Encoded], pad_id: int, device: torch.device, past: Any = None) -> _Batch:
    """Right-padded ids: the target positions keep their indices, causal attention ignores the pad.
    With ``past`` (see :func:`prefix_past`) the ids and positions start after its prefix."""
    skip = past.get_seq_length() if past is not None else 0
    width = max(len(e.ids) for e in batch) - skip
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), skip + width), dtype=torch.long)
    rows, cols, targets = [], [], []
    for r, e in enumerate(batch):
        ids[r, :len(e.ids) - skip] = e.ids[skip:]
        mask[r, :len(e.ids)] = 1
        rows += [r] * len(e.positions)
        cols += [p - skip for p in e.positions]
        targets += e.targets
    return _Batch(ids.to(device), mask.to(device), torch.tensor(rows, device=device),
                  torch.tensor(cols, device=device), torch.tensor(targets, device=device),
                  None if past is None else clone_cache(past))


Loss = Callable[[Any, _Batch], tuple[torch.Tensor, torch.Tensor]]
"""(model, batch) -> per-target negative log-likelihood and whether each target is right."""


def _position_logits(model: Any, batch: _Batch) -> torch.Tensor:
    """Next-token logits at the target positions only. Hidden states come from the decoder alone:
    projecting every position onto Gemma 3's 262k-token vocabulary would cost more than the rest
    of the model."""
    hidden = model.get_decoder()(input_ids=batch.ids, attention_mask=batch.mask, cache=batch.past,
                                 use_cache=batch.past is not None).last_hidden_state
    return model.get_output_embeddings()(hidden[batch.rows, batch.cols]).float()


def _label_nll(model: Any, batch: _Batch, label_ids: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """-log p(label token) at each label position (full-vocabulary softmax) and whether p(+) > p(-)."""
    logits = _position_logits(model, batch)
    plus, minus = label_ids
    target = torch.where(batch.targets, plus, minus)
    nll = -torch.log_softmax(logits, -1).gather(1, target[:, None])[:, 0]
    correct = (logits[:, plus] > logits[:, minus]) == batch.targets
    return nll, correct


def _label_probability(model: Any, batch: _Batch, label_ids: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """p(+) / (p(+) + p(-)) at each label position, the score the search reads, and whether it
    is on the label's side of 0.5."""
    logits = _position_logits(model, batch)
    plus, minus = label_ids
    p = torch.sigmoid(logits[:, plus] - logits[:, minus])
    return p, (p > 0.5) == batch.targets


def token_nll(model: Any, batch: _Batch) -> tuple[torch.Tensor, torch.Tensor]:
    """-log p(target token) at each target position and whether it is the most likely token."""
    logits = _position_logits(model, batch)
    nll = -torch.log_softmax(logits, -1).gather(1, batch.targets[:, None])[:, 0]
    return nll, logits.argmax(-1) == batch.targets


@torch.no_grad()
def scored(model: Any, tokenizer: Any, data: Sequence[Encoded], loss: Loss,
           batch_size: int) -> Iterator[tuple[Any, list[float], list[bool]]]:
    """Each input with its targets' values under ``loss`` and whether each target was right, in
    batches of similar lengths (little padding wasted); the model is put in eval mode."""
    model.eval()
    device = model.get_output_embeddings().weight.device
    pad = tokenizer.pad_token_id or 0
    order = sorted(data, key=lambda e: len(e.ids))
    prefix = shared_prefix(order)
    pasts: dict[int, Any] = {}
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        if prefix and len(chunk) not in pasts:
            pasts[len(chunk)] = prefix_past(model, prefix, len(chunk), device)
        nll, correct = loss(model, collate(chunk, pad, device, pasts.get(len(chunk))))
        losses, flags = nll.tolist(), correct.tolist()
        for e in chunk:
            n = len(e.positions)
            yield e, losses[:n], flags[:n]
            losses, flags = losses[n:], flags[n:]


@torch.no_grad()
def evaluate_reward_model(prm: GenerativePRM, trajectories: Sequence[LabelledTrajectory], mode: LabelMode = "prm",
                          *, batch_size: int = 8, max_length: int | None = None) -> dict[str, Any]:
    """Loss, step and trajectory accuracy of ``prm`` on ``trajectories`` (the paper's table).

    A trajectory is right when every selected label is; for ORM (one label each) trajectory
    accuracy equals step accuracy. Batches group similar lengths to waste little on padding.
    """
    _check_labelled(trajectories, mode, "evaluation data")
    data, skipped = encode_dataset(prm.tokenizer, trajectories, mode, max_length)
    if not data:
        raise ValueError(f"evaluation data: all {skipped} labelled trajectories are longer than {max_length} tokens")
    nll_sum, right, traj_right = 0.0, 0, 0
    by_tag: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    loss: Loss = lambda m, b: _label_nll(m, b, prm.label_ids)  # noqa: E731
    for e, nll, mine in scored(prm.model, prm.tokenizer, data, loss, batch_size):
        nll_sum += sum(nll)
        right += sum(mine)
        traj_right += all(mine)
        for tag, ok in zip(e.tags, mine):
            by_tag[tag.name][0] += ok
            by_tag[tag.name][1] += 1
    n_steps = sum(len(e.positions) for e in data)
    return {
        "mode": mode, "loss": nll_sum / n_steps, "step_acc": right / n_steps, "traj_acc": traj_right / len(data),
        "n_steps": n_steps, "n_trajectories": len(data), "skipped": skipped,
        "tag_acc": {tag: r / n for tag, (r, n) in by_tag.items()},
    }


@torch.no_grad()
def step_probabilities(prm: GenerativePRM, trajectories: Sequence[LabelledTrajectory], *,
                       batch_size: int = 8) -> list[list[float]]:
    """p(+) / (p(+) + p(-)) after each step of each trajectory (as the search scores a path
    ending there), for comparing the PRM step by step with scorers of another kind."""
    encoded = [encode_labelled(prm.tokenizer, t) for t in trajectories]
    index = {id(e): i for i, e in enumerate(encoded)}
    out: list[list[float]] = [[] for _ in trajectories]
    loss: Loss = lambda m, b: _label_probability(m, b, prm.label_ids)  # noqa: E731
    for e, probs, _ in scored(prm.model, prm.tokenizer, [e for e in encoded if e is not None], loss, batch_size):
        out[index[id(e)]] = probs
    return out


@dataclass
class TrainConfig:
    """What every run depends on (PRM or policy); saved as ``train_config.json`` next to the model."""

    base_model: str
    train_file: str
    output_dir: str
    lora: bool = True
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    target_modules: str | list[str] = "all-linear"
    learning_rate: float | None = None
    """None: 1e-4 with LoRA, 1e-5 for a full fine-tune."""
    weight_decay: float = 0.0
    warmup_steps: int = 0
    max_grad_norm: float = 1.0
    epochs: int = 1
    batch_size: int = 1
    grad_accum: int = 8
    max_length: int = 1024
    max_steps: int | None = None
    save_every: int = 200
    save_total_limit: int = 2
    log_every: int = 10
    seed: int = 0
    dtype: str = "float32"
    eval_file: str | None = None
    share_prefix: bool = True
    """Feed the token prefix all examples share (the built-in prompt's instructions and example)
    once per optimizer step, without gradient (see :func:`prefix_past`)."""
    init_adapter: str | None = None
    """A LoRA adapter of ``base_model`` whose weights the run starts from (continued training on
    new data); its own LoRA settings are kept, so ``lora_*`` and ``target_modules`` are unused."""

    def __post_init__(self) -> None:
        self.base_model, self.train_file, self.output_dir = map(str, (self.base_model, self.train_file, self.output_dir))
        self.eval_file = None if self.eval_file is None else str(self.eval_file)
        self.init_adapter = None if self.init_adapter is None else str(self.init_adapter)
        if self.init_adapter is not None and not self.lora:
            raise ValueError("init_adapter continues a LoRA adapter; it needs lora=True")
        torch_dtype(self.dtype)  # an unknown name is an error here, before any loading
        for name in ("epochs", "batch_size", "grad_accum", "max_length", "save_every", "log_every", "save_total_limit"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.learning_rate is None:
            self.learning_rate = 1e-4 if self.lora else 1e-5


@dataclass
class PRMTrainConfig(TrainConfig):
    """A PRM run: ``mode`` picks the labels learnt."""

    mode: LabelMode = "prm"

    def __post_init__(self) -> None:
        if self.mode not in LABEL_MODES:
            raise ValueError(f"unknown mode {self.mode!r}; expected one of {', '.join(LABEL_MODES)}")
        super().__post_init__()


@dataclass
class TrainResult:
    output_dir: Path
    losses: list[float]
    """Mean loss of each optimizer step this call ran."""
    accuracies: list[float]
    """Accuracy of each optimizer step this call ran: p(+) > p(-) against the label for a PRM,
    the target token ranked first for a policy."""
    steps: int
    """Optimizer steps done in all, counting those before a resume."""
    start_step: int
    skipped: int
    """Training inputs dropped because they cannot fit ``max_length``."""
    eval: dict[str, Any] | None = None


def _checkpoints(out: Path) -> list[tuple[int, Path]]:
    found = [(int(m.group(1)), p) for p in out.glob("checkpoint-*")
             if (m := _CHECKPOINT.fullmatch(p.name)) and (p / "trainer_state.json").exists()]
    return sorted(found)


def _load_model(config: TrainConfig, checkpoint: Path | None) -> Any:
    from transformers import AutoModelForCausalLM

    dtype = torch_dtype(config.dtype)
    if not config.lora:
        return AutoModelForCausalLM.from_pretrained(str(checkpoint or config.base_model), dtype=dtype)
    from peft import LoraConfig, PeftModel, get_peft_model

    # An absolute base path in adapter_config.json lets the adapter load from any working directory.
    base_path = Path(config.base_model)
    base_name = str(base_path.resolve() if base_path.exists() else base_path)
    base = AutoModelForCausalLM.from_pretrained(base_name, dtype=dtype)
    if checkpoint is not None or config.init_adapter is not None:
        model = PeftModel.from_pretrained(base, str(checkpoint or config.init_adapter), is_trainable=True)
        # The saved adapter names the base it was trained on, not the one its start adapter recorded
        # (the shipped adapter records a description of the embedded model, not a path).
        model.peft_config["default"].base_model_name_or_path = base_name
        return model
    return get_peft_model(base, LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha,
                                           lora_dropout=config.lora_dropout, target_modules=config.target_modules,
                                           task_type="CAUSAL_LM"))


def _rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"python": random.getstate(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _save_checkpoint(model: Any, optimizer: Any, scheduler: Any, state: dict[str, int], out: Path,
                     keep: int) -> None:
    """Written to a temporary directory, then renamed: a crash never leaves a half checkpoint."""
    final = out / f"checkpoint-{state['step']}"
    tmp = out / f".tmp-checkpoint-{state['step']}"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
    torch.save(_rng_state(), tmp / "rng_state.pt")
    (tmp / "trainer_state.json").write_text(json.dumps(state))
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    for _, old in _checkpoints(out)[:-keep]:
        shutil.rmtree(old)


def _trim_log(path: Path, step: int) -> None:
    """Drop log lines past the checkpoint a run resumes from; they will be written again."""
    if path.exists():
        lines = [ln for ln in path.read_text().splitlines() if ln.strip() and json.loads(ln)["step"] <= step]
        path.write_text("".join(ln + "\n" for ln in lines))


def start_checkpoint(config: TrainConfig, resume: bool) -> Path | None:
    """The checkpoint a run continues from; checks the output directory before any loading."""
    if Path(config.base_model).is_absolute() and not Path(config.base_model).exists():
        raise FileNotFoundError(f"no base model at {config.base_model}")
    if config.init_adapter is not None and not (Path(config.init_adapter) / "adapter_config.json").is_file():
        raise FileNotFoundError(f"no LoRA adapter at {config.init_adapter} (adapter_config.json is missing)")
    found = _checkpoints(Path(config.output_dir))
    if found and not resume:
        raise ValueError(f"{config.output_dir} already holds checkpoints; resume from them or choose another "
                         f"output directory")
    return found[-1][1] if found else None


def fit(config: TrainConfig, data: Sequence[Encoded], pad: int, loss: Loss, checkpoint: Path | None,
         desc: str, progress: bool) -> tuple[Any, dict[str, int], list[float], list[float], int]:
    """The shared optimisation loop: (trained model, state, losses, accuracies, start step).

    Checkpoints (``checkpoint-<step>/``: weights as safetensors, optimizer, scheduler, RNG
    state and the data position) are written every ``save_every`` optimizer steps and at the
    end; a run given the latest one continues there, so a killed run loses at most
    ``save_every`` steps. Data order is a seeded shuffle per epoch, so the position is two ints.
    """
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from tqdm import tqdm
    from transformers import get_linear_schedule_with_warmup

    out = Path(config.output_dir)
    accelerator = Accelerator()
    if accelerator.num_processes > 1:
        raise RuntimeError("training runs in a single process (it calls the decoder directly, outside DDP)")
    set_seed(config.seed)
    model = _load_model(config, checkpoint)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=config.learning_rate,
                                  weight_decay=config.weight_decay)
    n_batches = math.ceil(len(data) / config.batch_size)
    per_epoch = math.ceil(n_batches / config.grad_accum)
    total = config.max_steps or config.epochs * per_epoch  # max_steps overrides epochs, as in HF's Trainer
    scheduler = get_linear_schedule_with_warmup(optimizer, config.warmup_steps, total)
    model, optimizer = accelerator.prepare(model, optimizer)
    state = {"step": 0, "epoch": 0, "window": 0}
    log_path = out / "train_log.jsonl"
    if checkpoint is not None:
        optimizer.load_state_dict(torch.load(checkpoint / "optimizer.pt", weights_only=True))
        scheduler.load_state_dict(torch.load(checkpoint / "scheduler.pt", weights_only=True))
        _set_rng_state(torch.load(checkpoint / "rng_state.pt", weights_only=True))
        state = json.loads((checkpoint / "trainer_state.json").read_text())
        _trim_log(log_path, state["step"])
    out.mkdir(parents=True, exist_ok=True)
    (out / "train_config.json").write_text(json.dumps(asdict(config), indent=2) + "\n")

    prefix = shared_prefix(data) if config.share_prefix else ()
    start_step, logged, started = state["step"], state["step"], time.perf_counter()
    losses: list[float] = []
    accs: list[float] = []
    bar = tqdm(total=total, initial=start_step, desc=desc, disable=not progress)
    model.train()
    while state["step"] < total:
        order = list(range(len(data)))
        random.Random(config.seed * 100_003 + state["epoch"]).shuffle(order)
        batches = [order[i:i + config.batch_size] for i in range(0, len(order), config.batch_size)]
        windows = [batches[i:i + config.grad_accum] for i in range(0, len(batches), config.grad_accum)]
        while state["window"] < len(windows) and state["step"] < total:
            window = [[data[i] for i in b] for b in windows[state["window"]]]
            n_targets = sum(len(e.positions) for b in window for e in b)
            loss_sum, right = 0.0, 0
            pasts = {n: prefix_past(model, prefix, n, accelerator.device) for n in {len(b) for b in window}} \
                if prefix else {}
            for b in window:
                nll, correct = loss(model, collate(b, pad, accelerator.device, pasts.get(len(b))))
                accelerator.backward(nll.sum() / n_targets)
                loss_sum += float(nll.detach().sum())
                right += int(correct.sum())
            accelerator.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            lr = scheduler.get_last_lr()[0]
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            state = {"step": state["step"] + 1, "epoch": state["epoch"], "window": state["window"] + 1}
            losses.append(loss_sum / n_targets)
            accs.append(right / n_targets)
            bar.update()
            bar.set_postfix(loss=f"{losses[-1]:.4f}", acc=f"{accs[-1]:.3f}")
            if state["step"] % config.log_every == 0 or state["step"] == total:
                n, logged = state["step"] - logged, state["step"]
                entry = {"step": state["step"], "loss": sum(losses[-n:]) / n, "acc": sum(accs[-n:]) / n, "lr": lr,
                         "seconds": round(time.perf_counter() - started, 3)}
                with log_path.open("a") as fh:
                    fh.write(json.dumps(entry) + "\n")
            if state["step"] % config.save_every == 0 or state["step"] == total:
                _save_checkpoint(accelerator.unwrap_model(model), optimizer, scheduler, state, out,
                                 config.save_total_limit)
        if state["window"] >= len(windows):
            state = {"step": state["step"], "epoch": state["epoch"] + 1, "window": 0}
    bar.close()
    trained = accelerator.unwrap_model(model)
    trained.save_pretrained(out)
    return trained, state, losses, accs, start_step


def train_prm(config: PRMTrainConfig, progress: bool = True, *, resume: bool = False) -> TrainResult:
    """Train a generative PRM; the output directory loads with ``GenerativePRM.from_pretrained``.
    ``resume=True`` continues from the latest checkpoint (see :func:`fit`)."""
    from transformers import AutoTokenizer

    checkpoint = start_checkpoint(config, resume)
    trajectories = load_trajectories(config.train_file)
    _check_labelled(trajectories, config.mode, config.train_file)
    eval_set = load_trajectories(config.eval_file) if config.eval_file else None
    tokenizer = AutoTokenizer.from_pretrained(config.base_model)
    label_ids = label_token_ids(tokenizer)
    data, skipped = encode_dataset(tokenizer, trajectories, config.mode, config.max_length, progress)
    if not data:
        raise ValueError(f"{config.train_file}: all {skipped} labelled trajectories have more than "
                         f"{config.max_length} step tokens (mode {config.mode!r})")
    trained, state, losses, accs, start_step = fit(
        config, data, tokenizer.pad_token_id or 0, lambda m, b: _label_nll(m, b, label_ids), checkpoint,
        "train-prm", progress)
    out = Path(config.output_dir)
    tokenizer.save_pretrained(out)
    metrics = None
    if eval_set is not None:
        metrics = evaluate_reward_model(GenerativePRM(trained, tokenizer), eval_set, config.mode,
                                        max_length=config.max_length)
        (out / "eval.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return TrainResult(out, losses, accs, state["step"], start_step, skipped, metrics)


# ---- command line ---------------------------------------------------------------------------------
_DEFAULTS = {f.name: f.default for f in fields(PRMTrainConfig)}


def add_config_flags(p: argparse.ArgumentParser, data: str, out: str) -> None:
    """The flags of every :class:`TrainConfig` field, and ``--resume``/``--progress``; ``data``
    says what the train and eval files hold, ``out`` what the output directory receives."""
    p.add_argument("--train-file", required=True, help=f"JSONL of {data}")
    p.add_argument("--output-dir", required=True, help=f"where checkpoints and {out} go")
    p.add_argument("--base-model", help="local model directory (default: the embedded Gemma 3 270M)")
    p.add_argument("--eval-file", help=f"held-out JSONL of {data}, evaluated after training")
    p.add_argument("--lora", action=argparse.BooleanOptionalAction, default=_DEFAULTS["lora"],
                   help="train a LoRA adapter (--no-lora: full fine-tune)")
    p.add_argument("--lora-r", type=int, default=_DEFAULTS["lora_r"])
    p.add_argument("--lora-alpha", type=int, default=_DEFAULTS["lora_alpha"])
    p.add_argument("--lora-dropout", type=float, default=_DEFAULTS["lora_dropout"])
    p.add_argument("--target-modules", nargs="+", default=[_DEFAULTS["target_modules"]],
                   help="LoRA target module names, or all-linear")
    p.add_argument("--learning-rate", type=float, help="default: 1e-4 with LoRA, 1e-5 full")
    for name in ("weight_decay", "max_grad_norm"):
        p.add_argument("--" + name.replace("_", "-"), type=float, default=_DEFAULTS[name])
    for name in ("warmup_steps", "epochs", "batch_size", "grad_accum", "max_length", "save_every",
                 "save_total_limit", "log_every", "seed"):
        p.add_argument("--" + name.replace("_", "-"), type=int, default=_DEFAULTS[name])
    p.add_argument("--max-steps", type=int, help="stop after this many optimizer steps")
    p.add_argument("--dtype", default=_DEFAULTS["dtype"], help="float32 (fast on AVX2 CPUs), bfloat16, ...")
    p.add_argument("--share-prefix", action=argparse.BooleanOptionalAction, default=_DEFAULTS["share_prefix"],
                   help="feed the prefix every example shares once per optimizer step, without gradient")
    p.add_argument("--init-adapter", help="LoRA adapter directory to start from, or gemma-3-270m-tools for the "
                   "shipped one (continued training; its own LoRA settings are kept)")
    p.add_argument("--resume", action=argparse.BooleanOptionalAction, default=False,
                   help="continue from the latest checkpoint in the output directory")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True)


def config_values(args: argparse.Namespace, names: Sequence[str]) -> dict[str, Any]:
    """A config's keyword arguments from parsed flags; no ``--base-model`` means the embedded model,
    ``--init-adapter gemma-3-270m-tools`` the shipped tool-calling adapter."""
    values = {name: getattr(args, name) for name in names}
    modules = values["target_modules"]
    values["target_modules"] = modules[0] if len(modules) == 1 else modules
    if values["base_model"] is None:
        values["base_model"] = str(ensure_embedded_model())
    if values["init_adapter"] == EMBEDDED_TUNED:
        values["init_adapter"] = str(shipped_policy_dir())
    return values


def add_train_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``train-prm``: every :class:`PRMTrainConfig` field as a flag."""
    p = subparsers.add_parser("train-prm", help="train a generative PRM (LoRA or full) on labelled trajectories")
    p.add_argument("--mode", choices=LABEL_MODES, default=_DEFAULTS["mode"],
                   help="labels: every step (prm), no per-argument labels (cprm), outcome only (orm)")
    add_config_flags(p, "labelled trajectories", "the trained PRM")
    p.set_defaults(func=_train_command)
    return p


def run_training_command(args: argparse.Namespace, config_type: type[TrainConfig],
                         train: Callable[..., TrainResult], command: str, skipped: str) -> int:
    """A training command's body: config from flags, the run, a one-line summary; bad input exits 2."""
    try:
        config = config_type(**config_values(args, [f.name for f in fields(config_type)]))
        result = train(config, progress=args.progress, resume=args.resume)
    except (ValueError, OSError) as e:  # DataFileError is a ValueError; missing models raise OSError
        print(f"toolprm {command}: error: {e}", file=sys.stderr)
        return 2
    last = f", last loss {result.losses[-1]:.4f}" if result.losses else ""
    print(f"trained {result.steps} steps (from {result.start_step}){last}, skipped {result.skipped} "
          f"{skipped} -> {result.output_dir}")
    if result.eval is not None:
        print(json.dumps(result.eval))
    return 0


def _train_command(args: argparse.Namespace) -> int:
    return run_training_command(args, PRMTrainConfig, train_prm, "train-prm", "too-long trajectories")


def add_eval_prm_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``eval-prm``: loss, step and trajectory accuracy of a trained PRM."""
    p = subparsers.add_parser("eval-prm", help="reward-model accuracy of a trained PRM on labelled trajectories")
    p.add_argument("--prm", required=True, help="trained PRM: full model or adapter directory")
    p.add_argument("--base-model", help="base model for an adapter whose recorded base path is elsewhere")
    p.add_argument("--data", required=True, help="JSONL of labelled trajectories")
    p.add_argument("--mode", choices=LABEL_MODES, default="prm")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--max-length", type=int, help="skip trajectories longer than this (default: none)")
    p.add_argument("--dtype", default="float32")
    p.add_argument("--json", action="store_true", help="print JSON instead of a markdown table row")
    p.set_defaults(func=_eval_command)
    return p


def _eval_command(args: argparse.Namespace) -> int:
    try:
        trajectories = load_trajectories(args.data)
        _check_labelled(trajectories, args.mode, args.data)
        prm = GenerativePRM.from_pretrained(args.prm, base_model=args.base_model, dtype=args.dtype)
        metrics = evaluate_reward_model(prm, trajectories, args.mode, batch_size=args.batch_size,
                                        max_length=args.max_length)
    except (ValueError, OSError) as e:
        print(f"toolprm eval-prm: error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"prm": args.prm, "data": args.data, **metrics}))
    else:
        print("| model | mode | loss | step acc | trajectory acc | steps | trajectories |")
        print("|---|---|---|---|---|---|---|")
        print(f"| {args.prm} | {args.mode} | {metrics['loss']:.4f} | {metrics['step_acc']:.2%} | "
              f"{metrics['traj_acc']:.2%} | {metrics['n_steps']} | {metrics['n_trajectories']} |")
    return 0
