"""Where a model came from: code version, package versions and the tags every registered version carries."""

from __future__ import annotations

import subprocess
from importlib import metadata
from pathlib import Path

PACKAGES = ("xgboost", "mlflow", "prefect", "pandas", "numpy", "pyarrow", "scikit-learn", "evidently", "xfmr-mlops")
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def git_state(root: Path = PROJECT_ROOT) -> dict[str, str]:
    """Return the commit and whether the work tree had uncommitted changes ("unknown" outside git)."""
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"git_commit": "unknown", "git_dirty": "unknown"}
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"git_commit": commit, "git_dirty": "unknown" if status is None else str(bool(status)).lower()}


def package_versions() -> dict[str, str]:
    """Return the installed versions of the packages that shape a model."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def pinned_requirements() -> list[str]:
    """Return pip requirement lines for what the pyfunc needs at load time."""
    names = ("xgboost", "pandas", "numpy", "scipy", "pyarrow", "pydantic", "mlflow")
    out = []
    for name in names:
        try:
            out.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return out
