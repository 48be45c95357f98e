"""Ingest a folder of fleet tables: read, parse to canonical types, validate, quarantine, digest and report.

A file that cannot be used at all raises IngestError (one line naming the file); bad rows are
quarantined by tasks.validation. Row numbers in the quarantine are 0-based positions among the
file's data rows (the CSV header is not a row).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tasks.digest import tables_digest
from tasks.schema import ASSETS, TABLES, Column, Table
from tasks.validation import (
    REASONS,
    ParsedColumn,
    ParsedTable,
    check_table,
    latest_data_time,
)

OPTIONAL_TABLES = frozenset({"failures"})
_CANONICAL = {"str": "object", "category": "object", "float": "float64", "int": "int64", "timestamp": "datetime64[ns, UTC]"}


class IngestError(ValueError):
    """A source file cannot be used at all: unreadable, missing columns, or a column of the wrong type."""


@dataclass(frozen=True)
class TableReport:
    """What happened to one table: rows read and accepted, quarantined rows per reason, nulls kept."""

    source: str | None  # file name read; None when an optional table is absent
    rows_read: int
    rows_accepted: int
    quarantined: dict[str, int]  # reason -> rows, in check order, only reasons that occurred
    missing_values: dict[str, int]  # nullable column -> nulls among the accepted rows
    ignored_columns: tuple[str, ...]  # columns in the file that are not in the schema

    @property
    def rows_quarantined(self) -> int:
        return sum(self.quarantined.values())


@dataclass(frozen=True)
class IngestReport:
    """Per-table ingest outcome and the reference time the future-timestamp check used."""

    tables: dict[str, TableReport]
    latest_data_time: str | None  # ISO-8601; timestamps more than a day later are quarantined
    check_order: tuple[str, ...] = REASONS

    @property
    def rows_quarantined(self) -> int:
        return sum(t.rows_quarantined for t in self.tables.values())


@dataclass(frozen=True, eq=False)
class IngestResult:
    """Accepted tables (sorted by key, canonical dtypes), the quarantine, the full-content digest and the report."""

    tables: dict[str, pd.DataFrame]
    quarantine: pd.DataFrame  # table, row_number, reason, detail, record (original row as JSON)
    digest: str  # SHA-256 of every accepted row of every table
    report: IngestReport
    source_files: dict[str, Path]  # table -> file read (absent optional tables are not listed)


def ingest_folder(folder: Path, *, reference_time: pd.Timestamp | None = None) -> IngestResult:
    """Read, validate and digest the fleet tables in `folder` (the truth/ subfolder is never read).

    `reference_time` replaces the latest data time derived from the data as the limit for
    future timestamps (e.g. the scheduled time of a run).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise IngestError(f"{folder}: not a folder")
    sources = {name: path for name in TABLES if (path := find_source(folder, name)) is not None}
    parsed = {name: parse_table(read_file(sources[name]) if name in sources else None, table, sources.get(name))
              for name, table in TABLES.items()}
    times = [p.columns[c.name].values for p in parsed.values() for c in p.table.columns if c.kind == "timestamp"]
    latest = _utc(reference_time) if reference_time is not None else latest_data_time(times)
    checked = {ASSETS.name: check_table(parsed[ASSETS.name], None, latest)}
    id_column = ASSETS.key[0]
    ids = pd.Index(checked[ASSETS.name].accepted[id_column])
    for name in TABLES:
        if name not in checked:
            checked[name] = check_table(parsed[name], (id_column, ids), latest)
    tables = {name: c.accepted for name, c in checked.items()}
    quarantine = pd.concat([c.quarantine for c in checked.values()], ignore_index=True)
    reports = {name: _table_report(parsed[name], checked[name].accepted, checked[name].quarantine, sources.get(name))
               for name in TABLES}
    return IngestResult(
        tables=tables,
        quarantine=quarantine,
        digest=tables_digest(tables),
        report=IngestReport(tables=reports, latest_data_time=None if latest is None else latest.isoformat()),
        source_files=sources,
    )


def find_source(folder: Path, name: str) -> Path | None:
    """Return folder/<name>.parquet, else folder/<name>.csv; None for an absent optional table."""
    for suffix in (".parquet", ".csv"):
        path = folder / f"{name}{suffix}"
        if path.is_file():
            return path
    if name in OPTIONAL_TABLES:
        return None
    raise IngestError(f"{folder}: required table '{name}' not found (expected {name}.parquet or {name}.csv)")


