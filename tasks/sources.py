"""Where training data comes from: a validated fleet folder or a utility's own export described by a spec."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tasks.config import LabelSettings
from tasks.dataset import ModelingTable, attach_true_hazard, build_modeling_table
from tasks.schema import HAZARD_FILE, TRUTH_DIR

# Today's practice, scored like the model: IEEE C57.104 status (ties broken by total combustible gas)
# and age alone.
C57_STATUS_FEATURE = "c57_status_overall"
TIEBREAK_FEATURE = "tdcg_log"
AGE_FEATURE = "age_years"


@dataclass(frozen=True)
class TrainingData:
    """Validated input data, its digest and, once built, the modelling table."""

    digest: str
    description: str
    has_time: bool
    report: dict[str, Any]
    tables: dict[str, pd.DataFrame] | None = None
    table: ModelingTable | None = None
    hazard: pd.DataFrame | None = field(default=None, repr=False)

    def with_modeling_table(self, labels: LabelSettings) -> TrainingData:
        """Return a copy with the modelling table built (fleet data) or as given (a spec's table)."""
        if self.table is not None:
            return self
        if self.tables is None:
            raise ValueError("training data has neither fleet tables nor a modelling table")
        # The raw tables (millions of telemetry rows) are not needed past this point; dropping them
        # keeps the cached result of the feature step small.
        return replace(self, table=build_modeling_table(self.tables, labels), tables=None)

    def baseline_scores(self, holdout: pd.DataFrame) -> dict[str, np.ndarray]:
        """Scores of the rule baselines (and the true hazard on synthetic data) for the holdout rows."""
        out: dict[str, np.ndarray] = {}
        if C57_STATUS_FEATURE in holdout.columns:
            tiebreak = holdout[TIEBREAK_FEATURE].fillna(0.0) if TIEBREAK_FEATURE in holdout.columns else 0.0
            out["c57_104_rule"] = (holdout[C57_STATUS_FEATURE].fillna(1.0) + 1e-3 * tiebreak).to_numpy(dtype=float)
        if AGE_FEATURE in holdout.columns:
            out["age_rule"] = holdout[AGE_FEATURE].to_numpy(dtype=float)
        truth = attach_true_hazard(holdout, self.hazard) if self.has_time else None
        if truth is not None and np.isfinite(truth).any():
            out["true_hazard"] = np.nan_to_num(truth, nan=0.0)
        return out


def load_fleet(folder: Path) -> TrainingData:
    """Ingest a fleet folder (validated, quarantined, digested) and its ground truth if it has one."""
    from tasks.ingest import ingest_folder

    result = ingest_folder(folder)
    hazard_path = folder / TRUTH_DIR / HAZARD_FILE
    hazard = pd.read_parquet(hazard_path, columns=["transformer_id", "date", "hazard"]) if hazard_path.is_file() else None
    return TrainingData(
        digest=result.digest,
        description=str(folder.resolve()),
        has_time=True,
        report=_report_dict(result.report),
        tables=dict(result.tables),
        hazard=hazard,
    )


def _report_dict(report: Any) -> dict[str, Any]:
    from dataclasses import asdict, is_dataclass

    return asdict(report) if is_dataclass(report) else {"report": str(report)}
