"""Score a model and today's rules on the frozen holdout: PR-AUC, ROC-AUC, Brier, top-k inspection, lead time."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

PRIMARY_METRIC = "pr_auc"


@dataclass(frozen=True)
class Evaluation:
    """Holdout metrics per scorer (model, rule baselines, true hazard), the model's ratios to them, and the
    holdout scores they were computed from (for the plots)."""

    metrics: dict[str, dict[str, float]]
    ratios: dict[str, float]
    top_k_pct: float
    scores: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def model(self) -> dict[str, float]:
        return self.metrics["model"]

    def flat(self) -> dict[str, float]:
        """Return `scorer.metric -> value` plus the ratios, for logging."""
        out = {f"{scorer}.{name}": value for scorer, m in self.metrics.items() for name, value in m.items()}
        out.update({f"ratio.{name}": value for name, value in self.ratios.items()})
        return out


def top_k_mask(holdout: pd.DataFrame, scores: np.ndarray, top_k_pct: float) -> np.ndarray:
    """Mark the riskiest k % of units at each snapshot time (what a crew would inspect)."""
    frame = pd.DataFrame(
        {"as_of": holdout["as_of"].to_numpy(), "tid": holdout["transformer_id"].to_numpy(), "score": scores}
    )
    frame["score"] = frame["score"].fillna(-np.inf)
    # Ties broken by transformer id so the selection is deterministic.
    frame = frame.sort_values(["as_of", "score", "tid"], ascending=[True, False, True], kind="mergesort")
    rank = frame.groupby("as_of", sort=False).cumcount().to_numpy()
    size = frame.groupby("as_of", sort=False)["tid"].transform("size").to_numpy()
    quota = np.maximum(1, np.ceil(size * top_k_pct / 100.0))
    mask = np.zeros(len(frame), dtype=bool)
    mask[frame.index.to_numpy()] = rank < quota
    return mask


def score_metrics(
    holdout: pd.DataFrame, scores: np.ndarray, top_k_pct: float, probabilistic: bool
) -> dict[str, float]:
    """Return the metrics of one scorer on the holdout (Brier only for probabilities)."""
    y = holdout["label"].to_numpy(dtype=float)
    s = np.nan_to_num(np.asarray(scores, dtype=float), nan=-1e9)
    both = len(np.unique(y)) == 2
    flagged = top_k_mask(holdout, s, top_k_pct)
    positives = max(1.0, float(y.sum()))
    metrics = {
        "pr_auc": float(average_precision_score(y, s)) if both else float("nan"),
        "roc_auc": float(roc_auc_score(y, s)) if both else float("nan"),
        "top_k_recall": float((flagged & (y == 1)).sum() / positives),
        "top_k_precision": float((flagged & (y == 1)).sum() / max(1, flagged.sum())),
        "positive_rate": float(y.mean()) if len(y) else float("nan"),
    }
    if probabilistic:
        metrics["brier"] = float(brier_score_loss(y, np.clip(s, 0.0, 1.0)))
    metrics.update(_lead_time(holdout, flagged))
    return metrics


def _lead_time(holdout: pd.DataFrame, flagged: np.ndarray) -> dict[str, float]:
    """Days between the first top-k flag and the failure, over failures that were flagged at all."""
    if "failed_at" not in holdout.columns:
        return {}
    positives = holdout.loc[(holdout["label"] == 1).to_numpy() & holdout["failed_at"].notna().to_numpy()]
    failures = positives.groupby(["transformer_id", "failed_at"]).size()
    caught = holdout.loc[flagged & (holdout["label"] == 1).to_numpy()]
    first_flag = caught.groupby(["transformer_id", "failed_at"])["as_of"].min()
    failed_at = pd.to_datetime(first_flag.index.get_level_values("failed_at"), utc=True)
    leads = (failed_at - pd.to_datetime(first_flag.to_numpy(), utc=True)) / pd.Timedelta(days=1)
    return {
        "failures": float(len(failures)),
        "failures_caught": float(len(first_flag)),
        "median_lead_days": float(np.median(leads)) if len(leads) else float("nan"),
    }


def evaluate(
    holdout: pd.DataFrame,
    model_probability: np.ndarray,
    baselines: Mapping[str, np.ndarray],
    top_k_pct: float,
) -> Evaluation:
    """Score the model and each baseline on the same holdout rows and log model/baseline ratios."""
    metrics = {"model": score_metrics(holdout, model_probability, top_k_pct, probabilistic=True)}
    for name, scores in baselines.items():
        metrics[name] = score_metrics(holdout, scores, top_k_pct, probabilistic=name == "true_hazard")
    ratios = {}
    for name in baselines:
        base = metrics[name].get(PRIMARY_METRIC, float("nan"))
        ratios[f"pr_auc_vs_{name}"] = float(metrics["model"][PRIMARY_METRIC] / base) if base > 0 else float("nan")
    scores = {"model": np.asarray(model_probability), **{k: np.asarray(v) for k, v in baselines.items()}}
    return Evaluation(metrics=metrics, ratios=ratios, top_k_pct=top_k_pct, scores=scores)
