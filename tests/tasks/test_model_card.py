"""Model card: every feature, metric and baseline appears, ratios are right, optional fields may be missing."""

from __future__ import annotations

import math

from tasks.config import ModelSettings
from tasks.model_card import INTENDED_USE, LIMITS, ModelCard, model_ratios, render_model_card

FEATURES = {"h2_log_ppm": "hydrogen (log ppm)", "co2_co_ratio": "CO2/CO ratio | paper", "load_max_30d": "peak load"}


def _card(**overrides: object) -> ModelCard:
    fields: dict[str, object] = {
        "model_name": "xfmr-failure",
        "run_id": "run-7f3a",
        "data_digest": "sha256:beef",
        "features": FEATURES,
        "metrics": {"pr_auc": 0.125, "roc_auc": 0.8765432, "brier": 0.0021, "failures": 1234.0},
        "baselines": {"c57_rule": {"pr_auc": 0.05, "roc_auc": 0.7, "failures": 1234.0}, "zero": {"pr_auc": 0.0}},
        "version": "3",
        "data_windows": {"holdout": "2024-07-01 .. 2024-12-31", "train": "2021-01-01 .. 2023-12-31"},
        "counts": {"train": (123_456, 321), "holdout": (21_000, 42)},
        "hyperparameters": ModelSettings().model_dump(),
        "calibration": "platt",
        "notes": ("split: time",),
    }
    fields.update(overrides)
    return ModelCard(**fields)  # type: ignore[arg-type]


def _row(markdown: str, first_cell: str) -> list[str]:
    line = next(line for line in markdown.splitlines() if line.startswith(f"| {first_cell} |"))
    return [cell.strip() for cell in line.strip("|").split(" | ")]


def test_card_lists_every_feature_with_its_description() -> None:
    text = render_model_card(_card())
    for column in ("h2_log_ppm", "load_max_30d"):
        assert _row(text, f"`{column}`")[1] == FEATURES[column]
    assert "| `co2_co_ratio` | CO2/CO ratio \\| paper |" in text  # a pipe must not split the cell


def test_metrics_table_shows_model_baselines_and_ratios_side_by_side() -> None:
    text = render_model_card(_card())
    header = _row(text, "Metric")
    assert header == ["Metric", "model", "c57_rule", "model / c57_rule", "zero", "model / zero"]
    assert _row(text, "pr_auc") == ["pr_auc", "0.125", "0.05", "2.5", "0", "n/a"]
    assert _row(text, "roc_auc")[1:4] == ["0.8765", "0.7", "1.252"]  # 4 significant digits
    assert _row(text, "brier (lower is better)")[2] == "n/a"  # the rule has no Brier score
    assert _row(text, "failures")[1:4] == ["1,234", "1,234", "1"]


def test_ratios_divide_model_by_baseline_and_skip_zero_or_missing() -> None:
    ratios = model_ratios(_card())
    assert ratios["c57_rule"]["pr_auc"] == 0.125 / 0.05
    assert ratios["c57_rule"]["roc_auc"] == 0.8765432 / 0.7
    assert math.isnan(ratios["zero"]["pr_auc"]) and math.isnan(ratios["c57_rule"]["brier"])


def test_data_section_orders_splits_and_formats_counts() -> None:
    text = render_model_card(_card())
    assert _row(text, "train") == ["train", "2021-01-01 .. 2023-12-31", "123,456", "321", "0.26 %"]
    assert text.index("| train |") < text.index("| holdout |")
    assert "Class balance: 363 positive snapshots of 144,456" in text


def test_card_has_every_section_and_the_default_texts() -> None:
    text = render_model_card(_card())
    sections = ["Intended use", "Data", "Features", "Hyperparameters", "Metrics on the frozen holdout",
                "Calibration", "Limits", "Lineage"]
    positions = [text.index(f"\n## {s}\n") for s in sections]
    assert positions == sorted(positions)
    assert text.startswith("# Model card: xfmr-failure (version 3)\n")
    assert "not an automatic protection or trip signal" in INTENDED_USE and INTENDED_USE in text
    assert all(f"- {limit}" in text for limit in LIMITS)
    assert "`run-7f3a`" in text and "`sha256:beef`" in text and "- split: time" in text
    assert "Platt scaling" in text


def test_card_renders_with_optional_fields_missing() -> None:
    card = ModelCard(model_name="m", run_id="r", data_digest="d", features={"a": "A"}, metrics={})
    text = render_model_card(card)
    assert "version not yet assigned" in text
    assert "None" not in text
    assert "No holdout metrics were recorded." in text
    assert "Split windows and counts were not recorded." in text
    assert "## Hyperparameters" not in text


def test_nan_metric_renders_as_not_available() -> None:
    text = render_model_card(_card(metrics={"pr_auc": float("nan")}, baselines={}))
    assert _row(text, "pr_auc") == ["pr_auc", "n/a"]
