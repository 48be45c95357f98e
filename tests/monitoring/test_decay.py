"""Performance decay: predictions joined to later failures; random scores decay, good ones hold, unmatured excluded."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest

from monitoring import DecaySettings, check_decay, label_predictions

UNITS = 150
DAYS = pd.date_range("2024-01-01", "2024-12-31", freq="D", tz="UTC")
UNTIL = datetime(2025, 6, 1, tzinfo=timezone.utc)


def fleet(seed: int = 0, failing: int = 15) -> pd.DataFrame:
    """One failure for each of `failing` units, spread over 2024 and early 2025."""
    rng = np.random.default_rng(seed)
    units = rng.choice(UNITS, failing, replace=False)
    failed_at = pd.Timestamp("2024-02-01", tz="UTC") + pd.to_timedelta(rng.uniform(0, 450, failing), unit="D")
    return pd.DataFrame({"transformer_id": [f"T{u:03d}" for u in units], "failed_at": failed_at})


def predictions(failures: pd.DataFrame, version: str, skill: float, seed: int) -> pd.DataFrame:
    """Daily scores of every unit; with skill > 0 the score rises in the 90 days before a failure."""
    rng = np.random.default_rng(seed)
    tid = np.repeat([f"T{u:03d}" for u in range(UNITS)], len(DAYS))
    as_of = np.tile(DAYS, UNITS)
    frame = pd.DataFrame({"transformer_id": tid, "as_of": as_of, "model_version": version})
    frame = frame.merge(failures, on="transformer_id", how="left")
    ahead = (frame["failed_at"] - frame["as_of"]).dt.days
    at_risk = ((ahead > 0) & (ahead <= 90)).to_numpy()
    frame["failure_probability"] = np.clip(rng.beta(1, 30, len(frame)) + skill * at_risk * rng.uniform(0.5, 1, len(frame)), 0, 1)
    return frame.drop(columns="failed_at")


FAILURES = fleet()
GOOD = predictions(FAILURES, "3", skill=0.6, seed=1)
RANDOM = predictions(FAILURES, "4", skill=0.0, seed=2)


def test_a_good_model_holds_and_a_random_one_decays() -> None:
    result = check_decay(pd.concat([GOOD, RANDOM]), FAILURES, {"3": 0.6, "4": 0.6}, UNTIL)
    good, bad = result.version("3"), result.version("4")
    assert good.failures >= 3 and good.failures == bad.failures and good.positives > 10 * good.failures
    assert good.status == "ok" and good.pr_auc > 0.6 and good.top_k_recall > 0.5
    assert bad.status == "decayed" and bad.pr_auc < 0.2 and bad.relative_drop is not None and bad.relative_drop > 0.5
    assert result.decayed and "version 4" in result.reason and "version 3" not in result.reason
    good_only = check_decay(GOOD, FAILURES, {"3": 0.6}, UNTIL)
    assert not good_only.decayed
    assert "| 4 |" in result.summary_markdown() and result.as_dict()["versions"][1]["status"] == "decayed"
    assert result.metrics()["decay.v4.pr_auc"] == pytest.approx(bad.pr_auc)


def test_predictions_whose_horizon_has_not_elapsed_are_excluded() -> None:
    until = datetime(2024, 10, 1, tzinfo=timezone.utc)
    labelled = label_predictions(GOOD, FAILURES, 90, until)
    latest = pd.Timestamp(until) - pd.Timedelta(days=90)
    assert labelled.frame["as_of"].max() <= latest
    matured_days = int((DAYS <= latest).sum())
    assert len(labelled.frame) == UNITS * matured_days
    assert labelled.unmatured == UNITS * (len(DAYS) - matured_days)
    # A failure after `until` is not known yet: it must not label anything.
    assert labelled.frame["failed_at"].dropna().max() <= pd.Timestamp(until)


def test_labels_use_the_open_closed_horizon() -> None:
    failure = pd.DataFrame({"transformer_id": ["A"], "failed_at": [pd.Timestamp("2024-04-09", tz="UTC")]})
    scored = pd.DataFrame({
        "transformer_id": ["A", "A", "A", "A", "A"],
        "scored_at": pd.to_datetime(
            ["2024-01-10 00:00", "2024-01-11 00:00", "2024-04-09 00:00", "2024-01-11 08:00", "2024-01-09 23:00"], utc=True
        ),
        "failure_probability": [0.1, 0.2, 0.3, 0.9, 0.4],
        "model_version": 3,
    })
    frame = label_predictions(scored, failure, 90, UNTIL).frame.set_index("as_of")
    assert frame.loc[pd.Timestamp("2024-01-10", tz="UTC"), "label"] == 1.0  # fails exactly at t + 90 days
    assert frame.loc[pd.Timestamp("2024-01-09", tz="UTC"), "label"] == 0.0  # 90 days and 1 hour ahead
    assert frame.loc[pd.Timestamp("2024-04-09", tz="UTC"), "label"] == 0.0  # fails at t: not within (t, t + H]
    # Two scores on 2024-01-11: the later one is the unit's snapshot of that day.
    assert frame.loc[pd.Timestamp("2024-01-11", tz="UTC"), "failure_probability"] == 0.9
    assert set(frame["model_version"]) == {"3"}


def test_too_few_failures_is_insufficient_never_decay() -> None:
    few = pd.DataFrame({"transformer_id": ["T001", "T002"], "failed_at": pd.to_datetime(["2024-05-01", "2024-08-01"], utc=True)})
    random = predictions(few, "4", skill=0.0, seed=5)
    result = check_decay(random, few, {"4": 0.6}, UNTIL, DecaySettings(min_positives=3))
    version = result.version("4")
    assert version.failures == 2 and version.positives > 100  # many positive unit-days, but only two failures
    assert version.status == "insufficient_data" and not result.decayed
    assert "insufficient data (2 failures < 3)" in result.reason


def test_versions_without_a_baseline_get_figures_but_no_verdict() -> None:
    result = check_decay(RANDOM, FAILURES, {}, UNTIL)
    assert result.version("4").status == "no_baseline" and not result.decayed
    with pytest.raises(ValueError, match="failure_probability"):
        check_decay(GOOD.drop(columns="failure_probability"), FAILURES, {}, UNTIL)


def test_times_read_from_parquet_join_failures_of_another_resolution() -> None:
    """The prediction log stores microseconds, failure tables often nanoseconds: the join must not care."""
    scored = GOOD.assign(as_of=GOOD["as_of"].astype("datetime64[us, UTC]"))
    failures = FAILURES.assign(failed_at=FAILURES["failed_at"].astype("datetime64[ns, UTC]"))
    mixed = check_decay(scored, failures, {"3": 0.6}, UNTIL)
    same = check_decay(GOOD, FAILURES, {"3": 0.6}, UNTIL)
    assert mixed.version("3") == same.version("3")
