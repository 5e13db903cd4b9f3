r"""Two-dimensional test surfaces, and the update rules' paths on them.

The update rules of :mod:`nndl_lab.optim` work on arrays of any shape, so a
2-vector is a "net" with two weights whose loss can be drawn as contours.
:func:`optimize_surface` calls the very step functions the Solver uses
(:func:`nndl_lab.optim.inplace_step`), so a path drawn here is exactly what
the rule does; there is no second implementation of any rule.

Book: chapter 2 (SGD & momentum on the ill-conditioned bowl), chapter 3
(Nesterov), chapter 4 (RMSProp), chapter 5 (Adam on the Rosenbrock valley).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from .. import optim
from . import _checks

__all__ = ["Surface", "SURFACES", "QUADRATIC_A", "QUADRATIC_B", "optimize_surface"]

#: Curvatures of the quadratic bowl along x and y; the condition number is B / A = 50.
QUADRATIC_A = 1.0
QUADRATIC_B = 50.0


class Surface(NamedTuple):
    r"""A 2-D loss surface.

    Book: chapters 2–5 (the optimizer paths).

    Attributes
    ----------
    name : str
    f : callable
        ``f(w)`` for ``w`` of shape (2,) or (..., 2) (a grid), the loss.
    grad : callable
        ``grad(w)`` for ``w`` of shape (2,): the gradient, shape (2,).
    start : ndarray, shape (2,)
        A default starting point.
    minimum : ndarray, shape (2,)
        Where the minimum is (the loss there is 0).
    xlim, ylim : tuple of float
        A suggested plot window containing ``start`` and ``minimum``.
    description : str
        One line for a legend or a caption.
    """

    name: str
    f: Callable
    grad: Callable
    start: np.ndarray
    minimum: np.ndarray
    xlim: tuple
    ylim: tuple
    description: str


def _quadratic_f(w):
    w = np.asarray(w, dtype=float)
    return 0.5 * (QUADRATIC_A * w[..., 0] ** 2 + QUADRATIC_B * w[..., 1] ** 2)


def _quadratic_grad(w):
    w = np.asarray(w, dtype=float)
    return np.array([QUADRATIC_A * w[0], QUADRATIC_B * w[1]])


def _rosenbrock_f(w):
    w = np.asarray(w, dtype=float)
    x, y = w[..., 0], w[..., 1]
    return (1.0 - x) ** 2 + 100.0 * (y - x**2) ** 2


def _rosenbrock_grad(w):
    w = np.asarray(w, dtype=float)
    x, y = w[0], w[1]
    return np.array([-2.0 * (1.0 - x) - 400.0 * x * (y - x**2), 200.0 * (y - x**2)])


#: The surfaces by name. ``"quadratic"``: the ill-conditioned bowl
#: :math:`\tfrac12(a x^2 + b y^2)` with :math:`a = 1, b = 50` (condition number
#: 50: plain SGD must keep its step below :math:`2/b = 0.04` and then crawls
#: along x). ``"rosenbrock"``: :math:`(1-x)^2 + 100(y-x^2)^2`, a curved, flat
#: valley with its minimum at (1, 1).
SURFACES = {
    "quadratic": Surface(
        name="quadratic",
        f=_quadratic_f,
        grad=_quadratic_grad,
        start=np.array([-4.0, 1.0]),
        minimum=np.array([0.0, 0.0]),
        xlim=(-5.0, 5.0),
        ylim=(-1.5, 1.5),
        description="ill-conditioned bowl 0.5*(x^2 + 50 y^2), condition number 50",
    ),
    "rosenbrock": Surface(
        name="rosenbrock",
        f=_rosenbrock_f,
        grad=_rosenbrock_grad,
        start=np.array([-1.5, 2.0]),
        minimum=np.array([1.0, 1.0]),
        xlim=(-2.0, 2.0),
        ylim=(-1.0, 3.0),
        description="Rosenbrock valley (1-x)^2 + 100 (y-x^2)^2, minimum at (1, 1)",
    ),
}


def _surface(surface):
    if isinstance(surface, Surface):
        return surface
    if isinstance(surface, str) and surface in SURFACES:
        return SURFACES[surface]
    raise ValueError(
        f"unknown surface {surface!r}; known surfaces: {list(SURFACES)} (or pass a Surface)"
    )


def optimize_surface(surface, update_rule, optim_config=None, *, start=None, num_steps=100):
    r"""Run an update rule on a 2-D surface; return the path of the weights.

    Step :math:`t` computes the gradient at :math:`w_t` and applies the rule's
    in-place step (the one :class:`~nndl_lab.solver.Solver` uses) to get
    :math:`w_{t+1}`. For SGD on the quadratic this is
    :math:`w_t = (1 - \eta a)^t x_0,\ (1 - \eta b)^t y_0` coordinatewise.

    Book: chapter 2 (SGD & momentum), chapter 3 (Nesterov), chapter 4
    (RMSProp), chapter 5 (Adam).

    Parameters
    ----------
    surface : str or Surface
        A key of ``SURFACES`` (``"quadratic"``, ``"rosenbrock"``) or a
        :class:`Surface`.
    update_rule : str
        A name from :data:`nndl_lab.optim.UPDATE_RULES`.
    optim_config : dict, optional
        The rule's hyperparameters (``learning_rate``, ``momentum``, ...),
        checked as the Solver checks them; the caller's dict is not modified.
    start : array_like, shape (2,), optional
        Default: the surface's ``start``.
    num_steps : int, default 100

    Returns
    -------
    dict
        ``"path"`` (num_steps + 1, 2) the weights before every step and after
        the last; ``"loss"`` (num_steps + 1,) the loss at each; ``"diverged_at"``
        None, or the first step index whose weights or loss are not finite
        (the path and loss are NaN from there on, and nothing after it is
        computed).
    """
    surface = _surface(surface)
    update_rule = _checks.update_rule(update_rule)
    config = _checks.optim_config(update_rule, optim_config)
    num_steps = _checks.positive_int("num_steps", num_steps)
    w = np.array(surface.start if start is None else start, dtype=np.float64)
    if w.shape != (2,) or not np.all(np.isfinite(w)):
        raise ValueError(f"start must be two finite numbers (x, y), got {start!r}")
    config = optim.prepare_config(update_rule, config, w)
    step = optim.inplace_step(update_rule)
    path = np.full((num_steps + 1, 2), np.nan)
    loss = np.full(num_steps + 1, np.nan)
    diverged_at = None
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(num_steps + 1):
            value = float(surface.f(w))
            if not (np.isfinite(value) and np.all(np.isfinite(w))):
                diverged_at = t
                break
            path[t] = w
            loss[t] = value
            if t < num_steps:
                step(w, surface.grad(w), config)
    return {"path": path, "loss": loss, "diverged_at": diverged_at}
