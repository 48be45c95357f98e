"""serving.trees: margins bit for bit and TreeSHAP contributions as XGBoost computes them."""

from __future__ import annotations

import numpy as np
import pytest
import xgboost as xgb

from serving.trees import PARALLEL_ROWS, UnsupportedBooster, build_tables, verify
from tasks.features import compute_features
from tests.serving.factory import synthetic_readings, train_tiny_model


@pytest.mark.parametrize(("rounds", "depth"), [(20, 2), (30, 4), (12, 6)])
def test_tables_match_xgboost(rounds: int, depth: int) -> None:
    tiny = train_tiny_model(seed=3, rounds=rounds, depth=depth)
    booster = tiny.model.booster
    # 600 rows: more than one tile of the compiled loop, and split over two threads
    values = compute_features(synthetic_readings(600, seed=5)).to_numpy(dtype=np.float32)
    values[::5, 3] = np.nan  # missing values take each split's default branch
    values[::7, :] = np.nan
    tables = build_tables(booster)
    columns = list(tiny.model.feature_columns)
    assert verify(tables, booster, values, columns) is None

    matrix = xgb.DMatrix(values, feature_names=columns, missing=np.nan)
    explain = np.arange(len(values)) % 3 == 0
    margin, contribs = tables.evaluate(values, explain)
    np.testing.assert_array_equal(margin, booster.predict(matrix, output_margin=True).astype(np.float64))
    reference = booster.predict(matrix, pred_contribs=True)
    np.testing.assert_allclose(contribs, reference[explain, :-1], rtol=1e-5, atol=1e-6)
    assert tables.bias == pytest.approx(float(reference[0, -1]), rel=1e-6)


def test_large_batches_score_as_single_rows() -> None:
    """The two-thread split and the tiles change nothing: a batch scores as its rows one at a time."""
    tiny = train_tiny_model(seed=3, rounds=40, depth=4)
    tables = build_tables(tiny.model.booster)
    values = compute_features(synthetic_readings(PARALLEL_ROWS * 2 + 3, seed=9)).to_numpy(dtype=np.float32)
    margin, contribs = tables.evaluate(values)
    singles = [tables.evaluate(values[i:i + 1]) for i in range(0, len(values), 37)]
    np.testing.assert_array_equal(margin[::37], np.concatenate([m for m, _ in singles]))
    np.testing.assert_array_equal(contribs[::37], np.concatenate([c for _, c in singles]))
    margin_only, none = tables.evaluate(values, np.zeros(len(values), dtype=bool))
    np.testing.assert_array_equal(margin_only, margin)
    assert none.shape == (0, tables.n_features)


def test_verify_names_a_margin_mismatch() -> None:
    tiny = train_tiny_model(seed=3)
    tables = build_tables(tiny.model.booster)
    other = train_tiny_model(seed=4).model.booster
    values = compute_features(synthetic_readings(20, seed=5)).to_numpy(dtype=np.float32)
    assert "margins differ" in str(verify(tables, other, values, list(tiny.model.feature_columns)))


def test_multiclass_booster_is_unsupported() -> None:
    rng = np.random.default_rng(0)
    data = xgb.DMatrix(rng.normal(size=(60, 4)), label=rng.integers(0, 3, 60))
    booster = xgb.train({"objective": "multi:softprob", "num_class": 3, "max_depth": 2}, data, num_boost_round=2)
    with pytest.raises(UnsupportedBooster, match="binary:logistic"):
        build_tables(booster)


@pytest.mark.parametrize("entries", [16, 256])  # paths of 4 splits (one register), and of 8
def test_table_look_ups_agree_row_by_row_and_16_at_a_time(entries: int) -> None:
    from serving import tree_kernel

    rng = np.random.default_rng(entries)
    table = rng.normal(size=entries).astype(np.float32)
    for rows in (1, 15, 16, 37, 256):
        pattern = rng.integers(0, entries, rows).astype(np.uint8)
        start = rng.normal(size=rows)
        one = start.copy()
        tree_kernel._look_up_rows(pattern, table, one)
        np.testing.assert_array_equal(one, start + table[pattern].astype(np.float64))
        if tree_kernel.PERMUTE_16:  # AVX-512 (this project's machines): the kernel uses the 16-row version
            sixteen = start.copy()
            tree_kernel._look_up_permuted(pattern, table, sixteen)
            np.testing.assert_array_equal(sixteen, one)
            assert tree_kernel._look_up is tree_kernel._look_up_permuted
        else:
            assert tree_kernel._look_up is tree_kernel._look_up_rows
