"""Small helpers shared by the app modules (labels, colours, controls, data, axes)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from nndl_lab import optim

from .canvas import LABEL_SIZE, TICK_SIZE, TITLE_SIZE
from .controls import Control, Live

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

#: The rules that declare a momentum hyperparameter (heavy ball, Nesterov, ...): the
#: apps' momentum control sets theirs.
MOMENTUM_RULES = tuple(name for name, rule in optim.RULES.items() if "momentum" in rule.defaults)

#: The rules that scale each weight's step by its gradient history (RMSProp, Adam, ...):
#: their learning rates are of another order of magnitude.
ADAPTIVE_RULES = tuple(name for name, rule in optim.RULES.items() if rule.adaptive)


def rule_list(rules, last: str = " and ") -> str:
    """The rules' labels as a phrase: ``"SGD, momentum and Nesterov"``."""
    labels = [RULE_LABELS[rule] for rule in rules]
    if len(labels) <= 1:
        return "".join(labels)
    return ", ".join(labels[:-1]) + last + labels[-1]


def rule_config(rule: str, learning_rate: float, momentum: float) -> dict:
    """The optim_config of ``rule`` at ``learning_rate``, with ``momentum`` when the rule
    declares one (:data:`MOMENTUM_RULES`)."""
    config = {"learning_rate": learning_rate}
    if rule in MOMENTUM_RULES:
        config["momentum"] = momentum
    return config


BASELINE_COLOR = "#1f77b4"
BATCHNORM_COLOR = "#ff7f0e"
REFERENCE_COLOR = "#7f7f7f"

#: Inputs wider than this (CIFAR-10's 3,072) make an app train on a subsample by default,
#: so that its default setting redraws in about a second.
WIDE_INPUT = 1000


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
    n = len(data["X_train"])
    if n < 20:
        raise ValueError(f"data must have at least 20 training images, got {n}")
    return data


def input_dim(data) -> int:
    return int(np.prod(np.shape(data["X_train"])[1:]))


def data_name(data) -> str:
    name = getattr(data, "name", None) or (data.get("name") if isinstance(data, Mapping) else None)
    return str(name) if name else "the data"


def with_validation_subset(data, num_val: int | None):
    """``data`` with only its first ``num_val`` validation images (a view; nothing copied)."""
    n_val = len(data["y_val"])
    if num_val is None or num_val >= n_val:
        return data
    view = dict(data)
    view["X_val"] = data["X_val"][:num_val]
    view["y_val"] = data["y_val"][:num_val]
    return view


def data_notes(data, *, num_train: int, chapter_num_train: int, num_val=None) -> list[str]:
    """The lines an app shows about the images it uses."""
    n, n_val = len(data["X_train"]), len(data["y_val"])
    lines = []
    if num_train < min(chapter_num_train, n):
        line = (
            f"On these {input_dim(data):,}-dimensional images the app trains on the first "
            f"{num_train:,} of {n:,} training images (the chapter's experiment uses "
            f"{min(chapter_num_train, n):,})"
        )
        if num_val is not None and num_val < n_val:
            line += f" and measures validation accuracy on {num_val:,} of {n_val:,} images"
        lines.append(line + ", so that a setting redraws in about a second.")
    if n < chapter_num_train and n < 100:
        lines.append(
            f"This data set has only {n} training images: the training-set control goes up to {n}."
        )
    return lines


def apply_overrides(app: str, controls: Sequence[Control], fixed: dict, overrides: Mapping):
    """Keyword overrides of an app function: control defaults or fixed setting entries.

    A key naming a control sets its default (anything :meth:`Control.coerce`
    accepts, the same values as :meth:`widgets.core.App.set`); any other key
    must be one of the app's fixed settings.
    """
    by_key = {c.key: c for c in controls}
    for key, value in overrides.items():
        if key in by_key:
            try:
                by_key[key].default = by_key[key].coerce(value)
            except ValueError as exc:
                raise ValueError(f"{app}: {exc}") from None
        elif key in fixed:
            fixed[key] = value
        else:
            accepted = sorted([*by_key, *fixed])
            raise TypeError(
                f"{app}() got an unexpected keyword argument {key!r}; accepted: {accepted}"
            )


# -- value ladders (the positions of a slider) ------------------------------------------

_NICE = {
    10: (1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0),
    5: (1.0, 1.5, 2.5, 4.0, 6.0),
    3: (1.0, 2.0, 5.0),
    2: (1.0, 3.0),
}


