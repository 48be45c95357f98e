"""The active and staging model slots: a new version is loaded and validated aside, then swapped in atomically."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from serving.registry_client import VersionRef
from serving.trees import TreeTables
from tasks.model import FailureModel


@dataclass(frozen=True)
class ServedModel:
    """A loaded, validated and warmed version, immutable while any request uses it."""

    ref: VersionRef
    model: FailureModel
    source: str  # "registry" or "cache"
    folder: Path
    loaded_at: datetime
    tables: TreeTables | None = None  # margins and contributions without XGBoost's per-call cost; None: XGBoost

    @property
    def version(self) -> str:
        return self.ref.version


class ModelSlots:
    """Hold the model that serves and the one being prepared.

    Readers take `active` once per request and keep that reference to the end, so a swap (one
    attribute assignment) never changes the model under a request in flight.
    """

    def __init__(self) -> None:
        self.active: ServedModel | None = None
        self.staging: ServedModel | None = None
        self._lock = threading.Lock()

    def stage(self, candidate: ServedModel) -> None:
        with self._lock:
            self.staging = candidate

    def promote_staged(self) -> ServedModel | None:
        """Make the staged model active; return the one it replaced."""
        with self._lock:
            if self.staging is None:
                raise RuntimeError("no staged model to swap in")
            previous, self.active, self.staging = self.active, self.staging, None
            return previous

    def discard_staged(self) -> None:
        with self._lock:
            self.staging = None
