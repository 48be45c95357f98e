"""Where streamed readings come from: a fleet folder (built point-in-time, every `step` per unit) or a readings file."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from serving.mqtt_topics import UNASSIGNED
from tasks.features import READING_FIELDS, build_snapshots
from tasks.labels import observation_window
from tasks.snapshots import as_utc_naive

READING_NAMES: tuple[str, ...] = tuple(c.name for c in READING_FIELDS)
DEFAULT_CHUNK_ROWS = 50_000


@dataclass(frozen=True, eq=False)
class ReadingChunk:
    """Readings in time order (as_of, then transformer_id) and the substation of each."""

    frame: pd.DataFrame  # READING_FIELDS columns
    substation: np.ndarray


class Source(Protocol):
    """Anything that yields readings in time order, chunk by chunk."""

    @property
    def step(self) -> pd.Timedelta: ...

    def describe(self) -> str: ...

    def estimate(self) -> int | None: ...

    def chunks(self) -> Iterator[ReadingChunk]: ...


def describe_step(step: pd.Timedelta) -> str:
    """Say a step the way it was probably typed: 1h, 15min, 30s."""
    seconds = step.total_seconds()
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def _timedelta(value: pd.Timedelta | str, name: str) -> pd.Timedelta:
    try:
        step = pd.Timedelta(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name} must be a duration like '1h' or '15min', got {value!r}") from exc
    if step <= pd.Timedelta(0):
        raise ValueError(f"{name} must be positive, got {value!r}")
    return step


@dataclass(frozen=True, eq=False)
class FleetSource:
    """Each unit's reading every `step` of data time in [start, end), assembled as an edge historian would.

    Readings come from `build_snapshots` over a time grid, a chunk of `chunk_rows` grid rows per
    call; a unit stops reporting at its last data or its first failure, whichever comes first.
    `start` defaults to `days` before `end`; `end` to the last data.
    """

    folder: Path | None = None
    tables: Mapping[str, pd.DataFrame] | None = field(default=None, repr=False)
    start: pd.Timestamp | str | None = None
    end: pd.Timestamp | str | None = None
    days: float = 7.0
    step: pd.Timedelta = pd.Timedelta(hours=1)
    units: tuple[str, ...] | None = None
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    _cache: dict[str, object] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if (self.folder is None) == (self.tables is None):
            raise ValueError("FleetSource needs a fleet folder or its ingested tables (one of them)")
        if self.folder is not None and not Path(self.folder).is_dir():
            raise FileNotFoundError(f"fleet folder {self.folder}: no such folder")
        object.__setattr__(self, "step", _timedelta(self.step, "step"))
        if not self.days > 0:
            raise ValueError(f"days must be > 0, got {self.days!r}")
        if self.chunk_rows < 1:
            raise ValueError(f"chunk_rows must be >= 1, got {self.chunk_rows}")

    def describe(self) -> str:
        return f"fleet {self.folder or '(tables)'}, a reading per unit every {describe_step(self.step)}"

    def load(self) -> Mapping[str, pd.DataFrame]:
        """Return the validated fleet tables (ingested once per source)."""
        if self.tables is not None:
            return self.tables
        if "tables" not in self._cache:
            from tasks.ingest import ingest_folder

            self._cache["tables"] = dict(ingest_folder(Path(self.folder)).tables)  # type: ignore[arg-type]
        return self._cache["tables"]  # type: ignore[return-value]

    def grid(self) -> pd.DataFrame:
        """Return every (transformer_id, as_of) to stream, in time order."""
        if "grid" in self._cache:
            return self._cache["grid"]  # type: ignore[return-value]
        tables = self.load()
        window = observation_window(tables)
        window = window[window.index.isin(tables["assets"]["transformer_id"].astype(str))]
        if self.units is not None:
            unknown = sorted(set(self.units) - set(window.index))
            if unknown:
                raise ValueError(f"unit(s) {unknown[:5]} have no data in the fleet")
            window = window.loc[list(self.units)]
        failures = tables.get("failures")
        if failures is not None and not failures.empty:
            first_failure = as_utc_naive(failures["failed_at"]).groupby(failures["transformer_id"].astype(str).to_numpy()).min()
            cutoff = first_failure.reindex(window.index)
            window["last"] = window["last"].where(cutoff.isna() | (window["last"] < cutoff), cutoff - pd.Timedelta(seconds=1))
        end = window["last"].max() if self.end is None else as_utc_naive([self.end]).iloc[0]
        start = end - pd.Timedelta(days=self.days) if self.start is None else as_utc_naive([self.start]).iloc[0]
        if not start < end:
            raise ValueError(f"replay window is empty: start {start} is not before end {end}")
        times = pd.date_range(start, end, freq=self.step, inclusive="left").to_numpy()
        units = window.index.to_numpy()
        unit = np.repeat(np.arange(len(units)), len(times))
        as_of = np.tile(times, len(units))
        keep = (as_of >= window["first"].to_numpy()[unit]) & (as_of <= window["last"].to_numpy()[unit])
        grid = pd.DataFrame({"transformer_id": units[unit[keep]], "as_of": as_of[keep]})
        grid = grid.sort_values(["as_of", "transformer_id"], kind="stable").reset_index(drop=True)
        if grid.empty:
            raise ValueError(f"no unit has data between {start} and {end}")
        self._cache["grid"] = grid
        return grid

    def estimate(self) -> int | None:
        return len(self.grid())

    def chunks(self) -> Iterator[ReadingChunk]:
        tables = self.load()
        grid = self.grid()
        assets = tables["assets"]
        substations = (pd.Series(assets["substation"].astype(str).to_numpy(), index=assets["transformer_id"].astype(str))
                       if "substation" in assets.columns else pd.Series(dtype=object))
        # Cut only between time steps, so every chunk holds whole steps and chunks follow each other in time.
        bounds = np.r_[grid.index[grid["as_of"].ne(grid["as_of"].shift())].to_numpy(), len(grid)]
        start = 0
        while start < len(grid):
            stop = int(bounds[np.searchsorted(bounds, start + self.chunk_rows, side="right") - 1])
            if stop <= start:  # one time step holds more than chunk_rows readings: take it whole
                stop = int(bounds[np.searchsorted(bounds, start, side="right")])
            part = grid.iloc[start:stop].reset_index(drop=True)
            frame = build_snapshots(tables, part)
            ids = frame["transformer_id"].astype(str)
            substation = ids.map(substations).fillna(UNASSIGNED).to_numpy(dtype=object)
            yield ReadingChunk(frame, substation)
            start = stop


@dataclass(frozen=True, eq=False)
class ReadingsFile:
    """A utility's own readings (Parquet or CSV with the reading fields, optional `substation`), sent in as_of order."""

    path: Path
    every: pd.Timedelta | None = None  # how often a unit reports (late/out-of-order delays count in it); default: median gap
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    _cache: dict[str, pd.DataFrame] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if not Path(self.path).is_file():
            raise FileNotFoundError(f"readings file {self.path}: no such file")
        if self.every is not None:
            object.__setattr__(self, "every", _timedelta(self.every, "every"))

    @property
    def step(self) -> pd.Timedelta:
        return self.every if self.every is not None else _median_gap(self.load())

    def describe(self) -> str:
        return f"readings file {self.path}"

    def load(self) -> pd.DataFrame:
        if "frame" not in self._cache:
            self._cache["frame"] = _read_readings(Path(self.path))
        return self._cache["frame"]

    def estimate(self) -> int | None:
        return len(self.load())

    def chunks(self) -> Iterator[ReadingChunk]:
        frame = self.load()
        substation = (frame["substation"].fillna(UNASSIGNED).astype(str).to_numpy(dtype=object)
                      if "substation" in frame.columns else np.full(len(frame), UNASSIGNED, dtype=object))
        readings = frame.loc[:, list(READING_NAMES)]
        for start in range(0, len(frame), self.chunk_rows):
            rows = slice(start, start + self.chunk_rows)
            yield ReadingChunk(readings.iloc[rows].reset_index(drop=True), substation[rows])


