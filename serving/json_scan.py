"""The compiled reader of score bodies: one pass over the bytes, each field's value located, nothing allocated per value.

It reads the plain form of `{"readings": [{...}, ...]}` that clients send: any key order and
whitespace, ASCII text without escapes, JSON numbers, null. For every reading it records where
each field's value lies in the body (`spans`) and checks the JSON grammar on the way: an unknown,
repeated or missing field, a value of the wrong JSON type for its field (text for a number, a
fraction or exponent for an integer field, null where the field cannot be null), bad syntax,
trailing bytes, or more readings than allowed. Anything outside the plain form (an escape
sequence, a non-ASCII byte) makes it decline too; the caller then reads the body another way.

Numbers are located, not converted: `gather_numbers` packs their text into one buffer that Arrow
converts in a single call (exact, correctly rounded). Compiled with numba on first use, cached on
disk where numba can write; the loops hold no interpreter lock.
"""

from __future__ import annotations

import numba
import numpy as np
from numpy.typing import NDArray

# Field kinds, as `kinds` gives them per field.
TEXT, NUMBER, INTEGER = 0, 1, 2
# Why a body was declined (for tests and debugging; the caller only needs OK or not).
OK, SYNTAX, UNKNOWN_FIELD, REPEATED_FIELD, MISSING_FIELD, WRONG_TYPE, NULL, TOO_MANY, EMPTY, PLAIN, NOT_A_BOUNDARY = range(11)
MAX_INTEGER_DIGITS = 15  # an integer field's value converts to float exactly below 2**53

_SPACE, _TAB, _LF, _CR = 0x20, 0x09, 0x0A, 0x0D
_QUOTE, _BACKSLASH, _COMMA, _COLON = 0x22, 0x5C, 0x2C, 0x3A
_LBRACE, _RBRACE, _LBRACKET, _RBRACKET = 0x7B, 0x7D, 0x5B, 0x5D
_MINUS, _PLUS, _DOT, _ZERO, _NINE, _E, _e = 0x2D, 0x2B, 0x2E, 0x30, 0x39, 0x45, 0x65
_READINGS = np.frombuffer(b"readings", dtype=np.uint8)
_NULL = np.frombuffer(b"null", dtype=np.uint8)


@numba.njit(nogil=True, cache=True, boundscheck=False)
def _at(body: NDArray[np.uint8], i: int) -> int:  # pragma: no cover - compiled
    """The byte at i, or 0 past the end (0 is never valid where a structural byte is expected)."""
    return int(body[i]) if i < body.shape[0] else 0


@numba.njit(nogil=True, cache=True, boundscheck=False)
def _skip_space(body: NDArray[np.uint8], i: int) -> int:  # pragma: no cover - compiled
    n = body.shape[0]
    while i < n:
        c = body[i]
        if c != _SPACE and c != _LF and c != _CR and c != _TAB:
            break
        i += 1
    return i


@numba.njit(nogil=True, cache=True, boundscheck=False)
def _past(body: NDArray[np.uint8], i: int, byte: int) -> int:  # pragma: no cover - compiled
    """Index after `byte` at i and the spaces that follow it; -1 if the byte at i is another."""
    if _at(body, i) != byte:
        return -1
    return _skip_space(body, i + 1)


@numba.njit(nogil=True, cache=True, boundscheck=False)
def _text_end(body: NDArray[np.uint8], i: int) -> int:  # pragma: no cover - compiled
    """Index of the quote closing the text that starts at i; -1 at an escape, control or non-ASCII byte, or the end."""
    n = body.shape[0]
    while i < n:
        c = body[i]
        if c == _QUOTE:
            return i
        if c == _BACKSLASH or c < 0x20 or c >= 0x80:
            return -1
        i += 1
    return -1


@numba.njit(nogil=True, cache=True, boundscheck=False)
def _digits_end(body: NDArray[np.uint8], i: int) -> int:  # pragma: no cover - compiled
    n = body.shape[0]
    while i < n and _ZERO <= body[i] <= _NINE:
        i += 1
    return i


@numba.njit(nogil=True, cache=True, boundscheck=False)
def _number_end(body: NDArray[np.uint8], i: int, integer: bool) -> int:  # pragma: no cover - compiled
    """End of the JSON number starting at i (an integer field: digits only, at most MAX_INTEGER_DIGITS); -1 if none."""
    if _at(body, i) == _MINUS:
        i += 1
    first = _at(body, i)
    if first == _ZERO:
        end = i + 1
    elif _ZERO < first <= _NINE:
        end = _digits_end(body, i + 1)
    else:
        return -1
    if integer:
        c = _at(body, end)
        if c == _DOT or c == _E or c == _e or end - i > MAX_INTEGER_DIGITS:
            return -1
        return end
    if _at(body, end) == _DOT:
        stop = _digits_end(body, end + 1)
        if stop == end + 1:
            return -1
        end = stop
    c = _at(body, end)
    if c == _E or c == _e:
        end += 1
        c = _at(body, end)
        if c == _PLUS or c == _MINUS:
            end += 1
        stop = _digits_end(body, end)
        if stop == end:
            return -1
        end = stop
    return end


