"""The Prefect deployments against a real local Prefect server (a `prefect server start` subprocess).

The deployments are registered the way `xfmr deploy` registers them (build_deployments + apply, and
the global training limit), then read back through the Prefect client.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from flows.settings import PipelineSettings

SETTINGS = PipelineSettings(train_cron="30 3 * * *", timezone="Europe/Berlin", drift_interval_minutes=45.0,
                            drift_window_hours=12.0)


@pytest.fixture(scope="module")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start a Prefect server in its own PREFECT_HOME and point this process's Prefect client at it."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from launcher import ServiceProcess, free_port

    root = tmp_path_factory.mktemp("prefect-server")
    port = free_port()
    server = ServiceProcess(
        "prefect server",
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        root / "server.log",
        env={"PREFECT_HOME": str(root / "home"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
             "PREFECT_API_URL": f"http://127.0.0.1:{port}/api"},
        ready_url=f"http://127.0.0.1:{port}/api/health",
    )
    url = f"http://127.0.0.1:{port}/api"
    try:
        server.start(timeout_s=180)
        with pytest.MonkeyPatch.context() as mp, temporary_settings({PREFECT_API_URL: url}):
            mp.setenv("PREFECT_API_URL", url)
            yield url
    finally:
        server.stop()


@pytest.fixture(scope="module")
def applied(prefect_api: str) -> dict[str, Any]:
    """Register the deployments twice (re-running `xfmr deploy` must update, not duplicate) and read them back."""
    from prefect.client.orchestration import get_client

    from flows.deployments import build_deployments, ensure_training_limit

    for _ in range(2):
        ensure_training_limit()
        for deployment in build_deployments(SETTINGS):
            deployment.apply()
    with get_client(sync_client=True) as client:
        read = {name: client.read_deployment_by_name(name) for name in ("train/nightly", "monitor/drift-check", "train/retrain")}
        read["_all"] = client.read_deployments()
        read["_limit"] = client.read_global_concurrency_limit_by_name("xfmr-training")
    return read


def test_three_deployments_are_registered_once(applied: dict[str, Any]) -> None:
    names = sorted(d.name for d in applied["_all"])
    assert names == ["drift-check", "nightly", "retrain"]


def test_nightly_training_runs_on_the_configured_cron_and_timezone(applied: dict[str, Any]) -> None:
    nightly = applied["train/nightly"]
    assert len(nightly.schedules) == 1 and nightly.schedules[0].active
    schedule = nightly.schedules[0].schedule
    assert schedule.cron == "30 3 * * *" and schedule.timezone == "Europe/Berlin"
    assert nightly.parameters == {"trigger": "schedule"}
    assert {"xfmr", "training"} <= set(nightly.tags)


def test_drift_check_runs_on_an_interval_and_retrains_through_the_deployment(applied: dict[str, Any]) -> None:
    drift = applied["monitor/drift-check"]
    assert len(drift.schedules) == 1 and drift.schedules[0].active
    assert drift.schedules[0].schedule.interval == timedelta(minutes=45)
    assert drift.parameters == {"window_hours": 12.0, "retrain": "deployment"}
    assert "monitoring" in drift.tags


def test_retrain_has_no_schedule_and_names_drift_as_its_trigger(applied: dict[str, Any]) -> None:
    from flows.monitoring import RETRAIN_DEPLOYMENT

    retrain = applied[RETRAIN_DEPLOYMENT]
    assert retrain.schedules == []
    assert retrain.parameters == {"trigger": "drift"}
    # The flow's own parameter schema is published: trigger_detail and data_dir can be passed by the drift check.
    assert {"trigger", "trigger_detail", "data_dir"} <= set(retrain.parameter_openapi_schema["properties"])


@pytest.mark.parametrize("name", ["train/nightly", "monitor/drift-check", "train/retrain"])
def test_each_deployment_runs_one_at_a_time(applied: dict[str, Any], name: str) -> None:
    deployment = applied[name]
    limit = deployment.global_concurrency_limit
    # Prefect 3 keeps a deployment's limit as a global limit named after the deployment.
    assert limit is not None and limit.limit == 1 and limit.active, deployment
    assert limit.name == f"deployment:{deployment.id}"
    assert deployment.concurrency_options is not None
    assert deployment.concurrency_options.collision_strategy.value == "ENQUEUE"


def test_global_training_limit_exists_with_one_slot(applied: dict[str, Any]) -> None:
    limit = applied["_limit"]
    assert limit.name == "xfmr-training" and limit.limit == 1 and limit.active


def test_unknown_timezone_is_rejected_by_name() -> None:
    from flows.deployments import build_deployments

    with pytest.raises(ValueError, match="Mars/Olympus_Mons"):
        build_deployments(PipelineSettings(timezone="Mars/Olympus_Mons"))
