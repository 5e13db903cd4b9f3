"""Loss-surface trajectories: the update rules stepping on a 2-D surface.

The paths come from :func:`nndl_lab.experiments.optimize_surface`, which runs
the very step functions of :mod:`nndl_lab.optim` that train the nets.
"""

from __future__ import annotations

import numpy as np

from nndl_lab import experiments as E
from nndl_lab import optim

from ._common import (
    ADAPTIVE_RULES,
    MOMENTUM_RULES,
    RULE_COLORS,
    RULE_LABELS,
    RULES,
    apply_overrides,
    int_ladder,
    live_number,
    live_rules,
    log_ladder,
    no_rule_message,
    rule_list,
    style_axes,
)
from ._common import rule_config as common_rule_config
from .canvas import Plot, run_flags
from .core import App, Grid

#: Per surface: the learning-rate grid of the SGD family, its default, the
#: default number of steps, the RMSProp/Adam learning rate and contour levels.
SURFACE_DEFAULTS = {
    "quadratic": {
        "learning_rates": [0.005, 0.01, 0.02, 0.03, 0.04, 0.05],
        "learning_rate": 0.02,
        "num_steps": 100,
        "adaptive_learning_rate": 0.1,
        "levels": np.logspace(-2, 2, 13),
    },
    "rosenbrock": {
        "learning_rates": [1e-4, 3e-4, 5e-4, 1e-3, 2e-3, 3e-3],
        "learning_rate": 1e-3,
        "num_steps": 300,
        "adaptive_learning_rate": 0.1,
        "levels": np.logspace(-1, 3.5, 16),
    },
}

MOMENTA = [0.5, 0.7, 0.9, 0.95]
#: The rules that take the (non-adaptive) learning rate control, in the registry's order.
NON_ADAPTIVE_RULES = tuple(rule for rule in RULES if rule not in ADAPTIVE_RULES)
#: The loss axis shows at most this many decades below the start.
LOSS_DECADES = 12


def rule_config(rule: str, setting) -> dict:
    """The optim_config of one rule for a setting of this app.

    Adaptive rules (per-weight step sizes, e.g. RMSProp and Adam) take the
    adaptive learning rate; the others the learning rate, and the momentum
    when the rule has one (from the registry, :data:`nndl_lab.optim.RULES`).
    """
    if optim.RULES[rule].adaptive:
        return {"learning_rate": setting["adaptive_learning_rate"]}
    return common_rule_config(rule, setting["learning_rate"], setting["momentum"])


def compute(data, setting) -> dict:
    """``{rule: optimize_surface(...)}`` for every selected rule ({} with none)."""
    return {
        rule: E.optimize_surface(
            setting["surface"],
            rule,
            rule_config(rule, setting),
            start=setting["start"],
            num_steps=setting["num_steps"],
        )
        for rule in setting["rules"]
    }


class SurfacePlot(Plot):
    figsize = (9.0, 4.2)
    top = 0.68

    def setup(self):
        self.fig.subplots_adjust(
            left=0.07, right=0.98, bottom=self.bottom, top=self.top, wspace=0.22
        )
        self.ax_path, self.ax_loss = self.fig.subplots(1, 2)
        self.surface = None
        self.contour = None
        self.paths, self.losses = {}, {}
        for rule in RULES:
            color, label = RULE_COLORS[rule], RULE_LABELS[rule]
            (self.paths[rule],) = self.ax_path.plot(
                [], [], "-o", color=color, lw=1.4, ms=2, label=label, gid=f"path/{rule}"
            )
            (self.losses[rule],) = self.ax_loss.plot(
                [], [], color=color, lw=1.4, label=label, gid=f"loss/{rule}"
            )
        (self.start,) = self.ax_path.plot([], [], "ks", ms=6, label="start")
        (self.minimum,) = self.ax_path.plot([], [], "k*", ms=10, label="minimum")
        style_axes(self.ax_loss, "loss per step", "step", "loss (log scale)")
        self.ax_loss.set_yscale("log")

    def _draw_surface(self, name):
        surface = E.SURFACES[name]
        if self.contour is not None:
            self.contour.remove()
        x = np.linspace(*surface.xlim, 200)
        y = np.linspace(*surface.ylim, 150)
        X, Y = np.meshgrid(x, y)
        Z = surface.f(np.stack([X, Y], axis=-1))
        levels = SURFACE_DEFAULTS.get(name, {}).get("levels", np.logspace(-2, 3, 14))
        self.contour = self.ax_path.contour(
            X, Y, Z, levels=levels, colors="#8c8c8c", linewidths=0.8
        )
        self.ax_path.set_xlim(surface.xlim)
        self.ax_path.set_ylim(surface.ylim)
        self.minimum.set_data([surface.minimum[0]], [surface.minimum[1]])
        style_axes(self.ax_path, surface.description.split(",")[0], "w[0]", "w[1]")
        self.ax_path.grid(False)
        self.surface = name

    def update(self, result, setting):
        if self.surface != setting["surface"]:
            self._draw_surface(setting["surface"])
        start = (
            E.SURFACES[setting["surface"]].start if setting["start"] is None else setting["start"]
        )
        self.start.set_data([start[0]], [start[1]])
        finite_losses = []
        for rule in RULES:
            run = result.get(rule)
            self.paths[rule].set_visible(run is not None)
            self.losses[rule].set_visible(run is not None)
            if run is None:
                continue
            path, loss = run["path"], run["loss"]
            self.paths[rule].set_data(path[:, 0], path[:, 1])
            self.losses[rule].set_data(np.arange(len(loss)), loss)
            finite_losses.append(loss[np.isfinite(loss) & (loss > 0)])
        self.ax_loss.set_xlim(0, setting["num_steps"])
        values = np.concatenate(finite_losses) if finite_losses else np.array([])
        if values.size:
            # from the lowest loss reached (at most LOSS_DECADES down) to a little
            # above the start; a path that blows up leaves through the top
            first = max(loss[0] for loss in finite_losses if loss.size)
            lo = max(values.min(), 10.0**-LOSS_DECADES * first)
            hi = min(values.max(), 1e3 * first)
            self.ax_loss.set_ylim(lo / 3, max(hi * 3, lo * 10))

    def legend_handles(self):
        return [self.losses[r] for r in RULES] + [self.start, self.minimum]

    def title(self, setting):
        steps = setting["num_steps"]
        return (
            f"{setting['surface']}, full-batch gradient steps: {rule_list(NON_ADAPTIVE_RULES)} at "
            f"learning rate {setting['learning_rate']:.3g}, momentum "
            f"{setting['momentum']:.3g}; {rule_list(ADAPTIVE_RULES)} at learning rate "
            f"{setting['adaptive_learning_rate']:.3g}; {steps} steps"
        )

    def messages(self, result, setting):
        lines = no_rule_message(setting)
        for rule in RULES:
            run = result.get(rule)
            if run is not None:
                lines += run_flags(
                    RULE_LABELS[rule],
                    run["loss"],
                    step_word="step",
                    first=0,
                    num_classes=None,
                    diverged_at=run["diverged_at"],
                )
        return lines


