"""Rollout collection: the policy samples fine-grained trajectories for each query.

Rollouts use the search's own step sampler (``best_of_n`` over the proposer), so the
PRM is trained on exactly the kind of partial call lists it will score at inference time.
Collection is sharded and resumable: one JSONL line per finished query, appended and flushed.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ..core.backend import Backend, ContextLengthError
from ..core.engine import answer
from ..core.proposer import Constraints
from ..core.search import SearchConfig
from ..core.verifier import VerifierScorer
from .records import ToolExample, append_jsonl, read_jsonl, step_to_dict


@dataclass(frozen=True)
class RolloutConfig:
    """K sampled trajectories per query at the search's temperature; ``shard``/``num_shards``
    split the queries between processes (query i goes to shard i mod num_shards)."""

    k: int = 4
    temperature: float = 0.8
    max_value_tokens: int = 32
    max_steps: int = 48
    seed: int = 0
    shard: int = 0
    num_shards: int = 1

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ValueError("k (rollouts per query) must be at least 1")
        if not 0 <= self.shard < self.num_shards:
            raise ValueError(f"shard {self.shard} is not in 0..{self.num_shards - 1}")


def sample_trajectories(policy: Backend, example: ToolExample, config: RolloutConfig) -> list[dict[str, Any]]:
    """Up to K distinct finished trajectories for one query (duplicates kept once, with a count).

    A trajectory whose value ran past ``max_value_tokens`` never finishes and is not returned,
    as in the search itself.
    """
    specs = example.specs()
    rules = Constraints(tuple(specs), max_calls=max(4, len(example.gold) + 1))
    seed = config.seed + zlib.crc32(example.id.encode())  # per query, independent of shard and order
    search = SearchConfig(strategy="best_of_n", n_retain=config.k, m_explore=1, temperature=config.temperature,
                          max_steps=config.max_steps, max_value_tokens=config.max_value_tokens, seed=seed)
    result = answer(policy, VerifierScorer(), example.lc_messages(), specs, search, rules=rules).result
    finished = result.finished if result is not None else []  # calls-only answers always search
    seen: dict[str, dict[str, Any]] = {}
    for beam in finished:
        steps = [step_to_dict(s) for s in beam.steps]
        key = repr(steps)
        if key in seen:
            seen[key]["count"] += 1
        else:
            seen[key] = {"steps": steps, "logprob": round(beam.logprob, 4), "count": 1}
    return list(seen.values())


def shard_path(out: str | Path, config: RolloutConfig) -> Path:
    out = Path(out)
    if config.num_shards == 1:
        return out
    return out.with_name(f"{out.stem}.shard{config.shard}of{config.num_shards}{out.suffix}")


def collect_rollouts(
    policy: Backend, examples: Sequence[ToolExample], out: str | Path, config: RolloutConfig,
    *, progress: bool = True,
) -> Path:
    """Sample rollouts for this shard's queries into ``out`` (one line per query), resuming.

    Queries whose prompt does not fit the policy's context are recorded with an empty rollout
    list and a ``skipped`` reason, so a resumed run does not retry them.
    """
    path = shard_path(out, config)
    done = {rec["example"]["id"] for rec in read_jsonl(path)} if path.exists() else set()
    mine = [ex for i, ex in enumerate(examples) if i % config.num_shards == config.shard]
    todo = [ex for ex in mine if ex.id not in done]
    for ex in tqdm(todo, desc=f"rollouts {path.name}", disable=not progress, initial=len(mine) - len(todo),
                   total=len(mine)):
        record: dict[str, Any] = {"example": ex.to_dict()}
        try:
            record["rollouts"] = sample_trajectories(policy, ex, config)
        except ContextLengthError as exc:
            record["rollouts"], record["skipped"] = [], f"context too long: {exc}"
        append_jsonl(path, [record])
    return path
