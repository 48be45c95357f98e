"""Score validated readings with a FailureModel: shared features, calibrated probability, top contributions, risk band."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb
from numpy.typing import NDArray
from pydantic import BaseModel

from serving.schemas import READING_FIELDS
from serving.settings import RISK_BAND_NAMES
from tasks.features import compute_features
from tasks.model import FailureModel


@dataclass(frozen=True)
class Scores:
    """Per-row results of one scoring call."""

    values: NDArray[np.float64]  # (n, features) in the model's feature order
    probability: NDArray[np.float64]
    top_index: NDArray[np.int64]  # (n, top) feature positions, strongest push first
    top_contribution: NDArray[np.float64]  # (n, top) log-odds
    explained: NDArray[np.bool_]  # rows whose top features were computed


_DTYPES: dict[str, Any] = {"float": np.float64, "int": np.int64}
_KINDS: tuple[tuple[str, str], ...] = tuple((c.name, c.kind) for c in READING_FIELDS)
_FIELDS = itemgetter(*(name for name, _ in _KINDS))


def _column(kind: str, values: tuple[Any, ...]) -> Any:
    if kind == "timestamp":
        return pd.DatetimeIndex(values)  # validated naive-UTC datetimes; far faster than numpy's per-object cast
    return np.array(values, dtype=_DTYPES.get(kind, object))  # None -> NaN for float columns


def readings_frame(readings: Sequence[BaseModel]) -> pd.DataFrame:
    """Build the readings table (READING_FIELDS columns, typed arrays; null -> NaN) once for a whole batch."""
    columns = zip(*[_FIELDS(r.__dict__) for r in readings])
    return pd.DataFrame({name: _column(kind, values) for (name, kind), values in zip(_KINDS, columns)})


def score_features(model: FailureModel, features: pd.DataFrame, top: int,
                   explain_rows: NDArray[np.bool_] | None = None) -> Scores:
    """Return what FailureModel.predict_proba and .explain return, from one feature matrix.

    Contributions (exact TreeSHAP, the costliest step by far) are computed only for `explain_rows`.
    """
    columns = list(model.feature_columns)
    ordered = features if tuple(features.columns) == model.feature_columns else features.loc[:, columns]
    values = ordered.to_numpy(dtype=np.float64)
    # float64 -> float32 rounds exactly as FailureModel's to_numpy(float32) does: identical predictions.
    values32 = values.astype(np.float32)
    matrix = xgb.DMatrix(values32, feature_names=columns, missing=np.nan, nthread=1)
    margin = np.asarray(model.booster.predict(matrix, output_margin=True), dtype=float)
    z = model.calibration.slope * margin + model.calibration.intercept
    probability = 1.0 / (1.0 + np.exp(-z))
    n = len(features)
    explained = np.ones(n, dtype=bool) if explain_rows is None else np.asarray(explain_rows, dtype=bool)
    if top <= 0:
        explained = np.zeros(n, dtype=bool)
    top_index = np.zeros((n, max(top, 0)), dtype=np.int64)
    top_contribution = np.zeros((n, max(top, 0)))
    rows = np.flatnonzero(explained)
    if len(rows):
        subset = matrix if len(rows) == n else xgb.DMatrix(values32[rows], feature_names=columns, missing=np.nan, nthread=1)
        contribs = np.asarray(model.booster.predict(subset, pred_contribs=True)[:, :-1], dtype=float)
        order = np.argsort(-np.abs(contribs), axis=1)[:, :top]
        top_index[rows] = order
        top_contribution[rows] = np.take_along_axis(contribs, order, axis=1)
    return Scores(values=values, probability=probability, top_index=top_index, top_contribution=top_contribution,
                  explained=explained)


def score_readings(model: FailureModel, readings: pd.DataFrame, top: int,
                   explain_rows: NDArray[np.bool_] | None = None) -> Scores:
    """Compute the shared features of the readings and score them."""
    return score_features(model, compute_features(readings), top, explain_rows)


def risk_bands(probability: NDArray[np.float64], thresholds: Sequence[float]) -> list[str]:
    """Name the risk band of each probability (thresholds ascend; a value on a threshold is in the upper band)."""
    positions = np.searchsorted(np.asarray(thresholds, dtype=float), probability, side="right")
    return [RISK_BAND_NAMES[i] for i in positions]


def result_items(model: FailureModel, scores: Scores, readings: pd.DataFrame, rows: slice,
                 thresholds: Sequence[float]) -> list[dict[str, Any]]:
    """Return the JSON-ready result of each row in `rows` (transformer, probability, band, top features)."""
    columns = model.feature_columns
    labels = model.feature_labels
    values = scores.values
    ids = readings["transformer_id"].tolist()
    as_of = list(pd.DatetimeIndex(readings["as_of"]).to_pydatetime())
    probability = scores.probability
    bands = risk_bands(probability[rows], thresholds)
    out = []
    for k, i in enumerate(range(*rows.indices(len(readings)))):
        top: list[dict[str, Any]] = []
        pairs = zip(scores.top_index[i].tolist(), scores.top_contribution[i].tolist()) if scores.explained[i] else ()
        for j, contribution in pairs:
            v = values[i, j]
            name = columns[j]
            top.append({"feature": name, "label": labels.get(name, name),
                        "value": None if v != v else float(v), "contribution": contribution})
        out.append({"transformer_id": ids[i], "as_of": as_of[i], "failure_probability": float(probability[i]),
                    "risk_band": bands[k], "top_features": top})
    return out
