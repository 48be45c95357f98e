"""Turn drift and decay results into at most one retraining trigger per confirmation, with a cool-down.

Rules, in order, for each drift result:

* a window ending at or before the last evaluated one is ignored (a retried flow run cannot count twice);
* a new champion (model version) restarts the count: earlier windows were judged on another reference;
* "insufficient_data" neither confirms nor resets: a quiet night between two drifted windows
  leaves the run of drifted windows intact, and it can never add to it;
* "no_drift" resets the count; "drift" adds one - unless the window overlaps the last window
  that was counted (a 24-hour window checked every hour shares 23 hours with the previous one):
  consecutive windows must be disjoint to be independent evidence, so an overlapping drifted window
  keeps the count where it is (after a trigger, the next run starts after the triggering window);
* at `consecutive_windows` drifted windows drift is confirmed: the trigger fires, the count resets
  and the cool-down starts. Confirmed inside a cool-down, nothing fires and the count is kept, so
  drift that outlasts the cool-down fires once when the next drifted window arrives.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict

from monitoring.config import DriftPolicy
from monitoring.results import DecayResult, DriftResult
from monitoring.timestamps import as_utc

DecisionStatus = Literal[
    "triggered", "pending", "cooldown", "no_drift", "insufficient_data", "duplicate_window", "no_decay",
    "already_triggered",
]


class PolicyState(BaseModel):
    """What the policy remembers between checks; the flow persists it as JSON."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    consecutive_drifted: int = 0
    last_window_end: datetime | None = None
    last_counted_window_end: datetime | None = None  # end of the last drifted window that added to the count
    model_version: str | None = None
    last_retrain_at: datetime | None = None
    last_trigger_at: datetime | None = None
    last_trigger_reason: str | None = None
    triggers: int = 0
    decay_triggered_versions: tuple[str, ...] = ()
    failure_records_digest: str | None = None  # the failure records the last decay check judged against
    last_check_at: datetime | None = None  # when a check last completed (the flows' metrics endpoint reports it)

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str) -> PolicyState:
        return cls.model_validate_json(text)


@dataclass(frozen=True)
class PolicyDecision:
    """Whether to trigger retraining now, why, and the state to persist."""

    trigger: bool
    status: DecisionStatus
    reason: str
    new_state: PolicyState


def cooldown_until(state: PolicyState, policy: DriftPolicy) -> datetime | None:
    """Return when the current cool-down ends (None when no retrain is on record)."""
    if state.last_retrain_at is None:
        return None
    return state.last_retrain_at + timedelta(hours=policy.cooldown_hours)


def record_retrain(state: PolicyState, at: datetime) -> PolicyState:
    """Record a retrain that happened for another reason (nightly, manual): it starts a cool-down too."""
    at = as_utc(at, "at")
    latest = max(at, state.last_retrain_at) if state.last_retrain_at else at
    return state.model_copy(update={"last_retrain_at": latest})


def _in_cooldown(state: PolicyState, now: datetime, policy: DriftPolicy) -> datetime | None:
    """Return the end of the cool-down `now` falls in, or None when a trigger may fire."""
    until = cooldown_until(state, policy)
    return until if until is not None and now < until else None


def _fire(state: PolicyState, now: datetime, reason: str, **update: object) -> PolicyDecision:
    new_state = state.model_copy(update={
        "last_retrain_at": now, "last_trigger_at": now, "last_trigger_reason": reason,
        "triggers": state.triggers + 1, **update,
    })
    return PolicyDecision(True, "triggered", reason, new_state)


def evaluate_policy(
    state: PolicyState, result: DriftResult, now: datetime, policy: DriftPolicy | None = None
) -> PolicyDecision:
    """Apply one drift check to the policy state: trigger retraining at most once per confirmed drift."""
    policy = policy or DriftPolicy()
    now = as_utc(now, "now")
    end = result.window_end
    if end is not None and state.last_window_end is not None and end <= state.last_window_end:
        return PolicyDecision(False, "duplicate_window",
                              f"window ending {end.isoformat()} was already evaluated "
                              f"(last evaluated window ended {state.last_window_end.isoformat()})", state)
    count, prefix = state.consecutive_drifted, ""
    counted = state.last_counted_window_end
    if result.model_version and state.model_version and result.model_version != state.model_version:
        count, counted = 0, None
        prefix = f"champion changed {state.model_version} -> {result.model_version}: count restarted; "
    base: dict[str, object] = {
        "last_window_end": end or state.last_window_end,
        "last_counted_window_end": counted,
        "model_version": result.model_version or state.model_version,
    }
    k = policy.consecutive_windows
    if result.verdict == "insufficient_data":
        new = state.model_copy(update={**base, "consecutive_drifted": count})
        reason = f"{prefix}insufficient data ({result.reason}): neither confirms nor resets; {count} of {k} drifted windows"
        return PolicyDecision(False, "insufficient_data", reason, new)
    if result.verdict == "no_drift":
        reason = f"{prefix}no drift ({result.reason}); drifted-window count reset from {count}"
        new = state.model_copy(update={**base, "consecutive_drifted": 0, "last_counted_window_end": None})
        return PolicyDecision(False, "no_drift", reason, new)
    overlaps = result.window_start is not None and counted is not None and result.window_start < counted
    if not overlaps:
        count += 1
        base["last_counted_window_end"] = end or state.last_counted_window_end
    if count < k:
        note = ""
        if overlaps and counted is not None:
            note = f" (overlaps the counted window that ended {counted.isoformat()}: not counted again)"
        reason = f"{prefix}drifted; {count} of {k} disjoint drifted windows needed to confirm{note} ({result.reason})"
        return PolicyDecision(False, "pending", reason, state.model_copy(update={**base, "consecutive_drifted": count}))
    reason = f"{prefix}drift confirmed over {count} consecutive disjoint windows ({result.reason})"
    until = _in_cooldown(state, now, policy)
    if until is None:
        return _fire(state, now, reason, **base, consecutive_drifted=0)
    held = (f"{reason}; not triggering: cool-down after the retrain at {state.last_retrain_at} "
            f"lasts until {until.isoformat()}")
    return PolicyDecision(False, "cooldown", held, state.model_copy(update={**base, "consecutive_drifted": count}))


def evaluate_decay(
    state: PolicyState, decay: DecayResult, now: datetime, policy: DriftPolicy | None = None
) -> PolicyDecision:
    """Apply one decay check: trigger once per decayed model version, respecting the cool-down."""
    policy = policy or DriftPolicy()
    now = as_utc(now, "now")
    if not decay.decayed:
        return PolicyDecision(False, "no_decay", f"no decay: {decay.reason}", state)
    decayed = [v.model_version for v in decay.versions if v.status == "decayed"]
    fresh = [v for v in decayed if v not in state.decay_triggered_versions]
    if not fresh:
        return PolicyDecision(False, "already_triggered",
                              f"decay of version(s) {', '.join(decayed)} already triggered a retrain", state)
    reason = f"performance decay of version(s) {', '.join(fresh)}: {decay.reason}"
    until = _in_cooldown(state, now, policy)
    if until is None:
        return _fire(state, now, reason, decay_triggered_versions=(*state.decay_triggered_versions, *fresh))
    return PolicyDecision(False, "cooldown", f"{reason}; not triggering: cool-down until {until.isoformat()}", state)
