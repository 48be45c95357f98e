"""Read a clean score body straight into column arrays, or decline and let the pydantic model decide.

Validating 1000 readings field by field through pydantic costs ~15 ms, more than scoring them.
Two readers go first. The compiled one (serving.json_scan) locates every value in one pass over
the bytes and checks the JSON grammar and types; Arrow converts all the numbers in one call.
A large body is read in two parts on two threads. It takes the plain form clients send (ASCII
text without escapes); for anything else msgspec decodes the body into typed records. Either
way each field is then checked a column at a time:
nulls, physical ranges, categories, timestamps, identifiers. The readers only ever accept what
the request model accepts, and produce the same values; anything they are not sure about makes
them return None, and the request model validates the body and names the problem as usual.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from serving import json_scan
from serving.scoring import ReadingBatch
from serving.trees import second_thread
from tasks.features import NUMERIC_FIELDS, READING_FIELDS

MIN_BODY_BYTES = 4_096  # below this (a few readings) the request model is as fast
MAX_ID_LENGTH = 128  # characters, as the request model allows
INVALID = -1  # _scan: a value the request model would refuse (range, null, timestamp)
SPLIT_BYTES = 256 * 1024  # from this size (about 180 readings) the compiled reader reads two parts at once
_COLUMNS = {c.name: c for c in READING_FIELDS}
# RFC 3339 with seconds, optional fraction and UTC designator/offset: what both parsers read alike.
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})?")
_NUMERIC = attrgetter(*NUMERIC_FIELDS)
_NULLABLE = np.array([_COLUMNS[n].nullable for n in NUMERIC_FIELDS])
_LOW = np.array([-np.inf if _COLUMNS[n].low is None else _COLUMNS[n].low for n in NUMERIC_FIELDS])
_HIGH = np.array([np.inf if _COLUMNS[n].high is None else _COLUMNS[n].high for n in NUMERIC_FIELDS])
# JSON types as the strict request model takes them: a float field also takes integers (msgspec
# converts them), an integer field only integers; text stays text; null only where nullable.
_JSON_TYPES: dict[str, Any] = {"float": float, "int": int, "str": str, "category": str, "timestamp": str}


def _record(column_kind: str, nullable: bool) -> Any:
    kind = _JSON_TYPES[column_kind]
    return kind | None if nullable else kind


# gc=False: the records hold only numbers and text, so the cyclic collector need not track them.
_Reading = msgspec.defstruct(
    "_Reading", [(c.name, _record(c.kind, c.nullable)) for c in READING_FIELDS], forbid_unknown_fields=True, gc=False,
)
_Body = msgspec.defstruct("_Body", [("readings", list[_Reading])], forbid_unknown_fields=True,  # type: ignore[valid-type]
                          gc=False)
_DECODER = msgspec.json.Decoder(_Body)


def read_batch(body: bytes, max_batch: int) -> ReadingBatch | None:
    """Return the body's readings as a ReadingBatch when every field is certainly valid, else None."""
    if len(body) < MIN_BODY_BYTES:
        return None
    try:
        scanned = _scan(body, max_batch)
        if scanned != json_scan.PLAIN:  # read, or invalid however it is read: msgspec would refuse it too
            return scanned if isinstance(scanned, ReadingBatch) else None
        rows = _DECODER.decode(body).readings
        return _msgspec_columns(rows, max_batch)
    except (msgspec.DecodeError, KeyError, TypeError, ValueError, OverflowError):
        return None