def _read_readings(path: Path) -> pd.DataFrame:
    """Read and time-order a readings file; fail naming the file and what is wrong with it."""
    name = path.name.lower()
    try:
        if name.endswith((".parquet", ".pq")):
            frame = pd.read_parquet(path)
        elif name.endswith((".csv", ".csv.gz")):
            frame = pd.read_csv(path, dtype={"transformer_id": str, "substation": str})
        else:
            raise ValueError(f"readings file {path}: unsupported type (use .parquet or .csv)")
    except (OSError, ValueError) as exc:
        if str(exc).startswith("readings file"):
            raise
        raise ValueError(f"readings file {path}: cannot be read: {exc}") from exc
    missing = [n for n in READING_NAMES if n not in frame.columns]
    if missing:
        raise ValueError(f"readings file {path} lacks column(s) {', '.join(missing)}")
    if frame.empty:
        raise ValueError(f"readings file {path} has no rows")
    try:
        stamps = pd.to_datetime(frame["as_of"], utc=True, format="ISO8601")
    except (ValueError, TypeError):  # not all ISO 8601: parse value by value to find the bad ones
        stamps = pd.to_datetime(frame["as_of"], utc=True, errors="coerce", format="mixed")
    bad = int(stamps.isna().sum())
    if bad:
        first = frame["as_of"][stamps.isna()].iloc[0]
        raise ValueError(f"readings file {path}: column 'as_of' has {bad} value(s) that are not timestamps, e.g. {first!r}")
    frame = frame.assign(as_of=stamps.dt.tz_localize(None), transformer_id=frame["transformer_id"].astype(str))
    return frame.sort_values(["as_of", "transformer_id"], kind="stable").reset_index(drop=True)


def _median_gap(frame: pd.DataFrame) -> pd.Timedelta:
    """Return the typical time between a unit's consecutive readings (1 h when no unit has two)."""
    gaps = frame.groupby("transformer_id", sort=False)["as_of"].diff().dropna()
    gaps = gaps[gaps > pd.Timedelta(0)]
    return pd.Timedelta(gaps.median()) if len(gaps) else pd.Timedelta(hours=1)
