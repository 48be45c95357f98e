"""The fleet data model: tables, columns, types, keys and physical ranges."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ColumnKind = Literal["str", "float", "int", "timestamp", "category"]


@dataclass(frozen=True)
class Column:
    """One column of a fleet table: its type, whether it may be null and its physical range."""

    name: str
    kind: ColumnKind
    nullable: bool = False
    low: float | None = None
    high: float | None = None
    categories: tuple[str, ...] = ()
    unit: str = ""


@dataclass(frozen=True)
class Table:
    """One fleet table: its columns, the key that identifies a row and its time column."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    time_column: str | None = None
    references_assets: bool = True
    description: str = ""
    column_index: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "column_index", {c.name: c for c in self.columns})

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


GASES: tuple[str, ...] = ("h2", "ch4", "c2h6", "c2h4", "c2h2", "co", "co2")
COOLING_TYPES: tuple[str, ...] = ("ONAN", "ONAF", "OFAF")
OIL_PRESERVATION: tuple[str, ...] = ("sealed", "free_breathing")
TELEMETRY_QUALITY: tuple[str, ...] = ("good", "suspect", "bad")
FAILURE_MODES: tuple[str, ...] = (
    "thermal",
    "low_energy_discharge",
    "high_energy_discharge",
    "partial_discharge",
    "no_precursor",
)

# Ranges are what the physical world allows, not what is normal: a value outside them is a
# sensor or transcription fault and is quarantined; a value inside them may still be alarming.
ASSETS = Table(
    name="assets",
    key=("transformer_id",),
    references_assets=False,
    description="one row per transformer: nameplate and construction",
    columns=(
        Column("transformer_id", "str"),
        Column("substation", "str"),
        Column("voltage_kv", "float", low=1.0, high=1200.0, unit="kV"),
        Column("rated_mva", "float", low=0.01, high=2000.0, unit="MVA"),
        Column("install_year", "int", low=1940, high=2100),
        Column("cooling", "category", categories=COOLING_TYPES),
        Column("oil_preservation", "category", categories=OIL_PRESERVATION),
    ),
)

TELEMETRY = Table(
    name="telemetry",
    key=("transformer_id", "timestamp"),
    time_column="timestamp",
    description="hourly SCADA: load, ambient and top-oil temperature",
    columns=(
        Column("transformer_id", "str"),
        Column("timestamp", "timestamp"),
        Column("load_pu", "float", nullable=True, low=0.0, high=3.0, unit="p.u."),
        Column("ambient_temp_c", "float", nullable=True, low=-60.0, high=60.0, unit="degC"),
        Column("top_oil_temp_c", "float", nullable=True, low=-60.0, high=200.0, unit="degC"),
        Column("quality", "category", categories=TELEMETRY_QUALITY),
    ),
)

_GAS_HIGH = {"h2": 50_000.0, "ch4": 50_000.0, "c2h6": 50_000.0, "c2h4": 50_000.0,
             "c2h2": 50_000.0, "co": 50_000.0, "co2": 100_000.0}

DGA = Table(
    name="dga",
    key=("transformer_id", "sampled_at"),
    time_column="sampled_at",
    description="dissolved gas analysis: online monitor or lab sample",
    columns=(
        Column("transformer_id", "str"),
        Column("sampled_at", "timestamp"),
        *(Column(g, "float", nullable=True, low=0.0, high=_GAS_HIGH[g], unit="ppm") for g in GASES),
        Column("moisture_ppm", "float", nullable=True, low=0.0, high=1_000.0, unit="ppm"),
    ),
)

OIL_TESTS = Table(
    name="oil_tests",
    key=("transformer_id", "sampled_at"),
    time_column="sampled_at",
    description="periodic oil-quality lab tests and furan analysis",
    columns=(
        Column("transformer_id", "str"),
        Column("sampled_at", "timestamp"),
        Column("breakdown_kv", "float", nullable=True, low=0.0, high=150.0, unit="kV"),
        Column("acidity_mg_koh_g", "float", nullable=True, low=0.0, high=5.0, unit="mgKOH/g"),
        Column("ift_mn_m", "float", nullable=True, low=0.0, high=80.0, unit="mN/m"),
        Column("furan_2fal_ppb", "float", nullable=True, low=0.0, high=100_000.0, unit="ppb"),
    ),
)

FAILURES = Table(
    name="failures",
    key=("transformer_id", "failed_at"),
    time_column="failed_at",
    description="major failures: unit out of service for repair or replacement",
    columns=(
        Column("transformer_id", "str"),
        Column("failed_at", "timestamp"),
        Column("failure_mode", "category", categories=FAILURE_MODES),
    ),
)

TABLES: dict[str, Table] = {t.name: t for t in (ASSETS, TELEMETRY, DGA, OIL_TESTS, FAILURES)}

# The generator's ground truth sits apart from the model inputs and is never ingested.
TRUTH_DIR = "truth"
HAZARD_FILE = "hazard.parquet"
MANIFEST_FILE = "manifest.json"
