"""Turn every failure into a JSON body naming the field and the reason: never a stack trace, never a 500 for bad input."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from serving.schemas import READING_FIELDS

log = logging.getLogger("serving.errors")
_UNITS = {c.name: c.unit for c in READING_FIELDS}
_STATUS_CODES = {400: "malformed_json", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
                 413: "body_too_large", 415: "unsupported_media_type", 422: "invalid_input", 503: "not_ready"}


def error_body(status: int, message: str, errors: Iterable[Mapping[str, str]] = (), request_id: str | None = None,
               code: str | None = None) -> bytes:
    """Return the JSON error document shared by every non-2xx response."""
    return orjson.dumps({
        "error": code or _STATUS_CODES.get(status, "error"),
        "message": message,
        "errors": list(errors),
        "request_id": request_id,
    })


def error_response(status: int, message: str, errors: Iterable[Mapping[str, str]] = (), request_id: str | None = None,
                   headers: Mapping[str, str] | None = None) -> Response:
    return Response(error_body(status, message, errors, request_id), status_code=status,
                    media_type="application/json", headers=dict(headers or {}))


def field_path(loc: Sequence[Any]) -> str:
    """Render a pydantic location ('readings', 0, 'h2') as readings[0].h2."""
    parts = [p for p in loc if p != "body"]
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def reason(error: Mapping[str, Any]) -> str:
    """Say what is wrong with one field in words an integrator can act on."""
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    loc = error.get("loc") or ()
    name = str(loc[-1]) if loc else ""
    unit = f" {_UNITS[name]}" if _UNITS.get(name) else ""
    got = f" (got {_short(error['input'])})" if "input" in error and not isinstance(error["input"], (dict, list)) else ""
    if kind == "missing":
        return "required field is missing (send null when the value is unknown and the field allows it)"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "finite_number":
        return "must be a finite number, not NaN or Infinity"
    if kind in ("greater_than_equal", "greater_than"):
        op = ">=" if kind.endswith("equal") else ">"
        bound = ctx.get("ge", ctx.get("gt"))
        return f"out of physical range: must be {op} {bound:g}{unit}{got}"
    if kind in ("less_than_equal", "less_than"):
        op = "<=" if kind.endswith("equal") else "<"
        bound = ctx.get("le", ctx.get("lt"))
        return f"out of physical range: must be {op} {bound:g}{unit}{got}"
    if kind in ("float_type", "int_type", "string_type", "bool_type", "datetime_type", "model_type", "list_type",
                "dict_type", "int_from_float", "datetime_from_date_parsing", "datetime_parsing"):
        expected = {"float_type": "a number", "int_type": "an integer", "string_type": "a string",
                    "datetime_type": "an ISO 8601 timestamp string", "datetime_parsing": "an ISO 8601 timestamp string",
                    "datetime_from_date_parsing": "an ISO 8601 timestamp string", "model_type": "an object",
                    "dict_type": "an object", "list_type": "an array", "int_from_float": "an integer"}.get(kind, kind)
        if error.get("input", 0) is None:
            return f"must not be null: expected {expected}"
        return f"wrong type: expected {expected}{got}"
    if kind in ("bool_parsing", "bool_type"):
        return f"wrong type: expected true or false{got}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}{got}"
    if kind == "too_short" and name == "readings":
        return "empty batch: send at least 1 reading"
    if kind == "too_long" and name == "readings":
        return f"batch too large: at most {ctx.get('max_length')} readings per request (got {ctx.get('actual_length')})"
    if kind == "json_invalid":
        return f"malformed JSON: {ctx.get('error', error.get('msg', ''))}"
    return str(error.get("msg", kind))


def validation_errors(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    return [{"field": field_path(e.get("loc") or ()), "reason": reason(e)} for e in errors]


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


async def on_validation_error(request: Request, exc: RequestValidationError) -> Response:
    errors = list(exc.errors())
    status = 400 if any(e.get("type") == "json_invalid" for e in errors) else 422
    items = validation_errors(errors[:50])
    more = f" (+{len(errors) - 50} more)" if len(errors) > 50 else ""
    message = "; ".join(f"{e['field']}: {e['reason']}" for e in items[:3]) + more
    return error_response(status, message, items, _request_id(request))


async def on_http_error(request: Request, exc: StarletteHTTPException) -> Response:
    detail = exc.detail
    if isinstance(detail, Mapping):
        message, items = str(detail.get("message", "")), list(detail.get("errors", []))
    else:
        message = str(detail)
        items = [{"field": "path" if exc.status_code in (404, 405) else "request", "reason": message}]
    return error_response(exc.status_code, message, items, _request_id(request), headers=exc.headers)


async def on_unexpected(request: Request, exc: Exception) -> Response:
    rid = _request_id(request)
    log.exception("unexpected error while serving request %s", rid)
    return error_response(500, f"internal error; the server log has the details under request id {rid}",
                          [], rid)


def install_error_handlers(app: FastAPI) -> None:
    """Register the JSON error handlers on the app."""
    app.add_exception_handler(RequestValidationError, on_validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, on_http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, on_unexpected)
