"""The `results` array of a score response, written straight to JSON bytes.

Building a dict per reading and per top feature, then encoding them, costs ~3 ms for 1000
readings while holding the interpreter lock. Here orjson encodes each kind of value in bulk (all
probabilities at once, all top-feature values at once, each identifier and distinct timestamp),
and a compiled loop splices those pieces into the row template. The bytes are the ones orjson
writes for the same documents (`result_items`); the tests hold the two to each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache

import numba
import numpy as np
import orjson
from numpy.typing import NDArray

from serving.scoring import Scores
from serving.settings import RISK_BAND_NAMES

_NUMPY = orjson.OPT_SERIALIZE_NUMPY
_TEMPLATE = [b'{"transformer_id":', b',"as_of":', b',"failure_probability":', b',"risk_band":', b',"top_features":[',
             b',"contribution":', b"}", b"]}"]
_COMMA, _LBRACKET, _RBRACKET = 0x2C, 0x5B, 0x5D


def _pack(parts: Sequence[bytes]) -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
    """Byte strings as (data, offsets): part i is data[offsets[i]:offsets[i + 1]]."""
    offsets = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, parts), dtype=np.int64, count=len(parts)), out=offsets[1:])
    return np.frombuffer(b"".join(parts), dtype=np.uint8), offsets


_TEMPLATE_PACKED = _pack(_TEMPLATE)
_BANDS_PACKED = _pack([orjson.dumps(name) for name in RISK_BAND_NAMES])


@lru_cache(maxsize=8)
def _feature_heads(names: tuple[tuple[str, str], ...]) -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
    """`{"feature":…,"label":…,"value":` of every model feature, in model order."""
    return _pack([orjson.dumps({"feature": name, "label": label})[:-1] + b',"value":' for name, label in names])


def _numbers(values: NDArray[np.float64]) -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
    """orjson's text of each value (NaN as null), located in one encoded array."""
    text = np.frombuffer(orjson.dumps(np.ascontiguousarray(values, dtype=np.float64).ravel(), option=_NUMPY),
                         dtype=np.uint8)
    return text, _split(text, values.size)


@numba.njit(nogil=True, cache=True, boundscheck=False)
def _split(text: NDArray[np.uint8], count: int) -> NDArray[np.int64]:  # pragma: no cover - compiled
    """Offsets of the items of a flat JSON array of numbers: item i is text[out[i]:out[i + 1] - 1]."""
    out = np.empty(count + 1, dtype=np.int64)
    out[0] = 1
    k = 1
    for i in range(1, text.shape[0]):
        c = text[i]
        if (c == _COMMA or c == _RBRACKET) and k <= count:
            out[k] = i + 1
            k += 1
    return out


@numba.njit(nogil=True, cache=True, boundscheck=False)
def _put(out: NDArray[np.uint8], at: int, data: NDArray[np.uint8], start: int, stop: int) -> int:  # pragma: no cover
    for j in range(start, stop):
        out[at] = data[j]
        at += 1
    return at


