"""Draw the evaluation figures of a training run: PR and ROC curves, reliability, importance, SHAP summary."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

__all__ = ["ReliabilityBins", "feature_importance", "pr_curves", "reliability", "reliability_bins", "roc_curves",
           "save_figure", "shap_summary"]

DPI = 120
CMAP = "coolwarm"
NAN_COLOUR = "0.65"
# Beyond this many rows a beeswarm is solid ink and PNG rendering gets slow; the ranking still uses every row.
SHAP_MAX_ROWS = 5_000

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ReliabilityBins:
    """Per equal-count bin: rows, mean predicted probability and observed failure frequency."""

    count: npt.NDArray[np.int64]
    mean_predicted: FloatArray
    observed: FloatArray


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)  # bind Agg explicitly so nothing goes through pyplot's global figure registry
    return fig


def _labels(y_true: npt.ArrayLike) -> FloatArray:
    y = np.asarray(y_true, dtype=float).ravel()
    bad = ~np.isin(y, (0.0, 1.0))
    if bad.any():
        raise ValueError(f"y_true must be 0/1; {int(bad.sum())} value(s) are not (first: {y[bad][0]!r})")
    return y


def _pair(y: FloatArray, score: npt.ArrayLike, name: str) -> tuple[FloatArray, FloatArray, int]:
    """Return labels and scores on rows with a finite score, and how many rows were dropped."""
    s = np.asarray(score, dtype=float).ravel()
    if s.shape != y.shape:
        raise ValueError(f"scores '{name}' have {s.size} rows but y_true has {y.size}")
    keep = np.isfinite(s)
    return y[keep], s[keep], int((~keep).sum())


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _balance(y: FloatArray) -> str:
    return f"{_count(y.size, 'row')}, {_count(int(y.sum()), 'positive')}"


def _title(head: str, notes: list[str]) -> str:
    return "\n".join([head, "; ".join(notes)]) if notes else head


def _curves(y_true: npt.ArrayLike, scores: Mapping[str, npt.ArrayLike], kind: str) -> Figure:
    """Draw PR (kind "pr") or ROC (kind "roc") curves of every scorer on one axis."""
    y = _labels(y_true)
    fig = _figure(6.4, 5.2)
    ax = fig.add_subplot()
    notes: list[str] = []
    for name, score in scores.items():
        yk, sk, dropped = _pair(y, score, name)
        if dropped:
            notes.append(f"{name}: {_count(dropped, 'row')} with NaN score dropped")
        if np.unique(yk).size < 2:
            notes.append(f"{name}: one class left, no curve")
            continue
        if kind == "pr":
            precision, recall, _ = precision_recall_curve(yk, sk)
            ap = float(average_precision_score(yk, sk))
            ax.plot(recall, precision, drawstyle="steps-post", label=f"{name} (AP {ap:.4g})")
        else:
            fpr, tpr, _ = roc_curve(yk, sk)
            ax.plot(fpr, tpr, label=f"{name} (AUC {float(roc_auc_score(yk, sk)):.4g})")
    if kind == "pr":
        # A scorer with no skill has precision equal to the positive rate at every recall.
        rate = float(y.mean()) if y.size else 0.0
        ax.plot([0.0, 1.0], [rate, rate], "--", color="0.5", label=f"random (AP {rate:.4g})")
        ax.set(xlabel="recall", ylabel="precision", title="Precision–recall on the holdout")
    else:
        ax.plot([0.0, 1.0], [0.0, 1.0], "--", color="0.5", label="random (AUC 0.5)")
        ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC on the holdout")
    if np.unique(y).size < 2:
        notes.insert(0, "only one class in y_true: curves undefined")
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right" if kind == "pr" else "lower right", fontsize=8)
    ax.set_title(_title(f"{ax.get_title()} ({_balance(y)})", notes), fontsize=10)
    return fig


def pr_curves(y_true: npt.ArrayLike, scores: Mapping[str, npt.ArrayLike]) -> Figure:
    """Draw the precision–recall curve of the model and each baseline, with average precision in the legend."""
    return _curves(y_true, scores, "pr")


def roc_curves(y_true: npt.ArrayLike, scores: Mapping[str, npt.ArrayLike]) -> Figure:
    """Draw the ROC curve of the model and each baseline, with AUC in the legend."""
    return _curves(y_true, scores, "roc")


def reliability_bins(y_true: npt.ArrayLike, prob: npt.ArrayLike, n_bins: int = 10) -> ReliabilityBins:
    """Split rows with a finite probability into equal-count bins by rank and compare prediction with outcome."""
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    y, p, _ = _pair(_labels(y_true), prob, "prob")
    if p.size == 0:
        empty = np.array([], dtype=float)
        return ReliabilityBins(np.array([], dtype=np.int64), empty, empty)
    # Bins by rank, not by np.quantile edges: skewed, tied probabilities collapse quantile edges into empty bins.
    order = np.argsort(p, kind="stable")
    groups = np.array_split(order, min(n_bins, p.size))
    return ReliabilityBins(
        count=np.array([g.size for g in groups], dtype=np.int64),
        mean_predicted=np.array([p[g].mean() for g in groups]),
        observed=np.array([y[g].mean() for g in groups]),
    )


def _wilson(k: FloatArray, n: FloatArray, z: float = 1.96) -> tuple[FloatArray, FloatArray]:
    # Bins near a 0.1 % base rate hold a handful of failures; the interval shows how little a point says.
    centre = (k + z * z / 2) / (n + z * z)
    half = z * np.sqrt(k * (n - k) / n + z * z / 4) / (n + z * z)
    return centre - half, centre + half


def reliability(y_true: npt.ArrayLike, prob: npt.ArrayLike, n_bins: int = 10) -> Figure:
    """Draw a log-log reliability diagram over quantile bins, a histogram of predictions, and the Brier score."""
    y_all = _labels(y_true)
    y, p, dropped = _pair(y_all, prob, "prob")
    bins = reliability_bins(y_all, prob, n_bins)
    fig = _figure(6.4, 6.4)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1))
    notes = [f"{_count(dropped, 'row')} with NaN probability dropped"] if dropped else []
    if np.unique(y).size < 2:
        notes.append("only one class in y_true")
    if 0 < p.size < n_bins:
        notes.append(f"only {p.size} rows: {p.size} bins")
    if p.size == 0:
        top.set_title(_title("Reliability: no rows with a probability", notes), fontsize=10)
        return fig
    # The floor follows the bulk of the predictions, not the single smallest one, so the bins stay readable.
    floor = [np.quantile(p[p > 0], 0.005)] if (p > 0).any() else []
    positive = np.concatenate([floor, bins.mean_predicted[bins.mean_predicted > 0], bins.observed[bins.observed > 0]])
    lo, hi = (positive.min() / 1.5, min(1.0, positive.max() * 1.5)) if positive.size else (1e-4, 1.0)
    hi = max(hi, lo * 10)
    for ax in (top, bottom):
        ax.set_xscale("log", nonpositive="mask")
    top.set_yscale("log", nonpositive="mask")
    top.plot([lo, hi], [lo, hi], "--", color="0.5", label="perfectly calibrated")
    low, high = _wilson(bins.observed * bins.count, bins.count.astype(float))
    top.vlines(bins.mean_predicted, np.maximum(low, lo), high, color="tab:blue", alpha=0.35, label="95 % interval")
    top.plot(bins.mean_predicted, bins.observed, "o-", color="tab:blue", label="observed")
    zero = bins.observed == 0
    if zero.any():
        # log axes cannot show 0; mark those bins on the floor instead of silently omitting them
        top.plot(bins.mean_predicted[zero], np.full(zero.sum(), lo), "v", color="tab:red", label="no failures in bin")
    top.set(xlim=(lo, hi), ylim=(lo, hi), ylabel="observed failure frequency")
    top.grid(alpha=0.3, which="both")
    top.legend(loc="upper left", fontsize=8)
    brier = float(np.mean((p - y) ** 2))
    title = f"Reliability, {bins.count.size} quantile bins ({_balance(y)}): Brier {brier:.4g}"
    top.set_title(_title(title, notes), fontsize=10)
    edges = np.geomspace(lo, hi, 41)
    bottom.hist(np.clip(p[p > 0], lo, hi), bins=edges, color="0.4", log=True)
    bottom.set(xlabel="predicted failure probability (tails clipped to the axis)", ylabel="rows")
    return fig


def feature_importance(importance: Mapping[str, float], top: int = 20, title: str = "Feature importance") -> Figure:
    """Draw the `top` most important features as horizontal bars, largest on top."""
    items = sorted(((k, float(v)) for k, v in importance.items() if np.isfinite(v)), key=lambda kv: (-kv[1], kv[0]))
    shown = items[:top]
    fig = _figure(7.5, 1.4 + 0.28 * max(1, len(shown)))
    ax = fig.add_subplot()
    if not shown:
        ax.set_axis_off()
        ax.set_title(f"{title}: nothing recorded", fontsize=10)
        return fig
    positions = np.arange(len(shown))
    bars = ax.barh(positions, [v for _, v in shown], color="tab:blue")
    ax.set_yticks(positions, labels=[k for k, _ in shown], fontsize=8)
    ax.invert_yaxis()
    ax.bar_label(bars, fmt="%.3g", padding=2, fontsize=7)
    ax.margins(x=0.12)
    suffix = f" (top {len(shown)} of {len(items)})" if len(items) > len(shown) else ""
    ax.set_title(title + suffix, fontsize=10)
    return fig


def _swarm(x: FloatArray, rng: np.random.Generator) -> FloatArray:
    """Return vertical offsets that widen where points crowd, so the row's density is visible."""
    counts, edges = np.histogram(x, bins=50)
    idx = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, counts.size - 1)
    return rng.uniform(-1.0, 1.0, x.size) * 0.4 * counts[idx] / counts.max()


