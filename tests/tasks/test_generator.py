"""The synthetic fleet: schema, determinism, calibration, physical plausibility, drift scenarios and data faults."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fleetsim import SCENARIOS, GenerationSummary, GeneratorConfig, generate_fleet
from tasks.physics import furan_2fal_ppb_from_dp
from tasks.schema import HAZARD_FILE, MANIFEST_FILE, TABLES, TRUTH_DIR, Table

FleetFactory = Callable[..., Path]
FLEET_TABLES = ("assets", "telemetry", "dga", "oil_tests", "failures")
HYDROCARBONS = ("ch4", "c2h6", "c2h4")
COMBUSTIBLE = ("h2", "ch4", "c2h6", "c2h4", "c2h2", "co")
# Enough unit-years for failure statistics: ~70 failures at a 12 %/yr training rate, many online monitors.
STATS = {"assets": 300, "years": 2.0, "seed": 0, "failure_rate": 0.12, "online_monitor_share": 0.6,
         "data_fault_rate": 0.0}


def read(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(folder / f"{name}.parquet")


def truth(folder: Path) -> pd.DataFrame:
    return pd.read_parquet(folder / TRUTH_DIR / HAZARD_FILE)


def units(folder: Path) -> pd.DataFrame:
    return pd.read_parquet(folder / TRUTH_DIR / "units.parquet").set_index("transformer_id")


def manifest(folder: Path) -> dict:
    return json.loads((folder / MANIFEST_FILE).read_text())


@pytest.fixture(scope="module")
def stats_fleet(make_fleet: FleetFactory) -> Path:
    return make_fleet(**STATS)


@pytest.fixture(scope="module")
def stats_telemetry(stats_fleet: Path) -> pd.DataFrame:
    return read(stats_fleet, "telemetry")


@pytest.fixture(scope="module")
def clean_fleet(make_fleet: FleetFactory) -> Path:
    return make_fleet(assets=50, years=1, seed=0, data_fault_rate=0.0)


def duval_zone(ch4: float, c2h4: float, c2h2: float) -> str:
    """Duval triangle 1 zone from the facts table (percent of CH4 + C2H4 + C2H2)."""
    total = ch4 + c2h4 + c2h2
    m, e, a = 100 * ch4 / total, 100 * c2h4 / total, 100 * c2h2 / total
    if m >= 98:
        return "PD"
    if a < 4 and e < 20:
        return "T1"
    if a < 4 and e < 50:
        return "T2"
    if a < 15 and e >= 50:
        return "T3"
    if a >= 13 and e < 23:
        return "D1"
    if a >= 13 and e >= 23 and (e < 40 or a >= 29):
        return "D2"
    return "DT"


def out_of_range(frame: pd.DataFrame, table: Table) -> pd.Series:
    """Rows with any value outside the schema's physical range."""
    bad = pd.Series(False, index=frame.index)
    for c in table.columns:
        if c.kind == "float":
            v = frame[c.name]
            bad |= (c.low is not None) & (v < c.low) | (c.high is not None) & (v > c.high)
    return bad


# --- contract: schema, API, determinism ------------------------------------------------------------------


def test_tables_have_the_schema_columns_and_types(make_fleet: FleetFactory) -> None:
    folder = make_fleet(assets=50, years=1, seed=0)
    for name in FLEET_TABLES:
        frame, table = read(folder, name), TABLES[name]
        assert list(frame.columns) == table.column_names, name
        for c in table.columns:
            s = frame[c.name]
            if c.kind == "timestamp":
                assert str(s.dtype) == "datetime64[ns, UTC]", (name, c.name)
            elif c.kind == "float":
                assert s.dtype == np.float64, (name, c.name)
            elif c.kind == "int":
                assert s.dtype == np.int64, (name, c.name)
            else:
                assert s.map(type).eq(str).all(), (name, c.name)
            if c.categories:
                assert set(s.unique()) <= set(c.categories), (name, c.name)
            if not c.nullable:
                assert s.notna().all(), (name, c.name)


