"""Margins and exact TreeSHAP contributions of an XGBoost booster, from tables built from its JSON model.

XGBoost's own `pred_contribs` walks every path of every tree per row (O(T·L·D²)) and costs
~0.7 ms per reading for the champion's size; a one-row `predict` costs ~0.5 ms of fixed overhead.
Here each leaf's path-dependent Shapley values are tabulated once per model for every pattern of
its path's decisions (2^depth patterns), so scoring a row is: evaluate all split nodes, read each
leaf's pattern, look its values up and add them per feature (O(T·L·D), in the compiled loop of
serving.tree_kernel; a large batch is split over two threads).

The values are the exact TreeSHAP values XGBoost computes (the Shapley values of the
cover-weighted conditional expectation). The tables hold float32 values, as XGBoost computes them
(half the memory of float64, and the lookups run ~15% faster), and each row's per-feature totals
are summed in float64; they agree with XGBoost's to ~1e-6 relative. Margins are accumulated in float32 in tree order as XGBoost does, and are checked
bit for bit against the booster when a model loads (`verify`); a model that does not match, or
that uses what this module does not implement (categorical splits, several targets, DART), is
scored by XGBoost itself.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from math import factorial

import numpy as np
import xgboost as xgb
from numpy.typing import NDArray

from serving.tree_kernel import evaluate_block


_MAX_TABLE_BYTES = 512 * 2**20


class UnsupportedBooster(ValueError):
    """The booster uses a feature of XGBoost this module does not evaluate."""


PARALLEL_ROWS = 256  # from this many rows, two threads score a half each


@dataclass(frozen=True)
class TreeTables:
    """Every split node and leaf of a binary-logistic gbtree booster, and each leaf's Shapley table."""

    n_features: int
    width: int  # path edges per leaf, 4 or 8; shorter paths are padded with always-taken edges
    node_feature: NDArray[np.int32]  # (nodes,) split feature of every internal node, all trees
    node_threshold: NDArray[np.float32]  # go left when value < threshold
    node_default_left: NDArray[np.uint8]  # go left when the value is missing
    edge_node: NDArray[np.int32]  # (leaves, width) node of each path edge; `nodes` = the always-true pad
    edge_flip: NDArray[np.uint32]  # (leaves, width) 1 when the edge is the right branch
    leaf_edges: NDArray[np.int32]  # (leaves,) edges on the path; the pad edges follow them
    slot_feature: NDArray[np.int32]  # (leaves, width) feature of each distinct path feature; pad = n_features
    leaf_slots: NDArray[np.int32]  # (leaves,) distinct features on the path; the pad slots follow them
    table: NDArray[np.float32]  # (leaves, width, 2^width) Shapley value per slot, by decision pattern
    leaf_value: NDArray[np.float32]  # (leaves,) in tree order
    trees: int
    base_margin: np.float32
    bias: float  # expected margin: XGBoost's last contribution column

    def evaluate(self, values32: NDArray[np.float32],
                 explain: NDArray[np.bool_] | None = None) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Return each row's margin and (explained rows, features) exact TreeSHAP contributions (no bias column)."""
        rows = len(values32)
        explain = np.ones(rows, dtype=bool) if explain is None else np.asarray(explain, dtype=bool)
        columns = np.ascontiguousarray(values32.T, dtype=np.float32)
        margin = np.empty(rows)
        wanted = int(np.count_nonzero(explain))
        if wanted == rows:
            contribs = np.empty((rows, self.n_features))
            self._run(columns, True, margin, contribs)
            return margin, contribs
        self._run(columns, False, margin, np.empty((0, self.n_features)))
        if not wanted:
            return margin, np.empty((0, self.n_features))
        contribs = np.empty((wanted, self.n_features))
        self._run(np.ascontiguousarray(columns[:, explain]), True, np.empty(wanted), contribs)
        return margin, contribs

    def _run(self, columns: NDArray[np.float32], explain: bool, margin: NDArray[np.float64],
             contribs: NDArray[np.float64]) -> None:
        rows = columns.shape[1]
        if rows < PARALLEL_ROWS:
            self._block(columns, 0, rows, explain, margin, contribs)
            return
        half = rows // 2
        other = second_thread().submit(self._block, columns, 0, half, explain, margin, contribs)
        self._block(columns, half, rows, explain, margin, contribs)
        other.result()

    def _block(self, columns: NDArray[np.float32], start: int, stop: int, explain: bool, margin: NDArray[np.float64],
               contribs: NDArray[np.float64]) -> None:
        evaluate_block(columns, start, stop, explain, self.node_feature, self.node_threshold, self.node_default_left,
                       self.edge_node, self.edge_flip, self.leaf_edges, self.slot_feature, self.leaf_slots, self.table,
                       self.leaf_value, self.base_margin, margin, contribs)


