"""Row checks against the schema: each bad row goes to quarantine with a reason code and a readable detail.

Checks run in the order of REASONS; a row with several problems is quarantined for the first check
it fails (within one check, for the first failing column in schema order). Duplicates are looked for
only among rows that passed every earlier check, so a bad first copy never displaces a good later one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tasks.schema import Column, Table

REASONS: tuple[str, ...] = (
    "missing_value",  # null in a non-nullable column
    "bad_type",  # a value that does not parse as the column's type (timestamps: bad_timestamp)
    "bad_timestamp",  # unparseable, before EARLIEST_TIME, or more than FUTURE_TOLERANCE after the data
    "out_of_range",  # outside the schema's physical low/high, or not finite
    "unknown_category",  # not one of the column's categories (case-sensitive)
    "unknown_transformer",  # id not among the accepted assets
    "duplicate_row",  # exact copy of an earlier accepted row
    "conflicting_duplicate",  # same key as an earlier accepted row, other values
)
QUARANTINE_COLUMNS = ("table", "row_number", "reason", "detail", "record")
EARLIEST_TIME = pd.Timestamp("1950-01-01", tz="UTC")
FUTURE_TOLERANCE = pd.Timedelta(days=1)
# A day counts towards "the latest data time" when it holds at least this share of the rows of a
# typical day: a handful of rows stamped years ahead must not define "now".
DENSE_DAY_SHARE = 0.1
_NS_PER_DAY = 86_400 * 10**9


@dataclass(frozen=True, eq=False)
class ParsedColumn:
    """One column parsed to its canonical dtype; `null` marks missing values, `bad` unparseable ones."""

    values: pd.Series
    null: np.ndarray
    bad: np.ndarray


@dataclass(frozen=True, eq=False)
class ParsedTable:
    """A source file as read (`raw`, for quarantine records) and its schema columns parsed."""

    table: Table
    raw: pd.DataFrame
    columns: dict[str, ParsedColumn]

    @property
    def values(self) -> pd.DataFrame:
        return pd.DataFrame({name: col.values for name, col in self.columns.items()})


@dataclass(frozen=True, eq=False)
class CheckedTable:
    """The rows that passed every check (sorted by key) and the quarantined rest."""

    accepted: pd.DataFrame
    quarantine: pd.DataFrame


class _Verdicts:
    """Per-row reason code (0 = accepted) and detail; a row keeps the first reason it is given."""

    def __init__(self, n: int) -> None:
        self.code = np.zeros(n, dtype=np.int8)
        self.detail = np.empty(n, dtype=object)

    def open(self) -> np.ndarray:
        return self.code == 0

    def mark(self, fails: np.ndarray, reason: str, detail: Callable[[int], str]) -> None:
        rows = np.flatnonzero(fails & self.open())
        self.code[rows] = REASONS.index(reason) + 1
        self.detail[rows] = [detail(int(i)) for i in rows] if len(rows) else []


def check_table(parsed: ParsedTable, assets: tuple[str, pd.Index] | None, latest: pd.Timestamp | None) -> CheckedTable:
    """Run every row check on a parsed table; `assets` is (id column, accepted ids) for referencing tables."""
    table, raw = parsed.table, parsed.raw
    values = parsed.values
    v = _Verdicts(len(raw))
    cols = [(c, parsed.columns[c.name]) for c in table.columns]
    for c, p in cols:
        if not c.nullable:
            v.mark(p.null, "missing_value", lambda i, c=c: f"column '{c.name}' is null but not nullable")
    for c, p in cols:
        if c.kind != "timestamp":
            v.mark(p.bad, "bad_type", lambda i, c=c: f"column '{c.name}' value {_show(raw[c.name].iat[i])} is not {_a(c.kind)}")
    for c, p in cols:
        if c.kind == "timestamp":
            _check_time(v, c, p, raw[c.name], latest)
    for c, p in cols:
        if c.kind in ("float", "int"):
            _check_range(v, c, p)
    for c, p in cols:
        if c.kind == "category":
            fails = ~p.null & ~p.values.isin(c.categories).to_numpy()
            allowed = ", ".join(c.categories)
            v.mark(fails, "unknown_category", lambda i, c=c, p=p: f"column '{c.name}' value {_show(p.values.iat[i])} is not one of {allowed}")
    if assets is not None and table.references_assets:
        id_column, ids = assets
        ref = values[id_column]
        v.mark(~ref.isin(ids).to_numpy(), "unknown_transformer",
               lambda i: f"{id_column} {_show(ref.iat[i])} is not among the accepted assets")
    _check_duplicates(v, values, table)
    ok = v.open()
    accepted = values.loc[ok].sort_values(list(table.key), kind="stable").reset_index(drop=True)
    return CheckedTable(accepted=accepted, quarantine=_quarantine(table.name, raw, v))


def _check_time(v: _Verdicts, c: Column, p: ParsedColumn, raw: pd.Series, latest: pd.Timestamp | None) -> None:
    t = p.values
    v.mark(p.bad, "bad_timestamp", lambda i: f"column '{c.name}' value {_show(raw.iat[i])} is not an ISO-8601 timestamp")
    v.mark((t < EARLIEST_TIME).to_numpy(), "bad_timestamp",
           lambda i: f"column '{c.name}' value {_show(t.iat[i])} is before {EARLIEST_TIME.date()}")
    if latest is not None:
        limit = latest + FUTURE_TOLERANCE
        v.mark((t > limit).to_numpy(), "bad_timestamp",
               lambda i: f"column '{c.name}' value {_show(t.iat[i])} is more than 1 day after the latest data time {latest.isoformat()}")


def _check_range(v: _Verdicts, c: Column, p: ParsedColumn) -> None:
    x = p.values.to_numpy(dtype=float, na_value=np.nan)
    present = ~p.null & ~p.bad
    unit = f" {c.unit}" if c.unit else ""
    with np.errstate(invalid="ignore"):
        v.mark(present & ~np.isfinite(x), "out_of_range", lambda i: f"column '{c.name}' value {_show(x[i])} is not finite")
        if c.low is not None:
            v.mark(present & (x < c.low), "out_of_range",
                   lambda i: f"column '{c.name}' value {_show(x[i])} is below the minimum {c.low!r}{unit}")
        if c.high is not None:
            v.mark(present & (x > c.high), "out_of_range",
                   lambda i: f"column '{c.name}' value {_show(x[i])} is above the maximum {c.high!r}{unit}")


def _check_duplicates(v: _Verdicts, values: pd.DataFrame, table: Table) -> None:
    """Quarantine exact copies, then other rows sharing a key, of an earlier row that is still accepted."""
    key = list(table.key)
    rows = np.flatnonzero(v.open())
    keys = values[key] if len(rows) == len(values) else values[key].iloc[rows]
    shared = rows[keys.duplicated(keep=False).to_numpy()]  # only rows that share a key can be duplicates
    if len(shared) == 0:
        return
    records = dict(zip(shared.tolist(), values.iloc[shared].to_dict("records")))
    for reason, subset in (("duplicate_row", list(values.columns)), ("conflicting_duplicate", key)):
        live = shared[v.open()[shared]]
        frame = values.iloc[live]
        involved = frame.duplicated(subset=subset, keep=False).to_numpy()
        members = live[involved]
        group = frame.loc[involved].groupby(subset, sort=False, dropna=False).ngroup().to_numpy()
        first_of = pd.Series(members).groupby(group).transform("first").to_numpy()
        first = dict(zip(members.tolist(), first_of.tolist()))
        later = np.zeros(len(values), dtype=bool)
        later[members[members != first_of]] = True
        if reason == "duplicate_row":
            v.mark(later, reason, lambda i: f"exact copy of row {first[i]}; kept row {first[i]}")
        else:
            v.mark(later, reason, lambda i: _conflict_detail(records[first[i]], records[i], table, first[i]))


def _conflict_detail(kept: dict[str, object], row: dict[str, object], table: Table, first: int) -> str:
    key = ", ".join(f"{k}={_show(row[k])}" for k in table.key)
    diffs = [f"{name} {_show(kept[name])} vs {_show(row[name])}"
             for name in row if name not in table.key and not _same(kept[name], row[name])]
    shown = "; ".join(diffs[:3]) + (f" (+{len(diffs) - 3} more)" if len(diffs) > 3 else "")
    return f"same key ({key}) as row {first} with different {shown}; kept row {first} (first in file order)"


def _quarantine(name: str, raw: pd.DataFrame, v: _Verdicts) -> pd.DataFrame:
    rows = np.flatnonzero(~v.open())
    records = [json.dumps({str(k): _jsonable(x) for k, x in rec.items()}, ensure_ascii=False, allow_nan=False)
               for rec in raw.iloc[rows].to_dict("records")]
    return pd.DataFrame({
        "table": pd.Series([name] * len(rows), dtype=object),
        "row_number": rows.astype(np.int64),
        "reason": pd.Series([REASONS[c - 1] for c in v.code[rows]], dtype=object),
        "detail": pd.Series(list(v.detail[rows]), dtype=object),
        "record": pd.Series(records, dtype=object),
    }, columns=list(QUARANTINE_COLUMNS))


def latest_data_time(times: Iterable[pd.Series]) -> pd.Timestamp | None:
    """Return the latest timestamp of the last day that holds a typical share of the rows (None if no times)."""
    chunks = [pd.DatetimeIndex(t.dropna()).asi8 for t in times]
    ns = np.concatenate(chunks) if chunks else np.empty(0, dtype=np.int64)
    ns = ns[ns >= EARLIEST_TIME.value]
    if len(ns) == 0:
        return None
    day = ns // _NS_PER_DAY
    day = day - day.min()
    counts = np.bincount(day)
    typical = float(np.median(counts[day]))  # row-weighted: the day a typical row lives in
    last_dense_day = int(np.flatnonzero(counts >= max(1.0, DENSE_DAY_SHARE * typical)).max())
    return pd.Timestamp(int(ns[day <= last_dense_day].max()), tz="UTC")


def _a(kind: str) -> str:
    return {"int": "an integer", "float": "a number", "str": "a string"}.get(kind, f"a {kind}")


def _same(a: object, b: object) -> bool:
    return (_is_null(a) and _is_null(b)) or bool(a == b)


def _is_null(x: object) -> bool:
    return x is None or x is pd.NaT or (isinstance(x, float) and math.isnan(x))


def _show(x: object) -> str:
    """Render a value for a detail message: strings quoted, timestamps ISO, numbers as Python shows them."""
    if isinstance(x, pd.Timestamp):
        return x.isoformat()
    if isinstance(x, np.generic):
        x = x.item()
    return repr(x)


def _jsonable(x: object) -> object:
    """The original value as JSON can hold it: nulls as null, non-finite floats and times as text."""
    if isinstance(x, np.generic):
        x = x.item()
    if x is None or x is pd.NaT or x is pd.NA:
        return None
    if isinstance(x, float):
        return None if math.isnan(x) else (x if math.isfinite(x) else repr(x))
    if isinstance(x, (str, int, bool)):
        return x
    if isinstance(x, pd.Timestamp):
        return x.isoformat()
    if isinstance(x, bytes):
        return x.decode("utf-8", errors="backslashreplace")
    return str(x)
