"""Parquet output: Arrow schemas from tasks/schema.py, streamed row groups, the truth tables and the manifest."""

from __future__ import annotations

import json
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

from fleetsim.faults import QUALITY_CODES, UNKNOWN_UNIT, Rows
from tasks.schema import Table

ARROW_TYPES: dict[str, pa.DataType] = {
    "str": pa.string(),
    "category": pa.string(),  # closed value sets are checked by ingest; plain strings travel best
    "float": pa.float64(),
    "int": pa.int64(),
    "timestamp": pa.timestamp("ns", tz="UTC"),
}
PARQUET_OPTIONS: dict[str, Any] = {"compression": "zstd", "use_dictionary": True, "write_statistics": True}
TRUTH_UNITS_FILE = "units.parquet"

# Ground truth (never a model input): the latent state per unit and day, and per unit.
TRUTH_HAZARD_SCHEMA = pa.schema([
    ("transformer_id", pa.string()), ("date", pa.timestamp("ns", tz="UTC")), ("hazard", pa.float64()),
    ("fault_type", pa.string()), ("fault_severity", pa.float64()), ("paper_dp", pa.float64()),
    ("loss_of_life_pct", pa.float64()), ("hot_spot_max_c", pa.float64()), ("load_mean_pu", pa.float64()),
    ("failed", pa.bool_()),
])
TRUTH_UNITS_SCHEMA = pa.schema([
    ("transformer_id", pa.string()), ("online_monitor", pa.bool_()), ("base_load_pu", pa.float64()),
    ("load_growth_per_year", pa.float64()), ("initial_paper_dp", pa.float64()), ("paper_water_pct", pa.float64()),
    ("fault_type", pa.string()), ("fault_onset_day", pa.float64()), ("paper_involved", pa.bool_()),
    ("failure_mode", pa.string()),
])


def arrow_schema(table: Table) -> pa.Schema:
    """Return the Arrow schema of a fleet table, columns in schema order."""
    return pa.schema([pa.field(c.name, ARROW_TYPES[c.kind], nullable=True) for c in table.columns])


def unknown_id(ids: NDArray[np.str_]) -> str:
    """An id shaped like the real ones that no unit has."""
    width = len(ids[0]) - 2 if len(ids) else 4
    candidate = "TX" + "9" * width
    return candidate if candidate not in set(ids.tolist()) else "TX" + "9" * (width + 1)


def _strings(codes: NDArray[np.int64], dictionary: list[str]) -> pa.Array:
    """Decode integer codes to a string array without building Python objects per row."""
    indices = pa.array(codes.astype(np.int32), type=pa.int32())
    return pa.DictionaryArray.from_arrays(indices, pa.array(dictionary, type=pa.string())).cast(pa.string())


class TableEncoder:
    """Turn generator rows (unit indices, ns times, float values, quality codes) into Arrow tables."""

    def __init__(self, ids: NDArray[np.str_]) -> None:
        self.ids = ids
        self.unknown = unknown_id(ids)
        self._dictionary = [*ids.tolist(), self.unknown]

    def encode(self, rows: Rows, schema: pa.Schema, id_column: str = "transformer_id") -> pa.Table:
        arrays = []
        for f in schema:
            if f.name == id_column:
                unit = rows["unit"].astype(np.int64)
                arrays.append(_strings(np.where(unit == UNKNOWN_UNIT, len(self.ids), unit), self._dictionary))
            elif f.name == "quality":
                arrays.append(_strings(rows["quality"].astype(np.int64), list(QUALITY_CODES)))
            elif pa.types.is_timestamp(f.type):
                arrays.append(pa.array(rows[f.name].astype(np.int64), type=pa.int64()).cast(f.type))
            else:
                arrays.append(pa.array(rows[f.name], type=f.type, from_pandas=True))
        return pa.Table.from_arrays(arrays, schema=schema)


class StreamWriter:
    """Append row groups to one Parquet file so a large table never sits in memory whole."""

    def __init__(self, path: Path, schema: pa.Schema, encoder: TableEncoder) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.rows = 0
        self._schema = schema
        self._encoder = encoder
        self._writer = pq.ParquetWriter(path, schema, **PARQUET_OPTIONS)

    def write(self, rows: Rows) -> None:
        table = self._encoder.encode(rows, self._schema)
        if table.num_rows:
            self._writer.write_table(table)
            self.rows += table.num_rows

    def __enter__(self) -> StreamWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._writer.close()


def write_table(path: Path, rows: Rows, schema: pa.Schema, encoder: TableEncoder) -> int:
    """Write a whole (small) table at once; return its row count."""
    with StreamWriter(path, schema, encoder) as w:
        w.write(rows)  # a file without row groups still carries the schema
        return w.rows


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    """Write the manifest as stable, human-readable JSON (no wall-clock times: same inputs, same bytes)."""
    path.write_text(json.dumps(manifest, indent=2, sort_keys=False, allow_nan=False) + "\n", encoding="utf-8")
