"""The demo's HTTP stream: point-in-time readings of a fleet period, posted in micro-batches, with latency figures."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tasks.features import READING_FIELDS, build_snapshots


@dataclass(frozen=True)
class StreamStats:
    """What one streamed period did, end to end (send -> response)."""

    sent: int
    scored: int
    failed_requests: int
    requests: int
    throughput: float  # readings/s
    p50_ms: float
    p95_ms: float
    p99_ms: float
    versions: frozenset[str] = field(default_factory=frozenset)
    alarms: int = 0  # risk-band changes per unit within the period


def readings_for_period(tables: dict[str, pd.DataFrame], start: pd.Timestamp, end: pd.Timestamp, step_hours: float) -> pd.DataFrame:
    """Every in-service unit every `step_hours` of data time in [start, end), in time order."""
    failures = tables["failures"].groupby("transformer_id")["failed_at"].min()
    times = pd.date_range(start, end, freq=pd.Timedelta(hours=step_hours), inclusive="left")
    units = tables["assets"]["transformer_id"].to_numpy()
    grid = pd.DataFrame({"transformer_id": np.repeat(units, len(times)), "as_of": np.tile(times, len(units))})
    failed_at = grid["transformer_id"].map(failures)
    grid = grid[failed_at.isna() | (grid["as_of"] < failed_at)]
    grid = grid.sort_values(["as_of", "transformer_id"], kind="stable").reset_index(drop=True)
    return build_snapshots(tables, grid)


def to_json_records(readings: pd.DataFrame) -> list[dict[str, Any]]:
    """Readings as the API expects them: ISO UTC times, integer years, null for missing values."""
    names = [c.name for c in READING_FIELDS]
    kinds = {c.name: c.kind for c in READING_FIELDS}
    out = []
    for row in readings[names].itertuples(index=False, name=None):
        record: dict[str, Any] = {}
        for name, value in zip(names, row, strict=True):
            if kinds[name] == "timestamp":
                record[name] = pd.Timestamp(value).tz_convert("UTC").isoformat().replace("+00:00", "Z")
            elif value is None or (isinstance(value, float) and math.isnan(value)):
                record[name] = None
            elif kinds[name] == "int":
                record[name] = int(value)
            elif kinds[name] == "float":
                record[name] = float(value)
            else:
                record[name] = value
        out.append(record)
    return out


async def _post_all(batches: list[bytes], url: str, key: str, concurrency: int) -> tuple[list[float], int, int, set[str], list[dict[str, Any]]]:
    import httpx

    latencies: list[float] = []
    failed = scored = 0
    versions: set[str] = set()
    results: list[dict[str, Any]] = []
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in batches:
        queue.put_nowait(body)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal failed, scored
        while not queue.empty():
            body = queue.get_nowait()
            t0 = time.perf_counter()
            try:
                response = await client.post(f"{url}/v1/score", content=body, headers=headers)
            except httpx.HTTPError:
                failed += 1
                continue
            latencies.append((time.perf_counter() - t0) * 1000)
            if response.status_code != 200:
                failed += 1
                continue
            payload = response.json()
            versions.add(str(payload["model_version"]))
            scored += len(payload["results"])
            results.extend(payload["results"])

    async with httpx.AsyncClient(timeout=30.0, limits=httpx.Limits(max_connections=concurrency)) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return latencies, failed, scored, versions, results


def _alarms(results: list[dict[str, Any]]) -> int:
    frame = pd.DataFrame([(r["transformer_id"], r["as_of"], r["risk_band"]) for r in results], columns=["tid", "t", "band"])
    if frame.empty:
        return 0
    frame = frame.sort_values(["tid", "t"])
    return int((frame.groupby("tid")["band"].shift() != frame["band"]).sum() - frame["tid"].nunique())


def stream_period(tables: dict[str, pd.DataFrame], start: pd.Timestamp, end: pd.Timestamp, url: str, key: str,
                  step_hours: float, batch: int, concurrency: int) -> StreamStats:
    records = to_json_records(readings_for_period(tables, start, end, step_hours))
    batches = [json.dumps({"readings": records[i : i + batch]}).encode() for i in range(0, len(records), batch)]
    t0 = time.perf_counter()
    latencies, failed, scored, versions, results = asyncio.run(_post_all(batches, url, key, concurrency))
    elapsed = time.perf_counter() - t0
    lat = np.asarray(latencies) if latencies else np.asarray([np.nan])
    return StreamStats(
        sent=len(records), scored=scored, failed_requests=failed, requests=len(batches),
        throughput=scored / elapsed if elapsed > 0 else 0.0,
        p50_ms=float(np.nanpercentile(lat, 50)), p95_ms=float(np.nanpercentile(lat, 95)),
        p99_ms=float(np.nanpercentile(lat, 99)), versions=frozenset(versions), alarms=_alarms(results),
    )


def http_stream(config: Any) -> Callable[..., Callable[[], StreamStats]]:
    """Return the demo's stream factory: fleet folders are ingested once and reused."""
    from tasks.ingest import ingest_folder

    cache: dict[Path, dict[str, pd.DataFrame]] = {}

    def factory(fleet: Path, start: pd.Timestamp, end: pd.Timestamp, url: str, key: str) -> Callable[[], StreamStats]:
        if fleet not in cache:
            cache[fleet] = dict(ingest_folder(fleet).tables)
        tables = cache[fleet]
        return lambda: stream_period(tables, start, end, url, key, config.step_hours, config.batch, config.concurrency)

    return factory
