"""The drift-check flow end to end, without the API: one champion, prediction-log rows written in the log's layout.

A champion is trained once on a small fleet. Each check's window is filled by scoring point-in-time
readings (the demo's `readings_for_period`) of that fleet - or of its drift-scenario twin, generated
with the same seed - with the champion, and writing them where the scoring service logs predictions
(XFMR_HOME/predictions/date=YYYY-MM-DD/). Checks use the demo's monitoring config: a seasonal
reference (the same months a year earlier), drift_share 0.1, at least 100 units per window.

Windows are whole synthetic days far in the future, so the policy's clock (the window end) is
deterministic and the partitions of different checks never overlap.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from tests.flows.conftest import SMALL_CONFIG, isolated_home

pytestmark = pytest.mark.usefixtures("prefect_harness")

NAME = "transformer_failure"
# Bigger than tiny_fleet, with fewer failures: at the end of the data >= 100 units are still in service,
# which the demo's min_window_rows (one reading per unit) asks for.
FLEET = {"assets": 200, "years": 3.0, "seed": 3, "failure_rate": 0.08}
SCENARIO_START = "2024-03-01"  # ~10 months before the end of the data: the scenarios have fully ramped up
PERIOD = pd.Timedelta(days=10)
STEP_HOURS = 24.0
# Which model features show each scenario (from the generator's affected_columns, as features).
EXPECTED = {
    "sensor_offset": {"h2_log_ppm", "h2_jump_ppm", "h2_rate_ppm_per_year"},
    "load_growth": {"load_mean_30d", "load_max_30d", "ambient_mean_30d", "top_oil_max_30d", "hot_spot_max_30d",
                    "hours_hot_spot_over_120c_30d", "faa_mean_30d"},
    "der_penetration": {"load_mean_30d", "load_max_30d", "top_oil_max_30d", "hot_spot_max_30d"},
}
AFFECTED = {
    "sensor_offset": {"dga.h2"},
    "load_growth": {"telemetry.load_pu", "telemetry.ambient_temp_c", "telemetry.top_oil_temp_c"},
    "der_penetration": {"telemetry.load_pu", "telemetry.top_oil_temp_c"},
}
_days = itertools.count()
EPOCH = datetime(2031, 1, 1, tzinfo=UTC)


@dataclass
class Setup:
    home: Path
    champion: Any  # GateOutcome of the first training run
    model: Any  # the champion's FailureModel
    fleets: dict[str, Path]  # "normal" and each scenario -> fleet folder
    tables: dict[str, dict[str, pd.DataFrame]]
    end: pd.Timestamp  # last telemetry timestamp of the fleets


@pytest.fixture(scope="module")
def setup(make_fleet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:  # type: ignore[no-untyped-def]
    from flows.training import training_flow
    from tasks.ingest import ingest_folder
    from tasks.registry import load_version

    fleets = {"normal": make_fleet(**FLEET)}
    for scenario in EXPECTED:
        fleets[scenario] = make_fleet(**FLEET, scenario=scenario, scenario_start=SCENARIO_START)
    with isolated_home(tmp_path_factory.mktemp("monitoring")) as home:
        first = training_flow(data_dir=str(fleets["normal"]), trigger="manual", config=SMALL_CONFIG)
        assert first.decision.promote, first.decision.reason
        model = load_version(MlflowClient(), NAME, first.version, home / "work")
        tables = {k: ingest_folder(v).tables for k, v in fleets.items()}
        end = pd.Timestamp(pd.read_parquet(fleets["normal"] / "telemetry.parquet", columns=["timestamp"])["timestamp"].max())
        yield Setup(home, first, model, fleets, tables, end)


def _reset_policy() -> None:
    from flows.monitoring import save_state
    from flows.settings import load_settings
    from monitoring import PolicyState

    save_state(load_settings(), PolicyState())


def _log_window(s: Setup, fleet: str, periods_back: int = 0, units: int | None = None) -> datetime:
    """Score one period of `fleet` with the champion and log it as one day of predictions; return the day's end."""
    from demo.stream import readings_for_period
    from tasks.features import compute_features

    end = s.end - periods_back * PERIOD
    readings = readings_for_period(s.tables[fleet], end - PERIOD, end, STEP_HOURS)
    if units is not None:
        keep = readings["transformer_id"].drop_duplicates().head(units)
        readings = readings[readings["transformer_id"].isin(keep)]
    features = compute_features(readings).reset_index(drop=True)
    day = EPOCH + timedelta(days=next(_days))
    scored_at = day + timedelta(hours=12)
    n = len(readings)
    frame = pd.DataFrame({
        "request_id": [f"req-{i // 50}" for i in range(n)],
        "scored_at": pd.Series([scored_at] * n, dtype="datetime64[us, UTC]"),
        "transformer_id": readings["transformer_id"].astype(str).to_numpy(),
        "as_of": pd.to_datetime(readings["as_of"], utc=True).dt.tz_convert(None).astype("datetime64[us]").to_numpy(),
        "model_name": NAME,
        "model_version": s.champion.version,
        "failure_probability": s.model.predict_proba(features),
        "risk_band": "low",
        "latency_ms": 1.0,
    })
    for name in s.model.feature_columns:
        frame[name] = features[name].to_numpy(dtype=float)
    folder = s.home / "predictions" / f"date={day.date().isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(folder / f"part-{fleet}-{periods_back}.parquet", index=False)
    return day + timedelta(days=1)