def test_ids_are_shaped_like_the_contract(clean_fleet: Path) -> None:
    assets = read(clean_fleet, "assets")
    assert assets["transformer_id"].str.fullmatch(r"TX\d{4}").all()
    assert assets["substation"].str.fullmatch(r"SS\d{2,}").all()
    assert assets["transformer_id"].is_unique
    for name in ("telemetry", "dga", "oil_tests", "failures"):
        assert set(read(clean_fleet, name)["transformer_id"]) <= set(assets["transformer_id"]), name


def test_fault_free_fleet_is_in_range_unique_and_ordered(clean_fleet: Path) -> None:
    for name in ("telemetry", "dga", "oil_tests"):
        frame, table = read(clean_fleet, name), TABLES[name]
        assert not out_of_range(frame, table).any(), name
        assert frame[[c.name for c in table.columns if c.nullable]].notna().all().all(), name
        assert not frame.duplicated(subset=list(table.key)).any(), name
        assert frame.groupby("transformer_id")[table.time_column].apply(lambda s: s.is_monotonic_increasing).all()
    assert read(clean_fleet, "telemetry")["quality"].eq("good").all()
    assert all(n == 0 for kinds in manifest(clean_fleet)["faults"].values() for n in kinds.values())


def test_fleet_mixes_voltage_classes_ages_cooling_and_preservation(stats_fleet: Path) -> None:
    assets = read(stats_fleet, "assets")
    assert set(assets["voltage_kv"]) == {33.0, 66.0, 132.0, 230.0, 400.0}
    assert set(assets["cooling"]) == {"ONAN", "ONAF", "OFAF"}
    assert set(assets["oil_preservation"]) == {"sealed", "free_breathing"}
    assert assets["install_year"].between(1965, 2020).all()
    assert assets["install_year"].median() < 1992  # an old-heavy fleet
    # Bigger voltage classes carry bigger ratings.
    mva = assets.groupby("voltage_kv")["rated_mva"].median()
    assert mva.is_monotonic_increasing


def test_same_arguments_give_byte_identical_files(make_fleet: FleetFactory, tmp_path: Path) -> None:
    first = make_fleet(assets=50, years=1, seed=0)
    generate_fleet(GeneratorConfig(assets=50, years=1, seed=0), tmp_path)
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert Path(TRUTH_DIR) / HAZARD_FILE in files
    for f in files:
        assert (first / f).read_bytes() == (tmp_path / f).read_bytes(), f


def test_another_seed_gives_other_data(make_fleet: FleetFactory) -> None:
    a, b = make_fleet(assets=50, years=1, seed=0), make_fleet(assets=50, years=1, seed=1)
    for name in ("assets", "telemetry", "dga"):
        assert (a / f"{name}.parquet").read_bytes() != (b / f"{name}.parquet").read_bytes(), name


def test_block_size_does_not_change_the_data(tmp_path: Path) -> None:
    small, large = tmp_path / "small", tmp_path / "large"
    generate_fleet(GeneratorConfig(assets=12, years=0.25, seed=5, failure_rate=0.5, block_assets=5), small)
    generate_fleet(GeneratorConfig(assets=12, years=0.25, seed=5, failure_rate=0.5, block_assets=12), large)
    for name in FLEET_TABLES:
        pd.testing.assert_frame_equal(read(small, name), read(large, name))
    pd.testing.assert_frame_equal(truth(small), truth(large))


@pytest.mark.parametrize(
    ("field", "value"),
    [("assets", 0), ("years", 0.0), ("years", -1.0), ("failure_rate", -0.01), ("data_fault_rate", -0.1),
     ("scenario", "heatwave"), ("start", "not-a-date"), ("scenario_start", "1999-01-01")],
)
def test_invalid_config_is_rejected_naming_field_and_value(field: str, value: object) -> None:
    kwargs: dict[str, object] = {field: value}
    if field == "scenario_start":
        kwargs["scenario"] = "load_growth"
    with pytest.raises(ValueError, match=field) as info:
        GeneratorConfig(**kwargs)  # type: ignore[arg-type]
    assert repr(value) in str(info.value)


