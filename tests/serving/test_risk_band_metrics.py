"""Readings counted by model and risk band on /metrics: every band present once a model has scored."""

from __future__ import annotations

import numpy as np

from serving.metrics import ServiceMetrics
from serving.settings import RISK_BAND_NAMES


def band_counts(metrics: ServiceMetrics) -> dict[tuple[str, str], float]:
    return {(s.labels["model"], s.labels["band"]): s.value for family in metrics.registry.collect()
            for s in family.samples if s.name == "xfmr_readings_by_risk_band_total"}


def test_readings_are_counted_by_model_and_band_with_zeros_for_bands_not_seen() -> None:
    metrics = ServiceMetrics()
    assert band_counts(metrics) == {}
    metrics.count_bands("transformer_failure", np.array([0, 0, 3, 1, 0], dtype=np.int64))
    metrics.count_bands("transformer_failure", np.array([3], dtype=np.int64))
    metrics.count_bands("pump_failure", np.array([2], dtype=np.int64))
    assert band_counts(metrics) == {
        ("transformer_failure", "low"): 3.0, ("transformer_failure", "medium"): 1.0,
        ("transformer_failure", "high"): 0.0, ("transformer_failure", "critical"): 2.0,
        ("pump_failure", "low"): 0.0, ("pump_failure", "medium"): 0.0,
        ("pump_failure", "high"): 1.0, ("pump_failure", "critical"): 0.0,
    }
    assert RISK_BAND_NAMES == ("low", "medium", "high", "critical")
    assert b'xfmr_readings_by_risk_band_total{band="critical",model="transformer_failure"} 2.0' in metrics.render()
