"""Thermal model, ageing acceleration and Chendong against the numbers in the facts file."""

from __future__ import annotations

import numpy as np
import pytest

from tasks.physics import (
    THERMAL_PARAMS,
    ageing_acceleration,
    dp_from_furan_2fal_ppb,
    furan_2fal_ppb_from_dp,
    hot_spot_from_top_oil,
    loss_of_life_pct,
    simulate_temperatures,
    ultimate_top_oil_rise,
)


@pytest.mark.parametrize(("hot_spot", "expected", "rel"), [(110.0, 1.0, 1e-9), (120.0, 2.7, 0.03), (80.0, 0.036, 0.05),
                                                           (140.0, 17.0, 0.05), (98.0, 0.28, 0.05)])
def test_ageing_acceleration_matches_ieee_table(hot_spot: float, expected: float, rel: float) -> None:
    assert ageing_acceleration(hot_spot) == pytest.approx(expected, rel=rel)


def test_ageing_acceleration_doubles_roughly_every_six_to_seven_kelvin() -> None:
    ratio = ageing_acceleration(117.0) / ageing_acceleration(110.0)
    assert 1.8 < ratio < 2.2


def test_loss_of_life_of_one_normal_life_is_100_pct() -> None:
    assert loss_of_life_pct(180_000.0) == pytest.approx(100.0)


def test_top_oil_lags_a_load_step_and_settles_near_the_ultimate_value() -> None:
    p = THERMAL_PARAMS["ONAN"]
    hours = 48
    load = np.where(np.arange(hours) < 4, 0.5, 1.0)
    ambient = np.full(hours, 30.0)
    top_oil, _ = simulate_temperatures(load, ambient, p)
    before = 30.0 + float(ultimate_top_oil_rise(0.5, p))
    after = 30.0 + float(ultimate_top_oil_rise(1.0, p))
    assert top_oil[3] == pytest.approx(before, abs=1e-6)
    # One hour after the step the oil has covered well under half the way (tau is 3.5 h).
    assert top_oil[4] < before + 0.5 * (after - before)
    assert np.all(np.diff(top_oil[4:]) > 0)
    assert top_oil[4 + int(5 * p.tau_top_oil_h)] == pytest.approx(after, abs=0.01 * (after - before))


def test_hot_spot_is_about_110_at_rated_load_and_30_degc_ambient_for_onan() -> None:
    p = THERMAL_PARAMS["ONAN"]
    load, ambient = np.ones(24), np.full(24, 30.0)
    top_oil, hot_spot = simulate_temperatures(load, ambient, p)
    assert hot_spot[-1] == pytest.approx(110.0, abs=2.0)
    assert hot_spot_from_top_oil(top_oil[-1], 1.0, p) == pytest.approx(hot_spot[-1], abs=0.5)


def test_hot_spot_follows_load_almost_at_once_but_never_before_it() -> None:
    p = THERMAL_PARAMS["ONAF"]
    load = np.where(np.arange(12) < 6, 0.6, 1.2)
    _, hot_spot = simulate_temperatures(load, np.full(12, 20.0), p)
    assert hot_spot[5] == pytest.approx(hot_spot[0])
    assert hot_spot[6] > hot_spot[5]


@pytest.mark.parametrize(("dp", "ppb", "rel"), [(800.0, 50.0, 0.1), (450.0, 860.0, 0.05), (1100.0, 5.0, 0.15),
                                                (200.0, 6_500.0, 0.05)])
def test_chendong_reproduces_the_facts_values(dp: float, ppb: float, rel: float) -> None:
    assert furan_2fal_ppb_from_dp(dp) == pytest.approx(ppb, rel=rel)


def test_chendong_round_trip() -> None:
    dp = np.array([250.0, 450.0, 700.0, 1000.0])
    np.testing.assert_allclose(dp_from_furan_2fal_ppb(furan_2fal_ppb_from_dp(dp)), dp, rtol=1e-9)


def test_less_dp_means_more_furan() -> None:
    assert np.all(np.diff(furan_2fal_ppb_from_dp(np.array([900.0, 700.0, 500.0, 300.0]))) > 0)
