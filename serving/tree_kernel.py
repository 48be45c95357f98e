"""The compiled loop behind serving.trees: margins and TreeSHAP contributions of a block of rows.

Rows are taken a tile at a time, leaves in tree order. For a tile, every split node's decision is
evaluated once per row; then, leaf by leaf, each row's decision pattern on the leaf's path is
assembled, the reached leaf's value added to the row's float32 margin (so margins sum in tree
order, as XGBoost's do), and the leaf's Shapley values for that pattern added to the row's
feature totals. A leaf's table (2^width patterns per path slot) stays in the first-level cache
while the tile's rows use it.

Each row loop is its own small compiled function taking the arrays it reads and writes as
arguments: the compiler then knows they do not overlap and vectorises the loop (inlined into
one function, the same loops ran one row at a time: 1.5x slower margins, 15% slower in all).
The table look-up, most of the work, is not a loop compilers vectorise (an indexed load per
row); on processors with AVX-512 it is done 16 rows at a time by one permute instruction, the
16-entry table of a depth-4 path slot held in a register (2.7x faster than one row at a time).

Compiled with numba on first use (about 1.5 s, cached on disk where numba can write); it holds
no interpreter lock, so two threads can score two halves of a large batch at once.
"""

from __future__ import annotations

import llvmlite.binding as llvm
import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic
from numpy.typing import NDArray

TILE_ROWS = 256
VECTOR_ROWS = 32  # from this many rows in a tile, the vectorised steps


@numba.njit(nogil=True, cache=True, boundscheck=False, inline="never")
def _decide(values: NDArray[np.float32], threshold: np.float32, missing: np.uint8,
            out: NDArray[np.uint8]) -> None:  # pragma: no cover - compiled
    """out[r] = 1 where the row goes left at this node (value below the threshold, or missing and default left)."""
    for r in range(values.shape[0]):
        v = values[r]
        out[r] = missing if v != v else np.uint8(v < threshold)


@numba.njit(nogil=True, cache=True, boundscheck=False, inline="never")
def _mark(taken: NDArray[np.uint8], flip: np.uint32, shift: np.uint32,
          pattern: NDArray[np.uint8]) -> None:  # pragma: no cover - compiled
    """Set bit `shift` of each row's pattern where the row follows this path edge."""
    for r in range(pattern.shape[0]):
        pattern[r] |= np.uint8((np.uint32(taken[r]) ^ flip) << shift)


@numba.njit(nogil=True, cache=True, boundscheck=False, inline="never")
def _reach(pattern: NDArray[np.uint8], full: np.uint8, value: np.float32,
           sums: NDArray[np.float32]) -> None:  # pragma: no cover - compiled
    """Add the leaf's value to the margin of the rows that reach it (every edge followed)."""
    zero = np.float32(0.0)
    for r in range(pattern.shape[0]):
        sums[r] += value if pattern[r] == full else zero


@numba.njit(nogil=True, cache=True, boundscheck=False, inline="never")
def _look_up_rows(pattern: NDArray[np.uint8], shapley: NDArray[np.float32],
                  total: NDArray[np.float64]) -> None:  # pragma: no cover - compiled
    """Add each row's Shapley value for its pattern to the feature's total, one row at a time."""
    for r in range(pattern.shape[0]):
        total[r] += shapley[pattern[r]]


@intrinsic
def _add_permuted16(typingctx, table, pattern, total, at):  # type: ignore[no-untyped-def]  # pragma: no cover
    """total[at:at+16] += table[pattern[at:at+16]]: a 16-float table (one register) permuted by 16 patterns."""
    signature = types.void(table, pattern, total, at)

    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        table_, pattern_, total_ = (context.make_array(t)(context, builder, a) for t, a in zip(sig.args[:3], args[:3]))
        f32x16, i32x16 = ir.VectorType(ir.FloatType(), 16), ir.VectorType(ir.IntType(32), 16)
        u8x16, f64x16 = ir.VectorType(ir.IntType(8), 16), ir.VectorType(ir.DoubleType(), 16)
        values = builder.load(builder.bitcast(table_.data, f32x16.as_pointer()), align=4)
        index = builder.load(builder.bitcast(builder.gep(pattern_.data, [args[3]]), u8x16.as_pointer()), align=1)
        permute = cgutils.get_or_insert_function(builder.module, ir.FunctionType(f32x16, [f32x16, i32x16]),
                                                 "llvm.x86.avx512.permvar.sf.512")
        looked_up = builder.fpext(builder.call(permute, [values, builder.zext(index, i32x16)]), f64x16)
        where = builder.bitcast(builder.gep(total_.data, [args[3]]), f64x16.as_pointer())
        builder.store(builder.fadd(builder.load(where, align=8), looked_up), where, align=8)
        return context.get_dummy_value()

    return signature, codegen


