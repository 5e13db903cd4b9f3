"""The page's surfaces, the seeded gradient noise and surface_paths, against formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nndl_lab.experiments import SURFACES, optimize_surface
from nndl_lab.experiments.surfaces import (
    PAGE_SURFACES,
    PATH_RULES,
    gradient_noise,
    make_surface,
    path_configs,
    quadratic_surface,
    surface_paths,
)


def lowbias32(x: int) -> int:
    """Chris Wellons' lowbias32, on Python ints (the reference for the numpy version)."""
    x &= 0xFFFFFFFF
    x ^= x >> 16
    x = (x * 0x7FEB352D) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 0x846CA68B) & 0xFFFFFFFF
    x ^= x >> 16
    return x


def test_gradient_noise_is_the_documented_hash_and_sum():
    seed, steps = 12345, 4
    key = lowbias32(seed)
    expected = np.empty((steps, 2))
    for t in range(steps):
        for d in range(2):
            total = 0.0
            for k in range(12):
                i = 24 * t + 12 * d + k
                h = lowbias32((i * 0x9E3779B9 + key) & 0xFFFFFFFF)
                total += (h + 0.5) / 2**32
            expected[t, d] = total - 6.0
    np.testing.assert_array_equal(gradient_noise(seed, steps), expected)


def test_gradient_noise_statistics_and_prefix():
    xi = gradient_noise(7, 50_000)
    assert xi.shape == (50_000, 2)
    assert np.all(np.abs(xi) < 6)
    assert np.all(np.abs(xi.mean(axis=0)) < 0.02)
    assert np.all(np.abs(xi.var(axis=0) - 1.0) < 0.03)  # Irwin-Hall(12) - 6 has variance 1
    assert abs(np.corrcoef(xi[:, 0], xi[:, 1])[0, 1]) < 0.02
    assert abs(np.corrcoef(xi[:-1, 0], xi[1:, 0])[0, 1]) < 0.02
    np.testing.assert_array_equal(gradient_noise(7, 10), xi[:10])
    assert not np.array_equal(gradient_noise(8, 10), xi[:10])


def numerical_gradient(f, w, h=1e-6):
    return np.array([(f(w + h * e) - f(w - h * e)) / (2 * h) for e in np.eye(2)])


@pytest.mark.parametrize("name", PAGE_SURFACES)
@pytest.mark.parametrize("kappa", [1.0, 17.5, 50.0])
def test_page_surfaces_gradients(name, kappa):
    surface = make_surface(name, kappa)
    for point in [(-1.5, 2.0), (0.3, -0.7), (1.0, 1.0), (2.0, 0.5)]:
        w = np.array(point)
        np.testing.assert_allclose(
            surface.grad(w), numerical_gradient(surface.f, w), rtol=1e-6, atol=1e-5
        )
    assert surface.f(surface.minimum) == 0.0
    np.testing.assert_array_equal(surface.grad(surface.minimum), [0.0, 0.0])
    assert surface.xlim[0] < surface.start[0] < surface.xlim[1]
    assert surface.ylim[0] < surface.start[1] < surface.ylim[1]


def test_quadratic_50_is_the_chapters_bowl_bit_for_bit():
    ours, theirs = quadratic_surface(50.0), SURFACES["quadratic"]
    for rule, config in path_configs(learning_rate=0.031, momentum=0.85).items():
        a = optimize_surface(ours, rule, config, num_steps=80)
        b = optimize_surface(theirs, rule, config, num_steps=80)
        np.testing.assert_array_equal(a["path"], b["path"])
        np.testing.assert_array_equal(a["loss"], b["loss"])


def test_rotated_bowl_is_the_bowl_in_rotated_coordinates():
    kappa = 20.0
    c = math.sqrt(0.5)
    rotation = np.array([[c, -c], [c, c]])
    hessian = rotation @ np.diag([1.0, kappa]) @ rotation.T
    rotated, bowl = quadratic_surface(kappa, rotated=True), quadratic_surface(kappa)
    np.testing.assert_allclose(rotated.start, rotation @ bowl.start, rtol=1e-15)
    w = np.array([0.3, -1.1])
    np.testing.assert_allclose(rotated.grad(w), hessian @ w, rtol=1e-14)
    assert math.isclose(rotated.f(rotated.start), bowl.f(bowl.start), rel_tol=1e-14)
    # SGD is rotation-invariant: the rotated path is the rotated axis-aligned path
    a = optimize_surface(rotated, "sgd", {"learning_rate": 0.05}, num_steps=50)["path"]
    b = optimize_surface(bowl, "sgd", {"learning_rate": 0.05}, num_steps=50)["path"]
    np.testing.assert_allclose(a, b @ rotation.T, rtol=1e-9, atol=1e-12)