def _check(window_end: datetime, retrain: str = "off", data_dir: Path | None = None) -> Any:
    from demo.loop import DemoConfig, demo_monitoring
    from flows.monitoring import drift_check_flow

    return drift_check_flow(
        window_hours=24.0, window_end=window_end, config=demo_monitoring(DemoConfig()), retrain=retrain,  # type: ignore[arg-type]
        retrain_data_dir=str(data_dir) if data_dir else None, decay=False,
    )


def test_no_drift_window_does_not_trigger(setup: Setup) -> None:
    from flows.monitoring import load_state
    from flows.settings import load_settings

    _reset_policy()
    before = datetime.now(UTC)
    outcome = _check(_log_window(setup, "normal"))
    assert outcome.verdict == "no_drift", (outcome.reason, outcome.drifted_columns)
    assert not outcome.triggered and outcome.retrain_run is None
    assert outcome.window_rows >= 100 and outcome.model_version == setup.champion.version
    assert outcome.report_path and Path(outcome.report_path).is_file()
    # When the check ran (not the window's end, which lies in the future here): the flows' metrics report it.
    last_check_at = load_state(load_settings()).last_check_at
    assert last_check_at is not None and before <= last_check_at <= datetime.now(UTC)


@pytest.mark.parametrize("scenario", list(EXPECTED))
def test_scenario_is_detected_on_its_columns(setup: Setup, scenario: str) -> None:
    manifest = json.loads((setup.fleets[scenario] / "manifest.json").read_text())["scenario"]
    assert manifest["name"] == scenario
    # EXPECTED translates these raw columns into the model features computed from them.
    assert set(manifest["affected_columns"]) == AFFECTED[scenario]
    _reset_policy()
    outcome = _check(_log_window(setup, scenario))
    assert outcome.verdict == "drift", (outcome.reason, outcome.drifted_columns)
    hit = EXPECTED[scenario] & set(outcome.drifted_columns)
    assert hit, f"{scenario}: none of {sorted(EXPECTED[scenario])} drifted; drifted: {outcome.drifted_columns}"
    assert not outcome.triggered  # one drifted window is not a confirmation (K=2)
    assert "1 of 2" in outcome.reason, outcome.reason


def test_too_small_window_is_insufficient_data(setup: Setup) -> None:
    _reset_policy()
    outcome = _check(_log_window(setup, "sensor_offset", units=40))
    assert outcome.verdict == "insufficient_data", outcome.reason
    assert not outcome.triggered and outcome.drifted_columns == ()
    assert outcome.window_rows == 40


def test_confirmation_needs_two_windows_then_cooldown_holds(setup: Setup) -> None:
    _reset_policy()
    first = _check(_log_window(setup, "sensor_offset", periods_back=3))
    second = _check(_log_window(setup, "sensor_offset", periods_back=2))
    assert (first.verdict, second.verdict) == ("drift", "drift")
    assert not first.triggered and second.triggered
    # Drift goes on: two more drifted windows right after are confirmed again, but inside the cool-down.
    third = _check(_log_window(setup, "sensor_offset", periods_back=1))
    fourth = _check(_log_window(setup, "sensor_offset", periods_back=0))
    assert third.verdict == fourth.verdict == "drift"
    assert not third.triggered and not fourth.triggered
    assert "cool-down" in fourth.reason, fourth.reason


