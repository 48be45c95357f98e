"""Evaluation figures: legends carry the right AP/AUC, reliability bins, importance and SHAP order, PNG output."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from sklearn.metrics import average_precision_score, roc_auc_score

from tasks import plots


def _scores(n: int = 400, seed: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.1).astype(float)
    return y, {"model": y + rng.normal(0, 0.6, n), "rule": y + rng.normal(0, 1.5, n), "age": rng.random(n)}


def _legend(fig: Figure) -> dict[str, float]:
    """Return legend entry name -> the number in its parentheses."""
    legend = fig.axes[0].get_legend()
    out = {}
    for text in legend.get_texts():
        match = re.fullmatch(r"(\S+) \((?:AP|AUC) ([-\d.e+]+)\)", text.get_text())
        assert match, text.get_text()
        out[match[1]] = float(match[2])
    return out


@pytest.mark.parametrize(
    ("draw", "metric"), [(plots.pr_curves, average_precision_score), (plots.roc_curves, roc_auc_score)]
)
def test_curves_legend_shows_each_scorers_metric(draw, metric) -> None:  # type: ignore[no-untyped-def]
    y, scores = _scores()
    fig = draw(y, scores)
    assert len(fig.axes[0].get_lines()) == len(scores) + 1  # one per scorer plus the random line
    legend = _legend(fig)
    assert set(legend) == {*scores, "random"}
    for name, s in scores.items():
        assert legend[name] == pytest.approx(metric(y, s), rel=1e-3)
    assert legend["random"] == pytest.approx(y.mean() if draw is plots.pr_curves else 0.5, rel=1e-3)


def test_nan_scores_are_dropped_and_counted_in_the_title() -> None:
    y, scores = _scores()
    scores["rule"][:7] = np.nan
    fig = plots.pr_curves(y, scores)
    assert "rule: 7 rows with NaN score dropped" in fig.axes[0].get_title()
    keep = ~np.isnan(scores["rule"])
    assert _legend(fig)["rule"] == pytest.approx(average_precision_score(y[keep], scores["rule"][keep]), rel=1e-3)


@pytest.mark.parametrize("draw", [plots.pr_curves, plots.roc_curves])
def test_single_class_draws_only_the_reference_line_and_says_so(draw) -> None:  # type: ignore[no-untyped-def]
    fig = draw(np.zeros(20), {"model": np.linspace(0, 1, 20)})
    assert len(fig.axes[0].get_lines()) == 1
    assert "only one class" in fig.axes[0].get_title()


def test_scores_of_the_wrong_length_are_refused() -> None:
    with pytest.raises(ValueError, match="'model' have 3 rows but y_true has 4"):
        plots.roc_curves(np.array([0, 1, 0, 1.0]), {"model": np.ones(3)})


def test_reliability_bins_match_a_hand_computation() -> None:
    prob = np.array([0.06, 0.01, 0.05, 0.02, 0.04, 0.03])
    y = np.array([1, 0, 1, 0, 0, 1.0])  # sorted by prob: 0 0 | 1 0 | 1 1
    bins = plots.reliability_bins(y, prob, n_bins=3)
    assert bins.count.tolist() == [2, 2, 2]
    np.testing.assert_allclose(bins.mean_predicted, [0.015, 0.035, 0.055])
    np.testing.assert_allclose(bins.observed, [0.0, 0.5, 1.0])


def test_reliability_bins_stay_equal_count_when_probabilities_tie() -> None:
    prob = np.r_[np.full(90, 0.001), np.linspace(0.01, 0.1, 10)]  # quantile edges would collapse here
    bins = plots.reliability_bins(np.zeros(100), prob, n_bins=10)
    assert bins.count.tolist() == [10] * 10


def test_reliability_figure_plots_the_bins_and_the_brier_score() -> None:
    rng = np.random.default_rng(1)
    prob = rng.beta(0.5, 60, 2_000)
    y = (rng.random(2_000) < prob).astype(float)
    fig = plots.reliability(y, prob, n_bins=5)
    top = fig.axes[0]
    observed = next(line for line in top.get_lines() if line.get_label() == "observed")
    np.testing.assert_allclose(observed.get_ydata(), plots.reliability_bins(y, prob, 5).observed)
    assert top.get_xscale() == "log" and top.get_yscale() == "log"
    brier = float(re.search(r"Brier ([\d.e-]+)", top.get_title())[1])  # type: ignore[index]
    assert brier == pytest.approx(np.mean((prob - y) ** 2), rel=1e-3)
    assert len(fig.axes[1].patches) == 40  # histogram of predictions underneath


@pytest.mark.parametrize(
    ("y", "prob", "note"),
    [
        (np.zeros(3), np.array([0.1, np.nan, 0.2]), "1 row with NaN probability dropped"),
        (np.array([0, 1.0]), np.array([0.2, 0.4]), "only 2 rows: 2 bins"),
        (np.array([]), np.array([]), "no rows"),
        (np.ones(4), np.zeros(4), "only one class"),
    ],
)
def test_reliability_edge_cases_draw_and_explain(y: np.ndarray, prob: np.ndarray, note: str) -> None:
    assert note in plots.reliability(y, prob).axes[0].get_title()


def test_feature_importance_puts_the_largest_on_top_and_keeps_top_n() -> None:
    importance = {"a": 1.0, "b": 5.0, "c": 3.0, "d": 0.5, "e": float("nan")}
    ax = plots.feature_importance(importance, top=3, title="Gain").axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["b", "c", "a"]
    assert ax.yaxis_inverted()
    assert ax.get_title() == "Gain (top 3 of 4)"
    assert plots.feature_importance({}).axes[0].get_title().endswith("nothing recorded")


def test_shap_summary_ranks_by_mean_absolute_contribution() -> None:
    rng = np.random.default_rng(0)
    n = 200
    values = pd.DataFrame({"spiky": rng.normal(size=n), "steady": rng.normal(size=n), "weak": rng.normal(size=n)})
    values.loc[:9, "steady"] = np.nan  # missing values must be drawn, not crash the colouring
    spiky = np.zeros(n)
    spiky[0] = 50.0  # largest single contribution, but mean |c| only 0.25
    contribs = np.c_[spiky, rng.choice([-1.0, 1.0], n), rng.normal(0, 0.1, n), np.full(n, -7.0)]  # last = bias
    fig = plots.shap_summary(contribs, values, labels={"steady": "Steady gas"}, top=2)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Steady gas", "spiky"]
    assert ax.yaxis_inverted()
    assert fig.axes[1].get_ylabel() == "feature value low → high"  # the colour bar
    without_bias = plots.shap_summary(contribs[:, :-1], values, top=2).axes[0]
    assert [t.get_text() for t in without_bias.get_yticklabels()] == ["steady", "spiky"]


def test_shap_summary_refuses_mismatched_shapes_and_handles_no_rows() -> None:
    values = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    with pytest.raises(ValueError, match=r"shape \(2, 4\)"):
        plots.shap_summary(np.zeros((2, 4)), values)
    empty = plots.shap_summary(np.zeros((0, 3)), values.iloc[:0])
    assert "no rows" in empty.axes[0].get_title()


def test_save_figure_writes_a_png_and_frees_the_figure(tmp_path: Path) -> None:
    fig = plots.feature_importance({"a": 1.0, "b": 2.0})
    path = plots.save_figure(fig, tmp_path / "plots" / "importance.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert fig.axes == []
