"""The training flow: ingest -> features and labels -> time split -> fit -> evaluate -> register -> gate."""

from __future__ import annotations

import hashlib
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.concurrency.sync import concurrency
from prefect.context import TaskRunContext
from prefect.runtime import flow_run

from flows.gating import GateOutcome, register_and_gate
from flows.runtime import configure_mlflow
from flows.settings import PipelineSettings, load_settings
from flows.sources import TrainingData, load_training_data
from tasks.config import TrainingConfig
from tasks.dataset import feature_code_digest
from tasks.evaluate import Evaluation, evaluate
from tasks.split import Split, stratified_random_split, time_split
from tasks.tracking import LoggedRun, log_training_run
from tasks.train import FitResult, fit_model

TRIGGERS = ("manual", "schedule", "drift", "decay")
# Global Prefect concurrency limit (created by `xfmr deploy`): one training run at a time, whatever started it.
TRAINING_CONCURRENCY = "xfmr-training"


def _features_cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    """Cache the feature step on the full-content data digest, the label settings and the feature code."""
    source: TrainingData = parameters["source"]
    labels = parameters["config"].labels.model_dump_json()
    key = f"{source.digest}|{labels}|{feature_code_digest()}"
    return "features-" + hashlib.sha256(key.encode()).hexdigest()


@task(name="ingest", retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE)
def ingest(data_dir: str | None, dataset_spec: str | None, settings: PipelineSettings) -> TrainingData:
    return load_training_data(data_dir=data_dir, dataset_spec=dataset_spec, settings=settings)


@task(name="features-and-labels", cache_key_fn=_features_cache_key, persist_result=True)
def features_and_labels(source: TrainingData, config: TrainingConfig) -> TrainingData:
    return source.with_modeling_table(config.labels)


@task(name="time-split", cache_policy=NO_CACHE)
def split(source: TrainingData, config: TrainingConfig) -> Split:
    if source.has_time:
        return time_split(source.table.frame, config.split, config.labels)
    return stratified_random_split(source.table.frame, config.split)


@task(name="fit", cache_policy=NO_CACHE)
def fit(parts: Split, source: TrainingData, config: TrainingConfig) -> FitResult:
    return fit_model(parts, source.table.feature_columns, config.model, source.table.feature_labels)


@task(name="evaluate", cache_policy=NO_CACHE)
def evaluate_holdout(parts: Split, fitted: FitResult, source: TrainingData, config: TrainingConfig) -> Evaluation:
    model = fitted.model.predict_proba(parts.holdout)
    return evaluate(parts.holdout, model, source.baseline_scores(parts.holdout), config.evaluation.top_k_pct)


@task(name="log-run", retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE)
def log_run(source: TrainingData, parts: Split, fitted: FitResult, evaluation: Evaluation,
            config: TrainingConfig, trigger: str, settings: PipelineSettings) -> LoggedRun:
    return log_training_run(
        table=source.table, split=parts, fit=fitted, evaluation=evaluation, config=config,
        data_digest=source.digest, data_source=source.description, experiment=settings.model_name,
        flow_run_id=str(flow_run.get_id() or "") or None, trigger=trigger, extra_artifacts=source.report,
        artifact_location=settings.artifact_location,
    )


@task(name="register-and-gate", retries=3, retry_delay_seconds=3, cache_policy=NO_CACHE)
def gate(logged: LoggedRun, parts: Split, fitted: FitResult, evaluation: Evaluation,
         config: TrainingConfig, trigger: str, trigger_detail: str | None, settings: PipelineSettings) -> GateOutcome:
    return register_and_gate(
        logged=logged, split=parts, fit=fitted, evaluation=evaluation, gate_settings=config.gate,
        top_k_pct=config.evaluation.top_k_pct, trigger=trigger, trigger_detail=trigger_detail, settings=settings,
    )


@flow(name="train", log_prints=True)
def training_flow(
    data_dir: str | None = None,
    dataset_spec: str | None = None,
    trigger: str = "manual",
    trigger_detail: str | None = None,
    config: TrainingConfig = TrainingConfig(),
) -> GateOutcome:
    """Train a challenger on the fleet data and promote it only if it beats the champion on the same holdout."""
    if trigger not in TRIGGERS:
        raise ValueError(f"trigger must be one of {', '.join(TRIGGERS)}, not {trigger!r}")
    settings = load_settings()
    configure_mlflow(settings)
    with concurrency(TRAINING_CONCURRENCY, occupy=1, strict=False, lease_duration=settings.training_lease_s):
        source = ingest(data_dir, dataset_spec, settings)
        source = features_and_labels(source, config)
        parts = split(source, config)
        fitted = fit(parts, source, config)
        evaluation = evaluate_holdout(parts, fitted, source, config)
        logged = log_run(source, parts, fitted, evaluation, config, trigger, settings)
        outcome = gate(logged, parts, fitted, evaluation, config, trigger, trigger_detail, settings)
    get_run_logger().info("version %s: %s", outcome.version, outcome.decision.reason)
    return outcome
