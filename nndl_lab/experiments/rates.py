r"""How fast momentum converges on a quadratic: rates, stability limits, the optimum.

On a quadratic :math:`\tfrac12 w^\top H w` every eigen-direction of :math:`H`
with curvature (eigenvalue) :math:`\lambda` evolves on its own. With
:math:`h = \eta\lambda`, the error :math:`e_t` along it obeys a two-term
recursion :math:`e_{t+1} = B e_t - C e_{t-1}` whose characteristic polynomial is

.. math::
    z^2 - B z + C, \qquad
    \begin{aligned}
    \text{heavy ball:}\quad & B = 1 + \mu - h, & C &= \mu, \\
    \text{Nesterov:}\quad & B = (1 + \mu)(1 - h), & C &= \mu (1 - h),
    \end{aligned}

and the error shrinks like :math:`r^t`, :math:`r` the largest root modulus (the
*rate*). Momentum :math:`\mu = 0` is plain SGD, whose rate is :math:`|1 - h|`.

The functions take arrays and broadcast, so a whole (learning rate, momentum)
plane is one call (:func:`rate_map`); the page's widget
(:mod:`widgets.paths`) computes the same map with the same arithmetic in
JavaScript, and a browser test holds the two together. :func:`eigen_errors` runs
the engine's own update rule (``nndl_lab.optim.inplace_step``) on a diagonal
quadratic, so the error per eigen-direction is what the rule does, not a second
implementation of it.

Book: chapter 2 (the heavy ball's rate, its optimal tuning and the convergence
map), chapter 3 (Nesterov's rate and its smaller stability limit).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .. import optim
from . import _checks

__all__ = [
    "MOMENTUM_RULES",
    "characteristic_coefficients",
    "direction_rate",
    "worst_case_rate",
    "stability_limit",
    "critical_momentum",
    "optimal_parameters",
    "rate_map",
    "eigen_errors",
]

#: The rules whose rate on a quadratic this module computes (SGD is momentum 0).
MOMENTUM_RULES = ("sgd_momentum", "sgd_nesterov_momentum")


def _rule(rule):
    if rule not in MOMENTUM_RULES:
        raise ValueError(
            f"rule must be one of {list(MOMENTUM_RULES)} (SGD is momentum=0), got {rule!r}"
        )
    return rule


def _array(name, value, low=None, high=None, high_open=False, low_open=False):
    """``value`` as a float64 array, or a ValueError/TypeError naming ``name``."""
    if isinstance(value, bool) or (not isinstance(value, numbers.Real | np.ndarray | list | tuple)):
        raise TypeError(f"{name} must be a number or an array of numbers, got {value!r}")
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number or an array of numbers, got {value!r}") from None
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    bad_low = low is not None and np.any(array <= low if low_open else array < low)
    bad_high = high is not None and np.any(array >= high if high_open else array > high)
    if bad_low or bad_high:
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        raise ValueError(
            f"{name} must lie in {lo}{'-inf' if low is None else low}, "
            f"{'inf' if high is None else high}{hi}, got {value!r}"
        )
    return array


def _curvatures(lambda_min, lambda_max):
    lambda_min = _array("lambda_min", lambda_min, low=0.0, low_open=True)
    lambda_max = _array("lambda_max", lambda_max, low=0.0, low_open=True)
    if np.any(lambda_max < lambda_min):
        raise ValueError(
            f"lambda_max must be >= lambda_min, got lambda_min={lambda_min!r}, "
            f"lambda_max={lambda_max!r}"
        )
    return lambda_min, lambda_max


def characteristic_coefficients(rule, learning_rate, momentum, curvature):
    r"""Coefficients :math:`(B, C)` of the characteristic polynomial :math:`z^2 - Bz + C`.

    Along an eigen-direction of curvature :math:`\lambda`, with :math:`h = \eta\lambda`:
    heavy ball :math:`B = 1 + \mu - h,\ C = \mu`; Nesterov (the engine's form)
    :math:`B = (1 + \mu)(1 - h),\ C = \mu(1 - h)`.

    Book: chapters 2 and 3.

    Parameters
    ----------
    rule : {"sgd_momentum", "sgd_nesterov_momentum"}
    learning_rate : float or ndarray
        :math:`\eta \ge 0`.
    momentum : float or ndarray
        :math:`\mu \in [0, 1)`.
    curvature : float or ndarray
        :math:`\lambda` (any real number: a negative one is a direction of a saddle).

    Returns
    -------
    B, C : ndarray
        Broadcast to the common shape of the arguments.
    """
    rule = _rule(rule)
    learning_rate = _array("learning_rate", learning_rate, low=0.0)
    momentum = _array("momentum", momentum, low=0.0, high=1.0, high_open=True)
    curvature = _array("curvature", curvature)
    return _coefficients(rule, learning_rate, momentum, curvature)


def _coefficients(rule, learning_rate, momentum, curvature):
    h = learning_rate * curvature
    if rule == "sgd_momentum":
        return 1.0 + momentum - h, momentum + 0.0 * h
    one_minus_h = 1.0 - h
    return (1.0 + momentum) * one_minus_h, momentum * one_minus_h


def _largest_root_modulus(b, c):
    # z^2 - b z + c: complex roots (disc < 0) have |z| = sqrt(c); real roots
    # (|b| + sqrt(disc)) / 2 is the larger modulus.  The page's JavaScript does
    # exactly these operations in this order.
    disc = b * b - 4.0 * c
    with np.errstate(invalid="ignore"):
        real = (np.abs(b) + np.sqrt(disc)) * 0.5
        complex_ = np.sqrt(c)
    return np.where(disc < 0.0, complex_, real)


def direction_rate(rule, learning_rate, momentum, curvature):
    r"""The convergence rate along one eigen-direction: the largest root modulus.

    The error along a direction of curvature :math:`\lambda` shrinks like
    :math:`r^t` with :math:`r` the largest modulus of the roots of
    :math:`z^2 - Bz + C` (:func:`characteristic_coefficients`); :math:`r \ge 1`
    means it does not converge. With momentum 0 both rules are SGD and
    :math:`r = |1 - \eta\lambda|`; for the heavy ball with complex roots
    :math:`r = \sqrt{\mu}`.

    Book: chapter 2 (heavy ball), chapter 3 (Nesterov).

    Parameters
    ----------
    rule : {"sgd_momentum", "sgd_nesterov_momentum"}
    learning_rate, momentum, curvature : float or ndarray
        As in :func:`characteristic_coefficients`; they broadcast.

    Returns
    -------
    ndarray
        The rate, of the broadcast shape (a 0-d array for scalars).
    """
    b, c = characteristic_coefficients(rule, learning_rate, momentum, curvature)
    return _largest_root_modulus(b, c)


def worst_case_rate(rule, learning_rate, momentum, lambda_min, lambda_max):
    r"""The rate on a quadratic with eigenvalues in :math:`[\lambda_{min}, \lambda_{max}]`.

    The slowest eigen-direction decides: :math:`\max_\lambda r(\lambda)`. The rate
    as a function of :math:`h = \eta\lambda` first falls and then rises (for the
    heavy ball it is :math:`\sqrt\mu` between the two critical-damping points),
    so the maximum over an interval is at one of its ends:
    :math:`\max(r(\lambda_{min}), r(\lambda_{max}))`. This is the value of one
    cell of the convergence map.

    Book: chapter 2 (the convergence map of the heavy ball), chapter 3 (Nesterov).

    Parameters
    ----------
    rule : {"sgd_momentum", "sgd_nesterov_momentum"}
    learning_rate, momentum : float or ndarray
    lambda_min, lambda_max : float or ndarray
        The smallest and largest eigenvalue, :math:`0 < \lambda_{min} \le \lambda_{max}`.

    Returns
    -------
    ndarray
        The worst-case rate, of the broadcast shape.
    """
    rule = _rule(rule)
    learning_rate = _array("learning_rate", learning_rate, low=0.0)
    momentum = _array("momentum", momentum, low=0.0, high=1.0, high_open=True)
    lambda_min, lambda_max = _curvatures(lambda_min, lambda_max)
    low = _largest_root_modulus(*_coefficients(rule, learning_rate, momentum, lambda_min))
    high = _largest_root_modulus(*_coefficients(rule, learning_rate, momentum, lambda_max))
    return np.maximum(low, high)


def stability_limit(rule, momentum, lambda_max):
    r"""The largest stable learning rate: above it the steepest direction diverges.

    Both roots of :math:`z^2 - Bz + C` lie inside the unit circle iff
    :math:`|C| < 1` and :math:`1 \pm B + C > 0` (the Jury conditions). For
    :math:`\mu \in [0, 1)` this gives :math:`0 < \eta\lambda_{max} < 2(1 + \mu)`
    for the heavy ball and
    :math:`0 < \eta\lambda_{max} < 2(1 + \mu)/(1 + 2\mu)` for Nesterov; at
    :math:`\mu = 0` both are SGD's :math:`2/\lambda_{max}`.

    Book: chapter 2 (heavy ball), chapter 3 (Nesterov's smaller limit).

    Parameters
    ----------
    rule : {"sgd_momentum", "sgd_nesterov_momentum"}
    momentum : float or ndarray
        :math:`\mu \in [0, 1)`.
    lambda_max : float or ndarray
        The largest eigenvalue, > 0.

    Returns
    -------
    ndarray
        The limit on the learning rate (the rate is exactly 1 there).
    """
    rule = _rule(rule)
    momentum = _array("momentum", momentum, low=0.0, high=1.0, high_open=True)
    lambda_max = _array("lambda_max", lambda_max, low=0.0, low_open=True)
    if rule == "sgd_momentum":
        return 2.0 * (1.0 + momentum) / lambda_max
    return 2.0 * (1.0 + momentum) / ((1.0 + 2.0 * momentum) * lambda_max)


def critical_momentum(rule, learning_rate, curvature):
    r"""The momentum at which the roots along a direction turn complex (critical damping).

    Below it the direction creeps (two real roots), above it it oscillates
    (complex roots). Setting the discriminant :math:`B^2 - 4C` to zero: heavy ball
    :math:`\mu = (1 - \sqrt{h})^2` for :math:`h = \eta\lambda \le 1`, else
    :math:`(\sqrt h - 1)^2` as long as that is below 1; Nesterov
    :math:`\mu = (1 - \sqrt{h})/(1 + \sqrt{h})` for :math:`h < 1`, from
    :math:`(1 + \mu)^2 (1 - h) = 4\mu`. Where no momentum in [0, 1) is
    critical the result is NaN.

    Book: chapter 2 (the critical-damping lines of the convergence map).

    Parameters
    ----------
    rule : {"sgd_momentum", "sgd_nesterov_momentum"}
    learning_rate : float or ndarray
    curvature : float or ndarray
        :math:`\lambda > 0`.

    Returns
    -------
    ndarray
        The critical momentum (NaN where there is none in [0, 1)).
    """
    rule = _rule(rule)
    learning_rate = _array("learning_rate", learning_rate, low=0.0)
    curvature = _array("curvature", curvature, low=0.0, low_open=True)
    root_h = np.sqrt(learning_rate * curvature)
    if rule == "sgd_momentum":
        mu = (1.0 - root_h) * (1.0 - root_h)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            mu = np.where(root_h < 1.0, (1.0 - root_h) / (1.0 + root_h), np.nan)
    return np.where(mu < 1.0, mu, np.nan)


def optimal_parameters(rule, lambda_min, lambda_max):
    r"""The (learning rate, momentum) with the smallest worst-case rate, and that rate.

    With :math:`\kappa = \lambda_{max}/\lambda_{min}`:

    - heavy ball (Polyak): :math:`\eta^* = 4/(\sqrt{\lambda_{max}} + \sqrt{\lambda_{min}})^2`,
      :math:`\mu^* = \left(\frac{\sqrt\kappa - 1}{\sqrt\kappa + 1}\right)^2`, rate
      :math:`\frac{\sqrt\kappa - 1}{\sqrt\kappa + 1}` (both end directions exactly
      critically damped);
    - Nesterov (Lessard, Recht & Packard, 2016):
      :math:`\eta^* = 4/(3\lambda_{max} + \lambda_{min})`,
      :math:`\mu^* = \frac{\sqrt{3\kappa + 1} - 2}{\sqrt{3\kappa + 1} + 2}`, rate
      :math:`1 - 2/\sqrt{3\kappa + 1}`.

    Plain SGD's best is :math:`\eta = 2/(\lambda_{min} + \lambda_{max})` with rate
    :math:`(\kappa - 1)/(\kappa + 1)`.

    Book: chapter 2 (the tuned heavy ball), chapter 3 (tuned Nesterov).

    Parameters
    ----------
    rule : {"sgd_momentum", "sgd_nesterov_momentum"}
    lambda_min, lambda_max : float
        :math:`0 < \lambda_{min} \le \lambda_{max}`.

    Returns
    -------
    dict
        ``"learning_rate"``, ``"momentum"``, ``"rate"`` (floats).
    """
    rule = _rule(rule)
    for name, value in (("lambda_min", lambda_min), ("lambda_max", lambda_max)):
        if not _checks.is_real(value) or not math.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    if lambda_max < lambda_min:
        raise ValueError(
            f"lambda_max must be >= lambda_min, got lambda_min={lambda_min!r}, "
            f"lambda_max={lambda_max!r}"
        )
    kappa = lambda_max / lambda_min
    if rule == "sgd_momentum":
        root = math.sqrt(kappa)
        rate = (root - 1.0) / (root + 1.0)
        root_sum = math.sqrt(lambda_max) + math.sqrt(lambda_min)
        learning_rate = 4.0 / (root_sum * root_sum)
        return {"learning_rate": learning_rate, "momentum": rate * rate, "rate": rate}
    q = math.sqrt(3.0 * kappa + 1.0)
    return {
        "learning_rate": 4.0 / (3.0 * lambda_max + lambda_min),
        "momentum": (q - 2.0) / (q + 2.0),
        "rate": 1.0 - 2.0 / q,
    }


def rate_map(rule, kappa, learning_rates, momenta, *, lambda_min=1.0):
    r"""The worst-case rate over a (learning rate, momentum) grid: the convergence map.

    The quadratic has eigenvalues in :math:`[\lambda_{min}, \kappa\lambda_{min}]`.
    Cell ``[i, j]`` is :func:`worst_case_rate` at ``momenta[i]``,
    ``learning_rates[j]`` (rows are momenta, as the map is drawn: momentum up,
    learning rate across).

    Book: chapter 2 (the convergence map), chapter 3 (Nesterov's map).

    Parameters
    ----------
    rule : {"sgd_momentum", "sgd_nesterov_momentum"}
    kappa : float
        The condition number, >= 1.
    learning_rates : array_like, shape (L,)
    momenta : array_like, shape (M,)
        Each in [0, 1).
    lambda_min : float, default 1.0

    Returns
    -------
    ndarray, shape (M, L)
    """
    rule = _rule(rule)
    if not _checks.is_real(kappa) or not math.isfinite(kappa) or kappa < 1:
        raise ValueError(f"kappa must be a finite number >= 1, got {kappa!r}")
    lambda_min = _checks.positive_real("lambda_min", lambda_min)
    learning_rates = _array("learning_rates", learning_rates, low=0.0)
    momenta = _array("momenta", momenta, low=0.0, high=1.0, high_open=True)
    if learning_rates.ndim != 1 or momenta.ndim != 1:
        raise ValueError(
            "learning_rates and momenta must be 1-D, got shapes "
            f"{learning_rates.shape} and {momenta.shape}"
        )
    return worst_case_rate(
        rule, learning_rates[None, :], momenta[:, None], lambda_min, kappa * lambda_min
    )


def eigen_errors(rule, learning_rate, momentum, curvatures, num_steps, *, start=1.0):
    r"""The error along each eigen-direction over the steps of a momentum rule.

    Runs the engine's in-place step (``nndl_lab.optim.inplace_step``) on the
    diagonal quadratic :math:`\tfrac12 \sum_k \lambda_k w_k^2`, whose coordinates
    are its eigen-directions, from :math:`w_0 =` ``start`` and zero velocity; the
    minimum is 0, so :math:`w_t` is the error. Distill's "Why Momentum Really
    Works" draws this decomposition; each column satisfies
    :math:`e_{t+1} = B e_t - C e_{t-1}` (:func:`characteristic_coefficients`)
    and shrinks like :func:`direction_rate` to the power :math:`t`.

    Book: chapter 2 (the error per eigen-direction), chapter 3.

    Parameters
    ----------
    rule : {"sgd_momentum", "sgd_nesterov_momentum"}
    learning_rate : float
        >= 0.
    momentum : float
        In [0, 1).
    curvatures : array_like, shape (K,)
        The eigenvalues :math:`\lambda_k` (finite; negative ones are allowed).
    num_steps : int
        >= 1.
    start : float or array_like of shape (K,), default 1.0
        The initial error along each direction.

    Returns
    -------
    ndarray, shape (num_steps + 1, K)
        Row ``t`` is the error after ``t`` steps (row 0 is ``start``); entries past
        an overflow are inf or NaN.
    """
    rule = _rule(rule)
    for name, value in (("learning_rate", learning_rate), ("momentum", momentum)):
        if not _checks.is_real(value) or not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
    curvatures = _array("curvatures", curvatures)
    if curvatures.ndim != 1 or curvatures.size == 0:
        raise ValueError(f"curvatures must be a non-empty 1-D array, got shape {curvatures.shape}")
    num_steps = _checks.positive_int("num_steps", num_steps)
    start = _array("start", start)
    if start.ndim > 1 or (start.ndim == 1 and start.shape != curvatures.shape):
        raise ValueError(
            f"start must be a number or have the shape {curvatures.shape} of curvatures, "
            f"got shape {start.shape}"
        )
    config = {"learning_rate": float(learning_rate), "momentum": float(momentum)}
    w = np.broadcast_to(start, curvatures.shape).astype(np.float64)  # a copy
    config = optim.prepare_config(rule, config, w)
    step = optim.inplace_step(rule)
    errors = np.empty((num_steps + 1, curvatures.size))
    errors[0] = w
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(1, num_steps + 1):
            step(w, curvatures * w, config)
            errors[t] = w
    return errors
