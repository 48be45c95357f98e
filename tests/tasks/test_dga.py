"""IEEE C57.104 screening, Duval triangle 1, IEC ratios and TDCG on worked examples."""

from __future__ import annotations

import numpy as np
import pytest

from tasks import dga

# (CH4, C2H4, C2H2) as percentages of their sum, and the zone of facts section 1.2.
DUVAL_POINTS = [
    ((98, 2, 0), "PD"),
    ((100, 0, 0), "PD"),
    ((97, 3, 0), "T1"),  # just below the PD apex
    ((80, 19, 1), "T1"),
    ((80, 20, 0), "T2"),  # C2H4 = 20 starts T2
    ((60, 39, 1), "T2"),
    ((50, 50, 0), "T3"),  # C2H4 = 50 starts T3
    ((30, 60, 10), "T3"),
    ((20, 66, 14), "T3"),  # C2H2 < 15 with C2H4 >= 50 stays thermal
    ((50, 10, 40), "D1"),
    ((77, 10, 13), "D1"),  # C2H2 = 13 starts D1
    ((64, 22, 14), "D1"),
    ((40, 30, 30), "D2"),
    ((50, 23, 27), "D2"),  # C2H4 = 23 starts D2
    ((20, 45, 35), "D2"),  # C2H2 >= 29 with C2H4 >= 40
    ((11, 60, 29), "D2"),
    ((0, 0, 100), "D1"),
    ((80, 10, 10), "DT"),
    ((50, 46, 4), "DT"),  # C2H2 = 4 leaves T1/T2
    ((40, 45, 15), "DT"),
    ((30, 42, 28), "DT"),
    ((35, 50, 15), "DT"),  # C2H2 = 15 leaves T3
]


@pytest.mark.parametrize(("point", "zone"), DUVAL_POINTS)
def test_duval_point_lands_in_its_zone(point: tuple[int, int, int], zone: str) -> None:
    result = dga.duval_triangle_1(*point)
    assert str(result.zone) == zone
    assert float(result.ch4_pct) == pytest.approx(point[0])


def test_duval_is_vectorised_and_scale_free() -> None:
    points = np.array([p for p, _ in DUVAL_POINTS], dtype=float)
    # A power-of-two scale keeps the boundary points exact.
    scaled = dga.duval_triangle_1(points[:, 0] * 4.0, points[:, 1] * 4.0, points[:, 2] * 4.0)
    assert list(scaled.zone) == [z for _, z in DUVAL_POINTS]
    np.testing.assert_allclose(scaled.ch4_pct + scaled.c2h4_pct + scaled.c2h2_pct, 100.0)


def test_duval_names_no_zone_without_gas() -> None:
    result = dga.duval_triangle_1([0.0, np.nan, 0.01, 5.0], [0.0, 3.0, 0.02, 0.0], [0.0, 1.0, 0.0, 0.0])
    assert list(result.zone) == ["none", "none", "none", "PD"]
    assert np.isnan(result.ch4_pct[:3]).all()
    assert result.ch4_pct[3] == 100.0


@pytest.mark.parametrize(
    ("preservation", "h2", "status"),
    [
        ("sealed", 75.0, 1.0),
        ("sealed", 85.0, 2.0),  # above Tab1 80
        ("sealed", 200.0, 2.0),  # not above Tab2 200
        ("sealed", 210.0, 3.0),
        ("free_breathing", 35.0, 1.0),
        ("free_breathing", 50.0, 2.0),  # above Tab1 40: free-breathing limits are lower
        ("free_breathing", 85.0, 2.0),
        ("free_breathing", 95.0, 3.0),  # above Tab2 90
    ],
)
def test_c57_level_status_unknown_age(preservation: str, h2: float, status: float) -> None:
    sealed = dga.low_oxygen([preservation])
    got = dga.gas_status("h2", [h2], None, None, sealed, dga.age_band([np.nan]))
    assert got[0] == status


def test_c57_limits_depend_on_age_band() -> None:
    sealed = np.array([True, True, True])
    band = dga.age_band([np.nan, 5, 40])
    # CH4 50 ppm: unknown-age Tab1 90, 1-9 y Tab1 45 (Tab2 100), > 30 y Tab1 110.
    np.testing.assert_array_equal(dga.gas_status("ch4", [50.0] * 3, None, None, sealed, band), [1.0, 2.0, 1.0])


