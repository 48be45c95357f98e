"""Every monitoring threshold, typed and defaulted in one place (drift test, drift policy, performance decay)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

PREDICTION_COLUMN = "failure_probability"
# Features that grow with calendar time by construction: any later window differs from any earlier
# reference, so they are tested and shown but never counted towards the verdict.
TIME_BY_CONSTRUCTION = ("age_years", "loss_of_life_pct", "base_gap_days")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DriftSettings(_Frozen):
    """How one window of predictions is compared with the reference set.

    Per-column tests follow Evidently's own rule, made explicit and applied to the smaller of the two
    samples: up to `large_sample_rows` values, p-value tests (K-S for numerical, chi-square or Z for
    categorical) because distances are noisy on few rows; above it, distances (Wasserstein normed by
    the reference std for numerical, Jensen-Shannon for categorical) because p-values flag
    practically irrelevant differences once samples are large.
    """

    min_window_rows: int = Field(500, ge=1, description="fewer rows in the window => insufficient_data, never drift")
    drift_share: float = Field(
        0.3, gt=0, le=1, description="window drifted when at least this share of tested feature columns drifted"
    )
    prediction_column: str = Field(PREDICTION_COLUMN, description="the model's output column, tested like a feature")
    prediction_drift_is_drift: bool = Field(True, description="a drifted prediction column alone makes the window drifted")
    report_only_columns: tuple[str, ...] = Field(
        TIME_BY_CONSTRUCTION, description="tested and shown but not counted in the share (grow with time by design)"
    )
    max_sample_rows: int = Field(
        20_000, ge=1_000,
        description="uniform sample cap per side; the reference (<= 5,000 rows) bounds the power, so more rows add little",
    )
    seed: int = Field(0, ge=0, description="seed of the uniform sample")
    max_categorical_values: int = Field(
        10, ge=2, description="columns with at most this many distinct reference values are categorical"
    )
    large_sample_rows: int = Field(
        1_000, ge=30, description="above this many values in the smaller sample, distances replace p-value tests"
    )
    p_value_threshold: float = Field(0.05, gt=0, lt=1, description="K-S / chi-square / Z: drifted when p below this")
    distance_threshold: float = Field(0.1, gt=0, description="Wasserstein (normed) / Jensen-Shannon: drifted at or above")
    prediction_p_value_threshold: float = Field(
        0.01, gt=0, lt=1,
        description="stricter p-value level for the prediction column: alone it decides the window, "
        "so this level is the window's false-alarm rate",
    )
    min_column_rows: int = Field(30, ge=2, description="fewer non-null values on either side => column skipped")
    time_column: str = Field("scored_at", description="window bounds are read from this column when not given")


class DriftPolicy(_Frozen):
    """When drifted windows turn into a retraining trigger."""

    consecutive_windows: int = Field(2, ge=1, description="drift is confirmed after this many drifted windows in a row")
    cooldown_hours: float = Field(72.0, ge=0, description="no new trigger this long after a retrain (or trigger)")


class DecaySettings(_Frozen):
    """How realised performance of past predictions is judged once outcomes are known."""

    horizon_days: int = Field(90, ge=1, description="a prediction is positive if the unit fails within this many days")
    min_positives: int = Field(
        3, ge=1, description="fewer distinct realised failures for a version => insufficient data (not unit-days)"
    )
    max_pr_auc_drop: float = Field(
        0.1, gt=0, lt=1, description="decayed when realised PR-AUC falls more than this share below the holdout PR-AUC"
    )
    top_k_pct: float = Field(5.0, gt=0, le=100, description="crews inspect the riskiest k % of units per snapshot day")
    lookback_days: int = Field(
        730, ge=1, description="judge the predictions scored in this many days before the check (prediction log)"
    )
    max_predictions: int = Field(
        2_000_000, ge=1000, description="most prediction-log rows read per check (a uniform sample beyond that)"
    )


class SeasonalSettings(_Frozen):
    """Whether and how the reference is narrowed to the window's calendar months in an earlier year."""

    enabled: bool = Field(False, description="compare with the same calendar months of an earlier year")
    max_years_back: int = Field(1, ge=1, le=10, description="look back at most this many years (1 = last year only)")
    min_rows: int = Field(200, ge=1, description="fewer seasonal reference rows => the full reference is used")
    time_column: str = Field("as_of", description="time column of the reference set")


class MonitoringConfig(_Frozen):
    """All monitoring settings together (one validated flow parameter, logged with each check)."""

    drift: DriftSettings = DriftSettings()
    policy: DriftPolicy = DriftPolicy()
    decay: DecaySettings = DecaySettings()
    seasonal: SeasonalSettings = SeasonalSettings()
