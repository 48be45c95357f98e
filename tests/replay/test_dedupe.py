"""The arrival book: each (transformer_id, as_of) scored once, repeats answered from the first copy, late/stale flagged."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry

from serving.dedupe import ArrivalBook
from serving.schemas import Reading
from tests.serving.factory import readings_json, synthetic_readings

SERVED: Any = SimpleNamespace(version="1")


class RecordingScorer:
    """Stands in for the batcher (the model is not the subject): records what it was asked to score."""

    def __init__(self, fail: bool = False) -> None:
        self.scored: list[str] = []
        self.fail = fail

    async def score(self, served: Any, readings: Sequence[Any], request_id: str, started: float,
                    explain: bool = True) -> Any:
        await asyncio.sleep(0.001)  # a real scoring call yields; repeats arriving meanwhile must wait for it
        if self.fail:
            raise ValueError("refused")
        self.scored += [f"{r.transformer_id}@{r.as_of:%Y-%m-%d}" for r in readings]
        return SimpleNamespace(items=[{"transformer_id": r.transformer_id, "as_of": r.as_of, "risk_band": "low",
                                       "failure_probability": r.h2 / 1e4, "top_features": []} for r in readings])


def readings(n: int, **changes: Any) -> list[Any]:
    rows = readings_json(synthetic_readings(n, seed=4))
    return [Reading.model_validate_json(orjson.dumps({**row, **changes})) for row in rows]


def book(**kwargs: Any) -> ArrivalBook:
    return ArrivalBook(registry=CollectorRegistry(), **kwargs)


def test_repeats_within_and_across_requests_are_scored_once() -> None:
    arrivals, scorer = book(), RecordingScorer()
    a, b, c = readings(3)

    async def run() -> tuple[list[dict[str, Any]], ...]:
        first = arrivals.score(scorer, SERVED, [a, b, a], "r1", 0.0)
        second = arrivals.score(scorer, SERVED, [b, c], "r2", 0.0)  # b still being scored by r1
        return await asyncio.gather(first, second)

    first, second = asyncio.run(run())
    assert len(scorer.scored) == 3 == len(set(scorer.scored))
    assert [i["status"] for i in first] == ["scored", "scored", "duplicate"]
    assert [i["status"] for i in second] == ["duplicate", "scored"]
    assert first[2]["failure_probability"] == first[0]["failure_probability"]  # the first copy's answer
    assert second[0]["failure_probability"] == first[1]["failure_probability"]


def test_late_and_stale_readings_are_flagged_but_scored() -> None:
    arrivals, scorer = book(), RecordingScorer()
    base = readings(1)[0].model_dump(mode="json")
    day = [Reading.model_validate_json(orjson.dumps({**base, "as_of": f"2024-06-0{d}T00:00:00"})) for d in (1, 2, 3)]
    moved = Reading.model_validate_json(orjson.dumps({**base, "as_of": "2024-06-04T00:00:00", "h2": base["h2"] + 1}))

    async def run() -> list[list[dict[str, Any]]]:
        return [await arrivals.score(scorer, SERVED, batch, f"r{i}", 0.0)
                for i, batch in enumerate(([day[0]], [day[2]], [moved], [day[1]]))]

    flags = [items[0]["flags"] for items in asyncio.run(run())]
    # day 3 repeats day 1's values at a later time: stale; day 2 arrives after day 4: late
    assert flags == [[], ["stale"], [], ["late"]]
    assert len(scorer.scored) == 4


def test_a_refused_request_does_not_mark_its_readings_as_seen() -> None:
    arrivals = book()
    reading = readings(1)[0]
    with pytest.raises(ValueError, match="refused"):
        asyncio.run(arrivals.score(RecordingScorer(fail=True), SERVED, [reading], "r1", 0.0))
    scorer = RecordingScorer()
    items = asyncio.run(arrivals.score(scorer, SERVED, [reading], "r2", 0.0))
    assert items[0]["status"] == "scored" and len(scorer.scored) == 1


def test_the_book_is_bounded_and_forgets_the_oldest_keys() -> None:
    arrivals, scorer = book(max_keys=3), RecordingScorer()
    batch = readings(4)

    async def run() -> list[dict[str, Any]]:
        await arrivals.score(scorer, SERVED, batch, "r1", 0.0)
        return await arrivals.score(scorer, SERVED, [batch[0], batch[3]], "r2", 0.0)

    again = asyncio.run(run())
    assert len(arrivals) == 3
    assert [i["status"] for i in again] == ["scored", "duplicate"]  # batch[0] fell out of the window


def test_counts_reach_the_metrics_registry() -> None:
    registry = CollectorRegistry()
    arrivals, scorer = ArrivalBook(registry=registry), RecordingScorer()
    a = readings(1)[0]
    asyncio.run(arrivals.score(scorer, SERVED, [a, a, a], "r1", 0.0))
    assert registry.get_sample_value("xfmr_stream_readings_total", {"outcome": "duplicate"}) == 2
    assert registry.get_sample_value("xfmr_stream_readings_total", {"outcome": "scored"}) == 1
