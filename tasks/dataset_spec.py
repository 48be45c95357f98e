"""Bring your own data: a small YAML spec that turns a utility's export (CSV, Parquet, Excel) into a modelling table."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tasks.dataset import ModelingTable
from tasks.digest import frame_digest
from tasks.features import FEATURE_DESCRIPTIONS, dga_features
from tasks.schema import GASES
from tasks.sources import TrainingData

MAX_CATEGORIES = 20
DEFAULT_POSITIVE = ("yes", "y", "true", "1", "failed", "fail", "1.0")
DEFAULT_NEGATIVE = ("no", "n", "false", "0", "ok", "healthy", "0.0")
CANONICAL = (*GASES, "oil_preservation")


class LabelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str
    positive: tuple[str, ...] = DEFAULT_POSITIVE
    negative: tuple[str, ...] = DEFAULT_NEGATIVE


class DatasetSpec(BaseModel):
    """What the export holds: files, id/time/label columns, features, ranges and canonical names."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "utility_export"
    files: tuple[str, ...] = Field(min_length=1, description="paths relative to the spec file")
    sheet: str | int | None = Field(None, description="Excel sheet (default: the first)")
    id_column: str
    time_column: str | None = Field(None, description="snapshot time; without it the split is stratified at random")
    label: LabelSpec
    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    exclude: tuple[str, ...] = Field((), description="columns that leak the label: never features")
    ranges: dict[str, tuple[float, float]] = Field(default_factory=dict, description="physical [low, high] per column")
    canonical: dict[str, str] = Field(default_factory=dict, description="canonical name (h2..co2, oil_preservation) -> your column")

    @field_validator("canonical")
    @classmethod
    def _known_canonical(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(CANONICAL))
        if unknown:
            raise ValueError(f"unknown canonical name(s) {unknown}; known: {list(CANONICAL)}")
        return value


def read_spec(path: Path) -> DatasetSpec:
    """Parse and validate a spec file, naming the field that is wrong."""
    if not path.is_file():
        raise FileNotFoundError(f"dataset spec {path} does not exist")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ValueError(f"dataset spec {path}: not valid YAML ({exc})") from None
    try:
        return DatasetSpec.model_validate(raw or {})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'spec'}: {e['msg']}" for e in exc.errors())
        raise ValueError(f"dataset spec {path}: {problems}") from None


def _read(path: Path, sheet: str | int | None) -> pd.DataFrame:
    if not path.is_file():
        raise FileNotFoundError(f"data file {path} named in the dataset spec does not exist")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path, dtype=str, keep_default_na=True)
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if suffix in (".xlsx", ".xlsm", ".xls"):
        return pd.read_excel(path, sheet_name=sheet if sheet is not None else 0, dtype=object)
    raise ValueError(f"data file {path}: unsupported type {suffix!r} (use .csv, .parquet or .xlsx)")


def _numeric(frame: pd.DataFrame, column: str, source: str) -> tuple[pd.Series, pd.Series]:
    """Convert a column to float; return values and a mask of non-empty cells that were not numbers."""
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce").astype(float)
    bad = values.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
    if bad.any() and bad.sum() == raw.notna().sum():
        example = raw[bad].iloc[0]
        raise ValueError(f"{source}: column {column!r} is declared numeric but holds text (e.g. {example!r})")
    return values, bad


def _labels(frame: pd.DataFrame, spec: LabelSpec, source: str) -> pd.Series:
    text = frame[spec.column].astype(str).str.strip().str.lower()
    pos = text.isin([p.lower() for p in spec.positive])
    neg = text.isin([n.lower() for n in spec.negative])
    unknown = sorted(set(text[~pos & ~neg]))
    if unknown:
        raise ValueError(
            f"{source}: label column {spec.column!r} has value(s) {unknown[:5]} that are neither "
            f"positive {list(spec.positive)} nor negative {list(spec.negative)}"
        )
    return pos.astype(float)


def _check_columns(spec: DatasetSpec, frame: pd.DataFrame, source: str) -> None:
    wanted = {
        "id_column": [spec.id_column], "time_column": [spec.time_column] if spec.time_column else [],
        "label.column": [spec.label.column], "numeric": list(spec.numeric), "categorical": list(spec.categorical),
        "canonical": list(spec.canonical.values()),
    }
    for role, columns in wanted.items():
        for column in columns:
            if column not in frame.columns:
                raise ValueError(
                    f"{source}: column {column!r} ({role} in the spec) is not in the data; "
                    f"columns are {sorted(map(str, frame.columns))}"
                )
    leaky = sorted(set(spec.exclude) & (set(spec.numeric) | set(spec.categorical)))
    if leaky:
        raise ValueError(f"{source}: column(s) {leaky} are listed both as features and in exclude")
    if spec.label.column in set(spec.numeric) | set(spec.categorical) | set(spec.canonical.values()):
        raise ValueError(f"{source}: label column {spec.label.column!r} cannot also be a feature")


