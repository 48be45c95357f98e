"""Split labelled snapshots into train / validation / frozen holdout without leaking the future."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tasks.config import LabelSettings, SplitSettings


@dataclass(frozen=True)
class Window:
    """A closed time window of snapshot times."""

    start: pd.Timestamp | None
    end: pd.Timestamp | None

    def describe(self) -> str:
        if self.start is None or self.end is None:
            return "random"
        return f"{self.start:%Y-%m-%d} .. {self.end:%Y-%m-%d}"


@dataclass(frozen=True)
class Split:
    """Three disjoint sets of labelled snapshots and how they were cut."""

    train: pd.DataFrame
    validation: pd.DataFrame
    holdout: pd.DataFrame
    kind: str  # "time" or "random_stratified"
    windows: dict[str, Window]
    purged_rows: int

    def counts(self) -> dict[str, tuple[int, int]]:
        """Return rows and positives per part."""
        return {
            name: (len(part), int(part["label"].sum()))
            for name, part in (("train", self.train), ("validation", self.validation), ("holdout", self.holdout))
        }


def time_split(table: pd.DataFrame, split: SplitSettings, labels: LabelSettings) -> Split:
    """Hold out the latest window, validate on the one before, train on the rest.

    A snapshot's label looks `horizon_days` ahead, so rows whose label window reaches into the
    next part are purged: otherwise training would see outcomes from inside the validation window.
    """
    _require(table, ("as_of", "label"))
    last = table["as_of"].max()
    holdout_start = last - pd.Timedelta(days=split.holdout_days)
    validation_start = holdout_start - pd.Timedelta(days=split.validation_days)
    horizon = pd.Timedelta(days=labels.horizon_days)

    in_holdout = table["as_of"] > holdout_start
    in_validation = (table["as_of"] > validation_start) & ~in_holdout
    in_train = ~in_holdout & ~in_validation
    keep_validation = in_validation & (table["as_of"] + horizon <= holdout_start)
    keep_train = in_train & (table["as_of"] + horizon <= validation_start)
    purged = int((in_validation & ~keep_validation).sum() + (in_train & ~keep_train).sum())

    parts = {"train": table[keep_train], "validation": table[keep_validation], "holdout": table[in_holdout]}
    for name, part in parts.items():
        if part.empty or part["label"].nunique() < 2:
            raise ValueError(
                f"time split: the {name} window has {len(part)} rows and "
                f"{int(part['label'].sum()) if len(part) else 0} failures; it needs both classes "
                f"(longer history, more units, or shorter holdout_days/validation_days)"
            )
    windows = {
        name: Window(part["as_of"].min(), part["as_of"].max()) for name, part in parts.items()
    }
    return Split(
        train=parts["train"].reset_index(drop=True),
        validation=parts["validation"].reset_index(drop=True),
        holdout=parts["holdout"].reset_index(drop=True),
        kind="time",
        windows=windows,
        purged_rows=purged,
    )


def stratified_random_split(table: pd.DataFrame, split: SplitSettings) -> Split:
    """Split rows at random, keeping the positive share in each part (for data without a time column)."""
    _require(table, ("label",))
    rng = np.random.default_rng(split.seed)
    share = split.random_test_share
    assignment = np.empty(len(table), dtype=object)
    for value in (0.0, 1.0):
        idx = np.flatnonzero(table["label"].to_numpy() == value)
        rng.shuffle(idx)
        n_hold = max(1, int(round(len(idx) * share)))
        n_val = max(1, int(round(len(idx) * share)))
        if len(idx) < 3:
            raise ValueError(f"random split: only {len(idx)} rows with label {int(value)}; need at least 3")
        assignment[idx[:n_hold]] = "holdout"
        assignment[idx[n_hold : n_hold + n_val]] = "validation"
        assignment[idx[n_hold + n_val :]] = "train"
    parts = {name: table[assignment == name].reset_index(drop=True) for name in ("train", "validation", "holdout")}
    return Split(
        train=parts["train"],
        validation=parts["validation"],
        holdout=parts["holdout"],
        kind="random_stratified",
        windows={name: Window(None, None) for name in parts},
        purged_rows=0,
    )


def _require(table: pd.DataFrame, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"split: table lacks column(s) {', '.join(missing)}")
