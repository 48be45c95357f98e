"""The event-loop MQTT client reconnects with backoff when its broker goes away and comes back."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from serving.mqtt_loop import LoopClient
from tests.replay.conftest import free_port

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


class PrivateBroker:
    """A Mosquitto of this test's own on a free loopback port (the shared one must not be disturbed)."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.config = folder / "mosquitto.conf"
        self.config.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.config)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        time.sleep(0.3)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture()
def broker(tmp_path: Path) -> Iterator[PrivateBroker]:
    broker = PrivateBroker(tmp_path)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


async def _until(condition, timeout_s: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def test_client_reconnects_after_the_broker_restarts(broker: PrivateBroker) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="reconnect-test", protocol=MQTTProtocolVersion.MQTTv5)
    connects: list[float] = []
    client.on_connect = lambda *args: connects.append(time.monotonic())

    async def run() -> tuple[bool, bool, int]:
        connection = LoopClient(client, "127.0.0.1", broker.port, reconnect_min_s=0.2, reconnect_max_s=0.8)
        await connection.start(wait_s=5)
        broker.stop()
        lost = await _until(lambda: not client.is_connected(), 5)
        await asyncio.sleep(1.0)  # a few refused attempts, backing off
        broker.start()
        back = await _until(lambda: client.is_connected(), 5)
        await connection.stop()
        return lost, back, connection.attempts

    lost, back, attempts = asyncio.run(run())
    assert lost and back and len(connects) == 2
    assert attempts >= 3  # the first connect, at least one refused retry, the successful reconnect


def test_an_unreachable_broker_fails_with_its_address() -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
    port = free_port()  # nothing listens there
    with pytest.raises(ConnectionError, match=f"127.0.0.1:{port}"):
        asyncio.run(LoopClient(client, "127.0.0.1", port).start(wait_s=0.5))
