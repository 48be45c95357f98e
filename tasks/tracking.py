"""Log a training run to MLflow: config, metrics, plots, model card, dataset, lineage and the model itself."""

from __future__ import annotations

import json
import math
import tempfile
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature

from tasks import plots
from tasks.config import TrainingConfig
from tasks.dataset import ModelingTable
from tasks.evaluate import Evaluation
from tasks.features import features_for_model
from tasks.lineage import git_state, package_versions, pinned_requirements
from tasks.model import MODEL_ARTIFACT
from tasks.model_card import ModelCard, render_model_card
from tasks.split import Split
from tasks.train import FitResult

GOLDEN_FILE = "golden_readings.parquet"
REFERENCE_FILE = "reference.parquet"
REFERENCE_ROWS = 20_000
GOLDEN_ROWS = 32


@dataclass(frozen=True)
class LoggedRun:
    """Where the run and its model live in MLflow."""

    run_id: str
    model_uri: str
    experiment_id: str
    lineage: dict[str, str]


def ensure_experiment(name: str, artifact_location: str | None) -> str:
    """Select the experiment, creating it with the given artifact root (local setups) if it is new."""
    existing = mlflow.get_experiment_by_name(name)
    if existing is None:
        try:
            mlflow.create_experiment(name, artifact_location=artifact_location)
        except mlflow.exceptions.MlflowException as exc:
            if "already exists" not in str(exc).lower():
                raise
    return mlflow.set_experiment(name).experiment_id


def _finite(values: Mapping[str, float]) -> dict[str, float]:
    return {k: float(v) for k, v in values.items() if v is not None and math.isfinite(float(v))}


def schema_compatible(readings: pd.DataFrame) -> pd.DataFrame:
    """Return readings as an MLflow model schema accepts them: naive UTC times, integers as floats.

    MLflow schemas hold only naive datetimes (the feature code reads naive times as UTC), and an
    integer column cannot carry a missing value (a reading may omit the install year).
    """
    out = readings.copy()
    if "as_of" in out.columns:
        out["as_of"] = pd.to_datetime(out["as_of"], utc=True).dt.tz_localize(None)
    return out.astype({c: float for c in out.columns if pd.api.types.is_integer_dtype(out[c])})


def _model_files(table: ModelingTable, split: Split, fit: FitResult, folder: Path) -> Path:
    """Write the native model plus its golden set (for serving checks) and drift reference set."""
    model_dir = fit.model.save(folder / MODEL_ARTIFACT)
    golden = table.inputs_for(split.holdout.head(GOLDEN_ROWS))
    golden["expected_probability"] = fit.model.predict_proba(features_for_model(golden, fit.model.feature_columns))
    golden = schema_compatible(golden)
    golden.to_parquet(model_dir / GOLDEN_FILE, index=False)
    # The reference is about inputs, not labels: it samples every snapshot (rows purged between the
    # split parts included) so a seasonal check finds the same calendar months of the previous year.
    every = table.frame
    sample = every.sample(n=min(REFERENCE_ROWS, len(every)), random_state=0).sort_values(["as_of", "transformer_id"])
    reference = sample[["transformer_id", "as_of", *fit.model.feature_columns]].copy()
    reference["failure_probability"] = fit.model.predict_proba(sample)
    reference.to_parquet(model_dir / REFERENCE_FILE, index=False)
    return model_dir


def _figures(split: Split, fit: FitResult, scores: Mapping[str, np.ndarray], folder: Path) -> list[Path]:
    y = split.holdout["label"].to_numpy(dtype=float)
    prob = scores["model"]
    contribs = fit.model.contributions(split.holdout)
    importance = fit.model.booster.get_score(importance_type="gain")
    labels = fit.model.feature_labels
    named_importance = {labels.get(k, k): v for k, v in importance.items()}
    figs = {
        "pr_curves.png": plots.pr_curves(y, scores),
        "roc_curves.png": plots.roc_curves(y, scores),
        "reliability.png": plots.reliability(y, prob),
        "feature_importance.png": plots.feature_importance(named_importance, title="Feature importance (gain)"),
        "shap_summary.png": plots.shap_summary(
            contribs, split.holdout[list(fit.model.feature_columns)], labels=labels
        ),
    }
    return [plots.save_figure(fig, folder / name) for name, fig in figs.items()]


