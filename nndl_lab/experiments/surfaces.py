r"""Two-dimensional test surfaces, and the update rules' paths on them.

The update rules of :mod:`nndl_lab.optim` work on arrays of any shape, so a
2-vector is a "net" with two weights whose loss can be drawn as contours.
:func:`~nndl_lab.experiments.optimize_surface` calls the very step functions the Solver uses
(``nndl_lab.optim.inplace_step``), so a path drawn here is exactly what
the rule does; there is no second implementation of any rule.

The same surfaces, the gradient noise and the rules are computed in the
page by the widget :func:`widgets.optimizer_paths` (JavaScript, float64, the
same operations in the same order); a browser test compares the page's paths
with :func:`surface_paths` for random settings. Two details serve that:
squares are written ``x * x`` (``x ** 2`` of a float calls the C library's
``pow``, which is not always the correctly rounded product), and the gradient
noise (:func:`gradient_noise`) comes from a 32-bit integer hash and exact sums,
no transcendental function.

Book: chapter 2 (SGD & momentum on the ill-conditioned bowl), chapter 3
(Nesterov), chapter 4 (RMSProp on the rotated bowl), chapter 5 (Adam on the
Rosenbrock valley); the saddle and the gradient noise in chapters 2–5.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from .. import optim
from . import _checks

__all__ = [
    "Surface",
    "SURFACES",
    "QUADRATIC_A",
    "QUADRATIC_B",
    "PATH_RULES",
    "optimize_surface",
    "quadratic_surface",
    "make_surface",
    "PAGE_SURFACES",
    "gradient_noise",
    "path_configs",
    "surface_paths",
]

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
    x, y = w[..., 0], w[..., 1]
    return 0.5 * (QUADRATIC_A * (x * x) + QUADRATIC_B * (y * y))


def _quadratic_grad(w):
    w = np.asarray(w, dtype=float)
    return np.array([QUADRATIC_A * w[0], QUADRATIC_B * w[1]])


def _rosenbrock_f(w):
    w = np.asarray(w, dtype=float)
    x, y = w[..., 0], w[..., 1]
    u, v = 1.0 - x, y - x * x
    return u * u + 100.0 * (v * v)


def _rosenbrock_grad(w):
    w = np.asarray(w, dtype=float)
    x, y = w[0], w[1]
    v = y - x * x
    return np.array([-2.0 * (1.0 - x) - 400.0 * x * v, 200.0 * v])


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


#: The rules :func:`surface_paths` runs, in the order the page's legend lists them.
PATH_RULES = ("sgd", "sgd_momentum", "sgd_nesterov_momentum", "rmsprop", "adam")

#: The names :func:`make_surface` accepts (the page's surface menu).
PAGE_SURFACES = ("quadratic", "rotated", "rosenbrock", "saddle")

_ROTATED_START_FACTOR = math.sqrt(0.5)


def _kappa(kappa):
    if not _checks.is_real(kappa) or not math.isfinite(kappa) or not 1.0 <= kappa <= 1e6:
        raise ValueError(f"kappa must be a number in [1, 1e6], got {kappa!r}")
    return float(kappa)


def quadratic_surface(kappa=50.0, *, rotated=False):
    r"""The bowl :math:`\tfrac12(x^2 + \kappa y^2)`, or the same bowl rotated by 45°.

    Curvatures 1 and :math:`\kappa` (the condition number). ``kappa=50`` is
    ``SURFACES["quadratic"]`` (the same arithmetic, bit for bit). Rotated, the
    Hessian is :math:`\tfrac12\begin{pmatrix}1+\kappa & 1-\kappa\\ 1-\kappa & 1+\kappa\end{pmatrix}`
    (eigenvector :math:`(1, 1)/\sqrt2` for curvature 1 and :math:`(-1, 1)/\sqrt2`
    for :math:`\kappa`) and the start is the rotated start :math:`R\,(-4, 1)`, so both
    bowls start at the same loss; a per-coordinate rule such as RMSProp sees the
    difference, SGD does not.

    Book: chapter 2 (the ill-conditioned bowl), chapter 4 (the rotated bowl).

    Parameters
    ----------
    kappa : float, default 50.0
        The condition number, in [1, 1e6].
    rotated : bool, default False

    Returns
    -------
    Surface
    """
    kappa = _kappa(kappa)
    rotated = _checks.boolean("rotated", rotated)
    if not rotated:

        def f(w):
            w = np.asarray(w, dtype=float)
            x, y = w[..., 0], w[..., 1]
            return 0.5 * (QUADRATIC_A * (x * x) + kappa * (y * y))

        def grad(w):
            w = np.asarray(w, dtype=float)
            return np.array([QUADRATIC_A * w[0], kappa * w[1]])

        return Surface(
            name="quadratic",
            f=f,
            grad=grad,
            start=np.array([-4.0, 1.0]),
            minimum=np.array([0.0, 0.0]),
            xlim=(-5.0, 5.0),
            ylim=(-1.5, 1.5),
            description=f"ill-conditioned bowl 0.5*(x^2 + {kappa:g} y^2), "
            f"condition number {kappa:g}",
        )
    p, q = 0.5 * (1.0 + kappa), 0.5 * (1.0 - kappa)

    def f_rotated(w):
        w = np.asarray(w, dtype=float)
        x, y = w[..., 0], w[..., 1]
        return 0.5 * (x * (p * x + q * y) + y * (q * x + p * y))

    def grad_rotated(w):
        w = np.asarray(w, dtype=float)
        x, y = w[0], w[1]
        return np.array([p * x + q * y, q * x + p * y])

    c = _ROTATED_START_FACTOR
    return Surface(
        name="rotated",
        f=f_rotated,
        grad=grad_rotated,
        start=np.array([c * -4.0 - c * 1.0, c * -4.0 + c * 1.0]),
        minimum=np.array([0.0, 0.0]),
        xlim=(-5.0, 5.0),
        ylim=(-5.0, 5.0),
        description=f"the bowl rotated by 45 degrees, condition number {kappa:g}",
    )


def _saddle_f(w):
    w = np.asarray(w, dtype=float)
    x, y = w[..., 0], w[..., 1]
    v = y * y - 1.0
    return 0.5 * (x * x) + 0.25 * (v * v)


def _saddle_grad(w):
    w = np.asarray(w, dtype=float)
    x, y = w[0], w[1]
    return np.array([x, y * (y * y - 1.0)])


SURFACES["rotated"] = quadratic_surface(QUADRATIC_B / QUADRATIC_A, rotated=True)
SURFACES["saddle"] = Surface(
    name="saddle",
    f=_saddle_f,
    grad=_saddle_grad,
    start=np.array([-2.0, 0.0]),
    minimum=np.array([0.0, 1.0]),
    xlim=(-2.5, 2.5),
    ylim=(-1.8, 1.8),
    description="saddle 0.5 x^2 + 0.25 (y^2 - 1)^2: a saddle at (0, 0), minima at (0, +-1)",
)


def make_surface(name, kappa=50.0):
    r"""One of the page's surfaces by name; the two bowls take the condition number.

    ``"quadratic"`` and ``"rotated"``: :func:`quadratic_surface` with ``kappa``;
    ``"rosenbrock"``: ``SURFACES["rosenbrock"]``; ``"saddle"``:
    :math:`\tfrac12 x^2 + \tfrac14 (y^2 - 1)^2`, whose gradient vanishes at the
    saddle point (0, 0) between the minima (0, ±1). Started on the ridge
    :math:`y = 0` (the default start), gradient descent without noise never leaves
    it and stops at the saddle; gradient noise pushes it off.

    Book: chapters 2–5 (the optimizer paths).

    Parameters
    ----------
    name : {"quadratic", "rotated", "rosenbrock", "saddle"}
    kappa : float, default 50.0
        Condition number of the bowls, in [1, 1e6] (checked for every name).

    Returns
    -------
    Surface
    """
    kappa = _kappa(kappa)
    if name == "quadratic":
        return quadratic_surface(kappa)
    if name == "rotated":
        return quadratic_surface(kappa, rotated=True)
    if isinstance(name, str) and name in ("rosenbrock", "saddle"):
        return SURFACES[name]
    raise ValueError(f"surface must be one of {list(PAGE_SURFACES)}, got {name!r}")


#: The page's generator: a 32-bit hash (lowbias32) of a Weyl sequence.
_MASK32 = 0xFFFFFFFF
_WEYL32 = 0x9E3779B9
#: Uniform numbers summed per normal deviate (Irwin-Hall: mean 6, variance 1).
_IRWIN_HALL = 12


def _hash32(x):
    # lowbias32 (C. Wellons): x of dtype uint64 holding 32-bit values.
    x = x ^ (x >> np.uint64(16))
    x = (x * np.uint64(0x7FEB352D)) & np.uint64(_MASK32)
    x = x ^ (x >> np.uint64(15))
    x = (x * np.uint64(0x846CA68B)) & np.uint64(_MASK32)
    return x ^ (x >> np.uint64(16))


def _noise_seed(seed):
    if not _checks.is_int(seed) or not 0 <= seed <= _MASK32:
        raise ValueError(f"seed must be an integer in [0, 2**32 - 1], got {seed!r}")
    return int(seed)


def gradient_noise(seed, num_steps):
    r"""The seeded noise added to the gradient, the same numbers as in the page.

    Entry ``[t, d]`` is the noise of coordinate ``d`` at step ``t``: the sum of
    12 uniform numbers :math:`u_k = (h_k + \tfrac12)/2^{32}` minus 6 (the
    Irwin–Hall approximation of a standard normal: mean 0, variance 1, within
    ±6), where :math:`h_k` is the 32-bit hash lowbias32 of

    .. math::

        (i \cdot \mathtt{0x9E3779B9} + \mathrm{lowbias32}(\mathit{seed})) \bmod 2^{32}

    for the counter :math:`i = 24t + 12d + k`. Only integer arithmetic and exact
    sums of doubles: the page's JavaScript gets the same bits. Step ``t``'s noise
    does not depend on ``num_steps``.

    Book: chapters 2–5 (stochastic gradients on the surfaces).

    Parameters
    ----------
    seed : int
        In [0, 2**32 - 1].
    num_steps : int
        >= 1.

    Returns
    -------
    ndarray, shape (num_steps, 2)
    """
    seed = _noise_seed(seed)
    num_steps = _checks.positive_int("num_steps", num_steps)
    key = _hash32(np.array([seed], dtype=np.uint64))[0]
    counter = np.arange(num_steps * 2 * _IRWIN_HALL, dtype=np.uint64)
    hashed = _hash32((counter * np.uint64(_WEYL32) + key) & np.uint64(_MASK32))
    uniform = (hashed.astype(np.float64) + 0.5) / 4294967296.0
    return uniform.reshape(num_steps, 2, _IRWIN_HALL).sum(axis=-1) - 6.0


def _surface(surface):
    if isinstance(surface, Surface):
        return surface
    if isinstance(surface, str) and surface in SURFACES:
        return SURFACES[surface]
    raise ValueError(
        f"unknown surface {surface!r}; known surfaces: {list(SURFACES)} (or pass a Surface)"
    )


def optimize_surface(
    surface, update_rule, optim_config=None, *, start=None, num_steps=100, noise=0.0, seed=0
):
    r"""Run an update rule on a 2-D surface; return the path of the weights.

    Step :math:`t` computes the gradient at :math:`w_t` and applies the rule's
    in-place step (the one :class:`~nndl_lab.solver.Solver` uses) to get
    :math:`w_{t+1}`. For SGD on the quadratic this is
    :math:`w_t = (1 - \eta a)^t x_0,\ (1 - \eta b)^t y_0` coordinatewise. With
    ``noise`` :math:`\sigma > 0` the rule is handed :math:`\nabla f(w_t) + \sigma\,\xi_t`
    with :math:`\xi_t` = ``gradient_noise(seed, num_steps)[t]``
    (:func:`~nndl_lab.experiments.surfaces.gradient_noise`): a stochastic
    gradient, unbiased, with covariance :math:`\sigma^2 I`.

    Book: chapter 2 (SGD & momentum), chapter 3 (Nesterov), chapter 4
    (RMSProp), chapter 5 (Adam).

    Parameters
    ----------
    surface : str or Surface
        A key of ``SURFACES`` (``"quadratic"``, ``"rosenbrock"``, ``"rotated"``,
        ``"saddle"``) or a :class:`Surface`.
    update_rule : str
        A name from :data:`nndl_lab.optim.UPDATE_RULES`.
    optim_config : dict, optional
        The rule's hyperparameters (``learning_rate``, ``momentum``, ...),
        checked as the Solver checks them; the caller's dict is not modified.
    start : array_like, shape (2,), optional
        Default: the surface's ``start``.
    num_steps : int, default 100
    noise : float, default 0.0
        Standard deviation :math:`\sigma \ge 0` of the gradient noise per coordinate.
    seed : int, default 0
        Seed of the noise, in [0, 2**32 - 1].

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
    noise = _checks.nonnegative_real("noise", noise)
    seed = _noise_seed(seed)
    w = np.array(surface.start if start is None else start, dtype=np.float64)
    if w.shape != (2,) or not np.all(np.isfinite(w)):
        raise ValueError(f"start must be two finite numbers (x, y), got {start!r}")
    config = optim.prepare_config(update_rule, config, w)
    step = optim.inplace_step(update_rule)
    xi = gradient_noise(seed, num_steps) if noise > 0 else None
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
                grad = surface.grad(w)
                if xi is not None:
                    grad = grad + noise * xi[t]
                step(w, grad, config)
    return {"path": path, "loss": loss, "diverged_at": diverged_at}