def test_age_bands() -> None:
    np.testing.assert_array_equal(dga.age_band([np.nan, -1, 0, 9, 10, 30, 31]), [0, 0, 1, 1, 2, 2, 3])


def test_jump_flags_status_two_and_rate_status_three() -> None:
    sealed, band = np.array([True]), np.array([0])
    assert dga.gas_status("h2", [60.0], [45.0], None, sealed, band)[0] == 2.0  # jump above Tab3 40
    assert dga.gas_status("h2", [60.0], [35.0], None, sealed, band)[0] == 1.0
    assert dga.gas_status("h2", [60.0], None, [25.0], sealed, band)[0] == 3.0  # rate above Tab4 20
    assert dga.gas_status("h2", [60.0], [np.nan], [np.nan], sealed, band)[0] == 1.0
    assert np.isnan(dga.gas_status("h2", [np.nan], [45.0], [25.0], sealed, band)[0])


@pytest.mark.parametrize("preservation", ["sealed", "free_breathing"])
def test_any_acetylene_rise_is_flagged(preservation: str) -> None:
    sealed, band = dga.low_oxygen([preservation]), np.array([0])
    assert dga.gas_status("c2h2", [1.0], [np.nan], None, sealed, band)[0] == 1.0
    assert dga.gas_status("c2h2", [1.0], [1.0], None, sealed, band)[0] >= 2.0


def test_overall_status_is_worst_measured_gas() -> None:
    levels = {"h2": [10.0, 10.0, np.nan], "c2h2": [3.0, np.nan, np.nan], "co": [1000.0, 10.0, np.nan]}
    result = dga.c57104_status(levels, None, None, [True, True, True], [0, 0, 0])
    np.testing.assert_array_equal(result.per_gas["co"], [2.0, 1.0, np.nan])
    np.testing.assert_array_equal(result.overall, [3.0, 1.0, np.nan])


def test_raising_acetylene_never_lowers_overall_status() -> None:
    rng = np.random.default_rng(0)
    n = 2_000
    levels = {g: rng.lognormal(2.0, 1.5, n) for g in dga.TAB1}
    prev = {g: levels[g] * rng.uniform(0.5, 1.2, n) for g in dga.TAB1}
    base = {g: levels[g] * rng.uniform(0.3, 1.1, n) for g in dga.TAB1}
    sealed = rng.random(n) < 0.5
    band = rng.integers(0, 4, n)
    before = dga.c57104_status(levels, {g: levels[g] - prev[g] for g in levels}, {g: levels[g] - base[g] for g in levels}, sealed, band)
    for bump in (0.3, 2.0, 50.0):
        raised = dict(levels, c2h2=levels["c2h2"] + bump)
        after = dga.c57104_status(raised, {g: raised[g] - prev[g] for g in raised}, {g: raised[g] - base[g] for g in raised}, sealed, band)
        assert (after.overall >= before.overall).all()
        assert (after.per_gas["c2h2"] >= before.per_gas["c2h2"]).all()


def test_unknown_oil_preservation_is_named() -> None:
    with pytest.raises(ValueError, match="oil_preservation.*conservator"):
        dga.low_oxygen(["sealed", "conservator"])


def test_iec_ratios_with_safe_division() -> None:
    r = dga.iec_ratios(h2=[100.0, 0.0], ch4=[10.0, 5.0], c2h6=[20.0, 0.0], c2h4=[40.0, 0.0], c2h2=[4.0, 1.0])
    np.testing.assert_allclose(r.ch4_h2, [0.1, np.nan])
    np.testing.assert_allclose(r.c2h2_c2h4, [0.1, np.nan])
    np.testing.assert_allclose(r.c2h4_c2h6, [2.0, np.nan])
    np.testing.assert_allclose(dga.safe_ratio([1.0, 1.0, np.nan], [np.nan, -2.0, 1.0]), [np.nan] * 3)


def test_tdcg_sums_combustible_gases_only() -> None:
    levels = {g: [1.0, np.nan] for g in dga.TAB1}
    levels["co2"] = [5_000.0, 7.0]
    levels["co"] = [100.0, np.nan]
    np.testing.assert_allclose(dga.tdcg(levels), [105.0, np.nan])
    with pytest.raises(ValueError, match="c2h2"):
        dga.tdcg({g: [1.0] for g in ("h2", "ch4", "c2h6", "c2h4", "co")})