def _scan(body: bytes, max_batch: int) -> ReadingBatch | int:
    """Read the body with the compiled reader; else why not: a json_scan status, or INVALID for a value.

    A large body is read in two parts at once, split where a reading seems to end half-way
    through; if no reading ends there after all, it is read in one piece.
    """
    data = np.frombuffer(body, dtype=np.uint8)
    split = json_scan.find_split(data, len(data) // 2) if len(data) >= SPLIT_BYTES else -1
    if split > 0:
        pending = second_thread().submit(_read_part, data, max_batch, 0, split)
        second = _read_part(data, max_batch, split, -1)
        first = pending.result()
        if first == json_scan.NOT_A_BOUNDARY:
            parts = [_read_part(data, max_batch, 0, -1)]
        else:
            parts = [first, second]
    else:
        parts = [_read_part(data, max_batch, 0, -1)]
    declined = [p for p in parts if not isinstance(p, _Part)]
    if declined:
        return json_scan.PLAIN if json_scan.PLAIN in declined else int(declined[0])  # type: ignore[arg-type]
    read: list[_Part] = parts  # type: ignore[assignment]
    if sum(len(p.numeric) for p in read) > max_batch:
        return json_scan.TOO_MANY
    numeric = read[0].numeric if len(read) == 1 else np.concatenate([p.numeric for p in read])
    categories = {name: _CATEGORIES[name][np.concatenate([p.codes[name] for p in read])] for name in _CATEGORIES}
    ids = pa.chunked_array([p.ids for p in read]).to_pylist()
    # Timestamps: each distinct one checked and parsed once, then looked up per reading.
    stamps = pa.chunked_array([p.stamps for p in read])
    distinct = pc.unique(stamps)
    parsed = _timestamps(distinct.to_pylist())
    if parsed is None:
        return INVALID
    index = pc.index_in(stamps, value_set=distinct).to_numpy()
    as_of = [parsed[i] for i in index.tolist()]
    years = np.array([t.year for t in parsed], dtype=np.float64)[index]
    batch = _batch(ids, as_of, years, categories, numeric)
    return INVALID if batch is None else batch


@dataclass(frozen=True)
class _Part:
    """The readings of one part of a body, as arrays."""

    numeric: NDArray[np.float64]
    ids: pa.StringArray
    stamps: pa.StringArray
    codes: dict[str, NDArray[np.int8]]


def _read_part(data: NDArray[np.uint8], max_batch: int, start: int, split: int) -> _Part | int:
    """Read the readings from `start` (to `split`, or the end); the reader's status when it declines."""
    spans = np.empty((max_batch, len(READING_FIELDS), 2), dtype=np.int32)
    status, rows = json_scan.scan(data, *_NAMES, _KINDS, _NULLABLE_FIELDS, spans, start, split)
    if status != json_scan.OK:
        return int(status)
    text, offsets, null = json_scan.gather_numbers(data, spans, rows, _NUMERIC_POSITIONS)
    try:
        numbers = pc.cast(_strings(text, offsets), pa.float64()).to_numpy(zero_copy_only=False, writable=True)
    except pa.ArrowInvalid:
        return json_scan.WRONG_TYPE
    numeric = numbers.reshape(rows, len(NUMERIC_FIELDS))
    numeric[null] = np.nan
    codes = {name: json_scan.category_codes(data, spans, rows, _POSITION[name], *words)
             for name, words in _CATEGORY_WORDS.items()}
    if any((c < 0).any() for c in codes.values()):
        return json_scan.UNKNOWN_FIELD
    id_bytes, id_offsets = json_scan.gather_text(data, spans, rows, _POSITION["transformer_id"])
    lengths = np.diff(id_offsets)  # ASCII: bytes are characters
    if lengths.min() < 1 or lengths.max() > MAX_ID_LENGTH:
        return json_scan.WRONG_TYPE
    return _Part(numeric=numeric, ids=_strings(id_bytes, id_offsets),
                 stamps=_strings(*json_scan.gather_text(data, spans, rows, _POSITION["as_of"])), codes=codes)


def _msgspec_columns(rows: list[Any], max_batch: int) -> ReadingBatch | None:
    if not 1 <= len(rows) <= max_batch:
        return None
    categories = {}
    for name in ("cooling", "oil_preservation"):
        values = [getattr(r, name) for r in rows]
        if not set(values) <= set(_COLUMNS[name].categories):
            return None
        categories[name] = np.array(values, dtype=object)
    ids = [r.transformer_id for r in rows]
    if not all(1 <= len(t) <= MAX_ID_LENGTH for t in ids):
        return None
    as_of = _timestamps([r.as_of for r in rows])
    if as_of is None:
        return None
    numeric = np.array(list(map(_NUMERIC, rows)), dtype=np.float64).reshape(len(rows), len(NUMERIC_FIELDS))  # None -> NaN
    return _batch(ids, as_of, np.array([t.year for t in as_of], dtype=np.float64), categories, numeric)


def _batch(ids: list[str], as_of: list[datetime], years: NDArray[np.float64], categories: dict[str, NDArray[np.object_]],
           numeric: NDArray[np.float64]) -> ReadingBatch | None:
    """The batch, if the numbers are valid: nulls only where allowed, finite, within physical ranges."""
    missing = np.isnan(numeric)
    if (missing & ~_NULLABLE).any() or np.isinf(numeric).any() or (numeric < _LOW).any() or (numeric > _HIGH).any():
        return None
    return ReadingBatch(transformer_id=ids, as_of=as_of, numeric=numeric, cooling=categories["cooling"],
                        oil_preservation=categories["oil_preservation"], as_of_year=years)


def _timestamps(values: list[str]) -> list[datetime] | None:
    """Parse RFC 3339 strings to naive UTC datetimes (the request model's convention); None if any is unusual."""
    parsed: dict[str, datetime] = {}  # a batch often repeats its snapshot times
    out = []
    for value in values:
        stamp = parsed.get(value)
        if stamp is None:
            if not _TIMESTAMP.fullmatch(value):
                return None
            stamp = datetime.fromisoformat(value)
            stamp = parsed[value] = stamp if stamp.tzinfo is None else stamp.astimezone(UTC).replace(tzinfo=None)
        out.append(stamp)
    return out


def _strings(data: NDArray[np.uint8], offsets: NDArray[np.int32]) -> pa.StringArray:
    """An Arrow string array over packed (ASCII) bytes, without a copy."""
    return pa.StringArray.from_buffers(len(offsets) - 1, pa.py_buffer(offsets), pa.py_buffer(data))


def _packed(words: list[str]) -> tuple[NDArray[np.uint8], NDArray[np.int32], NDArray[np.int32]]:
    """Words as (bytes, start, length) for the compiled reader."""
    encoded = [w.encode("ascii") for w in words]
    lengths = np.array([len(w) for w in encoded], dtype=np.int32)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int32)
    return np.frombuffer(b"".join(encoded), dtype=np.uint8).copy(), starts, lengths


