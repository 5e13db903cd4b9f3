"""Adaptive rates: RMSProp's decay rate and Adam's beta1, beta2 and epsilon.

Each run is :func:`nndl_lab.experiments.train_net` (the same net, the same
minibatches); the SGD+momentum reference does not depend on the sliders, so it
is trained once per app and kept.
"""

from __future__ import annotations

import numpy as np

from nndl_lab import experiments as E

from ._common import (
    LABEL_SIZE,
    REFERENCE_COLOR,
    RULE_COLORS,
    Memo,
    accuracy_ylim,
    apply_overrides,
    live_choice,
    live_log,
    resolve_data,
    set_loss_ylim,
    style_axes,
)
from .core import App, Grid, Plot

BETA1S = [0.0, 0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995]
DECAY_RATES = [0.5, 0.9, 0.99, 0.999]
BETA2S = [0.9, 0.99, 0.999, 0.9999]

#: The three runs of a setting and their labels.
RUNS = {"reference": "SGD+momentum (reference)", "rmsprop": "RMSProp", "adam": "Adam"}


def run_arguments(setting) -> dict:
    """``{label: train_net keyword arguments}`` for the three runs of a setting."""
    common = dict(
        hidden_dims=(setting["width"],) * setting["depth"],
        num_train=setting["num_train"],
        num_epochs=setting["num_epochs"],
        batch_size=setting["batch_size"],
        weight_scale=setting["weight_scale"],
        seed=setting["seed"],
    )
    return {
        "reference": dict(
            update_rule="sgd_momentum",
            optim_config={
                "learning_rate": setting["reference_learning_rate"],
                "momentum": setting["reference_momentum"],
            },
            **common,
        ),
        "rmsprop": dict(
            update_rule="rmsprop",
            optim_config={
                "learning_rate": setting["rmsprop_learning_rate"],
                "decay_rate": setting["decay_rate"],
                "epsilon": setting["epsilon"],
            },
            **common,
        ),
        "adam": dict(
            update_rule="adam",
            optim_config={
                "learning_rate": setting["adam_learning_rate"],
                "beta1": setting["beta1"],
                "beta2": setting["beta2"],
                "epsilon": setting["epsilon"],
            },
            **common,
        ),
    }


def compute(data, setting, memo: Memo | None = None) -> dict:
    """``{"reference": run, "rmsprop": run, "adam": run}`` (each a ``train_net`` run)."""
    call = memo or (lambda function, data, **kwargs: function(data, **kwargs))
    return {
        label: call(E.train_net, data, **kwargs) for label, kwargs in run_arguments(setting).items()
    }


class AdaptivePlot(Plot):
    figsize = (8.0, 2.9)

    def setup(self):
        self.fig.subplots_adjust(left=0.06, right=0.99, bottom=0.15, top=0.82, wspace=0.2)
        self.ax_loss, self.ax_val = self.fig.subplots(1, 2)
        style_axes(self.ax_loss, "training loss", "iteration")
        style_axes(self.ax_val, "validation accuracy", "epoch")
        colors = {"reference": REFERENCE_COLOR, **RULE_COLORS}
        self.lines = {}
        for key, label in RUNS.items():
            style = dict(color=colors[key], lw=1.4 if key == "reference" else 1.0)
            if key == "reference":
                style["ls"] = "--"
            self.lines[key] = (
                self.ax_loss.plot([], [], label=label, gid=f"loss/{key}", **style)[0],
                self.ax_val.plot([], [], marker="o", ms=3, gid=f"val/{key}", **style)[0],
            )
        self.ax_loss.legend(fontsize=LABEL_SIZE - 1, loc="upper right")

    def update(self, result, setting):
        for key in RUNS:
            run = result[key]
            loss, val = run["loss_history"], run["val_acc_history"]
            self.lines[key][0].set_data(np.arange(1, len(loss) + 1), loss)
            self.lines[key][1].set_data(np.arange(len(val)), val)
        iterations = E.num_iterations(
            setting["num_train"], setting["batch_size"], setting["num_epochs"]
        )
        self.ax_loss.set_xlim(0, iterations)
        set_loss_ylim(self.ax_loss, [result[k]["loss_history"] for k in RUNS])
        self.ax_val.set_xlim(-0.2, setting["num_epochs"] + 0.2)
        accuracy_ylim(self.ax_val, [result[k]["val_acc_history"] for k in RUNS])
        self.fig.suptitle(
            f"RMSProp: decay {setting['decay_rate']:g};  Adam: beta1 {setting['beta1']:g}, "
            f"beta2 {setting['beta2']:g};  epsilon {setting['epsilon']:.0e}  "
            f"(lr {setting['rmsprop_learning_rate']:g} / {setting['adam_learning_rate']:g}; "
            f"reference lr {setting['reference_learning_rate']:g}, "
            f"momentum {setting['reference_momentum']:g})",
            fontsize=LABEL_SIZE,
        )

    def messages(self, result, setting):
        return [
            f"{RUNS[k]}: diverged at iteration {result[k]['diverged_at']}"
            for k in RUNS
            if result[k]["diverged_at"] is not None
        ]


def adaptive_rates(data=None, *, grid: bool = True, threaded: bool = True, **overrides) -> App:
    """RMSProp's decay rate and Adam's betas and epsilon against an SGD+momentum reference.

    Grid (static page): Adam's beta1 (8 values) × RMSProp's decay rate (4
    values). Live only: a continuous beta1, Adam's beta2 and epsilon (shared
    by both rules).

    Parameters
    ----------
    data : dict, optional
        From :func:`nndl_lab.data.get_data`; None uses ``get_data("auto")``.
    grid, threaded : see :class:`widgets.core.App`.
    **overrides
        Defaults of the controls (``beta1``, ``decay_rate`` (grid values),
        ``beta2``, ``epsilon``) or the fixed settings ``rmsprop_learning_rate``,
        ``adam_learning_rate``, ``reference_learning_rate``,
        ``reference_momentum``, ``width``, ``depth``, ``num_train``,
        ``num_epochs``, ``batch_size``, ``weight_scale``, ``seed``.
    """
    data = resolve_data(data)
    controls = [
        Grid("beta1", BETA1S, 0.9, "Adam beta1", fine="linear"),
        Grid("decay_rate", DECAY_RATES, 0.99, "RMSProp decay rate"),
        live_choice("beta2", "Adam beta2", BETA2S, 0.999),
        live_log("epsilon", "epsilon (both)", 1e-8, 1e-8, 1.0),
    ]
    fixed = {
        "rmsprop_learning_rate": 1e-3,
        "adam_learning_rate": 1e-3,
        "reference_learning_rate": 1e-2,
        "reference_momentum": 0.9,
        "width": 100,
        "depth": 2,
        "num_train": min(1000, len(data["X_train"])),
        "num_epochs": 4,
        "batch_size": 100,
        "weight_scale": 5e-2,
        "seed": 0,
    }
    apply_overrides("adaptive_rates", controls, fixed, overrides)
    memo = Memo(maxsize=256)

    def compute_memo(data, setting):
        return compute(data, setting, memo)

    app = App(
        "adaptive-rates",
        "Adaptive rates: RMSProp and Adam against SGD+momentum",
        controls,
        compute_memo,
        AdaptivePlot,
        data,
        fixed=fixed,
        grid=grid,
        threaded=threaded,
    )
    app.memo = memo
    return app
