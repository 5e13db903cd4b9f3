"""Weight-scale sensitivity: the homework's sweep, with and without batchnorm.

Each setting is one :func:`nndl_lab.experiments.weight_scale_sweep` (20
weight scales × 2 variants, trained together by the batched trainer); the
three panels are the homework's: best validation accuracy, best training
accuracy and final training loss against the weight scale.
"""

from __future__ import annotations

import numpy as np

from nndl_lab import experiments as E

from ._common import (
    BASELINE_COLOR,
    BATCHNORM_COLOR,
    WIDE_INPUT,
    apply_overrides,
    data_notes,
    input_dim,
    int_ladder,
    live_number,
    log_ladder,
    mac_per_step,
    num_train_control,
    resolve_data,
    style_axes,
    with_validation_subset,
)
from .canvas import Plot, table_flags
from .core import App, Grid

DEPTHS = [1, 2, 3, 4, 6, 8]
VARIANTS = {"baseline": ("baseline", BASELINE_COLOR), "batchnorm": ("batchnorm", BATCHNORM_COLOR)}
PANELS = {
    "best_val_acc": "best validation accuracy",
    "best_train_acc": "best training accuracy",
    "final_train_loss": "final training loss",
}
#: Chapter 6's sweep (the homework's): 1,000 images, 10 epochs, six hidden layers of 50.
CHAPTER_NUM_TRAIN, CHAPTER_EPOCHS = 1000, 10
#: The live default: the chapter's sweep on 300 images, so that it redraws in about a second.
LIVE_NUM_TRAIN = 300
WIDE_NUM_TRAIN, WIDE_NUM_VAL, WIDE_EPOCHS, WIDE_SCALES = 100, 100, 2, 10


def compute(data, setting, n_jobs: int = 1) -> dict:
    """``weight_scale_sweep`` for one setting.

    ``n_jobs=1`` trains the two variants one after the other in the calling
    thread (two threads gain little on this 2-core machine and lose when it is
    busy); the numbers do not depend on ``n_jobs``.
    """
    return E.weight_scale_sweep(
        data,
        weight_scales=np.logspace(
            np.log10(setting["min_scale"]), np.log10(setting["max_scale"]), setting["num_scales"]
        ),
        n_jobs=n_jobs,
        config=training_config(setting),
    )


def training_config(setting) -> E.TrainingConfig:
    """The setting shared by the nets of the sweep as one validated configuration (Adam)."""
    return E.TrainingConfig(
        hidden_dims=(setting["width"],) * setting["depth"],
        num_epochs=setting["num_epochs"],
        batch_size=setting["batch_size"],
        num_train=setting["num_train"],
        optim_config={"learning_rate": setting["learning_rate"]},
        seed=setting["seed"],
    )


def make_cost(data):
    d, n, n_val = input_dim(data), len(data["X_train"]), len(data["y_val"])

    def cost(setting) -> float:
        dims = [d, *(setting["width"],) * setting["depth"], 10]
        n_train = min(setting["num_train"], n)
        iterations = E.num_iterations(n_train, setting["batch_size"], setting["num_epochs"])
        checks = (setting["num_epochs"] + 1) * (min(n_train, 1000) + n_val)
        per_run = iterations * mac_per_step(dims, setting["batch_size"])
        per_run += checks * mac_per_step(dims, 1) / 3
        return 2 * setting["num_scales"] * per_run

    return cost


