"""Route dependencies as Annotated aliases: the service, the API-key check, the active model, the score body."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError

from serving.service import ScoringService
from serving.slots import ServedModel

_bearer = HTTPBearer(auto_error=False, description="an API key whose SHA-256 is listed in XFMR_API_KEYS")


async def get_service(request: Request) -> ScoringService:
    return request.app.state.service  # type: ignore[no-any-return]


ServiceDep = Annotated[ScoringService, Depends(get_service)]


def _unauthorized(reason: str) -> HTTPException:
    return HTTPException(
        status_code=401,
        detail={"message": f"unauthorized: {reason}", "errors": [{"field": "Authorization", "reason": reason}]},
        headers={"WWW-Authenticate": "Bearer"},
    )


def check_key(service: ScoringService, authorization: str | None) -> None:
    """Accept `Authorization: Bearer <key>` when the key's hash is configured."""
    if not authorization:
        raise _unauthorized("missing Bearer token")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("missing Bearer token")
    if not service.keys.accepts(token.strip()):
        raise _unauthorized("API key not recognised")


async def require_api_key(
    service: ServiceDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    check_key(service, f"Bearer {credentials.credentials}" if credentials is not None else None)


ApiKey = Annotated[None, Depends(require_api_key)]


def current_model(service: ScoringService) -> ServedModel:
    """Return the model serving now; the request keeps this one even if a swap happens meanwhile."""
    served = service.slots.active
    if served is None:
        raise HTTPException(
            status_code=503,
            detail={"message": "no model loaded yet", "errors": [{"field": "model", "reason": "not ready"}]},
            headers={"Retry-After": "5"},
        )
    return served


async def active_model(service: ServiceDep) -> ServedModel:
    return current_model(service)


ActiveModel = Annotated[ServedModel, Depends(active_model)]


def parse_readings(service: ScoringService, body: bytes) -> list[Any]:
    """Parse and validate the raw body in one pass (pydantic's JSON parser; strict types, physical ranges)."""
    try:
        return service.request_model.model_validate_json(body).readings  # type: ignore[attr-defined, no-any-return]
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None


@dataclass(frozen=True)
class ScoreCall:
    """Everything a score request needs, checked in order: key (401), model (503), body (400/422)."""

    service: ScoringService
    served: ServedModel
    readings: list[Any]
    request_id: str
    arrived: float


async def score_call(request: Request) -> ScoreCall:
    # One dependency instead of several: FastAPI's per-dependency cost shows at thousands of requests/s.
    service: ScoringService = request.app.state.service
    check_key(service, request.headers.get("authorization"))
    served = current_model(service)
    readings = parse_readings(service, await request.body())
    state = request.state
    arrived = float(getattr(state, "arrived", time.perf_counter()))
    return ScoreCall(service, served, readings, str(state.request_id), arrived)


ScoreRequestDep = Annotated[ScoreCall, Depends(score_call)]
