"""The scoring service's settings, read once from the environment (XFMR_*, MLFLOW_TRACKING_URI) or `.env`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
RISK_BAND_NAMES: tuple[str, ...] = ("low", "medium", "high", "critical")


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class ServingSettings(BaseSettings):
    """Where the registry is, which model to serve, limits, keys and where to write the prediction log."""

    model_config = SettingsConfigDict(env_prefix="XFMR_", env_file=".env", extra="ignore", frozen=True)

    # Required: the service refuses to start without at least one key hash.
    api_keys: Annotated[tuple[str, ...], NoDecode] = Field(
        description="comma-separated SHA-256 hex digests of the accepted API keys (never the keys themselves)",
    )
    home: Path = Field(default=Path(".xfmr"), description="root of local state (XFMR_HOME)")
    mlflow_tracking_uri: str | None = Field(
        default=None,
        validation_alias=AliasChoices("MLFLOW_TRACKING_URI", "XFMR_MLFLOW_TRACKING_URI"),
        description="MLflow tracking/registry URI; default: the SQLite database under XFMR_HOME",
    )
    model_name: str = Field(default="transformer_failure", min_length=1)
    model_alias: str = Field(default="champion", min_length=1)
    poll_interval_s: float = Field(default=30.0, gt=0, le=3600)
    registry_timeout_s: int = Field(default=10, ge=1, le=300)
    max_batch: int = Field(default=1000, ge=1, le=100_000)
    max_body_bytes: int = Field(default=4_000_000, ge=1_024)
    risk_bands: Annotated[tuple[float, ...], NoDecode] = Field(
        default=(0.05, 0.2, 0.5),
        description="three ascending probability thresholds separating low | medium | high | critical",
    )
    top_features: int = Field(default=3, ge=0, le=20)
    cache_dir: Path | None = Field(default=None, description="downloaded, verified versions; default XFMR_HOME/serving-cache")
    prediction_log_dir: Path | None = Field(default=None, description="Parquet log; default XFMR_HOME/predictions")
    log_flush_interval_s: float = Field(default=60.0, gt=0, le=3600)
    log_flush_rows: int = Field(default=20_000, ge=1)
    docs_enabled: bool = True
    log_level: str = Field(default="info", pattern="^(critical|error|warning|info|debug)$")

    @field_validator("api_keys", mode="before")
    @classmethod
    def _parse_keys(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("api_keys")
    @classmethod
    def _check_keys(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("XFMR_API_KEYS is empty: give at least one SHA-256 hex hash (python -m serving.keys new)")
        bad = [i for i, h in enumerate(value) if not _SHA256_HEX.match(h.lower())]
        if bad:
            raise ValueError(
                f"XFMR_API_KEYS entries {bad} are not 64-character SHA-256 hex digests; store hashes, not keys "
                "(python -m serving.keys hash KEY)"
            )
        return tuple(h.lower() for h in value)

    @field_validator("risk_bands", mode="before")
    @classmethod
    def _parse_bands(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("risk_bands")
    @classmethod
    def _check_bands(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if len(value) != len(RISK_BAND_NAMES) - 1:
            raise ValueError(f"XFMR_RISK_BANDS needs {len(RISK_BAND_NAMES) - 1} thresholds, got {len(value)}")
        bounds = (0.0, *value, 1.0)
        if not all(a < b for a, b in zip(bounds, bounds[1:])):
            raise ValueError(f"XFMR_RISK_BANDS must ascend strictly within (0, 1), got {list(value)}")
        return value

    @model_validator(mode="after")
    def _fill_paths(self) -> ServingSettings:
        root = self.home.expanduser().resolve()
        defaults = {
            "mlflow_tracking_uri": self.mlflow_tracking_uri or f"sqlite:///{root / 'mlflow.db'}",
            "cache_dir": (self.cache_dir or root / "serving-cache").expanduser().resolve(),
            "prediction_log_dir": (self.prediction_log_dir or root / "predictions").expanduser().resolve(),
        }
        for key, value in defaults.items():
            object.__setattr__(self, key, value)
        return self

    @property
    def tracking_uri(self) -> str:
        return str(self.mlflow_tracking_uri)

    @property
    def model_cache_dir(self) -> Path:
        assert self.cache_dir is not None
        return self.cache_dir

    @property
    def log_dir(self) -> Path:
        assert self.prediction_log_dir is not None
        return self.prediction_log_dir


def load_settings() -> ServingSettings:
    """Read the settings from the environment; a missing or malformed value stops the start with its name."""
    try:
        return ServingSettings()  # type: ignore[call-arg]
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            field = str(error["loc"][0]) if error["loc"] else "?"
            env = "MLFLOW_TRACKING_URI" if field == "mlflow_tracking_uri" else f"XFMR_{field.upper()}"
            problems.append(f"{env}: {error['msg']}")
        raise ValueError("invalid serving settings: " + "; ".join(problems)) from None
