r"""First-order update rules, and the registry that describes them.

Every rule has the homework's interface::

    next_w, config = rule(w, dw, config)

``w`` holds the current weights and ``dw`` the gradient of the loss with
respect to them; ``config`` holds the hyperparameters and the rule's state
(velocity, moving averages). A missing ``config`` (or a missing key) takes the
defaults listed for each rule. A rule never modifies ``w``, ``dw`` or the state
arrays it was given: it returns a new ``next_w`` and puts new state arrays in
``config`` (the same dict, updated, as in the homework), so a learner comparing
arrays before and after a step is not fooled by aliasing.

The registry
------------
:data:`RULES` maps each rule's name to an :class:`UpdateRule`: its public
function, its in-place step, its hyperparameters (:class:`Hyperparameter`:
default, accepted range, readable label), the names of its state arrays and a
readable label. Everything else reads it — :func:`prepare_config` (the one
validation of a config), :class:`nndl_lab.solver.Solver`, the batched trainer,
the learner checks, the apps' controls and the tests — so adding a rule is one
entry here (its step, its function, its :class:`UpdateRule`) plus its tests.

Per-parameter options (for example no weight decay or a learning rate of zero
for the biases and batchnorm's :math:`\gamma, \beta`) are ``overrides``: a dict
``{pattern: {hyperparameter: value}}`` whose patterns (``fnmatch``, such as
``"b*"``) name parameters; :func:`parameter_configs` resolves them into one
config per parameter, and the Solver and the batched trainer accept them as
``optim_overrides``.

Book: chapter 2 (SGD, momentum), chapter 3 (Nesterov), chapter 4 (RMSProp),
chapter 5 (Adam).

Each rule is a thin copy-then-update wrapper around an in-place step function;
:class:`nndl_lab.solver.Solver` and the batched trainer call the step functions
directly on arrays they own, so there is one implementation of each formula and
the fast path computes exactly what the rule computes. A hyperparameter in a
config may also be an array that broadcasts against ``w`` (the batched trainer
keeps a (K, 1) learning rate for K nets stacked as rows): the step rounds it
to ``w``'s dtype exactly where a Python number would be rounded, so row k of a
stacked update is bit for bit the update of net k alone.
"""

from __future__ import annotations

import fnmatch
import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "sgd",
    "sgd_momentum",
    "sgd_nesterov_momentum",
    "rmsprop",
    "adam",
    "UPDATE_RULES",
    "RULES",
    "UpdateRule",
    "Hyperparameter",
    "BIAS_AND_NORMALIZATION",
    "prepare_config",
    "prepare_checked_config",
    "parameter_configs",
    "resolve_parameter_configs",
    "inplace_step",
]

# Elementwise work is done in blocks of about this many numbers, so that the
# several passes of a rule over its arrays run in cache instead of memory.
_BLOCK = 1 << 17


def _as(value, dtype):
    """A hyperparameter in the working dtype: a Python number as is (numpy rounds it to
    ``dtype`` when it meets the array), an array rounded to ``dtype`` the same way."""
    if isinstance(value, np.ndarray):
        return value.astype(dtype, copy=False)
    return value


