"""Join past predictions to the failures that followed and judge each model version's realised performance."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from monitoring.config import DecaySettings
from monitoring.results import DecayResult, VersionDecay, VersionStatus
from monitoring.timestamps import as_utc, utc_series
from tasks.evaluate import score_metrics

TIME_COLUMNS = ("as_of", "scored_at")  # the reading's time when logged, else the scoring time


@dataclass(frozen=True)
class LabelledPredictions:
    """Matured unit-day predictions with their realised label, and how many were too recent to judge."""

    frame: pd.DataFrame  # model_version, transformer_id, as_of (UTC day), failure_probability, label, failed_at
    unmatured: int


def _time_column(predictions: pd.DataFrame) -> str:
    for name in TIME_COLUMNS:
        if name in predictions.columns:
            return name
    raise ValueError(f"predictions need a time column, one of {TIME_COLUMNS}; have {list(predictions.columns)}")


def label_predictions(
    predictions: pd.DataFrame, failures: pd.DataFrame, horizon_days: int, outcomes_until: datetime
) -> LabelledPredictions:
    """Label each unit-day prediction positive if the unit failed in (t, t + horizon]; drop those not yet matured.

    A unit scored several times a day keeps its last score of the day (one snapshot per unit and
    day, as in training). A prediction matures once t + horizon <= `outcomes_until`, the time up to
    which failure records are complete; before that a missing failure is unknown, not a negative.
    """
    for name, frame, needed in (
        ("predictions", predictions, ("transformer_id", "failure_probability", "model_version")),
        ("failures", failures, ("transformer_id", "failed_at")),
    ):
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise ValueError(f"{name} lack columns {missing}; have {list(frame.columns)}")
    until = pd.Timestamp(as_utc(outcomes_until, "outcomes_until"))
    time_column = _time_column(predictions)
    rows = pd.DataFrame({
        "model_version": predictions["model_version"].astype(str),
        "transformer_id": predictions["transformer_id"].astype(str),
        "time": utc_series(predictions[time_column], time_column),
        "failure_probability": pd.to_numeric(predictions["failure_probability"], errors="coerce"),
    }).dropna(subset=["time", "failure_probability"])
    rows["as_of"] = rows["time"].dt.floor("D")
    rows = rows.sort_values("time", kind="mergesort").drop_duplicates(
        ["model_version", "transformer_id", "as_of"], keep="last"
    )
    matured = rows["time"] + pd.Timedelta(days=horizon_days) <= until
    unmatured = int((~matured).sum())
    rows = rows.loc[matured.to_numpy()]
    events = pd.DataFrame({
        "transformer_id": failures["transformer_id"].astype(str),
        "failed_at": utc_series(failures["failed_at"], "failed_at"),
    }).dropna()
    events = events.loc[(events["failed_at"] <= until).to_numpy()].sort_values("failed_at")
    rows = pd.merge_asof(
        rows.sort_values("time"), events, left_on="time", right_on="failed_at", by="transformer_id",
        direction="forward", allow_exact_matches=False,
    )
    rows["label"] = (rows["failed_at"] <= rows["time"] + pd.Timedelta(days=horizon_days)).astype(float)
    rows.loc[rows["label"] == 0, "failed_at"] = pd.NaT
    frame = rows.drop(columns="time").sort_values(["model_version", "as_of", "transformer_id"]).reset_index(drop=True)
    return LabelledPredictions(frame, unmatured)


def _judge(version: str, rows: pd.DataFrame, holdout: float | None, settings: DecaySettings) -> VersionDecay:
    positives = int(rows["label"].sum())
    # The ~90 positive unit-days before one failure are one piece of evidence: count failures.
    failures = int(rows.loc[rows["label"] == 1, ["transformer_id", "failed_at"]].drop_duplicates().shape[0])
    metrics = score_metrics(rows, rows["failure_probability"].to_numpy(), settings.top_k_pct, probabilistic=True)
    pr_auc, recall = float(metrics["pr_auc"]), float(metrics["top_k_recall"])
    drop = (holdout - pr_auc) / holdout if holdout and np.isfinite(pr_auc) else None
    status: VersionStatus
    if failures < settings.min_positives or not np.isfinite(pr_auc):
        status = "insufficient_data"
    elif holdout is None:
        status = "no_baseline"
    else:
        status = "decayed" if drop is not None and drop > settings.max_pr_auc_drop else "ok"
    return VersionDecay(version, len(rows), positives, failures, pr_auc, recall, holdout, drop, status)


def _reason(versions: list[VersionDecay], settings: DecaySettings) -> str:
    decayed = [v for v in versions if v.status == "decayed"]
    if decayed:
        return "; ".join(
            f"version {v.model_version}: realised PR-AUC {v.pr_auc:.3f} is {v.relative_drop:.0%} below holdout "
            f"{v.holdout_pr_auc:.3f} (limit {settings.max_pr_auc_drop:.0%}; {v.failures} failures)"
            for v in decayed if v.relative_drop is not None and v.holdout_pr_auc is not None
        )
    parts = []
    for v in versions:
        if v.status == "insufficient_data":
            parts.append(f"version {v.model_version}: insufficient data ({v.failures} failures < {settings.min_positives})")
        elif v.status == "ok":
            parts.append(
                f"version {v.model_version}: PR-AUC {v.pr_auc:.3f} vs holdout {v.holdout_pr_auc:.3f}, within limit"
            )
        else:
            parts.append(f"version {v.model_version}: no holdout PR-AUC to compare with")
    return "; ".join(parts) if parts else "insufficient data: no matured predictions"


def check_decay(
    predictions: pd.DataFrame,
    failures: pd.DataFrame,
    holdout_pr_auc: Mapping[str, float],
    outcomes_until: datetime,
    settings: DecaySettings | None = None,
) -> DecayResult:
    """Compute realised PR-AUC and top-k recall per model version; decayed if a judged version fell too far.

    `holdout_pr_auc` maps the versions to judge (usually the champion) to their holdout PR-AUC;
    other versions get figures but no verdict. Too few realised failures is "insufficient data",
    never decay.
    """
    settings = settings or DecaySettings()
    labelled = label_predictions(predictions, failures, settings.horizon_days, outcomes_until)
    baselines = {str(k): float(v) for k, v in holdout_pr_auc.items()}
    versions = [
        _judge(str(name), rows.reset_index(drop=True), baselines.get(str(name)), settings)
        for name, rows in labelled.frame.groupby("model_version", sort=True)
    ]
    return DecayResult(
        decayed=any(v.status == "decayed" for v in versions),
        reason=_reason(versions, settings),
        versions=tuple(versions),
        matured_predictions=len(labelled.frame),
        unmatured_predictions=labelled.unmatured,
        outcomes_until=as_utc(outcomes_until, "outcomes_until"),
        settings=settings.model_dump(),
    )
