"""Read a window of the Parquet prediction log and a reference set: the package's only file-format code."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from monitoring.sampling import ReservoirSampler
from monitoring.timestamps import as_utc

PARTITION_FIELD = "date"  # the log is partitioned by day (UTC scored_at): date=YYYY-MM-DD/<file>.parquet
BATCH_ROWS = 65_536
FILES_PER_SCAN = 128
READAHEAD_BYTES = 32 * 2**20


@dataclass(frozen=True)
class PredictionWindow:
    """Rows of the prediction log scored in [start, end): a uniform sample when the window is larger than the cap."""

    frame: pd.DataFrame
    total_rows: int  # rows in the window before sampling
    start: datetime
    end: datetime

    @property
    def sampled(self) -> bool:
        return len(self.frame) < self.total_rows


def _window_files(log_dir: Path, start: datetime, end: datetime) -> list[str]:
    """List the Parquet files of the day partitions [start, end) touches (all files when the log is not partitioned).

    Only those folders are listed: the log grows by a folder a day (and, with frequent flushes, by
    many files a day), so discovering the whole log would cost more as history piles up.
    Dot- and underscore-files are writes in progress.
    """
    if not any(log_dir.glob(f"{PARTITION_FIELD}=*")):
        folders = [log_dir]
    else:
        last = (end - timedelta(microseconds=1)).date()
        days = pd.date_range(start.date(), last, freq="D")
        folders = [log_dir / f"{PARTITION_FIELD}={day.date().isoformat()}" for day in days]
    return [
        str(f) for folder in folders if folder.is_dir()
        for f in sorted(folder.rglob("*.parquet")) if not f.name.startswith((".", "_"))
    ]


def _schema(files: list[str], wanted: list[str]) -> pa.Schema:
    """Return the first file's schema; when it lacks a wanted column, the union of all files' schemas."""
    schema = pq.read_schema(files[0])
    if all(c in schema.names for c in wanted):
        return schema
    # Columns can differ between files when a new champion brings new features.
    return pa.unify_schemas([pq.read_schema(f) for f in files], promote_options="permissive")


def _filter(dataset: ds.Dataset, start: datetime, end: datetime, time_column: str,
            model_version: str | None) -> ds.Expression:
    """Build the row filter: the time range and, when asked, one model version."""
    names = dataset.schema.names
    if time_column not in names:
        raise ValueError(f"prediction log has no time column {time_column!r}; columns: {names}")
    kind = dataset.schema.field(time_column).type
    if not pa.types.is_timestamp(kind):
        raise ValueError(f"prediction log column {time_column!r} must be a timestamp, got {kind}")

    def bound(t: datetime) -> pa.Scalar:
        return pa.scalar(t if kind.tz is not None else t.replace(tzinfo=None), type=kind)

    expr = (ds.field(time_column) >= bound(start)) & (ds.field(time_column) < bound(end))
    if model_version is not None:
        if "model_version" not in names:
            raise ValueError("prediction log has no 'model_version' column to filter on")
        expr &= ds.field("model_version") == pa.scalar(model_version, type=dataset.schema.field("model_version").type)
    return expr


def load_prediction_window(
    log_dir: Path,
    start: datetime,
    end: datetime,
    columns: Sequence[str],
    *,
    max_rows: int | None = None,
    seed: int = 0,
    model_version: str | None = None,
    time_column: str = "scored_at",
) -> PredictionWindow:
    """Read only `columns` of the rows scored in [start, end), streaming a uniform sample of at most `max_rows`.

    Only the day partitions the window touches are listed and opened; memory holds the batches of
    a few files plus the sample, whatever the window's size. A log folder that exists but holds no
    files for the window gives an empty window (the check then says "insufficient_data"); a missing
    folder is an error, so a wrong path does not pass for a quiet fleet.
    """
    start, end = as_utc(start, "start"), as_utc(end, "end")
    if end <= start:
        raise ValueError(f"window end {end.isoformat()} must be after its start {start.isoformat()}")
    log_dir = Path(log_dir)
    if not log_dir.is_dir():
        raise FileNotFoundError(f"prediction log folder {log_dir} does not exist")
    wanted = list(dict.fromkeys(columns))
    files = _window_files(log_dir, start, end)
    if not files:
        return PredictionWindow(pd.DataFrame(columns=wanted), 0, start, end)
    schema = _schema(files, wanted)
    missing = [c for c in wanted if c not in schema.names]
    if missing:
        raise ValueError(f"prediction log in {log_dir} lacks columns {missing}; it has {schema.names}")
    sampler = ReservoirSampler(max_rows if max_rows is not None else 2**62, seed)
    # Files are scanned a group at a time (a scanner keeps per-file state until it finishes) and
    # read ahead only as many files as fit in READAHEAD_BYTES: bytes in flight stay bounded for a
    # log of a few large files as for one of many small ones.
    mean_size = sum(os.path.getsize(f) for f in files) / len(files)
    readahead = int(min(8, max(1, READAHEAD_BYTES // max(mean_size, 1))))
    for first in range(0, len(files), FILES_PER_SCAN):
        dataset = ds.dataset(files[first : first + FILES_PER_SCAN], schema=schema, format="parquet")
        scanner = dataset.scanner(
            columns=wanted, filter=_filter(dataset, start, end, time_column, model_version),
            batch_size=BATCH_ROWS, batch_readahead=1, fragment_readahead=readahead,
        )
        for batch in scanner.to_batches():
            sampler.add(batch)
    frame = sampler.to_pandas()
    if frame is None:
        frame = schema.empty_table().select(wanted).to_pandas()
    # Hand the scan buffers back, so the drift check that follows reuses memory instead of adding to it.
    pa.default_memory_pool().release_unused()
    return PredictionWindow(frame, sampler.rows_seen, start, end)


def load_reference(path: Path) -> pd.DataFrame:
    """Read the reference set stored with a model version (reference.parquet)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"reference set {path} does not exist")
    return pd.read_parquet(path)