def path_configs(
    *,
    learning_rate=0.02,
    momentum=0.9,
    adaptive_learning_rate=0.1,
    decay_rate=0.99,
    beta1=0.9,
    beta2=0.999,
    epsilon=1e-8,
):
    r"""The ``optim_config`` of each of the five rules from the page's controls.

    SGD takes ``learning_rate``; momentum and Nesterov ``learning_rate`` and
    ``momentum``; RMSProp ``adaptive_learning_rate``, ``decay_rate`` and
    ``epsilon``; Adam ``adaptive_learning_rate``, ``beta1``, ``beta2`` and
    ``epsilon``. Each config is checked as the Solver checks it.

    Book: chapters 2–5 (the settings of the optimizer paths).

    Returns
    -------
    dict
        ``{rule: optim_config}`` for the rules of :data:`PATH_RULES`.
    """
    configs = {
        "sgd": {"learning_rate": learning_rate},
        "sgd_momentum": {"learning_rate": learning_rate, "momentum": momentum},
        "sgd_nesterov_momentum": {"learning_rate": learning_rate, "momentum": momentum},
        "rmsprop": {
            "learning_rate": adaptive_learning_rate,
            "decay_rate": decay_rate,
            "epsilon": epsilon,
        },
        "adam": {
            "learning_rate": adaptive_learning_rate,
            "beta1": beta1,
            "beta2": beta2,
            "epsilon": epsilon,
        },
    }
    return {rule: _checks.optim_config(rule, config) for rule, config in configs.items()}


