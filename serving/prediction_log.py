"""Append-only Parquet log of every scored reading, partitioned by day, written in batches by a background thread."""

from __future__ import annotations

import itertools
import logging
import os
import queue
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

from serving.metrics import ServiceMetrics

log = logging.getLogger("serving.prediction_log")
_COLLECT_S = 0.1
_DICTIONARY_COLUMNS = ["request_id", "transformer_id", "model_name", "model_version", "risk_band"]
_WRITER_NICE = 10  # where idle scheduling is not available
_BEHIND_ROWS = 100_000  # rows not yet written from which appending threads write too
_CHUNK_ROWS = 2048


def _chunks(entries: list[LoggedScores]) -> list[list[LoggedScores]]:
    """Split collected entries into runs of about _CHUNK_ROWS rows: each conversion then holds the
    interpreter lock for a millisecond or so, and the event loop and the scoring thread get it in between."""
    out: list[list[LoggedScores]] = [[]]
    rows = 0
    for entry in entries:
        if rows >= _CHUNK_ROWS:
            out.append([])
            rows = 0
        out[-1].append(entry)
        rows += len(entry.transformer_id)
    return out


def _idle_priority() -> None:
    """Run the calling thread (Linux schedules threads individually) only on a core nothing else wants.

    A scoring thread that wakes up then never waits for the writer: measured, ~3 ms off the p99 of
    1000-reading requests against a writer at nice 10. Where idle scheduling is not available the
    writer runs at nice 10. A writer that falls behind is helped by the appending threads (see
    PredictionLog.append), so rows never pile up behind a starved writer.
    """
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        return
    except (AttributeError, OSError):
        pass
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _WRITER_NICE)
    except (AttributeError, OSError):  # not permitted either: write at normal priority
        pass


@dataclass(frozen=True)
class LoggedScores:
    """The rows of one scored request, as handed over by the scoring thread (no copy, no conversion)."""

    request_id: str
    scored_at: datetime
    model_name: str
    model_version: str
    latency_ms: float
    transformer_id: list[str]
    as_of: list[datetime]
    probability: NDArray[np.float64]
    risk_band: list[str]
    features: NDArray[np.float64]  # (rows, len(feature_columns))