def test_progress_is_reported_and_summary_matches_the_files(tmp_path: Path) -> None:
    seen: list[tuple[str, float]] = []
    summary = generate_fleet(GeneratorConfig(assets=20, years=0.5, seed=2, block_assets=8), tmp_path,
                             progress=lambda stage, fraction: seen.append((stage, fraction)))
    assert isinstance(summary, GenerationSummary)
    assert ("simulate", 1.0) in seen
    assert all(0.0 <= f <= 1.0 for _, f in seen)
    assert len({s for s, _ in seen}) >= 2
    for name in FLEET_TABLES:
        assert summary.rows[name] == len(read(tmp_path, name)), name
    assert summary.out_dir == tmp_path
    m = manifest(tmp_path)
    assert m["rows"] == summary.rows
    assert m["config"]["assets"] == 20
    assert m["failures"]["count"] == summary.failures


# --- failures and the latent truth -------------------------------------------------------------------------


def test_truth_is_separate_with_one_row_per_unit_and_in_service_day(stats_fleet: Path) -> None:
    assert sorted(p.name for p in stats_fleet.glob("*.parquet")) == sorted(f"{n}.parquet" for n in FLEET_TABLES)
    h = truth(stats_fleet)
    assert not h.duplicated(subset=["transformer_id", "date"]).any()
    assert h["hazard"].between(0.0, 1.0).all()
    assert set(h["fault_type"]) <= {"none", "T1", "T2", "T3", "D1", "D2", "PD"}
    days = manifest(stats_fleet)["period"]["days"]
    failures = read(stats_fleet, "failures").set_index("transformer_id")["failed_at"]
    start = h["date"].min()
    per_unit = h.groupby("transformer_id")["date"].agg(["count", "max"])
    expected = pd.Series(days, index=per_unit.index)
    failed_day = ((failures - start).dt.days + 1).reindex(per_unit.index)
    expected[failed_day.notna()] = failed_day.dropna().astype(int)
    assert (per_unit["count"] == expected).all()
    assert h.loc[h["failed"], "transformer_id"].sort_values().tolist() == sorted(failures.index)


def test_no_data_after_a_failure(stats_fleet: Path, stats_telemetry: pd.DataFrame) -> None:
    failures = read(stats_fleet, "failures").set_index("transformer_id")["failed_at"]
    assert len(failures) > 0 and failures.index.is_unique
    tables = {"telemetry": stats_telemetry, "dga": read(stats_fleet, "dga"),
              "oil_tests": read(stats_fleet, "oil_tests")}
    for name, frame in tables.items():
        column = TABLES[name].time_column
        last = frame.groupby("transformer_id")[column].max().reindex(failures.index).dropna()
        assert (last < failures[last.index]).all(), name
        # ... and the unit was still reporting until shortly before it failed.
        if name == "telemetry":
            assert len(last) == len(failures)
            assert (failures - last <= pd.Timedelta(hours=1)).all()


def test_realized_failure_rate_matches_the_target(stats_fleet: Path) -> None:
    f = manifest(stats_fleet)["failures"]
    target = STATS["failure_rate"]
    # ~70 failures: +-40 % is about 3 Poisson standard deviations.
    assert 0.6 * target < f["realized_annual_rate"] < 1.4 * target
    # The true hazard summed over in-service days is what the calibration aims at (far less noisy).
    assert f["expected_failures"] / f["unit_years"] == pytest.approx(target, rel=0.2)
    modes = f["by_mode"]
    assert set(modes) <= {"thermal", "low_energy_discharge", "high_energy_discharge", "partial_discharge",
                          "no_precursor"}
    assert 0.08 < modes.get("no_precursor", 0) / f["count"] < 0.35


def test_default_failure_rate_is_realistic_and_raised_rates_are_noted(make_fleet: FleetFactory,
                                                                      stats_fleet: Path) -> None:
    assert 0.003 <= GeneratorConfig().failure_rate <= 0.006
    default = manifest(make_fleet(assets=50, years=1, seed=0))
    assert default["config"]["failure_rate"] == GeneratorConfig().failure_rate
    assert not any("raised above realistic" in n for n in default["notes"])
    assert any("raised above realistic" in n for n in manifest(stats_fleet)["notes"])


def test_hazard_is_higher_before_precursor_failures(stats_fleet: Path) -> None:
    h = truth(stats_fleet)
    u = units(stats_fleet)
    last_month = h[h["transformer_id"].isin(u.index[u["failure_mode"].isin(["thermal", "partial_discharge"])])]
    last_month = last_month.groupby("transformer_id").tail(30)
    healthy = h[h["transformer_id"].isin(u.index[u["fault_type"] == "none"])]
    assert last_month["hazard"].median() > 20 * healthy["hazard"].median()