def read_file(path: Path) -> pd.DataFrame:
    """Read one Parquet or CSV file as stored (CSV: every value as text), failing with the file named."""
    try:
        if path.suffix == ".parquet":
            arrow = pq.read_table(path)
            names = arrow.schema.names
            if len(set(names)) != len(names):
                raise IngestError(f"{path}: duplicate column names {sorted({n for n in names if names.count(n) > 1})}")
            return arrow.to_pandas(ignore_metadata=True)  # a stored pandas index comes back as a column
        return pd.read_csv(path, dtype=str, encoding="utf-8-sig")
    except IngestError:
        raise
    except (pa.ArrowException, OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        kind = "Parquet" if path.suffix == ".parquet" else "CSV"
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise IngestError(f"{path}: not a readable {kind} file ({reason[:200]})") from exc


def parse_table(raw: pd.DataFrame | None, table: Table, path: Path | None) -> ParsedTable:
    """Check the file has every schema column and parse each to its canonical dtype."""
    if raw is None:
        raw = pd.DataFrame({name: pd.Series([], dtype=object) for name in table.column_names})
    missing = [name for name in table.column_names if name not in raw.columns]
    if missing:
        raise IngestError(f"{path}: missing required column(s) {', '.join(repr(m) for m in missing)}")
    raw = raw.reset_index(drop=True)
    columns = {c.name: parse_column(raw[c.name], c) for c in table.columns}
    for c in table.columns:
        p = columns[c.name]
        present = ~p.null
        if present.any() and p.bad[present].all():
            example = raw[c.name].iat[int(np.flatnonzero(present)[0])]
            raise IngestError(
                f"{path}: column '{c.name}' cannot be parsed as {c.kind}: none of its {int(present.sum())} "
                f"values is valid (first: {example!r})"
            )
    return ParsedTable(table=table, raw=raw, columns=columns)


def parse_column(raw: pd.Series, column: Column) -> ParsedColumn:
    """Parse one column: native Parquet types directly, anything else as text by kind; flag what does not parse."""
    kind, dtype = column.kind, raw.dtype
    if kind == "timestamp" and pd.api.types.is_datetime64_any_dtype(dtype):
        t = raw.dt.tz_localize("UTC") if raw.dt.tz is None else raw.dt.tz_convert("UTC")
        bad = ((t < pd.Timestamp.min.tz_localize("UTC")) | (t > pd.Timestamp.max.tz_localize("UTC"))).to_numpy()
        return ParsedColumn(t.where(~bad).dt.as_unit("ns"), raw.isna().to_numpy(), bad)
    if kind in ("float", "int") and isinstance(dtype, np.dtype) and dtype.kind in "iuf":
        number = raw.to_numpy(dtype=np.float64)
        null, bad = np.isnan(number), np.zeros(len(raw), dtype=bool)
    else:
        # Text is parsed once per distinct value: ids, categories and CSV timestamps repeat a lot.
        codes, text = _distinct_text(raw)
        null = _take(text.isna().to_numpy(), codes, True)
        if kind in ("str", "category"):
            return ParsedColumn(pd.Series(_take(text.to_numpy(), codes, None), dtype=object), null, np.zeros(len(raw), dtype=bool))
        if kind == "timestamp":
            parsed = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce").astype(_CANONICAL[kind])
            values = pd.Series(parsed.array.take(codes, allow_fill=True))
            return ParsedColumn(values, null, ~null & values.isna().to_numpy())
        number = _take(pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64), codes, np.nan)
        bad = ~null & np.isnan(number)
    if kind == "float":
        return ParsedColumn(pd.Series(number, dtype="float64"), null, bad)
    with np.errstate(invalid="ignore"):
        bad = bad | (~null & ~np.isnan(number) & ((np.abs(number) > 2.0**53) | (np.mod(number, 1.0) != 0)))
    ints = np.where(null | bad, 0.0, number).astype(np.int64)
    if column.nullable:
        return ParsedColumn(pd.Series(pd.array(ints, dtype="Int64")).mask(null), null, bad)
    return ParsedColumn(pd.Series(ints, dtype="int64"), null, bad)


