"""Uniform sampling: in memory and streamed through a bounded reservoir, seeded and batch-split independent."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from monitoring import ReservoirSampler, sample_rows


def stream(values: np.ndarray, batch: int, max_rows: int, seed: int) -> tuple[pd.DataFrame, ReservoirSampler]:
    sampler = ReservoirSampler(max_rows, seed)
    for i in range(0, len(values), batch):
        sampler.add(pa.record_batch({"x": values[i : i + batch]}))
        assert sampler._buffered <= 2 * max_rows + batch  # bounded memory at every step
    sample = sampler.to_pandas()
    assert sample is not None
    return sample, sampler


def test_sample_rows_is_a_seeded_uniform_subset_in_order() -> None:
    frame = pd.DataFrame({"x": np.arange(10_000)})
    assert sample_rows(frame, 20_000, 0) is frame
    a, b, c = (sample_rows(frame, 1_000, s) for s in (0, 0, 1))
    assert len(a) == 1_000 and a["x"].is_unique and a["x"].is_monotonic_increasing
    assert a.equals(b) and not a.equals(c)
    with pytest.raises(ValueError, match="max_rows"):
        sample_rows(frame, 0, 0)


def test_reservoir_keeps_at_most_the_cap_and_counts_every_row() -> None:
    sample, sampler = stream(np.arange(50_000), 4_096, 1_000, seed=3)
    assert len(sample) == 1_000 and sampler.rows_seen == 50_000
    assert sample["x"].is_unique and sample["x"].is_monotonic_increasing  # arrival order
    small, _ = stream(np.arange(300), 64, 1_000, seed=3)
    assert small["x"].tolist() == list(range(300))
    assert ReservoirSampler(10, 0).to_pandas() is None


def test_reservoir_does_not_depend_on_batch_boundaries() -> None:
    values = np.arange(20_000)
    one, _ = stream(values, 20_000, 500, seed=9)
    many, _ = stream(values, 777, 500, seed=9)
    assert one["x"].tolist() == many["x"].tolist()


def test_reservoir_is_uniform_over_the_stream() -> None:
    # Early and late rows must be equally likely: 40 seeds x 1,000 of 10,000 rows.
    counts = np.zeros(10, dtype=int)
    for seed in range(40):
        sample, _ = stream(np.arange(10_000), 1_000, 1_000, seed)
        counts += np.bincount(sample["x"].to_numpy() // 1_000, minlength=10)
    shares = counts / counts.sum()
    assert np.all(np.abs(shares - 0.1) < 0.01), shares
