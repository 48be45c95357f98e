"""Request and response models of the HTTP API; the reading model is built from the shared READING_FIELDS."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model

from tasks.features import READING_FIELDS
from tasks.schema import Column

READING_FIELD_NAMES: tuple[str, ...] = tuple(c.name for c in READING_FIELDS)
_PYTHON_TYPES: dict[str, Any] = {"str": str, "float": float, "int": int, "timestamp": datetime}


def _utc_naive(value: datetime) -> datetime:
    """Store instants as naive UTC, the convention of the training snapshots (naive input is UTC already)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def _field(column: Column) -> tuple[Any, Any]:
    """Return the (annotation, FieldInfo) of one reading field: type, physical range, nullability."""
    if column.kind == "category":
        annotation: Any = Literal[column.categories]  # type: ignore[valid-type]
    else:
        annotation = _PYTHON_TYPES[column.kind]
    if column.kind == "timestamp":
        annotation = Annotated[annotation, AfterValidator(_utc_naive)]
    limits: dict[str, Any] = {}
    if column.low is not None:
        limits["ge"] = column.low
    if column.high is not None:
        limits["le"] = column.high
    if column.kind == "str":
        limits.update(min_length=1, max_length=128)
    if limits:
        annotation = Annotated[annotation, Field(**limits)]
    unit = f" [{column.unit}]" if column.unit else ""
    span = f" range {column.low:g}..{column.high:g}" if column.low is not None and column.high is not None else ""
    description = f"{column.kind}{unit}{span}{'; null when unknown' if column.nullable else ''}"
    if column.nullable:
        annotation = annotation | None
    # Every field is required (nullable ones as explicit null), exactly like the training readings.
    return annotation, Field(..., description=description, json_schema_extra={"unit": column.unit} if column.unit else None)


class _ReadingBase(BaseModel):
    # Strict: JSON types must match (no "12" for 12); unknown fields and NaN/Infinity are rejected.
    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False, frozen=True)


Reading: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "Reading",
    __base__=_ReadingBase,
    __doc__="One transformer snapshot: asset attributes, latest/previous/baseline DGA, 30-day load and temperature, oil test.",
    **{c.name: _field(c) for c in READING_FIELDS},
)

EXAMPLE_READING: dict[str, Any] = {
    "transformer_id": "TX-0042", "as_of": "2025-03-01T00:00:00Z",
    "voltage_kv": 132.0, "rated_mva": 60.0, "install_year": 1987, "cooling": "ONAF", "oil_preservation": "free_breathing",
    "h2": 120.0, "ch4": 85.0, "c2h6": 40.0, "c2h4": 60.0, "c2h2": 2.5, "co": 650.0, "co2": 5200.0, "moisture_ppm": 22.0,
    "dga_age_days": 12.0,
    "prev_h2": 95.0, "prev_ch4": 70.0, "prev_c2h6": 36.0, "prev_c2h4": 41.0, "prev_c2h2": 1.0, "prev_co": 610.0,
    "prev_co2": 5000.0, "prev_gap_days": 90.0,
    "base_h2": 60.0, "base_ch4": 40.0, "base_c2h6": 30.0, "base_c2h4": 20.0, "base_c2h2": 0.0, "base_co": 520.0,
    "base_co2": 4400.0, "base_gap_days": 365.0,
    "load_mean_30d": 0.72, "load_max_30d": 1.05, "ambient_mean_30d": 14.0, "top_oil_max_30d": 78.0,
    "hot_spot_max_30d": 101.0, "faa_mean_30d": 0.35, "hours_hot_spot_over_120c_30d": 0.0, "aged_hours_total": 61000.0,
    "breakdown_kv": 48.0, "acidity_mg_koh_g": 0.12, "ift_mn_m": 24.0, "furan_2fal_ppb": 850.0, "oil_test_age_days": 140.0,
}


@lru_cache(maxsize=8)
def score_request_model(max_batch: int) -> type[BaseModel]:
    """Return the POST /v1/score body model for a batch cap (1..max_batch readings)."""
    return create_model(  # type: ignore[call-overload, no-any-return]
        "ScoreRequest",
        __config__=ConfigDict(strict=True, extra="forbid", json_schema_extra={"examples": [{"readings": [EXAMPLE_READING]}]}),
        __doc__=f"1..{max_batch} readings to score.",
        readings=(list[Reading], Field(..., min_length=1, max_length=max_batch)),  # type: ignore[valid-type]
    )


class Contribution(BaseModel):
    """One feature's push on a prediction (XGBoost per-row contribution, in log-odds)."""

    feature: str
    label: str = Field(description="readable name for operators")
    value: float | None = Field(description="the feature's value for this reading (null when unknown)")
    contribution: float = Field(description="log-odds; positive raises the risk")


class ReadingScore(BaseModel):
    """The score of one reading."""

    transformer_id: str
    as_of: datetime
    failure_probability: float = Field(ge=0, le=1)
    risk_band: Literal["low", "medium", "high", "critical"]
    top_features: list[Contribution]
    status: Literal["scored", "duplicate"] | None = Field(
        None, description="with dedupe=true: scored, or duplicate (the first copy's score; not scored or logged again)")
    flags: list[Literal["late", "stale"]] | None = Field(
        None, description="with dedupe=true: late (older than the unit's newest reading), stale (same values as before)")


class ScoreResponse(BaseModel):
    """The scores of a request, in request order, with the model version that produced them."""

    request_id: str
    model_name: str
    model_version: str
    results: list[ReadingScore]


class ModelInfo(BaseModel):
    """The model version being served and where it came from."""

    name: str
    version: str
    alias: str
    run_id: str | None
    source: Literal["registry", "cache"]
    data_digest: str | None
    git_commit: str | None
    flow_run_id: str | None
    metrics: dict[str, float]
    tags: dict[str, str]
    feature_count: int
    loaded_at: datetime


class Health(BaseModel):
    """Liveness or readiness."""

    status: Literal["ok", "ready", "not_ready"]
    model_version: str | None = None
    reason: str | None = None


class FieldError(BaseModel):
    """What is wrong and where."""

    field: str = Field(description="dotted path of the offending field, e.g. readings[0].h2, or body / header name")
    reason: str


class ErrorResponse(BaseModel):
    """Every 4xx/5xx body: a code, a one-line message and the field errors."""

    error: str
    message: str
    errors: list[FieldError] = []
    request_id: str | None = None
