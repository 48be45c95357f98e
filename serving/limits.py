"""ASGI guard in front of the app: request id, JSON-only POST bodies (415) and a body cap that holds for chunked uploads (413)."""

from __future__ import annotations

import os
import re
import time
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.errors import error_body

_SAFE_ID = re.compile(rb"^[A-Za-z0-9._:\-]{1,128}$")
_BODY_METHODS = {b"POST", b"PUT", b"PATCH"}


class BodyTooLarge(Exception):
    """The request body exceeded the configured limit."""


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def _is_json(content_type: bytes | None) -> bool:
    if not content_type:
        return False
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json"


class RequestGuard:
    """Give every request an id and read POST bodies up front, refusing non-JSON (415) and oversize ones (413)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, b"x-request-id")
        request_id = given.decode() if given and _SAFE_ID.match(given) else os.urandom(16).hex()
        state = scope.setdefault("state", {})
        state["request_id"], state["arrived"] = request_id, time.perf_counter()
        id_header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), id_header]
            await send(message)

        if scope["method"].encode() not in _BODY_METHODS:
            await self.app(scope, receive, send_with_id)
            return
        content_type = _header(scope, b"content-type")
        if not _is_json(content_type):
            got = content_type.decode("latin-1") if content_type else "none"
            await _reject(send_with_id, 415, f"Content-Type must be application/json (got {got})", "Content-Type",
                          request_id)
            return
        length = _header(scope, b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            await _reject(send_with_id, 413, f"body of {int(length)} bytes exceeds the limit of {self.max_body_bytes} bytes",
                          "body", request_id)
            return
        try:
            body = await self._read_body(receive)
        except BodyTooLarge:
            await _reject(send_with_id, 413, f"body exceeds the limit of {self.max_body_bytes} bytes", "body", request_id)
            return
        await self.app(scope, replay(body, receive), send_with_id)

    async def _read_body(self, receive: Receive) -> bytes:
        """Read the whole body, counting bytes as they arrive so a chunked upload cannot exceed the cap."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """Return a receive that hands over `body` (already read) first, then whatever the connection sends."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _reject(send: Send, status: int, message: str, field: str, request_id: str) -> None:
    body = error_body(status, message, [{"field": field, "reason": message}], request_id)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 413:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
