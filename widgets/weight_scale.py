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
    LABEL_SIZE,
    apply_overrides,
    live_int,
    live_log,
    resolve_data,
    style_axes,
)
from .core import App, Grid, Plot, find_divergence

DEPTHS = [1, 2, 3, 4, 5, 6, 7, 8]
VARIANTS = {"baseline": ("baseline", BASELINE_COLOR), "batchnorm": ("batchnorm", BATCHNORM_COLOR)}
PANELS = {
    "best_val_acc": "best validation accuracy",
    "best_train_acc": "best training accuracy",
    "final_train_loss": "final training loss",
}


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
        hidden_dims=(setting["width"],) * setting["depth"],
        num_epochs=setting["num_epochs"],
        batch_size=setting["batch_size"],
        num_train=setting["num_train"],
        learning_rate=setting["learning_rate"],
        seed=setting["seed"],
        n_jobs=n_jobs,
    )


class SweepPlot(Plot):
    figsize = (8.0, 2.9)

    def setup(self):
        self.fig.subplots_adjust(left=0.06, right=0.99, bottom=0.16, top=0.82, wspace=0.28)
        axes = self.fig.subplots(1, 3)
        self.axes = dict(zip(PANELS, axes, strict=True))
        self.lines = {}
        for key, ax in self.axes.items():
            style_axes(ax, PANELS[key], "weight scale")
            ax.set_xscale("log")
            for variant, (label, color) in VARIANTS.items():
                (self.lines[key, variant],) = ax.plot(
                    [], [], "o-", color=color, ms=3, lw=1, label=label, gid=f"{key}/{variant}"
                )
        self.axes["best_val_acc"].legend(fontsize=LABEL_SIZE - 1, loc="lower left")

    def update(self, result, setting):
        scales = result["weight_scales"]
        for key, ax in self.axes.items():
            for variant in VARIANTS:
                self.lines[key, variant].set_data(scales, result[variant][key])
            ax.set_xlim(scales.min() / 1.5, scales.max() * 1.5)
            if key == "final_train_loss":
                values = np.concatenate([result[v][key] for v in VARIANTS])
                values = values[np.isfinite(values)]
                # huge losses of the baseline at large scales leave through the top
                top = min(values.max(), 3 * np.log(10)) if values.size else 1.0
                ax.set_ylim(0, top * 1.08)
            else:
                ax.set_ylim(0, 1.02)
        self.fig.suptitle(
            f"{setting['depth']} hidden layers of {setting['width']}, {setting['num_epochs']} "
            f"epochs, {setting['num_train']} samples, Adam lr {setting['learning_rate']:.3g}",
            fontsize=LABEL_SIZE,
        )

    def messages(self, result, setting):
        return find_divergence({v: result[v] for v in VARIANTS})


def weight_scale_sensitivity(
    data=None, *, grid: bool = True, threaded: bool = True, **overrides
) -> App:
    """The homework's weight-scale sweep (20 scales, with and without batchnorm), live.

    Grid (static page): depth, 1 to 8 hidden layers. Live only: hidden width,
    epochs, training samples and Adam's learning rate. Each setting retrains
    all 40 nets with the batched trainer.

    Parameters
    ----------
    data : dict, optional
        From :func:`nndl_lab.data.get_data`; None uses ``get_data("auto")``.
    grid, threaded : see :class:`widgets.core.App`.
    **overrides
        Defaults of the controls (``depth`` (a grid value), ``width``,
        ``num_epochs``, ``num_train``, ``learning_rate``) or ``batch_size``,
        ``seed``, ``min_scale``, ``max_scale``, ``num_scales``.
    """
    data = resolve_data(data)
    n_train = len(data["X_train"])
    controls = [
        Grid("depth", DEPTHS, 6, "hidden layers"),
        live_int("width", "hidden width", 50, 10, 200, 10),
        live_int("num_epochs", "epochs", 4, 1, 20),
        live_int("num_train", "training samples", min(500, n_train), 100, n_train, 50),
        live_log("learning_rate", "Adam learning rate", 1e-3, 1e-4, 1e-1),
    ]
    fixed = {"batch_size": 50, "seed": 0, "min_scale": 1e-4, "max_scale": 1.0, "num_scales": 20}
    apply_overrides("weight_scale_sensitivity", controls, fixed, overrides)
    return App(
        "weight-scale",
        "Weight-scale sensitivity: 20 weight scales, with and without batchnorm",
        controls,
        compute,
        SweepPlot,
        data,
        fixed=fixed,
        grid=grid,
        threaded=threaded,
    )
