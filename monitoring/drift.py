"""Compare a window of predictions with the reference set column by column with Evidently, and give a verdict.

How each column is tested (all choices are explicit, so the result names the method it used):

* categorical: at most `max_categorical_values` distinct reference values (status codes, IEC bands,
  one-hot flags); everything else numeric is numerical. Columns constant or empty in the
  reference, empty in the window, or with fewer than `min_column_rows` values are skipped with a note.
* Evidently's default picks the test from the reference size alone; here the smaller of the two
  samples decides, because a small window makes distances noisy even against a large reference:
  up to `large_sample_rows` values, p-value tests (K-S numerical; chi-square, or Z for two values,
  categorical) at `p_value_threshold`; above it, distances (Wasserstein normed by the reference std;
  Jensen-Shannon) at `distance_threshold`, because with thousands of rows p-values flag differences
  too small to matter.
* The prediction column alone can decide the window, so its p-value test uses the stricter
  `prediction_p_value_threshold` (its level is the window's false-alarm rate).
* The window is drifted when the share of drifted feature columns reaches `drift_share`, or, if
  `prediction_drift_is_drift`, when the prediction column drifted. `report_only_columns` (features
  that grow with calendar time by construction) are tested and shown but not counted. Fewer than
  `min_window_rows` rows is "insufficient_data", never "drift".
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.metrics import ValueDrift
from evidently.presets import DataDriftPreset

from monitoring.config import DriftSettings
from monitoring.loaders import PredictionWindow
from monitoring.results import (
    P_VALUE_METHODS, ColumnDrift, ColumnKind, ColumnRole, DriftResult, SkippedColumn, Verdict,
)
from monitoring.sampling import sample_rows
from monitoring.timestamps import as_utc, utc_series

_VALUE_DRIFT = "evidently:metric_v2:ValueDrift"


@dataclass(frozen=True)
class _Plan:
    """The test chosen for one column before Evidently runs it."""

    column: str
    kind: ColumnKind
    method: str
    threshold: float
    reference_values: int
    current_values: int
    reference_missing_share: float
    current_missing_share: float
    role: ColumnRole


def _present(values: pd.Series) -> pd.Series:
    """Return the values a stat test sees: non-null and, for numbers, finite."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numbers = pd.to_numeric(values, errors="coerce").astype(float)
        return numbers[np.isfinite(numbers.to_numpy())]
    return values.dropna()


def choose_test(kind: ColumnKind, smaller_sample: int, distinct: int, settings: DriftSettings) -> tuple[str, float]:
    """Return (Evidently stat-test name, threshold) for a column of this kind and sample size."""
    if smaller_sample > settings.large_sample_rows:
        return ("wasserstein" if kind == "numerical" else "jensenshannon"), settings.distance_threshold
    if kind == "numerical":
        return "ks", settings.p_value_threshold
    return ("z" if distinct <= 2 else "chisquare"), settings.p_value_threshold


def _plan_column(
    name: str, reference: pd.DataFrame, current: pd.DataFrame, settings: DriftSettings, role: ColumnRole
) -> _Plan | SkippedColumn:
    """Classify one column and pick its test, or say why it cannot be tested."""
    ref, cur = _present(reference[name]), _present(current[name])
    if ref.empty:
        return SkippedColumn(name, "no values in the reference")
    ref_distinct = int(ref.nunique())
    if ref_distinct < 2:
        return SkippedColumn(
            name, f"constant in the reference ({ref.iloc[0]}); {int(cur.nunique())} distinct values in the window"
        )
    if cur.empty:
        return SkippedColumn(name, "no values in the window")
    if min(len(ref), len(cur)) < settings.min_column_rows:
        return SkippedColumn(
            name, f"too few values ({len(ref)} reference, {len(cur)} window; need {settings.min_column_rows})"
        )
    numeric = pd.api.types.is_numeric_dtype(ref) and not pd.api.types.is_bool_dtype(ref)
    kind: ColumnKind = "numerical" if numeric and ref_distinct > settings.max_categorical_values else "categorical"
    distinct = int(pd.concat([ref, cur]).nunique())
    method, threshold = choose_test(kind, min(len(ref), len(cur)), distinct, settings)
    if role == "prediction" and method in P_VALUE_METHODS:
        threshold = settings.prediction_p_value_threshold
    return _Plan(
        column=name, kind=kind, method=method, threshold=threshold,
        reference_values=len(ref), current_values=len(cur),
        reference_missing_share=1.0 - len(ref) / len(reference),
        current_missing_share=1.0 - len(cur) / len(current),
        role=role,
    )


