"""The replay's closing report: throughput, end-to-end latency, rejects, duplicates, flags and alarms; printed and saved."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Alarm:
    """A unit's risk band changed between two of its readings (in data-time order)."""

    transformer_id: str
    as_of: str  # data time of the reading that changed the band
    from_band: str
    to_band: str
    failure_probability: float
    model_version: str
    seen_at: str  # wall time (UTC) the result arrived


@dataclass(frozen=True)
class ReplayReport:
    """What one replay did, end to end (a reading's latency runs from its due time to its answer)."""

    transport: str  # "http" or "mqtt"
    target: str
    source: str
    pacing: str
    started_at: str
    wall_s: float  # first send to last answer
    planned: int  # readings the source produced, before faults
    sent: int  # readings sent, repeats included
    requests: int  # HTTP requests or MQTT messages
    scored: int
    duplicates: int  # answered as repeats by the receiver: not scored again
    rejected: int
    rejects_by_reason: dict[str, int]
    flags: dict[str, int]  # late / stale, as flagged by the receiver
    injected: dict[str, int]  # faults the replay injected
    failed_requests: int  # 5xx, timeouts and transport errors (retried)
    failed_readings: int  # readings given up on after the retries
    unanswered: int  # MQTT: readings without a result by the end of the drain
    throughput: float  # scored readings per second of wall time
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    request_p50_ms: float
    request_p99_ms: float
    versions: frozenset[str] = field(default_factory=frozenset)
    alarms: tuple[Alarm, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["versions"] = sorted(self.versions)
        data["alarms_raised"] = len(self.alarms)
        return data

    def save(self, path: Path) -> Path:
        """Write the report as JSON (atomically) and return its path."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, default=str))
        os.replace(tmp, path)
        return path

    def lines(self, max_alarms: int = 10) -> list[str]:
        """Return the human summary, one line per figure."""
        out = [
            f"replay over {self.transport} to {self.target}: {self.source}, {self.pacing}",
            f"  sent {self.sent:,} readings in {self.requests:,} {'requests' if self.transport == 'http' else 'messages'}"
            f" over {self.wall_s:.1f} s; scored {self.scored:,} ({self.throughput:,.0f} readings/s)",
            f"  end-to-end latency ms: p50 {self.p50_ms:.1f}  p95 {self.p95_ms:.1f}  p99 {self.p99_ms:.1f}  "
            f"max {self.max_ms:.1f}",
            f"  duplicates suppressed {self.duplicates:,}; rejected {self.rejected:,}; failed requests "
            f"{self.failed_requests:,}; unanswered {self.unanswered + self.failed_readings:,}",
        ]
        for reason, n in sorted(self.rejects_by_reason.items(), key=lambda kv: -kv[1]):
            out.append(f"    rejected {n:>6,}  {reason}")
        flagged = ", ".join(f"{k} {v:,}" for k, v in sorted(self.flags.items())) or "none"
        injected = ", ".join(f"{k} {v:,}" for k, v in self.injected.items() if v) or "none"
        out.append(f"  flagged by the receiver: {flagged}; injected: {injected}")
        out.append(f"  model versions: {', '.join(sorted(self.versions)) or 'none'}; alarms raised {len(self.alarms):,}")
        for alarm in self.alarms[:max_alarms]:
            out.append(f"    {alarm.transformer_id} at {alarm.as_of}: {alarm.from_band} -> {alarm.to_band} "
                       f"(p={alarm.failure_probability:.3f}, v{alarm.model_version})")
        if len(self.alarms) > max_alarms:
            out.append(f"    ... {len(self.alarms) - max_alarms:,} more in the JSON report")
        return out
