"""Seasonal reference: the window's calendar months a year earlier when covered, else the full set with a note."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest

from monitoring import DriftSettings, SeasonalSettings, check_drift, seasonal_reference

ON = SeasonalSettings(enabled=True, min_rows=100)
FEATURES = ("ambient_mean_30d", "load_mean_30d", "h2_log_ppm")


def utc(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=timezone.utc)


def fleet_year(start: str, end: str, rows_per_day: int, seed: int) -> pd.DataFrame:
    """Daily snapshots with a seasonal ambient (hot in July) and load (peaks in winter and summer)."""
    rng = np.random.default_rng(seed)
    days = pd.date_range(start, end, freq="D", tz="UTC", inclusive="left").repeat(rows_per_day)
    doy = days.dayofyear.to_numpy()
    ambient = 12.0 + 10.0 * np.cos(2 * np.pi * (doy - 196) / 365.25) + rng.normal(0, 2.0, len(days))
    load = 0.6 + 0.08 * np.cos(4 * np.pi * (doy - 15) / 365.25) + rng.normal(0, 0.05, len(days))
    probability = 1 / (1 + np.exp(-(0.05 * ambient + 2 * load - 4)))
    return pd.DataFrame({
        "as_of": days, "scored_at": days, "ambient_mean_30d": ambient, "load_mean_30d": load,
        "h2_log_ppm": rng.normal(2.5, 0.8, len(days)), "failure_probability": probability,
    })


REFERENCE = fleet_year("2023-01-01", "2025-01-01", 8, seed=0)


def test_picks_the_same_months_last_year() -> None:
    picked = seasonal_reference(REFERENCE, utc(2025, 7, 1), utc(2025, 8, 1), ON)
    assert picked.seasonal and picked.months == ("2024-07",)
    stamps = pd.to_datetime(picked.frame["as_of"], utc=True)
    assert (stamps.dt.year == 2024).all() and (stamps.dt.month == 7).all()
    assert len(picked.frame) == 31 * 8
    span = seasonal_reference(REFERENCE, utc(2025, 7, 20), utc(2025, 8, 10), ON)
    assert span.months == ("2024-07", "2024-08")
    assert "2024-07, 2024-08" in span.note


def test_falls_back_to_the_full_reference_with_a_note() -> None:
    early = REFERENCE.loc[pd.to_datetime(REFERENCE["as_of"], utc=True) < "2024-03-01"]
    fallback = seasonal_reference(early, utc(2025, 7, 1), utc(2025, 8, 1), ON)
    assert not fallback.seasonal and len(fallback.frame) == len(early)
    assert "no rows in 2024-07" in fallback.note and "full reference" in fallback.note
    two_back = seasonal_reference(early, utc(2025, 7, 1), utc(2025, 8, 1), ON.model_copy(update={"max_years_back": 2}))
    assert two_back.seasonal and two_back.months == ("2023-07",)
    thin = seasonal_reference(REFERENCE, utc(2025, 7, 1), utc(2025, 7, 2), SeasonalSettings(enabled=True, min_rows=500))
    assert not thin.seasonal and "8 rows < 500" in thin.note
    off = seasonal_reference(REFERENCE, utc(2025, 7, 1), utc(2025, 8, 1))
    assert not off.seasonal and off.frame is REFERENCE
    with pytest.raises(ValueError, match="timezone-aware"):
        seasonal_reference(REFERENCE, datetime(2025, 7, 1), utc(2025, 8, 1), ON)


def test_summer_is_not_called_drift_against_last_summer() -> None:
    july = fleet_year("2025-07-01", "2025-08-01", 40, seed=5)
    settings = DriftSettings(report_only_columns=())
    full = check_drift(REFERENCE, july, FEATURES, settings)
    assert full.column("ambient_mean_30d").drifted and full.verdict == "drift"
    seasonal = seasonal_reference(REFERENCE, utc(2025, 7, 1), utc(2025, 8, 1), ON).frame
    same_months = check_drift(seasonal, july, FEATURES, settings)
    assert same_months.verdict == "no_drift", same_months.reason
