"""The send schedule: planned events in send order (planned ahead on a thread) and the wall time each one is due."""

from __future__ import annotations

import heapq
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from replay.config import Pacing, StreamConfig
from replay.mess import Event, Planner

_DONE = object()


def planned_events(stream: StreamConfig, planner: Planner) -> Iterator[list[Event]]:
    """Yield the stream's events in send order, one list per source chunk.

    Delays push events past the end of their chunk; a heap holds them until no later chunk can
    hold anything due earlier (chunks follow each other in time).
    """
    pending: list[Event] = []
    for chunk in stream.source.chunks():
        for event in planner.plan(chunk):
            heapq.heappush(pending, event)
        if chunk.frame.empty:
            continue
        horizon = chunk.frame["as_of"].max().value / 1e9  # the next chunk starts at or after this instant
        ready = []
        while pending and pending[0].due <= horizon:
            ready.append(heapq.heappop(pending))
        if ready:
            yield ready
    if pending:
        yield [heapq.heappop(pending) for _ in range(len(pending))]


class Prefetch:
    """Run a chunk iterator on a background thread, `depth` chunks ahead of the sender."""

    def __init__(self, chunks: Iterator[list[Event]], depth: int = 2) -> None:
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(chunks,), name="xfmr-replay-plan", daemon=True)
        self._thread.start()

    def _run(self, chunks: Iterator[list[Event]]) -> None:
        try:
            for chunk in chunks:
                while not self._stop.is_set():
                    try:
                        self._queue.put(chunk, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if self._stop.is_set():
                    return
            self._queue.put(_DONE)
        except BaseException as exc:  # surfaces in the sender's thread, with the source's own message
            self._queue.put(exc)

    def next(self) -> list[Event] | None:
        """Block until the next chunk is planned; None when the stream is exhausted."""
        item = self._queue.get()
        if item is _DONE:
            return None
        if isinstance(item, BaseException):
            raise item
        return item  # type: ignore[return-value]

    def close(self) -> None:
        self._stop.set()


@dataclass(frozen=True)
class Clock:
    """Map events to wall-clock send times: `speed`x the data clock, a fixed rate, or now (unpaced)."""

    pacing: Pacing
    t0: float  # perf_counter at the first send
    first_due: float  # due (data seconds) of the first event

    def wall_due(self, event: Event, index: int) -> float | None:
        if self.pacing.speed is not None:
            return self.t0 + (event.due - self.first_due) / self.pacing.speed
        if self.pacing.rate is not None:
            return self.t0 + index / self.pacing.rate
        return None
