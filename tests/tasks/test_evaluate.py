"""Holdout metrics: top-k inspection per snapshot, lead time, ratios to baselines."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tasks.evaluate import evaluate, score_metrics, top_k_mask


def _holdout() -> pd.DataFrame:
    times = pd.date_range("2024-01-01", periods=4, freq="7D", tz="UTC")
    rows = [(f"TX{u:02d}", t) for t in times for u in range(20)]
    frame = pd.DataFrame(rows, columns=["transformer_id", "as_of"])
    frame["label"] = 0.0
    fail = pd.Timestamp("2024-02-15", tz="UTC")
    frame.loc[frame["transformer_id"] == "TX03", "label"] = 1.0
    frame["failed_at"] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]")
    frame.loc[frame["transformer_id"] == "TX03", "failed_at"] = fail
    return frame


def test_top_k_picks_k_percent_per_snapshot() -> None:
    h = _holdout()
    scores = np.arange(len(h), dtype=float)
    mask = top_k_mask(h, scores, top_k_pct=10.0)
    per_time = pd.Series(mask).groupby(h["as_of"].to_numpy()).sum()
    assert (per_time == 2).all()  # 10 % of 20 units


def test_perfect_scorer_has_full_recall_and_lead_time() -> None:
    h = _holdout()
    perfect = h["label"].to_numpy() + 0.01
    m = score_metrics(h, perfect, top_k_pct=5.0, probabilistic=False)
    assert m["pr_auc"] == 1.0 and m["top_k_recall"] == 1.0
    assert m["failures"] == 1.0 and m["failures_caught"] == 1.0
    assert m["median_lead_days"] == (pd.Timestamp("2024-02-15") - pd.Timestamp("2024-01-01")).days


def test_scorer_that_never_flags_the_unit_catches_nothing() -> None:
    h = _holdout()
    inverse = 1.0 - h["label"].to_numpy()
    m = score_metrics(h, inverse, top_k_pct=5.0, probabilistic=False)
    assert m["top_k_recall"] == 0.0 and m["failures_caught"] == 0.0


def test_ratios_compare_model_with_each_baseline() -> None:
    h = _holdout()
    rng = np.random.default_rng(0)
    model = h["label"].to_numpy() * 0.5 + rng.random(len(h)) * 0.1
    base = rng.random(len(h))
    ev = evaluate(h, model, {"age_rule": base}, top_k_pct=5.0)
    assert ev.ratios["pr_auc_vs_age_rule"] == ev.model["pr_auc"] / ev.metrics["age_rule"]["pr_auc"]
    assert "brier" in ev.model and "brier" not in ev.metrics["age_rule"]
    assert "model.pr_auc" in ev.flat()
