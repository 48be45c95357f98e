"""The MLflow service accounts of the production stack: a writer for the flows, a read-only one for the API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

WRITER_PERMISSION = "MANAGE"
READER_PERMISSION = "READ"


class AccountSettings(BaseSettings):
    """Who the accounts are; the admin credentials are MLflow's own MLFLOW_TRACKING_USERNAME/PASSWORD."""

    model_config = SettingsConfigDict(env_prefix="XFMR_MLFLOW_", env_file=".env", extra="ignore", frozen=True)

    tracking_uri: str = Field(
        validation_alias="MLFLOW_TRACKING_URI", description="the MLflow tracking server (basic-auth app)",
    )
    writer_user: str = Field(default="xfmr-flows", min_length=1, description="account the flows train and register with")
    writer_password: SecretStr = Field(min_length=12, description="its password (MLflow needs 12 characters or more)")
    reader_user: str = Field(default="xfmr-api", min_length=1, description="read-only account of the scoring API")
    reader_password: SecretStr = Field(min_length=12, description="its password")
    model_name: str = Field(default="transformer_failure", validation_alias="XFMR_MODEL_NAME")


class AccountError(Exception):
    """The tracking server refused to create or update an account."""


@dataclass(frozen=True)
class AccountResult:
    """What happened to one account."""

    username: str
    created: bool  # False: it existed and its password was set again (rotation)
    permission: str  # on the registered model


def _exists(client: Any, username: str) -> bool:
    from mlflow.exceptions import RestException

    try:
        client.get_user(username)
    except RestException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            return False
        raise
    return True


def _grant(client: Any, username: str, model_name: str, permission: str) -> None:
    """Grant `permission` on the registered model (a model not registered yet gets it once the flows register it)."""
    from mlflow.exceptions import RestException

    try:
        client.grant_user_permission(username, "registered_model", model_name, permission)
    except RestException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        if client.get_user_permission(username, "registered_model", model_name).permission != permission:
            client.revoke_user_permission(username, "registered_model", model_name)
            client.grant_user_permission(username, "registered_model", model_name, permission)


def ensure_account(client: Any, username: str, password: str, model_name: str, permission: str) -> AccountResult:
    """Create the account (or set its password again) and grant `permission` on the registered model."""
    from mlflow.exceptions import MlflowException

    try:
        existed = _exists(client, username)
        if existed:
            client.update_user_password(username, password)
        else:
            client.create_user(username, password)
        _grant(client, username, model_name, permission)
    except MlflowException as exc:
        raise AccountError(f"MLflow account {username!r}: {exc.message}") from None
    return AccountResult(username, created=not existed, permission=permission)


def ensure_accounts(settings: AccountSettings) -> list[AccountResult]:
    """Create or update the writer and the reader account on the tracking server."""
    from mlflow.server.auth.client import AuthServiceClient

    if settings.writer_user == settings.reader_user:
        raise ValueError(f"the writer and reader accounts must differ, both are {settings.writer_user!r}")
    client = AuthServiceClient(settings.tracking_uri)
    return [
        ensure_account(client, settings.writer_user, settings.writer_password.get_secret_value(), settings.model_name,
                       WRITER_PERMISSION),
        ensure_account(client, settings.reader_user, settings.reader_password.get_secret_value(), settings.model_name,
                       READER_PERMISSION),
    ]