def warm() -> None:
    """Compile the reader and initialise Arrow's number parsing (about 2 s once), before the service is ready."""
    names = ("T1", "T2")
    reading = {c.name: (None if c.nullable else 1) for c in READING_FIELDS}
    reading.update(as_of="2024-01-01T00:00:00", voltage_kv=132.0, rated_mva=60.5, install_year=1990,
                   cooling=_COLUMNS["cooling"].categories[0], oil_preservation=_COLUMNS["oil_preservation"].categories[0])
    body = msgspec.json.encode({"readings": [{**reading, "transformer_id": t} for t in names]})
    if not isinstance(_scan(body, 2), ReadingBatch):
        raise RuntimeError("the compiled body reader declined a valid body while warming up")


_POSITION = {c.name: i for i, c in enumerate(READING_FIELDS)}
_NAMES = _packed([c.name for c in READING_FIELDS])
_KINDS = np.array([json_scan.TEXT if c.kind in ("str", "timestamp", "category") else
                   json_scan.INTEGER if c.kind == "int" else json_scan.NUMBER for c in READING_FIELDS], dtype=np.int8)
_NULLABLE_FIELDS = np.array([c.nullable for c in READING_FIELDS], dtype=np.bool_)
_NUMERIC_POSITIONS = np.array([_POSITION[n] for n in NUMERIC_FIELDS], dtype=np.int32)
_CATEGORY_WORDS = {name: _packed(list(_COLUMNS[name].categories)) for name in ("cooling", "oil_preservation")}
_CATEGORIES = {name: np.array(_COLUMNS[name].categories, dtype=object) for name in _CATEGORY_WORDS}