@numba.njit(nogil=True, cache=True, boundscheck=False)
def _same(body: NDArray[np.uint8], start: int, stop: int, word: NDArray[np.uint8], offset: int,
          length: int) -> bool:  # pragma: no cover - compiled
    if stop - start != length:
        return False
    for k in range(length):
        if body[start + k] != word[offset + k]:
            return False
    return True


@numba.njit(nogil=True, cache=True, boundscheck=False)
def _field(body: NDArray[np.uint8], start: int, stop: int, names: NDArray[np.uint8], name_start: NDArray[np.int32],
           name_length: NDArray[np.int32]) -> int:  # pragma: no cover - compiled
    """The field whose name is body[start:stop]; -1 if none."""
    for f in range(name_start.shape[0]):
        if _same(body, start, stop, names, name_start[f], name_length[f]):
            return f
    return -1


@numba.njit(nogil=True, cache=True, boundscheck=False)
def scan(body: NDArray[np.uint8], names: NDArray[np.uint8], name_start: NDArray[np.int32],
         name_length: NDArray[np.int32], kinds: NDArray[np.int8], nullable: NDArray[np.bool_],
         spans: NDArray[np.int32], start: int = 0, split: int = -1) -> tuple[int, int]:  # pragma: no cover - compiled
    """Locate every field value of every reading; return (OK or why not, readings).

    spans: (max readings, fields, 2) filled with each value's [start, stop) in the body (text:
    inside the quotes), or (-1, -1) for null. More readings than spans holds is TOO_MANY.

    To read a body in two parts at once: `split` (from `find_split`) makes the scan stop after
    the reading that ends there, or answer NOT_A_BOUNDARY if no reading ends there (the bytes
    were inside a text); `start=split` reads the readings after it to the end of the body.
    """
    fields = name_start.shape[0]
    max_rows = spans.shape[0]
    everything = (np.uint64(1) << np.uint64(fields)) - np.uint64(1)
    if start > 0:
        i = _past(body, _skip_space(body, start), _COMMA)
        if i < 0:
            return SYNTAX, 0
    else:  # {"readings": [
        i = _past(body, _skip_space(body, 0), _LBRACE)
        if i < 0 or _at(body, i) != _QUOTE:
            return SYNTAX, 0
        end = _text_end(body, i + 1)
        if end < 0 or not _same(body, i + 1, end, _READINGS, 0, _READINGS.shape[0]):
            return UNKNOWN_FIELD, 0
        i = _past(body, _skip_space(body, end + 1), _COLON)
        if i < 0:
            return SYNTAX, 0
        i = _past(body, i, _LBRACKET)
        if i < 0:
            return WRONG_TYPE, 0
        if _at(body, i) == _RBRACKET:
            return EMPTY, 0
    rows = 0
    while True:
        if rows == max_rows:
            return TOO_MANY, rows
        if _at(body, i) != _LBRACE:
            return WRONG_TYPE, rows
        i = _skip_space(body, i + 1)
        seen = np.uint64(0)
        guess = 0
        while True:
            if _at(body, i) != _QUOTE:
                return SYNTAX, rows
            f = guess
            end = i + 1 + (name_length[f] if f < fields else 0)
            if f >= fields or _at(body, end) != _QUOTE or not _same(body, i + 1, end, names, name_start[f],
                                                                    name_length[f]):
                end = _text_end(body, i + 1)  # not the usual next field: find which one it is
                if end < 0:
                    return PLAIN, rows
                f = _field(body, i + 1, end, names, name_start, name_length)
                if f < 0:
                    return UNKNOWN_FIELD, rows
            bit = np.uint64(1) << np.uint64(f)
            if seen & bit:
                return REPEATED_FIELD, rows
            seen |= bit
            guess = f + 1
            i = _skip_space(body, end + 1)
            if _at(body, i) != _COLON:
                return SYNTAX, rows
            i = _skip_space(body, i + 1)
            c = _at(body, i)
            if c == _NULL[0]:
                if not _same(body, i, min(i + 4, body.shape[0]), _NULL, 0, 4):
                    return SYNTAX, rows
                if not nullable[f]:
                    return NULL, rows
                spans[rows, f, 0] = -1
                spans[rows, f, 1] = -1
                i += 4
            elif kinds[f] == TEXT:
                if c != _QUOTE:
                    return WRONG_TYPE, rows
                end = _text_end(body, i + 1)
                if end < 0:
                    return PLAIN, rows
                spans[rows, f, 0] = i + 1
                spans[rows, f, 1] = end
                i = end + 1
            else:
                end = _number_end(body, i, kinds[f] == INTEGER)
                if end < 0:
                    return WRONG_TYPE, rows
                spans[rows, f, 0] = i
                spans[rows, f, 1] = end
                i = end
            i = _skip_space(body, i)
            c = _at(body, i)
            if c == _COMMA:
                i = _skip_space(body, i + 1)
            elif c == _RBRACE:
                i += 1
                break
            else:
                return SYNTAX, rows
        if seen != everything:
            return MISSING_FIELD, rows
        rows += 1
        if split >= 0 and i >= split:
            return (OK if i == split else NOT_A_BOUNDARY), rows
        i = _skip_space(body, i)
        c = _at(body, i)
        if c == _COMMA:
            i = _skip_space(body, i + 1)
        elif c == _RBRACKET:
            if split >= 0:
                return NOT_A_BOUNDARY, rows
            break
        else:
            return SYNTAX, rows
    i = _skip_space(body, i + 1)
    if _at(body, i) != _RBRACE:
        return SYNTAX, rows
    if _skip_space(body, i + 1) != body.shape[0]:
        return SYNTAX, rows
    return OK, rows


