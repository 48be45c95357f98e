"""Progress display for long CLI steps (stderr, so stdout stays clean for results)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

console = Console(stderr=True)


@contextmanager
def stage_progress(title: str) -> Iterator[Callable[[str, float], None]]:
    """Yield a `progress(stage, fraction)` callback that draws one bar per stage."""
    with Progress(
        TextColumn(f"[bold]{title}[/] {{task.description:<24}}"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}%"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        tasks: dict[str, int] = {}

        def update(stage: str, fraction: float) -> None:
            if stage not in tasks:
                for other in tasks.values():
                    bar.update(other, completed=100)
                tasks[stage] = bar.add_task(stage, total=100)
            bar.update(tasks[stage], completed=max(0.0, min(1.0, fraction)) * 100)

        yield update
        for other in tasks.values():
            bar.update(other, completed=100)
