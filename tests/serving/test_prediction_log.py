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


def test_appenders_write_when_the_writer_falls_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A writer starved of CPU (idle priority on a saturated machine) does not let rows pile up."""
    import serving.prediction_log as module

    monkeypatch.setattr(module, "_BEHIND_ROWS", 12)
    plog = PredictionLog(tmp_path, FEATURES, flush_interval_s=3600, flush_rows=10**9, metrics=ServiceMetrics())
    plog._help_from = 12  # no writer thread started: only appenders write
    at = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    plog.append(_entry("a", 5, at))
    plog.append(_entry("b", 5, at))
    assert not list(tmp_path.rglob("*.parquet"))  # 10 rows behind: left to the writer
    plog.append(_entry("c", 5, at))  # 15: the appender writes them all
    assert len(_logged(tmp_path)) == 15 and plog._pending_rows == 0

    monkeypatch.setattr(plog, "_write", lambda day, table: (_ for _ in ()).throw(OSError("disk full")))
    for k in range(3):
        plog.append(_entry(f"d{k}", 5, at))  # the failed write keeps its rows; the next try waits for 12 more
    assert plog._pending_rows == 15 and len(_logged(tmp_path)) == 15
    monkeypatch.undo()
    plog.close()  # no writer thread: close writes what is left itself
    assert len(_logged(tmp_path)) == 30


def test_the_writer_thread_runs_at_idle_priority(tmp_path: Path) -> None:
    import os
    import threading

    plog = PredictionLog(tmp_path, FEATURES, flush_interval_s=3600, flush_rows=10**9, metrics=ServiceMetrics())
    plog.start()
    try:
        writer = next(t for t in threading.enumerate() if t.name == "xfmr-prediction-log")
        deadline = datetime.now(UTC) + timedelta(seconds=5)
        while os.sched_getscheduler(writer.native_id) != os.SCHED_IDLE and datetime.now(UTC) < deadline:
            threading.Event().wait(0.01)
        assert os.sched_getscheduler(writer.native_id) == os.SCHED_IDLE
        assert os.sched_getscheduler(0) == os.SCHED_OTHER  # the caller's own thread is untouched
    finally:
        plog.close()