@numba.njit(nogil=True, cache=True, boundscheck=False)
def find_split(body: NDArray[np.uint8], at: int) -> int:  # pragma: no cover - compiled
    """The first place from `at` that looks like the end of a reading followed by another (`}` `,` `{`);
    the index after the `}`, or -1. `scan` with `split` checks that a reading really ends there."""
    n = body.shape[0]
    for i in range(at, n):
        if body[i] == _RBRACE:
            j = _skip_space(body, i + 1)
            if _at(body, j) == _COMMA and _at(body, _skip_space(body, j + 1)) == _LBRACE:
                return i + 1
    return -1


@numba.njit(nogil=True, cache=True, boundscheck=False)
def gather_text(body: NDArray[np.uint8], spans: NDArray[np.int32], rows: int,
                field: int) -> tuple[NDArray[np.uint8], NDArray[np.int32]]:  # pragma: no cover - compiled
    """Pack one text field of every reading into (bytes, offsets), the layout of an Arrow string array."""
    offsets = np.empty(rows + 1, dtype=np.int32)
    offsets[0] = 0
    for r in range(rows):
        offsets[r + 1] = offsets[r] + spans[r, field, 1] - spans[r, field, 0]
    data = np.empty(offsets[rows], dtype=np.uint8)
    for r in range(rows):
        at = offsets[r]
        for j in range(spans[r, field, 0], spans[r, field, 1]):
            data[at] = body[j]
            at += 1
    return data, offsets


@numba.njit(nogil=True, cache=True, boundscheck=False)
def gather_numbers(body: NDArray[np.uint8], spans: NDArray[np.int32], rows: int, fields: NDArray[np.int32]
                   ) -> tuple[NDArray[np.uint8], NDArray[np.int32], NDArray[np.bool_]]:  # pragma: no cover - compiled
    """Pack the numbers of `fields` of every reading, row by row, as (bytes, offsets, null); a null packs as "0"."""
    count = rows * fields.shape[0]
    offsets = np.empty(count + 1, dtype=np.int32)
    null = np.zeros(count, dtype=np.bool_)
    offsets[0] = 0
    k = 0
    for r in range(rows):
        for f in fields:
            width = spans[r, f, 1] - spans[r, f, 0]
            if spans[r, f, 0] < 0:
                null[k] = True
                width = 1
            offsets[k + 1] = offsets[k] + width
            k += 1
    data = np.empty(offsets[count], dtype=np.uint8)
    k = 0
    for r in range(rows):
        for f in fields:
            at = offsets[k]
            if null[k]:
                data[at] = _ZERO
            else:
                for j in range(spans[r, f, 0], spans[r, f, 1]):
                    data[at] = body[j]
                    at += 1
            k += 1
    return data, offsets, null.reshape(rows, fields.shape[0])


@numba.njit(nogil=True, cache=True, boundscheck=False)
def category_codes(body: NDArray[np.uint8], spans: NDArray[np.int32], rows: int, field: int, words: NDArray[np.uint8],
                   word_start: NDArray[np.int32], word_length: NDArray[np.int32]) -> NDArray[np.int8]:  # pragma: no cover
    """Each reading's position of its `field` text among the words; -1 where it is none of them."""
    codes = np.full(rows, -1, dtype=np.int8)
    for r in range(rows):
        for w in range(word_start.shape[0]):
            if _same(body, spans[r, field, 0], spans[r, field, 1], words, word_start[w], word_length[w]):
                codes[r] = w
                break
    return codes
