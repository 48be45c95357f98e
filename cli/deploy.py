"""`xfmr deploy`: register the Prefect deployments with the server and run their flow runs from this process."""

from __future__ import annotations

import argparse
from typing import Any

from flows.runtime import configure_mlflow, prepare
from flows.settings import load_settings


def register(sub: Any) -> None:
    deploy = sub.add_parser(
        "deploy",
        help="serve the Prefect deployments train/nightly, monitor/drift-check and train/retrain",
        description="Register the deployments with the Prefect server (PREFECT_API_URL) and run them from this "
        "long-running process. Schedules: XFMR_TRAIN_CRON in XFMR_TIMEZONE; drift check every "
        "XFMR_DRIFT_INTERVAL_MINUTES. Prometheus metrics of the drift checks on XFMR_FLOWS_METRICS_HOST:"
        "XFMR_FLOWS_METRICS_PORT (127.0.0.1:9108). Stop with Ctrl-C; schedules stay active.",
    )
    deploy.set_defaults(handler=run_deploy)


def run_deploy(args: argparse.Namespace) -> int:
    settings = load_settings()
    if not settings.prefect_api_url:
        raise ValueError("xfmr deploy needs a Prefect server: set PREFECT_API_URL (e.g. http://127.0.0.1:4200/api)")
    prepare(settings)
    configure_mlflow(settings)
    from flows.deployments import serve_all
    from flows.exporter import start_exporter

    start_exporter(settings)  # when each drift check last ran, for Prometheus
    serve_all(settings)
    return 0

