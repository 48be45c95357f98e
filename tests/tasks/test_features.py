"""Snapshot assembly (point-in-time correctness, windows, baselines) and the row-wise feature function."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tasks.features import FEATURE_COLUMNS, FEATURE_DESCRIPTIONS, REQUIRED_FIELDS, compute_features
from tasks.physics import THERMAL_PARAMS, ageing_acceleration, hot_spot_from_top_oil
from tasks.schema import DGA, GASES, OIL_TESTS, TABLES, TELEMETRY
from tasks.snapshots import READING_FIELD_NAMES, READING_FIELDS, build_snapshots

T0 = pd.Timestamp("2024-01-01")
SPIKE = T0 + pd.Timedelta(days=40, hours=12)


def _dga_row(unit: str, at: pd.Timestamp, **gases: float) -> dict[str, object]:
    row: dict[str, object] = {"transformer_id": unit, "sampled_at": at, "moisture_ppm": 12.0}
    row.update({g: gases.get(g, 1.0) for g in GASES})
    return row


def make_tables(days: int = 90) -> dict[str, pd.DataFrame]:
    """Two units: A (sealed, ONAF, 1990) with one hot hour at SPIKE; B (free breathing, ONAN, 2018)."""
    assets = pd.DataFrame({
        "transformer_id": ["A", "B"], "substation": ["S1", "S2"], "voltage_kv": [132.0, 33.0],
        "rated_mva": [60.0, 10.0], "install_year": [1990, 2018], "cooling": ["ONAF", "ONAN"],
        "oil_preservation": ["sealed", "free_breathing"],
    })
    hours = pd.date_range(T0, periods=24 * days, freq="h")
    parts = []
    for unit, load in (("A", 0.8), ("B", 0.5)):
        part = pd.DataFrame({"transformer_id": unit, "timestamp": hours, "load_pu": load,
                             "ambient_temp_c": 20.0, "top_oil_temp_c": 60.0, "quality": "good"})
        parts.append(part)
    telemetry = pd.concat(parts, ignore_index=True)
    spike = (telemetry["transformer_id"] == "A") & (telemetry["timestamp"] == SPIKE)
    telemetry.loc[spike, ["load_pu", "top_oil_temp_c"]] = [1.3, 100.0]
    # A 'bad' row and a row without load must not count.
    bad = (telemetry["transformer_id"] == "A") & (telemetry["timestamp"] == SPIKE + pd.Timedelta(days=1))
    telemetry.loc[bad, ["load_pu", "top_oil_temp_c", "quality"]] = [2.5, 190.0, "bad"]
    no_load = (telemetry["transformer_id"] == "A") & (telemetry["timestamp"] == SPIKE + pd.Timedelta(days=2))
    telemetry.loc[no_load, "load_pu"] = np.nan
    dga = pd.DataFrame([
        _dga_row("A", T0 - pd.Timedelta(days=800), h2=5.0),  # older than 24 months before the latest
        _dga_row("A", T0 - pd.Timedelta(days=400), h2=10.0),  # the rate baseline
        _dga_row("A", T0 - pd.Timedelta(days=200), h2=20.0),
        _dga_row("A", T0 + pd.Timedelta(days=30), h2=50.0, c2h2=0.0),
        _dga_row("B", T0 + pd.Timedelta(days=10), h2=30.0),
    ])
    oil = pd.DataFrame({
        "transformer_id": ["A", "B"], "sampled_at": [T0 + pd.Timedelta(days=10), T0 + pd.Timedelta(days=60)],
        "breakdown_kv": [55.0, 35.0], "acidity_mg_koh_g": [0.05, 0.25], "ift_mn_m": [35.0, 20.0],
        "furan_2fal_ppb": [100.0, 2_000.0],
    })
    failures = pd.DataFrame({"transformer_id": ["B"], "failed_at": [T0 + pd.Timedelta(days=80)], "failure_mode": ["thermal"]})
    return {"assets": assets, "telemetry": telemetry, "dga": dga, "oil_tests": oil, "failures": failures}


def _grid(*rows: tuple[str, pd.Timestamp]) -> pd.DataFrame:
    return pd.DataFrame({"transformer_id": [r[0] for r in rows], "as_of": [r[1] for r in rows]})


def _reading(tables: dict[str, pd.DataFrame], unit: str, at: pd.Timestamp) -> pd.Series:
    return build_snapshots(tables, _grid((unit, at))).iloc[0]


def test_reading_fields_are_declared_once_with_ranges() -> None:
    assert len(set(READING_FIELD_NAMES)) == len(READING_FIELDS)
    assert READING_FIELD_NAMES[:2] == ("transformer_id", "as_of")
    for field in READING_FIELDS:
        if field.kind == "float":
            assert field.low is not None and field.high is not None and field.low < field.high, field.name
    assert {"prev_gap_days", "base_gap_days", "aged_hours_total", "oil_test_age_days"} <= set(READING_FIELD_NAMES)


def test_snapshot_values_on_a_hand_made_history() -> None:
    tables = make_tables()
    at = T0 + pd.Timedelta(days=45)
    r = _reading(tables, "A", at)
    assert (r["h2"], r["prev_h2"], r["base_h2"]) == (50.0, 20.0, 10.0)
    assert r["dga_age_days"] == 15.0
    assert r["prev_gap_days"] == 230.0
    assert r["base_gap_days"] == 430.0  # earliest sample 4-24 months before the latest, not the 800-day one
    assert r["load_max_30d"] == 1.3
    assert r["top_oil_max_30d"] == 100.0  # the 'bad' 190 degC row is ignored
    assert r["hours_hot_spot_over_120c_30d"] == 1.0
    p = THERMAL_PARAMS["ONAF"]
    assert r["hot_spot_max_30d"] == pytest.approx(hot_spot_from_top_oil(100.0, 1.3, p))
    normal = float(ageing_acceleration(hot_spot_from_top_oil(60.0, 0.8, p)))
    hot = float(ageing_acceleration(hot_spot_from_top_oil(100.0, 1.3, p)))
    hours = 45 * 24 + 1  # hourly rows from T0 through as_of inclusive
    # Of those, the spike is hot, the 'bad' row is dropped, the row without load has no hot spot.
    assert r["aged_hours_total"] == pytest.approx((hours - 3) * normal + hot)
    # 720 hourly rows in (as_of - 30 d, as_of], less the 'bad' one and the one without load.
    assert r["faa_mean_30d"] == pytest.approx((717 * normal + hot) / 718)
    assert (r["breakdown_kv"], r["oil_test_age_days"]) == (55.0, 35.0)
    assert (r["voltage_kv"], r["cooling"], r["oil_preservation"]) == (132.0, "ONAF", "sealed")


def test_thirty_day_window_forgets_old_peaks_and_history_can_be_empty() -> None:
    tables = make_tables()
    later = _reading(tables, "A", SPIKE + pd.Timedelta(days=30, seconds=1))
    assert later["load_max_30d"] == 0.8
    assert later["hours_hot_spot_over_120c_30d"] == 0.0
    before_data = _reading(tables, "B", T0 - pd.Timedelta(days=1))
    empty = [f for f in ("h2", "load_mean_30d", "aged_hours_total", "breakdown_kv", "dga_age_days")]
    assert before_data[empty].isna().all()


def test_rate_features_use_the_baseline_sample() -> None:
    tables = make_tables()
    features = compute_features(build_snapshots(tables, _grid(("A", T0 + pd.Timedelta(days=45)))))
    assert features["h2_rate_ppm_per_year"].iloc[0] == pytest.approx(40.0 / (430 / 365.25))
    assert features["h2_jump_ppm"].iloc[0] == 30.0
    # Sealed unit, > 30 years: H2 50 is below Tab1 (100), the 34 ppm/year rate is above Tab4 (20).
    assert features["h2_c57_status"].iloc[0] == 3.0
    assert features["age_years"].iloc[0] == 34.0


def test_data_exactly_at_as_of_is_used_one_second_later_is_not() -> None:
    tables = make_tables()
    at = T0 + pd.Timedelta(days=50, hours=6)
    base = _reading(tables, "A", at)
    for delay, seen in ((pd.Timedelta(0), True), (pd.Timedelta(seconds=1), False)):
        changed = {k: v.copy() for k, v in tables.items()}
        changed["dga"] = pd.concat([changed["dga"], pd.DataFrame([_dga_row("A", at + delay, h2=999.0)])], ignore_index=True)
        extra = pd.DataFrame({"transformer_id": ["A"], "timestamp": [at + delay], "load_pu": [2.9],
                              "ambient_temp_c": [20.0], "top_oil_temp_c": [150.0], "quality": ["good"]})
        changed["telemetry"] = pd.concat([changed["telemetry"], extra], ignore_index=True)
        r = _reading(changed, "A", at)
        assert bool(r["h2"] == 999.0) is seen
        assert bool(r["prev_h2"] == 50.0) is seen
        assert bool(r["top_oil_max_30d"] == 150.0) is seen
        assert bool(r["load_max_30d"] == 2.9) is seen
        if not seen:
            pd.testing.assert_series_equal(r, base)


def test_changing_anything_after_as_of_leaves_features_identical() -> None:
    tables = make_tables()
    grid = _grid(("A", T0 + pd.Timedelta(days=41)), ("B", T0 + pd.Timedelta(days=41)), ("A", T0 + pd.Timedelta(days=20)))
    cut = T0 + pd.Timedelta(days=20)
    before = compute_features(build_snapshots(tables, grid.iloc[[2]]))
    changed = {k: v.copy() for k, v in tables.items()}
    tel = changed["telemetry"]
    tel.loc[tel["timestamp"] > cut, ["load_pu", "top_oil_temp_c"]] = [1.9, 140.0]
    changed["dga"] = pd.concat([changed["dga"], pd.DataFrame([_dga_row("A", cut + pd.Timedelta(hours=1), c2h2=80.0)])], ignore_index=True)
    changed["oil_tests"].loc[:, "breakdown_kv"] = np.where(changed["oil_tests"]["sampled_at"] > cut, 5.0, changed["oil_tests"]["breakdown_kv"])
    changed["failures"] = pd.DataFrame({"transformer_id": ["A"], "failed_at": [cut + pd.Timedelta(days=1)], "failure_mode": ["thermal"]})
    after = compute_features(build_snapshots(changed, grid).iloc[[2]])
    pd.testing.assert_frame_equal(before, after)


def test_snapshots_never_read_failures() -> None:
    tables = make_tables()
    grid = _grid(("A", T0 + pd.Timedelta(days=41)), ("B", T0 + pd.Timedelta(days=79)))
    without = {k: v for k, v in tables.items() if k != "failures"}
    pd.testing.assert_frame_equal(build_snapshots(tables, grid), build_snapshots(without, grid))


def test_telemetry_windows_match_a_brute_force_computation() -> None:
    rng = np.random.default_rng(1)
    tables = make_tables(days=5)
    n = 3_000
    stamps = T0 + pd.to_timedelta(rng.uniform(0, 70 * 86_400, n).round(), unit="s")
    tel = pd.DataFrame({
        "transformer_id": rng.choice(["A", "B"], n), "timestamp": stamps,
        "load_pu": np.where(rng.random(n) < 0.05, np.nan, rng.uniform(0.1, 1.6, n)),
        "ambient_temp_c": rng.normal(15, 5, n),
        "top_oil_temp_c": np.where(rng.random(n) < 0.05, np.nan, rng.uniform(30, 110, n)),
        "quality": rng.choice(["good", "suspect", "bad"], n, p=[0.8, 0.1, 0.1]),
    })
    tables["telemetry"] = tel
    grid = _grid(*((u, T0 + pd.Timedelta(seconds=int(s))) for u, s in zip(rng.choice(["A", "B"], 40), rng.uniform(0, 75 * 86_400, 40))))
    grid = pd.concat([grid, _grid(("A", tel["timestamp"].iloc[0]), ("B", tel["timestamp"].iloc[1]))], ignore_index=True)
    got = build_snapshots(tables, grid)
    cooling = {"A": "ONAF", "B": "ONAN"}
    for i, row in grid.iterrows():
        t = tel[(tel["transformer_id"] == row["transformer_id"]) & (tel["quality"] != "bad") & (tel["timestamp"] <= row["as_of"])]
        w = t[t["timestamp"] > row["as_of"] - pd.Timedelta(days=30)]
        hs = hot_spot_from_top_oil(w["top_oil_temp_c"], w["load_pu"], THERMAL_PARAMS[cooling[row["transformer_id"]]])
        hs_all = hot_spot_from_top_oil(t["top_oil_temp_c"], t["load_pu"], THERMAL_PARAMS[cooling[row["transformer_id"]]])
        expected = {
            "load_mean_30d": w["load_pu"].mean(), "load_max_30d": w["load_pu"].max(),
            "ambient_mean_30d": w["ambient_temp_c"].mean(), "top_oil_max_30d": w["top_oil_temp_c"].max(),
            "hot_spot_max_30d": np.nanmax(hs) if np.isfinite(hs).any() else np.nan,
            "faa_mean_30d": np.nanmean(ageing_acceleration(hs)) if np.isfinite(hs).any() else np.nan,
            "hours_hot_spot_over_120c_30d": float((hs > 120).sum()) if np.isfinite(hs).any() else np.nan,
            "aged_hours_total": np.nansum(ageing_acceleration(hs_all)) if np.isfinite(hs_all).any() else np.nan,
        }
        for name, value in expected.items():
            assert got.loc[i, name] == pytest.approx(value, rel=1e-9, nan_ok=True), (i, name)


def test_snapshots_keep_grid_index_and_order() -> None:
    tables = make_tables()
    grid = _grid(("B", T0 + pd.Timedelta(days=30)), ("A", T0 + pd.Timedelta(days=10)), ("A", T0 + pd.Timedelta(days=60)))
    grid.index = [7, 3, 5]
    out = build_snapshots(tables, grid)
    assert list(out.index) == [7, 3, 5]
    assert list(out["transformer_id"]) == ["B", "A", "A"]
    assert list(out.columns) == list(READING_FIELD_NAMES)
    assert (out.loc[7, "h2"], out.loc[3, "h2"], out.loc[5, "h2"]) == (30.0, 20.0, 50.0)


def test_snapshot_inputs_are_checked() -> None:
    tables = make_tables()
    with pytest.raises(ValueError, match="not in assets.*'Z'"):
        build_snapshots(tables, _grid(("Z", T0)))
    with pytest.raises(ValueError, match="oil_tests"):
        build_snapshots({k: v for k, v in tables.items() if k != "oil_tests"}, _grid(("A", T0)))
    with pytest.raises(ValueError, match="'dga' lacks column.*c2h4"):
        build_snapshots(dict(tables, dga=tables["dga"].drop(columns=["c2h4"])), _grid(("A", T0)))


def test_timezone_aware_inputs_give_the_same_readings() -> None:
    tables = make_tables()
    grid = _grid(("A", T0 + pd.Timedelta(days=45)), ("B", T0 + pd.Timedelta(days=70)))
    aware = {k: v.copy() for k, v in tables.items()}
    for name, table in aware.items():
        column = TABLES[name].time_column
        if column:
            table[column] = table[column].dt.tz_localize("UTC")
    grid_aware = grid.assign(as_of=grid["as_of"].dt.tz_localize("UTC"))
    naive = build_snapshots(tables, grid).drop(columns="as_of")
    pd.testing.assert_frame_equal(naive, build_snapshots(aware, grid_aware).drop(columns="as_of"))


# ---- compute_features ------------------------------------------------------------------------


def _readings() -> pd.DataFrame:
    tables = make_tables()
    grid = _grid(*((u, T0 + pd.Timedelta(days=d)) for u in "AB" for d in (-1, 5, 35, 45, 75)))
    return build_snapshots(tables, grid)


def test_feature_columns_are_stable_and_described() -> None:
    assert len(FEATURE_COLUMNS) == len(set(FEATURE_COLUMNS)) == 76
    assert set(FEATURE_DESCRIPTIONS) == set(FEATURE_COLUMNS)
    assert all(FEATURE_DESCRIPTIONS[c].strip() for c in FEATURE_COLUMNS)
    assert FEATURE_DESCRIPTIONS["c2h2_log_ppm"] == "acetylene C2H2 (log ppm)"
    assert FEATURE_DESCRIPTIONS["c57_status_overall"] == "IEEE C57.104 overall status"
    # Models store their feature list; changing the order or names here needs a deliberate update.
    digest = hashlib.sha256("\n".join(FEATURE_COLUMNS).encode()).hexdigest()[:16]
    assert digest == "a7b50689d3bfd367", digest
    out = compute_features(_readings())
    assert tuple(out.columns) == FEATURE_COLUMNS
    assert all(dtype == np.float64 for dtype in out.dtypes)


def test_single_reading_gives_its_row_of_the_batch() -> None:
    readings = _readings()
    batch = compute_features(readings)
    for i in range(len(readings)):
        single = compute_features(readings.iloc[[i]])
        pd.testing.assert_frame_equal(single, batch.iloc[[i]])


def test_json_like_readings_give_identical_features() -> None:
    readings = _readings()
    records = readings.astype(object).where(readings.notna(), None).to_dict(orient="records")
    for record in records:
        record["as_of"] = pd.Timestamp(record["as_of"]).isoformat() + "Z"
    from_json = pd.DataFrame.from_records(records)
    pd.testing.assert_frame_equal(compute_features(from_json), compute_features(readings))


def test_missing_and_malformed_fields_are_named() -> None:
    readings = _readings()
    with pytest.raises(ValueError, match="base_c2h2.*prev_gap_days|prev_gap_days.*base_c2h2"):
        compute_features(readings.drop(columns=["base_c2h2", "prev_gap_days"]))
    with pytest.raises(ValueError, match="'cooling'.*'OFWF'"):
        compute_features(readings.assign(cooling="OFWF"))
    with pytest.raises(ValueError, match="'h2'.*'lots'"):
        compute_features(readings.astype({"h2": object}).assign(h2="lots"))
    with pytest.raises(ValueError, match="as_of"):
        compute_features(readings.assign(as_of=None))
    assert "transformer_id" not in REQUIRED_FIELDS
    compute_features(readings.drop(columns=["transformer_id"]))


def test_feature_values_for_a_known_reading() -> None:
    f = compute_features(_readings()).iloc[9]  # unit B at T0 + 75 d
    assert f["cooling_ONAN"] == 1.0 and f["cooling_ONAF"] == 0.0 and f["sealed"] == 0.0
    assert f["h2_log_ppm"] == pytest.approx(np.log1p(30.0))
    assert np.isnan(f["h2_jump_ppm"]) and np.isnan(f["h2_rate_ppm_per_year"])
    assert f["h2_c57_status"] == 1.0  # free breathing, 6 years: Tab1 40
    assert f["duval_zone_D2"] == 1.0 and f["duval_c2h2_pct"] == pytest.approx(100 / 3)  # 1:1:1 ppm
    assert f["breakdown_band"] == 1.0 and f["acidity_band"] == 2.0 and f["ift_band"] == 2.0
    assert f["paper_dp_estimate"] == pytest.approx(345.4, abs=0.5)  # Chendong at 2 ppm 2-FAL
    assert f["age_years"] == 6.0
    assert 0.0 <= f["health_index"] <= 100.0


def test_raising_acetylene_never_lowers_c57_status_or_health() -> None:
    readings = _readings()
    readings = readings[readings["h2"].notna()]
    before = compute_features(readings)
    for bump in (0.6, 5.0, 100.0):
        after = compute_features(readings.assign(c2h2=readings["c2h2"] + bump))
        assert (after["c57_status_overall"] >= before["c57_status_overall"]).all()
        assert (after["health_index"] <= before["health_index"]).all()


def test_pipeline_runs_on_a_generated_fleet(make_fleet) -> None:  # type: ignore[no-untyped-def]
    folder: Path = make_fleet(assets=30, years=1, seed=0, data_fault_rate=0.0)
    paths = {name: folder / f"{name}.parquet" for name in ("assets", "telemetry", "dga", "oil_tests", "failures")}
    tables = {name: pd.read_parquet(path) for name, path in paths.items()}
    from tasks.labels import snapshot_grid

    grid = snapshot_grid(tables, freq_days=7)
    readings = build_snapshots(tables, grid)
    features = compute_features(readings)
    assert len(features) == len(grid) > 0
    assert features["c57_status_overall"].notna().mean() > 0.5
    assert features["load_mean_30d"].notna().mean() > 0.9
    for field in READING_FIELDS:
        if field.kind == "float":
            values = readings[field.name].dropna()
            assert ((values >= field.low) & (values <= field.high)).all(), field.name


# Keep the schema imports honest: reading fields reuse the table columns' ranges.
def test_reading_ranges_follow_the_schema() -> None:
    by_name = {f.name: f for f in READING_FIELDS}
    assert by_name["prev_h2"].high == DGA.column_index["h2"].high
    assert by_name["breakdown_kv"] == OIL_TESTS.column_index["breakdown_kv"]
    assert by_name["load_max_30d"].high == TELEMETRY.column_index["load_pu"].high
