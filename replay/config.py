"""What a replay streams and how: pacing, bounds, messy-stream options and the HTTP or MQTT target."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from serving.mqtt_topics import DEFAULT_ROOT, check_root

if TYPE_CHECKING:
    from replay.source import Source


def _rate(owner: str, name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{owner}.{name} must be a share between 0 and 1, got {value!r}")


@dataclass(frozen=True)
class Pacing:
    """When readings go out: `speed`x the data's own clock, or `rate` readings/s, or (both None) as fast as possible."""

    speed: float | None = 3600.0  # data seconds per wall second: 1 h of data per second
    rate: float | None = None

    def __post_init__(self) -> None:
        if self.speed is not None and self.rate is not None:
            raise ValueError("Pacing takes speed or rate, not both")
        for name in ("speed", "rate"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"Pacing.{name} must be > 0, got {value!r}")

    @property
    def paced(self) -> bool:
        return self.speed is not None or self.rate is not None

    def describe(self) -> str:
        if self.speed is not None:
            return f"{self.speed:g}x data time"
        return f"{self.rate:g} readings/s" if self.rate is not None else "as fast as possible"


@dataclass(frozen=True)
class MessConfig:
    """Stream faults to inject, each a share of readings (all off by default); seeded, so runs repeat exactly.

    A reading meets at most one of missing / duplicate / late / out_of_order / corrupt; stale
    episodes (a unit's values frozen for `stale_steps` readings) come on top.
    """

    missing: float = 0.0  # dropped
    duplicate: float = 0.0  # sent twice (the copy within one step)
    late: float = 0.0  # held back by `late_steps` steps
    late_steps: int = 3
    out_of_order: float = 0.0  # held back by 1.5 steps: swaps places with the unit's next reading
    corrupt: float = 0.0  # one value made invalid (negative gas, impossible temperature, wrong type)
    stale: float = 0.0  # chance per reading that the unit's values freeze for the next `stale_steps` readings
    stale_steps: int = 6
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("missing", "duplicate", "late", "out_of_order", "corrupt", "stale"):
            _rate("MessConfig", name, getattr(self, name))
        exclusive = self.missing + self.duplicate + self.late + self.out_of_order + self.corrupt
        if exclusive > 1.0:
            raise ValueError(f"MessConfig: missing + duplicate + late + out_of_order + corrupt must be <= 1, got {exclusive:g}")
        for name in ("late_steps", "stale_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"MessConfig.{name} must be >= 1, got {getattr(self, name)!r}")

    @property
    def active(self) -> bool:
        return any((self.missing, self.duplicate, self.late, self.out_of_order, self.corrupt, self.stale))


@dataclass(frozen=True)
class StreamConfig:
    """The stream: where readings come from, their pacing, faults and bounds."""

    source: Source
    pacing: Pacing = field(default_factory=Pacing)
    mess: MessConfig = field(default_factory=MessConfig)
    max_readings: int | None = None  # stop after sending this many (copies included)
    duration_s: float | None = None  # stop sending after this many wall seconds

    def __post_init__(self) -> None:
        if self.max_readings is not None and self.max_readings < 1:
            raise ValueError(f"StreamConfig.max_readings must be >= 1, got {self.max_readings}")
        if self.duration_s is not None and not self.duration_s > 0:
            raise ValueError(f"StreamConfig.duration_s must be > 0, got {self.duration_s}")


@dataclass(frozen=True)
class HttpReplayConfig:
    """Replay to POST /v1/score: single readings (batch 1) or micro-batches, over `concurrency` connections."""

    stream: StreamConfig
    url: str = "http://127.0.0.1:8000"
    api_key: str = field(default="", repr=False)
    batch: int = 1  # most readings per request; a worker sends what is due, up to this many
    concurrency: int = 4  # connections; a unit always uses the same one, so its readings arrive in order
    explain: bool = True  # ask for the top contributing features (costly on big batches)
    dedupe: bool = True  # the API scores a (transformer_id, as_of) once; off to re-run a period on purpose
    timeout_s: float = 10.0
    ready_timeout_s: float = 60.0
    retries: int = 3  # per request, on 503, 5xx and transport errors
    progress: bool = False
    report_path: Path | None = None

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"HttpReplayConfig.url must start with http:// or https://, got {self.url!r}")
        if not self.api_key:
            raise ValueError("HttpReplayConfig.api_key is empty: the scoring API needs a key (python -m serving.keys new)")
        if self.batch < 1 or self.concurrency < 1:
            raise ValueError(f"batch and concurrency must be >= 1, got {self.batch} and {self.concurrency}")


@dataclass(frozen=True)
class MqttReplayConfig:
    """Replay as MQTT publishes (one reading per message, topic per substation and unit); results come back by topic."""

    stream: StreamConfig
    host: str = "127.0.0.1"
    port: int = 1883
    topic_root: str = DEFAULT_ROOT
    qos: int = 1
    client_id: str | None = None  # default: a fresh random id
    connect_timeout_s: float = 10.0
    drain_timeout_s: float = 20.0  # after the last publish, how long to wait for outstanding results
    progress: bool = False
    report_path: Path | None = None

    def __post_init__(self) -> None:
        check_root(self.topic_root)
        if self.qos not in (0, 1, 2):
            raise ValueError(f"MqttReplayConfig.qos must be 0, 1 or 2, got {self.qos}")