# --- physics and condition ---------------------------------------------------------------------------------


def test_healthy_gas_medians_are_close_to_the_in_service_fleet(stats_fleet: Path) -> None:
    u = units(stats_fleet)
    dga = read(stats_fleet, "dga")
    healthy = dga[dga["transformer_id"].isin(u.index[u["fault_type"] == "none"])]
    medians = healthy.groupby("transformer_id")[list(COMBUSTIBLE) + ["co2"]].median().median()
    # facts 1.3 (743 in-service units): H2 16, CH4 6, C2H6 14, C2H4 5, C2H2 0.
    assert 10 <= medians["h2"] <= 24
    assert 4 <= medians["ch4"] <= 9
    assert 9 <= medians["c2h6"] <= 20
    assert 3 <= medians["c2h4"] <= 7.5
    assert medians["c2h2"] == 0.0
    assert 3 <= medians["co2"] / medians["co"] <= 10  # normal cellulose ageing


def test_hydrocarbons_correlate_strongly_and_acetylene_weakly(stats_fleet: Path) -> None:
    u = units(stats_fleet)
    dga = read(stats_fleet, "dga")
    healthy = dga[dga["transformer_id"].isin(u.index[u["fault_type"] == "none"])]
    # Pearson r across units of each unit's log level (log of its median; C2H2, mostly below detection,
    # as log(1 + its mean)). Raw ppm correlations are dominated by a few outlying units.
    by_unit = healthy.groupby("transformer_id")
    levels = np.log(by_unit[list(HYDROCARBONS)].median().clip(lower=0.1))
    levels["c2h2"] = np.log1p(by_unit["c2h2"].mean())
    r = levels.corr()
    for a, b in (("ch4", "c2h6"), ("ch4", "c2h4"), ("c2h6", "c2h4")):
        assert 0.75 <= r.loc[a, b] <= 0.95, (a, b, r.loc[a, b])
    for g in HYDROCARBONS:
        assert 0.0 <= r.loc["c2h2", g] <= 0.45, (g, r.loc["c2h2", g])
        assert r.loc["c2h2", g] < min(r.loc["ch4", "c2h6"], r.loc["ch4", "c2h4"]) - 0.3
    assert (healthy["c2h2"] == 0).mean() > 0.5  # mostly below detection
    assert (healthy["h2"] > 0).mean() > 0.9


def test_incipient_fault_gas_lands_in_its_duval_zone(stats_fleet: Path) -> None:
    dga = read(stats_fleet, "dga")
    failures = read(stats_fleet, "failures")
    u = units(stats_fleet)
    start = dga["sampled_at"].min().normalize()
    verdicts = []
    for row in failures[failures["failure_mode"] != "no_precursor"].itertuples():
        onset = start + pd.Timedelta(days=float(u.loc[row.transformer_id, "fault_onset_day"]))
        samples = dga[dga["transformer_id"] == row.transformer_id]
        before = samples[samples["sampled_at"] < onset]
        last = samples[samples["sampled_at"] >= row.failed_at - pd.Timedelta(days=30)]
        if len(before) < 30 or len(last) < 10:  # needs a monitored unit with a clean pre-fault baseline
            continue
        # The gas the fault added: recent level over the unit's own background (IEC practice).
        added = (last[["ch4", "c2h4", "c2h2"]].median() - before[["ch4", "c2h4", "c2h2"]].median()).clip(lower=0)
        zone = duval_zone(added["ch4"], added["c2h4"], added["c2h2"])
        verdicts.append(zone == u.loc[row.transformer_id, "fault_type"])
    assert len(verdicts) >= 10
    assert np.mean(verdicts) >= 0.8


