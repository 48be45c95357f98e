"""check_drift on synthetic windows: stable data passes, injected drifts are found on the right columns."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from monitoring import DriftSettings, check_drift
from monitoring.drift import choose_test
from tests.monitoring.factory import FEATURES, bimodal_load, gas_bias, load_growth, make_window, older_fleet

REFERENCE = make_window(5_000, seed=1_000)
WITH_CONSTANT = (*FEATURES, "cooling_OFAF")


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_window_from_the_reference_distribution_is_no_drift(seed: int) -> None:
    result = check_drift(REFERENCE, make_window(3_000, seed), FEATURES)
    assert result.verdict == "no_drift", result.reason
    assert len(result.drifted_columns) <= 1
    assert result.prediction is not None and not result.prediction.drifted


def test_small_stable_windows_rarely_alarm_with_p_value_tests() -> None:
    settings = DriftSettings(min_window_rows=300)
    verdicts = [check_drift(REFERENCE, make_window(600, seed), FEATURES, settings).verdict for seed in range(10, 16)]
    assert verdicts.count("drift") <= 1, verdicts


def test_gas_bias_is_found_on_that_gas_and_drifts_the_window() -> None:
    result = check_drift(REFERENCE, make_window(3_000, 7, gas_bias), FEATURES)
    drifted = {c.column for c in result.drifted_columns}
    assert "h2_log_ppm" in drifted
    assert drifted <= {"h2_log_ppm", "failure_probability"}
    assert result.verdict == "drift"
    assert "prediction drifted" in result.reason


def test_load_growth_is_found_on_the_load_columns() -> None:
    result = check_drift(REFERENCE, make_window(3_000, 8, load_growth), FEATURES)
    drifted = {c.column for c in result.drifted_columns}
    assert {"load_mean_30d", "load_max_30d", "failure_probability"} <= drifted
    assert not drifted & {"h2_log_ppm", "c57_status", "duval_zone_T1", "moisture_band"}
    assert result.verdict == "drift"


def test_a_bimodal_load_with_the_same_mean_is_found() -> None:
    window = make_window(3_000, 9, bimodal_load)
    assert abs(window["load_mean_30d"].mean() - REFERENCE["load_mean_30d"].mean()) < 0.01
    assert result_drifted(window, "load_mean_30d")
    small = window.head(800)  # p-value regime (K-S) must see the shape too
    assert result_drifted(small, "load_mean_30d")


def result_drifted(window: pd.DataFrame, column: str) -> bool:
    return check_drift(REFERENCE, window, FEATURES).column(column).drifted


def test_too_small_a_window_is_insufficient_never_drift() -> None:
    window = make_window(499, 3, gas_bias)
    window["h2_log_ppm"] += 5.0
    result = check_drift(REFERENCE, window, FEATURES)
    assert result.verdict == "insufficient_data"
    assert result.columns == () and not result.has_report
    assert "499 rows" in result.reason


def test_share_rule_without_the_prediction_rule() -> None:
    settings = DriftSettings(prediction_drift_is_drift=False)
    one = check_drift(REFERENCE, make_window(3_000, 11, gas_bias), FEATURES, settings)
    assert one.column("h2_log_ppm").drifted and one.verdict == "no_drift"
    assert one.share_drifted == pytest.approx(1 / 8)

    def many(frame: pd.DataFrame, rng: object) -> None:
        gas_bias(frame, rng)  # type: ignore[arg-type]
        load_growth(frame, rng)  # type: ignore[arg-type]

    both = check_drift(REFERENCE, make_window(3_000, 12, many), FEATURES, settings)
    assert both.share_drifted >= 0.3 and both.verdict == "drift"


def test_tests_follow_column_type_and_sample_size() -> None:
    large = check_drift(REFERENCE, make_window(3_000, 5), FEATURES)
    small = check_drift(REFERENCE, make_window(700, 5), FEATURES)
    assert large.column("load_mean_30d").method == "wasserstein"
    assert large.column("c57_status").method == "jensenshannon"
    assert large.column("c57_status").kind == "categorical"
    assert small.column("load_mean_30d").method == "ks"
    assert small.column("c57_status").method == "chisquare"
    assert small.column("duval_zone_T1").method == "z"
    assert small.column("h2_log_ppm").score_kind == "p_value" and large.column("h2_log_ppm").score_kind == "distance"
    settings = DriftSettings()
    assert choose_test("numerical", 5_000, 900, settings) == ("wasserstein", 0.1)
    assert choose_test("categorical", 200, 2, settings) == ("z", 0.05)


def test_constant_empty_and_time_by_construction_columns() -> None:
    window = make_window(2_000, 6, older_fleet)
    window["c2h2_log_ppm"] = float("nan")
    result = check_drift(REFERENCE, window, WITH_CONSTANT)
    skipped = {s.column: s.reason for s in result.skipped}
    assert "constant in the reference" in skipped["cooling_OFAF"]
    assert "no values in the window" in skipped["c2h2_log_ppm"]
    age = result.column("age_years")
    assert age.drifted and age.role == "report_only"
    assert "age_years" not in {c.column for c in result.feature_columns}
    with pytest.raises(KeyError, match="skipped"):
        result.column("cooling_OFAF")


def test_missing_feature_column_is_named() -> None:
    window = make_window(1_000, 2).drop(columns="moisture_band")
    with pytest.raises(ValueError, match="moisture_band"):
        check_drift(REFERENCE, window, FEATURES)


def test_large_window_is_sampled_to_the_cap() -> None:
    settings = DriftSettings(max_sample_rows=2_000)
    result = check_drift(REFERENCE, make_window(30_000, 4), FEATURES, settings)
    assert result.window_rows == 30_000 and result.sampled_rows == 2_000
    assert result.reference_rows == 5_000
    assert all(c.current_values <= 2_000 for c in result.columns)
    assert any("sampled uniformly" in note for note in result.notes)
    assert result.verdict == "no_drift"


def test_summary_table_dict_and_metrics() -> None:
    result = check_drift(REFERENCE, make_window(3_000, 7, gas_bias), FEATURES, model_version="3")
    text = result.summary_markdown()
    assert "| column | method | score | threshold | drifted |" in text
    h2_row = next(line for line in text.splitlines() if line.startswith("| h2_log_ppm "))
    assert "**yes**" in h2_row and "wasserstein" in h2_row
    assert text.index("| h2_log_ppm ") < text.index("| c57_status ")  # drifted columns first
    data = json.loads(json.dumps(result.as_dict()))
    assert data["verdict"] == "drift" and "h2_log_ppm" in data["drifted_columns"]
    assert data["window_end"].startswith("2025-06-03") and data["model_version"] == "3"
    assert len(data["columns"]) == len(result.columns) and "report" not in data
    metrics = result.metrics()
    assert metrics["drift.is_drift"] == 1.0
    assert all(isinstance(v, float) and math.isfinite(v) for v in metrics.values())
