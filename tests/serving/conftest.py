"""Serving fixtures: a real MLflow registry in a temp folder holding tiny real models (good, corrupt, mismatched)."""

from __future__ import annotations

import itertools
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from serving.auth import hash_key
from serving.settings import ServingSettings
from tests.serving.factory import (
    LoggedModel,
    corrupt_booster,
    drop_feature,
    log_pyfunc_model,
    log_variant,
    tracking,
    train_tiny_model,
)

os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
API_KEY = "test-key-primary"
ROTATED_KEY = "test-key-rotated"


@dataclass
class Registry:
    """A real MLflow registry (SQLite + local artifacts) in a temp folder."""

    uri: str
    root: Path
    logged: dict[str, LoggedModel]
    _names: Iterator[int]

    def client(self) -> Any:
        """Return a client of this registry (use inside `with registry.active():`)."""
        from mlflow.tracking import MlflowClient

        return MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)

    def new_model(self, *kinds: str, champion: int | None = 1) -> str:
        """Register the given kinds as versions 1..n of a fresh model name; point @champion at `champion`."""
        name = f"xfmr_test_{next(self._names)}"
        with tracking(self.uri):
            client = self.client()
            client.create_registered_model(name)
            for kind in kinds:
                self.add_version(name, kind)
            if champion is not None:
                client.set_registered_model_alias(name, "champion", str(champion))
        return name

    def add_version(self, name: str, kind: str) -> str:
        logged = self.logged[kind]
        with tracking(self.uri):
            mv = self.client().create_model_version(
                name, logged.model_uri, run_id=logged.run_id,
                tags={"data_digest": f"digest-{kind}", "git_commit": "abc123", "flow_run_id": "test", "feature_list": kind},
            )
        return str(mv.version)

    def set_champion(self, name: str, version: str) -> None:
        with tracking(self.uri):
            self.client().set_registered_model_alias(name, "champion", str(version))


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    """Log a good model, a second good one, one with a truncated booster and one with a different feature list."""
    import mlflow

    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    with tracking(uri), tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        experiment = mlflow.create_experiment("serving-tests", artifact_location=(root / "artifacts").as_uri())
        mlflow.set_experiment(experiment_id=experiment)
        good = log_pyfunc_model(train_tiny_model(seed=0), work)
        base = Path(mlflow.artifacts.download_artifacts(good.model_uri, dst_path=str(work / "base")))
        logged = {
            "good": good,
            "good_b": log_variant("good_b", base, train_tiny_model(seed=1), None, work),
            "corrupt": log_variant("corrupt", base, None, corrupt_booster, work),
            "features": log_variant("features", base, None, drop_feature, work),
        }
    return Registry(uri=uri, root=root, logged=logged, _names=itertools.count(1))


def make_settings(tmp_path: Path, registry_uri: str, model_name: str, **overrides: Any) -> ServingSettings:
    """Build the real settings, shrunk for tests: fast polling and log flushing, state in tmp_path."""
    values: dict[str, Any] = {
        "api_keys": f"{hash_key(API_KEY)},{hash_key(ROTATED_KEY)}",
        "MLFLOW_TRACKING_URI": registry_uri,
        "model_name": model_name,
        "home": tmp_path / "home",
        "poll_interval_s": 0.2,
        "log_flush_interval_s": 0.2,
        "registry_timeout_s": 2,
    }
    values.update(overrides)
    return ServingSettings(**values)


def auth(key: str = API_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