def log_training_run(
    *,
    table: ModelingTable,
    split: Split,
    fit: FitResult,
    evaluation: Evaluation,
    config: TrainingConfig,
    data_digest: str,
    data_source: str,
    experiment: str,
    flow_run_id: str | None,
    trigger: str,
    artifact_location: str | None = None,
    extra_artifacts: Mapping[str, object] | None = None,
) -> LoggedRun:
    """Create one MLflow run holding everything needed to audit and reproduce this model."""
    ensure_experiment(experiment, artifact_location)
    lineage = {
        **git_state(),
        "data_digest": data_digest,
        "data_source": data_source,
        "flow_run_id": flow_run_id or "none",
        "trigger": trigger,
        "split_kind": split.kind,
    }
    with mlflow.start_run(run_name=f"train-{trigger}") as run, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        mlflow.set_tags(lineage)
        mlflow.set_tags({f"pkg.{k}": v for k, v in package_versions().items()})
        counts = split.counts()
        params = {
            **config.flat(),
            "fit.best_iteration": fit.best_iteration,
            "fit.positive_weight": round(fit.positive_weight, 6),
            "fit.calibration_slope": round(fit.model.calibration.slope, 6),
            "fit.calibration_intercept": round(fit.model.calibration.intercept, 6),
            "data.feature_count": len(fit.model.feature_columns),
            "data.censored_rows": table.censored_rows,
            "data.purged_rows": split.purged_rows,
            **{f"data.{part}_rows": n for part, (n, _) in counts.items()},
            **{f"data.{part}_positives": p for part, (_, p) in counts.items()},
            **{f"data.{part}_window": w.describe() for part, w in split.windows.items()},
        }
        mlflow.log_params(params)
        mlflow.log_metrics(_finite({**evaluation.flat(), "validation.pr_auc": fit.validation_pr_auc}))
        with warnings.catch_warnings():
            # A local folder path matches two equivalent MLflow source types; either is right.
            warnings.simplefilter("ignore", UserWarning)
            dataset = mlflow.data.from_pandas(
                table.frame.drop(columns=["failed_at"]), source=data_source, name="fleet_snapshots",
                targets="label", digest=data_digest[:32],
            )
        mlflow.log_input(dataset, context="training")
        for path in _figures(split, fit, evaluation.scores, work / "plots"):
            mlflow.log_artifact(str(path), artifact_path="plots")
        card = ModelCard(
            model_name=experiment,
            run_id=run.info.run_id,
            data_windows={k: w.describe() for k, w in split.windows.items()},
            data_digest=data_digest,
            counts=counts,
            features={c: fit.model.feature_labels.get(c, c) for c in fit.model.feature_columns},
            hyperparameters=config.model.model_dump(),
            metrics=evaluation.model,
            baselines={k: v for k, v in evaluation.metrics.items() if k != "model"},
            calibration=fit.model.calibration.method,
            notes=(f"split: {split.kind}", f"top-k: {evaluation.top_k_pct:g} % of units per snapshot"),
        )
        mlflow.log_text(render_model_card(card), "model_card.md")
        mlflow.log_dict({k: v for k, v in (extra_artifacts or {}).items()}, "lineage/extra.json")
        mlflow.log_text(json.dumps(list(fit.model.feature_columns), indent=1), "lineage/features.json")
        model_dir = _model_files(table, split, fit, work)
        example = schema_compatible(table.inputs_for(split.holdout.head(3)))
        probability = fit.model.predict_proba(features_for_model(example, fit.model.feature_columns))
        signature = infer_signature(example, pd.DataFrame({"failure_probability": probability}))
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(Path(__file__).with_name("pyfunc_model.py")),
            artifacts={MODEL_ARTIFACT: str(model_dir)},
            code_paths=[str(Path(__file__).resolve().parent)],
            signature=signature,
            input_example=example,
            pip_requirements=pinned_requirements(),
        )
        return LoggedRun(
            run_id=run.info.run_id, model_uri=info.model_uri, experiment_id=run.info.experiment_id, lineage=lineage
        )
