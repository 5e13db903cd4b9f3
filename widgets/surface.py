"""Loss-surface trajectories: the update rules stepping on a 2-D surface.

The paths come from :func:`nndl_lab.experiments.optimize_surface`, which runs
the very step functions of :mod:`nndl_lab.optim` that train the nets.
"""

from __future__ import annotations

import numpy as np

from nndl_lab import experiments as E
from nndl_lab import optim

from ._common import (
    LABEL_SIZE,
    RULE_COLORS,
    RULE_LABELS,
    RULES,
    apply_overrides,
    live_int,
    live_log,
    live_rules,
    style_axes,
)
from .core import App, Grid, Plot

#: Per surface: the learning-rate grid of the SGD family, its default, the
#: default number of steps, the RMSProp/Adam learning rate and contour levels.
SURFACE_DEFAULTS = {
    "quadratic": {
        "learning_rates": [0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.04, 0.05],
        "learning_rate": 0.01,
        "num_steps": 100,
        "adaptive_learning_rate": 0.1,
        "levels": np.logspace(-2, 2, 13),
    },
    "rosenbrock": {
        "learning_rates": [1e-4, 2e-4, 3e-4, 5e-4, 7e-4, 1e-3, 2e-3, 3e-3],
        "learning_rate": 1e-3,
        "num_steps": 300,
        "adaptive_learning_rate": 0.1,
        "levels": np.logspace(-1, 3.5, 16),
    },
}

MOMENTA = [0.5, 0.7, 0.9, 0.95]


def rule_config(rule: str, setting) -> dict:
    """The optim_config of one rule for a setting of this app.

    Adaptive rules (per-weight step sizes, e.g. RMSProp and Adam) take the
    adaptive learning rate; the others the learning rate, and the momentum
    when the rule has one (from the registry, :data:`nndl_lab.optim.RULES`).
    """
    spec = optim.RULES[rule]
    if spec.adaptive:
        return {"learning_rate": setting["adaptive_learning_rate"]}
    config = {"learning_rate": setting["learning_rate"]}
    if any(h.name == "momentum" for h in spec.hyperparameters):
        config["momentum"] = setting["momentum"]
    return config


def compute(data, setting) -> dict:
    """``{rule: optimize_surface(...)}`` for every selected rule."""
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
    figsize = (8.0, 3.0)

    def setup(self):
        self.fig.subplots_adjust(left=0.07, right=0.98, bottom=0.16, top=0.9, wspace=0.25)
        self.ax_path, self.ax_loss = self.fig.subplots(1, 2)
        self.surface = None
        self.contour = None
        self.paths, self.losses = {}, {}
        for rule in RULES:
            color, label = RULE_COLORS[rule], RULE_LABELS[rule]
            (self.paths[rule],) = self.ax_path.plot(
                [], [], "-o", color=color, lw=1.2, ms=1.5, label=label, gid=f"path/{rule}"
            )
            (self.losses[rule],) = self.ax_loss.plot(
                [], [], color=color, lw=1.2, label=label, gid=f"loss/{rule}"
            )
        (self.start,) = self.ax_path.plot([], [], "ks", ms=5)
        (self.minimum,) = self.ax_path.plot([], [], "k*", ms=9)
        style_axes(self.ax_loss, "loss per step", "step", "loss (log scale)")
        self.ax_loss.set_yscale("log")

    def _draw_surface(self, name):
        surface = E.SURFACES[name]
        if self.contour is not None:
            self.contour.remove()
        x = np.linspace(*surface.xlim, 160)
        y = np.linspace(*surface.ylim, 120)
        X, Y = np.meshgrid(x, y)
        Z = surface.f(np.stack([X, Y], axis=-1))
        levels = SURFACE_DEFAULTS.get(name, {}).get("levels", np.logspace(-2, 3, 14))
        self.contour = self.ax_path.contour(
            X, Y, Z, levels=levels, colors="#999999", linewidths=0.6
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
            # from the lowest loss reached (at most 12 decades down) to a little
            # above the start; a path that blows up leaves through the top
            first = max(loss[0] for loss in finite_losses if loss.size)
            lo = max(values.min(), 1e-12 * first)
            hi = min(values.max(), 1e3 * first)
            self.ax_loss.set_ylim(lo / 3, max(hi * 3, lo * 10))
        handles = [self.losses[r] for r in RULES if r in result]
        self.ax_loss.legend(handles=handles, fontsize=LABEL_SIZE - 1, loc="upper right")
        self.ax_path.set_title(
            f"{setting['surface']}: lr {setting['learning_rate']:.3g}, "
            f"momentum {setting['momentum']:g}, "
            f"RMSProp/Adam lr {setting['adaptive_learning_rate']:.3g}",
            fontsize=LABEL_SIZE,
        )

    def messages(self, result, setting):
        lines = []
        for rule in RULES:
            run = result.get(rule)
            if run is None:
                continue
            if run["diverged_at"] is not None:
                lines.append(f"{RULE_LABELS[rule]}: diverged at iteration {run['diverged_at']}")
            else:
                loss = run["loss"]
                if loss[-1] > 1e3 * max(loss[0], 1e-12):
                    lines.append(f"{RULE_LABELS[rule]}: loss grows to {loss[-1]:.2g}")
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

    Grid (static page): learning rate of SGD/momentum/Nesterov (8 values) ×
    momentum (4 values). Live only: a continuous learning rate, the number of
    steps, the RMSProp/Adam learning rate and the rules shown.

    Parameters
    ----------
    data : ignored
        Accepted for a uniform signature (the surfaces need no data).
    surface : {"quadratic", "rosenbrock"}
        The ill-conditioned bowl (condition number 50) or the Rosenbrock valley.
    grid, threaded : see :class:`widgets.core.App`.
    **overrides
        Defaults of the controls (``learning_rate`` (a grid value),
        ``momentum`` (a grid value), ``num_steps``, ``adaptive_learning_rate``,
        ``rules``) or ``start`` (a 2-vector).
    """
    if surface not in SURFACE_DEFAULTS:
        raise ValueError(f"surface must be one of {list(SURFACE_DEFAULTS)}, got {surface!r}")
    d = SURFACE_DEFAULTS[surface]
    controls = [
        Grid(
            "learning_rate",
            d["learning_rates"],
            d["learning_rate"],
            "learning rate",
            fine="log",
        ),
        Grid("momentum", MOMENTA, 0.9, "momentum"),
        live_int("num_steps", "steps", d["num_steps"], 10, 1000, 10),
        live_log(
            "adaptive_learning_rate",
            "RMSProp/Adam learning rate",
            d["adaptive_learning_rate"],
            1e-3,
            1.0,
        ),
        live_rules("rules", "rules", RULES, RULES),
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
        colors=32,
    )