def loss_surface(
    data=None,
    *,
    surface: str = "quadratic",
    grid: bool = True,
    threaded: bool = True,
    **overrides,
) -> App:
    """The update rules' paths on a 2-D surface, over its contour lines.

    Opens on chapter 3's settings: on the bowl, learning rate 0.02 and
    momentum 0.9 for 100 steps; on the Rosenbrock valley, 1e-3 and 0.9 for
    300 steps; RMSProp and Adam at 0.1. Grid (static page): learning rate of
    SGD/momentum/Nesterov (6 values; in a live kernel any value in range) ×
    momentum (4 values). Live only: the number of steps, the RMSProp/Adam
    learning rate and the rules shown.

    Parameters
    ----------
    data : ignored
        Accepted for a uniform signature (the surfaces need no data).
    surface : {"quadratic", "rosenbrock"}
        The ill-conditioned bowl (condition number 50) or the Rosenbrock valley.
    grid, threaded : see :class:`widgets.core.App`.
    **overrides
        Defaults of the controls (``learning_rate``, ``momentum``,
        ``num_steps``, ``adaptive_learning_rate``, ``rules``; the values
        :meth:`widgets.core.App.set` accepts) or ``start`` (a 2-vector).
    """
    if surface not in SURFACE_DEFAULTS:
        raise ValueError(f"surface must be one of {list(SURFACE_DEFAULTS)}, got {surface!r}")
    d = SURFACE_DEFAULTS[surface]
    controls = [
        Grid(
            "learning_rate",
            d["learning_rates"],
            d["learning_rate"],
            "learning rate η",
            any_value="float",
            tooltip=f"step size of {rule_list(NON_ADAPTIVE_RULES)} (full-batch gradient)",
        ),
        Grid(
            "momentum",
            MOMENTA,
            0.9,
            "momentum μ",
            any_value="float",
            lo=0.0,
            hi=0.99,
            tooltip=f"momentum of the rules that have one ({rule_list(MOMENTUM_RULES)}), 0 to 0.99",
        ),
        live_number(
            "num_steps",
            "steps",
            d["num_steps"],
            int_ladder(10, 1000),
            integer=True,
            tooltip="number of gradient steps (10 to 1,000)",
        ),
        live_number(
            "adaptive_learning_rate",
            f"{'/'.join(RULE_LABELS[rule] for rule in ADAPTIVE_RULES)} η",
            d["adaptive_learning_rate"],
            log_ladder(1e-3, 1.0),
            tooltip=f"learning rate of {rule_list(ADAPTIVE_RULES)} (1e-3 to 1, log scale)",
        ),
        live_rules("rules", "rules", RULES, RULES, tooltip="the update rules drawn"),
    ]
    fixed = {"surface": surface, "start": None}
    apply_overrides("loss_surface", controls, fixed, overrides)
    return App(
        f"loss-surface-{surface}",
        f"Update rules on the {E.SURFACES[surface].description}",
        controls,
        compute,
        SurfacePlot,
        data,
        fixed=fixed,
        grid=grid,
        threaded=threaded,
        # the contour lines need few colours, and chapter 3 carries 2 x 24 frames
        colors=32,
        dpi=80,
    )
