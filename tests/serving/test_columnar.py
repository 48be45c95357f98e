"""serving.columnar: never accepts a body the request model refuses; what it accepts, it reads to the same values."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from serving.columnar import read_batch
from serving.schemas import score_request_model
from serving.scoring import ReadingBatch
from tasks.features import NUMERIC_FIELDS
from tests.serving.factory import readings_json, synthetic_readings

MAX_BATCH = 1000
NUMERIC = NUMERIC_FIELDS
Mutation = Callable[[list[dict[str, Any]]], object]


def _readings() -> list[dict[str, Any]]:
    rows = readings_json(synthetic_readings(200, seed=11))  # has nulls
    rows[1]["as_of"] = "2024-07-01T10:30:00.25+02:00"
    rows[2]["as_of"] = "2024-07-01T10:30:00"
    rows[3]["h2"] = 12  # an integer where a number is expected
    return rows


def _set(index: int, field: str, value: object) -> Mutation:
    def mutate(rows: list[dict[str, Any]]) -> object:
        rows[index][field] = value
        return rows
    return mutate


def _drop(field: str) -> Mutation:
    def mutate(rows: list[dict[str, Any]]) -> object:
        del rows[5][field]
        return rows
    return mutate


def _extra(rows: list[dict[str, Any]]) -> object:
    rows[7]["colour"] = "blue"
    return rows


MUTATIONS: dict[str, Mutation] = {
    "none": lambda rows: rows,
    "bool for a number": _set(4, "h2", True),
    "string for a number": _set(4, "h2", "12"),
    "float for the install year": _set(4, "install_year", 1990.0),
    "negative gas": _set(4, "ch4", -1.0),
    "too hot": _set(4, "hot_spot_max_30d", 1e6),
    "null where not allowed": _set(4, "install_year", None),
    "unknown cooling": _set(4, "cooling", "ONAX"),
    "empty id": _set(4, "transformer_id", ""),
    "long id": _set(4, "transformer_id", "x" * 129),
    "id not a string": _set(4, "transformer_id", 7),
    "date only": _set(4, "as_of", "2024-07-01"),
    "lowercase t": _set(4, "as_of", "2024-07-01t00:00:00Z"),
    "month 13": _set(4, "as_of", "2024-13-01T00:00:00Z"),
    "timestamp number": _set(4, "as_of", 1719792000),
    "missing field": _drop("co2"),
    "extra field": _extra,
    "not an object": lambda rows: [*rows[:3], [1, 2]],
}


@pytest.mark.parametrize("name", MUTATIONS)
def test_reader_agrees_with_the_request_model(name: str) -> None:
    document = {"readings": MUTATIONS[name](_readings())}
    body = json.dumps(document).encode()
    fast = read_batch(body, MAX_BATCH)
    try:
        models = score_request_model(MAX_BATCH).model_validate_json(body).readings
    except ValidationError:
        assert fast is None, "accepted a body the request model refuses"
        return
    if name == "none":
        assert fast is not None, "declined a clean body"
    if fast is None:
        return
    expected = ReadingBatch.from_models(models)
    assert fast.transformer_id == expected.transformer_id and fast.as_of == expected.as_of
    np.testing.assert_array_equal(fast.numeric, expected.numeric)
    np.testing.assert_array_equal(fast.as_of_year, expected.as_of_year)
    assert fast.cooling.tolist() == expected.cooling.tolist()
    assert fast.oil_preservation.tolist() == expected.oil_preservation.tolist()


@pytest.mark.parametrize("body", [b"{", b'{"readings": []}', b'{"readings": {}}', b'{"readings": [], "x": 1}',
                                  b"[1, 2]", b'{"readings": [' + b" " * 20_000 + b"]}"])
def test_reader_declines_malformed_or_empty_bodies(body: bytes) -> None:
    assert read_batch(body, MAX_BATCH) is None


def test_reader_declines_more_than_the_batch_cap() -> None:
    body = json.dumps({"readings": _readings()}).encode()
    assert read_batch(body, 199) is None and read_batch(body, 200) is not None


def test_small_bodies_are_left_to_the_request_model() -> None:
    body = json.dumps({"readings": _readings()[:2]}).encode()
    assert read_batch(body, MAX_BATCH) is None


def _scan_status(body: bytes, max_rows: int = MAX_BATCH) -> int:
    from serving import columnar, json_scan

    spans = np.empty((max_rows, len(columnar.READING_FIELDS), 2), dtype=np.int32)
    status, _ = json_scan.scan(np.frombuffer(body, dtype=np.uint8), *columnar._NAMES, columnar._KINDS,
                               columnar._NULLABLE_FIELDS, spans)
    return int(status)


def _agrees(body: bytes) -> ReadingBatch | None:
    """read_batch's answer, after checking it against the request model's."""
    fast = read_batch(body, MAX_BATCH)
    try:
        models = score_request_model(MAX_BATCH).model_validate_json(body).readings
    except ValidationError:
        assert fast is None, "accepted a body the request model refuses"
        return None
    if fast is not None:
        expected = ReadingBatch.from_models(models)
        assert fast.transformer_id == expected.transformer_id and fast.as_of == expected.as_of
        np.testing.assert_array_equal(fast.numeric, expected.numeric)
        assert fast.cooling.tolist() == expected.cooling.tolist()
    return fast


def test_the_compiled_reader_takes_plain_bodies_in_any_layout() -> None:
    from serving import json_scan

    rows = _readings()
    shuffled = [dict(reversed(list(r.items()))) for r in rows]  # keys in another order
    for body in (json.dumps({"readings": rows}).encode(), json.dumps({"readings": shuffled}).encode(),
                 json.dumps({"readings": rows}, indent=2).encode(),  # newlines and indentation
                 json.dumps({"readings": rows}, separators=(",", ":")).encode()):
        assert _scan_status(body) == json_scan.OK
        assert _agrees(body) is not None


@pytest.mark.parametrize(("text", "value"), [("0", 0.0), ("-0.0", -0.0), ("12", 12.0), ("1.5e2", 150.0),
                                             ("2E-3", 0.002), ("1e+1", 10.0), ("0.30000000000000004", 0.30000000000000004),
                                             ("123.45678901234567890123", 123.45678901234568)])
def test_numbers_are_read_exactly(text: str, value: float) -> None:
    from serving import json_scan

    rows = _readings()
    document = json.dumps({"readings": rows}).encode()
    marker = json.dumps(rows[0]["moisture_ppm"]).encode()
    body = document.replace(b'"moisture_ppm": ' + marker, b'"moisture_ppm": ' + text.encode(), 1)
    assert _scan_status(body) == json_scan.OK
    fast = _agrees(body)
    assert fast is not None
    assert fast.numeric[0, list(NUMERIC).index("moisture_ppm")] == value
    assert np.signbit(fast.numeric[0, list(NUMERIC).index("moisture_ppm")]) == np.signbit(value)


@pytest.mark.parametrize(("old", "new", "why"), [
    (b'"h2": ', b'"h2": 01', "SYNTAX"),  # leading zero: not JSON
    (b'"h2": ', b'"h2": .5', "WRONG_TYPE"),
    (b'"h2": ', b'"h2": 1.', "WRONG_TYPE"),
    (b'"h2": ', b'"h2": 1e', "WRONG_TYPE"),
    (b'"h2": ', b'"h2": NaN', "WRONG_TYPE"),
    (b'"h2": ', b'"h2": Infinity', "WRONG_TYPE"),
    (b'"h2": ', b'"h2": nul', "SYNTAX"),
    (b'"h2": ', b'"h2": true', "WRONG_TYPE"),
    (b'"h2": ', b'"h2": "5"', "WRONG_TYPE"),
    (b'"install_year": ', b'"install_year": 1.99e3', "WRONG_TYPE"),
    (b'"install_year": ', b'"install_year": null', "NULL"),
    (b'"transformer_id": ', b'"transformer_id": 7', "WRONG_TYPE"),
    (b'"h2": ', b'"h2": 5, "h2": ', "REPEATED_FIELD"),
    (b'"h2": ', b'"H2": ', "UNKNOWN_FIELD"),
    (b'"transformer_id": "', b'"transformer_id": "\\u0054', "PLAIN"),  # an escape: read another way
    (b'"transformer_id": "', b'"transformer_id": "\xc3\xa9', "PLAIN"),  # non-ASCII: read another way
])
def test_the_compiled_reader_declines_what_it_does_not_read(old: bytes, new: bytes, why: str) -> None:
    from serving import json_scan

    rows = _readings()
    rows[0]["h2"] = 3.0  # the first reading has values where the replacements go
    body = json.dumps({"readings": rows}).encode()
    if old == b'"h2": ':
        body = body.replace(b'"h2": 3.0', new, 1)
    else:
        body = body.replace(old, new, 1)
    assert _scan_status(body) == getattr(json_scan, why)
    _agrees(body)  # and read_batch as a whole still agrees with the request model


def test_truncated_or_padded_bodies_never_read_past_the_end() -> None:
    from serving import json_scan

    body = json.dumps({"readings": _readings()[:3]}).encode()
    assert _scan_status(body) == json_scan.OK
    for cut in range(0, len(body), 7):
        assert _scan_status(body[:cut]) != json_scan.OK
    assert _scan_status(body + b" \n") == json_scan.OK
    assert _scan_status(body + b" x") == json_scan.SYNTAX
    assert _scan_status(body[:-1] + b', "other": 1}') == json_scan.SYNTAX  # only "readings" at the top
    assert _scan_status(body, max_rows=2) == json_scan.TOO_MANY
    del_one = json.loads(body)
    del del_one["readings"][1]["co2"]
    assert _scan_status(json.dumps(del_one).encode()) == json_scan.MISSING_FIELD


def test_a_body_the_compiled_reader_declines_is_still_read_when_valid() -> None:
    rows = _readings()
    rows[9]["transformer_id"] = "Umspannwerk Süd \"T3\""  # non-ASCII and escaped quotes: msgspec reads it
    fast = _agrees(json.dumps({"readings": rows}).encode())
    assert fast is not None and fast.transformer_id[9] == rows[9]["transformer_id"]


def test_a_large_body_is_read_in_two_parts_and_agrees() -> None:
    from serving import columnar, json_scan

    body = json.dumps({"readings": _readings()}).encode()
    assert len(body) >= columnar.SPLIT_BYTES
    data = np.frombuffer(body, dtype=np.uint8)
    split = json_scan.find_split(data, len(body) // 2)
    assert split > 0 and body[split - 1:split] == b"}"
    spans = np.empty((MAX_BATCH, len(columnar.READING_FIELDS), 2), dtype=np.int32)
    first = json_scan.scan(data, *columnar._NAMES, columnar._KINDS, columnar._NULLABLE_FIELDS, spans, 0, split)
    second = json_scan.scan(data, *columnar._NAMES, columnar._KINDS, columnar._NULLABLE_FIELDS, spans, split, -1)
    assert first[0] == second[0] == json_scan.OK and first[1] + second[1] == 200
    fast = _agrees(body)
    assert fast is not None and len(fast) == 200


def test_a_split_that_falls_inside_a_text_is_noticed() -> None:
    from serving import columnar, json_scan

    # Identifiers last in each reading and looking like a reading boundary: the first candidate
    # after the middle is inside one of them.
    rows = [{**{k: v for k, v in r.items() if k != "transformer_id"}, "transformer_id": f"A}}, {{B{i}"}
            for i, r in enumerate(_readings())]
    body = json.dumps({"readings": rows}).encode()
    data = np.frombuffer(body, dtype=np.uint8)
    split = json_scan.find_split(data, len(body) // 2)
    assert body[split - 2:split + 3] == b"A}, {"  # inside an identifier
    spans = np.empty((MAX_BATCH, len(columnar.READING_FIELDS), 2), dtype=np.int32)
    status, _ = json_scan.scan(data, *columnar._NAMES, columnar._KINDS, columnar._NULLABLE_FIELDS, spans, 0, split)
    assert status == json_scan.NOT_A_BOUNDARY
    fast = _agrees(body)  # read in one piece instead
    assert fast is not None and fast.transformer_id == [r["transformer_id"] for r in rows]


@pytest.mark.parametrize("where", [3, 190])  # a bad value in the first part, then in the second
def test_a_bad_value_in_either_part_declines(where: int) -> None:
    rows = _readings()
    rows[where]["ch4"] = -5.0
    assert _agrees(json.dumps({"readings": rows}).encode()) is None