_HELPER: list[ThreadPoolExecutor] = []
_HELPER_LOCK = threading.Lock()


def second_thread() -> ThreadPoolExecutor:
    """The second thread for large batches: half the tree loop, half the body reader (both release the interpreter lock)."""
    with _HELPER_LOCK:
        if not _HELPER:
            _HELPER.append(ThreadPoolExecutor(max_workers=1, thread_name_prefix="xfmr-second"))
        return _HELPER[0]


def build_tables(booster: xgb.Booster) -> TreeTables:
    """Read the booster's JSON model and tabulate every leaf's Shapley values; raise UnsupportedBooster if it can't."""
    model = json.loads(booster.save_raw("json"))
    learner = model["learner"]
    objective = learner["objective"]["name"]
    params = learner["learner_model_param"]
    gbm = learner["gradient_booster"]
    if objective != "binary:logistic":
        raise UnsupportedBooster(f"objective {objective!r} (only binary:logistic)")
    if gbm.get("name") != "gbtree" or int(gbm["model"]["gbtree_model_param"].get("num_parallel_tree", 1)) != 1:
        raise UnsupportedBooster(f"booster {gbm.get('name')!r} with parallel trees (only plain gbtree)")
    if int(params.get("num_target", 1)) != 1 or int(params.get("num_class", 0)) > 1:
        raise UnsupportedBooster("more than one target or class")
    base = float(str(params["base_score"]).strip("[]"))
    base_margin = np.float32(-np.log(np.float32(1.0) / np.float32(base) - np.float32(1.0)))
    trees = gbm["model"]["trees"]
    if not trees:
        raise UnsupportedBooster("no trees")
    return _tabulate(trees, int(params["num_feature"]), base_margin)


@dataclass
class _Leaf:
    edges: list[tuple[int, int, bool, float]]  # (global node, feature, left, cover ratio)
    value: float


def _paths(tree: dict[str, list[float]], offset: int) -> tuple[list[_Leaf], list[int], list[float], list[bool]]:
    left, right = tree["left_children"], tree["right_children"]
    feature, condition = tree["split_indices"], tree["split_conditions"]
    default_left, cover = tree["default_left"], tree["sum_hessian"]
    if any(int(t) != 0 for t in tree.get("split_type", [])):
        raise UnsupportedBooster("categorical splits")
    internal = [i for i in range(len(left)) if left[i] != -1]
    position = {node: offset + k for k, node in enumerate(internal)}
    leaves: list[_Leaf] = []
    stack: list[tuple[int, list[tuple[int, int, bool, float]]]] = [(0, [])]
    while stack:
        node, path = stack.pop()
        if left[node] == -1:
            leaves.append(_Leaf(path, float(condition[node])))
            continue
        for child, is_left in ((right[node], False), (left[node], True)):
            ratio = cover[child] / cover[node] if cover[node] > 0 else 0.0
            stack.append((child, [*path, (position[node], int(feature[node]), is_left, ratio)]))
    return (leaves, [int(feature[i]) for i in internal], [float(condition[i]) for i in internal],
            [bool(default_left[i]) for i in internal])


