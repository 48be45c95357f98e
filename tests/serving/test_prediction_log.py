"""PredictionLog on its own: rows converted as they arrive, written by day, kept through failed writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from serving.metrics import ServiceMetrics
from serving.prediction_log import LoggedScores, PredictionLog

FEATURES = ("a", "b")


def _entry(request_id: str, rows: int, scored_at: datetime) -> LoggedScores:
    return LoggedScores(
        request_id=request_id, scored_at=scored_at, model_name="m", model_version="3", latency_ms=1.5,
        transformer_id=[f"T{i}" for i in range(rows)], as_of=[datetime(2025, 1, 1) + timedelta(days=i) for i in range(rows)],
        probability=np.linspace(0, 1, rows), risk_band=["low"] * rows, features=np.arange(rows * 2.0).reshape(rows, 2),
    )


def _logged(folder: Path) -> pd.DataFrame:
    files = sorted(folder.glob("date=*/part-*.parquet"))
    return pd.concat([pd.read_parquet(f).assign(day=f.parent.name) for f in files], ignore_index=True)


def test_a_failed_write_keeps_its_rows_and_a_day_already_written_is_not_written_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    metrics = ServiceMetrics()
    plog = PredictionLog(tmp_path, FEATURES, flush_interval_s=3600, flush_rows=10**9, metrics=metrics)
    monday = datetime(2026, 11, 23, 23, 0, tzinfo=UTC)
    for k, at in enumerate([monday, monday + timedelta(hours=2), monday, monday + timedelta(hours=2)]):
        plog.append(_entry(f"r{k}", 5, at))
    plog._collect()
    assert plog._pending_rows == 20

    real_write = plog._write
    calls: list[str] = []

    def second_day_fails(day: str, table: object) -> None:
        calls.append(day)
        if day == "2026-11-24":
            raise OSError("disk full")
        real_write(day, table)  # type: ignore[arg-type]

    monkeypatch.setattr(plog, "_write", second_day_fails)
    plog._flush()
    assert calls == ["2026-11-23", "2026-11-24"]
    assert plog._pending_rows == 10  # the failed day's rows are kept
    monkeypatch.setattr(plog, "_write", real_write)
    plog._flush()  # the next flush

    logged = _logged(tmp_path)
    assert len(logged) == 20  # each row exactly once
    assert sorted(logged.groupby("day")["request_id"].unique().map(sorted).tolist()) == [["r0", "r2"], ["r1", "r3"]]
    assert plog._pending_rows == 0


def test_rows_are_written_as_handed_over(tmp_path: Path) -> None:
    plog = PredictionLog(tmp_path, FEATURES, flush_interval_s=3600, flush_rows=10**9, metrics=ServiceMetrics())
    plog.start()
    at = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    plog.append(_entry("one", 3, at))
    plog.append(_entry("two", 1, at))
    plog.close()
    logged = _logged(tmp_path)
    assert logged["request_id"].tolist() == ["one"] * 3 + ["two"]
    assert logged["transformer_id"].tolist() == ["T0", "T1", "T2", "T0"]
    assert logged["as_of"].tolist() == [pd.Timestamp("2025-01-01"), pd.Timestamp("2025-01-02"),
                                        pd.Timestamp("2025-01-03"), pd.Timestamp("2025-01-01")]
    np.testing.assert_array_equal(logged[["a", "b"]].to_numpy(), [[0, 1], [2, 3], [4, 5], [0, 1]])
    assert logged["model_version"].unique().tolist() == ["3"]
