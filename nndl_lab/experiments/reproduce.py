r"""``nndl-lab reproduce [name]``: the homework's experiments from the command line.

Each experiment runs at the homework's settings on the data set
:func:`nndl_lab.data.get_data` provides (CIFAR-10 when it is cached, the
shipped digits otherwise, or the one named by ``--data``) and prints a table
of the numbers the homework's plots show::

    nndl-lab reproduce                  # all of them
    nndl-lab reproduce weight-scale     # one
    nndl-lab reproduce dropout --data digits --seed 1

The same runs from Python: ``reproduce_homework("batchnorm", data)`` returns the
results, :func:`format_result` the table.

Book: chapter 2 (SGD & momentum), chapter 3 (Nesterov), chapter 4 (RMSProp),
chapter 5 (Adam), chapter 6 (batchnorm), chapter 7 (dropout), chapter 8
(capstone).
"""

from __future__ import annotations

import math
import sys
from typing import NamedTuple

from . import _checks
from .runs import HOMEWORK_ADAPTIVE_RULES, batchnorm_vs_baseline, capstone, compare_update_rules
from .sweeps import dropout_sweep, weight_scale_sweep

__all__ = [
    "CAPSTONE_WITH_DROPOUT",
    "EXPERIMENTS",
    "reproduce_homework",
    "format_result",
    "add_reproduce_command",
]

PROG = "nndl-lab"

#: The book's one change to the homework's capstone recipe (chapter 8): dropout,
#: chosen in advance from the recorded curves (the recipe overfits), not searched.
CAPSTONE_WITH_DROPOUT = {"dropout_keep_ratio": 0.8}


class Experiment(NamedTuple):
    title: str
    run: object  # run(data, seed) -> result
    table: object  # table(result) -> (headers, rows)
    chapter: str


def _fmt(value, digits=4):
    if value is None:
        return "-"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return f"{value:.{digits}f}"


def _run_row(label, run):
    diverged = run["diverged_at"]
    final_val = run["val_acc_history"][-1] if len(run["val_acc_history"]) else None
    return [
        label,
        _fmt(run["final_train_loss"]),
        _fmt(run["best_train_acc"], 3),
        _fmt(run["best_val_acc"], 3),
        _fmt(final_val, 3),
        "-" if diverged is None else f"at {diverged}",
    ]


_RUN_HEADERS = [
    "",
    "final train loss",
    "best train acc",
    "best val acc",
    "final val acc",
    "diverged",
]


def _runs_table(runs):
    return _RUN_HEADERS, [_run_row(label, run) for label, run in runs.items()]


def _weight_scale_table(result):
    headers = [
        "weight scale",
        "best val (base)",
        "best val (bn)",
        "best train (base)",
        "best train (bn)",
        "final loss (base)",
        "final loss (bn)",
    ]
    base, bn = result["baseline"], result["batchnorm"]
    rows = [
        [
            f"{scale:.2e}",
            _fmt(base["best_val_acc"][i], 3),
            _fmt(bn["best_val_acc"][i], 3),
            _fmt(base["best_train_acc"][i], 3),
            _fmt(bn["best_train_acc"][i], 3),
            _fmt(float(base["final_train_loss"][i])),
            _fmt(float(bn["final_train_loss"][i])),
        ]
        for i, scale in enumerate(result["weight_scales"])
    ]
    spread = [
        "spread (max - min)",
        _fmt(float(base["best_val_acc"].max() - base["best_val_acc"].min()), 3),
        _fmt(float(bn["best_val_acc"].max() - bn["best_val_acc"].min()), 3),
        "",
        "",
        "",
        "",
    ]
    return headers, [*rows, spread]


def _dropout_table(result):
    headers = ["keep ratio", "final train acc", "final val acc", "gap", "best val acc"]
    rows = [
        [
            f"{p:.2f}",
            _fmt(result["final_train_acc"][i], 3),
            _fmt(result["final_val_acc"][i], 3),
            _fmt(result["gap"][i], 3),
            _fmt(result["best_val_acc"][i], 3),
        ]
        for i, p in enumerate(result["keep_ratios"])
    ]
    return headers, rows


def _capstone_table(result, label="3x500 batchnorm, Adam, lr decay 0.9"):
    headers, rows = _runs_table({label: result})
    headers = [*headers, "val acc (best params)", "test acc (best params)"]
    rows[0] += [_fmt(result["val_acc"], 3), _fmt(result["test_acc"], 3)]
    return headers, rows


def _capstone_dropout_table(result):
    keep = CAPSTONE_WITH_DROPOUT["dropout_keep_ratio"]
    return _capstone_table(result, f"the same with dropout (keep {keep:g})")


#: The experiments by name, in the book's order.
EXPERIMENTS = {
    "optimizers": Experiment(
        "SGD vs momentum vs Nesterov (6-layer net, 4,000 samples, 5 epochs, lr 1e-2)",
        lambda data, seed: compare_update_rules(data, seed=seed),
        _runs_table,
        "chapters 2-3",
    ),
    "adaptive": Experiment(
        "RMSProp (lr 2e-4) vs Adam (lr 1e-3) (6-layer net, 4,000 samples, 5 epochs)",
        lambda data, seed: compare_update_rules(data, HOMEWORK_ADAPTIVE_RULES, seed=seed),
        _runs_table,
        "chapters 4-5",
    ),
    "batchnorm": Experiment(
        "Batchnorm vs baseline (5x100, 1,000 samples, weight scale 2e-2, Adam 1e-3, 10 epochs)",
        lambda data, seed: batchnorm_vs_baseline(data, seed=seed),
        _runs_table,
        "chapter 6",
    ),
    "weight-scale": Experiment(
        "Weight-scale sensitivity (6x50, 20 scales, with and without batchnorm, 10 epochs)",
        lambda data, seed: weight_scale_sweep(data, seed=seed),
        _weight_scale_table,
        "chapter 6",
    ),
    "dropout": Experiment(
        "Dropout (1x500, 500 samples, 25 epochs, Adam 5e-4)",
        lambda data, seed: dropout_sweep(data, seed=seed),
        _dropout_table,
        "chapter 7",
    ),
    "capstone": Experiment(
        "Capstone: 3x500 batchnorm net, Adam 1e-3, lr decay 0.9, 10 epochs, all samples",
        lambda data, seed: capstone(data, seed=seed),
        _capstone_table,
        "chapter 8",
    ),
    "capstone-dropout": Experiment(
        "Capstone with dropout, keep ratio "
        f"{CAPSTONE_WITH_DROPOUT['dropout_keep_ratio']:g} (the book's one change to the recipe)",
        lambda data, seed: capstone(data, seed=seed, **CAPSTONE_WITH_DROPOUT),
        _capstone_dropout_table,
        "chapter 8",
    ),
}