def _tabulate(trees: list[dict[str, list[float]]], n_features: int, base_margin: np.float32) -> TreeTables:
    leaves: list[_Leaf] = []
    node_feature: list[int] = []
    node_threshold: list[float] = []
    node_default: list[bool] = []
    per_tree: list[int] = []
    for tree in trees:
        tree_leaves, features, thresholds, defaults = _paths(tree, len(node_feature))
        leaves += tree_leaves
        per_tree.append(len(tree_leaves))
        node_feature += features
        node_threshold += thresholds
        node_default += defaults
    longest = max(len(leaf.edges) for leaf in leaves)
    if longest > 8:
        raise UnsupportedBooster(f"trees deeper than 8 (a path of {longest} splits)")
    width = 4 if longest <= 4 else 8
    if len(leaves) * (1 << width) * width * 4 > _MAX_TABLE_BYTES:
        raise UnsupportedBooster(f"{len(leaves)} leaves, paths of {longest} splits: the Shapley table would be too large")
    n_leaves, pad = len(leaves), len(node_feature)
    edge_node = np.full((n_leaves, width), pad, dtype=np.intp)
    edge_left = np.ones((n_leaves, width), dtype=bool)
    edge_slot = np.full((n_leaves, width), -1, dtype=np.intp)
    slot_feature = np.full((n_leaves, width), n_features, dtype=np.intp)
    slot_ratio = np.ones((n_leaves, width))
    for i, leaf in enumerate(leaves):
        slots: dict[int, int] = {}
        for e, (node, feature, is_left, ratio) in enumerate(leaf.edges):
            s = slots.setdefault(feature, len(slots))
            edge_node[i, e], edge_left[i, e], edge_slot[i, e] = node, is_left, s
            slot_feature[i, s] = feature
            slot_ratio[i, s] *= ratio
    value = np.array([leaf.value for leaf in leaves])
    table = _shapley_table(value, edge_slot, slot_ratio, width)
    bias = float(base_margin) + float(np.sum(value * np.prod(slot_ratio, axis=1)))
    return TreeTables(
        n_features=n_features, width=width, node_feature=np.array(node_feature, dtype=np.int32),
        node_threshold=np.array(node_threshold, dtype=np.float32),
        node_default_left=np.array(node_default, dtype=np.uint8), edge_node=edge_node.astype(np.int32),
        edge_flip=(~edge_left).astype(np.uint32), leaf_edges=(edge_node != pad).sum(axis=1).astype(np.int32),
        slot_feature=slot_feature.astype(np.int32), leaf_slots=(slot_feature != n_features).sum(axis=1).astype(np.int32),
        table=np.ascontiguousarray(table.transpose(0, 2, 1), dtype=np.float32), leaf_value=value.astype(np.float32),
        trees=len(per_tree), base_margin=base_margin, bias=bias,
    )


def _shapley_table(value: NDArray[np.float64], edge_slot: NDArray[np.intp], ratio: NDArray[np.float64],
                   width: int) -> NDArray[np.float64]:
    """Return (leaves, 2^width, width) Shapley values of each leaf's game for every decision pattern.

    A leaf's game over its path's distinct features U is v * prod_{u in S} a_u * prod_{u not in S} r_u,
    with a_u = 1 when the row takes every edge on u (the pattern says which it takes) and r_u the
    product of u's cover ratios. Pad slots are null players (a = r = 1), which leave the values unchanged.
    """
    n_leaves = len(value)
    patterns = np.arange(1 << width)
    bits = (patterns[:, None] >> np.arange(width)[None, :]) & 1  # (patterns, edges)
    a = np.ones((n_leaves, len(patterns), width))
    for e in range(width):
        slot = edge_slot[:, e]
        rows = np.flatnonzero(slot >= 0)
        a[rows, :, slot[rows]] *= bits[None, :, e]
    r = np.broadcast_to(ratio[:, None, :], a.shape)
    weights = np.array([factorial(j) * factorial(width - j - 1) / factorial(width) for j in range(width)])
    out = np.empty_like(a)
    for i in range(width):
        poly = np.zeros((*a.shape[:2], width))  # coefficients of prod_{u != i} (r_u + a_u t)
        poly[..., 0] = 1.0
        for u in range(width):
            if u == i:
                continue
            shifted = np.concatenate([np.zeros((*a.shape[:2], 1)), poly[..., :-1]], axis=-1)
            poly = poly * r[..., u, None] + shifted * a[..., u, None]
        out[..., i] = value[:, None] * (a[..., i] - r[..., i]) * (poly @ weights)
    return out


def verify(tables: TreeTables, booster: xgb.Booster, values32: NDArray[np.float32], columns: list[str],
           contrib_tolerance: float = 1e-4) -> str | None:
    """Compare margins (bit for bit) and contributions with XGBoost's on these rows; return what differs, or None."""
    matrix = xgb.DMatrix(values32, feature_names=columns, missing=np.nan, nthread=1)
    ours, contribs = tables.evaluate(values32)
    theirs = np.asarray(booster.predict(matrix, output_margin=True), dtype=np.float64)
    if not np.array_equal(ours, theirs):
        return f"margins differ from XGBoost's by up to {float(np.max(np.abs(ours - theirs))):.3g}"
    direct = booster.inplace_predict(values32, predict_type="margin", missing=np.nan, validate_features=False)
    if not np.array_equal(np.asarray(direct, dtype=np.float64), theirs):
        return "XGBoost's margins straight from an array differ from those through a DMatrix"
    reference = np.asarray(booster.predict(matrix, pred_contribs=True), dtype=np.float64)
    worst = float(np.max(np.abs(contribs - reference[:, :-1]), initial=0.0))
    scale = max(1.0, float(np.max(np.abs(reference), initial=0.0)))
    if worst > contrib_tolerance * scale:
        return f"contributions differ from XGBoost's by up to {worst:.3g}"
    return None