def _run_evidently(
    reference: pd.DataFrame, current: pd.DataFrame, plans: Sequence[_Plan], settings: DriftSettings,
    timestamp: datetime | None,
) -> tuple[Any, dict[str, tuple[float, bool]]]:
    """Run one Evidently report over the planned columns; return it and each column's (score, drifted)."""
    features = [p for p in plans if p.role == "feature"]
    others = [p for p in plans if p.role != "feature"]
    columns = [p.column for p in plans]
    definition = DataDefinition(
        numerical_columns=[p.column for p in plans if p.kind == "numerical"],
        categorical_columns=[p.column for p in plans if p.kind == "categorical"],
    )
    metrics: list[Any] = []
    if features:
        metrics.append(
            DataDriftPreset(
                columns=[p.column for p in features],
                drift_share=settings.drift_share,
                per_column_method={p.column: p.method for p in features},
                per_column_threshold={p.column: p.threshold for p in features},
            )
        )
    # The prediction and report-only columns get metrics of their own, so the report's share of
    # drifted columns is the same share the verdict uses.
    metrics += [ValueDrift(column=p.column, method=p.method, threshold=p.threshold) for p in others]
    with warnings.catch_warnings():
        # Chi-square divides by zero for a category the reference never had: p = 0, drifted - as it should be.
        warnings.filterwarnings("ignore", message="divide by zero", category=RuntimeWarning)
        snapshot = Report(metrics, include_tests=True).run(
            Dataset.from_pandas(current[columns].reset_index(drop=True), data_definition=definition),
            Dataset.from_pandas(reference[columns].reset_index(drop=True), data_definition=definition),
            timestamp=timestamp,
        )
    content = snapshot.dict()
    scores = {
        m["config"]["column"]: float(m["value"]) for m in content["metrics"] if m["config"].get("type") == _VALUE_DRIFT
    }
    failed = {
        t["metric_config"]["params"]["column"]: t["status"] == "FAIL"
        for t in content["tests"]
        if t["metric_config"]["params"].get("type") == _VALUE_DRIFT
    }
    lost = sorted(set(columns) - scores.keys() - failed.keys())
    if lost or set(scores) != set(failed):
        odd = lost or sorted(set(scores) ^ set(failed))
        raise RuntimeError(f"Evidently returned no drift score or test for columns {odd}")
    return snapshot, {c: (scores[c], failed[c]) for c in columns}


def _role(column: str, settings: DriftSettings) -> ColumnRole:
    if column == settings.prediction_column:
        return "prediction"
    return "report_only" if column in settings.report_only_columns else "feature"


def _window_bounds(current: pd.DataFrame, column: str) -> tuple[datetime | None, datetime | None]:
    if column not in current.columns or current.empty:
        return None, None
    stamps = utc_series(current[column], column).dropna()
    if stamps.empty:
        return None, None
    return stamps.min().to_pydatetime(), stamps.max().to_pydatetime()


def _verdict(columns: Sequence[ColumnDrift], settings: DriftSettings) -> tuple[Verdict, str, float]:
    features = [c for c in columns if c.role == "feature"]
    drifted = [c.column for c in features if c.drifted]
    share = len(drifted) / len(features) if features else 0.0
    by_share = bool(features) and share >= settings.drift_share
    reason = f"{len(drifted)} of {len(features)} feature columns drifted ({share:.0%} vs {settings.drift_share:.0%})"
    if drifted:
        reason += f": {', '.join(drifted[:8])}{' ...' if len(drifted) > 8 else ''}"
    prediction = next((c for c in columns if c.is_prediction), None)
    by_prediction = prediction is not None and prediction.drifted and settings.prediction_drift_is_drift
    if prediction is not None:
        reason += (
            f"; prediction {'drifted' if prediction.drifted else 'stable'} "
            f"({prediction.method} {prediction.score_kind} {prediction.score:.3g}, threshold {prediction.threshold:g})"
        )
    return ("drift" if by_share or by_prediction else "no_drift"), reason, share


