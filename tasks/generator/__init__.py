"""Synthetic, physically grounded power-transformer fleet: seeded, deterministic, written as Parquet."""

from tasks.generator.config import SCENARIOS, GeneratorConfig, Scenario
from tasks.generator.fleet import generate_fleet
from tasks.generator.summary import GenerationSummary

__all__ = ["SCENARIOS", "GenerationSummary", "GeneratorConfig", "Scenario", "generate_fleet"]