def _names(name):
    if name == "all":
        return list(EXPERIMENTS)
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; choose one of {['all', *EXPERIMENTS]}")
    return [name]


def reproduce_homework(name="all", data=None, *, seed=0, progress=False):
    """Run one or all of the homework's experiments; return ``{name: result}``.

    Book: chapters 2–8 (each chapter's experiment at the homework's settings).

    Parameters
    ----------
    name : str
        ``"all"`` or a key of ``EXPERIMENTS`` (``optimizers``,
        ``adaptive``, ``batchnorm``, ``weight-scale``, ``dropout``,
        ``capstone``, ``capstone-dropout``).
    data : dict, optional
        From :func:`nndl_lab.data.get_data`; None uses ``get_data("auto")``.
    seed : int
    progress : bool
        A tqdm bar over the experiments.

    Returns
    -------
    dict
        ``{name: result}`` with each experiment function's result.
    """
    names = _names(name)
    _checks.seed("seed", seed)
    if data is None:
        from ..data import get_data

        data = get_data("auto")
    _checks.data(data)
    from tqdm.auto import tqdm

    results = {}
    bar = tqdm(names, desc="reproduce", unit="experiment", disable=not progress)
    for key in bar:
        bar.set_postfix_str(key)
        results[key] = EXPERIMENTS[key].run(data, seed)
    bar.close()
    return results


def format_result(name, result):
    """The homework-style table of one experiment's result, as text.

    Book: chapters 2–8.
    """
    experiment = EXPERIMENTS[_names(name)[0]]
    headers, rows = experiment.table(result)
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=True)]
    lines = [f"{experiment.title} [{experiment.chapter}]"]
    lines.append(
        "  ".join(
            h.rjust(w) if i else h.ljust(w)
            for i, (h, w) in enumerate(zip(headers, widths, strict=True))
        )
    )
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append(
            "  ".join(
                str(c).rjust(w) if i else str(c).ljust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    return "\n".join(lines)


def _cmd_reproduce(args):
    from tqdm.auto import tqdm

    from .. import data as data_module

    try:
        names = _names(args.name)
        _checks.seed("--seed", args.seed)
        data = data_module.get_data(args.data, data_dir=args.data_dir)
    except (data_module.DataError, OSError, ValueError, TypeError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    if args.record is not None:
        return _record(args, data, names)
    bar = tqdm(names, desc="reproduce", unit="experiment", disable=args.no_progress)
    try:
        for key in bar:
            bar.set_postfix_str(key)
            result = EXPERIMENTS[key].run(data, args.seed)
            bar.write(format_result(key, result) + "\n")
    except (ValueError, TypeError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    finally:
        bar.close()
    return 0


def _record(args, data, names):
    from .recorded import RECORDED_PATH, record_results

    path = RECORDED_PATH if args.record == "" else args.record
    try:
        recorded = record_results(
            data,
            names,
            seed=args.seed,
            data_label=args.data_label,
            path=path,
            progress=not args.no_progress,
        )
    except (OSError, ValueError, TypeError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    for key, result in recorded.items():
        print(format_result(key, result) + "\n")
    print(f"recorded {len(recorded)} experiments ({recorded.label}) in {path}")
    return 0


def add_reproduce_command(subparsers):
    """Register ``nndl-lab reproduce [name]`` on the ``nndl-lab`` command's subparsers.

    Book: chapter 8 (reproducing the homework from the command line).
    """
    parser = subparsers.add_parser(
        "reproduce",
        help="run the homework's experiments and print their tables",
        description=(
            "Run one or all of the homework's experiments at its settings and print the "
            "numbers its plots show. Experiments: "
            + "; ".join(f"{name}: {e.title}" for name, e in EXPERIMENTS.items())
        ),
    )
    parser.add_argument(
        "name",
        nargs="?",
        default="all",
        choices=["all", *EXPERIMENTS],
        help="which experiment (default: all)",
    )
    parser.add_argument(
        "--data",
        default="auto",
        choices=["auto", "digits", "cifar10"],
        help="data set (default auto: CIFAR-10 if cached, else the shipped digits)",
    )
    parser.add_argument("--data-dir", default=None, help="CIFAR-10 cache directory")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--record",
        nargs="?",
        const="",
        default=None,
        metavar="PATH",
        help=(
            "write the results as a recording (JSON, with the data's fingerprint, the seed "
            "and the commit) to PATH, by default the one the book shows "
            "(nndl_lab/_data/cifar10_recorded.json)"
        ),
    )
    parser.add_argument(
        "--data-label",
        default=None,
        help='how the recording names its data in captions, e.g. "CIFAR-10 (JPEG copy)"',
    )
    parser.set_defaults(func=_cmd_reproduce)
    return parser
