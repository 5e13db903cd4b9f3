"""Convergence rates of momentum on a quadratic (nndl_lab.experiments.rates), from formulas.

The references are independent of the code under test: numpy's polynomial root
finder on the characteristic polynomials written out here, closed forms from the
literature (Polyak's tuning of the heavy ball; Lessard, Recht & Packard's tuning of
Nesterov), the Jury stability conditions solved by hand, and the engine's paths on
the quadratic surface.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from nndl_lab.experiments import optimize_surface, rates
from nndl_lab.experiments.surfaces import quadratic_surface

RULES = rates.MOMENTUM_RULES


def polynomial(rule, lr, mu, lam):
    """z^2 + c1 z + c0 of the rule, written from the update equations."""
    h = lr * lam
    if rule == "sgd_momentum":  # v' = mu v - h e, e' = e + v'
        return [1.0, -(1.0 + mu - h), mu]
    # engine's Nesterov: e' = e - mu v + (1 + mu) v', v' = mu v - h e
    return [1.0, -(1.0 + mu) * (1.0 - h), mu * (1.0 - h)]


def roots_rate(rule, lr, mu, lam):
    return float(np.abs(np.roots(polynomial(rule, lr, mu, lam))).max())


@pytest.mark.parametrize("rule", RULES)
def test_direction_rate_is_the_largest_root_modulus(rule):
    rng = np.random.default_rng(0)
    for _ in range(300):
        lr, mu, lam = rng.uniform(0, 0.2), rng.uniform(0, 0.999), rng.uniform(0.1, 60)
        got = float(rates.direction_rate(rule, lr, mu, lam))
        assert math.isclose(got, roots_rate(rule, lr, mu, lam), rel_tol=1e-6, abs_tol=1e-7)


@pytest.mark.parametrize("rule", RULES)
def test_momentum_zero_is_sgd(rule):
    lr = np.linspace(0.0, 0.1, 41)
    for lam in (1.0, 7.5, 50.0):
        np.testing.assert_allclose(
            rates.direction_rate(rule, lr, 0.0, lam), np.abs(1 - lr * lam), rtol=1e-12, atol=1e-15
        )
    kappa = 50.0
    best = 2.0 / (1.0 + kappa)
    rate = float(rates.worst_case_rate(rule, best, 0.0, 1.0, kappa))
    assert math.isclose(rate, (kappa - 1) / (kappa + 1), rel_tol=1e-12)


def test_heavy_ball_with_complex_roots_has_rate_sqrt_momentum():
    # 0.02 * 50 = 1 and 0.9: (1 + 0.9 - 1)^2 < 4 * 0.9
    assert math.isclose(
        float(rates.direction_rate("sgd_momentum", 0.02, 0.9, 50.0)), math.sqrt(0.9)
    )
    # Nesterov at h = 1 has the double root 0
    assert float(rates.direction_rate("sgd_nesterov_momentum", 0.02, 0.9, 50.0)) == 0.0


@pytest.mark.parametrize("rule", RULES)
def test_worst_case_is_the_slowest_eigenvalue(rule):
    rng = np.random.default_rng(1)
    for _ in range(40):
        kappa = 10 ** rng.uniform(0, 3)
        lr, mu = rng.uniform(0, 4 / kappa), rng.uniform(0, 0.99)
        dense = max(roots_rate(rule, lr, mu, lam) for lam in np.linspace(1.0, kappa, 400))
        got = float(rates.worst_case_rate(rule, lr, mu, 1.0, kappa))
        # the grid holds both ends, so the maximum over it is the maximum over the interval
        assert math.isclose(got, dense, rel_tol=1e-6, abs_tol=1e-7)


@pytest.mark.parametrize("kappa", [1.0, 4.0, 50.0, 1000.0])
def test_polyak_tuning(kappa):
    best = rates.optimal_parameters("sgd_momentum", 1.0, kappa)
    root = math.sqrt(kappa)
    assert math.isclose(best["momentum"], ((root - 1) / (root + 1)) ** 2, rel_tol=1e-12)
    assert math.isclose(best["learning_rate"], 4 / (1 + root) ** 2, rel_tol=1e-12)
    expected = (root - 1) / (root + 1)
    assert math.isclose(best["rate"], expected, rel_tol=1e-12, abs_tol=1e-15)
    at_best = max(
        roots_rate("sgd_momentum", best["learning_rate"], best["momentum"], lam)
        for lam in (1.0, kappa)
    )
    assert math.isclose(at_best, expected, rel_tol=1e-6, abs_tol=1e-7)


@pytest.mark.parametrize("kappa", [4.0, 50.0, 1000.0])
def test_nesterov_tuning(kappa):
    best = rates.optimal_parameters("sgd_nesterov_momentum", 1.0, kappa)
    q = math.sqrt(3 * kappa + 1)
    assert math.isclose(best["rate"], 1 - 2 / q, rel_tol=1e-12)
    at_best = max(
        roots_rate("sgd_nesterov_momentum", best["learning_rate"], best["momentum"], lam)
        for lam in (1.0, kappa)
    )
    assert math.isclose(at_best, 1 - 2 / q, rel_tol=1e-6)


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("kappa", [10.0, 50.0])
def test_optimum_is_the_minimum_of_the_map(rule, kappa):
    best = rates.optimal_parameters(rule, 1.0, kappa)
    lrs = np.linspace(1e-4, 4.0 / kappa, 801)
    mus = np.linspace(0.0, 0.999, 801)
    grid = rates.rate_map(rule, kappa, lrs, mus)
    assert grid.shape == (801, 801)
    assert grid.min() >= best["rate"] - 1e-9
    assert grid.min() < best["rate"] + 2e-3  # the grid gets close to it
    # and the rate map's orientation: rows are momenta
    assert grid[5, 7] == float(rates.worst_case_rate(rule, lrs[7], mus[5], 1.0, kappa))


def test_heavy_ball_optimum_is_where_both_ends_are_critically_damped():
    kappa = 50.0
    best = rates.optimal_parameters("sgd_momentum", 1.0, kappa)
    for lam in (1.0, kappa):
        critical = float(rates.critical_momentum("sgd_momentum", best["learning_rate"], lam))
        assert math.isclose(critical, best["momentum"], rel_tol=1e-9)


@pytest.mark.parametrize("rule", RULES)
def test_critical_momentum_gives_a_double_root(rule):
    for lr, lam in [(0.01, 1.0), (0.005, 50.0), (0.1, 3.0)]:
        mu = float(rates.critical_momentum(rule, lr, lam))
        c = polynomial(rule, lr, mu, lam)
        assert abs(c[1] ** 2 - 4 * c[2]) < 1e-12
    if rule == "sgd_nesterov_momentum":  # h > 1: real roots of opposite signs, never critical
        assert np.isnan(rates.critical_momentum(rule, 0.05, 50.0))


@pytest.mark.parametrize("mu", [0.0, 0.3, 0.9, 0.99])
def test_stability_limits(mu):
    lam = 50.0
    # heavy ball: eta * lambda_max < 2 (1 + mu)
    limit = float(rates.stability_limit("sgd_momentum", mu, lam))
    assert math.isclose(limit * lam, 2 * (1 + mu), rel_tol=1e-12)
    # Nesterov, found independently: bisect the learning rate where np.roots crosses 1
    lo, hi = 1e-9, 4.0 / lam
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if roots_rate("sgd_nesterov_momentum", mid, mu, lam) < 1 else (lo, mid)
    nesterov = float(rates.stability_limit("sgd_nesterov_momentum", mu, lam))
    assert math.isclose(nesterov, lo, rel_tol=1e-7)
    assert math.isclose(nesterov * lam, 2 * (1 + mu) / (1 + 2 * mu), rel_tol=1e-12)
    for rule, limit_ in (("sgd_momentum", limit), ("sgd_nesterov_momentum", nesterov)):
        assert (
            roots_rate(rule, 0.999 * limit_, mu, lam)
            < 1
            < roots_rate(rule, 1.001 * limit_, mu, lam)
        )
        assert math.isclose(float(rates.direction_rate(rule, limit_, mu, lam)), 1.0, rel_tol=1e-9)


@pytest.mark.parametrize("rule", RULES)
def test_eigen_errors_follow_the_recursion_and_the_rate(rule):
    lr, mu, lams = 0.015, 0.8, np.array([1.0, 7.0, 50.0])
    errors = rates.eigen_errors(rule, lr, mu, lams, 400)
    assert errors.shape == (401, 3)
    np.testing.assert_array_equal(errors[0], 1.0)
    h = lr * lams
    first = 1 - h if rule == "sgd_momentum" else 1 - (1 + mu) * h
    np.testing.assert_allclose(errors[1], first, rtol=1e-14)
    for k, lam in enumerate(lams):
        _, c1, c0 = polynomial(rule, lr, mu, lam)
        e = errors[:, k]
        np.testing.assert_allclose(e[2:], -c1 * e[1:-1] - c0 * e[:-2], rtol=1e-9, atol=1e-15)
        # |e_t| ~ r^t: the t-th root of the envelope tends to the rate
        r = roots_rate(rule, lr, mu, lam)
        envelope = np.abs(e[300:]).max() ** (1 / 300)
        assert abs(envelope - r) < 0.02


@pytest.mark.parametrize("rule", RULES)
def test_eigen_errors_are_the_engine_path_on_the_bowl(rule):
    kappa = 30.0
    run = optimize_surface(
        quadratic_surface(kappa),
        rule,
        {"learning_rate": 0.03, "momentum": 0.7},
        num_steps=60,
    )
    errors = rates.eigen_errors(rule, 0.03, 0.7, [1.0, kappa], 60, start=[-4.0, 1.0])
    np.testing.assert_array_equal(errors, run["path"])


def test_bad_arguments():
    with pytest.raises(ValueError, match="rule must be one of"):
        rates.direction_rate("adam", 0.1, 0.9, 1.0)
    with pytest.raises(ValueError, match="momentum"):
        rates.direction_rate("sgd_momentum", 0.1, 1.0, 1.0)
    with pytest.raises(ValueError, match="learning_rate"):
        rates.worst_case_rate("sgd_momentum", -0.1, 0.5, 1.0, 2.0)
    with pytest.raises(ValueError, match="lambda_max must be >= lambda_min"):
        rates.worst_case_rate("sgd_momentum", 0.1, 0.5, 2.0, 1.0)
    with pytest.raises(ValueError, match="kappa"):
        rates.rate_map("sgd_momentum", 0.5, [0.1], [0.5])
    with pytest.raises(TypeError, match="learning_rate"):
        rates.direction_rate("sgd_momentum", "fast", 0.5, 1.0)
    with pytest.raises(ValueError, match="num_steps"):
        rates.eigen_errors("sgd_momentum", 0.1, 0.5, [1.0], 0)
    with pytest.raises(ValueError, match="start"):
        rates.eigen_errors("sgd_momentum", 0.1, 0.5, [1.0, 2.0], 3, start=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="lambda_min"):
        rates.optimal_parameters("sgd_momentum", 0.0, 2.0)
