"""Oil-quality bands and scores, DP from furans, and the orientation and bands of the health index."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from tasks import condition


def test_voltage_classes() -> None:
    np.testing.assert_array_equal(condition.iec_voltage_class([11, 72.5, 73, 170, 171, 400]), [0, 0, 1, 1, 2, 2])


@pytest.mark.parametrize(
    ("band", "value", "voltages", "expected"),
    [
        (condition.moisture_band, 25.0, (33, 132, 275), (1, 2, 2)),
        (condition.moisture_band, 12.0, (33, 132, 275), (0, 0, 1)),
        (condition.breakdown_band, 45.0, (33, 132, 400), (0, 1, 2)),
        (condition.breakdown_band, 65.0, (33, 132, 400), (0, 0, 0)),
        (condition.acidity_band, 0.18, (33, 132, 400), (1, 2, 2)),
        (condition.acidity_band, 0.05, (33, 132, 400), (0, 0, 0)),
        (condition.ift_band, 29.0, (33, 132, 400), (0, 0, 1)),
        (condition.ift_band, 23.0, (33, 132, 400), (1, 1, 2)),
    ],
)
def test_iec60422_bands_by_voltage_class(
    band: Callable[..., np.ndarray], value: float, voltages: tuple[int, ...], expected: tuple[int, ...]
) -> None:
    np.testing.assert_array_equal(band([value] * 3, voltages), expected)


def test_untested_oil_has_no_band_and_index_averages_what_was_tested() -> None:
    q = condition.oil_quality([np.nan, 35.0, np.nan], [np.nan, 25.0, 60.0], [np.nan, 0.3, np.nan], [np.nan, 20.0, np.nan], [33.0] * 3)
    assert np.isnan(q.moisture[0]) and np.isnan(q.index[0])
    assert q.index[1] == 2.0
    assert q.index[2] == 0.0


def test_cnaim_oil_score() -> None:
    # 33 kV: moisture 35 -> 4, acidity 0.12 -> 2, breakdown 45 -> 2.
    assert condition.cnaim_oil_score([35.0], [0.12], [45.0], [33.0])[0] == pytest.approx(80 * 4 + 125 * 2 + 80 * 2)
    # 132 kV table is stricter: moisture 35 -> 8, acidity 0.12 -> 4, breakdown 45 -> 4.
    assert condition.cnaim_oil_score([35.0], [0.12], [45.0], [132.0])[0] == pytest.approx(80 * 8 + 125 * 4 + 80 * 4)
    # Boundaries are upper-inclusive: 15 ppm is state 0, breakdown 30 kV is the worst state.
    assert condition.cnaim_oil_score([15.0], [0.10], [30.0], [33.0])[0] == pytest.approx(80 * 10)
    # A missing test is rescaled away; nothing tested is NaN.
    assert condition.cnaim_oil_score([np.nan], [0.5], [np.nan], [33.0])[0] == pytest.approx(10 * 285)
    assert np.isnan(condition.cnaim_oil_score([np.nan], [np.nan], [np.nan], [33.0])[0])


def test_dp_from_furan() -> None:
    dp = condition.dp_estimate([50.0, 2_900.0, 0.0, np.nan])
    assert dp[0] == pytest.approx(803.0, abs=1.0)  # Chendong: 50 ppb ~ DP 800
    assert dp[1] == pytest.approx(300.0, abs=5.0)
    assert dp[2] == condition.DP_RANGE[1]
    assert np.isnan(dp[3])


def _hi(status: float = 1.0, oil: float = 0.0, dp: float = 1_000.0, age: float = 10.0, hot: float = 90.0) -> float:
    return float(condition.health_index([status], [oil], [dp], [age], [hot])[0])


def test_health_index_orientation() -> None:
    best = _hi()
    assert 85.0 <= best <= 100.0
    assert _hi(oil=1.0) < best and _hi(oil=2.0) < _hi(oil=1.0)
    assert _hi(status=3.0) < _hi(status=2.0) < best
    assert _hi(dp=300.0) < best
    assert _hi(age=50.0) < best
    assert _hi(hot=135.0) < best
    worst = _hi(status=3.0, oil=2.0, dp=200.0, age=70.0, hot=150.0)
    assert worst == pytest.approx(0.0)


def test_worse_oil_tests_lower_health_index_end_to_end() -> None:
    good = condition.oil_quality([8.0], [70.0], [0.03], [40.0], [132.0])
    poor = condition.oil_quality([40.0], [30.0], [0.3], [18.0], [132.0])
    hi_good = condition.health_index([1.0], good.index, [900.0], [20.0], [95.0])[0]
    hi_poor = condition.health_index([1.0], poor.index, [900.0], [20.0], [95.0])[0]
    assert hi_poor < hi_good


def test_health_index_uses_only_known_indicators() -> None:
    only_dga = condition.health_index([1.0, 3.0, np.nan], [np.nan] * 3, [np.nan] * 3, [np.nan] * 3, [np.nan] * 3)
    np.testing.assert_allclose(only_dga, [100.0, 0.0, np.nan])


def test_health_bands() -> None:
    bands = condition.health_band([100.0, 85.0, 84.9, 70.0, 55.0, 30.0, 29.9, 0.0, np.nan])
    assert list(bands) == ["very good", "very good", "good", "good", "fair", "poor", "very poor", "very poor", "unknown"]


def test_health_weights_are_validated() -> None:
    with pytest.raises(ValueError, match="oil"):
        condition.HealthWeights(oil=-1.0)
    with pytest.raises(ValueError, match="zero"):
        condition.HealthWeights(dga=0.0, oil=0.0, paper=0.0, age_loading=0.0)