def log_ladder(lo: float, hi: float, presses: int = 40) -> list[float]:
    """Round values from ``lo`` to ``hi`` on a log scale, at most about ``presses`` of them
    (ten per decade over up to four decades, fewer per decade over more)."""
    decades = max(math.log10(hi / lo), 1e-9)
    per = next((k for k in (10, 5, 3, 2) if k * decades <= presses), 2)
    out = []
    for e in range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1):
        for m in _NICE[per]:
            v = float(f"{m * 10.0**e:.6g}")
            if lo * (1 - 1e-9) <= v <= hi * (1 + 1e-9):
                out.append(v)
    return sorted(set(out) | {float(lo), float(hi)})


def beta_ladder(lo: float, hi: float) -> list[float]:
    """β values from ``lo`` to ``hi`` evenly spaced in log(1 − β) (0 allowed as ``lo``)."""
    gaps = log_ladder(1.0 - hi, 1.0 if lo == 0 else 1.0 - lo)
    values = sorted({float(f"{1.0 - g:.6g}") for g in gaps})
    return [v for v in values if lo <= v <= hi]


def int_ladder(lo: int, hi: int, steps: int = 30) -> list[int]:
    """Whole numbers from ``lo`` to ``hi``: all of them, or about ``steps`` log-spaced."""
    lo, hi = int(lo), int(hi)
    if hi - lo <= steps:
        return list(range(lo, hi + 1))
    values = {lo, hi}
    for v in np.geomspace(max(lo, 1), hi, steps):
        digits = max(0, len(str(int(v))) - 2)
        values.add(int(round(v, -digits)))
    return sorted(v for v in values if lo <= v <= hi)


def live_number(
    key, description, default, values, *, tooltip, integer=False, lo=None, hi=None
) -> Live:
    """A live-only slider over ``values`` that also takes any number in range."""
    return Live(
        key,
        values,
        default,
        description,
        any_value="int" if integer else "float",
        lo=lo,
        hi=hi,
        tooltip=tooltip,
    )


def live_choice(key, description, options, default, *, tooltip, kind="toggle") -> Live:
    return Live(key, options, default, description, kind=kind, tooltip=tooltip)


def live_rules(key, description, rules, default, *, tooltip) -> Live:
    return Live(
        key,
        list(rules),
        tuple(default),
        description,
        kind="multi",
        fmt=lambda r: RULE_LABELS.get(r, str(r)) if isinstance(r, str) else ", ".join(r),
        tooltip=tooltip,
    )


def num_train_control(data, default: int, *, lo: int = 20) -> Live:
    n = len(data["X_train"])
    lo = min(lo, n)
    return live_number(
        "num_train",
        "training images",
        min(default, n),
        int_ladder(lo, n),
        integer=True,
        lo=lo,
        hi=n,
        tooltip=f"train on the first N training images (from {lo} to all {n})",
    )


def no_rule_message(setting, key: str = "rules") -> list[str]:
    if not setting[key]:
        return ["No update rule is selected: select at least one in the list of rules."]
    return []


# -- plotting helpers ---------------------------------------------------------------


def style_axes(ax, title: str, xlabel: str, ylabel: str | None = None) -> None:
    ax.set_title(title, fontsize=TITLE_SIZE)
    ax.set_xlabel(xlabel, fontsize=LABEL_SIZE)
    if ylabel:
        ax.set_ylabel(ylabel, fontsize=LABEL_SIZE)
    ax.tick_params(labelsize=TICK_SIZE)
    ax.grid(True, alpha=0.3, linewidth=0.5)


def homework_panels(fig, top: float, bottom: float):
    """The homework's three panels on ``fig``: training loss per iteration, training
    accuracy per epoch and validation accuracy per epoch; returns the three axes."""
    fig.subplots_adjust(left=0.065, right=0.99, bottom=bottom, top=top, wspace=0.3)
    ax_loss, ax_train, ax_val = fig.subplots(1, 3)
    style_axes(ax_loss, "training loss", "iteration")
    style_axes(ax_train, "training accuracy", "epoch")
    style_axes(ax_val, "validation accuracy", "epoch")
    return ax_loss, ax_train, ax_val


def set_loss_ylim(ax, histories: Sequence[np.ndarray]) -> None:
    """y-limits for training-loss panels: 0 to a little above the start.

    A setting that blows up first climbs to huge losses; the panel keeps the
    scale of the initial loss (the message band says what happened).
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


def mac_per_step(dims: Sequence[int], batch: int) -> float:
    """Multiply-adds of one forward and backward pass of a net with layer sizes ``dims``."""
    return 3.0 * batch * sum(a * b for a, b in zip(dims[:-1], dims[1:], strict=True))
