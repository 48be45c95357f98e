"""Read-only MLflow registry access (mlflow-skinny): resolve the alias, read lineage, download a version."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

LINEAGE_TAGS = ("data_digest", "git_commit", "flow_run_id", "feature_list")


@dataclass(frozen=True)
class VersionRef:
    """A registered version as the registry describes it."""

    name: str
    version: str
    alias: str
    run_id: str | None
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)


class RegistryClient:
    """Talk to one MLflow registry; every call may raise when the registry is unreachable."""

    def __init__(self, tracking_uri: str, timeout_s: int) -> None:
        # Fail fast instead of MLflow's default minutes of retries: the poller retries on its own schedule.
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(timeout_s))
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        from mlflow.tracking import MlflowClient

        self.tracking_uri = tracking_uri
        self._client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)

    def current_version(self, name: str, alias: str) -> str:
        """Return the version number the alias points at (one registry call: what every poll needs)."""
        return str(self._client.get_model_version_by_alias(name, alias).version)

    def resolve(self, name: str, alias: str) -> VersionRef:
        """Return the version the alias points at, with its tags and its run's holdout metrics."""
        mv = self._client.get_model_version_by_alias(name, alias)
        metrics: dict[str, float] = {}
        if mv.run_id:
            try:
                metrics = {k: float(v) for k, v in self._client.get_run(mv.run_id).data.metrics.items()}
            except Exception:  # the run may be deleted; the version still serves
                metrics = {}
        return VersionRef(name=name, version=str(mv.version), alias=alias, run_id=mv.run_id,
                          tags=dict(mv.tags or {}), metrics=metrics)

    def download(self, ref: VersionRef, dst: Path) -> Path:
        """Download the version's MLflow model folder into `dst` (replaced atomically) and return it."""
        import mlflow.artifacts

        source = self._client.get_model_version_download_uri(ref.name, ref.version)
        dst.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{dst.name}-", dir=dst.parent))
        try:
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=source, dst_path=str(staging), tracking_uri=self.tracking_uri,
                registry_uri=self.tracking_uri,
            )
            folder = Path(local)
            if dst.exists():
                shutil.rmtree(dst)
            folder.rename(dst)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return dst