def check_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame | PredictionWindow,
    feature_columns: Sequence[str],
    settings: DriftSettings | None = None,
    *,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    model_version: str | None = None,
) -> DriftResult:
    """Test every feature column and the prediction column of the window against the reference.

    `current` is a DataFrame of prediction-log rows or a `PredictionWindow` (already sampled while
    reading; its total row count is what the minimum window size is checked against). Window bounds
    default to the window's own bounds, else to the min/max of `settings.time_column`.
    """
    settings = settings or DriftSettings()
    if isinstance(current, PredictionWindow):
        window_rows, frame = current.total_rows, current.frame
        window_start = window_start or current.start
        window_end = window_end or current.end
    else:
        window_rows, frame = len(current), current
    if window_start is None and window_end is None:
        window_start, window_end = _window_bounds(frame, settings.time_column)
    window_start = as_utc(window_start, "window_start") if window_start is not None else None
    window_end = as_utc(window_end, "window_end") if window_end is not None else None

    features = list(dict.fromkeys(feature_columns))
    if not features:
        raise ValueError("feature_columns is empty: nothing to test")
    if settings.prediction_column in features:
        raise ValueError(f"prediction column {settings.prediction_column!r} is also listed as a feature")
    wanted = [*features, settings.prediction_column]
    for side, data in (("reference", reference), ("window", frame)):
        missing = [c for c in wanted if c not in data.columns]
        if missing and not (side == "window" and frame.empty):
            raise ValueError(f"{side} lacks columns {missing[:10]}{' ...' if len(missing) > 10 else ''}")

    sample = sample_rows(frame, settings.max_sample_rows, settings.seed)
    ref_sample = sample_rows(reference, settings.max_sample_rows, settings.seed)
    notes: list[str] = []
    if len(sample) < window_rows:
        notes.append(f"window sampled uniformly: {len(sample):,} of {window_rows:,} rows (seed {settings.seed})")
    if len(ref_sample) < len(reference):
        notes.append(f"reference sampled uniformly: {len(ref_sample):,} of {len(reference):,} rows")

    def result(verdict: Verdict, reason: str, columns: Sequence[ColumnDrift] = (), skipped: Sequence[SkippedColumn] = (),
               share: float = 0.0, report: Any = None) -> DriftResult:
        return DriftResult(
            verdict=verdict, reason=reason, columns=tuple(columns), skipped=tuple(skipped), share_drifted=share,
            window_rows=window_rows, reference_rows=len(reference), sampled_rows=len(sample),
            window_start=window_start, window_end=window_end, model_version=model_version,
            settings=settings.model_dump(), notes=tuple(notes), report=report,
        )

    if window_rows < settings.min_window_rows:
        return result("insufficient_data", f"window has {window_rows:,} rows; need at least {settings.min_window_rows:,}")
    planned = [_plan_column(c, ref_sample, sample, settings, _role(c, settings)) for c in wanted]
    plans = [p for p in planned if isinstance(p, _Plan)]
    skipped = [p for p in planned if isinstance(p, SkippedColumn)]
    if not any(p.role == "feature" for p in plans):
        return result("insufficient_data", f"no feature column could be tested ({len(skipped)} skipped)", skipped=skipped)

    report, outcome = _run_evidently(ref_sample, sample, plans, settings, window_end)
    columns = [
        ColumnDrift(
            column=p.column, kind=p.kind, method=p.method, score=outcome[p.column][0], threshold=p.threshold,
            drifted=outcome[p.column][1], reference_values=p.reference_values, current_values=p.current_values,
            reference_missing_share=p.reference_missing_share, current_missing_share=p.current_missing_share,
            role=p.role,
        )
        for p in plans
    ]
    verdict, reason, share = _verdict(columns, settings)
    return result(verdict, reason, columns, skipped, share, report)