class SweepPlot(Plot):
    def setup(self):
        self.fig.subplots_adjust(
            left=0.065, right=0.99, bottom=self.bottom, top=self.top, wspace=0.3
        )
        axes = self.fig.subplots(1, 3)
        self.axes = dict(zip(PANELS, axes, strict=True))
        self.lines = {}
        for key, ax in self.axes.items():
            style_axes(ax, PANELS[key], "weight scale")
            ax.set_xscale("log")
            for variant, (label, color) in VARIANTS.items():
                (self.lines[key, variant],) = ax.plot(
                    [], [], "o-", color=color, ms=3, lw=1.2, label=label, gid=f"{key}/{variant}"
                )
        self.axes["final_train_loss"].set_yscale("log")
        (self.chance,) = self.axes["final_train_loss"].plot(
            [], [], ls="--", color="#7f7f7f", lw=0.9, label="ln 10 (chance)"
        )

    def update(self, result, setting):
        scales = result["weight_scales"]
        for key, ax in self.axes.items():
            for variant in VARIANTS:
                self.lines[key, variant].set_data(scales, result[variant][key])
                self.lines[key, variant].set_visible(True)
            ax.set_xlim(scales.min() / 1.5, scales.max() * 1.5)
            if key == "final_train_loss":
                values = np.concatenate([result[v][key] for v in VARIANTS])
                values = values[np.isfinite(values) & (values > 0)]
                lo = min(values.min(), 0.1) if values.size else 1e-3
                hi = max(values.max(), 10.0) if values.size else 10.0
                ax.set_ylim(lo / 2, hi * 3)
                self.chance.set_data([scales.min() / 1.5, scales.max() * 1.5], [np.log(10)] * 2)
            else:
                ax.set_ylim(0, 1.02)

    def legend_handles(self):
        return [self.lines["best_val_acc", v] for v in VARIANTS] + [self.chance]

    def title(self, setting):
        return (
            f"{setting['num_scales']} weight scales from {setting['min_scale']:g} to "
            f"{setting['max_scale']:g}; {setting['depth']} hidden layers of {setting['width']}; "
            f"Adam, learning rate {setting['learning_rate']:.3g}; {setting['num_train']} "
            f"training images, {setting['num_epochs']} epochs, batch {setting['batch_size']}"
        )

    def messages(self, result, setting):
        lines = []
        for variant, (label, _) in VARIANTS.items():
            lines += table_flags(label, result[variant])
        return lines


def weight_scale_sensitivity(
    data=None, *, grid: bool = True, threaded: bool = True, **overrides
) -> App:
    """The homework's weight-scale sweep (20 scales, with and without batchnorm), live.

    Chapter 6's sweep: six hidden layers of 50, Adam at 1e-3, batches of
    50, 10 epochs; the app opens on it with 300 training images instead of
    the chapter's 1,000, so that a setting redraws in about a second (the
    app says so). Grid (static page): depth, 1 to 8 hidden layers (any depth
    from 1 to 8 in a live kernel). Live only: hidden width, epochs, training
    images and Adam's learning rate. Each setting retrains all 40 nets with
    the batched trainer. On inputs wider than 1,000 (CIFAR-10): 10 weight
    scales, 100 training and 100 validation images, 2 epochs (the app says so).

    Parameters
    ----------
    data : dict, optional
        From :func:`nndl_lab.data.get_data`; None uses ``get_data("auto")``.
    grid, threaded : see :class:`widgets.core.App`.
    **overrides
        Defaults of the controls (``depth``, ``width``, ``num_epochs``,
        ``num_train``, ``learning_rate``; the values :meth:`widgets.core.App.set` accepts)
        or ``batch_size``, ``seed``, ``min_scale``, ``max_scale``,
        ``num_scales``, ``num_val``.
    """
    data = resolve_data(data)
    wide = input_dim(data) > WIDE_INPUT
    controls = [
        Grid(
            "depth",
            DEPTHS,
            6,
            "hidden layers",
            any_value="int",
            lo=1,
            hi=8,
            tooltip="number of hidden layers of both nets (1 to 8)",
        ),
        live_number(
            "width",
            "hidden width",
            50,
            int_ladder(10, 200),
            integer=True,
            tooltip="units per hidden layer (10 to 200)",
        ),
        live_number(
            "num_epochs",
            "epochs",
            WIDE_EPOCHS if wide else CHAPTER_EPOCHS,
            list(range(1, 21)),
            integer=True,
            tooltip="passes over the training images (1 to 20)",
        ),
        num_train_control(data, WIDE_NUM_TRAIN if wide else LIVE_NUM_TRAIN),
        live_number(
            "learning_rate",
            "Adam η",
            1e-3,
            log_ladder(1e-4, 1e-1),
            tooltip="Adam's learning rate (1e-4 to 0.1, log scale)",
        ),
    ]
    fixed = {
        "batch_size": 50,
        "seed": 0,
        "min_scale": 1e-4,
        "max_scale": 1.0,
        "num_scales": WIDE_SCALES if wide else 20,
        "num_val": WIDE_NUM_VAL if wide else None,
    }
    apply_overrides("weight_scale_sensitivity", controls, fixed, overrides)
    view = with_validation_subset(data, fixed["num_val"])
    n_train = next(c for c in controls if c.key == "num_train").default
    return App(
        "weight-scale",
        "Weight-scale sensitivity: 20 weight scales, with and without batchnorm",
        controls,
        compute,
        SweepPlot,
        view,
        fixed=fixed,
        cost=make_cost(view),
        notes=data_notes(
            data, num_train=n_train, chapter_num_train=CHAPTER_NUM_TRAIN, num_val=fixed["num_val"]
        ),
        grid=grid,
        threaded=threaded,
    )
