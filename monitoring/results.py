"""Typed results of a drift check and a decay check: plain data, a markdown summary and a dict for logging."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Verdict = Literal["no_drift", "drift", "insufficient_data"]
ColumnKind = Literal["numerical", "categorical"]
ColumnRole = Literal["feature", "prediction", "report_only"]  # report_only: tested and shown, not in the share
VersionStatus = Literal["ok", "decayed", "insufficient_data", "no_baseline"]

# Evidently stat tests whose score is a p-value (drifted when small); the others score a distance.
P_VALUE_METHODS = frozenset({"ks", "chisquare", "z"})


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.3g}"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass(frozen=True)
class ColumnDrift:
    """One column's drift test: the method Evidently ran, its score against the threshold, and the verdict."""

    column: str
    kind: ColumnKind
    method: str  # Evidently stat-test name: ks, chisquare, z, wasserstein, jensenshannon
    score: float  # p-value for ks/chisquare/z, distance for wasserstein/jensenshannon
    threshold: float
    drifted: bool
    reference_values: int  # non-null values compared
    current_values: int
    reference_missing_share: float
    current_missing_share: float
    role: ColumnRole = "feature"

    @property
    def is_prediction(self) -> bool:
        return self.role == "prediction"

    @property
    def score_kind(self) -> str:
        return "p_value" if self.method in P_VALUE_METHODS else "distance"


@dataclass(frozen=True)
class SkippedColumn:
    """A feature column that was not tested, and why."""

    column: str
    reason: str


@dataclass(frozen=True)
class DriftResult:
    """What one drift check found: per-column tests, the share drifted, the window sizes and the verdict."""

    verdict: Verdict
    reason: str
    columns: tuple[ColumnDrift, ...]  # every tested column, each with its role (feature, prediction, report_only)
    skipped: tuple[SkippedColumn, ...]
    share_drifted: float  # over tested feature columns (the prediction column is judged on its own)
    window_rows: int  # rows in the window before sampling
    reference_rows: int
    sampled_rows: int  # window rows handed to Evidently
    window_start: datetime | None
    window_end: datetime | None
    model_version: str | None
    settings: dict[str, Any]
    notes: tuple[str, ...] = ()
    report: Any = field(default=None, repr=False, compare=False)  # the Evidently snapshot (None without a run)

    @property
    def drifted_columns(self) -> tuple[ColumnDrift, ...]:
        return tuple(c for c in self.columns if c.drifted)

    @property
    def feature_columns(self) -> tuple[ColumnDrift, ...]:
        """The columns counted in the share of drifted columns."""
        return tuple(c for c in self.columns if c.role == "feature")

    @property
    def prediction(self) -> ColumnDrift | None:
        return next((c for c in self.columns if c.is_prediction), None)

    @property
    def has_report(self) -> bool:
        return self.report is not None

    def column(self, name: str) -> ColumnDrift:
        """Return the test of one column, naming what was tested when it is absent."""
        for c in self.columns:
            if c.column == name:
                return c
        skipped = {s.column: s.reason for s in self.skipped}
        if name in skipped:
            raise KeyError(f"column {name!r} was skipped: {skipped[name]}")
        raise KeyError(f"column {name!r} was not tested; tested: {[c.column for c in self.columns]}")

    def summary_markdown(self) -> str:
        """Render the verdict and the per-column table (drifted first) as markdown."""
        window = f"{_iso(self.window_start) or '?'} .. {_iso(self.window_end) or '?'}"
        lines = [
            f"**Drift check: {self.verdict}** - {self.reason}",
            "",
            f"Window {window}: {self.window_rows:,} rows ({self.sampled_rows:,} sampled); "
            f"reference {self.reference_rows:,} rows; model version {self.model_version or '?'}; "
            f"{len(self.drifted_columns)} of {len(self.columns)} tested columns drifted "
            f"(feature share {self.share_drifted:.1%}).",
        ]
        if self.columns:
            lines += ["", "| column | method | score | threshold | drifted |", "|---|---|---|---|---|"]
            ordered = sorted(self.columns, key=lambda c: (not c.drifted, c.role != "prediction", c.column))
            for c in ordered:
                name = c.column if c.role == "feature" else f"{c.column} ({c.role.replace('_', ' ')})"
                lines.append(
                    f"| {name} | {c.method} ({c.score_kind}) | {_fmt(c.score)} | {_fmt(c.threshold)} | "
                    f"{'**yes**' if c.drifted else 'no'} |"
                )
        if self.skipped:
            lines += ["", "Skipped: " + "; ".join(f"{s.column} ({s.reason})" for s in self.skipped)]
        if self.notes:
            lines += ["", *(f"- {note}" for note in self.notes)]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict of everything but the Evidently object (for MLflow `log_dict`)."""
        return {
            "verdict": self.verdict,
            "reason": self.reason,
            "share_drifted": self.share_drifted,
            "window_rows": self.window_rows,
            "reference_rows": self.reference_rows,
            "sampled_rows": self.sampled_rows,
            "window_start": _iso(self.window_start),
            "window_end": _iso(self.window_end),
            "model_version": self.model_version,
            "drifted_columns": [c.column for c in self.drifted_columns],
            "columns": [{**vars(c), "score_kind": c.score_kind} for c in self.columns],
            "skipped": [vars(s) for s in self.skipped],
            "notes": list(self.notes),
            "settings": dict(self.settings),
        }

    def metrics(self) -> dict[str, float]:
        """Return flat numeric metrics (for MLflow `log_metrics`): sizes, share and each column's score."""
        out = {
            "drift.share_drifted": self.share_drifted,
            "drift.columns_drifted": float(len(self.drifted_columns)),
            "drift.columns_tested": float(len(self.columns)),
            "drift.window_rows": float(self.window_rows),
            "drift.sampled_rows": float(self.sampled_rows),
            "drift.reference_rows": float(self.reference_rows),
            "drift.is_drift": float(self.verdict == "drift"),
        }
        out.update({f"drift.score.{c.column}": c.score for c in self.columns if math.isfinite(c.score)})
        return out


