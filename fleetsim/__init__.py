"""Synthetic, physically grounded power-transformer fleet: seeded, deterministic, written as Parquet."""

from fleetsim.config import SCENARIOS, GeneratorConfig, Scenario
from fleetsim.fleet import generate_fleet
from fleetsim.summary import GenerationSummary

__all__ = ["SCENARIOS", "GenerationSummary", "GeneratorConfig", "Scenario", "generate_fleet"]
