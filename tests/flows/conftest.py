"""Flow-test fixtures: one Prefect test harness per session, MLflow and XFMR_HOME in a temp folder."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tasks.config import LabelSettings, ModelSettings, SplitSettings, TrainingConfig

# The real config, shrunk: fewer trees and shorter windows so a tiny fleet trains in seconds.
SMALL_CONFIG = TrainingConfig(
    labels=LabelSettings(horizon_days=90, snapshot_freq_days=14),
    split=SplitSettings(holdout_days=180, validation_days=240),
    model=ModelSettings(n_estimators=120, early_stopping_rounds=20, learning_rate=0.1),
)
TINY_FLEET = {"assets": 120, "years": 3.0, "seed": 3, "failure_rate": 0.12}


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@contextmanager
def isolated_home(home: Path) -> Iterator[Path]:
    """Point XFMR_HOME (and so MLflow's SQLite store and artifacts) at `home` for the duration."""
    import mlflow

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XFMR_HOME", str(home))
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        home.mkdir(parents=True, exist_ok=True)
        mlflow.set_tracking_uri(f"sqlite:///{home / 'mlflow.db'}")
        yield home


@pytest.fixture()
def xfmr_home(tmp_path: Path) -> Iterator[Path]:
    with isolated_home(tmp_path / "xfmr") as home:
        yield home


@pytest.fixture(scope="session")
def tiny_fleet(make_fleet) -> Path:  # type: ignore[no-untyped-def]
    return make_fleet(**TINY_FLEET)
