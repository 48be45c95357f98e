"""Coalesce concurrent score requests into one feature/model call on a scoring thread (dynamic batching).

The feature code costs milliseconds per call whatever the row count, so requests that arrive
while the scoring thread is busy are scored together on its next call. An idle thread takes a
request at once: batching never adds a wait.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray
from pydantic import BaseModel

from serving.result_json import results_json
from serving.scoring import ReadingBatch, Scores, band_positions, feature_names, result_items, score_readings
from serving.slots import ServedModel

log = logging.getLogger("serving.batcher")


@dataclass
class Job:
    """One request's readings, the model it started with, and where its answer goes."""

    served: ServedModel
    readings: Sequence[BaseModel] | ReadingBatch  # validated models, or columns read straight from the body
    request_id: str
    started: float  # perf_counter at request arrival
    explain: bool  # compute the top contributing features
    future: asyncio.Future[JobResult]


# From this many rows the compiled writer is faster than dicts encoded by orjson (55 us fixed cost).
WRITER_ROWS = 32
JSON_OPTIONS = orjson.OPT_NAIVE_UTC | orjson.OPT_SERIALIZE_NUMPY  # how result documents are encoded


@dataclass(frozen=True)
class JobResult:
    """The scored rows of one job, ready to serialise (`json`, or `items` as dicts) and to log."""

    names: tuple[tuple[str, str], ...]  # (feature, label) in model order
    transformer_id: list[str]
    as_of: list[datetime]
    band: NDArray[np.int64]  # position in RISK_BAND_NAMES
    scores: Scores
    latency_s: float
    batch_readings: int = field(default=0)

    def __len__(self) -> int:
        return len(self.transformer_id)

    def json(self) -> bytes:
        """The response's `results` array, as orjson would write `items` (and does, for a few rows)."""
        if len(self) < WRITER_ROWS:
            return orjson.dumps(self.items, option=JSON_OPTIONS)
        return results_json(self.names, self.scores, self.transformer_id, self.as_of, self.band)

    @cached_property
    def items(self) -> list[dict[str, Any]]:
        """Each row's result document: transformer, as_of, probability, band, top features."""
        return result_items(self.names, self.scores, self.transformer_id, self.as_of, self.band)


class InvalidReadings(ValueError):
    """The feature code refused a request's readings (a range the schema could not express)."""


Sink = Callable[[Job, JobResult], None]


class Batcher:
    """Queue jobs; one scoring thread runs them, all pending jobs (up to `max_rows` readings) per call."""

    def __init__(self, *, top: int, thresholds: Sequence[float], max_rows: int, sink: Sink) -> None:
        self.top, self.thresholds, self.max_rows, self.sink = top, tuple(thresholds), max_rows, sink
        self._pending: list[Job] = []
        self._busy = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="xfmr-score")

    async def score(self, served: ServedModel, readings: Sequence[BaseModel] | ReadingBatch, request_id: str,
                    started: float, explain: bool = True) -> JobResult:
        loop = asyncio.get_running_loop()
        job = Job(served, readings, request_id, started, explain, loop.create_future())
        self._pending.append(job)
        if not self._busy:
            self._dispatch(loop)
        return await job.future

    def _dispatch(self, loop: asyncio.AbstractEventLoop) -> None:
        batch: list[Job] = []
        rows = 0
        while self._pending and (not batch or rows + len(self._pending[0].readings) <= self.max_rows):
            job = self._pending.pop(0)
            batch.append(job)
            rows += len(job.readings)
        self._busy = True
        done = loop.run_in_executor(self._executor, self._work, loop, batch)
        done.add_done_callback(lambda f: self._finish(loop, batch, f))

    def _work(self, loop: asyncio.AbstractEventLoop, batch: list[Job]) -> list[JobResult | BaseException]:
        """On the scoring thread: score, hand the answers to the event loop, then count and log them."""
        outcomes = self._run(batch)
        loop.call_soon_threadsafe(self._answer, batch, outcomes)  # the responses need not wait for the log
        for job, outcome in zip(batch, outcomes):
            if isinstance(outcome, JobResult):
                self.sink(job, outcome)
        return outcomes

    @staticmethod
    def _answer(batch: list[Job], outcomes: Sequence[JobResult | BaseException]) -> None:
        for job, outcome in zip(batch, outcomes):
            if job.future.done():
                continue
            if isinstance(outcome, BaseException):
                job.future.set_exception(outcome)
            else:
                job.future.set_result(outcome)

    def _finish(self, loop: asyncio.AbstractEventLoop, batch: list[Job], done: asyncio.Future[list[Any]]) -> None:
        self._busy = False
        failure = done.exception()
        if failure is not None:  # scoring failed outright (answers not given yet), or logging did (given already)
            if all(job.future.done() for job in batch):
                log.error("counting or logging scored rows failed", exc_info=failure)
            self._answer(batch, [failure] * len(batch))
        if self._pending:
            self._dispatch(loop)

    def _run(self, batch: list[Job]) -> list[JobResult | BaseException]:
        """Score a batch; a batch the feature code refuses is retried job by job."""
        try:
            return list(self._score(batch))
        except ValueError as exc:
            if len(batch) == 1:
                return [InvalidReadings(str(exc))]
            return [r for job in batch for r in self._run([job])]

    def _score(self, batch: list[Job]) -> list[JobResult]:
        """Compute features once per model in the batch (a swap may leave two) and split the results per job."""
        readings = ReadingBatch.concat([_as_batch(job.readings) for job in batch])
        offsets = _offsets(batch)
        by_model: dict[int, list[int]] = {}
        for k, job in enumerate(batch):
            by_model.setdefault(id(job.served), []).append(k)
        results: list[JobResult | None] = [None] * len(batch)
        for members in by_model.values():
            served = batch[members[0]].served
            if len(by_model) == 1:
                part = readings
            else:
                part = readings.take(np.concatenate([np.arange(offsets[k], offsets[k + 1]) for k in members]))
            explain = np.concatenate([np.full(len(batch[k].readings), batch[k].explain) for k in members])
            scores = score_readings(served.model, part, self.top, explain, served.tables)
            names = feature_names(served.model)
            bands = band_positions(scores.probability, self.thresholds)
            start = 0
            for k in members:
                rows = slice(start, start + len(batch[k].readings))
                results[k] = JobResult(names=names, transformer_id=part.transformer_id[rows], as_of=part.as_of[rows],
                                       band=bands[rows], scores=_slice(scores, rows),
                                       latency_s=time.perf_counter() - batch[k].started, batch_readings=len(part))
                start = rows.stop
        return [r for r in results if r is not None]

    def close(self) -> None:
        self._executor.shutdown(wait=True)


def _as_batch(readings: Sequence[BaseModel] | ReadingBatch) -> ReadingBatch:
    return readings if isinstance(readings, ReadingBatch) else ReadingBatch.from_models(readings)


def _offsets(batch: list[Job]) -> list[int]:
    out = [0]
    for job in batch:
        out.append(out[-1] + len(job.readings))
    return out


def _slice(scores: Scores, rows: slice) -> Scores:
    return Scores(values=scores.values[rows], probability=scores.probability[rows],
                  top_index=scores.top_index[rows], top_contribution=scores.top_contribution[rows],
                  explained=scores.explained[rows])