def surface_paths(
    surface="quadratic",
    *,
    kappa=50.0,
    learning_rate=0.02,
    momentum=0.9,
    adaptive_learning_rate=0.1,
    decay_rate=0.99,
    beta1=0.9,
    beta2=0.999,
    epsilon=1e-8,
    num_steps=100,
    noise=0.0,
    seed=0,
    start=None,
    rules=PATH_RULES,
):
    r"""The paths of the five update rules for one setting of the page's controls.

    What :func:`widgets.optimizer_paths` draws, computed by
    :func:`~nndl_lab.experiments.optimize_surface` (the engine's step functions) on
    ``make_surface(surface, kappa)``, every rule with the same start and the same
    gradient noise. The page computes the same numbers in JavaScript; the browser
    tests compare the two.

    Book: chapters 2–5 (the optimizer paths).

    Parameters
    ----------
    surface : {"quadratic", "rotated", "rosenbrock", "saddle"}
    kappa : float, default 50.0
        Condition number of the bowls.
    learning_rate, momentum : float
        SGD, momentum and Nesterov.
    adaptive_learning_rate : float
        RMSProp and Adam.
    decay_rate : float
        RMSProp.
    beta1, beta2 : float
        Adam.
    epsilon : float
        RMSProp and Adam.
    num_steps : int
    noise : float
        Gradient noise (standard deviation per coordinate).
    seed : int
        Seed of the noise.
    start : array_like, shape (2,), optional
        Default: the surface's start.
    rules : sequence of str, default PATH_RULES

    Returns
    -------
    dict
        ``{rule: run}``, each run as :func:`~nndl_lab.experiments.optimize_surface` returns it.
    """
    the_surface = make_surface(surface, kappa)
    configs = path_configs(
        learning_rate=learning_rate,
        momentum=momentum,
        adaptive_learning_rate=adaptive_learning_rate,
        decay_rate=decay_rate,
        beta1=beta1,
        beta2=beta2,
        epsilon=epsilon,
    )
    if isinstance(rules, str) or not all(isinstance(r, str) and r in PATH_RULES for r in rules):
        raise ValueError(
            f"rules must be a sequence of names from {list(PATH_RULES)}, got {rules!r}"
        )
    num_steps = _checks.positive_int("num_steps", num_steps)
    noise = _checks.nonnegative_real("noise", noise)
    seed = _noise_seed(seed)
    return {
        rule: optimize_surface(
            the_surface,
            rule,
            configs[rule],
            start=start,
            num_steps=num_steps,
            noise=noise,
            seed=seed,
        )
        for rule in rules
    }
