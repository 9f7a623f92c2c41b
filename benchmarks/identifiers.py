"""How often an identifier the request writes (``verifier._IDENTIFIER``: snake_case or a file
name, not a tool's or a parameter's own name) is a gold value, on the training sources (no
model; no test set is read). The verifier counts each such identifier as an entity a call owes.

    python benchmarks/identifiers.py
"""

from __future__ import annotations

import argparse
import json
from collections import Counter

from langchain_toolprm.core.scorers import ScoringContext
from langchain_toolprm.core.verifier import _IDENTIFIER
from langchain_toolprm.data.sources import load_training_sources


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", default="sealtools,glaive,toolace")
    parser.add_argument("--show", type=int, default=5, help="identifiers no gold value holds, printed")
    args = parser.parse_args()
    counts: Counter[str] = Counter()
    for report in load_training_sources(sources=args.sources.split(",")):
        for ex in (e for e in report.examples if e.gold):
            ctx = ScoringContext(tuple(ex.lc_messages()), tuple(ex.specs()))
            own = {t.name for t in ctx.tools} | {p.name for t in ctx.tools for p in t.params}
            values = json.dumps([c.arguments for c in ex.gold])
            for m in _IDENTIFIER.finditer(ctx.request):
                if m.group(0) in own:
                    continue
                used = m.group(0) in values
                counts["in a gold value" if used else "in none"] += 1
                if not used and counts["in none"] <= args.show:
                    print(f"{m.group(0)!r} in none of {values[:160]}")
    print(f"identifiers: {sum(counts.values())}", dict(counts))


if __name__ == "__main__":
    main()
