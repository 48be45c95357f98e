"""Drift policy: K consecutive drifted windows confirm, a trigger fires once, cool-down holds, state round-trips."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from monitoring import DecayResult, DriftPolicy, DriftResult, PolicyState, VersionDecay
from monitoring.policy import PolicyDecision, evaluate_decay, evaluate_policy, record_retrain

T0 = datetime(2025, 6, 1, tzinfo=timezone.utc)
POLICY = DriftPolicy(consecutive_windows=2, cooldown_hours=48)


def window(verdict: str, day: int, version: str = "3") -> DriftResult:
    """A drift result for the day-long window ending `day` days after T0."""
    end = T0 + timedelta(days=day)
    return DriftResult(
        verdict=verdict,  # type: ignore[arg-type]
        reason=f"test {verdict}", columns=(), skipped=(), share_drifted=0.0, window_rows=1_000,
        reference_rows=5_000, sampled_rows=1_000, window_start=end - timedelta(days=1), window_end=end,
        model_version=version, settings={},
    )


def run(verdicts: list[str], policy: DriftPolicy = POLICY, state: PolicyState | None = None) -> list[PolicyDecision]:
    """Feed one window per day through the policy, checking each a few minutes after its end."""
    state = state or PolicyState()
    decisions = []
    for day, verdict in enumerate(verdicts, start=1):
        decision = evaluate_policy(state, window(verdict, day), T0 + timedelta(days=day, minutes=5), policy)
        decisions.append(decision)
        state = decision.new_state
    return decisions


def fired(decisions: list[PolicyDecision]) -> list[int]:
    return [i for i, d in enumerate(decisions) if d.trigger]


def test_drift_is_confirmed_after_k_consecutive_windows_and_fires_once() -> None:
    decisions = run(["drift", "drift", "drift", "drift"], DriftPolicy(consecutive_windows=2, cooldown_hours=0))
    assert [d.status for d in decisions] == ["pending", "triggered", "pending", "triggered"]
    assert decisions[1].new_state.consecutive_drifted == 0 and decisions[1].new_state.triggers == 1
    assert "confirmed over 2 consecutive disjoint windows" in decisions[1].reason


def test_k_is_configurable() -> None:
    assert fired(run(["drift"] * 3, DriftPolicy(consecutive_windows=3))) == [2]
    assert fired(run(["drift"], DriftPolicy(consecutive_windows=1))) == [0]


def test_a_stable_window_resets_the_count() -> None:
    decisions = run(["drift", "no_drift", "drift", "no_drift", "drift"])
    assert fired(decisions) == []
    assert decisions[-1].new_state.consecutive_drifted == 1


def test_insufficient_windows_neither_confirm_nor_reset() -> None:
    assert fired(run(["insufficient_data"] * 6)) == []
    assert fired(run(["drift", "insufficient_data"])) == []
    bridged = run(["drift", "insufficient_data", "insufficient_data", "drift"])
    assert fired(bridged) == [3]
    assert bridged[1].new_state.consecutive_drifted == 1 and "neither confirms nor resets" in bridged[1].reason


def test_cooldown_holds_back_a_second_trigger_until_it_ends() -> None:
    decisions = run(["drift"] * 6, DriftPolicy(consecutive_windows=2, cooldown_hours=60))
    assert fired(decisions) == [1, 4]
    assert [d.status for d in decisions[2:4]] == ["pending", "cooldown"]
    assert "cool-down" in decisions[3].reason
    assert decisions[4].new_state.last_trigger_at == T0 + timedelta(days=5, minutes=5)


def test_a_recorded_retrain_starts_a_cooldown() -> None:
    state = record_retrain(PolicyState(), T0 + timedelta(days=1, hours=12))
    decisions = run(["drift", "drift", "drift", "drift"], state=state)
    assert fired(decisions) == [3]
    assert decisions[1].status == "cooldown"
    with pytest.raises(ValueError, match="timezone-aware"):
        record_retrain(state, datetime(2025, 1, 1))


def test_the_same_window_never_counts_twice() -> None:
    state = PolicyState()
    first = evaluate_policy(state, window("drift", 1), T0 + timedelta(days=1), POLICY)
    retry = evaluate_policy(first.new_state, window("drift", 1), T0 + timedelta(days=1, hours=1), POLICY)
    assert retry.status == "duplicate_window" and not retry.trigger
    assert retry.new_state == first.new_state


def test_overlapping_windows_count_once() -> None:
    """A 24-hour window checked every hour: drift needs two disjoint windows, i.e. a day apart."""
    state, fired_at = PolicyState(), []
    for hour in range(1, 80):
        end = T0 + timedelta(hours=hour)
        result = replace(window("drift", 0), window_start=end - timedelta(hours=24), window_end=end)
        decision = evaluate_policy(state, result, end, DriftPolicy(consecutive_windows=2, cooldown_hours=0))
        state = decision.new_state
        if decision.trigger:
            fired_at.append(hour)
    # Counted at 1 h; the window ending at 25 h is the first disjoint one. After that trigger the next
    # run starts at 49 h (disjoint from the triggering window) and confirms at 73 h.
    assert fired_at == [25, 73]
    assert "not counted again" in evaluate_policy(
        evaluate_policy(PolicyState(), window("drift", 1), T0 + timedelta(days=1), POLICY).new_state,
        replace(window("drift", 1), window_end=T0 + timedelta(days=1, hours=1)), T0 + timedelta(days=1, hours=1), POLICY,
    ).reason


def test_a_new_champion_restarts_the_count() -> None:
    state = evaluate_policy(PolicyState(), window("drift", 1, "3"), T0 + timedelta(days=1), POLICY).new_state
    decision = evaluate_policy(state, window("drift", 2, "4"), T0 + timedelta(days=2), POLICY)
    assert decision.status == "pending" and "champion changed 3 -> 4" in decision.reason


def test_state_round_trips_through_json() -> None:
    state = run(["drift", "drift", "drift"])[-1].new_state
    text = state.to_json()
    assert json.loads(text)["consecutive_drifted"] == 1
    assert PolicyState.from_json(text) == state
    with pytest.raises(ValueError):
        PolicyState.from_json('{"consecutive_drifted": 1, "unknown": 2}')


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="now must be timezone-aware"):
        evaluate_policy(PolicyState(), window("drift", 1), datetime(2025, 6, 2), POLICY)


def decay(decayed: bool, version: str = "3") -> DecayResult:
    status = "decayed" if decayed else "ok"
    row = VersionDecay(version, 5_000, 400, 6, 0.05 if decayed else 0.4, 0.2, 0.4, 0.9 if decayed else 0.0, status)  # type: ignore[arg-type]
    return DecayResult(decayed, "test", (row,), 5_000, 100, T0, {})


def test_decay_triggers_once_per_version_and_respects_cooldown() -> None:
    state = PolicyState()
    assert evaluate_decay(state, decay(False), T0, POLICY).status == "no_decay"
    first = evaluate_decay(state, decay(True), T0, POLICY)
    assert first.trigger and first.new_state.decay_triggered_versions == ("3",)
    again = evaluate_decay(first.new_state, decay(True), T0 + timedelta(days=10), POLICY)
    assert again.status == "already_triggered" and not again.trigger
    held = evaluate_decay(first.new_state, decay(True, "4"), T0 + timedelta(hours=1), POLICY)
    assert held.status == "cooldown" and not held.trigger
    later = evaluate_decay(first.new_state, decay(True, "4"), T0 + timedelta(days=3), POLICY)
    assert later.trigger and later.new_state.decay_triggered_versions == ("3", "4")
