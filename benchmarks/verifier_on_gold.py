"""The verifier's lowest step score along each gold call list of the training sources (no
model): how often a right answer would lose to ``[]`` if ``[]`` scored X when a tool is relevant,
and which rules pull gold lists down; and how many gold values the value rules meant for wrong
values (schema copy, misformatted, a word that is no unit, another task's value, a token nothing
issued) score, by reason, and how many gold names are scored premature or held back for another
function's call (their false alarms).

    python benchmarks/verifier_on_gold.py --per-source 400
"""

from __future__ import annotations

import argparse
from collections import Counter

from langchain_toolprm.core.scorers import ScoringContext
from langchain_toolprm.core.steps import StepTag, segment
from langchain_toolprm.core.verifier import (
    CALLED_AGAIN,
    FUNCTION_WORDS,
    HOLDS_NUMBER,
    KIND_FOR_NAME,
    KIND_WORDS,
    NOT_A_CODE,
    NOT_A_UNIT,
    ONE_THING,
    OTHER_TASK,
    PREMATURE,
    SOURCE_UNIT,
    SPAN_NAMED,
    STRAY_SIGN,
    TOKEN_PARAM,
    UNISSUED,
    UNSCALED,
    WRONG_END,
    VerifierScorer,
    named_spans,
)
from langchain_toolprm.data.sources import load_training_sources


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-source", type=int, default=400, help="gold lists read per source")
    parser.add_argument("--sources", default="sealtools,glaive,toolace")
    args = parser.parse_args()
    verifier = VerifierScorer()
    lows = []
    values = 0
    alarms: Counter[str] = Counter()
    again: Counter[str] = Counter()  # gold names of a function called already, held back for another
    tokens = Counter()  # what the token rules can act on: gold token values, gold lists offering a token
    spans: Counter[str] = Counter()  # gold numbers of a parameter the request names a span of time for
    for report in load_training_sources(sources=args.sources.split(",")):
        for ex in [e for e in report.examples if e.gold][:args.per_source]:
            steps = segment(list(ex.gold))
            ctx = ScoringContext(tuple(ex.lc_messages()), tuple(ex.specs()))
            judged = verifier.judge(ctx, [steps[:i + 1] for i in range(len(steps))])
            lows.append(min(judged, key=lambda j: j.score))
            tokens["lists offering a token parameter"] += any(TOKEN_PARAM.search(p.name) for t in ctx.tools for p in t.params)
            current = None
            for step, j in zip(steps, judged, strict=True):
                current = step.name if step.tag is StepTag.FUNC_NAME else current
                if j.reason.startswith(PREMATURE):
                    alarms["premature"] += 1
                if j.reason.startswith(CALLED_AGAIN):
                    again["a part waits" if "part of the request" in j.reason else "a named function waits"] += 1
                if j.reason == ONE_THING:
                    again["one thing asked"] += 1
                if step.tag is StepTag.ARG_VALUE:
                    values += 1
                    tokens["token values"] += bool(TOKEN_PARAM.search(step.name or ""))
                    tool = next((t for t in ctx.tools if t.name == current), None)
                    param = tool.param(step.name or "") if tool else None
                    if param and named_spans(ctx.request, param.name, param.schema):
                        spans["the span" if j.reason.startswith(SPAN_NAMED) else "another value"] += 1
                    named = next((r for r in (NOT_A_UNIT, OTHER_TASK, UNISSUED, SOURCE_UNIT, HOLDS_NUMBER,
                                                    UNSCALED, WRONG_END, KIND_FOR_NAME, FUNCTION_WORDS, KIND_WORDS,
                                                    STRAY_SIGN, NOT_A_CODE)
                                  if j.reason.startswith(r)), None)
                    if named or j.score in (verifier.levels.schema_copy, verifier.levels.misformatted):
                        alarms[named or j.reason.split("'")[0][:50]] += 1
    print(f"{len(lows)} gold call lists")
    for x in (0.3, 0.45, 0.5, 0.6, 0.7, 0.75, 0.8):
        print(f"[] at {x}: gold lists scoring below it {sum(j.score < x for j in lows) / len(lows):.1%}")
    print(Counter(j.reason.split("'")[0][:40] for j in lows if j.score < 0.7).most_common(8))
    print(f"{values} gold values; scored schema copy, misformatted, no unit, another task's, unissued, the "
          f"wrong end of a conversion, words holding another argument's number, a number without its "
          f"magnitude, the other end of a way, the tool's words for a thing the request names, the function's name words, some of the parameter's name words, "
          f"a sign the request does not write, no code where the parameter takes one, or a premature name: {sum(alarms.values())}",
          dict(alarms.most_common()))
    print("gold the token rules can act on:", dict(tokens))
    print("gold names scored 'called already' (a second call while another function waits) or a second call "
          "where the request asks for one thing:", dict(again))
    print("gold values of a parameter the request names a span of time for (\"next week\"):", dict(spans))


if __name__ == "__main__":
    main()