@numba.njit(nogil=True, cache=True, boundscheck=False)
def _write(template: NDArray[np.uint8], template_at: NDArray[np.int64],
           ids: NDArray[np.uint8], id_at: NDArray[np.int64],
           stamps: NDArray[np.uint8], stamp_at: NDArray[np.int64], stamp_of_row: NDArray[np.int64],
           probability: NDArray[np.uint8], probability_at: NDArray[np.int64],
           bands: NDArray[np.uint8], band_at: NDArray[np.int64], band_of_row: NDArray[np.int64],
           heads: NDArray[np.uint8], head_at: NDArray[np.int64], top_index: NDArray[np.int64],
           values: NDArray[np.uint8], value_at: NDArray[np.int64],
           contributions: NDArray[np.uint8], contribution_at: NDArray[np.int64],
           explained: NDArray[np.bool_]) -> NDArray[np.uint8]:  # pragma: no cover - compiled
    rows, top = top_index.shape
    size = 2 + rows * (template_at[-1] + 1) + id_at[-1] + probability_at[-1] + values.shape[0] + contributions.shape[0]
    for r in range(rows):
        s = stamp_of_row[r]
        b = band_of_row[r]
        size += stamp_at[s + 1] - stamp_at[s] + band_at[b + 1] - band_at[b]
        if explained[r]:
            for t in range(top):
                f = top_index[r, t]
                size += head_at[f + 1] - head_at[f] + template_at[6] - template_at[5] + 2
    out = np.empty(size, dtype=np.uint8)
    at = 0
    out[at] = _LBRACKET
    at += 1
    for r in range(rows):
        if r:
            out[at] = _COMMA
            at += 1
        at = _put(out, at, template, template_at[0], template_at[1])
        at = _put(out, at, ids, id_at[r], id_at[r + 1])
        at = _put(out, at, template, template_at[1], template_at[2])
        s = stamp_of_row[r]
        at = _put(out, at, stamps, stamp_at[s], stamp_at[s + 1])
        at = _put(out, at, template, template_at[2], template_at[3])
        at = _put(out, at, probability, probability_at[r], probability_at[r + 1] - 1)
        at = _put(out, at, template, template_at[3], template_at[4])
        b = band_of_row[r]
        at = _put(out, at, bands, band_at[b], band_at[b + 1])
        at = _put(out, at, template, template_at[4], template_at[5])
        if explained[r]:
            for t in range(top):
                if t:
                    out[at] = _COMMA
                    at += 1
                f = top_index[r, t]
                at = _put(out, at, heads, head_at[f], head_at[f + 1])
                k = r * top + t
                at = _put(out, at, values, value_at[k], value_at[k + 1] - 1)
                at = _put(out, at, template, template_at[5], template_at[6])
                at = _put(out, at, contributions, contribution_at[k], contribution_at[k + 1] - 1)
                at = _put(out, at, template, template_at[6], template_at[7])
        at = _put(out, at, template, template_at[7], template_at[8])
    out[at] = _RBRACKET
    at += 1
    return out[:at]


def results_json(names: tuple[tuple[str, str], ...], scores: Scores, transformer_id: Sequence[str],
                 as_of: Sequence[datetime], band_of_row: NDArray[np.int64]) -> bytes:
    """The JSON array of `result_items` for these rows: (feature, label) names in model order, band positions."""
    rows = len(transformer_id)
    if not rows:
        return b"[]"
    ids = _pack([orjson.dumps(t) for t in transformer_id])
    distinct: dict[datetime, int] = {}
    stamp_of_row = np.fromiter((distinct.setdefault(t, len(distinct)) for t in as_of), dtype=np.int64, count=rows)
    stamps = _pack([orjson.dumps(t, option=orjson.OPT_NAIVE_UTC) for t in distinct])
    top_index = np.ascontiguousarray(scores.top_index, dtype=np.int64)
    if top_index.shape[1]:
        top_value = np.take_along_axis(scores.values, top_index, axis=1)
    else:
        top_value = np.empty((rows, 0))
    out = _write(*_TEMPLATE_PACKED, *ids, *stamps, stamp_of_row, *_numbers(scores.probability), *_BANDS_PACKED,
                 np.ascontiguousarray(band_of_row, dtype=np.int64), *_feature_heads(names), top_index,
                 *_numbers(top_value), *_numbers(scores.top_contribution), np.ascontiguousarray(scores.explained))
    return out.tobytes()


def warm() -> None:
    """Compile the writer (about 1 s once) before the service is ready."""
    scores = Scores(values=np.array([[1.0, np.nan]]), probability=np.array([0.5]), top_index=np.array([[1, 0]]),
                    top_contribution=np.array([[0.25, -0.5]]), explained=np.array([True]))
    results_json((("a", "a"), ("b", "b")), scores, ["T1"], [datetime(2024, 1, 1)], np.array([0]))
