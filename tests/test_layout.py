"""The package's shape: the runtime (core/) imports none of the subpackages around it, and the
proposer knows nothing of torch, so any backend can serve the search."""

from __future__ import annotations

import ast
from pathlib import Path

import langchain_toolprm

PACKAGE = Path(langchain_toolprm.__file__).parent
AROUND = ("backends", "data", "training", "evaluation", "agents")


def _imports(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved)."""
    package = path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = list(package[: len(package) - node.level + 1]) if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            names.add(module)
            names.update(f"{module}.{a.name}" for a in node.names)
    return names


def test_core_imports_nothing_around_it() -> None:
    for path in sorted((PACKAGE / "core").glob("*.py")):
        bad = {n for n in _imports(path) for sub in AROUND if n.startswith(f"langchain_toolprm.{sub}")}
        assert not bad, f"{path.name} imports {sorted(bad)}"


def test_the_proposer_and_search_know_no_torch() -> None:
    for name in ("proposer.py", "search.py", "backend.py", "engine.py"):
        found = {n for n in _imports(PACKAGE / "core" / name) if n.split(".")[0] in ("torch", "transformers")}
        assert not found, f"core/{name} imports {sorted(found)}"


def test_the_check_sees_relative_imports() -> None:
    """The import reader resolves ``from ..backends import x`` (so the checks above can fail)."""
    names = _imports(PACKAGE / "backends" / "transformers.py")
    assert "langchain_toolprm.core.backend" in names
