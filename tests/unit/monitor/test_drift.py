"""PSI over the stated bins, and the test named per kind, on small arrays."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from servekit.monitor.drift import EPSILON, categorical_drift, numeric_drift, psi


def test_psi_is_the_sum_over_bins_with_empty_bins_at_epsilon() -> None:
    assert psi([10, 10], [10, 10]) == 0.0
    b, c = np.array([0.5, 0.5]), np.array([0.8, 0.2])
    assert psi([5, 5], [8, 2]) == pytest.approx(float(np.sum((c - b) * np.log(c / b))))
    assert psi([10, 0], [5, 5]) == pytest.approx(
        (0.5 - 1.0) * math.log(0.5 / 1.0) + (0.5 - EPSILON) * math.log(0.5 / EPSILON)
    )


def test_numbers_are_binned_at_the_baseline_deciles() -> None:
    baseline = np.arange(1.0, 101.0)  # deciles at 10.9, 20.8, ...
    same = numeric_drift(baseline, baseline)
    assert len(same.bins) == 10
    assert same.bins[0] == "≤ 10.9"
    assert same.bins[-1] == "> 90.1"
    assert same.baseline_share == [0.1] * 10
    assert (same.psi, same.statistic, same.p_value) == (0.0, 0.0, 1.0)
    moved = numeric_drift(baseline, baseline + 50)
    assert moved.current_share[-1] == 0.6  # 91..150 above the last cut
    assert moved.test == "Kolmogorov-Smirnov"
    expected = stats.ks_2samp(baseline, baseline + 50)
    assert (moved.statistic, moved.p_value) == (expected.statistic, expected.pvalue)


def test_a_constant_baseline_still_sees_a_move() -> None:
    found = numeric_drift(np.full(50, 5.0), np.full(50, 7.0))
    assert found.bins == ["≤ 5", "> 5"]
    assert found.psi > 5
    assert numeric_drift(np.full(50, 5.0), np.full(50, 5.0)).psi == 0.0


def test_categories_are_their_own_bins_with_a_chi_square_test() -> None:
    found = categorical_drift(np.array(["a"] * 60 + ["b"] * 40), np.array(["a"] * 20 + ["c"] * 20))
    assert found.test == "chi-square"
    assert found.bins == ["a", "b", "c"]
    assert found.baseline_share == [0.6, 0.4, 0.0]
    assert found.current_share == [0.5, 0.0, 0.5]
    table = np.array([[60, 40, 0], [20, 0, 20]])
    statistic, p_value, _, _ = stats.chi2_contingency(table)
    assert (found.statistic, found.p_value) == (statistic, p_value)
    assert (found.baseline_count, found.current_count) == (100, 40)


def test_one_category_on_both_sides_is_no_drift() -> None:
    found = categorical_drift(np.array(["x"] * 5), np.array(["x"] * 9))
    assert (found.statistic, found.p_value, found.psi) == (0.0, 1.0, 0.0)
