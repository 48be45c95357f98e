"""The import rules of the design: flows -> tasks, monitoring; serving -> tasks; nothing imports flows, and nothing
imports the composition roots (cli, demo)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# The command line and the demo compose everything else; nothing may import them.
COMPOSITION_ROOTS = {"cli", "demo"}
PACKAGES = ("tasks", "flows", "serving", "monitoring", "replay", "fleetsim", "launcher", "cli", "demo")
# package -> top-level modules it must never import
FORBIDDEN: dict[str, set[str]] = {
    "tasks": {"flows", "serving", "monitoring", "replay", "fleetsim", "launcher", "prefect", "evidently", "fastapi",
              "uvicorn", *COMPOSITION_ROOTS},
    "serving": {"flows", "monitoring", "fleetsim", "launcher", "prefect", "evidently", *COMPOSITION_ROOTS},
    "monitoring": {"flows", "serving", "prefect", *COMPOSITION_ROOTS},
    "replay": {"flows", "monitoring", "prefect", "evidently", *COMPOSITION_ROOTS},
    # The fleet simulator is a data source: it shares the domain code and nothing else.
    "fleetsim": {"flows", "serving", "monitoring", "replay", "launcher", "prefect", "evidently", "mlflow",
                 *COMPOSITION_ROOTS},
    "launcher": {"flows", "tasks", "serving", "monitoring", "prefect", "evidently", *COMPOSITION_ROOTS},
    "flows": set(COMPOSITION_ROOTS),
    "demo": {"cli"},
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


def test_nothing_imports_the_composition_roots() -> None:
    # Only the command line may start the demo (`xfmr demo`); nothing imports the command line.
    allowed = {"cli": {"cli", "demo"}, "demo": {"demo"}}
    offending = {
        str(path.relative_to(ROOT)): sorted(_imports(path) & (COMPOSITION_ROOTS - allowed.get(package, set())))
        for package in PACKAGES
        for path in _sources(package)
        if _imports(path) & (COMPOSITION_ROOTS - allowed.get(package, set()))
    }
    assert offending == {}, f"modules import the command line or the demo: {offending}"


def test_every_package_is_checked() -> None:
    on_disk = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests"}
    assert on_disk == set(PACKAGES), f"packages without import rules: {sorted(on_disk - set(PACKAGES))}"


def test_only_monitoring_imports_evidently() -> None:
    offending = [
        str(path.relative_to(ROOT))
        for package in PACKAGES
        if package != EVIDENTLY_ONLY_IN
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
