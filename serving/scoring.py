"""Score validated readings with a FailureModel: shared features, calibrated probability, top contributions, risk band."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb
from numpy.typing import NDArray
from pydantic import BaseModel

from serving.settings import RISK_BAND_NAMES
from serving.tree_kernel import strongest
from serving.trees import TreeTables
from tasks.features import NUMERIC_FIELDS, compute_features, feature_matrix
from tasks.model import FailureModel


@dataclass(frozen=True)
class Scores:
    """Per-row results of one scoring call."""

    values: NDArray[np.float64]  # (n, features) in the model's feature order
    probability: NDArray[np.float64]
    top_index: NDArray[np.int64]  # (n, top) feature positions, strongest push first
    top_contribution: NDArray[np.float64]  # (n, top) log-odds
    explained: NDArray[np.bool_]  # rows whose top features were computed


_NUMERIC = itemgetter(*NUMERIC_FIELDS)
# From this many rows without explanations, XGBoost's own prediction is cheaper than the tables'
# (which evaluate every leaf, not only the reached one); below it, its fixed cost per call dominates.
XGBOOST_MARGIN_ROWS = 16
_BAND_NAMES = np.array(RISK_BAND_NAMES, dtype=object)


@dataclass(frozen=True)
class ReadingBatch:
    """Readings as the arrays the shared feature code takes, plus each one's identity for the results."""

    transformer_id: list[str]
    as_of: list[datetime]  # naive UTC
    numeric: NDArray[np.float64]  # (n, NUMERIC_FIELDS); null -> NaN
    cooling: NDArray[np.object_]
    oil_preservation: NDArray[np.object_]
    as_of_year: NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.transformer_id)

    @classmethod
    def from_models(cls, readings: Sequence[BaseModel]) -> ReadingBatch:
        """Build the arrays straight from validated readings (no DataFrame: it costs more than the features for one)."""
        fields = [r.__dict__ for r in readings]
        as_of = [f["as_of"] for f in fields]
        return cls(
            transformer_id=[f["transformer_id"] for f in fields], as_of=as_of,
            numeric=np.array([_NUMERIC(f) for f in fields], dtype=np.float64).reshape(len(fields), len(NUMERIC_FIELDS)),
            cooling=np.array([f["cooling"] for f in fields], dtype=object),
            oil_preservation=np.array([f["oil_preservation"] for f in fields], dtype=object),
            as_of_year=np.array([t.year for t in as_of], dtype=np.float64),
        )

    @classmethod
    def concat(cls, parts: Sequence[ReadingBatch]) -> ReadingBatch:
        if len(parts) == 1:
            return parts[0]
        return cls(
            transformer_id=[t for p in parts for t in p.transformer_id], as_of=[t for p in parts for t in p.as_of],
            numeric=np.concatenate([p.numeric for p in parts]), cooling=np.concatenate([p.cooling for p in parts]),
            oil_preservation=np.concatenate([p.oil_preservation for p in parts]),
            as_of_year=np.concatenate([p.as_of_year for p in parts]),
        )

    def take(self, rows: NDArray[np.intp]) -> ReadingBatch:
        return ReadingBatch(
            transformer_id=[self.transformer_id[i] for i in rows], as_of=[self.as_of[i] for i in rows],
            numeric=self.numeric[rows], cooling=self.cooling[rows], oil_preservation=self.oil_preservation[rows],
            as_of_year=self.as_of_year[rows],
        )

    def features(self) -> NDArray[np.float64]:
        """Return the (n, FEATURE_COLUMNS) model features, computed by the shared feature code."""
        return feature_matrix(self.numeric, self.cooling, self.oil_preservation, self.as_of_year)


def score_values(model: FailureModel, values: NDArray[np.float64], top: int,
                 explain_rows: NDArray[np.bool_] | None = None, tables: TreeTables | None = None) -> Scores:
    """Return what FailureModel.predict_proba and .explain return, from one (n, features) matrix in model order.

    With `tables` (checked against the booster when the model loaded) margins and exact TreeSHAP
    contributions come from serving.trees; without, from XGBoost. Contributions are computed only
    for `explain_rows`.
    """
    n = len(values)
    explained = np.ones(n, dtype=bool) if explain_rows is None else np.asarray(explain_rows, dtype=bool)
    if top <= 0:
        explained = np.zeros(n, dtype=bool)
    # float64 -> float32 rounds exactly as FailureModel's to_numpy(float32) does: identical predictions.
    values32 = values.astype(np.float32)
    if tables is None:
        margin, contribs = _xgboost_scores(model, values32, explained)
    elif np.count_nonzero(~explained) < XGBOOST_MARGIN_ROWS:
        margin, contribs = tables.evaluate(values32, explained)
    else:
        margin = xgboost_margin(model.booster, values32)
        contribs = tables.evaluate(values32[explained])[1] if explained.any() else np.empty((0, values.shape[1]))
    z = model.calibration.slope * margin + model.calibration.intercept
    probability = 1.0 / (1.0 + np.exp(-z))
    k = max(top, 0)
    top_index = np.zeros((n, k), dtype=np.int64)
    top_contribution = np.zeros((n, k))
    if len(contribs):
        order = _strongest(contribs, k)
        rows = np.flatnonzero(explained)
        top_index[rows] = order
        top_contribution[rows] = np.take_along_axis(contribs, order, axis=1)
    return Scores(values=values, probability=probability, top_index=top_index, top_contribution=top_contribution,
                  explained=explained)


