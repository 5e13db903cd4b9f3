"""Optimizer race: the same net trained with each update rule, as in the homework.

Calls :func:`nndl_lab.experiments.compare_update_rules`; three panels as in the
homework — training loss per iteration, training and validation accuracy per
epoch — one colour per rule. The default is chapter 2's experiment: five hidden
layers of 100, learning rate 1e-2, momentum 0.9, 5 epochs of batches of 100 on
the first 4,000 training images (all of them on the digits). On wide inputs
(CIFAR-10) it trains on a subsample by default and says so.
"""

from __future__ import annotations

import numpy as np

from nndl_lab import experiments as E

from ._common import (
    MOMENTUM_RULES,
    RULE_COLORS,
    RULE_LABELS,
    RULES,
    WIDE_INPUT,
    accuracy_ylim,
    apply_overrides,
    beta_ladder,
    data_notes,
    homework_panels,
    input_dim,
    int_ladder,
    live_choice,
    live_number,
    live_rules,
    mac_per_step,
    no_rule_message,
    num_train_control,
    resolve_data,
    rule_config,
    rule_list,
    set_loss_ylim,
    with_validation_subset,
)
from .canvas import Plot, run_flags
from .core import App, Grid

LEARNING_RATES = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1]
#: Chapter 2's experiment (the homework's): 4,000 images, five hidden layers of 100.
CHAPTER_NUM_TRAIN = 4000
#: Training and validation images used by default on wide inputs such as CIFAR-10.
WIDE_NUM_TRAIN, WIDE_NUM_VAL = 150, 100


def rule_configs(setting) -> dict:
    """The ``rules`` argument of compare_update_rules for a setting of this app: the
    learning rate for every rule, the momentum for the rules that declare one."""
    return {
        rule: rule_config(rule, setting["learning_rate"], setting["momentum"])
        for rule in setting["rules"]
    }


def training_config(setting) -> E.TrainingConfig:
    """The setting shared by the rules of a race: one validated configuration."""
    return E.TrainingConfig(
        hidden_dims=(setting["width"],) * setting["depth"],
        num_train=setting["num_train"],
        num_epochs=setting["num_epochs"],
        batch_size=setting["batch_size"],
        weight_scale=setting["weight_scale"],
        seed=setting["seed"],
    )


def compute(data, setting) -> dict:
    """``compare_update_rules`` for one setting: ``{rule: run}`` ({} with no rule)."""
    if not setting["rules"]:
        return {}
    return E.compare_update_rules(data, rule_configs(setting), config=training_config(setting))


def make_cost(data):
    d, n, n_val = input_dim(data), len(data["X_train"]), len(data["y_val"])

    def cost(setting) -> float:
        dims = [d, *(setting["width"],) * setting["depth"], 10]
        n_train = min(setting["num_train"], n)
        iterations = E.num_iterations(n_train, setting["batch_size"], setting["num_epochs"])
        checks = (setting["num_epochs"] + 1) * (min(n_train, 1000) + n_val)
        per_rule = iterations * mac_per_step(dims, setting["batch_size"])
        per_rule += checks * mac_per_step(dims, 1) / 3
        return max(len(setting["rules"]), 1) * per_rule

    return cost


