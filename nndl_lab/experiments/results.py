r"""The results format of the experiments: runs, tables, and the conversions between them.

A *run* is the plain result of one training: a dict

======================= =========================================================
``loss_history``        ndarray (iterations,): the loss at every iteration
``train_acc_history``   ndarray (checks,): training accuracy at every check
``val_acc_history``     ndarray (checks,): validation accuracy at every check
``best_val_acc``        float: the Solver's best validation accuracy
``best_train_acc``      float: the highest training accuracy of the checks
``final_train_loss``    float: mean of the last ``min(100, len)`` losses
``diverged_at``         None, or the 1-based iteration whose loss was not finite
======================= =========================================================

A diverged run stops there, as the Solver does: its ``loss_history`` ends
with the non-finite loss and its accuracy histories hold only the checks made
before it (so its ``final_train_loss`` is not finite either). A run that
diverged at its very first step has no checks; its ``best_val_acc`` and
``best_train_acc`` are then 0.0.

A *table* holds runs of one shape stacked along a first axis: the histories
padded with NaN after a divergence, ``diverged_at`` an int array with 0 for
"did not diverge" (:func:`nndl_lab.experiments.stack_runs`,
:func:`nndl_lab.experiments.split_runs`).

This module imports nothing else of the package's experiments, so both the
single runs (``runs``) and the batched trainer (``batched``) build on it.

Book: chapter 6 (the weight-scale plots), chapters 2–8 (every run).
"""

from __future__ import annotations

import numpy as np

from ..training import Schedule

__all__ = [
    "FINAL_LOSS_WINDOW",
    "RUN_KEYS",
    "TABLE_KEYS",
    "final_train_loss",
    "num_iterations",
    "num_checks",
    "make_run",
    "stack_runs",
    "split_runs",
]

#: The homework's "final training loss" is the mean of this many last losses.
FINAL_LOSS_WINDOW = 100

#: The keys of a run, and of a table (the same names, stacked).
RUN_KEYS = TABLE_KEYS = (
    "loss_history",
    "train_acc_history",
    "val_acc_history",
    "best_val_acc",
    "best_train_acc",
    "final_train_loss",
    "diverged_at",
)


def final_train_loss(loss_history, window=FINAL_LOSS_WINDOW):
    """Mean of the last ``min(window, len)`` losses (the homework's "final training loss").

    Book: chapter 6 (the weight-scale plots). NaN for an empty history.
    """
    loss_history = np.asarray(loss_history, dtype=float)
    if loss_history.size == 0:
        return float("nan")
    return float(np.mean(loss_history[-window:]))


def num_iterations(num_train, batch_size, num_epochs):
    """Iterations a Solver makes: ``num_epochs * max(num_train // batch_size, 1)``.

    Book: chapter 1 (the Solver); used to size the histories of sweeps.
    """
    return Schedule(num_train, batch_size, num_epochs).num_iterations


def num_checks(num_train, batch_size, num_epochs):
    """Accuracy checks a Solver makes: after the first step and at every epoch end.

    With one iteration per epoch the first step is also the first epoch end,
    so there are ``num_epochs`` checks; otherwise ``num_epochs + 1``.
    Book: chapter 1 (the Solver).
    """
    return Schedule(num_train, batch_size, num_epochs).num_checks


def make_run(loss_history, train_acc_history, val_acc_history, best_val_acc, diverged_at):
    """A run dict from the histories of one training (``best_train_acc`` and
    ``final_train_loss`` are derived from them)."""
    loss = np.asarray(loss_history, dtype=float)
    train = np.asarray(train_acc_history, dtype=float)
    val = np.asarray(val_acc_history, dtype=float)
    return {
        "loss_history": loss,
        "train_acc_history": train,
        "val_acc_history": val,
        "best_val_acc": float(best_val_acc),
        "best_train_acc": float(train.max()) if train.size else 0.0,
        "final_train_loss": final_train_loss(loss),
        "diverged_at": None if not diverged_at else int(diverged_at),
    }


def stack_runs(runs, iterations, checks):
    r"""Stack runs of one shape into the arrays of a sweep table.

    Histories of diverged runs are shorter; they are padded with NaN.
    ``diverged_at`` becomes an int array with 0 for "did not diverge".

    Book: chapter 6 (the weight-scale sweep's table).

    Parameters
    ----------
    runs : list of run dicts
    iterations, checks : int
        Full lengths of the loss and accuracy histories.

    Returns
    -------
    dict of ndarray
        ``loss_history`` (S, iterations), ``train_acc_history`` and
        ``val_acc_history`` (S, checks), ``best_val_acc``, ``best_train_acc``,
        ``final_train_loss`` (S,), ``diverged_at`` (S,) int.
    """
    count = len(runs)
    table = {
        "loss_history": np.full((count, iterations), np.nan),
        "train_acc_history": np.full((count, checks), np.nan),
        "val_acc_history": np.full((count, checks), np.nan),
    }
    for key in ("loss_history", "train_acc_history", "val_acc_history"):
        for i, run in enumerate(runs):
            history = np.asarray(run[key], dtype=float)
            table[key][i, : history.size] = history
    for key in ("best_val_acc", "best_train_acc", "final_train_loss"):
        table[key] = np.array([run[key] for run in runs], dtype=float)
    table["diverged_at"] = np.array([run["diverged_at"] or 0 for run in runs], dtype=np.int64)
    return table


def split_runs(result):
    r"""Turn a table (or a :func:`train_batched` result) into K run dicts.

    The inverse of :func:`stack_runs`: a diverged net's histories are cut
    where its Solver run stopped, and its ``diverged_at`` is an int (None for
    the others).

    Book: chapter 6 (batchnorm), chapter 7 (dropout), chapter 8 (capstone).
    """
    runs = []
    for k in range(result["loss_history"].shape[0]):
        stop = int(result["diverged_at"][k])
        loss = result["loss_history"][k]
        train = result["train_acc_history"][k]
        val = result["val_acc_history"][k]
        if stop:
            loss = loss[:stop]
            train, val = train[~np.isnan(train)], val[~np.isnan(val)]
        runs.append(
            {
                "loss_history": loss.copy(),
                "train_acc_history": train.copy(),
                "val_acc_history": val.copy(),
                "best_val_acc": float(result["best_val_acc"][k]),
                "best_train_acc": float(result["best_train_acc"][k]),
                "final_train_loss": float(result["final_train_loss"][k]),
                "diverged_at": stop or None,
            }
        )
    return runs
