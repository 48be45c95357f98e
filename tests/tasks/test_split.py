"""Time split with purging, and the stratified random split for data without time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tasks.config import LabelSettings, SplitSettings
from tasks.split import stratified_random_split, time_split


def _table(weeks: int = 200, units: int = 20, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    times = pd.date_range("2020-01-01", periods=weeks, freq="7D", tz="UTC")
    frame = pd.DataFrame(
        [(f"TX{u:04d}", t) for t in times for u in range(units)], columns=["transformer_id", "as_of"]
    )
    frame["label"] = (rng.random(len(frame)) < 0.05).astype(float)
    return frame


def test_time_split_orders_parts_and_purges_label_overlap() -> None:
    table = _table()
    labels = LabelSettings(horizon_days=90)
    s = time_split(table, SplitSettings(holdout_days=180, validation_days=180), labels)
    assert s.train["as_of"].max() < s.validation["as_of"].min() < s.holdout["as_of"].min()
    horizon = pd.Timedelta(days=90)
    # No training label may look into the validation window, nor a validation label into the holdout.
    assert (s.train["as_of"] + horizon <= s.validation["as_of"].min() - pd.Timedelta(days=7) + horizon).all()
    assert s.train["as_of"].max() + horizon <= s.holdout["as_of"].min()
    assert s.validation["as_of"].max() + horizon < s.holdout["as_of"].min()
    assert s.purged_rows > 0
    assert len(s.train) + len(s.validation) + len(s.holdout) + s.purged_rows == len(table)


def test_time_split_holdout_is_the_latest_window() -> None:
    table = _table()
    s = time_split(table, SplitSettings(holdout_days=180, validation_days=180), LabelSettings())
    assert s.holdout["as_of"].max() == table["as_of"].max()
    assert (table["as_of"].max() - s.holdout["as_of"].min()).days < 180


def test_time_split_without_positives_in_a_window_says_which() -> None:
    table = _table()
    table.loc[table["as_of"] > table["as_of"].max() - pd.Timedelta(days=180), "label"] = 0.0
    with pytest.raises(ValueError, match="holdout"):
        time_split(table, SplitSettings(holdout_days=180, validation_days=180), LabelSettings())


def test_random_split_is_stratified_and_disjoint() -> None:
    table = _table(weeks=10, units=100)
    s = stratified_random_split(table, SplitSettings(random_test_share=0.25, seed=3))
    assert s.kind == "random_stratified"
    total_pos = table["label"].sum()
    assert abs(s.holdout["label"].sum() - round(total_pos * 0.25)) <= 1
    assert len(s.train) + len(s.validation) + len(s.holdout) == len(table)
    again = stratified_random_split(table, SplitSettings(random_test_share=0.25, seed=3))
    pd.testing.assert_frame_equal(s.holdout, again.holdout)
