"""Small helpers shared by the app modules (labels, colours, overrides, memo)."""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Mapping, Sequence

import ipywidgets as W
import numpy as np

from nndl_lab import optim

from .core import Grid, Live, _freeze

#: The update rules in the order the book introduces them (the registry's order).
RULES = tuple(optim.RULES)

#: A readable name per rule, from the registry.
RULE_LABELS = {name: rule.label for name, rule in optim.RULES.items()}

# matplotlib's default colour cycle ("tab10"), assigned to the rules in the registry's order
_CYCLE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)

RULE_COLORS = {name: _CYCLE[i % len(_CYCLE)] for i, name in enumerate(RULES)}

BASELINE_COLOR = "#1f77b4"
BATCHNORM_COLOR = "#ff7f0e"
REFERENCE_COLOR = "#7f7f7f"

LABEL_SIZE = 8
TICK_SIZE = 7


def resolve_data(data):
    """``data`` itself, or ``get_data("auto")`` when it is None."""
    if data is None:
        from nndl_lab.data import get_data

        return get_data("auto")
    if not isinstance(data, Mapping) or "X_train" not in data:
        raise TypeError(
            "data must be None or the dict nndl_lab.data.get_data() returns "
            f"(X_train, y_train, X_val, y_val, ...), got {type(data).__name__}"
        )
    return data


def apply_overrides(app: str, controls: Sequence, fixed: dict, overrides: Mapping) -> None:
    """Keyword overrides of an app function: control defaults or fixed setting entries.

    A key naming a grid control must be one of its grid values; a key naming a
    live control sets that widget's value; any other key must be one of the
    app's fixed settings.
    """
    by_key = {c.key: c for c in controls}
    for key, value in overrides.items():
        if key in by_key:
            control = by_key[key]
            if isinstance(control, Grid):
                i = control.index_of(value)
                if i is None:
                    raise ValueError(
                        f"{app}: {key}={value!r} is not one of the grid values {control.values}"
                    )
                control.default = control.values[i]
            else:
                try:
                    control.widget.value = value
                except Exception as exc:
                    raise ValueError(f"{app}: {key}={value!r} is not accepted: {exc}") from exc
        elif key in fixed:
            fixed[key] = value
        else:
            accepted = sorted([*by_key, *fixed])
            raise TypeError(
                f"{app}() got an unexpected keyword argument {key!r}; accepted: {accepted}"
            )


class Memo:
    """A small thread-safe LRU memo of experiment calls (per app: its data is fixed)."""

    def __init__(self, maxsize: int = 128):
        self._cache: collections.OrderedDict = collections.OrderedDict()
        self._lock = threading.Lock()
        self.maxsize = maxsize
        self.calls = 0

    def __call__(self, function: Callable, data, **kwargs):
        key = (function.__module__, function.__qualname__, id(data), _freeze(kwargs))
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        result = function(data, **kwargs)
        with self._lock:
            self.calls += 1
            self._cache[key] = result
            while len(self._cache) > self.maxsize:
                self._cache.popitem(last=False)
        return result


# -- live-only widgets ------------------------------------------------------------

_WIDTH = W.Layout(width="420px")


def live_int(key, description, value, lo, hi, step=1) -> Live:
    widget = W.IntSlider(
        value=value,
        min=lo,
        max=hi,
        step=step,
        description=description,
        continuous_update=False,
        layout=_WIDTH,
    )
    return Live(key, widget)


def live_log(key, description, value, lo, hi) -> Live:
    widget = W.FloatLogSlider(
        value=value,
        base=10,
        min=float(np.log10(lo)),
        max=float(np.log10(hi)),
        step=0.01,
        readout_format=".3g",
        description=description,
        continuous_update=False,
        layout=_WIDTH,
    )
    return Live(key, widget)


def live_float(key, description, value, lo, hi, step) -> Live:
    widget = W.FloatSlider(
        value=value,
        min=lo,
        max=hi,
        step=step,
        readout_format=".3g",
        description=description,
        continuous_update=False,
        layout=_WIDTH,
    )
    return Live(key, widget)


def live_choice(key, description, options, value) -> Live:
    widget = W.Dropdown(options=options, value=value, description=description)
    return Live(key, widget)


def live_rules(key, description, rules, value) -> Live:
    widget = W.SelectMultiple(
        options=[(RULE_LABELS[r], r) for r in rules],
        value=tuple(value),
        rows=len(rules),
        description=description,
    )
    return Live(key, widget, convert=tuple)


