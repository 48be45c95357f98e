"""The Prefect deployments (nightly training, drift check, drift-triggered retraining), served by one process."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from prefect import serve
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import EntrypointType
from prefect.schedules import Cron, Interval

from flows.monitoring import drift_check_flow
from flows.settings import PipelineSettings
from flows.training import TRAINING_CONCURRENCY, training_flow

NIGHTLY = "nightly"
DRIFT_CHECK = "drift-check"
RETRAIN = "retrain"
# Flows are found by module path (flows.monitoring), not by file: loaded as a script, flows/monitoring.py
# would be registered as the module `monitoring` and shadow the monitoring package it imports.
BY_MODULE = EntrypointType.MODULE_PATH
ONE_AT_A_TIME = ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE)


def _timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"XFMR_TIMEZONE {name!r} is not a known IANA timezone (e.g. 'Europe/Berlin')") from None
    return name


def build_deployments(settings: PipelineSettings) -> list[Any]:
    """Return the three deployments with their schedules and validated default parameters."""
    nightly = training_flow.to_deployment(
        name=NIGHTLY,
        entrypoint_type=BY_MODULE,
        schedule=Cron(settings.train_cron, timezone=_timezone(settings.timezone)),
        parameters={"trigger": "schedule"},
        concurrency_limit=ONE_AT_A_TIME,
        description="Retrain on the latest fleet data every night and gate against the champion.",
        tags=["xfmr", "training"],
    )
    retrain = training_flow.to_deployment(
        name=RETRAIN,
        entrypoint_type=BY_MODULE,
        parameters={"trigger": "drift"},
        concurrency_limit=ONE_AT_A_TIME,
        description="Retraining started by the drift check (or by hand); the promotion record names the cause.",
        tags=["xfmr", "training", "drift"],
    )
    drift = drift_check_flow.to_deployment(
        name=DRIFT_CHECK,
        entrypoint_type=BY_MODULE,
        schedule=Interval(timedelta(minutes=settings.drift_interval_minutes)),
        parameters={"window_hours": settings.drift_window_hours, "retrain": "deployment"},
        concurrency_limit=ONE_AT_A_TIME,
        description="Compare recent predictions with the champion's reference set; trigger retraining on confirmed drift.",
        tags=["xfmr", "monitoring"],
    )
    return [nightly, drift, retrain]


def ensure_training_limit() -> None:
    """Create the global limit that lets one training run (of any deployment) hold the registry at a time."""
    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(TRAINING_CONCURRENCY)
        except Exception:  # noqa: BLE001 - "not found" is the only expected case; creation reports the rest
            client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=TRAINING_CONCURRENCY, limit=1))


def serve_all(settings: PipelineSettings) -> None:
    """Register and serve the deployments until interrupted; schedules stay active on shutdown."""
    ensure_training_limit()
    serve(*build_deployments(settings), pause_on_shutdown=False)
