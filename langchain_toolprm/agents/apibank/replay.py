"""The replay oracle: every recorded API call of the level-1 dialogues, run again on the tools.

Each dialogue gets a fresh :class:`~.env.ApiBankEnv` and its calls run in order, so a call that
depends on an earlier one (a verification code, a deleted account) sees the state the recording
saw. A call reproduces when its output and error text equal the recorded ones exactly; one whose
recorded output is an identifier the API draws at random (a new user token, an appointment ID)
cannot, and is counted apart when ours has the same shape. The measured table is in
``docs/apibank_tools.md``; run ``python -m langchain_toolprm.agents.apibank.replay [DATA_DIR]``.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .data import RecordedCall, apibank_dir, recorded_dialogues
from .env import ApiBankEnv, ApiResult

Verdict = Literal["exact", "random id", "differs"]
ISSUED = {"RegisterUser": re.compile(r"\{'token': '[a-z0-9]{32}'\}"), "AppointmentRegistration": re.compile(r"\d{8}")}
"""APIs whose output is a freshly drawn identifier, with the shape that identifier has."""


@dataclass(frozen=True)
class Replayed:
    call: RecordedCall
    result: ApiResult
    verdict: Verdict


def verdict(call: RecordedCall, result: ApiResult) -> Verdict:
    if result.output == call.output and result.exception == call.exception:
        return "exact"
    shape = ISSUED.get(call.api_name)
    if shape and result.ok and call.exception is None and all(
            shape.fullmatch(str(o)) for o in (call.output, result.output)):
        return "random id"
    return "differs"


def replay(data_dir: str | Path | None = None) -> list[Replayed]:
    """Replay every recorded call, each dialogue on a fresh database, in recorded order."""
    out: list[Replayed] = []
    for calls in recorded_dialogues(apibank_dir(data_dir).resolve()).values():
        env = ApiBankEnv(data_dir)
        for call in calls:
            result = env.execute(call.api_name, call.arguments)
            out.append(Replayed(call, result, verdict(call, result)))
    return out


def table(replayed: list[Replayed]) -> str:
    """A markdown table: recorded calls per API and how many reproduce."""
    counts: dict[str, Counter[str]] = {}
    for r in replayed:
        counts.setdefault(r.call.api_name, Counter())[r.verdict] += 1
    lines = ["| API | recorded calls | exact | random id | differs |", "|---|---:|---:|---:|---:|"]
    total: Counter[str] = Counter()
    for name in sorted(counts):
        c = counts[name]
        total.update(c)
        lines.append(f"| {name} | {sum(c.values())} | {c['exact']} | {c['random id']} | {c['differs']} |")
    lines.append(f"| **all {len(counts)} APIs** | {sum(total.values())} | {total['exact']} | "
                 f"{total['random id']} | {total['differs']} |")
    return "\n".join(lines)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", nargs="?", help="API-Bank's data folder (default: $TOOLPRM_APIBANK_DIR "
                                                    "or the shared data's apibank/)")
    args = parser.parse_args(argv)
    replayed = replay(args.data_dir)
    print(table(replayed))
    for r in replayed:
        if r.verdict != "exact":
            print(f"\n- {r.call.dialogue} turn {r.call.turn}: {r.call.api_name}({r.call.arguments}) [{r.verdict}]\n"
                  f"  recorded: {_show(r.call.output if r.call.exception is None else r.call.exception)}\n"
                  f"  replayed: {_show(r.result.output if r.result.ok else r.result.exception)}")


if __name__ == "__main__":
    main()
