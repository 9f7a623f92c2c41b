"""Evaluation specs: labels, matched budgets, and which fields split results files."""

from __future__ import annotations

from pathlib import Path

import pytest

from langchain_toolprm.evaluation.specs import EvalSpec


def test_spec_labels_and_matched_budget(tmp_path: Path) -> None:
    prm = str(tmp_path / "my-prm")
    assert EvalSpec("beam", n=2, m=4).name == "beam N=2 M=4 verifier"
    assert EvalSpec("beam", scorer="combined", prm=prm).name == "beam N=1 M=4 verifier*my-prm"
    assert EvalSpec("beam", scorer="tiebreak", prm=prm).name == "beam N=1 M=4 verifier>my-prm"
    assert EvalSpec("best_of_n", n=2, m=4).name == "best_of_n 8 verifier"  # N*M samples by default
    assert EvalSpec("majority", samples=3, scorer="prm", prm=prm).name == "majority 3 prm:my-prm"
    assert EvalSpec("token_beam", m=3).name == "token_beam 3"
    # What a strategy ignores does not split its results: greedy under any scorer is one run.
    assert EvalSpec("greedy", scorer="prm", prm=prm, n=4, temperature=0.1).identity() == EvalSpec("greedy").identity()
    assert EvalSpec("unconstrained", max_value_tokens=9).name == "unconstrained"
    assert EvalSpec("greedy", label="mine").name == "mine"
    # policy_weight came later: at its default it is not in the identity, so older files resume.
    assert "policy_weight" not in EvalSpec("beam").identity()
    weighed = EvalSpec("beam", scorer="combined", prm=prm, policy_weight=0.2)
    assert weighed.name == "beam N=1 M=4 verifier*my-prm pw=0.2" and weighed.identity()["policy_weight"] == 0.2
    assert EvalSpec("greedy", policy_weight=0.2).identity() == EvalSpec("greedy").identity()
    # So did adaptive exploration: a beam that widens is its own run; greedy never widens.
    assert "widen_below" not in EvalSpec("beam").identity() and "widen_policy" not in EvalSpec("beam").identity()
    adaptive = EvalSpec("beam", widen_below=0.9, widen_policy=0.5)
    assert adaptive.name == "beam N=1 M=4 widen<0.9 p<0.5 verifier"
    assert adaptive.identity()["widen_below"] == 0.9 and adaptive.identity()["widen_policy"] == 0.5
    assert EvalSpec("greedy", widen_below=0.9).identity() == EvalSpec("greedy").identity()
    for bad in ({"strategy": "nope"}, {"strategy": "beam", "scorer": "prm"}, {"strategy": "beam", "scorer": "tiebreak"},
                {"strategy": "beam", "m": 0},
                {"strategy": "beam", "policy_weight": -1.0}, {"strategy": "beam", "widen_below": 2.0},
                {"strategy": "beam", "widen_policy": 0.5}):
        with pytest.raises(ValueError):
            EvalSpec(**bad)
