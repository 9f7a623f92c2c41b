"""The toolprm command line on a tiny model (eval and grid on a tiny BFCL category)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from langchain_toolprm.cli import main
from langchain_toolprm.data.records import ToolExample


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


@pytest.mark.parametrize("command", ["demo", "eval", "grid", "build-dataset", "train-prm", "eval-prm"])
def test_help_is_plain_text_with_defaults(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--help"], [command, "--help"]):
        with pytest.raises(SystemExit):
            main(argv)
        out = capsys.readouterr().out
        assert "``" not in out and "(default: None)" not in out and "(default: False)" not in out
    if command == "demo":
        options = {entry.split()[0]: " ".join(entry.split()) for entry in out.split("\n  --")[1:]}
        assert "(default: 1)" in options["n"] and "(default: 4)" in options["m"]
        assert "(default: beam)" in options["strategy"]
    else:
        assert "(default: " in out


def one_error_line(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("toolprm: error: "), err
    return lines[0]


def test_prepare_with_a_cache_that_cannot_be_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("TOOLPRM_CACHE", str(tmp_path / "a-file" / "cache"))
    assert main(["prepare"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert str(tmp_path / "a-file") in line and "TOOLPRM_CACHE" in line


def test_prepare_checks_every_digest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    from langchain_toolprm.core import embedded

    monkeypatch.setenv("TOOLPRM_CACHE", str(tmp_path))
    cache = embedded.cache_dir()
    cache.mkdir()
    (cache / "model.safetensors").write_bytes(b"weights")
    embedded._write_manifest(cache)
    assert main(["prepare"]) == 0 and capsys.readouterr().out.strip() == str(cache)
    # Corrupted in place at the same size, its stamp and mtime restored: prepare still hashes.
    stamp = (cache / ".toolprm-verified.json").read_bytes()
    (cache / "model.safetensors").write_bytes(b"weighTs")
    (cache / ".toolprm-verified.json").write_bytes(stamp)
    assert main(["prepare"]) == 2
    assert "prepare --force" in one_error_line(capsys.readouterr().err)


def test_os_errors_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    from langchain_toolprm import cli

    def denied(args: object) -> int:
        raise PermissionError(13, "Permission denied", str(tmp_path / "x"))

    monkeypatch.setattr(cli, "_prepare", denied)
    assert main(["prepare"]) == 2
    assert "Permission denied" in one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize(("option", "value"), [("--limit", "-1"), ("--limit", "0"), ("--k", "0"), ("--k", "x")])
def test_build_dataset_rejects_nonsense_counts(option: str, value: str, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["build-dataset", "--out", str(tmp_path / "ds"), option, value])
    assert exit_info.value.code == 2
    assert f"argument {option}:" in capsys.readouterr().err
    assert not (tmp_path / "ds").exists()  # refused before any work


# ---- eval and grid ------------------------------------------------------------------------------
def test_cli_eval_end_to_end_and_resume(tmp_path: Path, tiny_gemma_path: Path, tiny_bfcl_dir: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["eval", "--benchmark", "bfcl", "--category", "simple_python", "--strategy", "greedy",
            "--strategy", "beam,best_of_n,majority", "--M", "2", "--limit", "2", "--model", str(tiny_gemma_path),
            "--data-dir", str(tiny_bfcl_dir), "--out", str(tmp_path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "### bfcl" in out and "| simple_python | greedy | 2 |" in out and "| simple_python | best_of_n 2 verifier | 2 |" in out
    folder = tmp_path / "bfcl" / "simple_python"
    assert sorted(p.name for p in folder.iterdir()) == ["beam_N=1_M=2_verifier.jsonl", "best_of_n_2_verifier.jsonl",
                                                        "greedy.jsonl", "majority_2_verifier.jsonl"]
    votes = [json.loads(x) for x in (folder / "majority_2_verifier.jsonl").open()]
    assert [r["same_search_as"] for r in votes] == [["best_of_n 2 verifier"]] * 2  # one set of samples for both
    before = {p: p.read_text() for p in folder.iterdir()}
    assert main(argv) == 0  # resumed: nothing to do, nothing appended
    assert {p: p.read_text() for p in folder.iterdir()} == before


def test_cli_limit_zero_runs_every_item(tmp_path: Path, tiny_gemma_path: Path, tiny_bfcl_dir: Path,
                                        tiny_bfcl: list[ToolExample]) -> None:
    argv = ["eval", "--benchmark", "bfcl", "--category", "simple_python", "--strategy", "greedy", "--limit", "0",
            "--model", str(tiny_gemma_path), "--data-dir", str(tiny_bfcl_dir), "--out", str(tmp_path)]
    assert main(argv) == 0
    lines = (tmp_path / "bfcl" / "simple_python" / "greedy.jsonl").read_text().splitlines()
    assert len(lines) == len(tiny_bfcl) == 2  # every item, where a --limit of 0 once loaded none


def test_cli_shards_split_a_run_and_read_back_together(tmp_path: Path, tiny_gemma_path: Path, tiny_bfcl_dir: Path,
                                                       tiny_bfcl: list[ToolExample],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    base = ["eval", "--benchmark", "bfcl", "--category", "simple_python", "--strategy", "greedy", "--limit", "0",
            "--model", str(tiny_gemma_path), "--data-dir", str(tiny_bfcl_dir), "--out", str(tmp_path)]
    for k in (0, 1):
        assert main([*base, "--shard", f"{k}/2"]) == 0
    folder = tmp_path / "bfcl" / "simple_python"
    ids = [[json.loads(line)["id"] for line in (folder / f"greedy.shard-{k}-of-2.jsonl").read_text().splitlines()]
           for k in (0, 1)]
    assert ids == [[tiny_bfcl[0].id], [tiny_bfcl[1].id]]  # every other item, each in its own file
    assert "| simple_python | greedy | 2 |" in capsys.readouterr().out  # the summary counts both shards
    with pytest.raises(SystemExit) as exit_info:
        main([*base, "--shard", "2/2"])
    assert exit_info.value.code == 2 and "K must be at least 0 and below N" in capsys.readouterr().err


def test_cli_grid(tmp_path: Path, tiny_gemma_path: Path, tiny_bfcl_dir: Path,
                  capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["grid", "--benchmark", "bfcl", "--category", "simple_python", "--N", "1", "--M", "1,2", "--limit", "1",
            "--model", str(tiny_gemma_path), "--data-dir", str(tiny_bfcl_dir), "--out", str(tmp_path)]
    assert main(argv) == 0
    folder = tmp_path / "bfcl" / "simple_python"
    assert (folder / "grid.png").exists() and (folder / "grid.md").exists()
    assert "beam N=1 M=2 verifier" in capsys.readouterr().out


@pytest.mark.parametrize(("args", "message"), [
    (["--benchmark", "bfcl", "--category", "simple_python,nope"], "unknown BFCL category nope"),
    (["--benchmark", "bfcl", "--category", "simple_python", "--strategy", "greedy,sampling"], "unknown strategy 'sampling'"),
    (["--benchmark", "bfcl", "--category", "simple_python", "--data-dir", "{tmp}/missing"], "BFCL data not found"),
    (["--benchmark", "toolalpaca", "--data-dir", "{tmp}"], "missing data file"),
    (["--benchmark", "toolalpaca", "--category", "simple_python"], "toolalpaca has no categories"),
    (["--benchmark", "bfcl", "--scorer", "{tmp}/no-prm"], "no PRM at"),
    (["--benchmark", "bfcl", "--scorer", "tiebreak:{tmp}/no-head"], "no PRM at {tmp}/no-head"),
    (["--benchmark", "bfcl", "--category", "simple_python", "--N", "0"], "at least 1"),
    (["--benchmark", "bfcl", "--category", "simple_python", "--limit", "-1"], "--limit must be 0"),
])
def test_cli_errors_are_clear(args: list[str], message: str, tmp_path: Path, tiny_gemma_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["eval", *(a.format(tmp=tmp_path) for a in args), "--model", str(tiny_gemma_path), "--out", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("toolprm eval: error:") and message.format(tmp=tmp_path) in err


def test_cli_unknown_benchmark(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["eval", "--benchmark", "nope"])
    assert exit_info.value.code == 2 and "invalid choice: 'nope'" in capsys.readouterr().err


def test_cli_eval_over_a_folder_is_one_error_line(tmp_path: Path, tiny_gemma_path: Path, tiny_bfcl_dir: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bfcl" / "simple_python" / "greedy.jsonl").mkdir(parents=True)
    argv = ["eval", "--benchmark", "bfcl", "--category", "simple_python", "--strategy", "greedy", "--limit", "1",
            "--model", str(tiny_gemma_path), "--data-dir", str(tiny_bfcl_dir), "--out", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err  # after the model's loading bar
    last = err.strip().splitlines()[-1]
    assert last.startswith("toolprm: error:") and "greedy.jsonl is not a results file" in last
    assert "Traceback" not in err
