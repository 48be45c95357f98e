"""Reading a window of the day-partitioned prediction log: half-open range, needed columns, pruning, sampling."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from monitoring import DriftSettings, check_drift, load_prediction_window, load_reference
from tests.monitoring.factory import FEATURES, make_window

COLUMNS = [*FEATURES, "failure_probability"]


def utc(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=timezone.utc)


def write_log(folder: Path, days: int = 3, rows_per_day: int = 1_440) -> pd.DataFrame:
    """Write one Parquet file per day under date=YYYY-MM-DD/, a row a minute, versions 3 then 4."""
    frames = []
    for day in range(days):
        start = pd.Timestamp("2025-06-01", tz="UTC") + pd.Timedelta(days=day)
        frame = make_window(rows_per_day, seed=day, start=start)
        frame["model_version"] = np.where(np.arange(rows_per_day) < rows_per_day // 2, "3", "4")
        part = folder / f"date={start.date().isoformat()}"
        part.mkdir(parents=True)
        frame.to_parquet(part / "part-0.parquet", index=False)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def test_reads_the_half_open_window_and_only_the_needed_columns(tmp_path: Path) -> None:
    log = write_log(tmp_path)
    window = load_prediction_window(tmp_path, utc(2025, 6, 1, 12), utc(2025, 6, 2, 12), COLUMNS)
    expected = log[(log["scored_at"] >= "2025-06-01 12:00Z") & (log["scored_at"] < "2025-06-02 12:00Z")]
    assert window.total_rows == len(expected) == 1_440 and not window.sampled
    assert list(window.frame.columns) == COLUMNS
    assert np.allclose(window.frame["load_mean_30d"], expected["load_mean_30d"])


def test_partitions_outside_the_window_are_never_opened(tmp_path: Path) -> None:
    write_log(tmp_path)
    (tmp_path / "date=2025-06-03" / "part-0.parquet").write_bytes(b"not parquet")
    window = load_prediction_window(tmp_path, utc(2025, 6, 1), utc(2025, 6, 3), COLUMNS)
    assert window.total_rows == 2 * 1_440


def test_large_window_is_sampled_while_reading(tmp_path: Path) -> None:
    write_log(tmp_path)
    window = load_prediction_window(tmp_path, utc(2025, 6, 1), utc(2025, 6, 4), COLUMNS, max_rows=1_000, seed=1)
    assert window.total_rows == 3 * 1_440 and len(window.frame) == 1_000 and window.sampled
    again = load_prediction_window(tmp_path, utc(2025, 6, 1), utc(2025, 6, 4), COLUMNS, max_rows=1_000, seed=1)
    assert window.frame.equals(again.frame)
    result = check_drift(make_window(5_000, 1_000), window, FEATURES, DriftSettings(min_window_rows=2_000))
    assert result.window_rows == 3 * 1_440 and result.sampled_rows == 1_000
    assert result.window_end == utc(2025, 6, 4) and result.verdict == "no_drift"


def test_filters_by_model_version(tmp_path: Path) -> None:
    write_log(tmp_path, days=1)
    window = load_prediction_window(tmp_path, utc(2025, 6, 1), utc(2025, 6, 2), COLUMNS, model_version="4")
    assert window.total_rows == 720


def test_boundaries_are_errors_that_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_prediction_window(tmp_path / "nope", utc(2025, 6, 1), utc(2025, 6, 2), COLUMNS)
    empty = load_prediction_window(tmp_path, utc(2025, 6, 1), utc(2025, 6, 2), COLUMNS)
    assert empty.total_rows == 0 and list(empty.frame.columns) == COLUMNS
    assert check_drift(make_window(1_000, 0), empty, FEATURES).verdict == "insufficient_data"
    write_log(tmp_path, days=1)
    with pytest.raises(ValueError, match="lacks columns \\['wind_speed'\\]"):
        load_prediction_window(tmp_path, utc(2025, 6, 1), utc(2025, 6, 2), [*COLUMNS, "wind_speed"])
    with pytest.raises(ValueError, match="timezone-aware"):
        load_prediction_window(tmp_path, datetime(2025, 6, 1), utc(2025, 6, 2), COLUMNS)
    with pytest.raises(ValueError, match="after its start"):
        load_prediction_window(tmp_path, utc(2025, 6, 2), utc(2025, 6, 1), COLUMNS)


def test_load_reference(tmp_path: Path) -> None:
    frame = make_window(100, 0)
    frame.to_parquet(tmp_path / "reference.parquet", index=False)
    assert load_reference(tmp_path / "reference.parquet").equals(frame)
    with pytest.raises(FileNotFoundError, match="reference set"):
        load_reference(tmp_path / "missing.parquet")


def test_serving_layout_many_files_in_progress_writes_and_new_columns(tmp_path: Path) -> None:
    """Like serving/prediction_log.py: a file per flush, dot-tmp files mid-write, tz-aware scored_at (us)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    day = tmp_path / "date=2025-06-01"
    day.mkdir()
    for i in range(12):
        frame = make_window(100, seed=i, start=pd.Timestamp("2025-06-01", tz="UTC") + pd.Timedelta(minutes=100 * i))
        if i >= 6:  # a new champion logs one more feature
            frame["new_feature"] = 1.0
        table = pa.Table.from_pandas(frame, preserve_index=False)
        table = table.set_column(
            table.schema.get_field_index("scored_at"), "scored_at", table["scored_at"].cast(pa.timestamp("us", tz="UTC"))
        )
        pq.write_table(table, day / f"part-{i:04d}.parquet")
    (day / ".part-9999.parquet.tmp").write_bytes(b"half written")
    window = load_prediction_window(tmp_path, utc(2025, 6, 1), utc(2025, 6, 2), [*COLUMNS, "new_feature"])
    assert window.total_rows == 1_200
    assert window.frame["new_feature"].isna().sum() == 600
