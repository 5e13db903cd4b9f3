r"""Optimizer paths and the momentum convergence map, computed in the page.

An `anywidget <https://anywidget.dev>`_ whose front end (``paths.js``) computes
and draws everything in the browser, for any value of its controls: the paths of
SGD, momentum, Nesterov, RMSProp and Adam on a 2-D surface (with seeded gradient
noise and a start point the reader drags), their loss per step, the convergence
map of the heavy ball or Nesterov over the (learning rate, momentum) plane of a
quadratic with condition number :math:`\kappa`, and the error along each
eigen-direction. It needs no kernel: the static HTML book redraws every frame
while a slider moves, and in JupyterLab the same widget is live (its traits are
ordinary synced traitlets).

The JavaScript is a transcription of the engine, operation for operation:
:func:`nndl_lab.experiments.surfaces.surface_paths` (the surfaces, the noise and
the step functions of :mod:`nndl_lab.optim`) and :mod:`nndl_lab.experiments.rates`.
The browser tests compare the two for random settings (bit for bit but for
Adam's ``beta ** t``, which CPython takes from the C library's ``pow``).
:meth:`OptimizerPaths.paths` and :meth:`OptimizerPaths.rate` give the Python
numbers for the widget's current setting.

Book: chapter 2 (the convergence map, momentum paths), chapter 3 (Nesterov's map
and paths), chapter 4 (RMSProp on the rotated bowl), chapter 5 (Adam; the saddle
and gradient noise).
"""

from __future__ import annotations

import math
import numbers
import pathlib

import anywidget
import traitlets

from nndl_lab.experiments import rates
from nndl_lab.experiments.surfaces import PAGE_SURFACES, PATH_RULES, make_surface, surface_paths

__all__ = ["OptimizerPaths", "optimizer_paths", "momentum_rate_map", "PANELS"]

_HERE = pathlib.Path(__file__).resolve().parent

#: The panels a widget can show: the paths over the contours, the loss per step,
#: the convergence map and the error per eigen-direction.
PANELS = ("paths", "loss", "map", "eigen")

_LABELS = {
    "quadratic": "ill-conditioned bowl",
    "rotated": "rotated bowl",
    "rosenbrock": "Rosenbrock valley",
    "saddle": "saddle",
}
# log10 of the lowest and highest contour level drawn
_LOG_LEVELS = {
    "quadratic": (-2.0, 2.0),
    "rotated": (-2.0, 2.0),
    "rosenbrock": (-1.0, 3.5),
    "saddle": (-2.5, 0.6),
}

_REAL_TRAITS = {
    # name: (low, high, low open, high open)
    "kappa": (1.0, 1e6, False, False),
    "learning_rate": (0.0, math.inf, False, True),
    "momentum": (0.0, 1.0, False, True),
    "adaptive_learning_rate": (0.0, math.inf, False, True),
    "decay_rate": (0.0, 1.0, False, True),
    "beta1": (0.0, 1.0, False, True),
    "beta2": (0.0, 1.0, False, True),
    "epsilon": (0.0, math.inf, True, True),
    "noise": (0.0, math.inf, False, True),
}


def _surface_table():
    table = {}
    for name in PAGE_SURFACES:
        surface = make_surface(name)
        table[name] = {
            "label": _LABELS[name],
            "description": surface.description,
            "start": [float(v) for v in surface.start],
            "minimum": [float(v) for v in surface.minimum],
            "xlim": [float(v) for v in surface.xlim],
            "ylim": [float(v) for v in surface.ylim],
            "log_levels": list(_LOG_LEVELS[name]),
        }
    return table


def _check_real(name, value):
    low, high, low_open, high_open = _REAL_TRAITS[name]
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{name} must be a number, got {value!r}")
    value = float(value)
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if math.isnan(value) or too_low or too_high:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ValueError(f"{name} must be in {interval}, got {value!r}")
    return value


