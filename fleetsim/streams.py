"""Deterministic random streams: one per (purpose, asset), so data never depends on block size or order."""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Purpose(IntEnum):
    """What a stream is used for; adding draws to one purpose never shifts another."""

    FLEET = 0  # nameplate and latent attributes of the whole fleet
    AMBIENT = 1  # per substation
    LOAD = 2
    SENSOR = 3
    CONDITION = 4  # incipient faults and failures
    GASES = 5
    OIL = 6
    DGA_SAMPLING = 7
    TELEMETRY_FAULTS = 8
    SCENARIO = 9  # per unit
    SCENARIO_SITE = 10  # per substation
    OIL_SAMPLING = 11
    DGA_FAULTS = 12
    OIL_FAULTS = 13

def stream(seed: int, purpose: Purpose, index: int = 0) -> np.random.Generator:
    """Return the generator for one purpose and one asset (or substation) index."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(int(purpose), index)))
