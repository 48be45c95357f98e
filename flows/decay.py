"""The performance-decay step of the monitoring flow: past predictions joined to the failures that followed."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.tracking import MlflowClient
from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from flows.settings import PipelineSettings
from monitoring import DecayResult, DecaySettings, check_decay
from monitoring.loaders import load_prediction_window
from tasks.evaluate import PRIMARY_METRIC
from tasks.tracking import ensure_experiment

FAILURES_FILE = "failures.parquet"
TELEMETRY_FILE = "telemetry.parquet"
PREDICTION_COLUMNS = ["transformer_id", "failure_probability", "model_version", "as_of", "scored_at"]
HOLDOUT_METRIC = f"model.{PRIMARY_METRIC}"  # the training run's holdout PR-AUC


@dataclass(frozen=True)
class FailureRecords:
    """The failure table a decay check judges against, and the time up to which it is complete."""

    frame: pd.DataFrame
    digest: str  # content hash: a check runs only when the records changed
    outcomes_until: datetime
    source: Path


@task(name="load-failure-records", retries=2, retry_delay_seconds=3, cache_policy=NO_CACHE)
def load_failure_records(data_dir: Path, outcomes_until: datetime | None = None) -> FailureRecords | None:
    """Read `failures.parquet` of a fleet folder; None when the folder has no failure table yet.

    Unless `outcomes_until` is given, the records count as complete up to the folder's last
    telemetry time: an export holds every failure up to when it was taken, and a unit not
    failed by then is not known to have survived any later.
    """
    path = Path(data_dir) / FAILURES_FILE
    if not path.is_file():
        return None
    raw = path.read_bytes()
    frame = pd.read_parquet(path, columns=["transformer_id", "failed_at"])
    if outcomes_until is None:
        telemetry = Path(data_dir) / TELEMETRY_FILE
        if not telemetry.is_file():
            raise FileNotFoundError(
                f"cannot tell up to when the failure records in {path} are complete: no {TELEMETRY_FILE} beside "
                "them; pass outcomes_until"
            )
        last = pd.Timestamp(pd.read_parquet(telemetry, columns=["timestamp"])["timestamp"].max())
        outcomes_until = (last.tz_localize("UTC") if last.tzinfo is None else last).to_pydatetime()
    return FailureRecords(frame, hashlib.sha256(raw).hexdigest(), outcomes_until, path)


@task(name="holdout-pr-auc", retries=2, retry_delay_seconds=3, cache_policy=NO_CACHE)
def holdout_pr_auc(settings: PipelineSettings, version: str) -> dict[str, float]:
    """The holdout PR-AUC the version's training run measured (empty when the run did not log one)."""
    client = MlflowClient(tracking_uri=settings.tracking_uri)
    run_id = client.get_model_version(settings.model_name, version).run_id
    value = client.get_run(run_id).data.metrics.get(HOLDOUT_METRIC) if run_id else None
    return {} if value is None else {version: float(value)}


@task(name="check-decay", cache_policy=NO_CACHE)
def run_decay_check(settings: PipelineSettings, records: FailureRecords, baselines: dict[str, float],
                    window_end: datetime, config: DecaySettings) -> DecayResult:
    """Join the predictions scored in the last `lookback_days` to the failures and judge each version."""
    start = window_end - timedelta(days=config.lookback_days)
    window = load_prediction_window(settings.prediction_log_dir, start, window_end, PREDICTION_COLUMNS,
                                    max_rows=config.max_predictions)
    return check_decay(window.frame, records.frame, baselines, records.outcomes_until, config)


@task(name="record-decay", retries=2, retry_delay_seconds=3, cache_policy=NO_CACHE)
def record_decay(result: DecayResult, records: FailureRecords, settings: PipelineSettings, at: datetime) -> Path:
    """Save the decay report, log realised PR-AUC and top-k recall per version on a monitoring run, publish it."""
    status = "decayed" if result.decayed else "ok"
    path = settings.reports_dir / f"decay-{at:%Y%m%dT%H%M%SZ}-{status}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{result.summary_markdown()}\n\nFailure records: `{records.source}` (sha256 {records.digest})\n")
    ensure_experiment(f"{settings.model_name}-monitoring", settings.artifact_location)
    with mlflow.start_run(run_name=f"decay-check-{status}"):
        mlflow.set_tags({"kind": "decay_check", "decayed": str(result.decayed).lower(),
                         "failure_records": str(records.source), "failure_records_sha256": records.digest})
        metrics = {"matured_predictions": float(result.matured_predictions)}
        for v in result.versions:
            metrics[f"realised_pr_auc.v{v.model_version}"] = v.pr_auc
            metrics[f"realised_top_k_recall.v{v.model_version}"] = v.top_k_recall
        mlflow.log_metrics({k: x for k, x in metrics.items() if x == x})  # NaN is not loggable: drop it
        mlflow.log_dict(result.as_dict(), "decay/result.json")
        mlflow.log_artifact(str(path), artifact_path="decay")
    create_markdown_artifact(key="decay-check", markdown=f"{result.summary_markdown()}\n\nReport: `{path}`",
                             description=f"performance decay: {status}")
    return path
