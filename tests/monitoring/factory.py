"""Seeded synthetic prediction-log frames shaped like the model's features, with named drifts to inject."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

FEATURES = (
    "h2_log_ppm",  # gas: log-normal ppm, some units never sampled (NaN)
    "c2h2_log_ppm",
    "load_mean_30d",
    "load_max_30d",
    "hot_spot_max_30d",
    "c57_status",  # categorical 1..4
    "duval_zone_T1",  # one-hot flag
    "moisture_band",  # categorical 0..2
    "age_years",  # grows with time: report-only by default
)
START = pd.Timestamp("2025-06-01", tz="UTC")

Shift = Callable[[pd.DataFrame, np.random.Generator], None]


def _probability(frame: pd.DataFrame) -> np.ndarray:
    """A stand-in model: risk rises with gases, load and condition status."""
    z = (
        1.2 * frame["h2_log_ppm"].fillna(2.5)
        + 1.0 * frame["c2h2_log_ppm"].fillna(0.0)
        + 4.0 * frame["load_mean_30d"]
        + 0.5 * frame["c57_status"]
        - 9.5
    )
    return np.asarray(1.0 / (1.0 + np.exp(-z)))


def make_window(n: int, seed: int, shift: Shift | None = None, start: pd.Timestamp = START) -> pd.DataFrame:
    """Return `n` prediction-log rows scored one minute apart from `start`, optionally with a drift applied."""
    rng = np.random.default_rng(seed)
    h2 = rng.normal(2.5, 0.8, n)
    h2[rng.random(n) < 0.1] = np.nan
    load = np.clip(rng.normal(0.6, 0.12, n), 0.05, None)
    frame = pd.DataFrame({
        "request_id": [f"r{seed}-{i}" for i in range(n)],
        "scored_at": start + pd.to_timedelta(np.arange(n), unit="min"),
        "transformer_id": [f"T{i % 400:04d}" for i in range(n)],
        "model_version": "3",
        "h2_log_ppm": h2,
        "c2h2_log_ppm": np.abs(rng.normal(0.0, 0.6, n)),
        "load_mean_30d": load,
        "load_max_30d": load * rng.uniform(1.2, 1.6, n),
        "hot_spot_max_30d": 60.0 + 45.0 * load + rng.normal(0.0, 5.0, n),
        "c57_status": rng.choice([1.0, 2.0, 3.0, 4.0], n, p=[0.6, 0.25, 0.1, 0.05]),
        "duval_zone_T1": (rng.random(n) < 0.2).astype(float),
        "moisture_band": rng.choice([0.0, 1.0, 2.0], n, p=[0.7, 0.2, 0.1]),
        "age_years": rng.uniform(5.0, 45.0, n),
        "cooling_OFAF": np.zeros(n),  # constant: skipped
        "latency_ms": rng.gamma(2.0, 1.5, n),
    })
    if shift is not None:
        shift(frame, rng)
    frame["failure_probability"] = _probability(frame)
    return frame


def gas_bias(frame: pd.DataFrame, rng: np.random.Generator) -> None:
    """Online H2 monitors re-calibrated with a bias: +0.6 in log ppm (about x1.8)."""
    frame["h2_log_ppm"] += 0.6


def load_growth(frame: pd.DataFrame, rng: np.random.Generator) -> None:
    """Every unit carries 20 % more load."""
    for column in ("load_mean_30d", "load_max_30d"):
        frame[column] *= 1.2
    frame["hot_spot_max_30d"] += 45.0 * 0.2 * frame["load_mean_30d"] / 1.2


def bimodal_load(frame: pd.DataFrame, rng: np.random.Generator) -> None:
    """Rooftop solar on half the feeders: the mean load is unchanged, its distribution splits in two."""
    n = len(frame)
    high = rng.random(n) < 0.5
    frame["load_mean_30d"] = np.where(high, rng.normal(0.72, 0.03, n), rng.normal(0.48, 0.03, n))


def older_fleet(frame: pd.DataFrame, rng: np.random.Generator) -> None:
    """Two years on: every unit is older (a drift by construction, not a change of the fleet)."""
    frame["age_years"] += 8.0