def _blocks(w, *arrays):
    """Yield ``(w_block, *array_blocks)`` over consecutive rows of ``w``.

    Arrays with ``w``'s leading dimension (state arrays, a per-net (K, 1)
    hyperparameter) are cut like ``w``; the others (Python numbers, a (1, P)
    per-column hyperparameter) are passed whole and broadcast.
    """
    rows = w.shape[0] if w.ndim >= 2 else 1
    row_size = w.size // max(rows, 1)
    step = max(1, _BLOCK // max(row_size, 1))
    if rows <= step or w.ndim < 2:
        yield (w, *arrays)
        return
    cut = [isinstance(a, np.ndarray) and a.ndim == w.ndim and a.shape[0] == rows for a in arrays]
    for start in range(0, rows, step):
        stop = start + step
        yield (
            w[start:stop],
            *(a[start:stop] if c else a for a, c in zip(arrays, cut, strict=True)),
        )


def _sgd_step(w, dw, config):
    lr = _as(config["learning_rate"], w.dtype)
    for w_, dw_, lr_ in _blocks(w, dw, lr):
        w_ -= lr_ * dw_


def _sgd_momentum_step(w, dw, config):
    lr = _as(config["learning_rate"], w.dtype)
    momentum = _as(config["momentum"], w.dtype)
    for w_, dw_, v_, lr_, mu_ in _blocks(w, dw, config["velocity"], lr, momentum):
        v_ *= mu_
        v_ -= lr_ * dw_
        w_ += v_


def _sgd_nesterov_momentum_step(w, dw, config):
    # w_next = w + v_next + mu * (v_next - v) = w - mu * v + (1 + mu) * v_next
    lr = _as(config["learning_rate"], w.dtype)
    mu = config["momentum"]
    momentum, one_plus = _as(mu, w.dtype), _as(1.0 + mu, w.dtype)
    for w_, dw_, v_, lr_, mu_, one_plus_ in _blocks(
        w, dw, config["velocity"], lr, momentum, one_plus
    ):
        w_ -= mu_ * v_
        v_ *= mu_
        v_ -= lr_ * dw_
        w_ += one_plus_ * v_


def _rmsprop_step(w, dw, config):
    rho = config["decay_rate"]
    decay, keep = _as(rho, w.dtype), _as(1.0 - rho, w.dtype)
    lr = _as(config["learning_rate"], w.dtype)
    eps = _as(config["epsilon"], w.dtype)
    for w_, dw_, a_, lr_, decay_, keep_, eps_ in _blocks(w, dw, config["a"], lr, decay, keep, eps):
        a_ *= decay_
        step = dw_ * dw_
        step *= keep_
        a_ += step
        np.sqrt(a_, out=step)
        step += eps_
        np.divide(dw_, step, out=step)
        step *= lr_
        w_ -= step


def _adam_step(w, dw, config):
    beta1, beta2 = config["beta1"], config["beta2"]
    config["t"] += 1
    t = config["t"]
    b1, one_minus_b1 = _as(beta1, w.dtype), _as(1.0 - beta1, w.dtype)
    b2, one_minus_b2 = _as(beta2, w.dtype), _as(1.0 - beta2, w.dtype)
    # lr * (v / (1 - beta1^t)) / (sqrt(a / (1 - beta2^t)) + eps), one scratch block
    correction2 = _as(1.0 - beta2**t, w.dtype)
    scale = _as(config["learning_rate"] / (1.0 - beta1**t), w.dtype)
    eps = _as(config["epsilon"], w.dtype)
    for w_, dw_, v_, a_, b1_, c1_, b2_, c2_, corr_, scale_, eps_ in _blocks(
        w,
        dw,
        config["v"],
        config["a"],
        b1,
        one_minus_b1,
        b2,
        one_minus_b2,
        correction2,
        scale,
        eps,
    ):
        v_ *= b1_
        step = c1_ * dw_
        v_ += step
        a_ *= b2_
        np.multiply(dw_, dw_, out=step)
        step *= c2_
        a_ += step
        np.divide(a_, corr_, out=step)
        np.sqrt(step, out=step)
        step += eps_
        np.divide(v_, step, out=step)
        step *= scale_
        w_ -= step


@dataclass(frozen=True)
class Hyperparameter:
    """One hyperparameter of an update rule: its default, accepted range and label.

    The accepted range is ``low <= value < high`` with the ends open or closed
    as ``low_open`` / ``high_open`` say (``high`` may be ``inf``); ``integer``
    asks for an integer (Adam's step count ``t``).

    Attributes
    ----------
    name : str
        The config key.
    default : float or int
    label : str
        A readable name for controls and captions.
    low, high : float
    low_open, high_open : bool
    integer : bool
    """

    name: str
    default: float
    label: str
    low: float = 0.0
    high: float = math.inf
    low_open: bool = False
    high_open: bool = True
    integer: bool = False

    @property
    def accepted(self):
        """The accepted range in words, as error messages print it."""
        if self.integer:
            return f"an integer >= {self.low:g}"
        if self.high == math.inf:
            return f"{'>' if self.low_open else '>='} {self.low:g}"
        left = "(" if self.low_open else "["
        right = ")" if self.high_open else "]"
        return f"in {left}{self.low:g}, {self.high:g}{right}"

    def check(self, rule_name, value):
        """``value`` if it is accepted, else a ValueError naming the rule and the key."""
        where = f"{rule_name}: config[{self.name!r}]"
        if self.integer:
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{where} must be {self.accepted}, got {value!r}")
            return value
        if not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise ValueError(f"{where} must be a finite number, got {value!r}")
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        if not (above and below):
            raise ValueError(f"{where} must be {self.accepted}, got {value!r}")
        return value


@dataclass(frozen=True)
class UpdateRule:
    """An update rule as the registry describes it.

    Attributes
    ----------
    name : str
        The name the Solver and the experiments accept (``update_rule``).
    label : str
        A readable name (legends, controls).
    function : callable
        The public ``next_w, config = rule(w, dw, config)``.
    step : callable
        ``step(w, dw, config)``: the in-place update of ``w`` and of the state
        arrays of a config made by :func:`prepare_config`; no validation.
    hyperparameters : tuple of Hyperparameter
        Every number the config may hold, with its default; the first is the
        learning rate.
    state : tuple of str
        The state arrays (zeros like ``w`` at first).
    counters : tuple of Hyperparameter
        Integer state that is not an array (Adam's ``t``).
    adaptive : bool
        Whether the rule scales each weight's step by its own gradient history
        (RMSProp, Adam): such rules take learning rates of another order of
        magnitude, and the apps give them their own learning-rate control.
    chapter : str
        Where the book introduces it.
    """

    name: str
    label: str
    function: Callable
    step: Callable
    hyperparameters: tuple
    state: tuple = ()
    counters: tuple = ()
    adaptive: bool = False
    chapter: str = ""
    _by_key: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self):
        for h in (*self.hyperparameters, *self.counters):
            self._by_key[h.name] = h

    @property
    def defaults(self):
        """``{key: default}`` of the hyperparameters and counters."""
        return {h.name: h.default for h in (*self.hyperparameters, *self.counters)}

    @property
    def keys(self):
        """Every key a config of this rule may hold."""
        return (*self.defaults, *self.state)

    def hyperparameter(self, key):
        """The :class:`Hyperparameter` (or counter) named ``key``."""
        return self._by_key[key]

    def check(self, config, name="config"):
        """Check the numbers of ``config`` (a mapping) without filling anything in.

        Unknown keys and values outside a hyperparameter's range are errors
        naming ``name``, the key and what is accepted; state arrays are not
        looked at. Returns a new dict with the same entries.
        """
        if not isinstance(config, Mapping):
            raise TypeError(f"{name} must be a dict or None, got {type(config).__name__}")
        unknown = sorted(set(config) - set(self.keys), key=str)
        if unknown:
            raise ValueError(
                f"{self.name}: unknown config key(s) {unknown}; accepted keys: {list(self.keys)}"
            )
        for key, value in config.items():
            if key in self._by_key:
                self._by_key[key].check(self.name, value)
        return dict(config)


