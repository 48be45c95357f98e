"""The import rules of the design: flows -> tasks, monitoring; serving -> tasks; nothing imports flows."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# package -> top-level modules it must never import
FORBIDDEN: dict[str, set[str]] = {
    "tasks": {"flows", "serving", "monitoring", "prefect", "evidently", "fastapi", "uvicorn"},
    "serving": {"flows", "monitoring", "prefect", "evidently"},
    "monitoring": {"flows", "serving", "prefect"},
    "replay": {"flows", "monitoring", "prefect", "evidently"},
}
EVIDENTLY_ONLY_IN = "monitoring"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def _sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_respects_import_direction(package: str) -> None:
    offending = {
        str(path.relative_to(ROOT)): sorted(_imports(path) & FORBIDDEN[package])
        for path in _sources(package)
        if _imports(path) & FORBIDDEN[package]
    }
    assert offending == {}, f"{package}/ imports what the design forbids: {offending}"


def test_only_monitoring_imports_evidently() -> None:
    offending = [
        str(path.relative_to(ROOT))
        for package in ("tasks", "flows", "serving")
        for path in _sources(package)
        if "evidently" in _imports(path)
    ]
    assert offending == []


# What the scoring service imports from tasks: it must stay free of the pipeline's heavy stack.
SHARED_WITH_SERVING = ("tasks.schema", "tasks.physics", "tasks.dga", "tasks.condition", "tasks.features", "tasks.model")


def test_feature_code_imports_without_prefect_or_mlflow() -> None:
    modules = list(SHARED_WITH_SERVING)
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "bad = sorted(m for m in ('prefect', 'evidently', 'mlflow', 'fastapi') if m in sys.modules)\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "", f"importing tasks pulls in {out.stdout.strip()}"
