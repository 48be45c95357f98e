"""What the receiving side must report for a planned stream, computed independently of the service's code."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass

from replay.config import StreamConfig
from replay.mess import CORRUPTIONS, Event, Planner
from replay.schedule import planned_events

REASONS = {"h2": "h2: out of physical range", "top_oil_max_30d": "top_oil_max_30d: out of physical range",
           "load_mean_30d": "load_mean_30d: wrong type"}


@dataclass(frozen=True)
class Expected:
    events: list[Event]
    scored_keys: list[tuple[str, str]]
    duplicates: int
    rejects: dict[str, int]
    flags: dict[str, int]
    injected: dict[str, int]


def plan(stream: StreamConfig) -> tuple[list[Event], Planner]:
    planner = Planner(stream.mess, stream.source.step)
    events = [e for chunk in planned_events(stream, planner) for e in chunk]
    return events, planner


def expect(stream: StreamConfig) -> Expected:
    """Walk the send order as the receiver sees it (a unit's readings in order): reject, dedupe, flag."""
    events, planner = plan(stream)
    if stream.max_readings is not None:
        events = events[: stream.max_readings]
    seen: set[tuple[str, str]] = set()
    scored: list[tuple[str, str]] = []
    duplicates = 0
    rejects: Counter[str] = Counter()
    flags: Counter[str] = Counter()
    newest: dict[str, str] = {}
    previous: dict[str, tuple[str, dict[str, object]]] = {}
    for event in events:
        body = json.loads(event.payload)
        bad = [name for name, value in CORRUPTIONS if body.get(name) == value]
        if bad:
            rejects[REASONS[bad[0]]] += 1
            continue
        unit, as_of = body.pop("transformer_id"), body.pop("as_of")
        if (unit, as_of) in seen:
            duplicates += 1
            continue
        seen.add((unit, as_of))
        scored.append((unit, as_of))
        if unit in newest and as_of < newest[unit]:
            flags["late"] += 1
        if unit in previous and previous[unit][1] == body and previous[unit][0] != as_of:
            flags["stale"] += 1
        newest[unit] = max(newest.get(unit, as_of), as_of)
        previous[unit] = (as_of, body)
    return Expected(events, scored, duplicates, dict(rejects), dict(flags), dict(planner.injected))
