"""The demo's HTTP stream: a fleet period replayed to the scoring API in micro-batches, as `xfmr replay` does."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from replay.config import HttpReplayConfig, Pacing, StreamConfig
from replay.http import run_replay
from replay.report import ReplayReport
from replay.source import FleetSource


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
    rejected: int = 0

    @classmethod
    def of(cls, report: ReplayReport) -> StreamStats:
        return cls(
            sent=report.sent, scored=report.scored, failed_requests=report.failed_requests + report.failed_readings,
            requests=report.requests, throughput=report.throughput, p50_ms=report.p50_ms, p95_ms=report.p95_ms,
            p99_ms=report.p99_ms, versions=report.versions, alarms=len(report.alarms), rejected=report.rejected,
        )


def readings_for_period(tables: dict[str, pd.DataFrame], start: pd.Timestamp, end: pd.Timestamp,
                        step_hours: float) -> pd.DataFrame:
    """Every in-service unit every `step_hours` of data time in [start, end), in time order (what the replay sends)."""
    source = FleetSource(tables=tables, start=start, end=end, step=pd.Timedelta(hours=step_hours))
    return pd.concat([chunk.frame for chunk in source.chunks()], ignore_index=True)


def http_stream(config: Any) -> Callable[..., Callable[[], StreamStats]]:
    """Return the demo's stream factory: fleet folders are ingested once and reused.

    Each phase replays as fast as the API answers, in micro-batches of `config.batch` over
    `config.concurrency` connections, with explanations (what an integrator would ask for). The
    demo streams a period again after the swap, on purpose, so the API's duplicate check is off.
    """
    from tasks.ingest import ingest_folder

    cache: dict[Path, dict[str, pd.DataFrame]] = {}

    def factory(fleet: Path, start: pd.Timestamp, end: pd.Timestamp, url: str, key: str) -> Callable[[], StreamStats]:
        if fleet not in cache:
            cache[fleet] = dict(ingest_folder(fleet).tables)
        source = FleetSource(tables=cache[fleet], start=start, end=end, step=pd.Timedelta(hours=config.step_hours))
        replay = HttpReplayConfig(
            stream=StreamConfig(source=source, pacing=Pacing(speed=None)), url=url, api_key=key, batch=config.batch,
            concurrency=config.concurrency, dedupe=False,
        )
        return lambda: StreamStats.of(run_replay(replay))

    return factory
