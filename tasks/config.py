"""Every training hyperparameter and threshold, typed and defaulted in one place (and logged with each run)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LabelSettings(_Frozen):
    """How snapshots are taken and what counts as a positive."""

    horizon_days: int = Field(90, ge=1, le=730, description="positive if the unit fails within this many days")
    snapshot_freq_days: int = Field(7, ge=1, le=365, description="days between snapshots of a unit")


class SplitSettings(_Frozen):
    """Time split: train on the past, validate on a later window, hold out the latest window."""

    holdout_days: int = Field(180, ge=30, description="length of the frozen holdout window at the end of the data")
    validation_days: int = Field(180, ge=30, description="length of the validation window before the holdout")
    random_test_share: float = Field(0.25, gt=0, lt=0.5, description="holdout share when data has no time column")
    seed: int = 0


class ModelSettings(_Frozen):
    """XGBoost hyperparameters; imbalance is handled by a weight on positives, then recalibrated."""

    n_estimators: int = Field(600, ge=1)
    learning_rate: float = Field(0.05, gt=0, le=1)
    max_depth: int = Field(4, ge=1, le=16)
    min_child_weight: float = Field(2.0, ge=0)
    subsample: float = Field(0.8, gt=0, le=1)
    colsample_bytree: float = Field(0.8, gt=0, le=1)
    reg_lambda: float = Field(1.0, ge=0)
    early_stopping_rounds: int = Field(50, ge=1)
    positive_weight: Literal["sqrt_ratio", "ratio", "none"] = Field(
        "sqrt_ratio", description="weight on positives: sqrt(neg/pos), neg/pos, or 1"
    )
    calibration: Literal["platt", "none"] = Field("platt", description="recalibration fitted on the validation window")
    seed: int = 0
    n_jobs: int = Field(2, ge=1)


class EvalSettings(_Frozen):
    """How the holdout is scored."""

    top_k_pct: float = Field(5.0, gt=0, le=100, description="crews inspect the riskiest k % of units per snapshot")


class GateSettings(_Frozen):
    """When a challenger may replace the champion."""

    min_pr_auc_gain: float = Field(0.005, description="challenger must beat the champion's PR-AUC by this much")
    brier_tolerance: float = Field(0.0005, ge=0, description="allowed Brier-score increase")
    top_k_recall_tolerance: float = Field(0.05, ge=0, description="allowed drop in top-k recall")
    first_model_must_beat_baselines: bool = Field(True, description="floor for the first model: beat both rules")
    min_pr_auc: float = Field(0.0, ge=0, le=1, description="absolute PR-AUC floor for any promotion")


class TrainingConfig(_Frozen):
    """The whole configuration of a training run."""

    labels: LabelSettings = LabelSettings()
    split: SplitSettings = SplitSettings()
    model: ModelSettings = ModelSettings()
    evaluation: EvalSettings = EvalSettings()
    gate: GateSettings = GateSettings()

    def flat(self) -> dict[str, Any]:
        """Return every setting as a flat `section.name -> value` dict (for logging as run params)."""
        out: dict[str, Any] = {}
        for section, values in self.model_dump().items():
            for key, value in values.items():
                out[f"{section}.{key}"] = value
        return out
