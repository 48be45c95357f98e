"""Turn readings into send events, injecting the faults real streams have: gaps, repeats, delays, bad values, frozen units."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from replay.config import MessConfig
from replay.encode import dumps, records
from replay.source import ReadingChunk

NORMAL, DUPLICATE, LATE, OUT_OF_ORDER, CORRUPT, STALE, MISSING = (
    "normal", "duplicate", "late", "out_of_order", "corrupt", "stale", "missing")
FAULTS = (MISSING, DUPLICATE, LATE, OUT_OF_ORDER, CORRUPT, STALE)
# (field, bad value): what a failing sensor or gateway sends; the API refuses each with its own reason.
CORRUPTIONS: tuple[tuple[str, Any], ...] = (
    ("h2", -5.0),  # negative gas concentration
    ("top_oil_max_30d", 999.0),  # beyond any oil temperature
    ("load_mean_30d", "n/a"),  # text where a number belongs
)
_IDENTITY = ("transformer_id", "as_of")
_NS = 1e9


class Event(NamedTuple):
    """One message to send; events sort by (due, seq), the order they go out."""

    due: float  # data-time seconds since the epoch at which it is sent
    seq: int
    reading_id: int
    transformer_id: str
    substation: str
    as_of: float  # data-time seconds of the reading itself
    payload: bytes
    kind: str


@dataclass
class _Frozen:
    values: dict[str, Any]
    remaining: int


class Planner:
    """Plan chunk after chunk with one seeded generator, so the whole stream repeats exactly for a seed."""

    def __init__(self, mess: MessConfig, step: pd.Timedelta) -> None:
        self.mess = mess
        self.step_s = step.total_seconds()
        self.rng = np.random.default_rng(mess.seed)
        self.injected: Counter[str] = Counter(dict.fromkeys(FAULTS, 0))
        self.planned = 0  # readings the source produced
        self._seq = 0
        self._frozen: dict[str, _Frozen] = {}
        m = mess
        self._cuts = np.cumsum([m.missing, m.duplicate, m.late, m.out_of_order, m.corrupt])

    def plan(self, chunk: ReadingChunk) -> list[Event]:
        rows = records(chunk.frame)
        n = len(rows)
        self.planned += n
        as_of = pd.DatetimeIndex(chunk.frame["as_of"]).asi8 / _NS
        if not self.mess.active:
            return [self._event(as_of[i], rows[i], chunk.substation[i], as_of[i], dumps(rows[i]), NORMAL)
                    for i in range(n)]
        # Draw every random number for the chunk up front: the plan depends only on the seed and the data.
        fate = np.searchsorted(self._cuts, self.rng.random(n), side="right")
        freeze = self.rng.random(n) < self.mess.stale
        corruption = self.rng.integers(0, len(CORRUPTIONS), n)
        copy_delay = self.rng.random(n)
        events: list[Event] = []
        for i in range(n):
            row, due, kind = rows[i], as_of[i], NORMAL
            row, stale = self._freeze(row, bool(freeze[i]))
            if stale:
                kind = STALE
                self.injected[STALE] += 1
            f = int(fate[i])  # 0 missing, 1 duplicate, 2 late, 3 out of order, 4 corrupt, 5 none
            if f == 0:
                self.injected[MISSING] += 1
                continue
            if f == 2:
                due += self.mess.late_steps * self.step_s
                kind = LATE
            elif f == 3:
                due += 1.5 * self.step_s  # lands between the unit's next two readings
                kind = OUT_OF_ORDER
            elif f == 4:
                field, bad = CORRUPTIONS[int(corruption[i])]
                row = {**row, field: bad}
                kind = CORRUPT
            if kind in (LATE, OUT_OF_ORDER, CORRUPT):
                self.injected[kind] += 1
            payload = dumps(row)
            events.append(self._event(due, row, chunk.substation[i], as_of[i], payload, kind))
            if f == 1:
                self.injected[DUPLICATE] += 1
                events.append(self._event(due + copy_delay[i] * self.step_s, row, chunk.substation[i], as_of[i],
                                          payload, DUPLICATE))
        return events

    def _freeze(self, row: dict[str, Any], start: bool) -> tuple[dict[str, Any], bool]:
        """Apply a running stale episode of the unit (its values frozen), or start one after this reading."""
        unit = row["transformer_id"]
        frozen = self._frozen.get(unit)
        if frozen is not None and frozen.remaining > 0:
            frozen.remaining -= 1
            if frozen.remaining == 0:
                del self._frozen[unit]
            return {**frozen.values, "transformer_id": unit, "as_of": row["as_of"]}, True
        if start:
            values = {k: v for k, v in row.items() if k not in _IDENTITY}
            self._frozen[unit] = _Frozen(values, self.mess.stale_steps)
        return row, False

    def _event(self, due: float, row: dict[str, Any], substation: str, as_of: float, payload: bytes,
               kind: str) -> Event:
        self._seq += 1
        return Event(float(due), self._seq, self._seq, str(row["transformer_id"]), str(substation), float(as_of),
                     payload, kind)
