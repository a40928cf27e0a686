"""The layering of docs/architecture.md, checked: import contracts, direct imports, sizes."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bridge", "radicale_plugin")
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60
COMPOSITION = "bridge/wsgi.py"  # the one module where Flask meets Radicale


def _sources() -> list[Path]:
    return [path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))
            if "migrations" not in path.parts]


def _imported_roots(path: Path) -> set[str]:
    """Top-level packages a module imports directly (relative imports stay inside)."""
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    # a Flask extension is Flask, an Alembic migration is SQLAlchemy
    aliases = {"flask_openapi3": "flask", "alembic": "sqlalchemy"}
    return roots | {aliases[root] for root in roots if root in aliases}


def test_import_contracts_are_kept() -> None:
    linter = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(linter), "--no-cache"], cwd=ROOT, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


@pytest.mark.parametrize(("first", "second", "allowed"), [
    ("sqlalchemy", "flask", set()),
    ("sqlalchemy", "radicale", set()),
    ("flask", "radicale", {COMPOSITION}),
])
def test_no_module_imports_two_worlds(first: str, second: str, allowed: set[str]) -> None:
    both = {str(path.relative_to(ROOT)) for path in _sources()
            if {first, second} <= _imported_roots(path)}
    assert both <= allowed, f"{sorted(both - allowed)} import both {first} and {second}"


def test_modules_and_functions_stay_small() -> None:
    too_long: list[str] = []
    for path in _sources():
        text = path.read_text()
        name = str(path.relative_to(ROOT))
        if text.count("\n") > MAX_MODULE_LINES:
            too_long.append(f"{name}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{name}:{node.lineno} {node.name}: {length} lines")
    assert not too_long, "\n".join(too_long)
