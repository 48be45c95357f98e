"""MLflow model registry I/O: versions, the champion/challenger aliases, promotion records and rollback."""

from __future__ import annotations

import fcntl
import json
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from tasks.model import FailureModel, native_model_dir

CHAMPION = "champion"
CHALLENGER = "challenger"
PREVIOUS = "previous_champion"
T = TypeVar("T")


@dataclass(frozen=True)
class PromotionRecord:
    """What was decided about a version, why, and on what evidence (logged as JSON and as tags)."""

    action: str  # "gate", "manual_promote", "rollback"
    model_name: str
    version: str
    promoted: bool
    reason: str
    trigger: str
    champion_before: str | None
    champion_after: str | None
    details: Mapping[str, Any]
    recorded_at: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "model_name": self.model_name,
            "version": self.version,
            "promoted": self.promoted,
            "reason": self.reason,
            "trigger": self.trigger,
            "champion_before": self.champion_before,
            "champion_after": self.champion_after,
            "recorded_at": self.recorded_at,
            **dict(self.details),
        }


def retry_registry(call: Callable[[], T], attempts: int = 5, delay_s: float = 0.5) -> T:
    """Run a registry write, retrying transient conflicts (locked SQLite, concurrent creation)."""
    for attempt in range(attempts):
        try:
            return call()
        except MlflowException as exc:
            transient = any(s in str(exc).lower() for s in ("locked", "deadlock", "timeout", "connection"))
            if not transient or attempt == attempts - 1:
                raise
            time.sleep(delay_s * (2**attempt))
    raise AssertionError("unreachable")


@contextmanager
def registry_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock so at most one process registers and moves aliases at a time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure_registered_model(client: MlflowClient, name: str) -> None:
    try:
        client.get_registered_model(name)
    except MlflowException:
        try:
            client.create_registered_model(name, description="Probability that a power transformer fails within the horizon.")
        except MlflowException as exc:
            if "already exists" not in str(exc).lower() and "RESOURCE_ALREADY_EXISTS" not in str(exc):
                raise


def register_version(client: MlflowClient, name: str, source: str, run_id: str, tags: Mapping[str, str]) -> ModelVersion:
    """Register the run's logged model as a new version carrying the lineage tags."""
    ensure_registered_model(client, name)
    # A tracking server (MLflow 3.x) only accepts a models:/<model id> source together with that model id.
    model_id = source.removeprefix("models:/") if source.startswith("models:/m-") else None
    version = retry_registry(
        lambda: client.create_model_version(name, source, run_id=run_id, tags=dict(tags), model_id=model_id)
    )
    return version


def alias_version(client: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    """Return the version an alias points at, or None when the alias is not set."""
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def download_version(client: MlflowClient, name: str, version: str, dst: Path) -> Path:
    """Download a version's model folder and return the path of the native failure model inside it."""
    dst.mkdir(parents=True, exist_ok=True)
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{name}/{version}", dst_path=str(dst)))
    return native_model_dir(local)


def load_version(client: MlflowClient, name: str, version: str, work_dir: Path) -> FailureModel:
    """Load a registered version's native XGBoost model (no pickle)."""
    return FailureModel.load(download_version(client, name, version, work_dir / f"v{version}"))


def write_record(client: MlflowClient, record: PromotionRecord, run_id: str | None) -> str:
    """Log the record as a JSON artifact of the version's run and tag the version with the decision."""
    stamp = record.recorded_at.replace(":", "").replace("-", "")
    artifact = f"promotion/{record.action}-v{record.version}-{stamp}.json"
    if run_id:
        retry_registry(lambda: client.log_text(run_id, json.dumps(record.as_dict(), indent=2, default=str), artifact))
    tags = {
        "gate.decision": "promoted" if record.promoted else "rejected",
        "gate.reason": record.reason[:4000],
        "gate.trigger": record.trigger,
        "gate.record": artifact,
        "gate.recorded_at": record.recorded_at,
    }
    for key, value in tags.items():
        retry_registry(lambda k=key, v=value: client.set_model_version_tag(record.model_name, record.version, k, v))
    return artifact


def move_champion(client: MlflowClient, name: str, version: str) -> str | None:
    """Point @champion at `version`, keeping the old champion as @previous_champion; return the old one."""
    current = alias_version(client, name, CHAMPION)
    before = str(current.version) if current is not None else None
    if before is not None and before != str(version):
        retry_registry(lambda: client.set_registered_model_alias(name, PREVIOUS, before))
    retry_registry(lambda: client.set_registered_model_alias(name, CHAMPION, str(version)))
    return before


def now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def promote(client: MlflowClient, name: str, version: str, reason: str, actor: str = "operator") -> PromotionRecord:
    """Make `version` the champion by hand, recorded like a gate decision."""
    mv = retry_registry(lambda: client.get_model_version(name, str(version)))
    before = move_champion(client, name, str(version))
    record = PromotionRecord(
        action="manual_promote", model_name=name, version=str(version), promoted=True, reason=reason,
        trigger="manual", champion_before=before, champion_after=str(version),
        details={"actor": actor}, recorded_at=now_utc(),
    )
    write_record(client, record, mv.run_id)
    return record


def rollback(client: MlflowClient, name: str, reason: str, actor: str = "operator") -> PromotionRecord:
    """Restore @previous_champion as @champion (the current champion becomes @previous_champion)."""
    previous = alias_version(client, name, PREVIOUS)
    if previous is None:
        raise ValueError(f"model '{name}' has no @{PREVIOUS} to roll back to")
    target = str(previous.version)
    before = move_champion(client, name, target)
    record = PromotionRecord(
        action="rollback", model_name=name, version=target, promoted=True, reason=reason,
        trigger="manual", champion_before=before, champion_after=target,
        details={"actor": actor}, recorded_at=now_utc(),
    )
    write_record(client, record, previous.run_id)
    return record
