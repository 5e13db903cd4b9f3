"""Adaptive rates: RMSProp's decay rate and Adam's beta1, beta2 and epsilon.

Each run is :func:`nndl_lab.experiments.train_net` (the same net, the same
minibatches); the SGD+momentum reference does not depend on the sliders, so it
is trained once per app and kept.
"""

from __future__ import annotations

import numpy as np

from nndl_lab import experiments as E

from ._common import (
    REFERENCE_COLOR,
    RULE_COLORS,
    RULE_LABELS,
    WIDE_INPUT,
    accuracy_ylim,
    apply_overrides,
    beta_ladder,
    data_notes,
    input_dim,
    live_number,
    log_ladder,
    mac_per_step,
    resolve_data,
    set_loss_ylim,
    style_axes,
    with_validation_subset,
)
from .canvas import Plot, run_flags
from .core import App, Cache, Grid

BETA1S = [0.0, 0.5, 0.9, 0.95, 0.99, 0.995]
DECAY_RATES = [0.5, 0.9, 0.99, 0.999]
#: Chapter 5's experiment (the homework's): up to 4,000 images, five hidden layers of 100.
CHAPTER_NUM_TRAIN = 4000
WIDE_NUM_TRAIN, WIDE_NUM_VAL = 150, 100

#: The three runs of a setting and their labels.
RUNS = {
    "reference": "SGD+momentum (reference)",
    "rmsprop": RULE_LABELS["rmsprop"],
    "adam": RULE_LABELS["adam"],
}


def run_configs(setting) -> dict:
    """``{label: TrainingConfig}`` for the three runs of a setting.

    One configuration is made (and validated) for the setting, with the
    reference rule; the RMSProp and Adam runs replace only the rule and its
    hyperparameters, which are all that is checked for them.
    """
    reference = E.TrainingConfig(
        hidden_dims=(setting["width"],) * setting["depth"],
        num_train=setting["num_train"],
        num_epochs=setting["num_epochs"],
        batch_size=setting["batch_size"],
        weight_scale=setting["weight_scale"],
        seed=setting["seed"],
        update_rule="sgd_momentum",
        optim_config={
            "learning_rate": setting["reference_learning_rate"],
            "momentum": setting["reference_momentum"],
        },
    )
    return {
        "reference": reference,
        "rmsprop": reference.replace(
            update_rule="rmsprop",
            optim_config={
                "learning_rate": setting["rmsprop_learning_rate"],
                "decay_rate": setting["decay_rate"],
                "epsilon": setting["epsilon"],
            },
        ),
        "adam": reference.replace(
            update_rule="adam",
            optim_config={
                "learning_rate": setting["adam_learning_rate"],
                "beta1": setting["beta1"],
                "beta2": setting["beta2"],
                "epsilon": setting["epsilon"],
            },
        ),
    }


def compute(data, setting, cache: Cache | None = None) -> dict:
    """``{"reference": run, "rmsprop": run, "adam": run}`` (each a ``train_net`` run).

    With ``cache``, each run is memoized there: the reference does not depend
    on the controls, so it is trained once per app.
    """
    call = cache.call if cache is not None else (lambda function, d, **kw: function(d, **kw))
    return {
        label: call(E.train_net, data, config=config)
        for label, config in run_configs(setting).items()
    }


def make_cost(data):
    d, n, n_val = input_dim(data), len(data["X_train"]), len(data["y_val"])

    def cost(setting) -> float:
        dims = [d, *(setting["width"],) * setting["depth"], 10]
        n_train = min(setting["num_train"], n)
        iterations = E.num_iterations(n_train, setting["batch_size"], setting["num_epochs"])
        checks = (setting["num_epochs"] + 1) * (min(n_train, 1000) + n_val)
        per_run = iterations * mac_per_step(dims, setting["batch_size"])
        return 2 * (per_run + checks * mac_per_step(dims, 1) / 3)  # the reference is cached

    return cost


class AdaptivePlot(Plot):
    def setup(self):
        self.fig.subplots_adjust(
            left=0.065, right=0.99, bottom=self.bottom, top=self.top, wspace=0.2
        )
        self.ax_loss, self.ax_val = self.fig.subplots(1, 2)
        style_axes(self.ax_loss, "training loss", "iteration")
        style_axes(self.ax_val, "validation accuracy", "epoch")
        colors = {"reference": REFERENCE_COLOR, **RULE_COLORS}
        self.lines = {}
        for key, label in RUNS.items():
            style = dict(color=colors[key], lw=1.5 if key == "reference" else 1.1)
            if key == "reference":
                style["ls"] = "--"
            self.lines[key] = (
                self.ax_loss.plot([], [], label=label, gid=f"loss/{key}", **style)[0],
                self.ax_val.plot([], [], marker="o", ms=3, gid=f"val/{key}", **style)[0],
            )

    def update(self, result, setting):
        for key in RUNS:
            run = result[key]
            loss, val = run["loss_history"], run["val_acc_history"]
            self.lines[key][0].set_data(np.arange(1, len(loss) + 1), loss)
            self.lines[key][1].set_data(np.arange(len(val)), val)
            for line in self.lines[key]:
                line.set_visible(True)
        iterations = E.num_iterations(
            setting["num_train"], setting["batch_size"], setting["num_epochs"]
        )
        self.ax_loss.set_xlim(0, iterations)
        set_loss_ylim(self.ax_loss, [result[k]["loss_history"] for k in RUNS])
        self.ax_val.set_xlim(-0.2, setting["num_epochs"] + 0.2)
        accuracy_ylim(self.ax_val, [result[k]["val_acc_history"] for k in RUNS])

    def legend_handles(self):
        return [self.lines[k][0] for k in RUNS]

    def title(self, setting):
        return (
            f"RMSProp: decay {setting['decay_rate']:.4g}, η {setting['rmsprop_learning_rate']:g}; "
            f"Adam: β1 {setting['beta1']:.4g}, β2 {setting['beta2']:.5g}, "
            f"η {setting['adam_learning_rate']:g}; ε {setting['epsilon']:.0e} (both); "
            f"reference η {setting['reference_learning_rate']:g}, μ "
            f"{setting['reference_momentum']:g}\n{setting['depth']} hidden layers of "
            f"{setting['width']}, {setting['num_train']} training images, "
            f"{setting['num_epochs']} epochs, batch {setting['batch_size']}"
        )

    def messages(self, result, setting):
        lines = []
        for key in RUNS:
            run = result[key]
            lines += run_flags(
                RUNS[key],
                run["loss_history"],
                accuracy=run["train_acc_history"],
                diverged_at=run["diverged_at"],
            )
        return lines


