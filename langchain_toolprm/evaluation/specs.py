"""What one evaluation run is: a decoding setting, the label and file name its results go
under, and a prediction's record of what it cost.

Kept apart from the decoding itself so that reading, tabulating and plotting results needs
neither torch's models nor transformers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal, get_args

from ..core.search import Aggregation, check_policy_weight, check_widen
from ..core.steps import Call
from ..core.verifier import ABLATABLE

EvalStrategy = Literal["unconstrained", "greedy", "best_of_n", "majority", "token_beam", "beam"]
STRATEGIES: tuple[str, ...] = get_args(EvalStrategy)
TEXT_STRATEGIES = ("unconstrained", "token_beam")  # decode free text with model.generate
_SAMPLES = ("token_beam", "best_of_n", "majority")  # sized by ``samples`` (default N*M)
_SEARCH = {"temperature", "aggregation", "policy_weight", "max_value_tokens", "max_calls", "seed", "scorer", "prm",
           "ablate"}
_LATE = ("policy_weight", "ablate", "widen_below", "widen_policy")  # added later: left out at their defaults
_RELEVANT: dict[str, set[str]] = {  # the spec fields each strategy's result depends on
    "unconstrained": {"max_new_tokens"},
    "token_beam": {"max_new_tokens", "samples"},
    "greedy": {"max_value_tokens", "max_calls"},
    "best_of_n": _SEARCH | {"samples"},
    "majority": _SEARCH | {"samples"},
    "beam": _SEARCH | {"n", "m", "widen_below", "widen_policy"},
}


@dataclass(frozen=True)
class EvalSpec:
    """One decoding setting. ``samples`` is best-of-N/majority's sample count and token beam's
    beam count; None matches the fine-grained search's candidate budget N*M.

    ``scorer`` is "verifier", "prm", "combined" (verifier x PRM) or "tiebreak" (the verifier, its
    ties broken by the PRM); all but the first need ``prm``.
    """

    strategy: EvalStrategy
    scorer: Literal["verifier", "prm", "combined", "tiebreak"] = "verifier"
    prm: str | None = None
    n: int = 1
    m: int = 4
    samples: int | None = None
    temperature: float = 0.8
    aggregation: Aggregation = "min"
    policy_weight: float = 0.0
    max_value_tokens: int = 32
    max_new_tokens: int = 256
    max_calls: int = 4
    seed: int | None = 0
    ablate: str = ""
    """Verifier signals switched off, a sorted comma list of ``ABLATABLE`` (for ablation rows)."""
    widen_below: float | None = None
    """Adaptive exploration (beam): see ``SearchConfig.widen_below``."""
    widen_policy: float = 0.0
    label: str | None = None

    def __post_init__(self) -> None:
        unknown = [a for a in self.ablate.split(",") if a and a not in ABLATABLE]
        if unknown:
            raise ValueError(f"unknown verifier signal(s) {', '.join(unknown)}: choose from {', '.join(ABLATABLE)}")
        if self.ablate and self.scorer == "prm":
            raise ValueError("--ablate switches verifier signals off: it needs the verifier or combined scorer")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {self.strategy!r}: choose from {', '.join(STRATEGIES)}")
        if self.scorer not in ("verifier", "prm", "combined", "tiebreak"):
            raise ValueError(f"unknown scorer {self.scorer!r}: verifier, prm, combined or tiebreak")
        if self.scorer != "verifier" and not self.prm:
            raise ValueError(f"scorer {self.scorer!r} needs a PRM path")
        if min(self.n, self.m, self.samples or 1) < 1:
            raise ValueError("N, M and samples must be at least 1")
        check_policy_weight(self.policy_weight)
        check_widen(self.widen_below, self.widen_policy)

    @property
    def budget(self) -> int:
        """Candidates per item for the sampling baselines and token beams: ``samples``, else N*M."""
        return self.samples or self.n * self.m

    def canonical(self) -> EvalSpec:
        """The spec with the fields its strategy ignores reset, so results that cannot differ
        share one label and one file (greedy under any scorer, say)."""
        spec = replace(self, samples=self.budget) if self.strategy in _SAMPLES else self
        keep = _RELEVANT[self.strategy] | {"strategy", "label"}
        return replace(spec, **{f.name: f.default for f in fields(EvalSpec) if f.name not in keep})

    @property
    def name(self) -> str:
        """The label used in tables and file names."""
        if self.label:
            return self.label
        spec = self.canonical()
        weight = f" pw={spec.policy_weight:g}" if spec.policy_weight else ""
        if spec.strategy == "beam":
            widen = "" if spec.widen_below is None else f" widen<{spec.widen_below:g}" + (
                f" p<{spec.widen_policy:g}" if spec.widen_policy else "")
            return f"beam N={spec.n} M={spec.m}{widen} {scorer_label(spec)}{weight}"
        if spec.strategy in ("best_of_n", "majority"):
            return f"{spec.strategy} {spec.samples} {scorer_label(spec)}{weight}"
        if spec.strategy == "token_beam":
            return f"token_beam {spec.samples}"
        return spec.strategy

    @property
    def scored(self) -> bool:
        """Whether the scorer decides this strategy's answer (greedy's is only reported with its scores)."""
        return "scorer" in _RELEVANT[self.strategy]

    def identity(self) -> dict[str, Any]:
        """What a results file must have been produced with for a resumed run to append to it.
        Fields added later are left out at their defaults, so files written before them resume."""
        identity = asdict(replace(self.canonical(), label=None))
        for late in _LATE:
            if not identity[late]:
                del identity[late]
        return identity


_VOTED = ("best_of_n", "majority")  # choose among the same samples (core.search.SAMPLE_PICKS)


def one_search_each(specs: Sequence[EvalSpec]) -> list[list[EvalSpec]]:
    """``specs`` in groups that one search answers: best-of-N and majority vote with every other
    setting equal read their answers off the same samples; any other spec is a group of its own."""
    groups: dict[EvalSpec, list[EvalSpec]] = {}
    for spec in specs:
        key = replace(spec.canonical(), strategy="best_of_n", label=None) if spec.strategy in _VOTED else spec
        groups.setdefault(key, []).append(spec)
    return list(groups.values())


def check_one_search(group: Sequence[EvalSpec]) -> None:
    """Refuse a group of specs one search cannot answer (``one_search_each``), naming them."""
    if len(one_search_each(group)) != 1:
        raise ValueError(f"one search cannot answer {', '.join(s.name for s in group)}: only best_of_n and "
                         f"majority with every other setting equal share their samples")


@dataclass
class Prediction:
    """A strategy's answer to one item (``calls`` None: no valid call list) and what it cost."""

    calls: list[Call] | None
    raw: str
    policy_input_tokens: int
    policy_output_tokens: int
    scorer_tokens: int
    seconds: float
    error: str | None = None

    @property
    def policy_tokens(self) -> int:
        return self.policy_input_tokens + self.policy_output_tokens


def scorer_label(spec: EvalSpec | dict[str, Any]) -> str:
    """"verifier", "prm:NAME", "verifier*NAME" or "verifier>NAME" (ties broken by NAME; NAME: the
    PRM directory's name)."""
    scorer, prm = (spec["scorer"], spec["prm"]) if isinstance(spec, dict) else (spec.scorer, spec.prm)
    ablate = (spec.get("ablate") if isinstance(spec, dict) else spec.ablate) or ""
    name = Path(prm or "").name
    verifier = "verifier" + "".join(f"-{a}" for a in ablate.split(",") if a)
    return {"verifier": verifier, "prm": f"prm:{name}", "combined": f"{verifier}*{name}",
            "tiebreak": f"{verifier}>{name}"}[scorer]


def slug(label: str) -> str:
    """A strategy label as a file name (``beam N=1 M=4 verifier`` -> ``beam_N=1_M=4_verifier``)."""
    return re.sub(r"[^A-Za-z0-9.=+-]+", "_", label).strip("_")