class RacePlot(Plot):
    def setup(self):
        self.ax_loss, self.ax_train, self.ax_val = homework_panels(self.fig, self.top, self.bottom)
        self.lines = {}
        for rule in RULES:
            c, label = RULE_COLORS[rule], RULE_LABELS[rule]
            self.lines[rule] = (
                self.ax_loss.plot([], [], color=c, lw=1.0, label=label, gid=f"loss/{rule}")[0],
                self.ax_train.plot([], [], "o-", color=c, ms=3, lw=1.2, gid=f"train/{rule}")[0],
                self.ax_val.plot([], [], "o-", color=c, ms=3, lw=1.2, gid=f"val/{rule}")[0],
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

    def legend_handles(self):
        return [self.lines[r][0] for r in RULES]

    def title(self, setting):
        return (
            f"learning rate {setting['learning_rate']:.3g} (every rule), momentum "
            f"{setting['momentum']:.3g}; {setting['depth']} hidden layers of "
            f"{setting['width']}, weight scale {setting['weight_scale']:g}; "
            f"{setting['num_train']} training images, {setting['num_epochs']} epochs, "
            f"batch {setting['batch_size']}"
        )

    def messages(self, result, setting):
        lines = no_rule_message(setting)
        for rule, run in result.items():
            lines += run_flags(
                RULE_LABELS[rule],
                run["loss_history"],
                accuracy=run["train_acc_history"],
                diverged_at=run["diverged_at"],
            )
        return lines


def optimizer_race(data=None, *, grid: bool = True, threaded: bool = True, **overrides) -> App:
    """SGD, momentum, Nesterov, RMSProp and Adam training the same net.

    Opens on chapter 2's experiment (the homework's: five hidden layers of
    100, learning rate 1e-2, momentum 0.9, 5 epochs, batches of 100, up to
    4,000 training images), with all five rules. Grid (static page): the
    learning rate, 8 values from 1e-4 to 0.3 (one learning rate for every
    rule); in a live kernel any value in that range. Live only: momentum,
    batch size, epochs, training images, hidden width and depth, the rules
    shown. On inputs wider than 1,000 (CIFAR-10) the default trains on 150
    images and measures validation accuracy on 100 (the app says so).

    Parameters
    ----------
    data : dict, optional
        From :func:`nndl_lab.data.get_data`; None uses ``get_data("auto")``.
        At least 20 training images.
    grid, threaded : see :class:`widgets.core.App`.
    **overrides
        Defaults of the controls (``learning_rate``, ``momentum``,
        ``batch_size``, ``num_epochs``, ``num_train``, ``width``, ``depth``,
        ``rules``; the values :meth:`widgets.core.App.set` accepts) or ``weight_scale``,
        ``seed``, ``num_val`` (validation images used; None: all).
    """
    data = resolve_data(data)
    wide = input_dim(data) > WIDE_INPUT
    num_train = WIDE_NUM_TRAIN if wide else CHAPTER_NUM_TRAIN
    controls = [
        Grid(
            "learning_rate",
            LEARNING_RATES,
            1e-2,
            "learning rate η",
            any_value="float",
            tooltip=f"step size of every rule (the same for all {len(RULES)}); log scale",
        ),
        live_number(
            "momentum",
            "momentum μ",
            0.9,
            beta_ladder(0.0, 0.99),
            tooltip=f"momentum of the rules that have one ({rule_list(MOMENTUM_RULES)}), "
            "from 0 to 0.99 (slider on a log(1 − μ) scale)",
        ),
        live_choice(
            "batch_size",
            "batch size",
            [25, 50, 100, 200],
            100,
            tooltip="training images per minibatch",
        ),
        live_number(
            "num_epochs",
            "epochs",
            5,
            list(range(1, 21)),
            integer=True,
            tooltip="passes over the training images (1 to 20)",
        ),
        num_train_control(data, num_train),
        live_number(
            "width",
            "hidden width",
            100,
            int_ladder(10, 300),
            integer=True,
            tooltip="units per hidden layer (10 to 300)",
        ),
        live_number(
            "depth",
            "hidden layers",
            5,
            list(range(1, 7)),
            integer=True,
            tooltip="number of hidden layers (1 to 6)",
        ),
        live_rules(
            "rules",
            "rules",
            RULES,
            RULES,
            tooltip="the update rules trained (ctrl/shift-click to select several)",
        ),
    ]
    fixed = {"weight_scale": 5e-2, "seed": 0, "num_val": WIDE_NUM_VAL if wide else None}
    apply_overrides("optimizer_race", controls, fixed, overrides)
    view = with_validation_subset(data, fixed["num_val"])
    n_train = next(c for c in controls if c.key == "num_train").default
    return App(
        "optimizer-race",
        "Optimizer race: the same net, the same minibatches, one colour per update rule",
        controls,
        compute,
        RacePlot,
        view,
        fixed=fixed,
        cost=make_cost(view),
        notes=data_notes(
            data,
            num_train=n_train,
            chapter_num_train=CHAPTER_NUM_TRAIN,
            num_val=fixed["num_val"],
        ),
        grid=grid,
        threaded=threaded,
    )
