"""Where the pipeline keeps its state and which services it talks to, read once from the environment."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class PipelineSettings(BaseSettings):
    """Locations and endpoints for the flows and the CLI; defaults give the embedded single-machine setup."""

    model_config = SettingsConfigDict(env_prefix="XFMR_", env_file=".env", extra="ignore", frozen=True)

    home: Path = Field(default=Path(".xfmr"), description="root of all local state (XFMR_HOME)")
    mlflow_tracking_uri: str | None = Field(
        default=None,
        validation_alias=AliasChoices("MLFLOW_TRACKING_URI", "XFMR_MLFLOW_TRACKING_URI"),
        description="MLflow tracking server; default: SQLite under XFMR_HOME",
    )
    prefect_api_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("PREFECT_API_URL", "XFMR_PREFECT_API_URL"),
        description="Prefect server; default: an ephemeral in-process API",
    )
    model_name: str = Field(default="transformer_failure", description="registered model name")
    train_cron: str = Field(default="0 2 * * *", description="schedule of train/nightly (cron)")
    timezone: str = Field(default="UTC", description="timezone of the nightly cron (IANA name)")
    drift_interval_minutes: float = Field(default=60.0, gt=0, description="interval of monitor/drift-check")
    drift_window_hours: float = Field(default=24.0, gt=0, description="prediction window each drift check reads")
    flows_metrics_host: str = Field(
        default="127.0.0.1", description="address of the flows process's Prometheus endpoint (0.0.0.0 in a container)",
    )
    flows_metrics_port: int = Field(
        default=9108, ge=0, le=65535, description="port of the flows process's Prometheus endpoint; 0 turns it off",
    )
    training_lease_s: float = Field(
        default=60.0, ge=10, le=3600,
        description="lease on the one-training-at-a-time slot, renewed while a run lives: a killed run frees it after this",
    )

    @cached_property
    def root(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def fleet_dir(self) -> Path:
        return self.root / "data" / "fleet"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    @property
    def prediction_log_dir(self) -> Path:
        return self.root / "predictions"

    @property
    def artifacts_dir(self) -> Path:
        return self.root / "mlartifacts"

    @property
    def artifact_location(self) -> str | None:
        """Artifact root for new experiments: a local folder for a local store; a tracking server decides its own."""
        local = self.tracking_uri.startswith(("sqlite:", "file:")) or "://" not in self.tracking_uri
        return self.artifacts_dir.as_uri() if local else None

    @property
    def tracking_uri(self) -> str:
        return self.mlflow_tracking_uri or f"sqlite:///{self.root / 'mlflow.db'}"


def load_settings() -> PipelineSettings:
    """Read the settings from the environment (and an optional .env file)."""
    return PipelineSettings()
