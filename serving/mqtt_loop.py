"""Run a paho MQTT client on the asyncio event loop (no network thread), reconnecting with exponential backoff.

paho's own `loop_start()` thread costs several hundred microseconds of CPU per message here: each
publish from another thread wakes the network thread and the two trade the GIL. Driven from the
event loop's reader/writer callbacks instead, every paho callback runs on the loop's thread and a
message costs a fraction of that. paho reconnects by itself only in its own loop, so this does it.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties

log = logging.getLogger("serving.mqtt_loop")
_MISC_INTERVAL_S = 1.0  # keep-alive pings and retries of unacknowledged messages


class LoopClient:
    """Drive one paho client's socket from the running event loop and keep it connected."""

    def __init__(self, client: mqtt.Client, host: str, port: int, *, keepalive_s: int = 30,
                 clean_start: bool | int = mqtt.MQTT_CLEAN_START_FIRST_ONLY, properties: Properties | None = None,
                 reconnect_min_s: float = 1.0, reconnect_max_s: float = 30.0, connect_timeout_s: float = 5.0) -> None:
        self.client, self.host, self.port = client, host, port
        self.keepalive_s, self.clean_start, self.properties = keepalive_s, clean_start, properties
        self.reconnect_min_s, self.reconnect_max_s = reconnect_min_s, reconnect_max_s
        self.attempts = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sock: Any = None
        self._closed = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._last_error = ""
        client.connect_timeout = connect_timeout_s
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_register_write
        client.on_socket_unregister_write = self._on_unregister_write

    @property
    def target(self) -> str:
        return f"{self.host}:{self.port}"

    async def start(self, wait_s: float | None = None) -> None:
        """Start connecting; with `wait_s`, raise ConnectionError unless the broker accepts us within it."""
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._supervise())
        if wait_s is None:
            return
        deadline = time.monotonic() + wait_s
        while not self.client.is_connected():
            if time.monotonic() > deadline:
                await self.stop()
                raise ConnectionError(f"cannot reach the MQTT broker at {self.target}: {self._last_error or 'timed out'}")
            await asyncio.sleep(0.01)

    async def stop(self, timeout_s: float = 5.0) -> None:
        """Send DISCONNECT (the broker keeps a persistent session) and close the socket."""
        self._stopping = True
        if self._sock is not None:
            self.client.disconnect()
            try:
                await asyncio.wait_for(self._closed.wait(), timeout_s)
            except TimeoutError:
                log.warning("MQTT %s: no clean disconnect within %.0f s", self.target, timeout_s)
        if self._task is not None:
            self._task.cancel()

    async def _supervise(self) -> None:
        delay = self.reconnect_min_s
        while not self._stopping:
            if self._sock is None:
                try:
                    self._connect()
                    delay = self.reconnect_min_s
                except (OSError, ValueError) as exc:  # refused, unreachable, timed out, bad address
                    self._last_error = f"{type(exc).__name__}: {exc}"
                    log.warning("MQTT broker %s unreachable (%s); retrying in %.0f s", self.target, self._last_error,
                                delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.reconnect_max_s)
                    continue
            self.client.loop_misc()
            await asyncio.sleep(_MISC_INTERVAL_S)

    def _connect(self) -> None:
        # Blocking, bounded by connect_timeout: a local broker answers at once, and while none answers
        # there is nothing else for this client to do.
        self.attempts += 1
        if self.attempts == 1:
            self.client.connect(self.host, self.port, self.keepalive_s, clean_start=self.clean_start,
                                properties=self.properties)
        else:
            self.client.reconnect()

    # paho socket callbacks (on the loop's thread) ------------------------------------------------------------------
    def _on_socket_open(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        assert self._loop is not None
        self._sock = sock
        self._closed.clear()
        if isinstance(sock, socket.socket):
            # paho leaves Nagle's algorithm on: small QoS 1 messages and their acks then wait out delayed ACKs
            # (tens of ms per hop). The broker's own side needs `set_tcp_nodelay true` in mosquitto.conf.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)  # bursts of results without EAGAIN
        self._loop.add_reader(sock, client.loop_read)

    def _on_socket_close(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        assert self._loop is not None
        self._loop.remove_reader(sock)
        self._loop.remove_writer(sock)
        self._sock = None
        self._closed.set()

    def _on_register_write(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        assert self._loop is not None
        self._loop.add_writer(sock, client.loop_write)

    def _on_unregister_write(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        assert self._loop is not None
        self._loop.remove_writer(sock)
