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
    LABEL_SIZE,
    REFERENCE_COLOR,
    apply_overrides,
    live_int,
    live_log,
    resolve_data,
    style_axes,
    table_rows,
)
from .core import App, Grid, Plot, find_divergence

KEEP_RATIOS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.75, 0.9, 1.0]
TRAIN_COLOR, VAL_COLOR = "#1f77b4", "#d62728"


def keep_ratios(setting) -> tuple:
    """The keep ratios of one setting's sweep: (1.0, p), or (1.0,) for p = 1."""
    p = setting["keep_ratio"]
    return (1.0,) if p == 1.0 else (1.0, p)


def _common(setting) -> dict:
    return dict(
        hidden_dims=(setting["width"],) * setting["depth"],
        num_train=setting["num_train"],
        num_epochs=setting["num_epochs"],
        batch_size=setting["batch_size"],
        learning_rate=setting["learning_rate"],
        weight_scale=setting["weight_scale"],
        seed=setting["seed"],
    )


def compute(data, setting) -> dict:
    """``dropout_sweep(data, keep_ratios=(1.0, p), ...)`` for one setting."""
    return E.dropout_sweep(data, keep_ratios=keep_ratios(setting), **_common(setting))


def compute_grid(data, settings) -> list:
    """The same tables for many settings: one batched sweep per shape, sliced."""
    groups: dict = {}
    for i, setting in enumerate(settings):
        key = tuple(sorted(_common(setting).items()))
        groups.setdefault(key, []).append(i)
    results: list = [None] * len(settings)
    for indices in groups.values():
        ratios = sorted({p for i in indices for p in keep_ratios(settings[i])}, reverse=True)
        sweep = E.dropout_sweep(data, keep_ratios=ratios, **_common(settings[indices[0]]))
        for i in indices:
            rows = [ratios.index(p) for p in keep_ratios(settings[i])]
            results[i] = table_rows(sweep, rows, len(ratios))
    return results


class DropoutPlot(Plot):
    figsize = (8.0, 2.9)

    def setup(self):
        self.fig.subplots_adjust(left=0.06, right=0.99, bottom=0.15, top=0.82, wspace=0.22)
        self.ax_acc, self.ax_gap = self.fig.subplots(1, 2, width_ratios=[2.2, 1])
        style_axes(self.ax_acc, "accuracy per epoch", "epoch")
        style_axes(self.ax_gap, "overfitting gap (final train − val)", "")
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
                    lw=1.0 if not ref else 0.9,
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
        p = float(ratios[cur])
        self.lines["train/dropout"].set_label(f"train, keep {p:g}")
        self.lines["val/dropout"].set_label(f"validation, keep {p:g}")
        self.lines["train/reference"].set_label("train, no dropout")
        self.lines["val/reference"].set_label("validation, no dropout")
        self.ax_acc.legend(fontsize=LABEL_SIZE - 1, loc="lower right", ncol=2)
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
        self.fig.suptitle(
            f"keep ratio {p:g}: {setting['depth']} hidden layer(s) of {setting['width']}, "
            f"{setting['num_train']} training samples, {setting['num_epochs']} epochs",
            fontsize=LABEL_SIZE,
        )

    def messages(self, result, setting):
        return find_divergence({"dropout": result})


def dropout_regularization(
    data=None, *, grid: bool = True, threaded: bool = True, **overrides
) -> App:
    """Training vs validation accuracy as the keep ratio shrinks; the gap closes.

    Grid (static page): the keep ratio, 9 values from 0.1 to 1. Live only: a
    continuous keep ratio, hidden width, epochs, training samples, Adam's
    learning rate and the initial weight scale.

    Parameters
    ----------
    data : dict, optional
        From :func:`nndl_lab.data.get_data`; None uses ``get_data("auto")``.
    grid, threaded : see :class:`widgets.core.App`.
    **overrides
        Defaults of the controls (``keep_ratio`` (a grid value), ``width``,
        ``num_epochs``, ``num_train``, ``learning_rate``, ``weight_scale``) or ``depth``,
        ``batch_size``, ``seed``.
    """
    data = resolve_data(data)
    n_train = len(data["X_train"])
    controls = [
        Grid("keep_ratio", KEEP_RATIOS, 0.5, "keep ratio p", fine="linear"),
        live_int("width", "hidden width", 500, 50, 1000, 50),
        live_int("num_epochs", "epochs", 40, 5, 100, 5),
        live_int("num_train", "training samples", min(100, n_train), 50, n_train, 50),
        live_log("learning_rate", "Adam learning rate", 1e-3, 1e-4, 1e-1),
        # The homework's 1e-2 was chosen for 3,072 CIFAR-10 inputs; on small inputs a
        # larger scale is what lets the net overfit, and so lets dropout show its effect.
        live_log("weight_scale", "initial weight scale", 1e-2, 1e-3, 1.0),
    ]
    fixed = {"depth": 1, "batch_size": 100, "seed": 0}
    apply_overrides("dropout_regularization", controls, fixed, overrides)
    return App(
        "dropout",
        "Dropout: training vs validation accuracy as the keep ratio shrinks",
        controls,
        compute,
        DropoutPlot,
        data,
        fixed=fixed,
        compute_grid=compute_grid,
        grid=grid,
        threaded=threaded,
    )
