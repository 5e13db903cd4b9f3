"""Wilson's interval against scipy, against its definition, and at the ends of [0, 1]."""

from __future__ import annotations

import math

import pytest

from nndl_lab.experiments.intervals import wilson_interval

CASES = [(0, 10), (1, 10), (5, 10), (10, 10), (299, 300), (300, 300), (551, 1000), (1, 1)]


@pytest.mark.parametrize(("k", "n"), CASES)
@pytest.mark.parametrize("confidence", [0.68, 0.95, 0.99])
def test_matches_scipy(k, n, confidence):
    stats = pytest.importorskip("scipy.stats")
    expected = stats.binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    low, high = wilson_interval(k, n, confidence)
    assert low == pytest.approx(expected.low, abs=1e-12)
    assert high == pytest.approx(expected.high, abs=1e-12)


@pytest.mark.parametrize(("k", "n"), CASES)
def test_ends_solve_the_score_equation(k, n):
    # the definition: the ends are the q with (k/n - q)^2 = z^2 q (1 - q) / n, or 0 and 1
    z = 1.959963984540054  # the 97.5% quantile of the standard normal
    low, high = wilson_interval(k, n)
    for q in (low, high):
        if q in (0.0, 1.0):
            continue
        assert (k / n - q) ** 2 == pytest.approx(z * z * q * (1 - q) / n, rel=1e-9)
    assert 0.0 <= low <= k / n <= high <= 1.0


def test_all_correct_by_hand():
    # k = n: the interval is [n / (n + z^2), 1], e.g. 300 of 300 images
    z = 1.959963984540054
    low, high = wilson_interval(300, 300)
    assert high == 1.0
    assert low == pytest.approx(300 / (300 + z * z), rel=1e-12)
    assert low == pytest.approx(0.98736, abs=1e-5)  # 300 / 303.84146


def test_none_correct_by_hand():
    z = 1.959963984540054
    low, high = wilson_interval(0, 50)
    assert low == 0.0
    assert high == pytest.approx(z * z / (50 + z * z), rel=1e-12)


def test_narrows_like_one_over_root_n():
    # the same proportion on 100 times as many trials: about a tenth of the width
    low1, high1 = wilson_interval(55, 100)
    low2, high2 = wilson_interval(5500, 10000)
    assert (high2 - low2) / (high1 - low1) == pytest.approx(0.1, rel=0.02)
    assert math.isclose((high2 + low2) / 2, 0.55, abs_tol=1e-3)


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        ((1.0, 10), TypeError, "successes"),
        ((True, 10), TypeError, "successes"),
        ((1, 10.0), TypeError, "trials"),
        ((1, 10, "0.95"), TypeError, "confidence"),
        ((1, 0), ValueError, "trials"),
        ((-1, 10), ValueError, "successes"),
        ((11, 10), ValueError, "successes"),
        ((1, 10, 1.0), ValueError, "confidence"),
        ((1, 10, 0.0), ValueError, "confidence"),
        ((1, 10, float("nan")), ValueError, "confidence"),
    ],
)
def test_bad_input(args, error, match):
    with pytest.raises(error, match=match):
        wilson_interval(*args)