def _rule(rule_name):
    try:
        return RULES[rule_name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown update rule {rule_name!r}; known update rules: {list(RULES)}"
        ) from None


def prepare_config(rule_name, config, w):
    """Fill in defaults and fresh, private copies of the state arrays of a rule's config.

    Validates every key before any work: unknown keys (a typo such as ``lr``,
    or a Solver option like ``print_every`` passed inside ``optim_config``),
    negative learning rates, momentum or decay rates outside [0, 1) and state
    arrays of the wrong shape are errors. The accepted keys and ranges are the
    rule's entry in :data:`RULES`.

    Parameters
    ----------
    rule_name : str
        A key of :data:`RULES`.
    config : dict or None
        Updated in place (defaults added, state arrays replaced by copies) and
        returned; None starts a new dict.
    w : ndarray
        The weights, for the shape and dtype of the state arrays.

    Returns
    -------
    config : dict
    """
    rule = _rule(rule_name)
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict or None, got {type(config).__name__}")
    rule.check(config)
    return prepare_checked_config(rule_name, config, w)


def prepare_checked_config(rule_name, config, w):
    """:func:`prepare_config` for a config whose numbers are already validated.

    For trainers that validated every hyperparameter once (a
    :class:`~nndl_lab.experiments.TrainingConfig`, the batched trainer's
    arguments): fills in the defaults and fresh copies of the state arrays
    without checking the numbers again; state arrays of the wrong shape are
    still an error.

    Parameters
    ----------
    rule_name : str
        A key of :data:`RULES`.
    config : dict
        Updated in place and returned.
    w : ndarray
        The weights, for the shape and dtype of the state arrays.

    Returns
    -------
    config : dict
    """
    rule = RULES[rule_name]
    for key, default in rule.defaults.items():
        config.setdefault(key, default)
    for key in rule.state:
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


