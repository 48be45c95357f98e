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
from tests.serving.factory import readings_json, synthetic_readings

MAX_BATCH = 1000
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
