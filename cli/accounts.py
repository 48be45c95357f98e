"""`xfmr mlflow-accounts`: create or update the MLflow service accounts of the production stack."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    accounts = sub.add_parser(
        "mlflow-accounts",
        help="create or update the MLflow writer (flows) and read-only (API) accounts",
        description="Talk to an MLflow server started with --app-name basic-auth as its admin "
        "(MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD). Creates XFMR_MLFLOW_WRITER_USER and "
        "XFMR_MLFLOW_READER_USER, or sets their passwords again when they exist (this is how passwords are "
        "rotated), and grants MANAGE / READ on the registered model XFMR_MODEL_NAME. Safe to run again.",
    )
    accounts.set_defaults(handler=run_accounts)


def run_accounts(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from cli.mlflow_accounts import AccountError, AccountSettings, ensure_accounts
    from cli.errors import CommandError

    try:
        settings = AccountSettings()  # type: ignore[call-arg]
    except ValidationError as exc:
        fields = ", ".join(_env_name(str(e["loc"][0])) for e in exc.errors(include_url=False))
        raise ValueError(f"MLflow account settings invalid or missing: {fields} (see .env.example)") from None
    try:
        results = ensure_accounts(settings)
    except AccountError as exc:
        raise CommandError(str(exc)) from None
    for result in results:
        action = "created" if result.created else "password set"
        print(f"{result.username}: {action}; {result.permission} on {settings.model_name}")
    return 0


def _env_name(field: str) -> str:
    return field if field.isupper() else f"XFMR_MLFLOW_{field.upper()}"
