"""Where the verifier's stated-format rule applies, and whether gold answers obey it (no model):

- API-Bank level 1: how many of the 399 API turns call an API with a parameter that states a
  date or time format;
- BFCL non-live: every gold value of a parameter with a stated format, and how many parse in it
  (a gold value that does not would be scored ``misformatted``). Only counted, never tuned on.

    python benchmarks/stated_formats.py
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from langchain_toolprm.agents.apibank import ApiBankEnv
from langchain_toolprm.core.verifier import stated_format
from langchain_toolprm.evaluation.agent_eval import load_turns

CATEGORIES = ("simple_python", "multiple", "parallel", "parallel_multiple")


def main() -> None:
    formatted = {t.name for t in ApiBankEnv().tools
                 if any(stated_format(k, v) for k, v in t.args.items())}
    turns = load_turns()
    print(f"API-Bank level 1: {sum(t.gold.name in formatted for t in turns)} of {len(turns)} API turns call one of "
          f"{len(formatted)} APIs with a stated format")
    import bfcl_eval

    root = Path(bfcl_eval.__file__).parent / "data"
    ok = bad = 0
    for cat in CATEGORIES:
        gold = {r["id"]: r["ground_truth"] for r in _rows(root / "possible_answer" / f"BFCL_v4_{cat}.json")}
        for item in _rows(root / f"BFCL_v4_{cat}.json"):
            for fn in item["function"]:
                for name, schema in fn["parameters"].get("properties", {}).items():
                    fmt = stated_format(name, schema)
                    accepted = [v for call in gold.get(item["id"], []) for v in call.get(fn["name"], {}).get(name, [])
                                if isinstance(v, str) and v]
                    if fmt is None or not accepted:
                        continue
                    if any(_parses(v, fmt) for v in accepted):  # BFCL accepts several spellings
                        ok += 1
                    else:
                        bad += 1
                        print(f"  {item['id']} {fn['name']}.{name} {fmt!r}: {accepted}")
    print(f"BFCL non-live: {ok} of {ok + bad} gold parameters with a stated format accept a value in it")


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