def _value_colour(values: pd.Series) -> FloatArray:
    """Return each row's value rank within the feature scaled to [0, 1] (NaN stays NaN)."""
    rank = values.rank(method="average")
    return ((rank - 1.0) / max(1, int(rank.count()) - 1)).to_numpy(dtype=float)


def shap_summary(
    contributions: np.ndarray, values: pd.DataFrame, labels: Mapping[str, str] | None = None, top: int = 15
) -> Figure:
    """Draw a beeswarm of XGBoost's per-row contributions for the `top` features by mean |contribution|.

    `contributions` is `booster.predict(..., pred_contribs=True)`, with or without its last (bias)
    column; `values` holds the feature values with the same columns in the same order.
    """
    c = np.asarray(contributions, dtype=float)
    names = [str(col) for col in values.columns]
    if c.ndim != 2 or c.shape[0] != len(values) or c.shape[1] not in (len(names), len(names) + 1):
        expected = f"({len(values)}, {len(names)}) or one more column (bias)"
        raise ValueError(f"contributions have shape {c.shape}; expected {expected}")
    c = c[:, : len(names)]  # the bias is the same for every row, so it explains nothing
    labels = labels or {}
    fig = _figure(8.0, 1.8 + 0.38 * min(top, max(1, len(names))))
    ax = fig.add_subplot()
    if c.size == 0:
        ax.set_axis_off()
        ax.set_title("Feature contributions: no rows to explain", fontsize=10)
        return fig
    strength = np.nanmean(np.abs(c), axis=0)
    order = np.argsort(-strength, kind="stable")[:top]
    rng = np.random.default_rng(0)
    rows = np.arange(len(values))
    if rows.size > SHAP_MAX_ROWS:
        rows = np.sort(rng.choice(rows.size, SHAP_MAX_ROWS, replace=False))
    norm = Normalize(0.0, 1.0)
    for pos, j in enumerate(order):
        colour = _value_colour(values.iloc[:, j])[rows]
        x = c[rows, j]
        y = pos + _swarm(x, rng)
        known = np.isfinite(colour)
        ax.scatter(x[~known], y[~known], color=NAN_COLOUR, s=5, linewidths=0, rasterized=True)
        ax.scatter(x[known], y[known], c=colour[known], cmap=CMAP, norm=norm, s=5, linewidths=0, rasterized=True)
    ax.set_yticks(np.arange(order.size), labels=[labels.get(names[j], names[j]) for j in order], fontsize=8)
    ax.invert_yaxis()
    ax.axvline(0.0, color="0.3", linewidth=0.8)
    # The contributions live on the booster's margin; Platt scaling is monotone, so the ranking is unchanged.
    ax.set_xlabel("contribution to the failure log-odds (before calibration)")
    bar = fig.colorbar(ScalarMappable(norm=norm, cmap=CMAP), ax=ax, ticks=[0.0, 1.0], aspect=40)
    bar.ax.set_yticklabels(["low", "high"])
    bar.set_label("feature value low → high")
    sampled = f", {rows.size:,} of {len(values):,} rows shown" if rows.size < len(values) else ""
    head = f"Feature contributions: top {order.size} of {len(names)} by mean |contribution|{sampled}"
    ax.set_title(_title(head, ["grey = missing value"]), fontsize=10)
    return fig


def save_figure(fig: Figure, path: Path) -> Path:
    """Write the figure as a PNG and free its artists."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fig.savefig(path, dpi=DPI, format="png")
    finally:
        # Not registered with pyplot, so clearing drops the last references to the (possibly large) artists.
        fig.clear()
    return path