def load_spec_data(path: Path) -> TrainingData:
    """Load the export a spec describes, quarantine bad rows, derive features and return training data."""
    spec = read_spec(path)
    frames = [_read((path.parent / f).resolve(), spec.sheet) for f in spec.files]
    frame = pd.concat(frames, ignore_index=True)
    source = f"{path.name} ({', '.join(spec.files)})"
    _check_columns(spec, frame, source)
    frame.columns = [str(c) for c in frame.columns]

    quarantine = pd.Series("", index=frame.index, dtype=object)
    numeric_cols = list(dict.fromkeys([*spec.numeric, *(spec.canonical[g] for g in GASES if g in spec.canonical)]))
    values: dict[str, pd.Series] = {}
    for column in numeric_cols:
        values[column], bad = _numeric(frame, column, source)
        quarantine[bad & (quarantine == "")] = f"bad_type:{column}"
        low, high = spec.ranges.get(column, (-np.inf, np.inf))
        outside = (values[column] < low) | (values[column] > high)
        quarantine[outside & (quarantine == "")] = f"out_of_range:{column}"
    ids = frame[spec.id_column].astype(str).str.strip()
    quarantine[(frame[spec.id_column].isna() | (ids == "")) & (quarantine == "")] = "missing_id"
    as_of = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]")
    if spec.time_column:
        as_of = pd.to_datetime(frame[spec.time_column], utc=True, errors="coerce")
        quarantine[as_of.isna() & (quarantine == "")] = f"bad_timestamp:{spec.time_column}"
    label = _labels(frame, spec.label, source)

    keep = (quarantine == "").to_numpy()
    features = pd.DataFrame({c: values[c] for c in spec.numeric}, index=frame.index)
    for column in spec.categorical:
        text = frame[column].astype(str).where(frame[column].notna(), "missing")
        top = sorted(text.value_counts().head(MAX_CATEGORIES).index)
        for value in top:
            features[f"{column}={value}"] = (text == value).astype(float)
    labels = {c: c for c in features.columns}
    levels = {g: values[spec.canonical[g]].to_numpy(dtype=float) for g in GASES if g in spec.canonical}
    if levels:
        preservation = frame[spec.canonical["oil_preservation"]].to_numpy(dtype=object) if "oil_preservation" in spec.canonical else None
        derived = dga_features(levels, preservation)
        for name, column in derived.items():
            features[name] = column
            labels[name] = FEATURE_DESCRIPTIONS.get(name, name)
    if features.empty:
        raise ValueError(f"dataset spec {path}: no feature columns (list numeric/categorical columns or map gases)")

    table = pd.concat(
        [
            pd.DataFrame({"transformer_id": ids, "as_of": as_of, "label": label,
                          "failed_at": pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]")}),
            features,
        ],
        axis=1,
    ).loc[keep].reset_index(drop=True)
    counts = quarantine[~keep].str.split(":").str[0].value_counts().to_dict()
    digest = hashlib.sha256(
        (frame_digest(frame.loc[keep].reset_index(drop=True).astype(str)) + spec.model_dump_json()).encode()
    ).hexdigest()
    modeling = ModelingTable(
        frame=table,
        readings=frame.loc[keep].reset_index(drop=True),
        feature_columns=tuple(features.columns),
        feature_labels=labels,
        data_end=as_of.max() if spec.time_column else pd.Timestamp("1970-01-01", tz="UTC"),
        censored_rows=0,
        readings_are_features=True,
    )
    report: dict[str, Any] = {
        "spec": str(path.resolve()), "rows_read": int(len(frame)), "rows_accepted": int(keep.sum()),
        "quarantined": {str(k): int(v) for k, v in counts.items()},
        "quarantined_examples": quarantine[~keep].head(20).to_dict(),
        "split": "time" if spec.time_column else "random_stratified (no time column)",
    }
    return TrainingData(
        digest=digest, description=f"dataset spec {path.resolve()}", has_time=spec.time_column is not None,
        report=report, table=modeling,
    )
