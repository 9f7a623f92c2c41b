"""The toolprm command line on a tiny model."""

from __future__ import annotations

from pathlib import Path

import pytest

from langchain_toolprm.cli import main


@pytest.mark.parametrize("argv", [["--help"], ["demo", "--help"], ["prepare", "--help"]])
def test_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    assert "usage: toolprm" in capsys.readouterr().out


def test_demo_prints_calls_and_trace(tiny_gemma_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["demo", "--model", str(tiny_gemma_path), "-q", "weather in paris?", "--m", "2"])
    out = capsys.readouterr().out
    assert code == 0
    assert "=== weather in paris?" in out
    assert "step 0:" in out and ("FUNC_NAME" in out or "TOTAL_FINISH" in out)
    assert "tool calls: [" in out and "usage: {" in out


def test_demo_missing_model_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--model", str(tmp_path / "nope"), "-q", "hi"]) == 2
    assert "no model directory" in capsys.readouterr().err


def test_demo_rejects_a_negative_policy_weight(tiny_gemma_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--model", str(tiny_gemma_path), "-q", "hi", "--policy-weight", "-1"]) == 2
    err = capsys.readouterr().err
    assert "policy_weight" in err and "greater than or equal to 0" in err
