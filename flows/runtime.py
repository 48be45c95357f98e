"""Point Prefect and MLflow at this installation's state before either is imported."""

from __future__ import annotations

import os

from flows.settings import PipelineSettings


def prepare(settings: PipelineSettings) -> None:
    """Keep all embedded state under XFMR_HOME and keep Prefect quiet and offline."""
    settings.root.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_HOME", str(settings.root / "prefect"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_LOGGING_LOG_PRINTS", "true")
    # The embedded server migrates its SQLite database on first start; on a busy 2-core machine
    # that takes longer than Prefect's default wait.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    if settings.prefect_api_url:
        os.environ["PREFECT_API_URL"] = settings.prefect_api_url
    # MLflow's SQLite store logs its schema migrations at INFO on first use; they are not news to users.
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def configure_mlflow(settings: PipelineSettings) -> None:
    import mlflow

    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.tracking_uri)
