"""Arrival bookkeeping of streamed readings: score each (transformer_id, as_of) once, flag late and stale readings.

Telemetry streams repeat themselves (retries, at-least-once brokers, historian re-sends), arrive
out of order and freeze when a sensor or gateway hangs. The book remembers recently scored keys
(a bounded LRU) and each unit's last reading, so a repeated reading is answered from memory and
never scored or logged twice, and a reading older than the unit's newest (late) or identical in
value to the unit's previous one (stale: frozen source) is scored but flagged.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter
from pydantic import BaseModel

from serving.slots import ServedModel

DEFAULT_MAX_KEYS = 100_000  # about 30 MB; a 10,000-unit fleet reporting hourly: 10 h of re-sends caught
DEFAULT_MAX_UNITS = 100_000
LATE, STALE = "late", "stale"
SCORED, DUPLICATE = "scored", "duplicate"
_IDENTITY = ("transformer_id", "as_of")

Key = tuple[str, datetime]
Outcome = tuple[float | None, str | None]  # (failure probability, risk band) of the first copy


class Scorer(Protocol):
    """What the book needs from the service's batcher."""

    async def score(self, served: ServedModel, readings: Sequence[BaseModel], request_id: str, started: float,
                    explain: bool = True) -> Any: ...


@dataclass(frozen=True)
class Admission:
    """How the readings of one request were sorted on arrival."""

    fresh: tuple[int, ...]  # positions to score, in request order
    duplicates: tuple[int, ...]  # positions answered from the book
    flags: tuple[tuple[str, ...], ...]  # per position: LATE and/or STALE


@dataclass
class _Unit:
    newest: datetime  # latest as_of received
    last_as_of: datetime  # as_of of the previous reading received (arrival order)
    fingerprint: int  # hash of that reading's values (everything but the identity)


def _fingerprint(reading: BaseModel) -> int:
    values = reading.__dict__
    return hash(tuple(v for k, v in values.items() if k not in _IDENTITY))


