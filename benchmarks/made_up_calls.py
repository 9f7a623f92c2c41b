"""How often the verifier calls a gold call of the training sources made up (no model; no test
set is read): a finished call whose values the conversation gives none of, inventing a number,
scores below ``[]``, so each hit here is a right call that would lose to no call.

    python benchmarks/made_up_calls.py
"""

from __future__ import annotations

import argparse

from langchain_toolprm.core.scorers import ScoringContext
from langchain_toolprm.core.steps import StepTag, segment
from langchain_toolprm.core.verifier import VerifierScorer
from langchain_toolprm.data.sources import load_training_sources


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-source", type=int, default=400, help="examples with gold calls read per source")
    parser.add_argument("--sources", default="sealtools,glaive,toolace")
    args = parser.parse_args()
    verifier = VerifierScorer()
    made_up = verifier.levels.made_up
    calls, hits = 0, []
    for report in load_training_sources(sources=args.sources.split(",")):
        for ex in [e for e in report.examples if e.gold][:args.per_source]:
            steps = segment(list(ex.gold))
            ctx = ScoringContext(tuple(ex.lc_messages()), tuple(ex.specs()))
            ends = [i for i, s in enumerate(steps) if s.tag is StepTag.FUNC_FINISH]
            calls += len(ends)
            for i, call in zip(ends, ex.gold):
                if verifier.judge(ctx, [steps[:i + 1]])[0].score == made_up:
                    hits.append((ctx.request[-90:], call))
    print(f"gold calls: {calls}; judged made up: {len(hits)} ({len(hits) / max(calls, 1):.1%})")
    for request, call in hits:
        print(f"  {call.name}({call.arguments}) for ...{request!r}")


if __name__ == "__main__":
    main()