def xgboost_margin(booster: xgb.Booster, values32: NDArray[np.float32]) -> NDArray[np.float64]:
    """Return XGBoost's margins straight from the array (same values as through a DMatrix, checked at load)."""
    margin = booster.inplace_predict(values32, predict_type="margin", missing=np.nan, validate_features=False)
    return np.asarray(margin, dtype=np.float64)


def _strongest(contribs: NDArray[np.float64], k: int) -> NDArray[np.int64]:
    """Return the k largest |contribution| positions per row, strongest first (ties: the lower position first)."""
    if k == 0 or not len(contribs):
        return np.zeros((len(contribs), k), dtype=np.int64)
    return strongest(np.ascontiguousarray(contribs, dtype=np.float64), min(k, contribs.shape[1]))


def _xgboost_scores(model: FailureModel, values32: NDArray[np.float32],
                    explained: NDArray[np.bool_]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    columns = list(model.feature_columns)
    matrix = xgb.DMatrix(values32, feature_names=columns, missing=np.nan, nthread=1)
    margin = np.asarray(model.booster.predict(matrix, output_margin=True), dtype=float)
    rows = np.flatnonzero(explained)
    if not len(rows):
        return margin, np.empty((0, len(columns)))
    subset = matrix if len(rows) == len(values32) else xgb.DMatrix(values32[rows], feature_names=columns,
                                                                  missing=np.nan, nthread=1)
    return margin, np.asarray(model.booster.predict(subset, pred_contribs=True)[:, :-1], dtype=float)


def score_readings(model: FailureModel, readings: ReadingBatch | pd.DataFrame, top: int,
                   explain_rows: NDArray[np.bool_] | None = None, tables: TreeTables | None = None) -> Scores:
    """Compute the shared features of the readings and score them."""
    if isinstance(readings, ReadingBatch):
        values = readings.features()
    else:  # a table (the golden set): exactly the training path
        values = compute_features(readings).to_numpy(dtype=np.float64)
    return score_values(model, values, top, explain_rows, tables)


def band_positions(probability: NDArray[np.float64], thresholds: Sequence[float]) -> NDArray[np.int64]:
    """Position in RISK_BAND_NAMES of each probability's band (thresholds ascend; a value on one is in the upper band)."""
    return np.searchsorted(np.asarray(thresholds, dtype=float), probability, side="right").astype(np.int64)


def band_names(positions: NDArray[np.int64]) -> list[str]:
    """The names of band positions."""
    return _BAND_NAMES[positions].tolist()  # type: ignore[no-any-return]


def risk_bands(probability: NDArray[np.float64], thresholds: Sequence[float]) -> list[str]:
    """Name the risk band of each probability."""
    return band_names(band_positions(probability, thresholds))


def feature_names(model: FailureModel) -> tuple[tuple[str, str], ...]:
    """(feature, readable label) of each model feature, in model order."""
    labels = model.feature_labels
    return tuple((name, labels.get(name, name)) for name in model.feature_columns)


def result_items(names: Sequence[tuple[str, str]], scores: Scores, transformer_id: Sequence[str],
                 as_of: Sequence[datetime], band_of_row: NDArray[np.int64]) -> list[dict[str, Any]]:
    """Return the JSON-ready result of each reading (transformer, probability, band, top features)."""
    probability = scores.probability.tolist()
    explained = scores.explained.tolist()
    top_index = scores.top_index.tolist()
    top_contribution = scores.top_contribution.tolist()
    # The feature values behind each row's top contributions, as Python floats (NaN -> None below).
    top_value = np.take_along_axis(scores.values, scores.top_index, axis=1).tolist() if scores.top_index.size else [[]] * len(probability)
    out = []
    for i, (tid, stamp, band) in enumerate(zip(transformer_id, as_of, band_of_row.tolist())):
        top: list[dict[str, Any]] = []
        if explained[i]:
            for j, contribution, v in zip(top_index[i], top_contribution[i], top_value[i]):
                name, label = names[j]
                top.append({"feature": name, "label": label, "value": None if v != v else v,
                            "contribution": contribution})
        out.append({"transformer_id": tid, "as_of": stamp, "failure_probability": probability[i],
                    "risk_band": RISK_BAND_NAMES[band], "top_features": top})
    return out