class OptimizerPaths(anywidget.AnyWidget):
    r"""The optimizer paths and the convergence map, drawn by the page (see the module).

    Every trait is synced with the page, so moving a control in the browser
    changes the trait in a live kernel and setting a trait from Python redraws
    the page. Invalid values raise ``ValueError``/``TypeError`` naming the trait.

    Book: chapters 2–5.

    Attributes
    ----------
    panels : list of str
        Which of ``PANELS`` to show, in that order of the page.
    surface : str
        ``"quadratic"``, ``"rotated"``, ``"rosenbrock"`` or ``"saddle"``.
    kappa : float
        Condition number of the bowls and of the map's quadratic (eigenvalues 1 … κ).
    learning_rate, momentum : float
        SGD, momentum and Nesterov (and the point marked on the map).
    adaptive_learning_rate, decay_rate, beta1, beta2, epsilon : float
        RMSProp (``decay_rate``) and Adam (``beta1``, ``beta2``); both ``epsilon``.
    num_steps : int
        1 to 10,000.
    noise : float
        Standard deviation of the gradient noise per coordinate.
    seed : int
        Seed of the noise, in [0, 2**32 - 1].
    start : list of float
        The start point ``[x, y]``; reset to the surface's start when ``surface``
        changes.
    rules : list of str
        The rules drawn (the page's legend toggles them).
    map_rule : str
        ``"sgd_momentum"`` or ``"sgd_nesterov_momentum"``: the rule of the convergence
        map and of the eigen-direction panel.
    """

    _esm = _HERE / "paths.js"
    _css = _HERE / "paths.css"
    _surfaces = traitlets.Dict(_surface_table()).tag(sync=True)

    panels = traitlets.List(traitlets.Unicode(), default_value=["paths", "loss"]).tag(sync=True)
    surface = traitlets.Unicode("quadratic").tag(sync=True)
    kappa = traitlets.Float(50.0).tag(sync=True)
    learning_rate = traitlets.Float(0.02).tag(sync=True)
    momentum = traitlets.Float(0.9).tag(sync=True)
    adaptive_learning_rate = traitlets.Float(0.1).tag(sync=True)
    decay_rate = traitlets.Float(0.99).tag(sync=True)
    beta1 = traitlets.Float(0.9).tag(sync=True)
    beta2 = traitlets.Float(0.999).tag(sync=True)
    epsilon = traitlets.Float(1e-8).tag(sync=True)
    num_steps = traitlets.Int(100).tag(sync=True)
    noise = traitlets.Float(0.0).tag(sync=True)
    seed = traitlets.Int(0).tag(sync=True)
    start = traitlets.List(traitlets.Float(), default_value=[-4.0, 1.0]).tag(sync=True)
    rules = traitlets.List(traitlets.Unicode(), default_value=list(PATH_RULES)).tag(sync=True)
    map_rule = traitlets.Unicode("sgd_momentum").tag(sync=True)

    @traitlets.validate(*_REAL_TRAITS)
    def _validate_real(self, proposal):
        return _check_real(proposal["trait"].name, proposal["value"])

    @traitlets.validate("panels")
    def _validate_panels(self, proposal):
        value = list(proposal["value"])
        if not value or any(p not in PANELS for p in value) or len(set(value)) != len(value):
            raise ValueError(f"panels must be distinct names from {list(PANELS)}, got {value!r}")
        return value

    @traitlets.validate("surface")
    def _validate_surface(self, proposal):
        if proposal["value"] not in PAGE_SURFACES:
            raise ValueError(
                f"surface must be one of {list(PAGE_SURFACES)}, got {proposal['value']!r}"
            )
        return proposal["value"]

    @traitlets.validate("num_steps")
    def _validate_num_steps(self, proposal):
        value = proposal["value"]
        if not 1 <= value <= 10_000:
            raise ValueError(f"num_steps must be an integer in [1, 10000], got {value!r}")
        return value

    @traitlets.validate("seed")
    def _validate_seed(self, proposal):
        value = proposal["value"]
        if not 0 <= value <= 2**32 - 1:
            raise ValueError(f"seed must be an integer in [0, 2**32 - 1], got {value!r}")
        return value

    @traitlets.validate("start")
    def _validate_start(self, proposal):
        value = list(proposal["value"])
        if len(value) != 2 or not all(math.isfinite(v) for v in value):
            raise ValueError(f"start must be two finite numbers [x, y], got {value!r}")
        return value

    @traitlets.validate("rules")
    def _validate_rules(self, proposal):
        value = list(proposal["value"])
        if any(r not in PATH_RULES for r in value):
            raise ValueError(f"rules must be names from {list(PATH_RULES)}, got {value!r}")
        return [r for r in PATH_RULES if r in value]

    @traitlets.validate("map_rule")
    def _validate_map_rule(self, proposal):
        if proposal["value"] not in rates.MOMENTUM_RULES:
            raise ValueError(
                f"map_rule must be one of {list(rates.MOMENTUM_RULES)}, got {proposal['value']!r}"
            )
        return proposal["value"]

    @traitlets.observe("surface")
    def _reset_start(self, change):
        start = self._surfaces[change["new"]]["start"]
        if list(self.start) != start:
            self.start = list(start)

    def setting(self) -> dict:
        """The keyword arguments of :func:`~nndl_lab.experiments.surfaces.surface_paths`.

        For the widget's current setting (all five rules).
        """
        return {
            "surface": self.surface,
            "kappa": self.kappa,
            "learning_rate": self.learning_rate,
            "momentum": self.momentum,
            "adaptive_learning_rate": self.adaptive_learning_rate,
            "decay_rate": self.decay_rate,
            "beta1": self.beta1,
            "beta2": self.beta2,
            "epsilon": self.epsilon,
            "num_steps": self.num_steps,
            "noise": self.noise,
            "seed": self.seed,
            "start": list(self.start),
        }

    def paths(self) -> dict:
        """``{rule: run}`` computed by the engine for the current setting (what the page draws)."""
        return surface_paths(**self.setting())

    def rate(self) -> float:
        """The worst-case rate of ``map_rule`` at the current learning rate and momentum."""
        return float(
            rates.worst_case_rate(self.map_rule, self.learning_rate, self.momentum, 1.0, self.kappa)
        )