def adaptive_rates(data=None, *, grid: bool = True, threaded: bool = True, **overrides) -> App:
    """RMSProp's decay rate and Adam's betas and epsilon against an SGD+momentum reference.

    Opens on chapter 5's experiment (the homework's): five hidden layers of
    100, up to 4,000 training images, 5 epochs of batches of 100, RMSProp at
    2e-4 and Adam at 1e-3 with their default decay rate 0.99, β1 0.9, β2
    0.999 and ε 1e-8; the dashed reference is SGD+momentum (1e-2, 0.9).
    Grid (static page): Adam's β1 (6 values) × RMSProp's decay rate (4
    values), both on a log(1 − β) scale and, in a live kernel, any value in
    range. Live only: Adam's β2 and the ε of both rules. On inputs wider
    than 1,000 (CIFAR-10) the default trains on 150 images and measures
    validation accuracy on 100 (the app says so).

    Parameters
    ----------
    data : dict, optional
        From :func:`nndl_lab.data.get_data`; None uses ``get_data("auto")``.
    grid, threaded : see :class:`widgets.core.App`.
    **overrides
        Defaults of the controls (``beta1``, ``decay_rate``, ``beta2``,
        ``epsilon``) or the fixed settings ``rmsprop_learning_rate``,
        ``adam_learning_rate``, ``reference_learning_rate``,
        ``reference_momentum``, ``width``, ``depth``, ``num_train``,
        ``num_epochs``, ``batch_size``, ``weight_scale``, ``seed``, ``num_val``.
    """
    data = resolve_data(data)
    wide = input_dim(data) > WIDE_INPUT
    controls = [
        Grid(
            "beta1",
            BETA1S,
            0.9,
            "Adam β1",
            any_value="float",
            lo=0.0,
            hi=0.999,
            tooltip="decay of Adam's average of gradients (0: no momentum); "
            "slider on a log(1 − β1) scale",
        ),
        Grid(
            "decay_rate",
            DECAY_RATES,
            0.99,
            "RMSProp decay",
            any_value="float",
            lo=0.0,
            hi=0.9999,
            tooltip="decay of RMSProp's average of squared gradients; "
            "log(1 − decay) scale; memory of about 1/(1 − decay) steps",
        ),
        live_number(
            "beta2",
            "Adam β2",
            0.999,
            beta_ladder(0.9, 0.9999),
            tooltip="decay of Adam's average of squared gradients; log(1 − β2) scale",
        ),
        live_number(
            "epsilon",
            "ε (RMSProp and Adam)",
            1e-8,
            log_ladder(1e-8, 1.0),
            tooltip="added to the root of the squared-gradient average "
            "(both rules; log scale, 1e-8 to 1)",
        ),
    ]
    fixed = {
        "rmsprop_learning_rate": 2e-4,
        "adam_learning_rate": 1e-3,
        "reference_learning_rate": 1e-2,
        "reference_momentum": 0.9,
        "width": 100,
        "depth": 5,
        "num_train": min(WIDE_NUM_TRAIN if wide else CHAPTER_NUM_TRAIN, len(data["X_train"])),
        "num_epochs": 5,
        "batch_size": 100,
        "weight_scale": 5e-2,
        "seed": 0,
        "num_val": WIDE_NUM_VAL if wide else None,
    }
    apply_overrides("adaptive_rates", controls, fixed, overrides)
    view = with_validation_subset(data, fixed["num_val"])
    cache = Cache()

    def compute_cached(data, setting):
        return compute(data, setting, cache)

    return App(
        "adaptive-rates",
        "Adaptive rates: RMSProp and Adam against SGD+momentum",
        controls,
        compute_cached,
        AdaptivePlot,
        view,
        fixed=fixed,
        cost=make_cost(view),
        notes=data_notes(
            data,
            num_train=fixed["num_train"],
            chapter_num_train=CHAPTER_NUM_TRAIN,
            num_val=fixed["num_val"],
        ),
        grid=grid,
        threaded=threaded,
        cache=cache,
    )
