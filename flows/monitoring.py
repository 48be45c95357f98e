"""The drift-check flow: champion reference vs recent predictions -> Evidently report -> policy -> retrain trigger."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import mlflow
import pandas as pd
from mlflow.tracking import MlflowClient
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from flows.decay import holdout_pr_auc, load_failure_records, record_decay, run_decay_check
from flows.runtime import configure_mlflow
from flows.settings import PipelineSettings, load_settings
from monitoring import (
    DriftResult,
    DriftSettings,
    MonitoringConfig,
    PolicyState,
    check_drift,
    evaluate_decay,
    evaluate_policy,
    save_report,
    seasonal_reference,
)
from monitoring.loaders import load_prediction_window
from tasks.registry import CHAMPION, alias_version, download_version
from tasks.tracking import REFERENCE_FILE, ensure_experiment

RETRAIN_DEPLOYMENT = "train/retrain"
# Windows are compared one reading per unit, so the minimum window size counts units.
DEFAULT_MONITORING = MonitoringConfig(drift=DriftSettings(min_window_rows=100))
RetrainMode = Literal["deployment", "inline", "off"]


@dataclass(frozen=True)
class ChampionReference:
    """The champion version's reference set and feature list."""

    version: str
    reference: pd.DataFrame
    feature_columns: tuple[str, ...]


@dataclass(frozen=True)
class DriftCheckOutcome:
    """What one check saw and did."""

    verdict: str
    model_version: str | None
    report_path: str | None
    triggered: bool
    reason: str
    window_rows: int
    retrain_run: str | None
    drifted_columns: tuple[str, ...]
    trigger_cause: str | None = None  # "drift" or "decay" when a retrain was triggered
    decay_reason: str | None = None  # what the performance-decay step found, or why it did not run


@task(name="load-champion-reference", retries=2, retry_delay_seconds=3, cache_policy=NO_CACHE)
def load_champion_reference(settings: PipelineSettings) -> ChampionReference | None:
    client = MlflowClient(tracking_uri=settings.tracking_uri)
    champion = alias_version(client, settings.model_name, CHAMPION)
    if champion is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        folder = download_version(client, settings.model_name, champion.version, Path(tmp))
        reference = pd.read_parquet(folder / REFERENCE_FILE)
        meta = json.loads((folder / "model_meta.json").read_text())
    return ChampionReference(str(champion.version), reference, tuple(meta["feature_columns"]))


def latest_per_unit(frame: pd.DataFrame) -> pd.DataFrame:
    """Keep each unit's newest reading: a stream repeats a unit's slowly changing values many times, and
    counting them all would make every statistical test see far more evidence than there is."""
    if frame.empty or "transformer_id" not in frame.columns:
        return frame
    return frame.sort_values("as_of", kind="stable").groupby("transformer_id", sort=False).tail(1)


@task(name="check-drift", cache_policy=NO_CACHE)
def run_check(champion: ChampionReference, start: datetime, end: datetime, config: MonitoringConfig,
              settings: PipelineSettings, one_per_unit: bool = True) -> DriftResult:
    columns = [*champion.feature_columns, config.drift.prediction_column, config.drift.time_column, "as_of",
               "transformer_id"]
    window = load_prediction_window(
        settings.prediction_log_dir, start, end, columns, max_rows=config.drift.max_sample_rows, seed=config.drift.seed
    )
    reference = champion.reference
    if config.seasonal.enabled and len(window.frame):
        # Season is a property of the readings' own time (as_of), not of when they were scored.
        as_of = pd.to_datetime(window.frame["as_of"], utc=True)
        seasonal = seasonal_reference(reference, as_of.min().to_pydatetime(), as_of.max().to_pydatetime(), config.seasonal)
        get_run_logger().info("reference: %s", seasonal.note)
        reference = seasonal.frame
        if one_per_unit:
            reference = latest_per_unit(reference)
    current = latest_per_unit(window.frame) if one_per_unit else window
    return check_drift(
        reference, current, champion.feature_columns, config.drift,
        window_start=start, window_end=end, model_version=champion.version,
    )


@task(name="record-check", retries=2, retry_delay_seconds=3, cache_policy=NO_CACHE)
def record_check(result: DriftResult, settings: PipelineSettings) -> Path:
    """Save the HTML report, log it on a monitoring run, and publish the summary in Prefect."""
    path = save_report(result, settings.reports_dir)
    ensure_experiment(f"{settings.model_name}-monitoring", settings.artifact_location)
    with mlflow.start_run(run_name=f"drift-check-{result.verdict}"):
        mlflow.set_tags({"kind": "drift_check", "verdict": result.verdict, "model_version": result.model_version or ""})
        mlflow.log_metrics(result.metrics())
        mlflow.log_artifact(str(path), artifact_path="drift")
        mlflow.log_dict(result.as_dict(), "drift/result.json")
    create_markdown_artifact(
        key="drift-check",
        markdown=f"{result.summary_markdown()}\n\nEvidently report: `{path}`",
        description=f"drift check: {result.verdict}",
    )
    return path