def optimizer_paths(surface="quadratic", *, panels=("paths", "loss"), **settings):
    r"""The five update rules' paths on a 2-D surface, and their loss, drawn by the page.

    Continuous controls for every hyperparameter (learning rates, momentum, ρ,
    β₁, β₂, ε), the number of steps, the gradient noise and its seed, the
    surface and its condition number; drag (or click, or move with the arrow
    keys) the start point on the contour plot; the legend toggles the rules.

    Book: chapter 3 (the ill-conditioned bowl and Rosenbrock, replacing the
    precomputed ``loss_surface`` app), chapter 4 (the rotated bowl), chapter 5
    (Adam's β₁/β₂/ε on the surfaces; the saddle with gradient noise).

    Parameters
    ----------
    surface : {"quadratic", "rotated", "rosenbrock", "saddle"}
    panels : sequence of str, default ("paths", "loss")
        From ``PANELS``.
    **settings
        Initial values of the traits of :class:`OptimizerPaths` (``learning_rate``,
        ``momentum``, ``adaptive_learning_rate``, ``decay_rate``, ``beta1``,
        ``beta2``, ``epsilon``, ``num_steps``, ``noise``, ``seed``, ``start``,
        ``kappa``, ``rules``, ``map_rule``). Defaults per surface: the bowls use
        learning rate 0.02 and 100 steps; Rosenbrock 1e-3 and 300 steps; the saddle
        0.1 and 100 steps.

    Returns
    -------
    OptimizerPaths
    """
    defaults = {
        "quadratic": {"learning_rate": 0.02, "num_steps": 100},
        "rotated": {"learning_rate": 0.02, "num_steps": 100},
        "rosenbrock": {"learning_rate": 1e-3, "num_steps": 300, "adaptive_learning_rate": 0.05},
        "saddle": {"learning_rate": 0.1, "num_steps": 100},
    }
    if surface not in PAGE_SURFACES:
        raise ValueError(f"surface must be one of {list(PAGE_SURFACES)}, got {surface!r}")
    return _build(panels, {"surface": surface, **settings}, defaults[surface])