def _log_history(s: Setup, start: pd.Timestamp, end: pd.Timestamp, step_days: float, invert: bool) -> datetime:
    """Log the champion's scores of `[start, end)` of the normal fleet as one day of predictions.

    With `invert`, each score is replaced by 1 - score: the ranking of a model gone bad.
    """
    from demo.stream import readings_for_period
    from tasks.features import compute_features

    readings = readings_for_period(s.tables["normal"], start, end, step_days * 24.0)
    features = compute_features(readings).reset_index(drop=True)
    scores = s.model.predict_proba(features)
    day = EPOCH + timedelta(days=next(_days))
    n = len(readings)
    frame = pd.DataFrame({
        "scored_at": pd.Series([day + timedelta(hours=12)] * n, dtype="datetime64[us, UTC]"),
        "transformer_id": readings["transformer_id"].astype(str).to_numpy(),
        "as_of": pd.to_datetime(readings["as_of"], utc=True).dt.tz_convert(None).astype("datetime64[us]").to_numpy(),
        "model_version": s.champion.version,
        "failure_probability": 1.0 - scores if invert else scores,
    })
    for name in s.model.feature_columns:
        frame[name] = features[name].to_numpy(dtype=float)
    folder = s.home / "predictions" / f"date={day.date().isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(folder / "part-history.parquet", index=False)
    return day + timedelta(days=1)


def test_decay_of_the_champion_triggers_a_retrain_once(setup: Setup, tmp_path: Path) -> None:
    """Realised PR-AUC far below the holdout PR-AUC => a decay trigger; the same records are not judged twice."""
    import shutil

    from demo.loop import DemoConfig, demo_monitoring
    from flows.monitoring import drift_check_flow

    _reset_policy()
    # Two years of fortnightly scores, all matured (the 90-day horizon ends before the data does).
    end = setup.end - pd.Timedelta(days=100)
    window_end = _log_history(setup, end - pd.Timedelta(days=730), end, 14.0, invert=True)
    records = tmp_path / "records"
    records.mkdir()
    for table in ("failures.parquet", "telemetry.parquet"):
        shutil.copy(setup.fleets["normal"] / table, records / table)

    def check() -> Any:
        return drift_check_flow(window_hours=24.0, window_end=window_end, config=demo_monitoring(DemoConfig()),
                                retrain="off", failures_dir=str(records))

    first = check()
    assert first.triggered and first.trigger_cause == "decay", (first.reason, first.decay_reason)
    assert first.decay_reason and f"performance decay of version(s) {setup.champion.version}" in first.decay_reason
    runs = mlflow.search_runs(experiment_names=[f"{NAME}-monitoring"], filter_string="tags.kind = 'decay_check'",
                              order_by=["start_time DESC"])
    latest = runs.iloc[0]
    assert latest["tags.decayed"] == "true"
    realised = latest[f"metrics.realised_pr_auc.v{setup.champion.version}"]
    holdout = MlflowClient().get_run(
        MlflowClient().get_model_version(NAME, setup.champion.version).run_id).data.metrics["model.pr_auc"]
    assert realised < 0.9 * holdout, (realised, holdout)

    second = check()  # same failure records: nothing new to judge, no second trigger
    assert second.decay_reason == "not checked: no new failure records since the last check"
    assert not second.triggered


def test_honest_predictions_do_not_decay(setup: Setup) -> None:
    from demo.loop import DemoConfig, demo_monitoring
    from flows.monitoring import drift_check_flow

    _reset_policy()
    end = setup.end - pd.Timedelta(days=100)
    window_end = _log_history(setup, end - pd.Timedelta(days=730), end, 14.0, invert=False)
    outcome = drift_check_flow(window_hours=24.0, window_end=window_end, config=demo_monitoring(DemoConfig()),
                               retrain="off", failures_dir=str(setup.fleets["normal"]))
    assert outcome.decay_reason and outcome.decay_reason.startswith("no decay"), outcome.decay_reason
    assert not outcome.triggered


def test_confirmed_drift_retrains_inline_through_the_gate(setup: Setup) -> None:
    """Runs last: the retrained version may become the champion."""
    client = MlflowClient()
    before = {int(v.version) for v in client.search_model_versions(f"name='{NAME}'")}
    _reset_policy()
    first = _check(_log_window(setup, "sensor_offset", periods_back=1), "inline", setup.fleets["sensor_offset"])
    assert not first.triggered and first.retrain_run is None
    second = _check(_log_window(setup, "sensor_offset", periods_back=0), "inline", setup.fleets["sensor_offset"])
    assert second.triggered and second.retrain_run and second.retrain_run.startswith("version ")

    new = {int(v.version) for v in client.search_model_versions(f"name='{NAME}'")} - before
    assert len(new) == 1, new  # exactly one retraining for one confirmation
    mv = client.get_model_version(NAME, str(new.pop()))
    assert mv.tags["gate.trigger"] == "drift" and mv.tags["trigger"] == "drift"
    assert mv.tags["gate.decision"] in ("promoted", "rejected")
    assert second.retrain_run == f"version {mv.version} ({mv.tags['gate.decision']})"
    record = json.loads(mlflow.artifacts.load_text(f"runs:/{mv.run_id}/{mv.tags['gate.record']}"))
    assert record["trigger"] == "drift" and record["trigger_detail"] == second.report_path
