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
    WIDE_INPUT,
    accuracy_ylim,
    apply_overrides,
    data_notes,
    homework_panels,
    input_dim,
    int_ladder,
    live_number,
    log_ladder,
    mac_per_step,
    num_train_control,
    resolve_data,
    run_from_table,
    set_loss_ylim,
    with_validation_subset,
)
from .canvas import Plot, run_flags
from .core import App, Grid

WEIGHT_SCALES = [1e-3, 1e-2, 2e-2, 0.1, 0.3, 1.0]
DEPTHS = [2, 3, 5, 8]
#: Chapter 6's experiment (the homework's): 1,000 images, five hidden layers of 100.
CHAPTER_NUM_TRAIN = 1000
WIDE_NUM_TRAIN, WIDE_NUM_VAL = 150, 100
VARIANTS = {"baseline": ("baseline", BASELINE_COLOR), "batchnorm": ("batchnorm", BATCHNORM_COLOR)}


def _common(setting) -> dict:
    """The entries of a setting that the nets of one sweep share."""
    return dict(
        hidden_dims=(setting["width"],) * setting["depth"],
        num_train=setting["num_train"],
        num_epochs=setting["num_epochs"],
        batch_size=setting["batch_size"],
        learning_rate=setting["learning_rate"],
        seed=setting["seed"],
    )


def training_config(setting) -> E.TrainingConfig:
    """The shared setting of a sweep as one validated configuration (Adam)."""
    common = _common(setting)
    learning_rate = common.pop("learning_rate")
    return E.TrainingConfig(optim_config={"learning_rate": learning_rate}, **common)


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
        config = training_config(settings[indices[0]])
        scales = sorted({settings[i]["weight_scale"] for i in indices})
        sweep = E.weight_scale_sweep(data, weight_scales=scales, n_jobs=n_jobs, config=config)
        for i in indices:
            j = scales.index(settings[i]["weight_scale"])
            results[i] = {v: run_from_table(sweep[v], j) for v in VARIANTS}
    return results


def make_cost(data):
    d, n, n_val = input_dim(data), len(data["X_train"]), len(data["y_val"])

    def cost(setting) -> float:
        dims = [d, *(setting["width"],) * setting["depth"], 10]
        n_train = min(setting["num_train"], n)
        iterations = E.num_iterations(n_train, setting["batch_size"], setting["num_epochs"])
        checks = (setting["num_epochs"] + 1) * (min(n_train, 1000) + n_val)
        per_run = iterations * mac_per_step(dims, setting["batch_size"])
        return 2 * (per_run + checks * mac_per_step(dims, 1) / 3)

    return cost


class BatchnormPlot(Plot):
    def setup(self):
        self.ax_loss, self.ax_train, self.ax_val = homework_panels(self.fig, self.top, self.bottom)
        self.lines = {}
        for key, (label, color) in VARIANTS.items():
            self.lines[key] = (
                self.ax_loss.plot([], [], color=color, lw=1.0, label=label, gid=f"loss/{key}")[0],
                self.ax_train.plot([], [], "o-", color=color, ms=3, lw=1.2, gid=f"train/{key}")[0],
                self.ax_val.plot([], [], "o-", color=color, ms=3, lw=1.2, gid=f"val/{key}")[0],
            )

    def update(self, result, setting):
        for key in VARIANTS:
            run = result[key]
            loss, train, val = run["loss_history"], run["train_acc_history"], run["val_acc_history"]
            self.lines[key][0].set_data(np.arange(1, len(loss) + 1), loss)
            self.lines[key][1].set_data(np.arange(len(train)), train)
            self.lines[key][2].set_data(np.arange(len(val)), val)
            for line in self.lines[key]:
                line.set_visible(True)
        self.ax_loss.set_xlim(
            0, E.num_iterations(setting["num_train"], setting["batch_size"], setting["num_epochs"])
        )
        set_loss_ylim(self.ax_loss, [result[k]["loss_history"] for k in VARIANTS])
        accs = [result[k][h] for k in VARIANTS for h in ("train_acc_history", "val_acc_history")]
        for ax in (self.ax_train, self.ax_val):
            ax.set_xlim(-0.2, setting["num_epochs"] + 0.2)
            accuracy_ylim(ax, accs)

    def legend_handles(self):
        return [self.lines[k][0] for k in VARIANTS]

    def title(self, setting):
        return (
            f"weight scale {setting['weight_scale']:.3g}; {setting['depth']} hidden layers of "
            f"{setting['width']}; Adam, learning rate {setting['learning_rate']:.3g}; "
            f"{setting['num_train']} training images, {setting['num_epochs']} epochs, "
            f"batch {setting['batch_size']}"
        )

    def messages(self, result, setting):
        lines = []
        for key, (label, _) in VARIANTS.items():
            run = result[key]
            lines += run_flags(
                label,
                run["loss_history"],
                accuracy=run["train_acc_history"],
                diverged_at=run["diverged_at"],
            )
        return lines


