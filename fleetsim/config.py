"""What fleet to generate: the typed, validated generator config and the named drift scenarios."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

REALISTIC_FAILURE_RATE_MAX = 0.01  # CIGRE surveys: major failures run at about 0.3-0.6 %/yr


@dataclass(frozen=True)
class Scenario:
    """A named drift that starts at `scenario_start`: what changes and which columns show it."""

    name: str
    description: str
    affected_columns: tuple[str, ...]


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "load_growth",
            "load x1.15-1.25 per unit and ambient +2-4 degC per substation (30-day ramp): hotter oil, faster ageing",
            ("telemetry.load_pu", "telemetry.ambient_temp_c", "telemetry.top_oil_temp_c"),
        ),
        Scenario(
            "sensor_offset",
            "online DGA monitors re-calibrated with a bias on h2 (gain and offset); lab samples unaffected",
            ("dga.h2",),
        ),
        Scenario(
            "der_penetration",
            "rooftop solar: deep midday dip in net load, steeper evening ramp, lower mean (30-day ramp)",
            ("telemetry.load_pu", "telemetry.top_oil_temp_c"),
        ),
    )
}


def _utc_day(value: str, field_name: str) -> pd.Timestamp:
    """Parse a date as a UTC midnight, naming the field when it does not parse."""
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{field_name} must be a date like '2022-01-01', got {value!r}") from exc
    if ts is pd.NaT:
        raise ValueError(f"{field_name} must be a date like '2022-01-01', got {value!r}")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.normalize()


@dataclass(frozen=True)
class GeneratorConfig:
    """Everything that decides a synthetic fleet; same config (and code) gives byte-identical files."""

    assets: int = 200
    years: float = 3.0
    seed: int = 0
    start: str = "2022-01-01"  # UTC; data starts at this midnight
    failure_rate: float = 0.006  # target annual major-failure rate (CIGRE 0.3-0.6 %/yr)
    data_fault_rate: float = 0.002  # share of rows hit by data-quality faults
    scenario: str | None = None  # None | "load_growth" | "sensor_offset" | "der_penetration"
    scenario_start: str | None = None  # UTC date the drift begins; default: start of the last 25 %
    online_monitor_share: float = 0.3  # units with a daily online multi-gas monitor
    no_precursor_share: float = 0.2  # failures with no signal (lightning, through-faults, bushings)
    block_assets: int = 16  # assets simulated together: bounds memory, does not change the data

    def __post_init__(self) -> None:
        if isinstance(self.assets, bool) or not isinstance(self.assets, int) or self.assets < 1:
            raise ValueError(f"assets must be an integer >= 1, got {self.assets!r}")
        if not self.years > 0 or self.years > 100:
            raise ValueError(f"years must be > 0 and <= 100, got {self.years!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {self.seed!r}")
        if not 0.0 <= self.failure_rate <= 1.0:
            raise ValueError(f"failure_rate must be between 0 and 1 (per year), got {self.failure_rate!r}")
        # The fault kinds share this budget row by row, so it cannot approach 1.
        if not 0.0 <= self.data_fault_rate <= 0.2:
            raise ValueError(f"data_fault_rate must be between 0 and 0.2, got {self.data_fault_rate!r}")
        for name in ("online_monitor_share", "no_precursor_share"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value!r}")
        if isinstance(self.block_assets, bool) or not isinstance(self.block_assets, int) or self.block_assets < 1:
            raise ValueError(f"block_assets must be an integer >= 1, got {self.block_assets!r}")
        if self.scenario is not None and self.scenario not in SCENARIOS:
            raise ValueError(f"scenario must be one of {sorted(SCENARIOS)} or None, got {self.scenario!r}")
        start = _utc_day(self.start, "start")
        if self.scenario_start is not None:
            begin = _utc_day(self.scenario_start, "scenario_start")
            if not start < begin < self.end_timestamp:
                raise ValueError(
                    f"scenario_start must fall inside the data period ({start.date()} .. "
                    f"{self.end_timestamp.date()}), got {self.scenario_start!r}"
                )

    @property
    def days(self) -> int:
        """Number of whole days of data."""
        return max(1, round(self.years * 365.25))

    @property
    def start_timestamp(self) -> pd.Timestamp:
        return _utc_day(self.start, "start")

    @property
    def end_timestamp(self) -> pd.Timestamp:
        """First instant after the data period."""
        return self.start_timestamp + pd.Timedelta(days=self.days)

    @property
    def scenario_start_timestamp(self) -> pd.Timestamp | None:
        """When the drift begins: the given date, or the first day of the last quarter of the period."""
        if self.scenario is None:
            return None
        if self.scenario_start is not None:
            return _utc_day(self.scenario_start, "scenario_start")
        return self.start_timestamp + pd.Timedelta(days=int(self.days * 0.75))
