"""serving.result_json writes the same bytes orjson writes for the result documents."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import orjson
import pytest

from serving.result_json import results_json
from serving.scoring import Scores, band_positions, result_items

NAMES = (("h2_log_ppm", "hydrogen (log ppm)"), ("age_years", "age (years)"), ("odd", 'quote " and \\ backslash'),
         ("unicode", "température °C"))


def _scores(rows: int, top: int, seed: int) -> Scores:
    rng = np.random.default_rng(seed)
    values = rng.normal(0, 1e3, (rows, len(NAMES))) * rng.choice([1e-9, 1.0, 1e12], (rows, len(NAMES)))
    values[rng.random(values.shape) < 0.2] = np.nan  # unknown values are written as null
    values[0, 0] = 59.0
    order = np.argsort(rng.random((rows, len(NAMES))), axis=1)[:, :top]
    return Scores(values=values, probability=rng.random(rows), top_index=order.astype(np.int64),
                  top_contribution=rng.normal(0, 0.3, (rows, top)), explained=rng.random(rows) < 0.8)


@pytest.mark.parametrize(("rows", "top"), [(1, 3), (7, 0), (250, 3), (40, 4)])
def test_results_are_the_bytes_orjson_writes(rows: int, top: int) -> None:
    scores = _scores(rows, top, seed=rows + top)
    ids = [f"T{i:04d}" for i in range(rows)]
    ids[0] = 'unit "7" \\ ü'  # escaped and non-ASCII identifiers too
    as_of = [datetime(2024, 7, 1, 10, 30, i % 3, 250000 * (i % 2)) for i in range(rows)]
    bands = band_positions(scores.probability, (0.1, 0.3, 0.6))
    expected = orjson.dumps(result_items(NAMES, scores, ids, as_of, bands), option=orjson.OPT_NAIVE_UTC)
    written = results_json(NAMES, scores, ids, as_of, bands)
    assert written == expected
    assert orjson.loads(written)[0]["transformer_id"] == ids[0]


def test_no_rows_is_an_empty_array() -> None:
    scores = Scores(values=np.empty((0, 4)), probability=np.empty(0), top_index=np.empty((0, 3), dtype=np.int64),
                    top_contribution=np.empty((0, 3)), explained=np.empty(0, dtype=bool))
    assert results_json(NAMES, scores, [], [], np.empty(0, dtype=np.int64)) == b"[]"
