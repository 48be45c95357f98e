"""HTTP routes: score, model info, liveness, readiness, metrics. Thin: the work is in the service and its parts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response

from serving.batcher import InvalidReadings
from serving.deps import ActiveModel, ApiKey, ScoreRequestDep, ServiceDep
from serving.fast_score import score_body
from serving.schemas import EXAMPLE_READING, ErrorResponse, Health, ModelInfo, ScoreResponse

router = APIRouter()
EXPLAIN_HELP = ("return each reading's top contributing features (exact TreeSHAP, most of the cost of a large "
                "batch); false for fast bulk scoring")
DEDUPE_HELP = ("treat the readings as a telemetry stream: a reading already scored (same transformer_id and as_of) "
               "comes back with status 'duplicate' and the first copy's score, and is not scored or logged again; "
               "readings older than their unit's newest (late) or equal in value to its previous one (stale) are flagged")
_JSON = "application/json"


def _error_example(status: int, error: str, field: str, reason: str) -> dict[str, Any]:
    example = {"error": error, "message": f"{field}: {reason}", "errors": [{"field": field, "reason": reason}],
               "request_id": "5f0c2b6e4c1d4f7c9a1b2c3d4e5f6a7b"}
    return {"model": ErrorResponse, "content": {_JSON: {"example": example}}}


SCORE_EXAMPLE = {
    "request_id": "5f0c2b6e4c1d4f7c9a1b2c3d4e5f6a7b", "model_name": "transformer_failure", "model_version": "7",
    "results": [{
        "transformer_id": "TX-0042", "as_of": "2025-03-01T00:00:00+00:00", "failure_probability": 0.183,
        "risk_band": "medium",
        "top_features": [
            {"feature": "c2h2_log_ppm", "label": "acetylene C2H2 (log ppm)", "value": 1.2528, "contribution": 0.91},
            {"feature": "age_years", "label": "age (years)", "value": 38.0, "contribution": 0.33},
            {"feature": "ift_mn_m", "label": "oil interfacial tension (mN/m)", "value": 24.0, "contribution": 0.12},
        ],
    }],
}
SCORE_BODY = {
    "required": True,
    "content": {_JSON: {"schema": {"$ref": "#/components/schemas/ScoreRequest"},
                        "example": {"readings": [EXAMPLE_READING]}}},
}


@router.post(
    "/v1/score",
    response_model=ScoreResponse,
    summary="Score 1..N transformer readings",
    openapi_extra={"requestBody": SCORE_BODY, "security": [{"HTTPBearer": []}]},
    responses={
        200: {"content": {_JSON: {"example": SCORE_EXAMPLE}}},
        400: _error_example(400, "malformed_json", "body", "malformed JSON: EOF while parsing a value at line 1 column 12"),
        401: _error_example(401, "unauthorized", "Authorization", "missing Bearer token"),
        413: _error_example(413, "body_too_large", "body", "body exceeds the limit of 4000000 bytes"),
        415: _error_example(415, "unsupported_media_type", "Content-Type", "Content-Type must be application/json"),
        422: _error_example(422, "invalid_input", "readings[0].h2", "out of physical range: must be >= 0 ppm (got -4)"),
        503: _error_example(503, "not_ready", "model", "not ready"),
    },
)
async def score(
    call: ScoreRequestDep,
    explain: Annotated[bool, Query(description=EXPLAIN_HELP)] = True,
    dedupe: Annotated[bool, Query(description=DEDUPE_HELP)] = False,
) -> Response:
    """Return each reading's failure probability, risk band and top contributing features."""
    # Well-formed requests are answered by serving.fast_score before they get here; this route
    # documents the endpoint and answers the rest (and any request when the fast path is not mounted).
    served = call.served
    try:
        document = await score_body(call.service, served, call.readings, call.request_id, call.arrived, explain, dedupe)
    except InvalidReadings as exc:
        raise HTTPException(422, {"message": str(exc), "errors": [{"field": "readings", "reason": str(exc)}]}) from None
    return Response(document, media_type=_JSON, headers={"X-Model-Version": served.version})


@router.get("/v1/model", response_model=ModelInfo, summary="The model version being served",
            responses={401: _error_example(401, "unauthorized", "Authorization", "missing Bearer token"),
                       503: _error_example(503, "not_ready", "model", "not ready")})
async def model_info(_: ApiKey, served: ActiveModel) -> ModelInfo:
    ref = served.ref
    return ModelInfo(
        name=ref.name, version=ref.version, alias=ref.alias, run_id=ref.run_id, source=served.source,  # type: ignore[arg-type]
        data_digest=ref.tags.get("data_digest"), git_commit=ref.tags.get("git_commit"),
        flow_run_id=ref.tags.get("flow_run_id"), metrics=ref.metrics, tags=ref.tags,
        feature_count=len(served.model.feature_columns), loaded_at=served.loaded_at,
    )


@router.get("/health/live", response_model=Health, summary="Liveness (no key needed)")
async def live() -> Health:
    return Health(status="ok")


@router.get("/health/ready", response_model=Health, summary="Readiness: 503 until a model is loaded and warmed",
            responses={503: {"model": Health}})
async def ready(service: ServiceDep) -> Response:
    served = service.slots.active
    if served is None:
        body = Health(status="not_ready", reason="no model loaded yet").model_dump_json().encode()
        return Response(body, status_code=503, media_type=_JSON)
    return Response(Health(status="ready", model_version=served.version).model_dump_json().encode(), media_type=_JSON)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(service: ServiceDep) -> Response:
    return Response(service.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
