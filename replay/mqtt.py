"""Replay over MQTT: publish each reading to its unit's topic, time its result on the results topic (correlation data)."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from replay.config import MqttReplayConfig
from replay.driver import ReplayAborted, replay
from replay.mess import Event
from replay.report import ReplayReport
from replay.tally import Tally, reject_reason
from serving.mqtt_loop import LoopClient
from serving.mqtt_topics import reading_topic, results_filter

# Unpaced, at most this many readings wait for a result: Mosquitto drops QoS 1 messages beyond a
# subscriber's queue (max_queued_messages, 1000 by default), so the replay must not outrun the bridge by more.
UNPACED_IN_FLIGHT = 500


def run_mqtt_replay(config: MqttReplayConfig) -> ReplayReport:
    """Publish the stream to the broker, collect the bridge's results and return (and save) the report."""
    return replay(config.stream, lambda tally: MqttTransport(config, tally), config.progress, config.report_path)


class MqttTransport:
    """A paho client on the event loop: publishes readings (QoS 1 by default) and matches the results coming back."""

    name = "mqtt"

    def __init__(self, config: MqttReplayConfig, tally: Tally) -> None:
        self.config, self.tally = config, tally
        self.target = f"mqtt://{config.host}:{config.port}/{config.topic_root}"
        self._pending: dict[bytes, float] = {}  # correlation data -> due (perf_counter)
        self._subscribed = asyncio.Event()
        self._limit = None if config.stream.pacing.paced else UNPACED_IN_FLIGHT
        client_id = config.client_id or f"xfmr-replay-{os.urandom(4).hex()}"
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5)
        self.client.on_message = self._on_result
        self.client.on_subscribe = lambda *args: self._subscribed.set()
        self.connection = LoopClient(self.client, config.host, config.port,
                                     connect_timeout_s=config.connect_timeout_s)

    def settings(self) -> dict[str, Any]:
        c = self.config
        return {"broker": f"{c.host}:{c.port}", "topic_root": c.topic_root, "qos": c.qos}

    async def open(self) -> None:
        c = self.config
        try:
            await self.connection.start(wait_s=c.connect_timeout_s)
        except ConnectionError as exc:
            raise ReplayAborted(str(exc)) from None
        self.client.subscribe(results_filter(c.topic_root), qos=c.qos)
        try:
            await asyncio.wait_for(self._subscribed.wait(), c.connect_timeout_s)
        except TimeoutError:
            raise ReplayAborted(f"MQTT broker {c.host}:{c.port} did not acknowledge the results subscription") from None

    async def send(self, event: Event, due: float) -> None:
        correlation = str(event.reading_id).encode()
        props = Properties(PacketTypes.PUBLISH)
        props.CorrelationData = correlation
        self._pending[correlation] = due
        topic = reading_topic(self.config.topic_root, event.substation, event.transformer_id)
        self.client.publish(topic, event.payload, qos=self.config.qos, properties=props)
        self.tally.on_sent(1)
        while self._limit is not None and len(self._pending) >= self._limit:
            await asyncio.sleep(0.001)

    async def finish(self) -> None:
        deadline = time.monotonic() + self.config.drain_timeout_s
        while self._pending and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        self.tally.unanswered = len(self._pending)

    async def close(self) -> None:
        await self.connection.stop()

    def _on_result(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        """Match a result to its reading and count it (a paho callback, on the event loop's thread)."""
        now = time.perf_counter()
        props = getattr(message, "properties", None)
        correlation = getattr(props, "CorrelationData", None) if props is not None else None
        due = self._pending.pop(correlation, None) if correlation is not None else None
        if due is None:  # another replay's result, or one that arrived after the drain
            return
        body = orjson.loads(message.payload)
        if body.get("status") == "rejected":
            errors = body.get("errors") or [{"field": "reading", "reason": body.get("error", "rejected")}]
            self.tally.on_reject(reject_reason(str(errors[0].get("field")), str(errors[0].get("reason"))), now)
            return
        self.tally.on_answer(body, str(body.get("model_version")), now - due, now)
