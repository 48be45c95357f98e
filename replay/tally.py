"""Running count of a replay's outcomes, latencies and alarms (thread-safe), and how rejects are grouped."""

from __future__ import annotations

import re
import threading
import time
from array import array
from collections import Counter, deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from replay.report import Alarm, ReplayReport

_RECENT = 2000  # latencies behind the live p95
_FIELD = re.compile(r"^readings\[\d+\]\.?")


def reject_reason(field: str, reason: str) -> str:
    """Group a field error as '<field>: <kind of problem>', e.g. 'h2: out of physical range'."""
    name = _FIELD.sub("", field) or "reading"
    return f"{name}: {reason.split(':', 1)[0].split(' (got', 1)[0].strip()}"


@dataclass(frozen=True)
class Snapshot:
    """What the live progress line shows."""

    sent: int
    scored: int
    duplicates: int
    rejected: int
    failed: int
    rate: float  # scored readings/s since the start
    p95_ms: float  # over the latest answers
    versions: tuple[str, ...]


def _percentile(values: array[float] | list[float], q: float) -> float:
    """Return the q-th percentile in milliseconds (NaN when there is nothing to measure)."""
    if not len(values):
        return float("nan")
    return float(np.percentile(np.asarray(values, dtype=float), q)) * 1e3


class Tally:
    """Counters, latency samples (seconds) and per-unit risk bands (for alarms)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sent = self.requests = self.scored = self.duplicates = self.rejected = 0
        self.failed_requests = self.failed_readings = self.unanswered = 0
        self.rejects: Counter[str] = Counter()
        self.flags: Counter[str] = Counter()
        self.versions: set[str] = set()
        self.latency = array("d")
        self.request_latency = array("d")
        self._recent: deque[float] = deque(maxlen=_RECENT)
        self._bands: dict[str, tuple[str, str]] = {}  # unit -> (newest as_of, band)
        self.alarms: list[Alarm] = []
        self.t0: float | None = None
        self.t_last: float | None = None

    def start(self, t0: float) -> None:
        self.t0 = t0

    def on_sent(self, readings: int, requests: int = 1) -> None:
        with self._lock:
            self.sent += readings
            self.requests += requests

    def on_request(self, seconds: float) -> None:
        with self._lock:
            self.request_latency.append(seconds)

    def on_failed_request(self) -> None:
        with self._lock:
            self.failed_requests += 1

    def on_failed_readings(self, n: int) -> None:
        with self._lock:
            self.failed_readings += n

    def on_answer(self, item: dict[str, Any], version: str | None, latency_s: float, now: float) -> None:
        """Count one reading's result (scored or duplicate) and raise an alarm when its unit's band changed."""
        with self._lock:
            self.t_last = now
            self.latency.append(latency_s)
            self._recent.append(latency_s)
            if item.get("status") == "duplicate":
                self.duplicates += 1
                return
            self.scored += 1
            for flag in item.get("flags") or ():
                self.flags[flag] += 1
            if version is not None:
                self.versions.add(version)
            self._track_band(item, version or "?")

    def on_reject(self, reason: str, now: float) -> None:
        with self._lock:
            self.t_last = now
            self.rejected += 1
            self.rejects[reason] += 1

    def _track_band(self, item: dict[str, Any], version: str) -> None:
        unit, as_of, band = str(item["transformer_id"]), str(item["as_of"]), item.get("risk_band")
        if band is None:
            return
        previous = self._bands.get(unit)
        if previous is not None and as_of <= previous[0]:  # a late reading does not move the unit's state
            return
        self._bands[unit] = (as_of, band)
        if previous is not None and previous[1] != band:
            self.alarms.append(Alarm(unit, as_of, previous[1], band, float(item["failure_probability"]), version,
                                     datetime.now(UTC).isoformat()))

    def snapshot(self) -> Snapshot:
        with self._lock:
            elapsed = time.perf_counter() - self.t0 if self.t0 is not None else 0.0
            recent = list(self._recent)
            return Snapshot(self.sent, self.scored, self.duplicates, self.rejected,
                            self.failed_requests + self.failed_readings, self.scored / elapsed if elapsed > 0 else 0.0,
                            _percentile(recent, 95), tuple(sorted(self.versions)))

    def report(self, *, transport: str, target: str, source: str, pacing: str, started_at: str, planned: int,
               injected: dict[str, int], settings: dict[str, Any]) -> ReplayReport:
        with self._lock:
            wall = (self.t_last - self.t0) if self.t0 is not None and self.t_last is not None else 0.0
            return ReplayReport(
                transport=transport, target=target, source=source, pacing=pacing, started_at=started_at,
                wall_s=wall, planned=planned, sent=self.sent, requests=self.requests, scored=self.scored,
                duplicates=self.duplicates, rejected=self.rejected, rejects_by_reason=dict(self.rejects),
                flags=dict(self.flags), injected=dict(injected), failed_requests=self.failed_requests,
                failed_readings=self.failed_readings, unanswered=self.unanswered,
                throughput=self.scored / wall if wall > 0 else 0.0,
                p50_ms=_percentile(self.latency, 50), p95_ms=_percentile(self.latency, 95),
                p99_ms=_percentile(self.latency, 99), max_ms=_percentile(self.latency, 100),
                request_p50_ms=_percentile(self.request_latency, 50),
                request_p99_ms=_percentile(self.request_latency, 99),
                versions=frozenset(self.versions), alarms=tuple(self.alarms), settings=settings,
            )