class ArrivalBook:
    """Recently scored keys and each unit's last reading; `score` scores only what is new.

    Not thread-safe by design: every call runs on the one event loop of the process, which is
    also what makes arrival order well defined.
    """

    def __init__(self, *, max_keys: int = DEFAULT_MAX_KEYS, max_units: int = DEFAULT_MAX_UNITS,
                 registry: CollectorRegistry | None = None) -> None:
        if max_keys < 1 or max_units < 1:
            raise ValueError(f"ArrivalBook needs max_keys and max_units >= 1, got {max_keys} and {max_units}")
        self.max_keys, self.max_units = max_keys, max_units
        self._keys: OrderedDict[Key, Outcome] = OrderedDict()  # scored recently, least recent first
        self._inflight: dict[Key, asyncio.Future[Outcome]] = {}  # being scored; never evicted (a repeat may wait)
        self._units: OrderedDict[str, _Unit] = OrderedDict()
        # A private registry by default: a second book in one process must not clash with the first.
        self._counter = Counter("xfmr_stream_readings_total", "streamed readings by arrival outcome (scored, "
                                "duplicate) and flag (late, stale)", ["outcome"],
                                registry=registry if registry is not None else CollectorRegistry())

    def __len__(self) -> int:
        return len(self._keys)

    def admit(self, readings: Sequence[BaseModel]) -> Admission:
        """Sort readings into fresh and duplicate ones and flag late/stale ones; fresh keys become in flight.

        Synchronous on purpose: it runs before the caller's first await, so requests are booked in arrival order.
        """
        loop = asyncio.get_running_loop()
        fresh: list[int] = []
        duplicates: list[int] = []
        flags: list[tuple[str, ...]] = []
        for i, reading in enumerate(readings):
            key: Key = (reading.transformer_id, reading.as_of)  # type: ignore[attr-defined]
            if key in self._inflight or key in self._keys:
                if key in self._keys:
                    self._keys.move_to_end(key)
                duplicates.append(i)
                flags.append(())
                continue
            flags.append(self._check_unit(key, _fingerprint(reading)))
            self._inflight[key] = loop.create_future()
            fresh.append(i)
        self._count(DUPLICATE, len(duplicates))
        self._count(LATE, sum(LATE in f for f in flags))
        self._count(STALE, sum(STALE in f for f in flags))
        return Admission(tuple(fresh), tuple(duplicates), tuple(flags))

    async def score(self, scorer: Scorer, served: ServedModel, readings: Sequence[BaseModel], request_id: str,
                    started: float, explain: bool = True) -> list[dict[str, Any]]:
        """Score the fresh readings once; answer repeats from the first copy; items in request order.

        Scored items carry `"status": "scored"` and their flags; a repeat carries `"status": "duplicate"`,
        the first copy's probability and band, and is neither scored nor logged again.
        """
        admission = self.admit(readings)
        fresh_keys = [self._key(readings[i]) for i in admission.fresh]
        items: list[dict[str, Any] | None] = [None] * len(readings)
        if admission.fresh:
            try:
                result = await scorer.score(served, [readings[i] for i in admission.fresh], request_id, started,
                                            explain)
            except BaseException:
                self._forget(fresh_keys)  # not scored: a corrected re-send must be scored, not called a repeat
                raise
            for i, key, item in zip(admission.fresh, fresh_keys, result.items):
                self._settle(key, (item["failure_probability"], item["risk_band"]))
                items[i] = {**item, "status": SCORED, "flags": list(admission.flags[i])}
            self._count(SCORED, len(admission.fresh))
        for i in admission.duplicates:
            items[i] = await self._repeat(readings[i])
        return [item for item in items if item is not None]

    def _key(self, reading: BaseModel) -> Key:
        return (reading.transformer_id, reading.as_of)  # type: ignore[attr-defined]

    def _check_unit(self, key: Key, fingerprint: int) -> tuple[str, ...]:
        unit_id, as_of = key
        unit = self._units.get(unit_id)
        if unit is None:
            self._units[unit_id] = _Unit(as_of, as_of, fingerprint)
            if len(self._units) > self.max_units:
                self._units.popitem(last=False)
            return ()
        self._units.move_to_end(unit_id)
        found: list[str] = []
        if as_of < unit.newest:
            found.append(LATE)
        if fingerprint == unit.fingerprint and as_of != unit.last_as_of:
            found.append(STALE)
        unit.newest = max(unit.newest, as_of)
        unit.last_as_of, unit.fingerprint = as_of, fingerprint
        return tuple(found)

    def _settle(self, key: Key, outcome: Outcome) -> None:
        pending = self._inflight.pop(key, None)
        if pending is not None and not pending.done():
            pending.set_result(outcome)
        self._keys[key] = outcome
        if len(self._keys) > self.max_keys:
            self._keys.popitem(last=False)

    def _forget(self, keys: Sequence[Key]) -> None:
        for key in keys:
            pending = self._inflight.pop(key, None)
            if pending is not None and not pending.done():
                pending.set_result((None, None))  # repeats waiting for it get no score rather than hang

    async def _repeat(self, reading: BaseModel) -> dict[str, Any]:
        """Answer a repeat from the first copy (waiting for it when it is still being scored)."""
        key = self._key(reading)
        pending = self._inflight.get(key)
        # Evicted meanwhile (a single request repeating more keys than the book holds): nothing to report.
        probability, band = (await asyncio.shield(pending)) if pending is not None else self._keys.get(key, (None, None))
        return {"transformer_id": key[0], "as_of": key[1], "failure_probability": probability, "risk_band": band,
                "top_features": [], "status": DUPLICATE, "flags": []}

    def _count(self, outcome: str, n: int) -> None:
        if n:
            self._counter.labels(outcome=outcome).inc(n)