@dataclass(frozen=True)
class VersionDecay:
    """Realised performance of one model version's matured predictions, against its holdout PR-AUC."""

    model_version: str
    predictions: int  # matured unit-days scored by this version
    positives: int  # unit-days followed by a failure within the horizon
    failures: int  # distinct failures those positives lead to (what min_positives counts)
    pr_auc: float
    top_k_recall: float
    holdout_pr_auc: float | None
    relative_drop: float | None  # (holdout - realised) / holdout
    status: VersionStatus


@dataclass(frozen=True)
class DecayResult:
    """Whether any judged model version's realised PR-AUC fell too far below its holdout PR-AUC."""

    decayed: bool
    reason: str
    versions: tuple[VersionDecay, ...]
    matured_predictions: int
    unmatured_predictions: int  # excluded: their horizon has not elapsed yet
    outcomes_until: datetime
    settings: dict[str, Any]

    def version(self, name: str) -> VersionDecay:
        """Return the figures of one model version."""
        for v in self.versions:
            if v.model_version == name:
                return v
        raise KeyError(f"model version {name!r} has no matured predictions; have {[v.model_version for v in self.versions]}")

    def summary_markdown(self) -> str:
        """Render the decay verdict and the per-version table as markdown."""
        lines = [
            f"**Performance decay: {'decayed' if self.decayed else 'not decayed'}** - {self.reason}",
            "",
            f"{self.matured_predictions:,} matured unit-day predictions up to {self.outcomes_until.isoformat()} "
            f"({self.unmatured_predictions:,} not yet matured, excluded).",
            "",
            "| version | predictions | positive unit-days | failures | PR-AUC | top-k recall | holdout PR-AUC "
            "| drop | status |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for v in self.versions:
            drop = "-" if v.relative_drop is None else f"{v.relative_drop:.1%}"
            lines.append(
                f"| {v.model_version} | {v.predictions:,} | {v.positives:,} | {v.failures} | {_fmt(v.pr_auc)} | "
                f"{_fmt(v.top_k_recall)} | "
                f"{_fmt(v.holdout_pr_auc)} | {drop} | {v.status} |"
            )
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict (for MLflow `log_dict`)."""
        return {
            "decayed": self.decayed,
            "reason": self.reason,
            "matured_predictions": self.matured_predictions,
            "unmatured_predictions": self.unmatured_predictions,
            "outcomes_until": self.outcomes_until.isoformat(),
            "versions": [vars(v) for v in self.versions],
            "settings": dict(self.settings),
        }

    def metrics(self) -> dict[str, float]:
        """Return flat numeric metrics per version (for MLflow `log_metrics`)."""
        out: dict[str, float] = {"decay.is_decayed": float(self.decayed)}
        for v in self.versions:
            for name in ("pr_auc", "top_k_recall", "positives", "failures", "predictions"):
                value = float(getattr(v, name))
                if math.isfinite(value):
                    out[f"decay.v{v.model_version}.{name}"] = value
        return out
