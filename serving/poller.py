"""Background watcher of the registry alias: loads a new version aside, validates it, swaps it in or refuses it."""

from __future__ import annotations

import gc
import logging
import threading

from collections.abc import Callable

from serving.metrics import ServiceMetrics
from serving.model_cache import ModelCache
from serving.model_check import ModelRefused, load_checked
from serving.registry_client import RegistryClient, VersionRef
from serving.slots import ModelSlots, ServedModel

log = logging.getLogger("serving.poller")


class ModelWatcher:
    """Keep `slots.active` on the version the alias names; never replace a good model with a bad one."""

    def __init__(self, *, registry: RegistryClient, cache: ModelCache, slots: ModelSlots, metrics: ServiceMetrics,
                 name: str, alias: str, interval_s: float, top: int, prepare: Callable[[], None] | None = None) -> None:
        self.registry, self.cache, self.slots, self.metrics = registry, cache, slots, metrics
        self.prepare = prepare  # runs once on the watcher's thread before the first model loads
        self.name, self.alias, self.interval_s, self.top = name, alias, interval_s, top
        self.refused: dict[str, str] = {}  # version -> why; a refused version is not retried
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._tried_cache = False

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="xfmr-model-watcher", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        if self.prepare is not None:
            try:
                self.prepare()
            except Exception:  # not fatal: what it prepares is then done on first use
                log.exception("model watcher: preparing the service failed")
        while not self._stop.is_set():
            try:
                self.check_once()
            except Exception:  # the watcher must outlive any one bad poll
                log.exception("model watcher: unexpected error; retrying in %.1f s", self.interval_s)
            self._stop.wait(self.interval_s)

    def check_once(self) -> str:
        """Poll the alias once and act on it; return what happened (for logs and tests)."""
        try:
            active = self.slots.active
            # The common case, nothing changed, costs one registry call; lineage and metrics only on a change.
            if active is not None and active.source == "registry":
                if self.registry.current_version(self.name, self.alias) == active.version:
                    return "unchanged"
            ref = self.registry.resolve(self.name, self.alias)
        except Exception as exc:
            self.metrics.registry_errors.inc()
            log.warning("registry %s unreachable or alias @%s unset: %s", self.registry.tracking_uri, self.alias,
                        " ".join(str(exc).split())[:300])
            return self._fall_back_to_cache()
        active = self.slots.active
        if active is not None and active.version == ref.version and active.source == "registry":
            return "unchanged"
        if ref.version in self.refused:
            return self._fall_back_to_cache() if active is None else "refused-before"
        if active is not None and active.version == ref.version:  # serving it from cache: now confirmed
            self.cache.remember(ref, active.folder)
            return "unchanged"
        try:
            folder = self.registry.download(ref, self.cache.version_dir(ref.name, ref.version))
            candidate = load_checked(ref, folder, "registry", self.top)
        except ModelRefused as exc:
            self._refuse(ref, exc.reason, str(exc))
            return self._fall_back_to_cache() if self.slots.active is None else "refused"
        except Exception as exc:  # download failed: transient, try again next poll
            self.metrics.registry_errors.inc()
            log.warning("could not download %s v%s: %s", ref.name, ref.version, " ".join(str(exc).split())[:300])
            return self._fall_back_to_cache()
        self._install(candidate)
        self.cache.remember(ref, folder)
        return "swapped"

    def _refuse(self, ref: VersionRef, reason: str, message: str) -> None:
        self.refused[ref.version] = message
        self.metrics.refused.labels(version=ref.version, reason=reason).inc()
        current = self.slots.active.version if self.slots.active else "none"
        log.error("refused %s v%s (%s): %s; still serving v%s", ref.name, ref.version, reason, message, current)

    def _fall_back_to_cache(self) -> str:
        """With nothing serving, load the last cached hash-verified version (once; the registry is retried)."""
        if self.slots.active is not None or self._tried_cache:
            return "kept" if self.slots.active is not None else "not-ready"
        self._tried_cache = True
        try:
            cached = self.cache.last_served(self.name, self.alias)
            if cached is None:
                log.warning("no cached version of %s@%s: not ready until the registry answers", self.name, self.alias)
                return "not-ready"
            candidate = load_checked(cached.ref, cached.folder, "cache", self.top)
        except (ModelRefused, ValueError) as exc:
            log.error("cached version unusable: %s; not ready until the registry answers", exc)
            return "not-ready"
        self._install(candidate)
        return "cache"

    def _install(self, candidate: ServedModel) -> None:
        self.slots.stage(candidate)
        previous = self.slots.promote_staged()
        self.metrics.swaps.inc()
        self.metrics.set_model(candidate.ref.name, candidate.version, candidate.source)
        log.info("now serving %s v%s from %s (was v%s)", candidate.ref.name, candidate.version, candidate.source,
                 previous.version if previous else "none")
        del previous
        _freeze_heap()


def _freeze_heap() -> None:
    """Take the long-lived heap (libraries, the model) out of the cyclic garbage collector's full passes.

    Full collections otherwise walk millions of startup objects and stall scoring for ~200 ms, which
    sets the stream's p99. Unfreezing first lets the replaced model's cycles be collected once.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()
