"""Optimizer race: the same net trained with each update rule, as in the homework.

Calls :func:`nndl_lab.experiments.compare_update_rules`; three panels as in the
homework — training loss per iteration, training and validation accuracy per
epoch — one colour per rule.
"""

from __future__ import annotations

import numpy as np

from nndl_lab import experiments as E

from ._common import (
    LABEL_SIZE,
    RULE_COLORS,
    RULE_LABELS,
    RULES,
    accuracy_ylim,
    apply_overrides,
    homework_panels,
    live_choice,
    live_float,
    live_int,
    live_rules,
    resolve_data,
    set_loss_ylim,
)
from .core import App, Grid, Plot

LEARNING_RATES = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1]


def rule_configs(setting) -> dict:
    """The ``rules`` argument of compare_update_rules for a setting of this app."""
    rules = {}
    for rule in setting["rules"]:
        config = {"learning_rate": setting["learning_rate"]}
        if rule in ("sgd_momentum", "sgd_nesterov_momentum"):
            config["momentum"] = setting["momentum"]
        rules[rule] = config
    return rules


def compute(data, setting) -> dict:
    """``compare_update_rules`` for one setting: ``{rule: run}``."""
    return E.compare_update_rules(
        data,
        rule_configs(setting),
        hidden_dims=(setting["width"],) * setting["depth"],
        num_train=setting["num_train"],
        num_epochs=setting["num_epochs"],
        batch_size=setting["batch_size"],
        weight_scale=setting["weight_scale"],
        seed=setting["seed"],
    )


class RacePlot(Plot):
    figsize = (8.0, 2.9)

    def setup(self):
        self.ax_loss, self.ax_train, self.ax_val = homework_panels(self.fig)
        self.lines = {}
        for rule in RULES:
            c, label = RULE_COLORS[rule], RULE_LABELS[rule]
            self.lines[rule] = (
                self.ax_loss.plot([], [], color=c, lw=0.8, label=label, gid=f"loss/{rule}")[0],
                self.ax_train.plot([], [], "o-", color=c, ms=3, lw=1, gid=f"train/{rule}")[0],
                self.ax_val.plot([], [], "o-", color=c, ms=3, lw=1, gid=f"val/{rule}")[0],
            )

    def update(self, result, setting):
        losses, accs = [], []
        for rule in RULES:
            run = result.get(rule)
            for line in self.lines[rule]:
                line.set_visible(run is not None)
            if run is None:
                continue
            loss, train, val = run["loss_history"], run["train_acc_history"], run["val_acc_history"]
            self.lines[rule][0].set_data(np.arange(1, len(loss) + 1), loss)
            self.lines[rule][1].set_data(np.arange(len(train)), train)
            self.lines[rule][2].set_data(np.arange(len(val)), val)
            losses.append(loss)
            accs += [train, val]
        iterations = E.num_iterations(
            setting["num_train"], setting["batch_size"], setting["num_epochs"]
        )
        self.ax_loss.set_xlim(0, max(iterations, 1))
        set_loss_ylim(self.ax_loss, losses)
        for ax in (self.ax_train, self.ax_val):
            ax.set_xlim(-0.2, setting["num_epochs"] + 0.2)
            accuracy_ylim(ax, accs)
        handles = [self.lines[r][0] for r in RULES if r in result]
        self.ax_val.legend(handles=handles, fontsize=LABEL_SIZE - 1, loc="lower right")
        self.fig.suptitle(
            f"learning rate {setting['learning_rate']:.3g}, momentum {setting['momentum']:g}, "
            f"batch {setting['batch_size']}, {setting['num_train']} samples, "
            f"net {setting['depth']}×{setting['width']}",
            fontsize=LABEL_SIZE,
        )

    def messages(self, result, setting):
        return [
            f"{RULE_LABELS[r]}: diverged at iteration {run['diverged_at']}"
            for r, run in result.items()
            if run["diverged_at"] is not None
        ]


def optimizer_race(data=None, *, grid: bool = True, threaded: bool = True, **overrides) -> App:
    """SGD, momentum, Nesterov, RMSProp and Adam training the same net.

    Grid (static page): the learning rate, 8 values from 1e-4 to 0.3 (one
    learning rate for every rule). Live only: a continuous learning rate,
    momentum, batch size, epochs, training-set size, hidden width and depth,
    and the rules shown.

    Parameters
    ----------
    data : dict, optional
        From :func:`nndl_lab.data.get_data`; None uses ``get_data("auto")``.
    grid, threaded : see :class:`widgets.core.App`.
    **overrides
        Defaults of the controls (``learning_rate`` (a grid value),
        ``momentum``, ``batch_size``, ``num_epochs``, ``num_train``, ``width``,
        ``depth``, ``rules``) or ``weight_scale``, ``seed``.
    """
    data = resolve_data(data)
    n_train = len(data["X_train"])
    controls = [
        Grid("learning_rate", LEARNING_RATES, 1e-3, "learning rate", fine="log"),
        live_float("momentum", "momentum", 0.9, 0.0, 0.99, 0.01),
        live_choice("batch_size", "batch size", [25, 50, 100, 200], 100),
        live_int("num_epochs", "epochs", 3, 1, 20),
        live_int("num_train", "training samples", min(1000, n_train), 100, n_train, 50),
        live_int("width", "hidden width", 100, 10, 300, 10),
        live_int("depth", "hidden layers", 2, 1, 6),
        live_rules("rules", "rules", RULES, RULES),
    ]
    fixed = {"weight_scale": 5e-2, "seed": 0}
    apply_overrides("optimizer_race", controls, fixed, overrides)
    return App(
        "optimizer-race",
        "Optimizer race: the same net, the same minibatches, one colour per update rule",
        controls,
        compute,
        RacePlot,
        data,
        fixed=fixed,
        grid=grid,
        threaded=threaded,
    )
