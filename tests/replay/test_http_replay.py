"""Replay to a live API (real uvicorn, real registry): each reading scored and logged once, faults counted as planned."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from replay.config import HttpReplayConfig, MessConfig, Pacing, StreamConfig
from replay.driver import ReplayAborted
from replay.http import run_replay
from replay.source import FleetSource, ReadingsFile
from tasks.features import build_snapshots
from tasks.ingest import ingest_folder
from tests.replay.conftest import LiveApi, read_log
from tests.replay.expect import expect

MESSY = MessConfig(missing=0.05, duplicate=0.12, late=0.05, late_steps=3, out_of_order=0.05, corrupt=0.04,
                   stale=0.03, stale_steps=4, seed=5)


def _logged_keys(log: pd.DataFrame) -> list[tuple[str, str]]:
    stamps = pd.to_datetime(log["as_of"]).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return list(zip(log["transformer_id"], stamps))


def test_messy_stream_is_scored_once_and_counted_as_planned(live_api: LiveApi, fleet: Path, tmp_path: Path) -> None:
    stream = StreamConfig(FleetSource(folder=fleet, days=3, step="1h", chunk_rows=150), pacing=Pacing(speed=None),
                          mess=MESSY)
    expected = expect(stream)
    assert expected.duplicates and expected.flags.get("late") and expected.flags.get("stale") and expected.rejects
    report = run_replay(HttpReplayConfig(stream, url=live_api.url, api_key=live_api.key, batch=8, concurrency=3,
                                         report_path=tmp_path / "replay.json"))
    live_api.stop()  # SIGTERM: the API drains and flushes its prediction log
    log = read_log(live_api.log_dir)

    assert report.sent == len(expected.events)
    assert report.scored == len(expected.scored_keys)
    assert report.duplicates == expected.duplicates
    assert report.rejects_by_reason == expected.rejects
    assert report.flags == expected.flags
    assert report.injected == expected.injected and report.injected["missing"] > 0
    assert report.failed_requests == report.failed_readings == 0
    # The log holds every scored reading exactly once, and nothing else.
    keys = _logged_keys(log)
    assert len(keys) == len(set(keys)) == report.scored
    assert set(keys) == set(expected.scored_keys)
    assert (tmp_path / "replay.json").is_file()
    assert report.p99_ms >= report.p50_ms > 0 and report.versions == frozenset({"1"})


def test_replay_of_a_utility_readings_file_and_a_refused_key(live_api: LiveApi, fleet: Path, tmp_path: Path) -> None:
    tables = dict(ingest_folder(fleet).tables)
    end = pd.Timestamp(tables["telemetry"]["timestamp"].max()).tz_localize(None).floor("D")
    grid = pd.DataFrame([(u, end - pd.Timedelta(hours=6 * k)) for u in tables["assets"]["transformer_id"]
                         for k in range(8)], columns=["transformer_id", "as_of"])
    readings = build_snapshots(tables, grid).sample(frac=1.0, random_state=0)  # a file need not be in time order
    path = tmp_path / "utility_readings.csv"
    readings.to_csv(path, index=False)

    stream = StreamConfig(ReadingsFile(path), pacing=Pacing(speed=None, rate=400.0))
    with pytest.raises(ReplayAborted, match="401"):  # checked once up front, before anything is sent
        run_replay(HttpReplayConfig(stream, url=live_api.url, api_key="wrong-key"))
    config = HttpReplayConfig(stream, url=live_api.url, api_key=live_api.key, batch=1, concurrency=2)
    report = run_replay(config)
    again = run_replay(config)  # the same file once more: the API answers every reading from memory
    rerun = run_replay(HttpReplayConfig(stream, url=live_api.url, api_key=live_api.key, batch=4, dedupe=False))
    live_api.stop()
    log = read_log(live_api.log_dir)
    assert report.sent == report.scored == len(readings)
    assert report.rejected == report.duplicates == 0
    assert report.flags == {}  # sorted by as_of before sending: nothing arrives late
    assert (again.scored, again.duplicates) == (0, len(readings))
    assert (rerun.scored, rerun.duplicates) == (len(readings), 0)  # a deliberate re-run is scored again
    keys = _logged_keys(log)
    expected = set(zip(readings["transformer_id"], readings["as_of"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")))
    assert len(keys) == 2 * len(readings) and set(keys) == expected  # first run + re-run; repeats never logged