# -- plotting helpers ---------------------------------------------------------------


def style_axes(ax, title: str, xlabel: str, ylabel: str | None = None) -> None:
    ax.set_title(title, fontsize=LABEL_SIZE + 1)
    ax.set_xlabel(xlabel, fontsize=LABEL_SIZE)
    if ylabel:
        ax.set_ylabel(ylabel, fontsize=LABEL_SIZE)
    ax.tick_params(labelsize=TICK_SIZE)
    ax.grid(True, alpha=0.3, linewidth=0.5)


def homework_panels(fig):
    """The homework's three panels on ``fig``: training loss per iteration, training
    accuracy per epoch and validation accuracy per epoch; returns the three axes."""
    fig.subplots_adjust(left=0.06, right=0.99, bottom=0.15, top=0.82, wspace=0.28)
    ax_loss, ax_train, ax_val = fig.subplots(1, 3)
    style_axes(ax_loss, "training loss", "iteration")
    style_axes(ax_train, "training accuracy", "epoch")
    style_axes(ax_val, "validation accuracy", "epoch")
    return ax_loss, ax_train, ax_val


def autoscale(ax) -> None:
    ax.relim(visible_only=True)
    ax.autoscale_view()


def set_loss_ylim(ax, histories: Sequence[np.ndarray]) -> None:
    """y-limits for training-loss panels: 0 to a little above the start.

    A setting that blows up first climbs to huge losses; the panel keeps the
    scale of the initial loss (the message says what happened).
    """
    finite = [np.asarray(h)[np.isfinite(h)] for h in histories if len(h)]
    finite = [h for h in finite if h.size]
    if not finite:
        ax.set_ylim(0.0, 1.0)
        return
    top = max(float(h.max()) for h in finite)
    start = max(float(h[0]) for h in finite)
    ax.set_ylim(0.0, min(top, 1.5 * start) * 1.05 or 1.0)


def accuracy_ylim(ax, histories: Sequence[np.ndarray]) -> None:
    finite = [np.asarray(h)[np.isfinite(h)] for h in histories if len(h)]
    lo = min((float(h.min()) for h in finite if h.size), default=0.0)
    ax.set_ylim(max(0.0, min(lo, 0.9) - 0.05), 1.02)


def epochs_axis(n_checks: int) -> np.ndarray:
    return np.arange(n_checks, dtype=float)


def setting_caption(setting: Mapping, keys: Sequence[tuple[str, str]]) -> str:
    parts = []
    for key, label in keys:
        value = setting[key]
        if isinstance(value, float):
            value = f"{value:.3g}"
        elif isinstance(value, (tuple, list)):
            value = "×".join(map(str, value)) if value else "–"
        parts.append(f"{label} {value}")
    return ",  ".join(parts)


def run_from_table(table: Mapping, i: int) -> dict:
    """Row ``i`` of a sweep table as a run dict (what ``train_net`` returns for that net).

    A sweep pads the histories of a net that diverged with NaN and marks "did
    not diverge" with 0; a run's histories stop at the divergence (its last
    loss is the non-finite one) and its ``diverged_at`` is None.
    """
    diverged_at = int(table["diverged_at"][i])
    loss = np.asarray(table["loss_history"][i], dtype=float)
    if diverged_at:
        loss = loss[:diverged_at]

    def checks(row):
        row = np.asarray(row, dtype=float)
        nan = np.flatnonzero(np.isnan(row))
        return row[: nan[0]] if nan.size else row

    return {
        "loss_history": loss,
        "train_acc_history": checks(table["train_acc_history"][i]),
        "val_acc_history": checks(table["val_acc_history"][i]),
        "best_val_acc": float(table["best_val_acc"][i]),
        "best_train_acc": float(table["best_train_acc"][i]),
        "final_train_loss": float(table["final_train_loss"][i]),
        "diverged_at": diverged_at or None,
    }


def table_rows(table: Mapping, rows: Sequence[int], length: int) -> dict:
    """The rows ``rows`` of every array of a sweep table whose first axis has ``length``."""
    out = {}
    for key, value in table.items():
        if isinstance(value, np.ndarray) and value.ndim >= 1 and value.shape[0] == length:
            out[key] = value[list(rows)].copy()
        else:
            out[key] = value
    return out