def test_saddle_traps_full_batch_descent_and_noise_frees_it():
    saddle = make_surface("saddle")
    assert saddle.f(np.zeros(2)) == 0.25
    np.testing.assert_array_equal(saddle.grad(np.zeros(2)), [0.0, 0.0])
    # the Hessian at the saddle is diag(1, -1)
    np.testing.assert_allclose(
        numerical_gradient(lambda w: saddle.grad(w)[0], np.zeros(2)), [1, 0], atol=1e-8
    )
    np.testing.assert_allclose(
        numerical_gradient(lambda w: saddle.grad(w)[1], np.zeros(2)), [0, -1], atol=1e-8
    )
    stuck = optimize_surface(saddle, "sgd", {"learning_rate": 0.1}, num_steps=300)
    assert np.all(stuck["path"][:, 1] == 0.0)
    assert abs(stuck["path"][-1, 0]) < 1e-12
    free = optimize_surface(saddle, "sgd", {"learning_rate": 0.1}, num_steps=300, noise=0.5)
    assert abs(abs(free["path"][-1, 1]) - 1.0) < 0.2


def test_noisy_sgd_is_sgd_on_the_noisy_gradient():
    surface = make_surface("rosenbrock")
    lr, sigma, seed, steps = 1e-3, 3.0, 99, 40
    xi = gradient_noise(seed, steps)
    w = surface.start.copy()
    expected = [w.copy()]
    for t in range(steps):
        w = w - lr * (surface.grad(w) + sigma * xi[t])
        expected.append(w.copy())
    run = optimize_surface(
        surface, "sgd", {"learning_rate": lr}, num_steps=steps, noise=sigma, seed=seed
    )
    np.testing.assert_allclose(run["path"], np.array(expected), rtol=1e-13, atol=1e-15)
    plain = optimize_surface(surface, "sgd", {"learning_rate": lr}, num_steps=steps)
    zero = optimize_surface(
        surface, "sgd", {"learning_rate": lr}, num_steps=steps, noise=0.0, seed=seed
    )
    np.testing.assert_array_equal(plain["path"], zero["path"])


def test_surface_paths_gives_each_rule_its_settings():
    runs = surface_paths(
        "quadratic",
        kappa=10.0,
        learning_rate=0.05,
        momentum=0.6,
        adaptive_learning_rate=0.2,
        decay_rate=0.9,
        beta1=0.8,
        beta2=0.99,
        epsilon=1e-6,
        num_steps=30,
        noise=0.1,
        seed=5,
        start=[1.0, -1.0],
    )
    assert list(runs) == list(PATH_RULES)
    bowl = quadratic_surface(10.0)
    configs = {
        "sgd": {"learning_rate": 0.05},
        "sgd_momentum": {"learning_rate": 0.05, "momentum": 0.6},
        "sgd_nesterov_momentum": {"learning_rate": 0.05, "momentum": 0.6},
        "rmsprop": {"learning_rate": 0.2, "decay_rate": 0.9, "epsilon": 1e-6},
        "adam": {"learning_rate": 0.2, "beta1": 0.8, "beta2": 0.99, "epsilon": 1e-6},
    }
    for rule, config in configs.items():
        expected = optimize_surface(
            bowl, rule, config, start=[1.0, -1.0], num_steps=30, noise=0.1, seed=5
        )
        np.testing.assert_array_equal(runs[rule]["path"], expected["path"])
        np.testing.assert_array_equal(runs[rule]["path"][0], [1.0, -1.0])


def test_divergence_is_reported():
    runs = surface_paths("quadratic", learning_rate=0.5, num_steps=400, rules=["sgd"])
    at = runs["sgd"]["diverged_at"]
    assert at is not None and np.all(np.isnan(runs["sgd"]["path"][at:]))
    assert np.all(np.isfinite(runs["sgd"]["path"][:at]))


def test_bad_arguments():
    with pytest.raises(ValueError, match="surface must be one of"):
        make_surface("bowl")
    with pytest.raises(ValueError, match="kappa"):
        make_surface("quadratic", 0.5)
    with pytest.raises(ValueError, match="seed"):
        gradient_noise(-1, 3)
    with pytest.raises(ValueError, match="seed"):
        gradient_noise(2**32, 3)
    with pytest.raises(ValueError, match="noise"):
        optimize_surface("quadratic", "sgd", noise=-1.0)
    with pytest.raises(ValueError, match="momentum"):
        surface_paths(momentum=1.5)
    with pytest.raises(ValueError, match="rules"):
        surface_paths(rules=["newton"])
    with pytest.raises(ValueError, match="start"):
        surface_paths(start=[1.0, np.nan])
