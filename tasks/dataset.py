"""Turn validated fleet tables into the modelling table: point-in-time features and labels per snapshot."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tasks.config import LabelSettings
from tasks.features import FEATURE_COLUMNS, FEATURE_DESCRIPTIONS, build_snapshots, compute_features
from tasks.labels import label_snapshots, next_failure, observation_window, snapshot_grid


FEATURE_MODULES = ("features", "snapshots", "labels", "dga", "condition", "physics", "dataset", "schema")


def feature_code_digest() -> str:
    """Hash the source of every module that shapes features and labels (part of the feature cache key)."""
    digest = hashlib.sha256()
    folder = Path(__file__).resolve().parent
    for name in FEATURE_MODULES:
        path = folder / f"{name}.py"
        if path.is_file():
            digest.update(name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class ModelingTable:
    """Labelled snapshots: features for the model, raw readings for serving/monitoring, outcome dates for evaluation."""

    frame: pd.DataFrame  # transformer_id, as_of, label, failed_at + feature columns
    readings: pd.DataFrame  # the raw reading fields of the same rows, same order
    feature_columns: tuple[str, ...]
    feature_labels: dict[str, str]
    data_end: pd.Timestamp
    censored_rows: int
    readings_are_features: bool = False  # dataset-spec tables: the model reads the feature columns directly

    def inputs_for(self, rows: pd.DataFrame) -> pd.DataFrame:
        """Return what the model is fed for these rows: fleet readings, or the features themselves."""
        if self.readings_are_features:
            return rows[["transformer_id", *self.feature_columns]].reset_index(drop=True)
        keys = rows[["transformer_id", "as_of"]]
        return keys.merge(self.readings, on=["transformer_id", "as_of"], how="left")

    @property
    def positives(self) -> int:
        return int(self.frame["label"].sum())


def data_end(tables: Mapping[str, pd.DataFrame]) -> pd.Timestamp:
    """Return the latest time any monitoring table has data for."""
    ends = [tables["telemetry"]["timestamp"].max(), tables["dga"]["sampled_at"].max()]
    return max(e for e in ends if pd.notna(e))


def build_modeling_table(tables: Mapping[str, pd.DataFrame], labels: LabelSettings) -> ModelingTable:
    """Snapshot every unit on a fixed grid, assemble point-in-time readings, compute features and labels."""
    end = data_end(tables)
    grid = snapshot_grid(tables, freq_days=labels.snapshot_freq_days)
    # Observation ends per unit: a unit retired early is unknown after its last data, not healthy.
    unit_end = observation_window(tables)["last"]
    y = label_snapshots(grid, tables["failures"], data_end=unit_end, horizon_days=labels.horizon_days)
    known = y.notna().to_numpy()
    grid = grid.loc[known].reset_index(drop=True)
    readings = build_snapshots(tables, grid).reset_index(drop=True)
    features = compute_features(readings)
    frame = pd.concat(
        [
            grid[["transformer_id", "as_of"]].reset_index(drop=True),
            pd.DataFrame({"label": y[known].to_numpy(dtype=float), "failed_at": pd.to_datetime(next_failure(grid, tables["failures"]).to_numpy()).tz_localize("UTC")}),
            features.reset_index(drop=True),
        ],
        axis=1,
    )
    return ModelingTable(
        frame=frame,
        readings=readings,
        feature_columns=tuple(FEATURE_COLUMNS),
        feature_labels=dict(FEATURE_DESCRIPTIONS),
        data_end=end,
        censored_rows=int((~known).sum()),
    )


def attach_true_hazard(frame: pd.DataFrame, hazard: pd.DataFrame | None) -> np.ndarray | None:
    """Look up the generator's latent daily hazard for each snapshot (synthetic data only)."""
    if hazard is None or hazard.empty:
        return None
    h = hazard[["transformer_id", "date", "hazard"]].copy()
    h["date"] = pd.to_datetime(h["date"], utc=True).dt.normalize()
    key = frame[["transformer_id"]].copy()
    key["date"] = pd.to_datetime(frame["as_of"], utc=True).dt.normalize()
    merged = key.merge(h, on=["transformer_id", "date"], how="left")
    return merged["hazard"].to_numpy(dtype=float)
