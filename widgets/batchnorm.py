"""Batchnorm vs baseline: the same net trained with and without batch normalization.

The nets are those :func:`nndl_lab.experiments.batchnorm_vs_baseline` trains;
they are trained by :func:`nndl_lab.experiments.weight_scale_sweep` (the
batched trainer), which trains each net exactly as it would in a stack of any
size. A live change sweeps the one weight scale of the setting; the static
grid sweeps all the grid's weight scales at once per depth — so a grid frame
and the kernel's redraw of that setting are drawn from the same numbers.
(In float32 the batched trainer agrees with separate Solver runs to rounding,
which training amplifies a little; see ``tests/test_batched.py``.)
"""

from __future__ import annotations

import numpy as np

from nndl_lab import experiments as E

from ._common import (
    BASELINE_COLOR,
    BATCHNORM_COLOR,
    LABEL_SIZE,
    accuracy_ylim,
    apply_overrides,
    homework_panels,
    live_int,
    live_log,
    resolve_data,
    run_from_table,
    set_loss_ylim,
)
from .core import App, Grid, Plot

WEIGHT_SCALES = [1e-3, 3e-3, 1e-2, 2e-2, 5e-2, 0.1, 0.3, 1.0]
DEPTHS = [2, 3, 5, 8]
VARIANTS = {"baseline": ("baseline", BASELINE_COLOR), "batchnorm": ("batchnorm", BATCHNORM_COLOR)}


def _common(setting) -> dict:
    return dict(
        hidden_dims=(setting["width"],) * setting["depth"],
        num_train=setting["num_train"],
        num_epochs=setting["num_epochs"],
        batch_size=setting["batch_size"],
        learning_rate=setting["learning_rate"],
        seed=setting["seed"],
    )


def compute(data, setting) -> dict:
    """``{"baseline": run, "batchnorm": run}``: a one-scale ``weight_scale_sweep``.

    The two variants train one after the other (``n_jobs=1``: two threads
    gain little on this 2-core machine and lose when it is busy; see
    ``benchmarks/README.md``). The numbers do not depend on ``n_jobs``.
    """
    return compute_grid(data, [setting])[0]


def compute_grid(data, settings, n_jobs: int = 1) -> list:
    """The results of many settings: one ``weight_scale_sweep`` per net shape."""
    groups: dict = {}
    for i, setting in enumerate(settings):
        key = tuple(sorted((k, v) for k, v in _common(setting).items()))
        groups.setdefault(key, []).append(i)
    results: list = [None] * len(settings)
    for indices in groups.values():
        common = _common(settings[indices[0]])
        scales = sorted({settings[i]["weight_scale"] for i in indices})
        sweep = E.weight_scale_sweep(data, weight_scales=scales, n_jobs=n_jobs, **common)
        for i in indices:
            j = scales.index(settings[i]["weight_scale"])
            results[i] = {v: run_from_table(sweep[v], j) for v in VARIANTS}
    return results


class BatchnormPlot(Plot):
    figsize = (8.0, 2.9)

    def setup(self):
        self.ax_loss, self.ax_train, self.ax_val = homework_panels(self.fig)
        self.lines = {}
        for key, (label, color) in VARIANTS.items():
            self.lines[key] = (
                self.ax_loss.plot([], [], color=color, lw=0.8, label=label, gid=f"loss/{key}")[0],
                self.ax_train.plot([], [], "o-", color=color, ms=3, lw=1, gid=f"train/{key}")[0],
                self.ax_val.plot([], [], "o-", color=color, ms=3, lw=1, gid=f"val/{key}")[0],
            )
        self.ax_val.legend(
            handles=[self.lines[k][0] for k in VARIANTS], fontsize=LABEL_SIZE - 1, loc="lower right"
        )

    def update(self, result, setting):
        for key in VARIANTS:
            run = result[key]
            loss, train, val = run["loss_history"], run["train_acc_history"], run["val_acc_history"]
            self.lines[key][0].set_data(np.arange(1, len(loss) + 1), loss)
            self.lines[key][1].set_data(np.arange(len(train)), train)
            self.lines[key][2].set_data(np.arange(len(val)), val)
        self.ax_loss.set_xlim(
            0, E.num_iterations(setting["num_train"], setting["batch_size"], setting["num_epochs"])
        )
        set_loss_ylim(self.ax_loss, [result[k]["loss_history"] for k in VARIANTS])
        accs = [result[k][h] for k in VARIANTS for h in ("train_acc_history", "val_acc_history")]
        for ax in (self.ax_train, self.ax_val):
            ax.set_xlim(-0.2, setting["num_epochs"] + 0.2)
            accuracy_ylim(ax, accs)
        self.fig.suptitle(
            f"weight scale {setting['weight_scale']:.3g}, {setting['depth']} hidden layers "
            f"of {setting['width']}, Adam lr {setting['learning_rate']:.3g}, "
            f"{setting['num_epochs']} epochs, {setting['num_train']} samples",
            fontsize=LABEL_SIZE,
        )


def batchnorm_vs_baseline(
    data=None, *, grid: bool = True, threaded: bool = True, **overrides
) -> App:
    """The same net with and without batchnorm: loss, training and validation accuracy.

    Grid (static page): weight scale (8 values, 1e-3 to 1) × depth (2, 3, 5, 8
    hidden layers). Live only: a continuous weight scale, hidden width,
    epochs, training samples and Adam's learning rate.

    Parameters
    ----------
    data : dict, optional
        From :func:`nndl_lab.data.get_data`; None uses ``get_data("auto")``.
    grid, threaded : see :class:`widgets.core.App`.
    **overrides
        Defaults of the controls (``weight_scale``, ``depth`` (grid values),
        ``width``, ``num_epochs``, ``num_train``, ``learning_rate``) or
        ``batch_size``, ``seed``.
    """
    data = resolve_data(data)
    n_train = len(data["X_train"])
    controls = [
        Grid("weight_scale", WEIGHT_SCALES, 2e-2, "weight scale", fine="log"),
        Grid("depth", DEPTHS, 5, "hidden layers"),
        live_int("width", "hidden width", 50, 10, 200, 10),
        live_int("num_epochs", "epochs", 4, 1, 20),
        live_int("num_train", "training samples", min(1000, n_train), 100, n_train, 50),
        live_log("learning_rate", "Adam learning rate", 1e-3, 1e-4, 1e-1),
    ]
    fixed = {"batch_size": 50, "seed": 0}
    apply_overrides("batchnorm_vs_baseline", controls, fixed, overrides)
    return App(
        "batchnorm",
        "Batch normalization: the same net with and without it",
        controls,
        compute,
        BatchnormPlot,
        data,
        fixed=fixed,
        compute_grid=compute_grid,
        grid=grid,
        threaded=threaded,
    )