class PredictionLog:
    """Collect scored rows off the request path; write `date=YYYY-MM-DD/part-*.parquet` every interval or N rows."""

    def __init__(self, folder: Path, feature_columns: tuple[str, ...], *, flush_interval_s: float, flush_rows: int,
                 metrics: ServiceMetrics) -> None:
        self.folder = folder
        self.feature_columns = feature_columns
        self.flush_interval_s, self.flush_rows, self.metrics = flush_interval_s, flush_rows, metrics
        self._queue: queue.SimpleQueue[LoggedScores | None] = queue.SimpleQueue()
        self._closing = threading.Event()
        self._pending: list[LoggedScores] = []  # collected, not yet converted
        self._tables: dict[str, list[pa.Table]] = {}  # converted, not yet written, by day
        self._pending_rows = 0  # in both
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._work = threading.Lock()  # collecting, converting and writing: the writer's, or a helping appender's
        self._appended = 0  # rows handed over
        self._written = 0  # rows written
        self._help_from = _BEHIND_ROWS  # backlog at which appenders help

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        # pyarrow's first conversion of datetimes initialises for ~1 s while holding the interpreter
        # lock: do it now, before the service is ready, not in the middle of the first flush.
        pa.array([datetime(2000, 1, 1)], pa.timestamp("us"))
        self._thread = threading.Thread(target=self._run, name="xfmr-prediction-log", daemon=True)
        self._thread.start()

    def append(self, entry: LoggedScores) -> None:
        """Hand rows to the writer without touching the disk; write them here only if the writer falls far behind."""
        if self._closed:
            raise RuntimeError("prediction log is closed")
        self._queue.put(entry)
        self._appended += len(entry.transformer_id)
        if self._appended - self._written >= self._help_from:
            self._help()

    def _help(self) -> None:
        """Write from the appending thread: the writer, at idle priority, is not keeping up (a saturated machine)."""
        with self._work:
            self._collect()
            self._flush()
            # Writes failing (the rows are kept): help again only once as many more rows have come.
            self._help_from = max(_BEHIND_ROWS, self._appended - self._written + _BEHIND_ROWS)

    def close(self, timeout_s: float = 30.0) -> None:
        """Write everything still queued, then stop the writer."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._closing.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        with self._work:  # what the writer left (it runs at idle priority): written at this thread's
            self._collect()
            self._flush()

    def _run(self) -> None:
        _idle_priority()
        deadline = time.monotonic() + self.flush_interval_s
        while True:
            # Collect what the scoring thread handed over a few times a second, not once per request.
            self._closing.wait(min(_COLLECT_S, max(0.0, deadline - time.monotonic())))
            with self._work:
                closing = self._collect()
                if closing:  # close(): write what is left and stop
                    self._flush()
                    return
                if self._pending_rows >= self.flush_rows or time.monotonic() >= deadline:
                    self._flush()
                    deadline = time.monotonic() + self.flush_interval_s

    def _collect(self) -> bool:
        """Move every queued entry to the pending rows and convert them to Arrow; return whether close() was asked for.

        Converting a few times a second, a little at a time, spreads the writer's use of the
        interpreter lock evenly instead of stalling a few requests at every flush, and keeps the
        pending rows out of the garbage collector's way.
        """
        closing = False
        while True:
            try:
                entry = self._queue.get_nowait()
            except queue.Empty:
                break
            if entry is None:
                closing = True
            else:
                self._pending.append(entry)
                self._pending_rows += len(entry.transformer_id)
        self.metrics.log_pending.set(self._pending_rows)
        self._convert()
        return closing

    def _convert(self) -> bool:
        """Turn the collected entries into Arrow tables by day; on failure keep them for the next attempt."""
        if not self._pending:
            return True
        try:
            by_day: dict[str, list[LoggedScores]] = {}
            for entry in self._pending:  # an entry's rows share one scored_at, hence one day
                by_day.setdefault(entry.scored_at.strftime("%Y-%m-%d"), []).append(entry)
            converted = {day: [self._table(part) for part in _chunks(entries)] for day, entries in by_day.items()}
        except Exception:
            self.metrics.log_errors.inc()
            log.exception("prediction log conversion failed; %d rows kept for the next attempt", self._pending_rows)
            return False
        for day, tables in converted.items():
            self._tables.setdefault(day, []).extend(tables)
        self._pending = []
        return True

    def _flush(self) -> None:
        if not self._convert():
            return
        for day in list(self._tables):
            table = pa.concat_tables(self._tables[day])
            try:
                self._write(day, table)
            except Exception:  # keep the rows and try again at the next flush; never drop what was scored
                self.metrics.log_errors.inc()
                log.exception("prediction log write failed; %d rows kept for the next attempt", self._pending_rows)
                return
            del self._tables[day]
            self._pending_rows -= table.num_rows
            self._written += table.num_rows
            self.metrics.log_rows.inc(table.num_rows)
            self.metrics.log_pending.set(self._pending_rows)

    def _table(self, entries: list[LoggedScores]) -> pa.Table:
        """The entries' rows as one table; every conversion runs in Arrow or numpy, none per row in Python."""
        counts = np.array([len(e.transformer_id) for e in entries])
        by_feature = np.ascontiguousarray(np.vstack([e.features for e in entries]).T)  # a column per feature

        def per_entry(values: list[object], kind: pa.DataType) -> pa.Array:
            """Repeat one value per entry over its rows."""
            return pa.array(values, kind).take(pa.array(np.repeat(np.arange(len(entries)), counts)))

        def per_row(values: list[list[object]], kind: pa.DataType) -> pa.Array:
            return pa.concat_arrays([pa.array(v, kind) for v in values])

        scored_at = np.array([e.scored_at.replace(tzinfo=None) for e in entries], dtype="datetime64[us]")
        columns: dict[str, pa.Array] = {
            "request_id": per_entry([e.request_id for e in entries], pa.string()),
            "scored_at": pa.array(np.repeat(scored_at, counts)).cast(pa.timestamp("us", tz="UTC")),
            "transformer_id": per_row([e.transformer_id for e in entries], pa.string()),
            "as_of": per_row([e.as_of for e in entries], pa.timestamp("us")),
            "model_name": per_entry([e.model_name for e in entries], pa.string()),
            "model_version": per_entry([e.model_version for e in entries], pa.string()),
            "failure_probability": pa.array(np.concatenate([e.probability for e in entries]), pa.float64()),
            "risk_band": per_row([e.risk_band for e in entries], pa.string()),
            "latency_ms": pa.array(np.repeat([e.latency_ms for e in entries], counts), pa.float64()),
        }
        for j, name in enumerate(self.feature_columns):
            columns[name] = pa.array(by_feature[j], pa.float64())
        return pa.table(columns)

    def _write(self, day: str, table: pa.Table) -> None:
        folder = self.folder / f"date={day}"
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        name = f"part-{stamp}-{os.getpid()}-{next(self._seq):06d}.parquet"
        tmp = folder / f".{name}.tmp"  # readers skip dot-files; the rename makes the file appear whole
        # Dictionary-encode the text columns only: trying it on every float column triples the write time.
        pq.write_table(table, tmp, use_dictionary=_DICTIONARY_COLUMNS)
        os.replace(tmp, folder / name)