#: Patterns of :func:`parameter_configs` that name the biases and batchnorm's gamma and
#: beta of a :class:`~nndl_lab.fc_net.FullyConnectedNet`: the parameters that weight
#: decay is usually not applied to.
BIAS_AND_NORMALIZATION = ("b*", "gamma*", "beta*")


def check_overrides(rule_name, overrides, name="optim_overrides"):
    """Validate per-parameter overrides ``{pattern: {key: value}}``; return a plain copy.

    A pattern is an ``fnmatch`` pattern over parameter names (``"b*"``), or a
    tuple of them (``BIAS_AND_NORMALIZATION``); each value is checked against
    the rule's hyperparameters like a config.
    """
    rule = _rule(rule_name)
    if overrides is None:
        return {}
    if not isinstance(overrides, Mapping):
        raise TypeError(
            f"{name} must be a dict {{pattern: {{hyperparameter: value}}}} or None, "
            f"got {type(overrides).__name__}"
        )
    checked = {}
    for pattern, values in overrides.items():
        patterns = (pattern,) if isinstance(pattern, str) else pattern
        if not isinstance(patterns, tuple) or not all(isinstance(p, str) for p in patterns):
            raise TypeError(
                f"{name}: a key must be a parameter-name pattern such as 'b*' (or a tuple "
                f"of them), got {pattern!r}"
            )
        try:
            values = rule.check(values, name=f"{name}[{pattern!r}]")
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{name}[{pattern!r}]: {exc}") from None
        if set(values) & set(rule.state):
            raise ValueError(
                f"{name}[{pattern!r}]: only hyperparameters can be overridden, "
                f"not the state {sorted(set(values) & set(rule.state))}"
            )
        checked[patterns] = values
    return checked


def parameter_configs(rule_name, optim_config, names, overrides=None):
    """One config per parameter: ``optim_config`` updated by the overrides that match.

    Later patterns win over earlier ones. The configs are validated but not
    prepared (no state arrays yet; see :func:`prepare_config`).

    Parameters
    ----------
    rule_name : str
    optim_config : dict or None
    names : iterable of str
        The parameter names (``W1``, ``b1``, ``gamma1``, ...).
    overrides : dict {pattern or tuple of patterns: dict}, optional
        E.g. ``{BIAS_AND_NORMALIZATION: {"learning_rate": 0.0}}``.

    Returns
    -------
    dict {name: dict}
    """
    base = _rule(rule_name).check(optim_config or {}, name="optim_config")
    return resolve_parameter_configs(base, names, check_overrides(rule_name, overrides))


