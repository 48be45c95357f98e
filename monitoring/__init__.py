"""Drift detection, drift policy and performance decay: the only package that imports Evidently.

Names are imported on first use, so the policy and the results load without Evidently's slow import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "DecaySettings": "config", "DriftPolicy": "config", "DriftSettings": "config", "MonitoringConfig": "config",
    "SeasonalSettings": "config",
    "check_decay": "decay", "label_predictions": "decay",
    "check_drift": "drift", "choose_test": "drift",
    "PredictionWindow": "loaders", "load_prediction_window": "loaders", "load_reference": "loaders",
    "PolicyDecision": "policy", "PolicyState": "policy", "evaluate_decay": "policy", "evaluate_policy": "policy",
    "record_retrain": "policy",
    "report_filename": "report_io", "save_report": "report_io",
    "ColumnDrift": "results", "DecayResult": "results", "DriftResult": "results", "SkippedColumn": "results",
    "VersionDecay": "results",
    "ReservoirSampler": "sampling", "sample_rows": "sampling",
    "SeasonalReference": "seasonal", "seasonal_reference": "seasonal",
}
__all__ = [
    "ColumnDrift",
    "DecayResult",
    "DecaySettings",
    "DriftPolicy",
    "DriftResult",
    "DriftSettings",
    "MonitoringConfig",
    "PolicyDecision",
    "PolicyState",
    "PredictionWindow",
    "ReservoirSampler",
    "SeasonalReference",
    "SeasonalSettings",
    "SkippedColumn",
    "VersionDecay",
    "check_decay",
    "check_drift",
    "choose_test",
    "evaluate_decay",
    "evaluate_policy",
    "label_predictions",
    "load_prediction_window",
    "load_reference",
    "record_retrain",
    "report_filename",
    "sample_rows",
    "save_report",
    "seasonal_reference",
]

if TYPE_CHECKING:
    from monitoring.config import DecaySettings, DriftPolicy, DriftSettings, MonitoringConfig, SeasonalSettings
    from monitoring.decay import check_decay, label_predictions
    from monitoring.drift import check_drift, choose_test
    from monitoring.loaders import PredictionWindow, load_prediction_window, load_reference
    from monitoring.policy import PolicyDecision, PolicyState, evaluate_decay, evaluate_policy, record_retrain
    from monitoring.report_io import report_filename, save_report
    from monitoring.results import ColumnDrift, DecayResult, DriftResult, SkippedColumn, VersionDecay
    from monitoring.sampling import ReservoirSampler, sample_rows
    from monitoring.seasonal import SeasonalReference, seasonal_reference


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'monitoring' has no attribute {name!r}")
    return getattr(importlib.import_module(f"monitoring.{_EXPORTS[name]}"), name)