def _distinct_text(raw: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Return (codes, distinct values as stripped text); code -1 and blank text are nulls (None)."""
    codes, uniques = pd.factorize(raw if raw.dtype == object else raw.astype(object), use_na_sentinel=True)
    text = pd.Series(np.asarray(uniques, dtype=object), dtype=object)
    if pd.api.types.infer_dtype(text, skipna=True) not in ("string", "empty"):
        text = text.astype(str)
    text = text.str.strip() if len(text) else text
    return codes, text.where(text != "", None)


def _take(values: np.ndarray, codes: np.ndarray, fill: object) -> np.ndarray:
    """values[codes], with `fill` where the code is -1 (a null)."""
    out = np.full(len(codes), fill, dtype=values.dtype)
    known = codes >= 0
    out[known] = values[codes[known]]
    return out


def _table_report(parsed: ParsedTable, accepted: pd.DataFrame, quarantine: pd.DataFrame, path: Path | None) -> TableReport:
    read, kept = len(parsed.raw), len(accepted)
    counts = quarantine["reason"].value_counts()
    by_reason = {r: int(counts[r]) for r in REASONS if r in counts.index}
    if read != kept + len(quarantine):  # every row is accepted or quarantined, never dropped
        raise RuntimeError(f"table '{parsed.table.name}': {read} rows read but {kept} accepted + {len(quarantine)} quarantined")
    return TableReport(
        source=None if path is None else path.name,
        rows_read=read,
        rows_accepted=kept,
        quarantined=by_reason,
        missing_values={c.name: int(accepted[c.name].isna().sum()) for c in parsed.table.columns if c.nullable},
        ignored_columns=tuple(str(c) for c in parsed.raw.columns if c not in parsed.table.column_index),
    )


def _utc(t: pd.Timestamp) -> pd.Timestamp:
    t = pd.Timestamp(t)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def report_dict(result: IngestResult) -> dict[str, Any]:
    """The report as plain JSON-able data, with the digest and per-table quarantine totals."""
    tables = {
        name: {**asdict(t), "rows_quarantined": t.rows_quarantined, "ignored_columns": list(t.ignored_columns)}
        for name, t in result.report.tables.items()
    }
    return {
        "digest": result.digest,
        "latest_data_time": result.report.latest_data_time,
        "check_order": list(result.report.check_order),
        "rows_quarantined": result.report.rows_quarantined,
        "tables": tables,
    }


def write_ingested(result: IngestResult, out_dir: Path) -> None:
    """Write accepted tables, quarantine.parquet and ingest_report.json (no wall-clock time: same input, same bytes)."""
    out_dir = Path(out_dir)
    raw_folders = {p.resolve().parent for p in result.source_files.values()}
    if out_dir.resolve() in raw_folders:
        raise IngestError(f"{out_dir}: refusing to write over the raw source files; choose another folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, frame in result.tables.items():
        frame.to_parquet(out_dir / f"{name}.parquet", index=False)
    result.quarantine.to_parquet(out_dir / "quarantine.parquet", index=False)
    (out_dir / "ingest_report.json").write_text(json.dumps(report_dict(result), indent=2) + "\n", encoding="utf-8")


def format_report(report: IngestReport) -> str:
    """Render rows read/accepted/quarantined per table and the count per reason, for the CLI."""
    lines = [f"{'table':<12}{'read':>12}{'accepted':>12}{'quarantined':>13}  source"]
    for name, t in report.tables.items():
        lines.append(f"{name:<12}{t.rows_read:>12,}{t.rows_accepted:>12,}{t.rows_quarantined:>13,}  {t.source or '(absent)'}")
        lines.extend(f"  {reason:<34}{count:>13,}" for reason, count in t.quarantined.items())
        nulls = ", ".join(f"{col} {n:,}" for col, n in t.missing_values.items() if n)
        if nulls:
            lines.append(f"  nulls kept: {nulls}")
        if t.ignored_columns:
            lines.append(f"  ignored columns: {', '.join(t.ignored_columns)}")
    total_read = sum(t.rows_read for t in report.tables.values())
    total_kept = sum(t.rows_accepted for t in report.tables.values())
    lines.append(f"{'total':<12}{total_read:>12,}{total_kept:>12,}{report.rows_quarantined:>13,}")
    if report.latest_data_time is not None:
        lines.append(f"latest data time {report.latest_data_time}: later timestamps by more than 1 day are quarantined")
    return "\n".join(lines)
