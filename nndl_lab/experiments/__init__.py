r"""The homework's experiments as functions that return plain results.

Used by the book, the widgets, the ``nndl-lab reproduce`` command and the
benchmarks alike; none of them reimplements an experiment. Every function
takes ``data`` = the dict :func:`nndl_lab.data.get_data` returns (``X_train,
y_train, X_val, y_val[, X_test, y_test]``, images ``(N, C, H, W)``;
``input_dim`` is inferred from ``X_train.shape[1:]``, ``num_classes`` is 10
unless given) and returns dicts of numpy arrays, floats, ints and None — no
model objects, no figures. Bad arguments are a ``ValueError``/``TypeError``
naming the argument and the accepted values, raised before any training.

A *run* (one training) is a dict::

    {"loss_history": (iterations,), "train_acc_history": (checks,),
     "val_acc_history": (checks,), "best_val_acc": float, "best_train_acc": float,
     "final_train_loss": float (mean of the last min(100, len) losses),
     "diverged_at": None or the 1-based iteration whose loss was not finite}

Experiments (book chapter in brackets)
--------------------------------------

::

    train_net(data, hidden_dims=(100,)*5, *, update_rule="adam", optim_config=None, ...)
        One FullyConnectedNet trained by the Solver → run. [ch.2–8]
    compare_update_rules(data, rules=None, *, hidden_dims=(100,)*5, num_train=4000, ...)
        {label: run}; default HOMEWORK_RULES (SGD, momentum, Nesterov at
        1e-2); HOMEWORK_ADAPTIVE_RULES = RMSProp 2e-4 vs Adam 1e-3. [ch.2–5]
    batchnorm_vs_baseline(data, *, hidden_dims=(100,)*5, num_train=1000, weight_scale=2e-2, ...)
        {"baseline": run, "batchnorm": run} (Adam). [ch.6]
    weight_scale_sweep(data, weight_scales=np.logspace(-4, 0, 20), hidden_dims=(50,)*6, ...)
        {"weight_scales": (S,), "baseline": table, "batchnorm": table}. [ch.6]
    dropout_sweep(data, keep_ratios=(1.0, 0.75, 0.5, 0.25), *, hidden_dims=(500,), ...)
        Train/validation accuracy and their gap per keep ratio. [ch.7]
    capstone(data, *, hidden_dims=(500,)*3, use_batchnorm=True, lr_decay=0.9, ...)
        Run + "val_acc", "test_acc" of the best parameters. [ch.8]
    hyperparameter_search(data, learning_rates, weight_scales=None, *, ...)
        Table over the grid. [ch.8]
    SURFACES, optimize_surface(surface, update_rule, optim_config=None, *, num_steps=100)
        The update rules on 2-D surfaces. [ch.2–5]

Engines
-------

::

    train_batched(data, hidden_dims, *, weight_scale=..., learning_rate=..., ...)
        Many nets of one shape trained together in one vectorized pass. [ch.6–8]
    run_parallel(function, kwargs_list, *, n_jobs=-1, backend=None)
        Configurations of different shapes in parallel processes (joblib; the
        backend can be switched to dask or ray). [ch.8]
    reproduce_homework(name="all", data=None, *, seed=0), format_result(name, result)
        What nndl-lab reproduce [name] runs and prints. [ch.2–8]
    record_results(data, names="all", *, seed=0, ...), load_recorded(name=None)
        nndl-lab reproduce --record: the CIFAR-10 results the book shows as
        recorded when it is built on the digits. [ch.2–8]
"""

from .batched import train_batched
from .config import TrainingConfig
from .parallel import run_parallel
from .recorded import RecordedResults, data_fingerprint, load_recorded, record_results
from .reproduce import CAPSTONE_WITH_DROPOUT, format_result, reproduce_homework
from .results import split_runs, stack_runs
from .runs import (
    HOMEWORK_ADAPTIVE_RULES,
    HOMEWORK_RULES,
    batchnorm_vs_baseline,
    capstone,
    compare_update_rules,
    final_train_loss,
    num_checks,
    num_iterations,
    train_net,
)
from .surfaces import QUADRATIC_A, QUADRATIC_B, SURFACES, Surface, optimize_surface
from .sweeps import (
    HOMEWORK_WEIGHT_SCALES,
    dropout_sweep,
    hyperparameter_search,
    weight_scale_sweep,
)

__all__ = [
    "CAPSTONE_WITH_DROPOUT",
    "HOMEWORK_ADAPTIVE_RULES",
    "HOMEWORK_RULES",
    "HOMEWORK_WEIGHT_SCALES",
    "QUADRATIC_A",
    "QUADRATIC_B",
    "RecordedResults",
    "SURFACES",
    "Surface",
    "TrainingConfig",
    "batchnorm_vs_baseline",
    "capstone",
    "compare_update_rules",
    "data_fingerprint",
    "dropout_sweep",
    "final_train_loss",
    "hyperparameter_search",
    "load_recorded",
    "record_results",
    "num_checks",
    "num_iterations",
    "format_result",
    "optimize_surface",
    "reproduce_homework",
    "run_parallel",
    "split_runs",
    "stack_runs",
    "train_batched",
    "train_net",
    "weight_scale_sweep",
]
