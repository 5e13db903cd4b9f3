r"""First-order update rules.

Every rule has the homework's interface::

    next_w, config = rule(w, dw, config)

``w`` holds the current weights and ``dw`` the gradient of the loss with
respect to them; ``config`` holds the hyperparameters and the rule's state
(velocity, moving averages). A missing ``config`` (or a missing key) takes the
defaults listed for each rule. A rule never modifies ``w``, ``dw`` or the state
arrays it was given: it returns a new ``next_w`` and puts new state arrays in
``config`` (the same dict, updated, as in the homework), so a learner comparing
arrays before and after a step is not fooled by aliasing.

Book: chapter 2 (SGD, momentum), chapter 3 (Nesterov), chapter 4 (RMSProp),
chapter 5 (Adam).

Each rule is a thin copy-then-update wrapper around an in-place step function
(``_*_step``); :class:`nndl_lab.solver.Solver` and the batched trainer call the
step functions directly on arrays they own, so there is one implementation of
each formula and the fast path computes exactly what the rule computes.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["sgd", "sgd_momentum", "sgd_nesterov_momentum", "rmsprop", "adam", "UPDATE_RULES"]


def _sgd_step(w, dw, config):
    w -= config["learning_rate"] * dw


def _sgd_momentum_step(w, dw, config):
    velocity = config["velocity"]
    velocity *= config["momentum"]
    velocity -= config["learning_rate"] * dw
    w += velocity


def _sgd_nesterov_momentum_step(w, dw, config):
    # w_next = w + v_next + mu * (v_next - v) = w - mu * v + (1 + mu) * v_next
    velocity = config["velocity"]
    momentum = config["momentum"]
    w -= momentum * velocity
    velocity *= momentum
    velocity -= config["learning_rate"] * dw
    w += (1.0 + momentum) * velocity


def _rmsprop_step(w, dw, config):
    decay_rate = config["decay_rate"]
    mean_square = config["a"]
    mean_square *= decay_rate
    mean_square += (1.0 - decay_rate) * (dw * dw)
    step = np.sqrt(mean_square)
    step += config["epsilon"]
    np.divide(dw, step, out=step)
    step *= config["learning_rate"]
    w -= step


def _adam_step(w, dw, config):
    beta1, beta2 = config["beta1"], config["beta2"]
    config["t"] += 1
    t = config["t"]
    first, second = config["v"], config["a"]
    first *= beta1
    first += (1.0 - beta1) * dw
    second *= beta2
    second += (1.0 - beta2) * (dw * dw)
    # lr * (v / (1 - beta1^t)) / (sqrt(a / (1 - beta2^t)) + eps), with one scratch array
    step = second / (1.0 - beta2**t)
    np.sqrt(step, out=step)
    step += config["epsilon"]
    np.divide(first, step, out=step)
    step *= config["learning_rate"] / (1.0 - beta1**t)
    w -= step


# name -> (step function, defaults of the hyperparameters, names of the state arrays)
_RULES = {
    "sgd": (_sgd_step, {"learning_rate": 1e-2}, ()),
    "sgd_momentum": (
        _sgd_momentum_step,
        {"learning_rate": 1e-2, "momentum": 0.9},
        ("velocity",),
    ),
    "sgd_nesterov_momentum": (
        _sgd_nesterov_momentum_step,
        {"learning_rate": 1e-2, "momentum": 0.9},
        ("velocity",),
    ),
    "rmsprop": (
        _rmsprop_step,
        {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8},
        ("a",),
    ),
    "adam": (
        _adam_step,
        {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "t": 0},
        ("v", "a"),
    ),
}

_UNIT_INTERVAL_KEYS = {"momentum", "decay_rate", "beta1", "beta2"}


def prepare_config(rule_name, config, w):
    """Fill in defaults and fresh, private copies of the state arrays of a rule's config.

    Validates every key before any work: unknown keys (a typo such as ``lr``,
    or a Solver option like ``print_every`` passed inside ``optim_config``),
    negative learning rates, momentum or decay rates outside [0, 1) and state
    arrays of the wrong shape are errors.

    Parameters
    ----------
    rule_name : str
        A key of :data:`UPDATE_RULES`.
    config : dict or None
        Updated in place (defaults added, state arrays replaced by copies) and
        returned; None starts a new dict.
    w : ndarray
        The weights, for the shape and dtype of the state arrays.

    Returns
    -------
    config : dict
    """
    _, defaults, state_keys = _RULES[rule_name]
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict or None, got {type(config).__name__}")
    accepted = (*defaults, *state_keys)
    unknown = sorted(set(config) - set(accepted))
    if unknown:
        raise ValueError(
            f"{rule_name}: unknown config key(s) {unknown}; accepted keys: {list(accepted)}"
        )
    for key, default in defaults.items():
        value = config.setdefault(key, default)
        if key == "t":
            if not isinstance(value, numbers.Integral) or value < 0:
                raise ValueError(f"{rule_name}: config['t'] must be an integer >= 0, got {value!r}")
            continue
        if not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise ValueError(f"{rule_name}: config[{key!r}] must be a finite number, got {value!r}")
        if key == "learning_rate" and value < 0:
            raise ValueError(f"{rule_name}: config['learning_rate'] must be >= 0, got {value!r}")
        if key in _UNIT_INTERVAL_KEYS and not 0.0 <= value < 1.0:
            raise ValueError(f"{rule_name}: config[{key!r}] must be in [0, 1), got {value!r}")
        if key == "epsilon" and value <= 0:
            raise ValueError(f"{rule_name}: config['epsilon'] must be > 0, got {value!r}")
    for key in state_keys:
        state = config.get(key)
        if state is None:
            config[key] = np.zeros_like(w)
            continue
        state = np.array(state, dtype=w.dtype, copy=True)
        if state.shape != w.shape:
            raise ValueError(
                f"{rule_name}: config[{key!r}] has shape {state.shape} but w has shape {w.shape}"
            )
        config[key] = state
    return config


def _apply(rule_name, w, dw, config):
    w = np.asarray(w)
    dw = np.asarray(dw)
    if w.shape != dw.shape:
        raise ValueError(f"{rule_name}: dw has shape {dw.shape} but w has shape {w.shape}")
    if not np.issubdtype(w.dtype, np.floating):
        raise TypeError(f"{rule_name}: w must be a floating-point array, got dtype {w.dtype}")
    config = prepare_config(rule_name, config, w)
    next_w = w.copy()
    _RULES[rule_name][0](next_w, dw, config)
    return next_w, config


def sgd(w, dw, config=None):
    r"""Vanilla stochastic gradient descent: :math:`w \leftarrow w - \eta\, dw`.

    Parameters
    ----------
    w, dw : ndarray, same shape
        Weights and their gradient.
    config : dict, optional
        ``learning_rate`` :math:`\eta` (default 1e-2).

    Returns
    -------
    next_w : ndarray
        New array; ``w`` is unchanged.
    config : dict
    """
    return _apply("sgd", w, dw, config)


def sgd_momentum(w, dw, config=None):
    r"""SGD with momentum (Polyak, 1964).

    .. math:: v \leftarrow \mu v - \eta\, dw, \qquad w \leftarrow w + v

    Parameters
    ----------
    w, dw : ndarray, same shape
    config : dict, optional
        ``learning_rate`` :math:`\eta` (default 1e-2), ``momentum`` :math:`\mu`
        in [0, 1) (default 0.9), ``velocity`` :math:`v` (default zeros).

    Returns
    -------
    next_w : ndarray
    config : dict
        With the new ``velocity``.
    """
    return _apply("sgd_momentum", w, dw, config)


def sgd_nesterov_momentum(w, dw, config=None):
    r"""SGD with Nesterov momentum (Nesterov, 1983; Sutskever et al., 2013).

    In the form that takes the gradient at the current weights (the
    "look-ahead" is folded into the update):

    .. math::
        v' = \mu v - \eta\, dw, \qquad w \leftarrow w + v' + \mu (v' - v)
           = w - \mu v + (1 + \mu) v'

    Parameters
    ----------
    w, dw : ndarray, same shape
    config : dict, optional
        ``learning_rate`` :math:`\eta` (default 1e-2), ``momentum`` :math:`\mu`
        in [0, 1) (default 0.9), ``velocity`` :math:`v` (default zeros).

    Returns
    -------
    next_w : ndarray
    config : dict
        With the new ``velocity`` :math:`v'`.
    """
    return _apply("sgd_nesterov_momentum", w, dw, config)


def rmsprop(w, dw, config=None):
    r"""RMSProp (Tieleman & Hinton, 2012): a per-weight step from a moving mean square.

    .. math::
        a \leftarrow \rho a + (1 - \rho)\, dw^2, \qquad
        w \leftarrow w - \eta \frac{dw}{\sqrt{a} + \epsilon}

    Parameters
    ----------
    w, dw : ndarray, same shape
    config : dict, optional
        ``learning_rate`` :math:`\eta` (default 1e-2), ``decay_rate``
        :math:`\rho` in [0, 1) (default 0.99), ``epsilon`` (default 1e-8),
        ``a`` the moving mean of squared gradients (default zeros).

    Returns
    -------
    next_w : ndarray
    config : dict
        With the new ``a``.
    """
    return _apply("rmsprop", w, dw, config)


def adam(w, dw, config=None):
    r"""Adam (Kingma & Ba, 2015): momentum plus RMSProp, with bias correction.

    .. math::
        t &\leftarrow t + 1 \\
        v &\leftarrow \beta_1 v + (1 - \beta_1)\, dw, \qquad
        a \leftarrow \beta_2 a + (1 - \beta_2)\, dw^2 \\
        w &\leftarrow w - \eta \frac{v / (1 - \beta_1^t)}{\sqrt{a / (1 - \beta_2^t)} + \epsilon}

    ``t`` is incremented before it is used, so the first step divides by
    :math:`1 - \beta_1` and :math:`1 - \beta_2`.

    Parameters
    ----------
    w, dw : ndarray, same shape
    config : dict, optional
        ``learning_rate`` :math:`\eta` (default 1e-3), ``beta1`` (default
        0.9), ``beta2`` (default 0.999), ``epsilon`` (default 1e-8), ``v`` the
        first moment and ``a`` the second (default zeros), ``t`` the step count
        (default 0).

    Returns
    -------
    next_w : ndarray
    config : dict
        With the new ``v``, ``a`` and ``t``.
    """
    return _apply("adam", w, dw, config)


#: The update rules by name, as :class:`nndl_lab.solver.Solver` accepts them.
UPDATE_RULES = {
    "sgd": sgd,
    "sgd_momentum": sgd_momentum,
    "sgd_nesterov_momentum": sgd_nesterov_momentum,
    "rmsprop": rmsprop,
    "adam": adam,
}


def inplace_step(rule_name):
    """The in-place step function behind a named rule (for trainers that own their arrays).

    ``step(w, dw, config)`` updates ``w`` and the state arrays of a config made
    by :func:`prepare_config` in place; it does no validation.
    """
    return _RULES[rule_name][0]
