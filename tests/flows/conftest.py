"""Flow-test fixtures: one Prefect test harness per session, MLflow and XFMR_HOME in a temp folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tasks.config import LabelSettings, ModelSettings, SplitSettings, TrainingConfig

# The real config, shrunk: fewer trees and shorter windows so a tiny fleet trains in seconds.
SMALL_CONFIG = TrainingConfig(
    labels=LabelSettings(horizon_days=90, snapshot_freq_days=14),
    split=SplitSettings(holdout_days=150, validation_days=150),
    model=ModelSettings(n_estimators=120, early_stopping_rounds=20, learning_rate=0.1),
)
TINY_FLEET = {"assets": 60, "years": 2.5, "seed": 3, "failure_rate": 0.25}


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture()
def xfmr_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "xfmr"
    monkeypatch.setenv("XFMR_HOME", str(home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{home / 'mlflow.db'}")
    home.mkdir(parents=True, exist_ok=True)
    return home


@pytest.fixture(scope="session")
def tiny_fleet(make_fleet) -> Path:  # type: ignore[no-untyped-def]
    return make_fleet(**TINY_FLEET)
