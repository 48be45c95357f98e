"""The parts of one running scoring service, wired from its settings, and their start and stop order."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from serving import columnar, result_json
from serving.auth import KeyRing
from serving.batcher import Batcher, Job, JobResult
from serving.dedupe import ArrivalBook
from serving.metrics import ServiceMetrics
from serving.model_cache import ModelCache
from serving.poller import ModelWatcher
from serving.prediction_log import LoggedScores, PredictionLog
from serving.registry_client import RegistryClient
from serving.schemas import score_request_model
from serving.scoring import band_names
from serving.settings import ServingSettings
from serving.slots import ModelSlots
from tasks.features import FEATURE_COLUMNS

log = logging.getLogger("serving")


def _compile_readers() -> None:
    """Compile the body reader and the result writer before the first model is served (ready)."""
    columnar.warm()
    result_json.warm()


class ScoringService:
    """Settings, key ring, model slots, registry watcher, batcher and prediction log of one process."""

    def __init__(self, settings: ServingSettings) -> None:
        self.settings = settings
        self.metrics = ServiceMetrics()
        self.keys = KeyRing(settings.api_keys)
        self.slots = ModelSlots()
        self.request_model = score_request_model(settings.max_batch)
        self.registry = RegistryClient(settings.tracking_uri, settings.registry_timeout_s)
        self.watcher = ModelWatcher(
            registry=self.registry, cache=ModelCache(settings.model_cache_dir), slots=self.slots, metrics=self.metrics,
            name=settings.model_name, alias=settings.model_alias, interval_s=settings.poll_interval_s,
            top=settings.top_features, prepare=_compile_readers,
        )
        self.prediction_log = PredictionLog(
            settings.log_dir, FEATURE_COLUMNS, flush_interval_s=settings.log_flush_interval_s,
            flush_rows=settings.log_flush_rows, metrics=self.metrics,
        )
        self.batcher = Batcher(top=settings.top_features, thresholds=settings.risk_bands,
                               max_rows=settings.max_batch, sink=self._record)
        self.arrivals = ArrivalBook(registry=self.metrics.registry)  # dedupe=true requests and the MQTT bridge

    def start(self) -> None:
        self.prediction_log.start()
        self.watcher.start()
        log.info("scoring service started: %s@%s from %s", self.settings.model_name, self.settings.model_alias,
                 self.settings.tracking_uri)

    def stop(self) -> None:
        """Stop polling, finish scoring what was accepted, then flush the prediction log."""
        self.watcher.stop()
        self.batcher.close()
        self.prediction_log.close()
        log.info("scoring service stopped; prediction log flushed")

    def _record(self, job: Job, result: JobResult) -> None:
        """Count and log a scored job (runs on the scoring thread, never on the event loop)."""
        served = job.served
        n = len(result)
        self.metrics.readings.labels(model_version=served.version).inc(n)
        self.metrics.count_bands(served.ref.name, result.band)
        self.metrics.batch_rows.observe(result.batch_readings)
        self.prediction_log.append(LoggedScores(
            request_id=job.request_id,
            scored_at=datetime.now(UTC),
            model_name=served.ref.name,
            model_version=served.version,
            latency_ms=result.latency_s * 1000.0,
            transformer_id=result.transformer_id,
            as_of=result.as_of,
            probability=result.scores.probability,
            risk_band=band_names(result.band),
            features=result.scores.values,  # model feature order == FEATURE_COLUMNS (checked at load)
        ))
