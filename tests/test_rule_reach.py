"""benchmarks/rule_reach.py: the items two verifiers read otherwise (--against), or whose answer a rule judges."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("rule_reach", ROOT / "benchmarks" / "rule_reach.py")
assert spec is not None and spec.loader is not None
reach = importlib.util.module_from_spec(spec)
spec.loader.exec_module(reach)

from langchain_toolprm.data.records import ToolExample  # noqa: E402

BATTING = {"type": "function", "function": {"name": "calculate_batting_average", "description": "Batting average",
                                            "parameters": {"type": "object", "properties": {
                                                "hits": {"type": "integer"}, "at_bats": {"type": "integer"}},
                                                "required": ["hits", "at_bats"]}}}
ITEM = ToolExample("b-0", "test", ({"role": "user", "content": "A player with 180 hits and 600 at-bats."},),
                   (BATTING,), ())


def checkout(tmp_path: Path, appended: str) -> Path:
    """A copy of this checkout's verifier with ``appended`` at its end (a reading changed)."""
    core = tmp_path / "langchain_toolprm" / "core"
    core.mkdir(parents=True)
    (core / "verifier.py").write_text((ROOT / "langchain_toolprm" / "core" / "verifier.py").read_text() + appended)
    return tmp_path


def test_the_same_verifier_reads_every_item_alike() -> None:
    assert reach.read_otherwise(ITEM, reach.verifier_of(ROOT)) == []


@pytest.mark.parametrize(("appended", "reading"), [
    ("\ndef relevance(request, tool):\n    return 0.0\n", "relevance"),
    ("\n_Facts.tied_to = lambda self, param: []\n", "ties"),
    ("\n_Facts.opening = lambda self, value: len(value) > 3\n", "opening"),
    ("\n_Facts.entities = property(lambda self: [])\n", "entities"),
])
def test_a_changed_reading_is_found(tmp_path: Path, appended: str, reading: str) -> None:
    assert reach.read_otherwise(ITEM, reach.verifier_of(checkout(tmp_path, appended))) == [reading]


def test_a_folder_without_the_package_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="no verifier at"):
        reach.verifier_of(tmp_path)


def test_an_answer_with_a_sign_the_request_does_not_write_is_reached() -> None:
    def answer(hits: object) -> dict:
        return {"calls": [{"name": "calculate_batting_average", "arguments": {"hits": hits, "at_bats": 600}}]}

    assert "stray signs" in reach.answered(ITEM, answer(">180"))
    assert "stray signs" not in reach.answered(ITEM, answer("180"))
    assert "stray signs" not in reach.answered(ITEM, answer("at-bats"))


def test_an_answer_with_a_name_where_a_code_is_asked_is_reached() -> None:
    holidays = {"type": "function", "function": {
        "name": "next_holidays", "description": "The next public holidays", "parameters": {"type": "object", "properties": {
            "countryCode": {"type": "string", "description": "Two-character country code, e.g. CN"}},
            "required": ["countryCode"]}}}
    item = ToolExample("h-0", "test", ({"role": "user", "content": "The next holidays in Japan?"},), (holidays,), ())

    def answer(code: str) -> dict:
        return {"calls": [{"name": "next_holidays", "arguments": {"countryCode": code}}]}

    assert "not codes" in reach.answered(item, answer("Japan"))
    assert "not codes" not in reach.answered(item, answer("JP"))
