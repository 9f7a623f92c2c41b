"""Which scorer should guide the default search? Verifier, PRM or both, on held-out queries.

    python benchmarks/heldout_scorers.py --examples DS/examples_test.jsonl --prm PRM_DIR --out results/heldout

Runs the embedded Gemma 3 270M on the PRM dataset's held-out split (queries from the training
sources that no PRM was trained on) with constrained greedy and fine-grained beam search
(N=1, M=4) under each scorer (and verifier x PRM at each ``--policy-weight``), in the same
run, and prints the summary table (function-name F1, argument F1, exact call lists; cost per
item). Results resume from ``--out``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from langchain_toolprm.backends.transformers import TransformersBackend
from langchain_toolprm.core.embedded import EMBEDDED_MODEL_NAME, ensure_embedded_model
from langchain_toolprm.core.search import check_policy_weight
from langchain_toolprm.data.records import load_examples
from langchain_toolprm.evaluation.reports import summarize
from langchain_toolprm.evaluation.runner import make_scorer, run_eval
from langchain_toolprm.evaluation.specs import EvalSpec, slug


def _weights(text: str) -> list[float]:
    """``0.05,0.2`` -> [0.05, 0.2]; a bad entry is an argparse error naming it."""
    try:
        weights = [float(w) for w in text.split(",") if w.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma list of numbers: {text!r}") from None
    for w in weights:
        try:
            check_policy_weight(w)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    return weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", required=True, help="held-out ToolExample JSONL (examples_test.jsonl)")
    parser.add_argument("--prm", required=True, help="trained PRM directory (adapter or full model)")
    parser.add_argument("--out", default="results/heldout")
    parser.add_argument("--n", type=int, default=1)
    parser.add_argument("--m", type=int, default=4)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--policy-weight", type=_weights, default=[],
                        help="comma list of policy weights W: verifier x PRM rows ranked by score x p(path)^W")
    args = parser.parse_args()

    examples = load_examples(args.examples)[: args.limit]
    base = str(ensure_embedded_model())
    policy = TransformersBackend.from_pretrained(base)
    policy.name = EMBEDDED_MODEL_NAME
    policy.warm_up()
    specs = [EvalSpec("greedy")] + [
        EvalSpec("beam", scorer=s, prm=None if s == "verifier" else args.prm, n=args.n, m=args.m)
        for s in ("verifier", "prm", "combined")
    ] + [EvalSpec("beam", scorer="combined", prm=args.prm, n=args.n, m=args.m, policy_weight=w)
         for w in args.policy_weight]
    out = Path(args.out)
    paths = []
    for spec in specs:
        scorer = make_scorer(spec, prm_base=base, policy=policy)
        path = out / f"{slug(spec.name)}.jsonl"
        run_eval(examples, spec, path, policy=policy, scorer=scorer)
        paths.append(path)
    print(summarize(paths, examples=examples))  # scored by the current metrics


if __name__ == "__main__":
    main()
