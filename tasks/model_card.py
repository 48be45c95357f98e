"""Render a training run's model card as Markdown: use, data, features, holdout metrics, limits, lineage."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = ["INTENDED_USE", "LIMITS", "ModelCard", "model_ratios", "render_model_card"]

INTENDED_USE = (
    "Decision support for prioritising inspections, oil sampling and maintenance of power transformers: "
    "rank units by their failure probability and send crews to the riskiest first. It is not an automatic "
    "protection or trip signal: it must never switch equipment, and it does not replace protection relays, "
    "Buchholz relays or DGA alarm limits."
)
LIMITS: tuple[str, ...] = (
    "Trained and evaluated on synthetic fleet data unless the Data section names a real source; "
    "performance on a real fleet is unproven until it is measured there.",
    "Failure modes without a measurable precursor (lightning, external through-faults, switching surges, "
    "mechanical damage) cannot be predicted from oil and thermal history.",
    "Probabilities are calibrated to the failure base rate of the training fleet and period; for a fleet with a "
    "different base rate they must be recalibrated before being read as absolute risks (the ranking suffers less).",
    "Inputs outside the training range (new designs, faulty sensors, a different oil laboratory) are not flagged "
    "by the model itself; the drift monitor has to catch them.",
    "Snapshots are correlated in time and within a unit, so the holdout metrics carry more uncertainty "
    "than their row counts suggest.",
)
CALIBRATION_TEXT = {
    "platt": "Platt scaling. A logistic regression on the booster's log-odds, fitted on the validation window "
    "(never on the holdout), turns scores into probabilities. This undoes the distortion of the weight on "
    "positives used in training.",
    "none": "no recalibration. The probabilities are the booster's raw output, distorted by the weight on "
    "positives used in training. Use them for ranking only.",
}
LOWER_IS_BETTER = frozenset({"brier"})
SPLIT_ORDER = ("train", "validation", "holdout")


@dataclass(frozen=True, kw_only=True)
class ModelCard:
    """What a reader needs to judge a model: where it came from, how well it does, and when not to use it."""

    model_name: str
    run_id: str
    data_digest: str
    features: Mapping[str, str]  # column -> readable description
    metrics: Mapping[str, float]  # the model's holdout metrics
    baselines: Mapping[str, Mapping[str, float]] = field(default_factory=dict)  # name -> its metrics
    version: str | None = None  # unknown until the run's model is registered
    created: str | None = None
    data_source: str | None = None  # where the snapshots came from (path or URI); None when not recorded
    data_windows: Mapping[str, str] = field(default_factory=dict)  # split -> "YYYY-MM-DD .. YYYY-MM-DD"
    counts: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # split -> (rows, positives)
    hyperparameters: Mapping[str, object] = field(default_factory=dict)
    calibration: str = "none"
    horizon_days: int = 90
    intended_use: str = INTENDED_USE
    limits: tuple[str, ...] = LIMITS
    notes: tuple[str, ...] = ()


def _num(value: object) -> str:
    """Format a metric: 4 significant digits, whole numbers with thousands separators, missing as n/a."""
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return "n/a" if value is None else str(value)
    if not math.isfinite(value):
        return "n/a"
    if float(value).is_integer() and abs(value) >= 1:
        return f"{int(value):,}"
    return f"{value:.4g}"


def _cell(text: object) -> str:
    # A pipe or newline inside a cell would break the Markdown table.
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: Iterable[str], rows: Iterable[Iterable[object]]) -> list[str]:
    head = [_cell(h) for h in header]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def model_ratios(card: ModelCard) -> dict[str, dict[str, float]]:
    """Return model / baseline per baseline and metric (NaN where either is missing or the baseline is 0)."""
    out: dict[str, dict[str, float]] = {}
    for name, base in card.baselines.items():
        ratios = {}
        for metric, value in card.metrics.items():
            b = base.get(metric)
            ok = b is not None and math.isfinite(b) and b != 0 and math.isfinite(value)
            ratios[metric] = float(value) / float(b) if ok and b is not None else float("nan")
        out[name] = ratios
    return out


def _summary(card: ModelCard) -> str:
    text = (
        f"XGBoost binary classifier giving a calibrated probability that a power transformer fails within "
        f"{card.horizon_days} days of a snapshot."
    )
    if "pr_auc" in card.metrics:
        text += f" Holdout PR-AUC {_num(card.metrics['pr_auc'])}"
        if "positive_rate" in card.metrics:
            text += f" at a positive rate of {_num(card.metrics['positive_rate'])}"
        text += "."
    return text


def _data(card: ModelCard) -> list[str]:
    known = dict.fromkeys((*card.data_windows, *card.counts))
    rows = []
    for split in sorted(known, key=lambda s: SPLIT_ORDER.index(s) if s in SPLIT_ORDER else len(SPLIT_ORDER)):
        n, pos = card.counts.get(split, (None, None))
        rate = f"{100 * pos / n:.3g} %" if n and pos is not None else "n/a"
        rows.append((split, card.data_windows.get(split, "n/a"), _num(n), _num(pos), rate))
    lines = [f"Source: {card.data_source or 'not recorded'}", "", f"Data digest: `{card.data_digest}`", ""]
    if rows:
        lines += _table(("Split", "Window", "Rows", "Positives", "Positive rate"), rows)
        total = sum(n for n, _ in card.counts.values())
        positives = sum(p for _, p in card.counts.values())
        if total and positives:
            lines += ["", f"Class balance: {positives:,} positive snapshots of {total:,} "
                          f"(about 1 in {total / positives:,.0f})."]
    else:
        lines.append("Split windows and counts were not recorded.")
    return lines


def _metrics(card: ModelCard) -> list[str]:
    names = list(card.baselines)
    ratios = model_ratios(card)
    header = ["Metric", "model", *(h for n in names for h in (n, f"model / {n}"))]
    rows = []
    for metric, value in card.metrics.items():
        label = f"{metric} (lower is better)" if metric in LOWER_IS_BETTER else metric
        cells = [label, _num(value)]
        for n in names:
            cells += [_num(card.baselines[n].get(metric)), _num(ratios[n][metric])]
        rows.append(cells)
    if not rows:
        return ["No holdout metrics were recorded."]
    return _table(header, rows)


def render_model_card(card: ModelCard) -> str:
    """Return the model card as Markdown."""
    version = f"version {card.version}" if card.version else "version not yet assigned"
    lines = [f"# Model card: {card.model_name} ({version})", "", _summary(card), ""]
    if card.created:
        lines += [f"Created: {card.created}", ""]
    lines += ["## Intended use", "", card.intended_use, "", "## Data", "", *_data(card), ""]
    lines += ["## Features", "", f"{len(card.features):,} features, in model input order.", ""]
    lines += _table(("Column", "Description"), ((f"`{c}`", d) for c, d in card.features.items()))
    if card.hyperparameters:
        lines += ["", "## Hyperparameters", ""]
        lines += _table(("Parameter", "Value"), ((k, _num(v)) for k, v in card.hyperparameters.items()))
    lines += ["", "## Metrics on the frozen holdout", "", *_metrics(card), ""]
    if card.baselines:
        lines += ["A ratio above 1 means the model scores higher than the baseline.", ""]
    calibration = CALIBRATION_TEXT.get(card.calibration, card.calibration)
    lines += ["## Calibration", "", f"Method: {calibration}"]
    if "brier" in card.metrics:
        lines += ["", f"Holdout Brier score: {_num(card.metrics['brier'])} (see plots/reliability.png)."]
    lines += ["", "## Limits", "", *(f"- {limit}" for limit in card.limits), ""]
    lines += ["## Lineage", "", f"- MLflow run id: `{card.run_id}`", f"- Data digest: `{card.data_digest}`"]
    lines += [f"- {note}" for note in card.notes]
    return "\n".join(lines) + "\n"