def test_failing_units_show_rising_gas_and_healthy_units_do_not(stats_fleet: Path) -> None:
    dga = read(stats_fleet, "dga")
    u = units(stats_fleet)
    dga["tdcg"] = dga[list(COMBUSTIBLE)].sum(axis=1)
    first = dga.groupby("transformer_id")["tdcg"].first()
    last = dga.groupby("transformer_id")["tdcg"].last()
    growth = (last / first).reindex(u.index)
    started_inside = u["fault_onset_day"] > 0
    precursor = growth[u["failure_mode"].isin(["thermal", "low_energy_discharge", "high_energy_discharge",
                                               "partial_discharge"]) & started_inside].dropna()
    healthy = growth[u["fault_type"] == "none"].dropna()
    silent = growth[(u["failure_mode"] == "no_precursor") & (u["fault_type"] == "none")].dropna()
    assert len(precursor) >= 10
    assert precursor.median() > 2.0
    assert 0.8 < healthy.median() < 1.3
    assert silent.median() < 1.3  # no-precursor failures give no warning


def test_furan_rises_as_paper_dp_falls(stats_fleet: Path) -> None:
    oil = read(stats_fleet, "oil_tests")
    h = truth(stats_fleet)
    oil["date"] = oil["sampled_at"].dt.normalize()
    joined = oil.merge(h[["transformer_id", "date", "paper_dp"]], on=["transformer_id", "date"])
    assert len(joined) == len(oil)
    assert joined["furan_2fal_ppb"].corr(joined["paper_dp"], method="spearman") < -0.9
    scatter = np.log(joined["furan_2fal_ppb"] / furan_2fal_ppb_from_dp(joined["paper_dp"]))
    assert abs(scatter.median()) < 0.05
    assert 0.1 < scatter.std() < 0.3  # about +-20 % lab scatter


def test_oil_quality_is_like_an_in_service_fleet(stats_fleet: Path) -> None:
    oil = read(stats_fleet, "oil_tests")
    dga = read(stats_fleet, "dga")
    # facts 3.1 (470 units): breakdown 54 kV, IFT 39 mN/m, water 12 ppm (90th pct 36).
    assert 48 <= oil["breakdown_kv"].median() <= 62
    assert 34 <= oil["ift_mn_m"].median() <= 43
    assert 0.03 <= oil["acidity_mg_koh_g"].median() <= 0.15
    assert 8 <= dga["moisture_ppm"].median() <= 18
    assert 20 <= dga["moisture_ppm"].quantile(0.9) <= 45
    # Acid ageing products lower the interfacial tension.
    assert oil["ift_mn_m"].corr(oil["acidity_mg_koh_g"]) < -0.7


def test_paper_is_older_in_older_and_free_breathing_units(stats_fleet: Path) -> None:
    assets = read(stats_fleet, "assets").set_index("transformer_id")
    first_dp = truth(stats_fleet).groupby("transformer_id")["paper_dp"].first()
    assets["dp"] = first_dp
    assert assets["dp"].between(150, 1_100).all()
    assert assets["install_year"].corr(assets["dp"], method="spearman") > 0.4
    old = assets[assets["install_year"] < 1990]
    by_preservation = old.groupby("oil_preservation")["dp"].median()
    assert by_preservation["free_breathing"] < by_preservation["sealed"]
    # DP only ever falls.
    assert (truth(stats_fleet).groupby("transformer_id")["paper_dp"].diff().dropna() <= 0).all()


def test_hot_spot_above_120_is_rare_and_top_oil_stays_plausible(stats_fleet: Path,
                                                                stats_telemetry: pd.DataFrame) -> None:
    h = truth(stats_fleet)
    assert (h["hot_spot_max_c"] > 120).mean() < 0.01
    assert h["hot_spot_max_c"].max() < 160
    top_oil = stats_telemetry["top_oil_temp_c"]
    assert (top_oil > 105).mean() < 0.001
    assert top_oil.min() > -40


def test_load_and_ambient_have_daily_weekly_and_seasonal_shape(stats_telemetry: pd.DataFrame) -> None:
    t = stats_telemetry
    hour, weekday, month = t["timestamp"].dt.hour, t["timestamp"].dt.dayofweek, t["timestamp"].dt.month
    load = t["load_pu"]
    assert 0.35 <= load.mean() <= 0.7
    assert load[hour.between(17, 20)].mean() > 1.2 * load[hour.between(2, 5)].mean()
    assert load[weekday >= 5].mean() < 0.95 * load[weekday < 5].mean()
    spring = load[month.isin([4, 10])].mean()
    assert load[month == 1].mean() > spring and load[month == 7].mean() > spring  # winter and summer peaks
    assert 0.0 < (load > 1.0).mean() < 0.02  # a few heavily loaded units
    ambient = t["ambient_temp_c"]
    assert ambient[month == 7].mean() > ambient[month == 1].mean() + 10
    assert ambient[hour == 15].mean() > ambient[hour == 5].mean() + 3
    # Top oil lags load by hours, so it peaks after the evening load peak, not before it.
    by_hour = t.groupby(hour)["top_oil_temp_c"].mean() - t.groupby(hour)["ambient_temp_c"].mean()
    assert 18 <= by_hour.idxmax() <= 23


