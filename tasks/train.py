"""Fit the XGBoost failure classifier with early stopping, then recalibrate it on the validation window."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.linear_model import LogisticRegression

from tasks.config import ModelSettings
from tasks.model import Calibration, FailureModel
from tasks.split import Split


@dataclass(frozen=True)
class FitResult:
    """The fitted model and what happened while fitting it."""

    model: FailureModel
    best_iteration: int
    positive_weight: float
    validation_pr_auc: float


def positive_weight(labels: np.ndarray, rule: str) -> float:
    """Return the weight on positives that offsets the class imbalance."""
    pos = float(np.sum(labels == 1))
    neg = float(np.sum(labels == 0))
    if pos == 0:
        raise ValueError("training data has no positive (failure) snapshots")
    ratio = neg / pos
    return {"ratio": ratio, "sqrt_ratio": float(np.sqrt(ratio)), "none": 1.0}[rule]


def fit_model(
    split: Split,
    feature_columns: Sequence[str],
    settings: ModelSettings,
    feature_labels: Mapping[str, str] | None = None,
) -> FitResult:
    """Fit on the train part, stop early on validation PR-AUC, and fit Platt scaling on validation."""
    columns = list(feature_columns)
    y_train = split.train["label"].to_numpy(dtype=float)
    y_valid = split.validation["label"].to_numpy(dtype=float)
    weight = positive_weight(y_train, settings.positive_weight)
    dtrain = xgb.DMatrix(_values(split.train, columns), label=y_train, feature_names=columns, missing=np.nan)
    dvalid = xgb.DMatrix(_values(split.validation, columns), label=y_valid, feature_names=columns, missing=np.nan)
    params = {
        "objective": "binary:logistic",
        "eval_metric": "aucpr",
        "tree_method": "hist",
        "learning_rate": settings.learning_rate,
        "max_depth": settings.max_depth,
        "min_child_weight": settings.min_child_weight,
        "subsample": settings.subsample,
        "colsample_bytree": settings.colsample_bytree,
        "reg_lambda": settings.reg_lambda,
        "scale_pos_weight": weight,
        "seed": settings.seed,
        "nthread": settings.n_jobs,
    }
    evals_result: dict[str, dict[str, list[float]]] = {}
    booster = xgb.train(
        params,
        dtrain,
        num_boost_round=settings.n_estimators,
        evals=[(dvalid, "validation")],
        early_stopping_rounds=settings.early_stopping_rounds,
        evals_result=evals_result,
        verbose_eval=False,
    )
    best = int(booster.best_iteration)
    booster = booster[: best + 1]  # keep only the trees early stopping chose
    model = FailureModel(
        booster=booster,
        feature_columns=tuple(columns),
        feature_labels=dict(feature_labels or {}),
    )
    if settings.calibration == "platt":
        model.calibration = _platt(model.margin(split.validation), y_valid)
    return FitResult(
        model=model,
        best_iteration=best,
        positive_weight=weight,
        validation_pr_auc=float(evals_result["validation"]["aucpr"][best]),
    )


def _platt(margin: np.ndarray, labels: np.ndarray) -> Calibration:
    """Fit p = sigmoid(a * margin + b) by (nearly unregularised) logistic regression."""
    lr = LogisticRegression(C=1e6, solver="lbfgs", max_iter=1000)
    lr.fit(margin.reshape(-1, 1), labels.astype(int))
    return Calibration(slope=float(lr.coef_[0, 0]), intercept=float(lr.intercept_[0]), method="platt")


def _values(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"training table lacks feature column(s): {', '.join(missing)}")
    return frame.loc[:, columns].to_numpy(dtype=np.float32)
