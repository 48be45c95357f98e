"""The stream before it is sent: sources in time order, seeded faults at the asked shares, send order, pacing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from replay.config import MessConfig, Pacing, StreamConfig
from replay.encode import records
from replay.mess import CORRUPTIONS, Planner
from replay.schedule import Clock
from replay.source import FleetSource, ReadingChunk, ReadingsFile
from tasks.features import build_snapshots
from tests.replay.expect import plan
from tests.serving.factory import synthetic_readings

HOUR = pd.Timedelta(hours=1)


def hourly_readings(units: int, hours: int) -> pd.DataFrame:
    """Synthetic readings of `units` units every hour, in time order."""
    frame = synthetic_readings(units * hours, seed=2)
    frame["transformer_id"] = [f"U{i % units:03d}" for i in range(len(frame))]
    frame["as_of"] = pd.Timestamp("2024-01-01") + HOUR * np.repeat(np.arange(hours), units)
    return frame


def test_fleet_source_chunks_equal_one_point_in_time_build(fleet: Path) -> None:
    source = FleetSource(folder=fleet, days=2, step="2h", chunk_rows=25)
    chunks = [c.frame for c in source.chunks()]
    assert len(chunks) > 3 and all(len(c) <= 30 for c in chunks)  # 6 units x whole steps only
    streamed = pd.concat(chunks, ignore_index=True)
    assert streamed["as_of"].is_monotonic_increasing
    assert streamed.groupby("transformer_id")["as_of"].diff().dropna().eq(pd.Timedelta(hours=2)).all()
    whole = build_snapshots(source.load(), source.grid())
    pd.testing.assert_frame_equal(streamed, whole.reset_index(drop=True))


def test_faults_are_seeded_exclusive_and_near_their_shares() -> None:
    mess = MessConfig(missing=0.05, duplicate=0.1, late=0.05, out_of_order=0.05, corrupt=0.05, stale=0.01, seed=9)
    frame = hourly_readings(units=40, hours=100)
    chunk = ReadingChunk(frame, np.full(len(frame), "S1", dtype=object))
    one, two, other = (Planner(m, HOUR) for m in (mess, mess, MessConfig(**{**mess.__dict__, "seed": 10})))
    first = one.plan(chunk)
    assert first == two.plan(chunk) and first != other.plan(chunk)
    n = len(frame)
    for kind, share in (("missing", 0.05), ("duplicate", 0.1), ("late", 0.05), ("corrupt", 0.05)):
        assert abs(one.injected[kind] - share * n) < 4 * np.sqrt(share * n), kind
    assert len(first) == n - one.injected["missing"] + one.injected["duplicate"]
    late = [e for e in first if e.kind == "late"]
    assert all(e.due - e.as_of == 3 * 3600 for e in late)
    bad = [e for e in first if e.kind == "corrupt"]
    assert all(sum(json.loads(e.payload).get(f) == v for f, v in CORRUPTIONS) == 1 for e in bad)


def test_a_stale_episode_freezes_the_units_values_for_its_length() -> None:
    frame = hourly_readings(units=1, hours=30)
    planner = Planner(MessConfig(stale=0.05, stale_steps=4, seed=1), HOUR)
    events = planner.plan(ReadingChunk(frame, np.full(len(frame), "S1", dtype=object)))
    bodies = [json.loads(e.payload) for e in events]
    values = [tuple(v for k, v in b.items() if k not in ("transformer_id", "as_of")) for b in bodies]
    frozen = [i for i, e in enumerate(events) if e.kind == "stale"]
    assert frozen and planner.injected["stale"] == len(frozen)
    assert all(values[i] == values[i - 1] for i in frozen)  # same values as the reading before...
    assert all(bodies[i]["as_of"] != bodies[i - 1]["as_of"] for i in frozen)  # ...at a later time


def test_send_order_holds_across_chunks_with_delays_crossing_them(tmp_path: Path) -> None:
    path = tmp_path / "readings.parquet"
    hourly_readings(units=5, hours=48).to_parquet(path)
    stream = StreamConfig(ReadingsFile(path, chunk_rows=17), mess=MessConfig(late=0.2, out_of_order=0.2, seed=4))
    events, planner = plan(stream)
    assert planner.planned == 240 and len(events) == 240
    order = [(e.due, e.seq) for e in events]
    assert order == sorted(order)
    assert sum(e.due > e.as_of for e in events) == planner.injected["late"] + planner.injected["out_of_order"]


def test_pacing_maps_data_time_or_rate_to_wall_time(tmp_path: Path) -> None:
    hourly_readings(units=3, hours=4).to_parquet(tmp_path / "r.parquet")
    events, _ = plan(StreamConfig(ReadingsFile(tmp_path / "r.parquet")))
    by_speed = Clock(Pacing(speed=3600.0), t0=100.0, first_due=events[0].due)
    by_rate = Clock(Pacing(speed=None, rate=50.0), t0=100.0, first_due=events[0].due)
    unpaced = Clock(Pacing(speed=None), t0=100.0, first_due=events[0].due)
    later = next(e for e in events if e.due == events[0].due + 7200)
    assert by_speed.wall_due(later, 0) == pytest.approx(102.0)  # 2 h of data at 3600x: 2 s
    assert by_rate.wall_due(later, 25) == pytest.approx(100.5)
    assert unpaced.wall_due(later, 25) is None
    with pytest.raises(ValueError, match="not both"):
        Pacing(speed=10.0, rate=10.0)


def test_readings_file_names_what_is_wrong(tmp_path: Path) -> None:
    frame = hourly_readings(units=2, hours=3)
    frame.drop(columns=["h2", "co"]).to_csv(tmp_path / "short.csv", index=False)
    with pytest.raises(ValueError, match=r"short.csv lacks column\(s\) h2, co"):
        ReadingsFile(tmp_path / "short.csv").load()
    frame.assign(as_of=["yesterday"] + list(frame["as_of"].astype(str)[1:])).to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(ValueError, match="1 value.* not timestamps, e.g. 'yesterday'"):
        ReadingsFile(tmp_path / "t.csv").load()
    with pytest.raises(FileNotFoundError, match="no such file"):
        ReadingsFile(tmp_path / "missing.parquet")


def test_csv_gaps_and_whole_years_encode_as_the_api_expects(tmp_path: Path) -> None:
    frame = hourly_readings(units=2, hours=2)
    frame.loc[0, "install_year"] = np.nan  # a gap turns the CSV column into floats
    frame.loc[1, "h2"] = np.nan
    frame.to_csv(tmp_path / "r.csv", index=False)
    chunk = next(ReadingsFile(tmp_path / "r.csv").chunks())
    rows = {r["transformer_id"] + r["as_of"]: r for r in records(chunk.frame)}
    assert all(isinstance(r["install_year"], int) for r in rows.values() if r["install_year"] is not None)
    assert sum(r["install_year"] is None for r in rows.values()) == 1
    assert sum(r["h2"] is None for r in rows.values()) == 1
    assert all(r["as_of"].endswith("Z") for r in rows.values())
