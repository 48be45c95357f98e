"""Prometheus metrics of one service instance (own registry) and the ASGI middleware that counts requests."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.settings import RISK_BAND_NAMES

KNOWN_ROUTES = ("/v1/score", "/v1/model", "/health/live", "/health/ready", "/metrics", "/docs", "/openapi.json")
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


@dataclass
class ServiceMetrics:
    """Every metric the service exposes on /metrics."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.requests = Counter("xfmr_http_requests_total", "HTTP requests by route and status", ["route", "status"], registry=r)
        self.latency = Histogram("xfmr_http_request_duration_seconds", "HTTP request latency", ["route"],
                                 buckets=_LATENCY_BUCKETS, registry=r)
        self.readings = Counter("xfmr_readings_scored_total", "readings scored", ["model_version"], registry=r)
        self.readings_by_band = Counter("xfmr_readings_by_risk_band_total", "readings scored, by model and risk band",
                                        ["model", "band"], registry=r)
        self._band_children: dict[str, list[Counter]] = {}  # model -> one child per band, in RISK_BAND_NAMES order
        self.batch_rows = Histogram("xfmr_score_batch_readings", "readings per scoring batch (requests coalesced)",
                                    buckets=(1, 2, 4, 8, 16, 32, 100, 1000, 10000), registry=r)
        self.model_info = Gauge("xfmr_model_info", "the model version being served (1 = current)",
                                ["name", "version", "source"], registry=r)
        self.model_version = Gauge("xfmr_model_version", "numeric version being served (0 = none)", registry=r)
        self.ready = Gauge("xfmr_ready", "1 when a model is loaded and warmed", registry=r)
        self.swaps = Counter("xfmr_model_swaps_total", "models installed (first load included)", registry=r)
        self.refused = Counter("xfmr_model_swaps_refused_total", "versions refused on load or validation",
                               ["version", "reason"], registry=r)
        self.registry_errors = Counter("xfmr_registry_errors_total", "failed registry polls", registry=r)
        self.log_rows = Counter("xfmr_prediction_log_rows_total", "rows written to the prediction log", registry=r)
        self.log_errors = Counter("xfmr_prediction_log_write_errors_total", "failed prediction-log writes", registry=r)
        self.log_pending = Gauge("xfmr_prediction_log_pending_rows", "rows waiting to be written", registry=r)

    def set_model(self, name: str, version: str, source: str) -> None:
        self.model_info.clear()
        self.model_info.labels(name=name, version=version, source=source).set(1)
        self.model_version.set(float(version) if version.isdigit() else 0.0)
        self.ready.set(1)

    def count_bands(self, model: str, positions: NDArray[np.int64]) -> None:
        """Count scored readings by risk band (positions in RISK_BAND_NAMES)."""
        children = self._band_children.get(model)
        if children is None:
            # Every band of the model from its first readings on, zeros included, so a band's rate is 0, not absent.
            children = [self.readings_by_band.labels(model=model, band=band) for band in RISK_BAND_NAMES]
            self._band_children[model] = children
        for position, count in enumerate(np.bincount(positions, minlength=len(RISK_BAND_NAMES)).tolist()):
            if count:
                children[position].inc(count)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Count requests by route and status and time them (pure ASGI: no per-request task or thread)."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        route = path if path in KNOWN_ROUTES else "other"
        start = time.perf_counter()
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            self.metrics.requests.labels(route=route, status=str(status)).inc()
            self.metrics.latency.labels(route=route).observe(time.perf_counter() - start)
