"""bench/ and scripts/ stand alone: they import nothing from tests/ (issue 22, item 5)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SOURCES = sorted([*(REPO / "bench").glob("*.py"), *(REPO / "scripts").glob("*.py")])


def imported_modules(path: Path) -> list[str]:
    """Every module name ``path`` imports (absolute imports only; relative ones stay inside)."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_imports_nothing_from_tests(path: Path) -> None:
    offending = [m for m in imported_modules(path) if m == "tests" or m.startswith("tests.")]
    assert not offending, f"{path.relative_to(REPO)} imports {offending}"
