"""The champion/challenger decision."""

from __future__ import annotations

from tasks.config import GateSettings
from tasks.gate import decide

BASELINES = {"c57_104_rule": {"pr_auc": 0.10}, "age_rule": {"pr_auc": 0.05}}
GOOD = {"pr_auc": 0.40, "brier": 0.010, "top_k_recall": 0.50}


def test_first_model_must_beat_both_rules() -> None:
    assert decide(GOOD, None, BASELINES, GateSettings()).promote
    weak = {**GOOD, "pr_auc": 0.08}
    decision = decide(weak, None, BASELINES, GateSettings())
    assert not decision.promote
    assert decision.checks["beats_c57_104_rule"] is False
    assert "beats_c57_104_rule" in decision.reason


def test_challenger_needs_the_margin_on_the_primary_metric() -> None:
    settings = GateSettings(min_pr_auc_gain=0.02)
    slightly_better = {**GOOD, "pr_auc": GOOD["pr_auc"] + 0.01}
    decision = decide(slightly_better, GOOD, BASELINES, settings)
    assert not decision.promote
    assert decision.checks["pr_auc_gain"] is False
    assert abs(decision.deltas["pr_auc"] - 0.01) < 1e-12
    assert decide({**GOOD, "pr_auc": 0.45}, GOOD, BASELINES, settings).promote


def test_guard_metrics_block_a_better_pr_auc() -> None:
    settings = GateSettings(min_pr_auc_gain=0.01, brier_tolerance=0.001, top_k_recall_tolerance=0.05)
    worse_brier = {**GOOD, "pr_auc": 0.5, "brier": GOOD["brier"] + 0.01}
    worse_recall = {**GOOD, "pr_auc": 0.5, "top_k_recall": GOOD["top_k_recall"] - 0.2}
    d1 = decide(worse_brier, GOOD, BASELINES, settings)
    d2 = decide(worse_recall, GOOD, BASELINES, settings)
    assert not d1.promote and d1.checks["brier_guard"] is False
    assert not d2.promote and d2.checks["top_k_recall_guard"] is False


def test_nan_primary_metric_is_never_promoted() -> None:
    assert not decide({**GOOD, "pr_auc": float("nan")}, None, BASELINES, GateSettings()).promote


def test_record_carries_both_models_and_deltas() -> None:
    record = decide({**GOOD, "pr_auc": 0.5}, GOOD, BASELINES, GateSettings()).as_record()
    assert record["champion_metrics"] == GOOD
    assert record["challenger_metrics"]["pr_auc"] == 0.5
    assert set(record["deltas"]) == {"pr_auc", "brier", "top_k_recall"}
