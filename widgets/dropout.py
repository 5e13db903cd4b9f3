"""Dropout: the keep ratio against the overfitting gap.

A live change calls :func:`nndl_lab.experiments.dropout_sweep` with the keep
ratios (1.0, p) — no dropout as the reference, and the chosen p; the static
grid is one batched ``dropout_sweep`` over all grid values, whose rows are
those runs.
"""

from __future__ import annotations

import numpy as np

from nndl_lab import experiments as E

from ._common import (
    REFERENCE_COLOR,
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
    table_rows,
    with_validation_subset,
)
from .canvas import LABEL_SIZE, Plot, table_flags
from .core import App, Grid

KEEP_RATIOS = [0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.75, 0.9, 1.0]
TRAIN_COLOR, VAL_COLOR = "#1f77b4", "#d62728"
#: Chapter 7's experiment (the homework's): one hidden layer of 500, 500 images, 25 epochs.
CHAPTER_NUM_TRAIN = 500
WIDE_NUM_TRAIN, WIDE_NUM_VAL, WIDE_EPOCHS = 100, 100, 7


def keep_ratios(setting) -> tuple:
    """The keep ratios of one setting's sweep: (1.0, p), or (1.0,) for p = 1."""
    p = setting["keep_ratio"]
    return (1.0,) if p == 1.0 else (1.0, p)


def _common(setting) -> dict:
    """The entries of a setting that the nets of one sweep share."""
    return dict(
        hidden_dims=(setting["width"],) * setting["depth"],
        num_train=setting["num_train"],
        num_epochs=setting["num_epochs"],
        batch_size=setting["batch_size"],
        learning_rate=setting["learning_rate"],
        weight_scale=setting["weight_scale"],
        seed=setting["seed"],
    )


def training_config(setting) -> E.TrainingConfig:
    """The shared setting of a sweep as one validated configuration (Adam)."""
    common = _common(setting)
    learning_rate = common.pop("learning_rate")
    return E.TrainingConfig(optim_config={"learning_rate": learning_rate}, **common)


def compute(data, setting) -> dict:
    """``dropout_sweep(data, keep_ratios=(1.0, p), ...)`` for one setting."""
    return E.dropout_sweep(data, keep_ratios=keep_ratios(setting), config=training_config(setting))


def compute_grid(data, settings) -> list:
    """The same tables for many settings: one batched sweep per shape, sliced."""
    groups: dict = {}
    for i, setting in enumerate(settings):
        key = tuple(sorted(_common(setting).items()))
        groups.setdefault(key, []).append(i)
    results: list = [None] * len(settings)
    for indices in groups.values():
        ratios = sorted({p for i in indices for p in keep_ratios(settings[i])}, reverse=True)
        sweep = E.dropout_sweep(
            data, keep_ratios=ratios, config=training_config(settings[indices[0]])
        )
        for i in indices:
            rows = [ratios.index(p) for p in keep_ratios(settings[i])]
            results[i] = table_rows(sweep, rows, len(ratios))
    return results


def make_cost(data):
    d, n, n_val = input_dim(data), len(data["X_train"]), len(data["y_val"])

    def cost(setting) -> float:
        dims = [d, *(setting["width"],) * setting["depth"], 10]
        n_train = min(setting["num_train"], n)
        iterations = E.num_iterations(n_train, setting["batch_size"], setting["num_epochs"])
        checks = (setting["num_epochs"] + 1) * (min(n_train, 1000) + n_val)
        per_run = iterations * mac_per_step(dims, setting["batch_size"])
        per_run += checks * mac_per_step(dims, 1) / 3
        return len(keep_ratios(setting)) * per_run

    return cost