def resolve_parameter_configs(optim_config, names, overrides=None):
    """:func:`parameter_configs` for a config and overrides already validated.

    Parameters
    ----------
    optim_config : dict or None
    names : iterable of str
    overrides : dict {pattern or tuple of patterns: dict}, optional

    Returns
    -------
    dict {name: dict}
    """
    resolved = [
        ((patterns,) if isinstance(patterns, str) else patterns, values)
        for patterns, values in (overrides or {}).items()
    ]
    configs = {}
    for param in names:
        config = dict(optim_config or {})
        for patterns, values in resolved:
            if any(fnmatch.fnmatchcase(param, p) for p in patterns):
                config.update(values)
        configs[param] = config
    return configs


def _apply(rule_name, w, dw, config):
    w = np.asarray(w)
    dw = np.asarray(dw)
    if w.shape != dw.shape:
        raise ValueError(f"{rule_name}: dw has shape {dw.shape} but w has shape {w.shape}")
    if not np.issubdtype(w.dtype, np.floating):
        raise TypeError(f"{rule_name}: w must be a floating-point array, got dtype {w.dtype}")
    config = prepare_config(rule_name, config, w)
    next_w = w.copy()
    RULES[rule_name].step(next_w, dw, config)
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


def _learning_rate(default):
    return Hyperparameter("learning_rate", default, "learning rate")


_MOMENTUM = Hyperparameter("momentum", 0.9, "momentum", 0.0, 1.0)
_EPSILON = Hyperparameter("epsilon", 1e-8, "epsilon", low_open=True)

#: The registry: every update rule by name, in the order the book introduces them.
RULES = {
    rule.name: rule
    for rule in (
        UpdateRule(
            "sgd",
            "SGD",
            sgd,
            _sgd_step,
            (_learning_rate(1e-2),),
            chapter="2",
        ),
        UpdateRule(
            "sgd_momentum",
            "momentum",
            sgd_momentum,
            _sgd_momentum_step,
            (_learning_rate(1e-2), _MOMENTUM),
            state=("velocity",),
            chapter="2",
        ),
        UpdateRule(
            "sgd_nesterov_momentum",
            "Nesterov",
            sgd_nesterov_momentum,
            _sgd_nesterov_momentum_step,
            (_learning_rate(1e-2), _MOMENTUM),
            state=("velocity",),
            chapter="3",
        ),
        UpdateRule(
            "rmsprop",
            "RMSProp",
            rmsprop,
            _rmsprop_step,
            (
                _learning_rate(1e-2),
                Hyperparameter("decay_rate", 0.99, "decay rate", 0.0, 1.0),
                _EPSILON,
            ),
            state=("a",),
            adaptive=True,
            chapter="4",
        ),
        UpdateRule(
            "adam",
            "Adam",
            adam,
            _adam_step,
            (
                _learning_rate(1e-3),
                Hyperparameter("beta1", 0.9, "beta1", 0.0, 1.0),
                Hyperparameter("beta2", 0.999, "beta2", 0.0, 1.0),
                _EPSILON,
            ),
            state=("v", "a"),
            counters=(Hyperparameter("t", 0, "step count", integer=True),),
            adaptive=True,
            chapter="5",
        ),
    )
}

#: The update rules by name, as :class:`nndl_lab.solver.Solver` accepts them.
UPDATE_RULES = {name: rule.function for name, rule in RULES.items()}


def inplace_step(rule_name):
    """The in-place step function behind a named rule (for trainers that own their arrays).

    ``step(w, dw, config)`` updates ``w`` and the state arrays of a config made
    by :func:`prepare_config` in place; it does no validation.
    """
    return _rule(rule_name).step
