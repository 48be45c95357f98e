"""MQTT bridge: score readings published to the broker with the API's own service parts and publish the results.

The bridge is a second front door to the same `ScoringService` the HTTP API runs: same model
slots and registry watcher (hot swaps), same batcher and feature code, same arrival book
(duplicates answered once), same Parquet prediction log. A reading arrives on
`<root>/readings/<substation>/<transformer_id>`; its result (or rejection) goes to
`<root>/results/<substation>/<transformer_id>` with the MQTT 5 correlation data copied over.

Delivery: QoS 1 both ways and a persistent session (fixed client id, clean_start False), so the
broker queues readings while the bridge restarts. A reading is acknowledged on receipt; on a
graceful stop the bridge stops acknowledging, scores and publishes what it holds, flushes the
log and disconnects, and the broker redelivers the rest to the next session (the arrival book
drops any repeat).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pydantic import ValidationError

from serving.batcher import InvalidReadings
from serving.errors import validation_errors
from serving.mqtt_loop import LoopClient
from serving.mqtt_topics import DEFAULT_ROOT, check_root, readings_filter, result_topic
from serving.schemas import Reading
from serving.service import ScoringService
from serving.settings import ServingSettings

log = logging.getLogger("serving.mqtt_bridge")
_JSON = orjson.OPT_NAIVE_UTC | orjson.OPT_SERIALIZE_NUMPY


@dataclass(frozen=True)
class BridgeOptions:
    """How the bridge talks to the broker; the model, limits and log come from the serving settings."""

    topic_root: str = DEFAULT_ROOT
    client_id: str = "xfmr-bridge"  # fixed, so the broker keeps the session (and queued readings) across restarts
    share_group: str | None = None  # several bridges share the readings ($share/<group>/...)
    qos: int = 1
    max_batch: int = 500  # readings handed to the batcher at once
    max_batches_in_flight: int = 4
    explain: bool = True
    keepalive_s: int = 30
    reconnect_min_s: int = 1
    reconnect_max_s: int = 30
    session_expiry_s: int = 3600
    drain_timeout_s: float = 30.0
    username: str | None = None  # broker login, when the broker asks for one
    password: str | None = field(default=None, repr=False)
    ca_file: str | None = None  # TLS to the broker, verified against this CA bundle
    heartbeat_path: Path | None = None  # touched every few seconds while connected and subscribed (health check)
    heartbeat_s: float = 5.0

    def __post_init__(self) -> None:
        check_root(self.topic_root)
        if self.password and not self.username:
            raise ValueError("BridgeOptions.password is set but username is not (XFMR_MQTT_USERNAME)")
        if self.qos not in (0, 1, 2):
            raise ValueError(f"BridgeOptions.qos must be 0, 1 or 2, got {self.qos}")
        if self.max_batch < 1 or self.max_batches_in_flight < 1:
            raise ValueError("BridgeOptions.max_batch and max_batches_in_flight must be >= 1")


@dataclass
class BridgeStats:
    """What the bridge did, returned when it stops."""

    received: int = 0
    scored: int = 0
    duplicates: int = 0
    rejected: dict[str, int] = field(default_factory=dict)  # error code -> readings
    published: int = 0
    connects: int = 0


@dataclass(frozen=True)
class _Inbound:
    topic: str
    payload: bytes
    correlation: bytes | None
    arrived: float


class MqttBridge:
    """One bridge process: paho on the event loop feeding a pump that scores through the service's parts."""

    def __init__(self, settings: ServingSettings, host: str, port: int, options: BridgeOptions) -> None:
        self.host, self.port, self.options = host, port, options
        self.service = ScoringService(settings)
        self.book = self.service.arrivals  # the same arrival book the HTTP API's dedupe=true requests use
        self.stats = BridgeStats()
        self._inbox: deque[_Inbound] = deque()
        self._closing = False
        self._ready = False  # a model serves: (re)subscribe on every connect
        self._subscribed = asyncio.Event()
        self._acked_publishes = 0
        self._wake = asyncio.Event()
        self.client = self._make_client()
        connect = Properties(PacketTypes.CONNECT)
        connect.SessionExpiryInterval = options.session_expiry_s
        self.connection = LoopClient(self.client, host, port, keepalive_s=options.keepalive_s, clean_start=False,
                                     properties=connect, reconnect_min_s=options.reconnect_min_s,
                                     reconnect_max_s=options.reconnect_max_s)

    def _make_client(self) -> mqtt.Client:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.options.client_id,
                             protocol=MQTTProtocolVersion.MQTTv5, manual_ack=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        client.on_subscribe = self._on_subscribe
        if self.options.username:
            client.username_pw_set(self.options.username, self.options.password)
        if self.options.ca_file:
            if not Path(self.options.ca_file).is_file():
                raise FileNotFoundError(f"MQTT CA file {self.options.ca_file}: no such file (XFMR_MQTT_CA_FILE)")
            client.tls_set(ca_certs=self.options.ca_file)
        return client

    async def run(self, stop: threading.Event, ready: threading.Event | None = None) -> BridgeStats:
        """Serve until `stop` is set; then drain, flush the prediction log and disconnect."""
        self.service.start()
        await self.connection.start()
        pump = asyncio.create_task(self._pump())
        try:
            await self._subscribe_when_ready(stop, ready)
            beat = 0.0
            while not stop.is_set():
                if self.options.heartbeat_path is not None and time.monotonic() - beat >= self.options.heartbeat_s:
                    beat = time.monotonic()
                    self._heartbeat(self.options.heartbeat_path)
                await asyncio.sleep(0.1)
        finally:
            await self._drain(pump)
        return self.stats

    def _heartbeat(self, path: Path) -> None:
        """Touch `path` while the bridge can take readings: connected, subscribed, a model loaded."""
        if self.client.is_connected() and self._subscribed.is_set() and self.service.slots.active is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()

    async def _subscribe_when_ready(self, stop: threading.Event, ready: threading.Event | None) -> None:
        """Subscribe once a model serves: until then readings wait at the broker, not in this process."""
        while self.service.slots.active is None and not stop.is_set():
            await asyncio.sleep(0.05)
        self._ready = True
        # Startup objects (mlflow, pandas, the model) never die; left in the collector, each full collection
        # scans them all and stalls scoring for 100-200 ms.
        gc.collect()
        gc.freeze()
        if self.client.is_connected():  # else on_connect subscribes (a double SUBSCRIBE is harmless)
            self._subscribe()
        while not stop.is_set() and not self._subscribed.is_set():
            await asyncio.sleep(0.05)  # also how the stop is noticed while the broker is unreachable
        if self._subscribed.is_set():
            served = self.service.slots.active
            log.info("MQTT bridge ready: %s:%d %s, model %s v%s", self.host, self.port,
                     readings_filter(self.options.topic_root, self.options.share_group),
                     self.service.settings.model_name, served.version if served else "?")
            if ready is not None:
                ready.set()

    def _subscribe(self) -> None:
        self.client.subscribe(readings_filter(self.options.topic_root, self.options.share_group), qos=self.options.qos)

    # paho callbacks (on the event loop's thread) ------------------------------------------------------------------
    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            log.warning("MQTT broker %s:%d refused the connection: %s", self.host, self.port, reason)
            return
        self.stats.connects += 1
        log.info("connected to MQTT broker %s:%d (session present: %s)", self.host, self.port,
                 getattr(flags, "session_present", "?"))
        if self._ready:
            self._subscribe()

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, properties: Any) -> None:
        if any(r.is_failure for r in reasons):
            log.error("MQTT broker refused the subscription %s: %s",
                      readings_filter(self.options.topic_root, self.options.share_group), reasons)
            return
        self._subscribed.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if not self._closing:
            log.warning("MQTT connection lost (%s); reconnecting with backoff up to %d s", reason,
                        self.options.reconnect_max_s)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if self._closing:  # not acknowledged: the broker redelivers it to the next session
            return
        props = getattr(message, "properties", None)
        correlation = getattr(props, "CorrelationData", None) if props is not None else None
        self._inbox.append(_Inbound(message.topic, message.payload, correlation, time.perf_counter()))
        client.ack(message.mid, message.qos)
        self._wake.set()

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason: Any, properties: Any) -> None:
        self._acked_publishes += 1

    # scoring ------------------------------------------------------------------------------------------------------
    async def _pump(self) -> None:
        slots = asyncio.Semaphore(self.options.max_batches_in_flight)
        tasks: set[asyncio.Task[None]] = set()
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._inbox:
                batch = [self._inbox.popleft() for _ in range(min(len(self._inbox), self.options.max_batch))]
                await slots.acquire()
                task = asyncio.create_task(self._handle(batch))
                tasks.add(task)
                task.add_done_callback(lambda t: (tasks.discard(t), slots.release()))
            if self._closing and not self._inbox:
                await asyncio.gather(*tasks)
                return

    async def _handle(self, batch: list[_Inbound]) -> None:
        try:
            await self._handle_batch(batch)
        except Exception:  # the bridge outlives one bad batch; its readings are answered, never left hanging
            log.exception("MQTT bridge: scoring a batch of %d readings failed", len(batch))
            for message in batch:
                self._reject(message, "internal_error", [{"field": "reading", "reason": "internal error; see bridge log"}])

    async def _handle_batch(self, batch: list[_Inbound]) -> None:
        self.stats.received += len(batch)
        parsed: list[tuple[_Inbound, Any]] = []
        for message in batch:
            try:
                parsed.append((message, Reading.model_validate_json(message.payload)))
            except ValidationError as exc:
                errors = validation_errors(exc.errors(include_url=False))
                self._reject(message, "invalid_input", errors)
        if parsed:
            await self._score(parsed)

    async def _score(self, parsed: list[tuple[_Inbound, Any]]) -> None:
        served = self.service.slots.active
        assert served is not None  # subscribed only once a model serves, and a loaded model is never unloaded
        request_id = f"mqtt-{os.urandom(8).hex()}"
        started = min(m.arrived for m, _ in parsed)
        try:
            items = await self.book.score(self.service.batcher, served, [r for _, r in parsed], request_id, started,
                                          self.options.explain)
        except InvalidReadings as exc:
            if len(parsed) > 1:  # find the reading the feature code refuses; score the others
                for one in parsed:
                    await self._score([one])
                return
            self._reject(parsed[0][0], "invalid_input", [{"field": "reading", "reason": str(exc)}])
            return
        head = {"model_name": served.ref.name, "model_version": served.version, "request_id": request_id}
        for (message, _), item in zip(parsed, items):
            if item["status"] == "duplicate":
                self.stats.duplicates += 1
            else:
                self.stats.scored += 1
            self._publish(message, {**item, **head})

    def _reject(self, message: _Inbound, code: str, errors: list[dict[str, str]]) -> None:
        self.stats.rejected[code] = self.stats.rejected.get(code, 0) + 1
        unit = message.topic.rsplit("/", 1)[-1]
        self._publish(message, {"transformer_id": unit, "status": "rejected", "error": code,
                                "message": "; ".join(f"{e['field']}: {e['reason']}" for e in errors[:3]),
                                "errors": errors})

    def _publish(self, message: _Inbound, body: dict[str, Any]) -> None:
        props = None
        if message.correlation is not None:
            props = Properties(PacketTypes.PUBLISH)
            props.CorrelationData = message.correlation
        topic = result_topic(self.options.topic_root, message.topic)
        self.client.publish(topic, orjson.dumps(body, option=_JSON), qos=self.options.qos, properties=props)
        self.stats.published += 1

    async def _drain(self, pump: asyncio.Task[None]) -> None:
        """Stop taking readings, finish what was taken, wait for the broker's acks, then stop the service."""
        self._closing = True
        self._wake.set()
        try:
            await asyncio.wait_for(pump, self.options.drain_timeout_s)
        except TimeoutError:
            log.error("MQTT bridge: scoring did not finish within %.0f s of the stop", self.options.drain_timeout_s)
        deadline = time.monotonic() + self.options.drain_timeout_s
        while (self.options.qos > 0 and self._acked_publishes < self.stats.published and self.client.is_connected()
               and time.monotonic() < deadline):
            await asyncio.sleep(0.02)
        await self.connection.stop()
        self.service.stop()  # flushes the prediction log
        log.info("MQTT bridge stopped: %s", self.stats)


def run_bridge(settings: ServingSettings, broker_host: str = "127.0.0.1", broker_port: int = 1883,
               stop_event: threading.Event | None = None, *, options: BridgeOptions | None = None,
               ready_event: threading.Event | None = None) -> BridgeStats:
    """Run the bridge until `stop_event` is set (or SIGINT/SIGTERM on the main thread); return what it did."""
    stop = stop_event or threading.Event()
    bridge = MqttBridge(settings, broker_host, broker_port, options or BridgeOptions())

    async def main() -> BridgeStats:
        if threading.current_thread() is threading.main_thread():
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
        return await bridge.run(stop, ready_event)

    return asyncio.run(main())