# --- drift scenarios ---------------------------------------------------------------------------------------

SCENARIO_BASE = {"assets": 30, "years": 1.0, "seed": 3, "data_fault_rate": 0.0, "failure_rate": 0.0,
                 "online_monitor_share": 0.5}


def _split(frame: pd.DataFrame, column: str, start: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame]:
    return frame[frame[column] < start].reset_index(drop=True), frame[frame[column] >= start].reset_index(drop=True)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_changes_only_its_columns_and_only_after_it_starts(make_fleet: FleetFactory, name: str) -> None:
    base = make_fleet(**SCENARIO_BASE)
    drift = make_fleet(**SCENARIO_BASE, scenario=name)
    scenario = manifest(drift)["scenario"]
    assert scenario["name"] == name
    assert scenario["affected_columns"] == list(SCENARIOS[name].affected_columns)
    start = pd.Timestamp(scenario["start"])
    assert start == pd.Timestamp("2022-01-01", tz="UTC") + pd.Timedelta(days=int(365 * 0.75))
    affected = {c.split(".")[1] for c in scenario["affected_columns"]}
    for table, column in (("telemetry", "timestamp"), ("dga", "sampled_at"), ("oil_tests", "sampled_at")):
        b_before, b_after = _split(read(base, table), column, start)
        d_before, d_after = _split(read(drift, table), column, start)
        pd.testing.assert_frame_equal(b_before, d_before)
        assert len(b_after) == len(d_after)
        changed = {c for c in b_after.columns if not b_after[c].equals(d_after[c])}
        if table == "telemetry":
            assert changed == affected & set(b_after.columns), (table, changed)
        elif table == "dga" and name == "sensor_offset":
            assert changed == {"h2"}
    assert scenario["details"]


def test_load_growth_raises_load_ambient_and_oil_temperature(make_fleet: FleetFactory) -> None:
    base = read(make_fleet(**SCENARIO_BASE), "telemetry")
    drift = read(make_fleet(**SCENARIO_BASE, scenario="load_growth"), "telemetry")
    after = base["timestamp"] >= pd.Timestamp("2022-10-30", tz="UTC")  # past the 30-day ramp
    assert 1.14 < drift.loc[after, "load_pu"].mean() / base.loc[after, "load_pu"].mean() < 1.26
    assert 1.9 < (drift.loc[after, "ambient_temp_c"] - base.loc[after, "ambient_temp_c"]).mean() < 4.1
    assert (drift.loc[after, "top_oil_temp_c"] - base.loc[after, "top_oil_temp_c"]).mean() > 3.0


def test_sensor_offset_biases_online_h2_only(make_fleet: FleetFactory) -> None:
    base_dir = make_fleet(**SCENARIO_BASE)
    drift_dir = make_fleet(**SCENARIO_BASE, scenario="sensor_offset")
    base, drift = read(base_dir, "dga"), read(drift_dir, "dga")
    details = manifest(drift_dir)["scenario"]["details"]
    online = base["transformer_id"].isin(manifest(base_dir)["online_monitor_units"])
    after = base["sampled_at"] >= pd.Timestamp(manifest(drift_dir)["scenario"]["start"])
    hit = online & after
    assert hit.sum() > 100
    expected = details["gain"] * base.loc[hit, "h2"] + details["offset_ppm"]
    np.testing.assert_allclose(drift.loc[hit, "h2"], expected, atol=0.06)
    assert drift.loc[~hit, "h2"].equals(base.loc[~hit, "h2"])


