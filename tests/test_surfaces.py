"""Tests of the 2-D surfaces and optimize_surface, against closed forms and numerics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nndl_lab.experiments import QUADRATIC_A, QUADRATIC_B, SURFACES, Surface, optimize_surface


def _numerical_gradient(f, w, h=1e-6):
    grad = np.zeros(2)
    for i in range(2):
        step = np.zeros(2)
        step[i] = h
        grad[i] = (f(w + step) - f(w - step)) / (2 * h)
    return grad


@pytest.mark.parametrize("name", ["quadratic", "rosenbrock"])
@pytest.mark.parametrize("point", [(-1.5, 2.0), (0.3, -0.7), (1.0, 1.0), (2.0, 0.5)])
def test_gradient_matches_numerical_gradient(name, point):
    surface = SURFACES[name]
    w = np.array(point)
    np.testing.assert_allclose(
        surface.grad(w), _numerical_gradient(surface.f, w), rtol=1e-6, atol=1e-5
    )


def test_surfaces_definitions():
    quad, rosen = SURFACES["quadratic"], SURFACES["rosenbrock"]
    assert QUADRATIC_B / QUADRATIC_A == 50  # the condition number the book states
    assert quad.f(np.array([2.0, 1.0])) == 0.5 * (QUADRATIC_A * 4 + QUADRATIC_B)
    assert rosen.f(np.array([0.0, 0.0])) == 1.0
    assert rosen.f(np.array([-1.0, 2.0])) == 4.0 + 100.0
    for surface in (quad, rosen):
        assert isinstance(surface, Surface)
        assert surface.f(surface.minimum) == 0.0
        np.testing.assert_array_equal(surface.grad(surface.minimum), [0.0, 0.0])
        for point in (surface.start, surface.minimum):
            assert surface.xlim[0] < point[0] < surface.xlim[1]
            assert surface.ylim[0] < point[1] < surface.ylim[1]
    # f accepts a grid (..., 2) for contour plots
    grid = np.stack(np.meshgrid(np.linspace(-1, 1, 4), np.linspace(0, 2, 3)), axis=-1)
    assert rosen.f(grid).shape == (3, 4)


def test_sgd_on_quadratic_follows_the_closed_form():
    lr, steps = 0.03, 40
    start = np.array([-4.0, 1.0])
    result = optimize_surface("quadratic", "sgd", {"learning_rate": lr}, num_steps=steps)
    t = np.arange(steps + 1)
    expected = np.stack(
        [start[0] * (1 - lr * QUADRATIC_A) ** t, start[1] * (1 - lr * QUADRATIC_B) ** t], axis=1
    )
    np.testing.assert_allclose(result["path"], expected, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(
        result["loss"],
        0.5 * (QUADRATIC_A * expected[:, 0] ** 2 + QUADRATIC_B * expected[:, 1] ** 2),
    )
    assert result["diverged_at"] is None
    assert result["path"].shape == (steps + 1, 2) and result["loss"].shape == (steps + 1,)


def test_momentum_on_quadratic_follows_its_linear_recurrence():
    # Per coordinate with curvature c: v' = mu v - lr c w, w' = w + v'  -- a 2x2 linear map.
    lr, mu, steps = 0.01, 0.9, 60
    result = optimize_surface(
        "quadratic", "sgd_momentum", {"learning_rate": lr, "momentum": mu}, num_steps=steps
    )
    for coord, c in enumerate((QUADRATIC_A, QUADRATIC_B)):
        M = np.array([[1 - lr * c, mu], [-lr * c, mu]])  # (w, v) -> (w', v')
        state = np.array([SURFACES["quadratic"].start[coord], 0.0])
        expected = [state[0]]
        for _ in range(steps):
            state = M @ state
            expected.append(state[0])
        np.testing.assert_allclose(result["path"][:, coord], expected, rtol=1e-10, atol=1e-14)


def test_momentum_beats_sgd_on_the_ill_conditioned_bowl():
    sgd = optimize_surface("quadratic", "sgd", {"learning_rate": 0.01})
    momentum = optimize_surface("quadratic", "sgd_momentum", {"learning_rate": 0.01})
    nesterov = optimize_surface("quadratic", "sgd_nesterov_momentum", {"learning_rate": 0.01})
    # SGD after 100 steps: x = -4 * 0.99^100 dominates the loss
    assert sgd["loss"][-1] == pytest.approx(0.5 * (4 * 0.99**100) ** 2, rel=1e-9)
    assert momentum["loss"][-1] < sgd["loss"][-1] / 10
    assert nesterov["loss"][-1] < sgd["loss"][-1] / 10


def test_adam_first_step_moves_every_coordinate_by_the_learning_rate():
    # Adam's first step is lr * g / (|g| + eps) per coordinate: -lr * sign(g)
    result = optimize_surface("rosenbrock", "adam", {"learning_rate": 0.05}, num_steps=1)
    grad = SURFACES["rosenbrock"].grad(SURFACES["rosenbrock"].start)
    np.testing.assert_allclose(
        result["path"][1] - result["path"][0], -0.05 * np.sign(grad), rtol=1e-6
    )


def test_divergence_is_detected_and_the_path_padded():
    # sgd with lr * b = 5: y_t = (-4)^t; the loss overflows first
    lr = 0.1
    result = optimize_surface("quadratic", "sgd", {"learning_rate": lr}, num_steps=600)
    expected = None
    for t in range(601):
        x = -4.0 * (1 - lr * QUADRATIC_A) ** t
        y = 1.0 * (1 - lr * QUADRATIC_B) ** t
        with np.errstate(over="ignore"):
            loss = 0.5 * (QUADRATIC_A * np.float64(x) ** 2 + QUADRATIC_B * np.float64(y) ** 2)
        if not math.isfinite(loss):
            expected = t
            break
    assert expected is not None
    assert result["diverged_at"] == expected
    assert np.all(np.isnan(result["path"][expected:]))
    assert np.all(np.isfinite(result["path"][:expected]))
    assert np.all(np.isfinite(result["loss"][:expected]))


def test_start_and_config_are_not_modified():
    config = {"learning_rate": 0.01}
    start = np.array([0.5, 0.5])
    result = optimize_surface("rosenbrock", "sgd_momentum", config, start=start, num_steps=5)
    assert config == {"learning_rate": 0.01}
    np.testing.assert_array_equal(start, [0.5, 0.5])
    np.testing.assert_array_equal(result["path"][0], start)
    custom = Surface(
        "flat",
        lambda w: 0.0 * w[..., 0],
        lambda w: np.zeros(2),
        start,
        start,
        (0, 1),
        (0, 1),
        "flat",
    )
    flat = optimize_surface(custom, "adam", num_steps=3)
    np.testing.assert_array_equal(flat["path"], np.tile(start, (4, 1)))


def test_bad_input():
    with pytest.raises(ValueError, match=r"unknown surface 'bowl'.*quadratic.*rosenbrock"):
        optimize_surface("bowl", "sgd")
    with pytest.raises(ValueError, match=r"adagrad.*sgd_momentum"):
        optimize_surface("quadratic", "adagrad")
    with pytest.raises(ValueError, match="num_steps"):
        optimize_surface("quadratic", "sgd", num_steps=0)
    with pytest.raises(ValueError, match="start"):
        optimize_surface("quadratic", "sgd", start=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="momentum"):
        optimize_surface("quadratic", "sgd_momentum", {"momentum": 1.5})
