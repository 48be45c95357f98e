"""Replay over HTTP: POST /v1/score (dedupe=true) with single readings or micro-batches, over keep-alive connections."""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque
from typing import Any

import httpx
import orjson

from replay.config import HttpReplayConfig
from replay.driver import ReplayAborted, replay
from replay.mess import Event
from replay.report import ReplayReport
from replay.tally import Tally, reject_reason

_INDEXED = re.compile(r"^readings\[(\d+)\]")
_FATAL = {401, 403, 404, 405, 413, 415}
Queued = tuple[Event, float]  # event and its due time (perf_counter)


def run_replay(config: HttpReplayConfig) -> ReplayReport:
    """Replay the stream to the scoring API and return (and, with `report_path`, save) the report."""
    return replay(config.stream, lambda tally: HttpTransport(config, tally), config.progress, config.report_path)


class HttpTransport:
    """`concurrency` workers, each owning the units given to it on first sight, so a unit's readings arrive in order."""

    name = "http"

    def __init__(self, config: HttpReplayConfig, tally: Tally) -> None:
        self.config, self.tally = config, tally
        self.target = config.url
        n = config.concurrency
        self._queues: list[deque[Queued]] = [deque() for _ in range(n)]
        self._wakes = [asyncio.Event() for _ in range(n)]
        self._partition: dict[str, int] = {}
        self._queued = 0
        # Unpaced, the sender runs only a few batches ahead; paced, the schedule must never wait on the target.
        self._limit = None if config.stream.pacing.paced else 2 * config.batch * n
        self._room = asyncio.Event()
        self._closing = False
        self._failure: BaseException | None = None  # a worker's abort, raised to the sender at its next send
        self._workers: list[asyncio.Task[None]] = []
        self._client: httpx.AsyncClient | None = None
        self._params = {"dedupe": "true" if config.dedupe else "false", "explain": "true" if config.explain else "false"}

    def settings(self) -> dict[str, Any]:
        c = self.config
        return {"url": c.url, "batch": c.batch, "concurrency": c.concurrency, "explain": c.explain, "dedupe": c.dedupe}

    async def open(self) -> None:
        c = self.config
        limits = httpx.Limits(max_connections=c.concurrency, max_keepalive_connections=c.concurrency)
        self._client = httpx.AsyncClient(
            base_url=c.url, timeout=c.timeout_s, limits=limits,
            headers={"Authorization": f"Bearer {c.api_key}", "Content-Type": "application/json"},
        )
        await self._preflight()
        self._workers = [asyncio.create_task(self._work(i)) for i in range(c.concurrency)]

    async def _preflight(self) -> None:
        """Wait for readiness, then check the key once: a wrong key or URL stops the replay with one line."""
        assert self._client is not None
        deadline = time.monotonic() + self.config.ready_timeout_s
        while True:
            try:
                ready = await self._client.get("/health/ready")
                if ready.status_code == 200:
                    break
                problem = f"not ready ({ready.status_code})"
            except httpx.TransportError as exc:
                problem = f"unreachable ({type(exc).__name__}: {exc})"
            if time.monotonic() > deadline:
                raise ReplayAborted(f"scoring API at {self.config.url} {problem} after {self.config.ready_timeout_s:.0f} s")
            await asyncio.sleep(0.5)
        model = await self._client.get("/v1/model")
        if model.status_code != 200:
            raise ReplayAborted(f"GET {self.config.url}/v1/model answered {model.status_code}: {_message(model)}")

    async def send(self, event: Event, due: float) -> None:
        if self._failure is not None:
            raise self._failure
        part = self._partition.setdefault(event.transformer_id, len(self._partition) % self.config.concurrency)
        self._queues[part].append((event, due))
        self._queued += 1
        self._wakes[part].set()
        if self._limit is not None and self._queued >= self._limit:
            self._room.clear()
            await self._room.wait()
            if self._failure is not None:
                raise self._failure

    async def finish(self) -> None:
        self._closing = True
        for wake in self._wakes:
            wake.set()
        await asyncio.gather(*self._workers)

    async def close(self) -> None:
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)  # retrieved: no "never retrieved" noise
        if self._client is not None:
            await self._client.aclose()

    async def _work(self, part: int) -> None:
        try:
            await self._drain_queue(part)
        except Exception as exc:
            self._failure = self._failure or exc
            self._room.set()  # never leave the sender waiting for room that will not come
            raise

    async def _drain_queue(self, part: int) -> None:
        queue, wake = self._queues[part], self._wakes[part]
        while True:
            if not queue:
                if self._closing:
                    return
                wake.clear()
                await wake.wait()
                continue
            batch = [queue.popleft() for _ in range(min(len(queue), self.config.batch))]
            self._queued -= len(batch)
            if self._limit is not None and self._queued < self._limit:
                self._room.set()
            await self._post(batch)

    async def _post(self, batch: list[Queued]) -> None:
        """Send one request; on 422 drop the readings it names and resend the rest; retry 503/5xx/transport errors."""
        assert self._client is not None
        attempts = 0
        self.tally.on_sent(len(batch), requests=0)
        while batch:
            body = b'{"readings":[' + b",".join(event.payload for event, _ in batch) + b"]}"
            self.tally.on_sent(0, requests=1)
            start = time.perf_counter()
            try:
                response = await self._client.post("/v1/score", content=body, params=self._params)
            except httpx.TransportError:
                response = None
            done = time.perf_counter()
            if response is not None and response.status_code < 500 and response.status_code != 503:
                self.tally.on_request(done - start)
            if response is not None and response.status_code == 200:
                self._answered(batch, orjson.loads(response.content), done)
                return
            if response is not None and response.status_code in _FATAL:
                raise ReplayAborted(f"POST {self.config.url}/v1/score answered {response.status_code}: "
                                    f"{_message(response)}" + (" (lower --batch)" if response.status_code == 413 else ""))
            if response is not None and 400 <= response.status_code < 500 and response.status_code != 429:
                batch = self._rejected(batch, response, done)
                continue
            self.tally.on_failed_request()
            attempts += 1
            if attempts > self.config.retries:
                self.tally.on_failed_readings(len(batch))
                return
            await asyncio.sleep(min(0.1 * 2 ** attempts, 2.0))

    def _answered(self, batch: list[Queued], payload: dict[str, Any], now: float) -> None:
        version = str(payload.get("model_version"))
        for (_, due), item in zip(batch, payload["results"]):
            self.tally.on_answer(item, version, now - due, now)

    def _rejected(self, batch: list[Queued], response: httpx.Response, now: float) -> list[Queued]:
        """Count the readings a 4xx names; return the others, to be resent (all rejected when none is named)."""
        try:
            errors = orjson.loads(response.content).get("errors") or []
        except orjson.JSONDecodeError:
            errors = []
        bad: dict[int, str] = {}
        for error in errors:
            match = _INDEXED.match(str(error.get("field", "")))
            if match and int(match.group(1)) < len(batch):
                bad.setdefault(int(match.group(1)), reject_reason(error["field"], str(error.get("reason", ""))))
        if not bad:
            reason = (reject_reason(str(errors[0].get("field", "body")), str(errors[0].get("reason", "")))
                      if errors else f"HTTP {response.status_code}")
            bad = dict.fromkeys(range(len(batch)), reason)
        for reason in bad.values():
            self.tally.on_reject(reason, now)
        return [queued for i, queued in enumerate(batch) if i not in bad]


def _message(response: httpx.Response) -> str:
    try:
        return str(orjson.loads(response.content).get("message") or response.reason_phrase)
    except (orjson.JSONDecodeError, AttributeError):
        return response.text[:200] or response.reason_phrase
