"""Shared fixtures: tiny generated fleets, built once per test session and shared read-only."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

FleetFactory = Callable[..., Path]
_MLFLOW_HTTP = ("MLFLOW_HTTP_REQUEST_", "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR")


@pytest.fixture(scope="session")
def make_fleet(tmp_path_factory: pytest.TempPathFactory) -> FleetFactory:
    """Return a factory `make_fleet(assets=50, years=1, seed=0, **config)` -> folder of Parquet tables.

    Fleets are cached by their arguments for the session; treat the folder as read-only
    (copy it first when a test must change files).
    """
    from fleetsim import GeneratorConfig, generate_fleet

    cache: dict[tuple[object, ...], Path] = {}

    def factory(assets: int = 50, years: float = 1.0, seed: int = 0, **config: object) -> Path:
        key = (assets, years, seed, tuple(sorted(config.items())))
        if key not in cache:
            out = tmp_path_factory.mktemp(f"fleet-{assets}-{seed}")
            generate_fleet(GeneratorConfig(assets=assets, years=years, seed=seed, **config), out)  # type: ignore[arg-type]
            cache[key] = out
        return cache[key]

    return factory


@pytest.fixture(scope="module", autouse=True)
def _mlflow_http_settings_stay_in_their_module() -> Iterator[None]:
    """Undo the MLflow HTTP settings a module's in-process scoring service put in the environment.

    The service shortens MLflow's request timeout and retries for its own process (serving.registry_client);
    left in the test process, a later module's registry calls would time out after 2 s and be retried,
    registering one version twice.
    """
    before = {k: v for k, v in os.environ.items() if k.startswith(_MLFLOW_HTTP)}
    yield
    for key in [k for k in os.environ if k.startswith(_MLFLOW_HTTP)]:
        del os.environ[key]
    os.environ.update(before)
