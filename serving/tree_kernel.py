"""The compiled loop behind serving.trees: margins and TreeSHAP contributions of a block of rows.

Rows are taken a tile at a time, leaves in tree order. For a tile, every split node's decision is
evaluated once per row; then, leaf by leaf, each row's decision pattern on the leaf's path is
assembled, the reached leaf's value added to the row's float32 margin (so margins sum in tree
order, as XGBoost's do), and the leaf's Shapley values for that pattern added to the row's
feature totals. A leaf's table (2^width patterns per path slot) stays in the first-level cache
while the tile's rows use it.

Compiled with numba on first use (about 1.5 s, cached on disk where numba can write); it holds
no interpreter lock, so two threads can score two halves of a large batch at once.
"""

from __future__ import annotations

import numba
import numpy as np
from numpy.typing import NDArray

TILE_ROWS = 128


@numba.njit(nogil=True, cache=True, boundscheck=False)
def evaluate_block(columns: NDArray[np.float32], start: int, stop: int, explain: bool,
                   node_feature: NDArray[np.int32], node_threshold: NDArray[np.float32],
                   node_default_left: NDArray[np.uint8], edge_node: NDArray[np.int32], edge_flip: NDArray[np.uint32],
                   leaf_edges: NDArray[np.int32], slot_feature: NDArray[np.int32], leaf_slots: NDArray[np.int32],
                   table: NDArray[np.float32], leaf_value: NDArray[np.float32],
                   base_margin: np.float32, margin: NDArray[np.float64],
                   contribs: NDArray[np.float64]) -> None:  # pragma: no cover - compiled
    """Fill margin[start:stop] and, when `explain`, contribs[start:stop] (rows x features).

    columns: (features, rows) values, NaN = missing. edge_node/edge_flip: (leaves, width) node of
    each path edge (the extra node `nodes` is always true) and 1 where the edge is the right branch.
    leaf_edges: edges on each leaf's path (the rest, padding, are always taken).
    slot_feature: (leaves, width) feature of each distinct path feature, `features` for padding.
    leaf_slots: distinct features on each leaf's path (padding slots have no value to add).
    table: (leaves, width, 2^width) Shapley value of each slot for each decision pattern.
    """
    n_nodes = node_feature.shape[0]
    n_leaves, width = edge_node.shape
    n_features = contribs.shape[1]
    full = np.uint32((1 << width) - 1)
    decision = np.empty((n_nodes + 1, TILE_ROWS), dtype=np.uint8)
    decision[n_nodes, :] = 1
    totals = np.zeros((n_features + 1, TILE_ROWS))
    pattern = np.empty(TILE_ROWS, dtype=np.uint32)
    sums = np.empty(TILE_ROWS, dtype=np.float32)
    zero = np.float32(0.0)
    for first in range(start, stop, TILE_ROWS):
        rows = min(stop, first + TILE_ROWS) - first
        for k in range(n_nodes):
            values = columns[node_feature[k]]
            threshold = node_threshold[k]
            missing = node_default_left[k]
            out = decision[k]
            for r in range(rows):
                v = values[first + r]
                out[r] = missing if v != v else (1 if v < threshold else 0)
        sums[:] = base_margin
        if explain:
            totals[:, :] = 0.0
        for leaf in range(n_leaves):
            pattern[:rows] = full ^ ((np.uint32(1) << np.uint32(leaf_edges[leaf])) - np.uint32(1))
            for e in range(leaf_edges[leaf]):
                taken = decision[edge_node[leaf, e]]
                flip = edge_flip[leaf, e]
                shift = np.uint32(e)
                for r in range(rows):
                    pattern[r] |= (np.uint32(taken[r]) ^ flip) << shift
            value = leaf_value[leaf]
            for r in range(rows):
                sums[r] += value if pattern[r] == full else zero
            if explain:
                for s in range(leaf_slots[leaf]):
                    total = totals[slot_feature[leaf, s]]
                    shapley = table[leaf, s]
                    for r in range(rows):
                        total[r] += shapley[pattern[r]]
        for r in range(rows):
            margin[first + r] = sums[r]
        if explain:
            for f in range(n_features):
                for r in range(rows):
                    contribs[first + r, f] = totals[f, r]


@numba.njit(nogil=True, cache=True, boundscheck=False)
def strongest(contribs: NDArray[np.float64], k: int) -> NDArray[np.int64]:  # pragma: no cover - compiled
    """Return each row's k largest |contribution| positions, strongest first (ties: the lower position first)."""
    rows, features = contribs.shape
    out = np.empty((rows, k), dtype=np.int64)
    strength = np.empty(k)
    for i in range(rows):
        kept = 0
        for j in range(features):
            a = abs(contribs[i, j])
            if kept == k and not a > strength[k - 1]:
                continue
            p = kept if kept < k else k - 1  # the slot it takes, then bubble it up past weaker ones
            while p > 0 and a > strength[p - 1]:
                if p < k:
                    strength[p] = strength[p - 1]
                    out[i, p] = out[i, p - 1]
                p -= 1
            strength[p] = a
            out[i, p] = j
            if kept < k:
                kept += 1
    return out
