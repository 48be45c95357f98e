"""Snapshot grid and failure labels: the positive window, right-censoring, and no snapshots after a failure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tasks.labels import LabelConfig, label_snapshots, next_failure, observation_window, snapshot_grid

T0 = pd.Timestamp("2024-01-01")


def _days(n: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(days=n)


def make_tables() -> dict[str, pd.DataFrame]:
    """A: data on days 0-100, fails on day 50.5; B: data on days 3-100; C: retired after day 40."""
    telemetry = pd.DataFrame({
        "transformer_id": ["A", "A", "B", "B", "C", "C"],
        "timestamp": [_days(0.25), _days(100), _days(3), _days(100), _days(0), _days(40)],
    })
    dga = pd.DataFrame({"transformer_id": ["B"], "sampled_at": [_days(2.5)]})
    oil = pd.DataFrame({"transformer_id": pd.Series(dtype=str), "sampled_at": pd.Series(dtype="datetime64[ns]")})
    failures = pd.DataFrame({"transformer_id": ["A"], "failed_at": [_days(50.5)], "failure_mode": ["thermal"]})
    return {"telemetry": telemetry, "dga": dga, "oil_tests": oil, "failures": failures}


def test_label_config_validates() -> None:
    assert LabelConfig() == LabelConfig(horizon_days=90, snapshot_freq_days=7)
    with pytest.raises(ValueError, match="horizon_days"):
        LabelConfig(horizon_days=0)
    with pytest.raises(ValueError, match="snapshot_freq_days"):
        LabelConfig(snapshot_freq_days=2.5)  # type: ignore[arg-type]


def test_grid_spans_each_unit_on_a_shared_calendar() -> None:
    grid = snapshot_grid(make_tables(), freq_days=7)
    by_unit = {u: list(g["as_of"]) for u, g in grid.groupby("transformer_id")}
    # Calendar starts at midnight of the earliest data; A's first data is at 06:00, so day 7 comes first.
    assert by_unit["A"] == [_days(d) for d in (7, 14, 21, 28, 35, 42, 49)]  # nothing at or after the failure
    assert by_unit["B"][0] == _days(7)  # first data day 2.5 (DGA)
    assert by_unit["B"][-1] == _days(98)
    assert by_unit["C"] == [_days(d) for d in (0, 7, 14, 21, 28, 35)]  # retired after day 40
    assert grid["as_of"].is_monotonic_increasing


def test_grid_window_can_be_restricted() -> None:
    grid = snapshot_grid(make_tables(), freq_days=14, start=_days(10), end=_days(40))
    assert sorted(set(grid["as_of"])) == [_days(10), _days(24), _days(38)]
    assert set(grid["transformer_id"]) == {"A", "B", "C"}


def test_grid_follows_the_data_timezone() -> None:
    tables = make_tables()
    tables["telemetry"]["timestamp"] = tables["telemetry"]["timestamp"].dt.tz_localize("UTC")
    grid = snapshot_grid(tables, freq_days=7)
    assert str(grid["as_of"].dt.tz) == "UTC"
    assert grid["as_of"].min() == pd.Timestamp("2024-01-01", tz="UTC")


def test_labels_positive_window_and_censoring() -> None:
    tables = make_tables()
    grid = pd.DataFrame({
        "transformer_id": ["A", "A", "A", "A", "B", "B", "B"],
        "as_of": [_days(-40), _days(-39.5), _days(20), _days(50.5), _days(10), _days(10.5), _days(60)],
    })
    y = label_snapshots(grid, tables["failures"], data_end=_days(100), horizon_days=90)
    expected = [
        0.0,  # failure is 90.5 days ahead: outside (t, t + 90]
        1.0,  # exactly 90 days ahead: inside
        1.0,
        np.nan,  # at the failure instant: the window (t, t + H] excludes it, and the horizon runs past data end
        0.0,  # B: t + 90 = day 100 = data end, no failure: a known negative
        np.nan,  # t + 90 is past data end: right-censored, not 0
        np.nan,
    ]
    np.testing.assert_array_equal(y.to_numpy(), expected)
    assert y.name == "label" and list(y.index) == list(grid.index)


def test_labels_with_per_unit_observation_end() -> None:
    tables = make_tables()
    grid = pd.DataFrame({"transformer_id": ["C", "C", "B", "Z"], "as_of": [_days(5), _days(20), _days(5), _days(0)]})
    end = observation_window(tables)["last"]
    y = label_snapshots(grid, tables["failures"], data_end=end, horizon_days=30)
    # C is watched until day 40; Z was never observed.
    np.testing.assert_array_equal(y.to_numpy(), [0.0, np.nan, 0.0, np.nan])


def test_label_and_grid_handle_timezone_aware_failures() -> None:
    tables = make_tables()
    failures = tables["failures"].assign(failed_at=tables["failures"]["failed_at"].dt.tz_localize("UTC"))
    grid = pd.DataFrame({"transformer_id": ["A"], "as_of": [_days(30)]})
    assert label_snapshots(grid, failures, data_end=pd.Timestamp("2024-04-10", tz="UTC"))[0] == 1.0
    empty = failures.iloc[0:0]
    assert next_failure(grid, empty).isna().all()
    assert label_snapshots(grid, empty, data_end=_days(200), horizon_days=90)[0] == 0.0


def test_next_failure_is_strictly_after_as_of() -> None:
    failures = pd.DataFrame({"transformer_id": ["A", "A"], "failed_at": [_days(10), _days(50)]})
    grid = pd.DataFrame({"transformer_id": ["A", "A", "A", "B"], "as_of": [_days(5), _days(10), _days(60), _days(5)]})
    got = next_failure(grid, failures)
    assert list(got[:2]) == [_days(10), _days(50)]
    assert got[2:].isna().all()


def test_missing_columns_are_named() -> None:
    tables = make_tables()
    with pytest.raises(ValueError, match="failed_at"):
        label_snapshots(pd.DataFrame({"transformer_id": ["A"], "as_of": [T0]}), pd.DataFrame({"transformer_id": ["A"]}), T0)
    with pytest.raises(ValueError, match="'dga' lacks column 'sampled_at'"):
        snapshot_grid(dict(tables, dga=tables["dga"].rename(columns={"sampled_at": "t"})))
