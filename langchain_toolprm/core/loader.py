"""The one place the models of a search are built from a user's settings.

The chat model, evaluation, dataset building, the CLI and the benchmark scripts all come here,
so ``(model, prm, scorer, device, dtype)`` means the same everywhere. Backends live in their own
subpackage and are found by name, so the runtime never imports one it does not use.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, get_args

from .backend import Backend
from .embedded import resolve_prm
from .scorers import CombinedScorer, GenerativePRM, HeadScorer, RewardHead, Scorer, TieBroken, is_reward_head
from .verifier import ABLATABLE, VerifierScorer

ScorerKind = Literal["verifier", "prm", "combined", "tiebreak"]
SCORER_KINDS: tuple[str, ...] = get_args(ScorerKind)
BACKENDS: dict[str, str] = {
    "transformers": "langchain_toolprm.backends.transformers",
    "served": "langchain_toolprm.backends.served",
}
"""Backend kind -> the module whose ``load_backend(model, **settings)`` builds it."""


def load_backend(model: str | Path | None = None, *, kind: str = "transformers", **settings: Any) -> Backend:
    """The policy backend for ``model`` (None or ``"gemma-3-270m-tools"``: the embedded Gemma 3 270M
    with the shipped tool-calling adapter; ``"gemma-3-270m"``: the base as packaged). ``settings`` go to the backend's own loader
    (``device``, ``dtype``, ``device_map`` for transformers; ``base_url`` and ``engine`` for a
    served model)."""
    if kind not in BACKENDS:
        raise ValueError(f"unknown backend {kind!r}: choose from {', '.join(BACKENDS)}")
    return importlib.import_module(BACKENDS[kind]).load_backend(model, **settings)


def load_scorer(
    scorer: ScorerKind | None = None, prm: str | None = None, *, prm_model: GenerativePRM | None = None,
    prm_base: str | Path | None = None, ablate: Sequence[str] = (), dtype: str = "float32",
    device: str | None = None, policy: Backend | None = None,
) -> Scorer:
    """The scorer a setting names: the verifier (with ``ablate``'s checks off), a PRM (``prm``: a
    directory, or ``"toolprm"`` for the shipped one; or a loaded ``prm_model``), both combined,
    or the verifier with the PRM breaking its ties (``tiebreak``: ``scorers.TieBroken``). None:
    combined when a PRM is given, else the verifier. ``prm_base`` replaces the
    base model a PRM adapter's config names (an adapter trained on another machine). A ``prm``
    directory holding a reward head (``toolprm train-head``) reads ``policy``'s own states."""
    if scorer is not None and scorer not in SCORER_KINDS:
        raise ValueError(f"unknown scorer {scorer!r}: choose from {', '.join(SCORER_KINDS)}")
    unknown = [a for a in ablate if a not in ABLATABLE]
    if unknown:
        raise ValueError(f"unknown verifier check(s) {', '.join(unknown)}: choose from {', '.join(ABLATABLE)}")
    verifier = VerifierScorer(**{a: False for a in ablate})
    kind = scorer or ("combined" if (prm or prm_model) else "verifier")
    if kind == "verifier":
        return verifier
    learned: Scorer
    if prm_model is not None:
        learned = prm_model
    elif prm is None:
        raise ValueError(f"scorer={kind!r} needs a PRM: pass prm=<path> or prm_model=")
    elif is_reward_head(prm):
        if policy is None:
            raise ValueError(f"the reward head in {prm} reads the policy's states: pass the policy")
        learned = HeadScorer(policy, RewardHead.load(prm))  # type: ignore[arg-type]
    else:
        path, base = resolve_prm(prm)
        learned = GenerativePRM.from_pretrained(path or "", base_model=prm_base or base, dtype=dtype, device=device)
    if kind == "tiebreak":
        return TieBroken(verifier, learned)
    return learned if kind == "prm" else CombinedScorer([verifier, learned])
