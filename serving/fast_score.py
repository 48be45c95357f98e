"""POST /v1/score without the framework: a pure ASGI handler for authorised, well-formed requests.

FastAPI's routing and dependency machinery costs about as much as scoring one reading. Requests
this handler is sure about (known query flags, a valid key, a model loaded, a body that validates)
are scored here; anything else falls through, body intact, to the FastAPI route, which answers
with the documented errors. Both call `score_body`, so the two paths return the same documents.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from fastapi import HTTPException
from pydantic import BaseModel, ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from serving.batcher import JSON_OPTIONS, InvalidReadings
from serving.columnar import read_batch
from serving.deps import check_key
from serving.errors import error_body
from serving.limits import replay
from serving.scoring import ReadingBatch
from serving.service import ScoringService
from serving.slots import ServedModel

_FLAGS = {b"true": True, b"false": False, b"1": True, b"0": False}


async def score_body(service: ScoringService, served: ServedModel, readings: Sequence[BaseModel] | ReadingBatch,
                     request_id: str, arrived: float, explain: bool, dedupe: bool) -> bytes:
    """Score the readings and return the response document; raise InvalidReadings if the feature code refuses them."""
    head = orjson.dumps({"request_id": request_id, "model_name": served.ref.name, "model_version": served.version})
    if dedupe:
        if isinstance(readings, ReadingBatch):
            raise TypeError("dedupe needs the validated reading models, not columns")
        items = await service.arrivals.score(service.batcher, served, readings, request_id, arrived, explain)
        results = orjson.dumps(items, option=JSON_OPTIONS)
    else:
        results = (await service.batcher.score(served, readings, request_id, arrived, explain)).json()
    return b"".join((head[:-1], b',"results":', results, b"}"))


def _flags(query: bytes) -> dict[str, bool] | None:
    """Parse `explain`/`dedupe` when given plainly (true/false/1/0, once each); None: let the route decide."""
    flags = {"explain": True, "dedupe": False}
    seen: set[bytes] = set()
    for part in query.split(b"&") if query else ():
        name, _, value = part.partition(b"=")
        if name not in (b"explain", b"dedupe") or name in seen or value not in _FLAGS:
            return None
        seen.add(name)
        flags[name.decode()] = _FLAGS[value]
    return flags


class ScoreFastPath:
    """Serve POST /v1/score directly when nothing about the request needs the framework's error handling."""

    def __init__(self, app: ASGIApp, service: ScoringService) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/v1/score" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        service = self.service
        flags = _flags(scope.get("query_string", b""))
        served = service.slots.active
        if flags is None or served is None or not self._authorised(scope):
            await self.app(scope, receive, send)
            return
        message = await receive()  # the guard in front has read the whole body already
        body = message.get("body", b"")
        readings: Sequence[BaseModel] | ReadingBatch | None = None
        if not flags["dedupe"]:  # the arrival book needs the validated models
            readings = read_batch(body, service.settings.max_batch)
        if readings is None:
            try:
                readings = service.request_model.model_validate_json(body).readings  # type: ignore[attr-defined]
            except ValidationError:
                await self.app(scope, replay(body, receive), send)
                return
        state = scope["state"]
        request_id = str(state["request_id"])
        try:
            document = await score_body(service, served, readings, request_id, float(state["arrived"]),
                                        flags["explain"], flags["dedupe"])
        except InvalidReadings as exc:
            reason = str(exc)
            await _send(send, 422, error_body(422, reason, [{"field": "readings", "reason": reason}], request_id), [])
            return
        await _send(send, 200, document, [(b"x-model-version", served.version.encode())])

    def _authorised(self, scope: Scope) -> bool:
        authorization = next((v for k, v in scope["headers"] if k == b"authorization"), None)
        try:
            check_key(self.service, authorization.decode("latin-1") if authorization is not None else None)
        except HTTPException:
            return False
        return True


async def _send(send: Send, status: int, body: bytes, extra: list[tuple[bytes, bytes]]) -> None:
    headers: list[Any] = [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json"),
                          *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
