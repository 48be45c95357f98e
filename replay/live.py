"""Live progress of a replay on stderr: sent, scored, duplicates, rejected, readings/s, p95 latency, model versions."""

from __future__ import annotations

import asyncio
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from replay.tally import Tally

REFRESH_S = 0.25


class LiveProgress:
    """Redraw one progress line from the tally while the replay runs (a no-op when disabled)."""

    def __init__(self, tally: Tally, total: int | None, enabled: bool, title: str = "replay") -> None:
        self.tally, self.total, self.enabled, self.title = tally, total, enabled, title
        self._progress: Progress | None = None
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LiveProgress:
        if self.enabled:
            self._progress = Progress(
                TextColumn(f"[bold]{self.title}[/]"), BarColumn(), TextColumn("{task.fields[stats]}"),
                TimeElapsedColumn(), console=Console(stderr=True), transient=False,
            )
            self._progress.start()
            row = self._progress.add_task(self.title, total=self.total, stats="starting")
            self._task = asyncio.create_task(self._redraw(row))
        return self

    async def _redraw(self, row: int) -> None:
        assert self._progress is not None
        while True:
            self._draw(row)
            await asyncio.sleep(REFRESH_S)

    def _draw(self, row: int) -> None:
        assert self._progress is not None
        s = self.tally.snapshot()
        versions = ",".join(s.versions) or "-"
        stats = (f"sent {s.sent:,} scored {s.scored:,} dup {s.duplicates:,} rej {s.rejected:,} "
                 f"fail {s.failed:,} | {s.rate:,.0f}/s p95 {s.p95_ms:.1f} ms | v{versions}")
        self._progress.update(row, completed=s.sent, stats=stats)

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._progress is not None:
            self._draw(self._progress.task_ids[0])
            self._progress.stop()
