"""Where the verifier's stated-format and stated-scale rules apply, and whether gold answers obey
them (no model):

- training sources (Seal-Tools, glaive, ToolACE; where the scale rule was decided): every gold
  number that is a percentage of its request ("4%" as 4 or 0.04), by what its parameter states
  (a decimal, or nothing or a percentage), and how many the rule would score ``misformatted``;
- API-Bank level 1: how many of the 399 API turns call an API with a parameter that states a
  date or time format;
- BFCL non-live: every gold value of a parameter with a stated format, and how many parse in it
  (a gold value that does not would be scored ``misformatted``), and the same for gold
  percentages against a stated scale. Only counted, never tuned on.

    python benchmarks/stated_formats.py
"""

from __future__ import annotations

import json
import math
from collections import Counter
from datetime import datetime
from pathlib import Path

from langchain_toolprm.agents.apibank import ApiBankEnv
from langchain_toolprm.core.verifier import _misscaled, asks_decimal, percents, stated_format
from langchain_toolprm.data.sources import load_training_sources
from langchain_toolprm.evaluation.agent_eval import load_turns

CATEGORIES = ("simple_python", "multiple", "parallel", "parallel_multiple")


def scales(rows: list[tuple[str, list[float], dict, list]]) -> str:
    """``rows``: (source, the request's percentages, a parameter's schema, its accepted gold
    numbers). Counts gold percentages by what the parameter asks for: as the number, as the fraction, and how
    many the rule scores misformatted (none of the accepted values on the stated scale)."""
    n: Counter[tuple[str, str, str]] = Counter()
    for source, said, schema, accepted in rows:
        nums = [float(v) for v in accepted if isinstance(v, (int, float)) and not isinstance(v, bool)]
        shares = [v for v in nums if any(math.isclose(v, p) or math.isclose(v * 100, p) for p in said if p)]
        if not shares:
            continue
        scale = "a decimal" if asks_decimal(schema) else "nothing or a percentage"
        as_number = any(any(math.isclose(v, p) for p in said) for v in shares)
        n[(source, scale, "as the number" if as_number else "as the fraction")] += 1
        n[(source, scale, "misformatted")] += all(_misscaled(v, schema, said) for v in shares)
    lines = ["| source | stated | as the number | as the fraction | scored misformatted |", "|---|---|---:|---:|---:|"]
    for source, scale in sorted({k[:2] for k in n}):
        lines.append(f"| {source} | {scale} | {n[(source, scale, 'as the number')]} | "
                     f"{n[(source, scale, 'as the fraction')]} | {n[(source, scale, 'misformatted')]} |")
    return "\n".join(lines)


def training_rows() -> list[tuple[str, list[float], dict, list]]:
    rows = []
    for report in load_training_sources():
        for ex in report.examples:
            said = percents(" ".join(str(m.get("content", "")) for m in ex.messages if m.get("role") == "user"))
            if not said or not ex.gold:
                continue
            specs = {s.name: s for s in ex.specs()}
            for call in ex.gold:
                for name, value in call.arguments.items():
                    param = specs[call.name].param(name) if call.name in specs else None
                    if param is not None:
                        rows.append((report.source, said, param.schema, [value]))
    return rows


def main() -> None:
    print("Training sources, gold percentages by stated scale:")
    print(scales(training_rows()))
    formatted = {t.name for t in ApiBankEnv().tools
                 if any(stated_format(k, v) for k, v in t.args.items())}
    turns = load_turns()
    print(f"API-Bank level 1: {sum(t.gold.name in formatted for t in turns)} of {len(turns)} API turns call one of "
          f"{len(formatted)} APIs with a stated format")
    import bfcl_eval

    root = Path(bfcl_eval.__file__).parent / "data"
    ok = bad = 0
    shares = []
    for cat in CATEGORIES:
        gold = {r["id"]: r["ground_truth"] for r in _rows(root / "possible_answer" / f"BFCL_v4_{cat}.json")}
        for item in _rows(root / f"BFCL_v4_{cat}.json"):
            said = percents(json.dumps(item["question"]))
            for fn in item["function"]:
                for name, schema in fn["parameters"].get("properties", {}).items():
                    values = [v for call in gold.get(item["id"], []) for v in call.get(fn["name"], {}).get(name, [])]
                    if said:
                        shares.append(("BFCL", said, {**schema, "type": _json_type(schema.get("type"))}, values))
                    fmt = stated_format(name, schema)
                    accepted = [v for v in values if isinstance(v, str) and v]
                    if fmt is None or not accepted:
                        continue
                    if any(_parses(v, fmt) for v in accepted):  # BFCL accepts several spellings
                        ok += 1
                    else:
                        bad += 1
                        print(f"  {item['id']} {fn['name']}.{name} {fmt!r}: {accepted}")
    print(f"BFCL non-live: {ok} of {ok + bad} gold parameters with a stated format accept a value in it")
    print("BFCL non-live, gold percentages by stated scale (counted only):")
    print(scales(shares))


def _json_type(kind: object) -> object:
    """BFCL's Python type names as JSON Schema's ("float" is "number")."""
    return {"float": "number", "int": "integer", "dict": "object", "list": "array", "tuple": "array"}.get(kind, kind)


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _parses(value: str, fmt: str) -> bool:
    try:
        datetime.strptime(value.strip(), fmt)
    except ValueError:
        return False
    return True


if __name__ == "__main__":
    main()
