"""Execute every cookbook notebook on the real model and check its outputs.

New notebooks under ``cookbook/`` are picked up automatically. A notebook can list strings its
executed outputs must contain in its metadata: ``{"toolprm_test": {"expect_output": [...]}}``,
and the files of the shared data it reads (``"needs_data": ["apibank/init_database", ...]``,
relative to ``langchain_toolprm.data.records.data_dir()``): it is skipped, saying so, where one
is missing.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from langchain_toolprm.data.records import data_dir

COOKBOOK = Path(__file__).resolve().parent.parent / "cookbook"
NOTEBOOKS = sorted(COOKBOOK.glob("*.ipynb"))
CELL_TIMEOUT_S = 300

# Prepended in memory (never saved): proves the kernel runs this interpreter, so the notebook
# sees the package and dependencies under test rather than some other Python's. With ipykernel
# installed in a virtual environment, its "python3" kernelspec has argv[0] "python", which
# jupyter_client replaces by sys.executable; a user-level "python3" kernelspec pointing at
# another interpreter would shadow it, and this check says so instead of failing obscurely.
PROBE = "import sys\nprint('KERNEL_PYTHON=' + sys.prefix)"


def _text(output: nbformat.NotebookNode) -> str:
    if output.output_type == "stream":
        return output.text
    if output.output_type in ("execute_result", "display_data"):
        return str(output.get("data", {}).get("text/plain", ""))
    if output.output_type == "error":
        return "\n".join(output.traceback)
    return ""


def test_cookbook_has_notebooks() -> None:
    assert NOTEBOOKS, f"no notebooks in {COOKBOOK}"


def test_notebooks_are_saved_without_outputs() -> None:
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, f"{path.name} has saved outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    missing = [need for need in nb.metadata.get("toolprm_test", {}).get("needs_data", [])
               if not (data_dir() / need).exists()]
    if missing:
        pytest.skip(f"{path.name} reads shared data not found under {data_dir()}: {', '.join(missing)}")
    nb.cells.insert(0, nbformat.v4.new_code_cell(PROBE))
    client = NotebookClient(
        nb, kernel_name="python3", timeout=CELL_TIMEOUT_S, allow_errors=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()  # raises CellExecutionError with the traceback on the first failing cell

    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), "a code cell did not run"
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, "\n".join(_text(o) for o in errors)
    probe, *rest = code
    assert _text(probe.outputs[0]).strip() == f"KERNEL_PYTHON={sys.prefix}"

    text = "\n".join(_text(o) for c in rest for o in c.outputs)
    assert text.strip(), f"{path.name} printed nothing"
    for expected in nb.metadata.get("toolprm_test", {}).get("expect_output", []):
        assert expected in text, f"{expected!r} not in the outputs of {path.name}:\n{text}"