def test_der_penetration_digs_a_midday_dip_and_steepens_the_evening_ramp(make_fleet: FleetFactory) -> None:
    base = read(make_fleet(**SCENARIO_BASE), "telemetry")
    drift = read(make_fleet(**SCENARIO_BASE, scenario="der_penetration"), "telemetry")
    after = base["timestamp"] >= pd.Timestamp("2022-10-30", tz="UTC")
    hour = base["timestamp"].dt.hour
    b = base[after].groupby(hour[after])["load_pu"].mean()
    d = drift[after].groupby(hour[after])["load_pu"].mean()
    assert d[11:14].mean() < 0.7 * b[11:14].mean()
    assert d.mean() < b.mean()
    assert (d[19] - d[15]) > 1.3 * (b[19] - b[15])
    assert drift.loc[after, "ambient_temp_c"].equals(base.loc[after, "ambient_temp_c"])


# --- data-quality faults -----------------------------------------------------------------------------------

FAULTY = {"assets": 50, "years": 1.0, "seed": 4, "data_fault_rate": 0.02, "failure_rate": 0.0}


def test_data_faults_are_injected_at_the_configured_rate_and_counted(make_fleet: FleetFactory) -> None:
    folder = make_fleet(**FAULTY)
    m = manifest(folder)
    counts = m["faults"]["telemetry"]
    assert all(counts[k] > 0 for k in counts), counts
    t = read(folder, "telemetry")
    grid_rows = FAULTY["assets"] * m["period"]["hours"]
    hit = sum(counts.values()) / grid_rows
    assert 0.5 * FAULTY["data_fault_rate"] < hit < 1.5 * FAULTY["data_fault_rate"]
    assert set(m["faults"]) == {"telemetry", "dga", "oil_tests"}
    assert sum(m["faults"]["dga"].values()) > 0


@pytest.mark.parametrize("name", ["telemetry", "dga", "oil_tests"])
def test_injected_faults_are_visible_exactly_as_counted(make_fleet: FleetFactory, name: str) -> None:
    folder = make_fleet(**FAULTY)
    m = manifest(folder)
    counts, table = m["faults"][name], TABLES[name]
    frame = read(folder, name)
    values = [c.name for c in table.columns if c.nullable]
    known = frame[frame["transformer_id"].isin(read(folder, "assets")["transformer_id"])]
    assert (frame["transformer_id"] == m["unknown_transformer_id"]).sum() == counts["unknown_id"]
    assert len(frame) - len(known) == counts["unknown_id"]
    nan_rows = int(known[values].isna().any(axis=1).sum())
    assert nan_rows == counts["missing"] + counts.get("dropout_blank", 0)
    assert int(out_of_range(known, table).sum()) == counts["out_of_range"]
    exact = int(known.duplicated().sum())
    assert exact == counts["duplicate"]
    assert int(known.duplicated(subset=list(table.key)).sum()) - exact == counts["conflict"]
    late = counts["late"]
    tail = frame.iloc[len(frame) - late :]
    assert tail.index.isin(known.index).all()  # the late rows are real units' rows at the very end
    body = known.drop(index=tail.index)
    assert body.groupby("transformer_id")[table.time_column].apply(lambda s: s.is_monotonic_increasing).all()
    latest = body.groupby("transformer_id")[table.time_column].max()
    assert (tail[table.time_column].to_numpy() < tail["transformer_id"].map(latest).to_numpy()).all()
    if name == "telemetry":
        quality = known["quality"].value_counts()
        assert quality.get("bad", 0) == counts["missing"] + counts["dropout_blank"]
        assert quality.get("suspect", 0) == counts["out_of_range"] + counts["conflict"]
        present = known.drop_duplicates(subset=list(table.key))
        assert FAULTY["assets"] * m["period"]["hours"] - len(present) == counts["dropout_absent"]


def test_no_faults_at_rate_zero(make_fleet: FleetFactory) -> None:
    folder = make_fleet(assets=50, years=1, seed=4, data_fault_rate=0.0, failure_rate=0.0)
    m = manifest(folder)
    assert all(v == 0 for kinds in m["faults"].values() for v in kinds.values())
    t = read(folder, "telemetry")
    assert len(t) == 50 * m["period"]["hours"]
    assert not t.isna().any().any()
    assert not any("data-quality faults" in n for n in m["notes"])