@numba.njit(nogil=True, cache=True, boundscheck=False, inline="never")
def _look_up_permuted(pattern: NDArray[np.uint8], shapley: NDArray[np.float32],
                      total: NDArray[np.float64]) -> None:  # pragma: no cover - compiled
    """_look_up_rows, 16 rows per instruction where the table has 16 entries (paths of 4 splits)."""
    rows = pattern.shape[0]
    r = 0
    if shapley.shape[0] == 16:
        while r + 16 <= rows:
            _add_permuted16(shapley, pattern, total, r)
            r += 16
    while r < rows:
        total[r] += shapley[pattern[r]]
        r += 1


def _compiles_for_avx512() -> bool:
    """Whether numba compiles for this processor (the default) and it has AVX-512."""
    if numba.config.CPU_NAME not in (None, "host"):
        return False
    try:
        return bool(llvm.get_host_cpu_features().get("avx512f", False))
    except RuntimeError:  # features unknown on this platform
        return False


PERMUTE_16 = _compiles_for_avx512()
_look_up = _look_up_permuted if PERMUTE_16 else _look_up_rows


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
    full = np.uint8((1 << width) - 1)
    tile = max(1, min(TILE_ROWS, stop - start))
    decision = np.empty((n_nodes + 1, tile), dtype=np.uint8)
    decision[n_nodes, :] = 1
    totals = np.zeros((n_features + 1, tile))
    pattern = np.empty(tile, dtype=np.uint8)
    sums = np.empty(tile, dtype=np.float32)
    for first in range(start, stop, tile):
        rows = min(stop, first + tile) - first
        sums[:] = base_margin
        if explain:
            totals[:, :] = 0.0
        if rows >= VECTOR_ROWS:
            for k in range(n_nodes):
                _decide(columns[node_feature[k], first:first + rows], node_threshold[k], node_default_left[k],
                        decision[k, :rows])
            for leaf in range(n_leaves):
                reached = pattern[:rows]
                reached[:] = np.uint8(full ^ ((1 << leaf_edges[leaf]) - 1))
                for e in range(leaf_edges[leaf]):
                    _mark(decision[edge_node[leaf, e], :rows], edge_flip[leaf, e], np.uint32(e), reached)
                _reach(reached, full, leaf_value[leaf], sums[:rows])
                if explain:
                    for s in range(leaf_slots[leaf]):
                        _look_up(reached, table[leaf, s], totals[slot_feature[leaf, s], :rows])
        else:  # a few rows: the same steps in place (a call per step would cost more than the step)
            for k in range(n_nodes):
                values = columns[node_feature[k]]
                threshold, missing, out = node_threshold[k], node_default_left[k], decision[k]
                for r in range(rows):
                    v = values[first + r]
                    out[r] = missing if v != v else np.uint8(v < threshold)
            for leaf in range(n_leaves):
                pattern[:rows] = np.uint8(full ^ ((1 << leaf_edges[leaf]) - 1))
                for e in range(leaf_edges[leaf]):
                    taken, flip, shift = decision[edge_node[leaf, e]], edge_flip[leaf, e], np.uint32(e)
                    for r in range(rows):
                        pattern[r] |= np.uint8((np.uint32(taken[r]) ^ flip) << shift)
                for r in range(rows):
                    if pattern[r] == full:
                        sums[r] += leaf_value[leaf]
                if explain:
                    for s in range(leaf_slots[leaf]):
                        total, shapley = totals[slot_feature[leaf, s]], table[leaf, s]
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
