"""The FastAPI application (`create_app`) and its uvicorn runner (`run`)."""

from __future__ import annotations

import ctypes
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from serving.errors import install_error_handlers
from serving.fast_score import ScoreFastPath
from serving.limits import RequestGuard
from serving.metrics import MetricsMiddleware
from serving.routes import router
from serving.service import ScoringService
from serving.settings import ServingSettings, load_settings

DESCRIPTION = """Failure probability of power transformers within the horizon the model was trained for,
served from the MLflow registry's champion. Send one or more readings (one transformer snapshot each);
every response names the model version that scored it. Authenticate with `Authorization: Bearer <key>`."""


GIL_SWITCH_INTERVAL_S = 0.001
# glibc mallopt parameters (malloc.h) and the values the service sets: a 1000-reading request
# allocates ~6 MB of short-lived buffers; by default each one above 128 KB is a fresh mmap, and
# every page of it faults in (~1,100 page faults per request, measured). Kept in the heap and
# reused instead, they cost ~40.
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
_ALLOCATOR = {_M_MMAP_THRESHOLD: 32 * 2**20, _M_TRIM_THRESHOLD: 256 * 2**20, _M_TOP_PAD: 64 * 2**20}


def create_app(settings: ServingSettings) -> FastAPI:
    """Build the app for these settings; the model loads in the background after startup."""
    service = ScoringService(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.start()
        try:
            yield
        finally:
            service.stop()

    docs = settings.docs_enabled
    app = FastAPI(
        title="xfmr scoring API",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.service = service
    install_error_handlers(app)
    app.include_router(router)
    # Outermost first at request time: metrics see every status, the guard answers 413/415 before routing,
    # the fast path scores well-formed requests without the framework.
    app.add_middleware(ScoreFastPath, service=service)  # type: ignore[arg-type]
    app.add_middleware(RequestGuard, max_body_bytes=settings.max_body_bytes)  # type: ignore[arg-type]
    app.add_middleware(MetricsMiddleware, metrics=service.metrics)  # type: ignore[arg-type]
    _document_score_body(app, service)
    return app


def _document_score_body(app: FastAPI, service: ScoringService) -> None:
    """Add the ScoreRequest schema (validated by hand for speed) to the OpenAPI components."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        request_schema = service.request_model.model_json_schema(ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(request_schema.pop("$defs", {}))
        components["ScoreRequest"] = request_schema
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def keep_freed_memory() -> bool:
    """Have glibc keep freed request buffers for reuse rather than return them to the kernel; False elsewhere."""
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc: nothing to tune
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return all(mallopt(param, value) == 1 for param, value in _ALLOCATOR.items())


def run(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the app with uvicorn (uvloop, httptools), settings from the environment; SIGTERM drains and flushes."""
    import uvicorn

    # The event loop waits at most this long for the GIL while the scoring thread works (default 5 ms).
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    keep_freed_memory()
    settings = load_settings()
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(
        create_app(settings), host=host, port=port, loop="uvloop", http="httptools", access_log=False,
        log_level=settings.log_level, timeout_graceful_shutdown=30, server_header=False,
    )