def _state_path(settings: PipelineSettings) -> Path:
    return settings.root / "monitoring" / "policy_state.json"


def load_state(settings: PipelineSettings) -> PolicyState:
    path = _state_path(settings)
    return PolicyState.from_json(path.read_text()) if path.is_file() else PolicyState()


def save_state(settings: PipelineSettings, state: PolicyState) -> None:
    path = _state_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(state.to_json())
    tmp.replace(path)


def trigger_retrain(mode: RetrainMode, report: str, key: str, data_dir: str | None, cause: str = "drift") -> str | None:
    """Start the retraining deployment (idempotent per window) or, without a server, the flow inline."""
    parameters = {"trigger": cause, "trigger_detail": report, "data_dir": data_dir}
    if mode == "deployment":
        from prefect.deployments import run_deployment

        run = run_deployment(RETRAIN_DEPLOYMENT, parameters=parameters, idempotency_key=key, timeout=0, as_subflow=False)
        return str(run.id)
    if mode == "inline":
        from flows.training import training_flow

        outcome = training_flow(**parameters)  # type: ignore[arg-type]
        return f"version {outcome.version} ({'promoted' if outcome.decision.promote else 'rejected'})"
    return None


@flow(name="monitor", log_prints=True)
def drift_check_flow(
    window_hours: float = 24.0,
    window_end: datetime | None = None,
    config: MonitoringConfig = DEFAULT_MONITORING,
    retrain: RetrainMode = "deployment",
    retrain_data_dir: str | None = None,
    one_per_unit: bool = True,
    decay: bool = True,
    failures_dir: str | None = None,
    outcomes_until: datetime | None = None,
) -> DriftCheckOutcome:
    """Compare the last `window_hours` of predictions with the champion's reference; retrain on confirmed drift.

    With `decay`, new failure records (`failures.parquet` in `failures_dir`, default the retraining
    data folder or XFMR_HOME/data/fleet) are joined to past predictions; a champion whose realised
    PR-AUC fell too far below its holdout PR-AUC also triggers a retrain (once per version).
    """
    settings = load_settings()
    configure_mlflow(settings)
    logger = get_run_logger()
    end = window_end or datetime.now(UTC)
    start = end - timedelta(hours=window_hours)
    champion = load_champion_reference(settings)
    if champion is None:
        return DriftCheckOutcome("no_champion", None, None, False, "no @champion registered yet", 0, None, ())
    result = run_check(champion, start, end, config, settings, one_per_unit)
    report = record_check(result, settings)
    decision = evaluate_policy(load_state(settings), result, end, config.policy)
    logger.info("drift verdict %s on %d rows: %s", result.verdict, result.window_rows, decision.reason)
    state, retrain_run, cause, why = decision.new_state, None, None, str(report)
    if decision.trigger:
        cause, key = "drift", f"drift-v{champion.version}-{end:%Y%m%dT%H%M%S}"
    decay_reason = None
    if decay:
        records = load_failure_records(Path(failures_dir or retrain_data_dir or settings.fleet_dir), outcomes_until)
        if records is None:
            decay_reason = f"not checked: no failure records in {failures_dir or retrain_data_dir or settings.fleet_dir}"
        elif records.digest == state.failure_records_digest:
            decay_reason = "not checked: no new failure records since the last check"
        else:
            found = run_decay_check(settings, records, holdout_pr_auc(settings, champion.version), end, config.decay)
            decay_report = record_decay(found, records, settings, end)
            judged = evaluate_decay(state, found, end, config.policy)
            state = judged.new_state.model_copy(update={"failure_records_digest": records.digest})
            decay_reason = judged.reason
            if judged.trigger and cause is None:
                cause, key, why = "decay", f"decay-v{champion.version}-{records.digest[:16]}", str(decay_report)
        logger.info("performance decay: %s", decay_reason)
    if cause is not None:
        retrain_run = trigger_retrain(retrain, why, key, retrain_data_dir, cause)
        logger.info("retraining triggered by %s (%s): %s", cause, retrain, retrain_run)
    save_state(settings, state.model_copy(update={"last_check_at": datetime.now(UTC)}))
    drifted = tuple(c.column for c in result.columns if c.drifted)
    return DriftCheckOutcome(
        verdict=result.verdict, model_version=champion.version, report_path=str(report), triggered=cause is not None,
        reason=decision.reason, window_rows=result.window_rows, retrain_run=retrain_run, drifted_columns=drifted,
        trigger_cause=cause, decay_reason=decay_reason,
    )
