r"""Helpers the chapters share, saved once here (as d2l saves its ``#@save`` helpers).

The chapters import these instead of pasting them: the homework's three-panel
figure of a comparison of update rules (:func:`plot_runs`), its summary table
(:func:`print_summary`), the side-by-side table of the data in use and the
other data set (:func:`print_comparison`), the figure style sized for the
book's text column (:func:`use_book_style`), and the two ways a chapter
puts a computed result into its prose with myst-nb's ``glue``
(:func:`glue_number`, :func:`glue_text`).

The recorded CIFAR-10 results (:func:`nndl_lab.experiments.load_recorded`)
are shown next to the live ones by :func:`cifar10_reference`: on CIFAR-10
the chapter's live run is the reference; on the digits it is the recording,
labelled as recorded.

Book: chapters 1–8.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from nndl_lab.experiments import load_recorded

__all__ = [
    "COLUMN_WIDTH",
    "RULE_STYLE",
    "both_data_sets",
    "cifar10_reference",
    "data_label",
    "glue_number",
    "glue_text",
    "plot_runs",
    "print_comparison",
    "print_summary",
    "recorded_caption",
    "use_book_style",
]

#: Width in inches of a figure that fills the book's text column at 100 dpi (about 690 px).
COLUMN_WIDTH = 6.9

#: Label, colour, line style and marker of each update rule in every figure of the book.
RULE_STYLE = {
    "sgd": ("SGD", "C0", "-", "o"),
    "sgd_momentum": ("momentum", "C1", "--", "s"),
    "sgd_nesterov_momentum": ("Nesterov", "C2", "-.", "^"),
    "rmsprop": ("RMSProp", "C3", ":", "D"),
    "adam": ("Adam", "C4", (0, (5, 1, 1, 1)), "v"),
}


def use_book_style():
    """Figure defaults for the book's column: 6.9 in wide at 100 dpi, text of 9–10 pt.

    The layout engine is left to each figure (the chapters ask for
    ``layout="constrained"``), so the apps' own ``subplots_adjust`` is not
    overridden.

    Book: every chapter's first cell.
    """
    plt.rcParams.update(
        {
            "figure.figsize": (COLUMN_WIDTH, 3.0),
            "figure.dpi": 100,
            "savefig.dpi": 100,
            "font.size": 10,
            "axes.titlesize": 10,
            "axes.labelsize": 10,
            "xtick.labelsize": 9,
            "ytick.labelsize": 9,
            "legend.fontsize": 9,
            "figure.titlesize": 10,
        }
    )


def data_label(data) -> str:
    """How the prose names a data set: ``"CIFAR-10"`` or ``"the digits"``."""
    return {"cifar10": "CIFAR-10", "digits": "the digits"}.get(
        getattr(data, "name", None), "your data"
    )


def _style(key):
    label, color, linestyle, marker = RULE_STYLE.get(key, (key, None, "-", "o"))
    return label, color, linestyle, marker


def plot_runs(runs, title, *, loss_ylim=None):
    """The homework's figure: loss per iteration, training and validation accuracy per epoch.

    Book: chapters 2–5.

    Parameters
    ----------
    runs : dict
        ``{rule or label: run}`` as :func:`nndl_lab.experiments.compare_update_rules`
        returns.
    title : str
    loss_ylim : tuple of float, optional
        Limits of the loss axis (default: from the data).
    """
    fig, axes = plt.subplots(1, 3, layout="constrained", figsize=(COLUMN_WIDTH, 2.6))
    for key, run in runs.items():
        label, color, linestyle, marker = _style(key)
        loss = run["loss_history"]
        axes[0].plot(np.arange(1, len(loss) + 1), loss, lw=0.9, ls=linestyle, color=color)
        for ax, history in zip(axes[1:], ("train_acc_history", "val_acc_history"), strict=True):
            acc = run[history]
            ax.plot(np.arange(len(acc)), acc, ls=linestyle, marker=marker, ms=3, color=color,
                    label=label)  # fmt: skip
    axes[0].set(title="training loss", xlabel="iteration", ylabel="loss")
    if loss_ylim is not None:
        axes[0].set_ylim(*loss_ylim)
    axes[1].set(title="training accuracy", xlabel="epoch")
    axes[2].set(title="validation accuracy", xlabel="epoch")
    handles, labels = axes[1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), frameon=False)
    fig.suptitle(title)
    plt.show()


def print_summary(runs):
    """One line per run: final training loss, best training and validation accuracy.

    Book: chapters 2–5.
    """
    print(f"{'rule':<10} {'final train loss':>16} {'best train acc':>15} {'best val acc':>13}")
    for key, run in runs.items():
        label = _style(key)[0]
        print(
            f"{label:<10} {run['final_train_loss']:>16.3f} {run['best_train_acc']:>15.3f} "
            f"{run['best_val_acc']:>13.3f}"
        )


def cifar10_reference(name, data, live=None):
    """The CIFAR-10 result of experiment ``name`` to show beside the data in use.

    Book: chapters 2–8.

    Parameters
    ----------
    name : str
        An experiment of ``nndl-lab reproduce`` (``"optimizers"``, ``"adaptive"``,
        ``"batchnorm"``, ``"weight-scale"``, ``"dropout"``, ``"capstone"``).
    data : Dataset
        The data in use.
    live : dict, optional
        The chapter's own result of that experiment on ``data``.

    Returns
    -------
    (result, label) : tuple
        On CIFAR-10, ``live`` (if given) and ``"CIFAR-10, this run"``; otherwise
        the recorded result and a label such as ``"CIFAR-10 (JPEG copy), recorded
        2026-11-30, seed 0"``.
    """
    if getattr(data, "name", None) == "cifar10" and live is not None:
        return live, "CIFAR-10, this run"
    recorded = load_recorded()
    return recorded[name], recorded.label


def both_data_sets(name, data, live, run_on):
    """The result of experiment ``name`` on the data in use and on the other data set.

    On CIFAR-10 the other data set is the digits, always at hand and cheap,
    so ``run_on(digits)`` computes it; on the digits it is CIFAR-10, whose
    recorded result is used (see :func:`cifar10_reference`).

    Book: chapters 2–8.

    Parameters
    ----------
    name : str
        The experiment's name in the recording (``"optimizers"``, ``"adaptive"``,
        ``"batchnorm"``, ``"weight-scale"``, ``"dropout"``, ``"capstone"``).
    data : Dataset
        The data in use.
    live : dict
        The chapter's result on ``data``.
    run_on : callable
        ``run_on(other_data) -> result``, the same experiment on another data set.

    Returns
    -------
    dict
        ``{label: result}``, the data in use first: ``{"digits, this run": ...,
        "CIFAR-10, recorded": ...}`` or ``{"CIFAR-10, this run": ..., "digits, this
        run": ...}``.
    """
    if getattr(data, "name", None) == "cifar10":
        from nndl_lab.data import get_data

        return {
            "CIFAR-10, this run": live,
            "digits, this run": run_on(get_data("digits", verbose=False)),
        }
    recorded, _ = cifar10_reference(name, data)
    return {f"{getattr(data, 'name', 'data')}, this run": live, "CIFAR-10, recorded": recorded}


def recorded_caption():
    """One line saying what "recorded" means: data, date, seed and commit of the recording.

    Book: chapters 2–8, under every table or figure with recorded results.
    """
    recorded = load_recorded()
    commit = (recorded.meta.get("commit") or "unknown")[:12]
    return (
        f"CIFAR-10, recorded: {recorded.label} with `nndl-lab reproduce --record` "
        f"(commit {commit}); it is what this chapter computes when run on CIFAR-10."
    )


def print_comparison(columns, rows):
    """A table with one column per data set, e.g. digits (live) and CIFAR-10 (recorded).

    Book: chapters 2–8.

    Parameters
    ----------
    columns : list of str
        Column headings.
    rows : list of (str, list)
        ``(row label, one value per column)``; floats print with three
        decimals, other values as they are.
    """
    cells = [[f"{v:.3f}" if isinstance(v, float) else str(v) for v in values] for _, values in rows]
    label_width = max(len(label) for label, _ in rows)
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    print(
        " " * label_width
        + "  "
        + "  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True))
    )
    for (label, _), values in zip(rows, cells, strict=True):
        print(label.ljust(label_width) + "  " + "  ".join(
            v.rjust(w) for v, w in zip(values, widths, strict=True)))  # fmt: skip


def glue_number(name, value):
    """Glue a number for the prose (``{glue:text}`name:.3f```), without showing it here.

    Book: every chapter.
    """
    from myst_nb import glue

    if isinstance(value, np.generic):
        value = value.item()  # myst-nb parses the plain-text repr: np.float64(...) would not parse
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"value must be a real number; got {type(value).__name__}")
    glue(name, value, display=False)


def glue_text(name, markdown):
    """Glue a sentence or phrase for the prose (``{glue:md}`name```), without showing it here.

    The text is Markdown (CommonMark); it is how a chapter states a verdict
    computed on the data in use, instead of typing it by hand.

    Book: every chapter.
    """
    from IPython.display import Markdown
    from myst_nb import glue

    if not isinstance(markdown, str):
        raise TypeError(f"markdown must be a str; got {type(markdown).__name__}")
    glue(name, Markdown(markdown), display=False)