class DropoutPlot(Plot):
    def setup(self):
        self.fig.subplots_adjust(
            left=0.065, right=0.99, bottom=self.bottom, top=self.top, wspace=0.22
        )
        self.ax_acc, self.ax_gap = self.fig.subplots(1, 2, width_ratios=[2.2, 1])
        style_axes(self.ax_acc, "accuracy per epoch", "epoch")
        style_axes(self.ax_gap, "gap: final train − val", "")
        self.lines = {}
        for which, color in (("train", TRAIN_COLOR), ("val", VAL_COLOR)):
            for ref in (True, False):
                key = f"{which}/{'reference' if ref else 'dropout'}"
                (self.lines[key],) = self.ax_acc.plot(
                    [],
                    [],
                    "o-" if not ref else "--",
                    color=color,
                    ms=2.5,
                    lw=1.2 if not ref else 1.0,
                    alpha=1.0 if not ref else 0.6,
                    gid=key,
                )
        self.bars = self.ax_gap.bar([0, 1], [0, 0], color=[REFERENCE_COLOR, "#2ca02c"], width=0.6)
        self.bar_text = [
            self.ax_gap.text(i, 0, "", ha="center", va="bottom", fontsize=LABEL_SIZE)
            for i in (0, 1)
        ]
        self.ax_gap.set_xticks([0, 1])
        self.ax_gap.set_xlim(-0.6, 1.6)

    def update(self, result, setting):
        ratios = result["keep_ratios"]
        ref, cur = 0, len(ratios) - 1
        for which in ("train", "val"):
            history = result[f"{which}_acc_history"]
            for key, row in ((f"{which}/reference", ref), (f"{which}/dropout", cur)):
                y = history[row]
                self.lines[key].set_data(np.arange(len(y)), y)
                self.lines[key].set_visible(True)
        p = float(ratios[cur])
        self.lines["train/dropout"].set_label(f"train, keep {p:g}")
        self.lines["val/dropout"].set_label(f"validation, keep {p:g}")
        self.lines["train/reference"].set_label("train, no dropout")
        self.lines["val/reference"].set_label("validation, no dropout")
        self.ax_acc.set_xlim(-0.5, setting["num_epochs"] + 0.5)
        accs = np.concatenate(
            [result["train_acc_history"].ravel(), result["val_acc_history"].ravel()]
        )
        accs = accs[np.isfinite(accs)]
        lo = float(accs.min()) if accs.size else 0.0
        self.ax_acc.set_ylim(max(0.0, min(lo, 0.9) - 0.05), 1.02)
        gaps = [float(result["gap"][ref]), float(result["gap"][cur])]
        for bar, text, gap, x in zip(self.bars, self.bar_text, gaps, (0, 1), strict=True):
            bar.set_height(gap)
            text.set_position((x, max(gap, 0.0)))
            text.set_text(f"{gap:.3f}")
        self.ax_gap.set_xticklabels(["no dropout", f"keep {p:g}"], fontsize=LABEL_SIZE)
        top = max(max(gaps), 0.05)
        self.ax_gap.set_ylim(min(0.0, min(gaps)) * 1.2, top * 1.3)

    def legend_handles(self):
        keys = ("train/reference", "train/dropout", "val/reference", "val/dropout")
        return [self.lines[k] for k in keys]

    def title(self, setting):
        return (
            f"keep ratio {setting['keep_ratio']:.3g} against no dropout; {setting['depth']} "
            f"hidden layer{'' if setting['depth'] == 1 else 's'} of {setting['width']}, "
            f"weight scale {setting['weight_scale']:.3g}; "
            f"Adam, learning rate {setting['learning_rate']:.3g}; {setting['num_train']} "
            f"training images, {setting['num_epochs']} epochs, batch {setting['batch_size']}"
        )

    def messages(self, result, setting):
        return table_flags("dropout", result)


def dropout_regularization(
    data=None, *, grid: bool = True, threaded: bool = True, **overrides
) -> App:
    """Training vs validation accuracy as the keep ratio shrinks.

    Opens on chapter 7's first experiment (the homework's): one hidden layer
    of 500, weight scale 1e-2, 500 training images, 25 epochs of batches of
    100, Adam at 5e-4, keep ratio 0.5 against no dropout. Grid (static
    page): the keep ratio, 10 values from 0.1 to 1 (any value in a live
    kernel). Live only: hidden width, epochs, training images, Adam's
    learning rate and the initial weight scale (chapter 7's second
    experiment raises it). On inputs wider than 1,000 (CIFAR-10) the default
    trains on 100 images for 7 epochs and measures validation accuracy on
    100 (the app says so).

    Parameters
    ----------
    data : dict, optional
        From :func:`nndl_lab.data.get_data`; None uses ``get_data("auto")``.
    grid, threaded : see :class:`widgets.core.App`.
    **overrides
        Defaults of the controls (``keep_ratio``, ``width``, ``num_epochs``,
        ``num_train``, ``learning_rate``, ``weight_scale``; the values
        :meth:`widgets.core.App.set` accepts) or ``depth``, ``batch_size``, ``seed``, ``num_val``.
    """
    data = resolve_data(data)
    wide = input_dim(data) > WIDE_INPUT
    controls = [
        Grid(
            "keep_ratio",
            KEEP_RATIOS,
            0.5,
            "keep ratio p",
            any_value="float",
            lo=0.05,
            hi=1.0,
            tooltip="probability of keeping a hidden unit during training (1: no dropout)",
        ),
        live_number(
            "width",
            "hidden width",
            500,
            int_ladder(50, 1000),
            integer=True,
            tooltip="units in the hidden layer (50 to 1,000)",
        ),
        live_number(
            "num_epochs",
            "epochs",
            WIDE_EPOCHS if wide else 25,
            int_ladder(1, 100),
            integer=True,
            tooltip="passes over the training images (1 to 100)",
        ),
        num_train_control(data, WIDE_NUM_TRAIN if wide else CHAPTER_NUM_TRAIN),
        live_number(
            "learning_rate",
            "Adam η",
            5e-4,
            log_ladder(1e-4, 1e-1),
            tooltip="Adam's learning rate (1e-4 to 0.1, log scale)",
        ),
        # The homework's 1e-2 was chosen for 3,072 CIFAR-10 inputs; chapter 7 shows what a
        # larger scale (the same first-layer scale on small inputs) changes.
        live_number(
            "weight_scale",
            "initial weight scale",
            1e-2,
            log_ladder(1e-3, 1.0),
            tooltip="standard deviation of the initial weights (1e-3 to 1, log scale)",
        ),
    ]
    fixed = {"depth": 1, "batch_size": 100, "seed": 0, "num_val": WIDE_NUM_VAL if wide else None}
    apply_overrides("dropout_regularization", controls, fixed, overrides)
    view = with_validation_subset(data, fixed["num_val"])
    n_train = next(c for c in controls if c.key == "num_train").default
    return App(
        "dropout",
        "Dropout: training vs validation accuracy as the keep ratio shrinks",
        controls,
        compute,
        DropoutPlot,
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