def batchnorm_vs_baseline(
    data=None, *, grid: bool = True, threaded: bool = True, **overrides
) -> App:
    """The same net with and without batchnorm: loss, training and validation accuracy.

    Opens on chapter 6's experiment (the homework's): five hidden layers of
    100, weight scale 2e-2, 1,000 training images, 10 epochs of batches of
    50, Adam at 1e-3. Grid (static page): weight scale (6 values, 1e-3 to 1;
    in a live kernel any value in range) × depth (2, 3, 5, 8 hidden layers).
    Live only: hidden width, epochs, training images and Adam's learning
    rate. On inputs wider than 1,000 (CIFAR-10) the default trains on 150
    images and measures validation accuracy on 100 (the app says so).

    Parameters
    ----------
    data : dict, optional
        From :func:`nndl_lab.data.get_data`; None uses ``get_data("auto")``.
    grid, threaded : see :class:`widgets.core.App`.
    **overrides
        Defaults of the controls (``weight_scale``, ``depth``, ``width``,
        ``num_epochs``, ``num_train``, ``learning_rate``; the values
        :meth:`widgets.core.App.set` accepts) or ``batch_size``, ``seed``, ``num_val``.
    """
    data = resolve_data(data)
    wide = input_dim(data) > WIDE_INPUT
    controls = [
        Grid(
            "weight_scale",
            WEIGHT_SCALES,
            2e-2,
            "weight scale",
            any_value="float",
            tooltip="standard deviation of the initial weights (both nets; log scale)",
        ),
        Grid(
            "depth",
            DEPTHS,
            5,
            "hidden layers",
            any_value="int",
            lo=1,
            hi=8,
            tooltip="number of hidden layers (1 to 8 in a live kernel)",
        ),
        live_number(
            "width",
            "hidden width",
            100,
            int_ladder(10, 200),
            integer=True,
            tooltip="units per hidden layer (10 to 200)",
        ),
        live_number(
            "num_epochs",
            "epochs",
            10,
            list(range(1, 21)),
            integer=True,
            tooltip="passes over the training images (1 to 20)",
        ),
        num_train_control(data, WIDE_NUM_TRAIN if wide else CHAPTER_NUM_TRAIN),
        live_number(
            "learning_rate",
            "Adam η",
            1e-3,
            log_ladder(1e-4, 1e-1),
            tooltip="Adam's learning rate (1e-4 to 0.1, log scale)",
        ),
    ]
    fixed = {"batch_size": 50, "seed": 0, "num_val": WIDE_NUM_VAL if wide else None}
    apply_overrides("batchnorm_vs_baseline", controls, fixed, overrides)
    view = with_validation_subset(data, fixed["num_val"])
    n_train = next(c for c in controls if c.key == "num_train").default
    return App(
        "batchnorm",
        "Batch normalization: the same net with and without it",
        controls,
        compute,
        BatchnormPlot,
        view,
        fixed=fixed,
        compute_grid=compute_grid,
        cost=make_cost(view),
        notes=data_notes(
            data, num_train=n_train, chapter_num_train=CHAPTER_NUM_TRAIN, num_val=fixed["num_val"]
        ),
        grid=grid,
        threaded=threaded,
    )
