"""Champion/challenger decision: promote only a model that is better on the same holdout and no worse elsewhere."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from tasks.config import GateSettings


@dataclass(frozen=True)
class GateDecision:
    """Whether the challenger replaces the champion, and every check behind that answer."""

    promote: bool
    reason: str
    checks: dict[str, bool]
    challenger: dict[str, float]
    champion: dict[str, float] | None
    deltas: dict[str, float] = field(default_factory=dict)

    def as_record(self) -> dict[str, object]:
        return {
            "promote": self.promote,
            "reason": self.reason,
            "checks": self.checks,
            "challenger_metrics": self.challenger,
            "champion_metrics": self.champion,
            "deltas": self.deltas,
        }


def decide(
    challenger: Mapping[str, float],
    champion: Mapping[str, float] | None,
    baselines: Mapping[str, Mapping[str, float]],
    settings: GateSettings,
) -> GateDecision:
    """Compare metrics measured on one holdout; with no champion, apply the absolute floors instead."""
    ch = dict(challenger)
    if not _finite(ch.get("pr_auc")):
        return GateDecision(False, "challenger PR-AUC is not a number", {"pr_auc_finite": False}, ch, None)
    checks: dict[str, bool] = {"pr_auc_floor": ch["pr_auc"] >= settings.min_pr_auc}
    if champion is None:
        if settings.first_model_must_beat_baselines:
            for name in ("c57_104_rule", "age_rule"):
                if name in baselines:
                    checks[f"beats_{name}"] = ch["pr_auc"] > baselines[name].get("pr_auc", math.inf)
        failed = sorted(k for k, ok in checks.items() if not ok)
        reason = "first model passes the absolute floors" if not failed else "first model fails: " + ", ".join(failed)
        return GateDecision(not failed, reason, checks, ch, None)

    cp = dict(champion)
    deltas = {k: ch[k] - cp[k] for k in ("pr_auc", "brier", "top_k_recall") if _finite(ch.get(k)) and _finite(cp.get(k))}
    checks["pr_auc_gain"] = deltas.get("pr_auc", -math.inf) >= settings.min_pr_auc_gain
    checks["brier_guard"] = deltas.get("brier", math.inf) <= settings.brier_tolerance
    checks["top_k_recall_guard"] = deltas.get("top_k_recall", -math.inf) >= -settings.top_k_recall_tolerance
    failed = sorted(k for k, ok in checks.items() if not ok)
    if failed:
        reason = "challenger rejected: " + ", ".join(
            f"{k} ({_explain(k, deltas, settings)})" for k in failed
        )
    else:
        reason = f"challenger promoted: PR-AUC {cp['pr_auc']:.4f} -> {ch['pr_auc']:.4f}"
    return GateDecision(not failed, reason, checks, ch, cp, deltas)


def _explain(check: str, deltas: Mapping[str, float], s: GateSettings) -> str:
    if check == "pr_auc_gain":
        return f"gain {deltas.get('pr_auc', float('nan')):+.4f} < required {s.min_pr_auc_gain:+.4f}"
    if check == "brier_guard":
        return f"Brier {deltas.get('brier', float('nan')):+.5f} > tolerance {s.brier_tolerance:.5f}"
    if check == "top_k_recall_guard":
        return f"top-k recall {deltas.get('top_k_recall', float('nan')):+.3f} < -{s.top_k_recall_tolerance:.3f}"
    return f"PR-AUC below floor {s.min_pr_auc}"


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)