def momentum_rate_map(
    kappa=50.0, *, rule="sgd_momentum", panels=("map", "eigen", "paths"), **settings
):
    r"""The convergence map of momentum on a quadratic, with the paths it predicts.

    The heat map is the worst-case rate (:func:`nndl_lab.experiments.rates.worst_case_rate`)
    of the heavy ball or Nesterov over the (learning rate, momentum) plane for
    eigenvalues 1 … κ, with the stability limit, the critical-damping lines of the
    flattest and steepest directions and the optimum
    (:func:`~nndl_lab.experiments.rates.optimal_parameters`) drawn. A click on
    the map sets the learning rate and momentum of the other panels: the error
    along each eigen-direction over the steps, and the paths of SGD, momentum and
    Nesterov on the bowl with the same κ.

    Book: chapter 2 (the heavy ball's map and its optimum), chapter 3 (Nesterov's).

    Parameters
    ----------
    kappa : float, default 50.0
        The condition number, in [1, 1e6].
    rule : {"sgd_momentum", "sgd_nesterov_momentum"}
        The rule of the map (the page can switch it).
    panels : sequence of str, default ("map", "eigen", "paths")
    **settings
        Initial values of other traits of :class:`OptimizerPaths`.

    Returns
    -------
    OptimizerPaths
    """
    defaults = {
        "surface": "quadratic",
        "rules": ["sgd", "sgd_momentum", "sgd_nesterov_momentum"],
        "num_steps": 100,
    }
    return _build(panels, {"kappa": kappa, "map_rule": rule, **settings}, defaults)


_SETTINGS = (
    "surface",
    "kappa",
    "learning_rate",
    "momentum",
    "adaptive_learning_rate",
    "decay_rate",
    "beta1",
    "beta2",
    "epsilon",
    "num_steps",
    "noise",
    "seed",
    "start",
    "rules",
    "map_rule",
)


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _build(panels, settings, defaults):
    """Check every setting, then make the widget (nothing is shown for a bad value)."""
    unknown = sorted(set(settings) - set(_SETTINGS))
    if unknown:
        raise TypeError(f"unknown setting(s) {unknown}; accepted: {list(_SETTINGS)}")
    values = {**defaults, **settings}
    if isinstance(panels, str) or not all(isinstance(p, str) for p in panels):
        raise TypeError(f"panels must be a sequence of names from {list(PANELS)}, got {panels!r}")
    panels = list(panels)
    if not panels or any(p not in PANELS for p in panels) or len(set(panels)) != len(panels):
        raise ValueError(f"panels must be distinct names from {list(PANELS)}, got {panels!r}")
    for name in _REAL_TRAITS:
        if name in values:
            values[name] = _check_real(name, values[name])
    surface = values.get("surface", "quadratic")
    if surface not in PAGE_SURFACES:
        raise ValueError(f"surface must be one of {list(PAGE_SURFACES)}, got {surface!r}")
    for name, high in (("num_steps", 10_000), ("seed", 2**32 - 1)):
        low = 1 if name == "num_steps" else 0
        if name in values and (not _is_int(values[name]) or not low <= values[name] <= high):
            raise ValueError(f"{name} must be an integer in [{low}, {high}], got {values[name]!r}")
    if "start" in values:
        start = values["start"]
        try:
            start = [float(v) for v in start]
        except (TypeError, ValueError):
            raise TypeError(f"start must be two numbers [x, y], got {values['start']!r}") from None
        if len(start) != 2 or not all(math.isfinite(v) for v in start):
            raise ValueError(f"start must be two finite numbers [x, y], got {values['start']!r}")
        values["start"] = start
    else:
        values["start"] = _surface_table()[surface]["start"]
    if "rules" in values:
        rules = values["rules"]
        if isinstance(rules, str) or any(r not in PATH_RULES for r in rules):
            raise ValueError(
                f"rules must be a list of names from {list(PATH_RULES)}, got {rules!r}"
            )
        values["rules"] = list(rules)
    if "map_rule" in values and values["map_rule"] not in rates.MOMENTUM_RULES:
        raise ValueError(
            f"rule must be one of {list(rates.MOMENTUM_RULES)}, got {values['map_rule']!r}"
        )
    start = values.pop("start")
    widget = OptimizerPaths(panels=panels, **values)
    widget.start = start  # after the surface, whose change resets the start
    return widget
