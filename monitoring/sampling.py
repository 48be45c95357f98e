"""Seeded uniform row sampling, in memory or streamed in bounded memory, so drift cost stops growing with the window."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa


def sample_rows(frame: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    """Return a uniform random sample of at most `max_rows` rows, kept in their original order."""
    if max_rows < 1:
        raise ValueError(f"max_rows must be >= 1, got {max_rows}")
    if len(frame) <= max_rows:
        return frame
    picked = np.random.default_rng(seed).choice(len(frame), size=max_rows, replace=False)
    return frame.iloc[np.sort(picked)]


class ReservoirSampler:
    """Keep a uniform random sample of at most `max_rows` rows from Arrow batches streamed through it.

    Each row draws a uniform key and the rows with the `max_rows` smallest keys are kept (bottom-k
    sampling), which gives every subset of that size the same chance. Memory holds the sample plus
    a buffer of candidates; once the sample is full only rows whose key beats the largest kept key
    are buffered, so late batches cost little. The buffer is merged into the sample when it reaches
    the sample's size, so many small batches cost no more than a few large ones. The keys come from
    one seeded stream, so the sample does not depend on how the rows were split into batches.
    """

    def __init__(self, max_rows: int, seed: int) -> None:
        if max_rows < 1:
            raise ValueError(f"max_rows must be >= 1, got {max_rows}")
        self.max_rows = max_rows
        self._rng = np.random.default_rng(seed)
        self._tables: list[pa.Table] = []  # the sample (after a merge: one table) plus buffered candidates
        self._keys: list[np.ndarray] = []
        self._order: list[np.ndarray] = []  # arrival positions, to return rows in log order
        self._buffered = 0
        self._cutoff = np.inf  # largest key in a full sample: rows with larger keys can never get in
        self.rows_seen = 0

    def add(self, batch: pa.RecordBatch | pa.Table) -> None:
        """Offer every row of `batch` to the sample."""
        n = batch.num_rows
        if n == 0:
            return
        keys = self._rng.random(n)
        order = np.arange(self.rows_seen, self.rows_seen + n, dtype=np.int64)
        self.rows_seen += n
        take = np.flatnonzero(keys < self._cutoff)
        if take.size == 0:
            return
        table = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
        self._tables.append(table if take.size == n else table.take(pa.array(take)))
        self._keys.append(keys[take])
        self._order.append(order[take])
        self._buffered += take.size
        if self._buffered >= 2 * self.max_rows:
            self._merge()

    def _merge(self) -> None:
        """Keep the `max_rows` smallest keys of sample and buffer, as one contiguous table."""
        keys, order = np.concatenate(self._keys), np.concatenate(self._order)
        table = pa.concat_tables(self._tables)
        if len(keys) > self.max_rows:
            keep = np.argpartition(keys, self.max_rows - 1)[: self.max_rows]
            table, keys, order = table.take(pa.array(keep)), keys[keep], order[keep]
            self._cutoff = float(keys.max())
        self._tables, self._keys, self._order = [table.combine_chunks()], [keys], [order]
        self._buffered = len(keys)

    def to_pandas(self) -> pd.DataFrame | None:
        """Return the sample in arrival order (None when no row was offered)."""
        if not self._tables:
            return None
        self._merge()
        ordered = self._tables[0].take(pa.array(np.argsort(self._order[0], kind="stable")))
        return ordered.to_pandas()
