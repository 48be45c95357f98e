"""Drive a replay: plan the stream, hand each event to the transport at its wall time, then build the report."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from replay.config import StreamConfig
from replay.live import LiveProgress
from replay.mess import Event, Planner
from replay.report import ReplayReport
from replay.schedule import Clock, Prefetch, planned_events
from replay.source import describe_step
from replay.tally import Tally

_SLEEP_THRESHOLD_S = 0.0005  # below this, sending now beats the event loop's timer resolution
_YIELD_EVERY = 32  # events handed over without a sleep before the transport's I/O gets a turn
T = TypeVar("T")


class ReplayAborted(RuntimeError):
    """The target refused the replay as a whole (unreachable, wrong key, wrong URL, body limit): one-line reason."""


class Transport(Protocol):
    """Where events go: HTTP requests or MQTT publishes."""

    name: str
    target: str

    async def open(self) -> None: ...

    async def send(self, event: Event, due: float) -> None:
        """Queue the event; `due` (perf_counter) is when it should have left, the start of its latency."""

    async def finish(self) -> None:
        """Wait until everything sent is answered (or given up on)."""

    async def close(self) -> None: ...

    def settings(self) -> dict[str, Any]: ...


async def drive(stream: StreamConfig, transport: Transport, tally: Tally, progress: bool) -> ReplayReport:
    """Send the whole stream through the transport and return the report."""
    planner = Planner(stream.mess, stream.source.step)
    prefetch = Prefetch(planned_events(stream, planner))
    started_at = datetime.now(UTC).isoformat()
    try:
        chunk = await asyncio.to_thread(prefetch.next)  # the first chunk is planned before the clock starts
        await transport.open()
        total = stream.max_readings or stream.source.estimate()
        # A full collection over the planned stream (and pandas, httpx, ...) stalls the sender for 50-100 ms and
        # shows up as the latency tail; frozen objects are left out of collections while the stream runs.
        gc.collect()
        gc.freeze()
        async with LiveProgress(tally, total, progress, f"replay/{transport.name}"):
            await _send_all(stream, transport, tally, chunk, prefetch)
            await transport.finish()
    finally:
        gc.unfreeze()
        prefetch.close()
        await transport.close()
    settings = {**transport.settings(), "pacing": stream.pacing.describe(), "max_readings": stream.max_readings,
                "duration_s": stream.duration_s, "mess": stream.mess.__dict__, "step": describe_step(stream.source.step)}
    return tally.report(transport=transport.name, target=transport.target, source=stream.source.describe(),
                        pacing=stream.pacing.describe(), started_at=started_at, planned=planner.planned,
                        injected=dict(planner.injected), settings=settings)


async def _send_all(stream: StreamConfig, transport: Transport, tally: Tally, chunk: list[Event] | None,
                    prefetch: Prefetch) -> None:
    if not chunk:
        return
    t0 = time.perf_counter()
    tally.start(t0)
    clock = Clock(stream.pacing, t0, chunk[0].due)
    deadline = t0 + stream.duration_s if stream.duration_s is not None else None
    index = unyielded = 0
    while chunk:
        for event in chunk:
            if stream.max_readings is not None and index >= stream.max_readings:
                return
            now = time.perf_counter()
            due = clock.wall_due(event, index)
            if deadline is not None and (now >= deadline or (due is not None and due >= deadline)):
                return
            if due is not None and due - now > _SLEEP_THRESHOLD_S:
                await asyncio.sleep(due - now)
                unyielded = 0
            elif unyielded >= _YIELD_EVERY:  # behind schedule or unpaced: let responses and sockets through
                await asyncio.sleep(0)
                unyielded = 0
            await transport.send(event, due if due is not None else time.perf_counter())
            unyielded += 1
            index += 1
        chunk = await asyncio.to_thread(prefetch.next)


def replay(stream: StreamConfig, make_transport: Callable[[Tally], Transport], progress: bool,
           report_path: Path | None) -> ReplayReport:
    """Run a whole replay through the transport `make_transport(tally)` builds; save the report when asked."""

    async def main() -> ReplayReport:
        tally = Tally()
        return await drive(stream, make_transport(tally), tally, progress)

    report = run_async(main)
    if report_path is not None:
        report.save(report_path)
    return report


def run_async(main: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine on uvloop when it is installed (less client CPU per message), else on asyncio."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main())  # type: ignore[arg-type]
    return uvloop.run(main())  # type: ignore[arg-type, no-any-return]
