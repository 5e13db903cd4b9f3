r"""Sweeps: many nets of one shape that differ in weight scale, keep ratio or learning rate.

Each sweep trains its nets either together in one batched pass
(:func:`nndl_lab.experiments.train_batched`, ``batched=True``, the default)
or one after the other with the Solver (``batched=False``); both give the
same numbers up to floating-point rounding (exactly the same runs in float64,
up to ``allclose``). The results are tables: dicts of arrays indexed like the
swept values.

Book: chapter 6 (batchnorm: weight-scale sensitivity), chapter 7 (dropout),
chapter 8 (capstone: hyperparameter search).
"""

from __future__ import annotations

import inspect
import itertools
import os

import numpy as np

from . import _checks
from .batched import train_config_batched
from .config import TrainingConfig
from .parallel import run_parallel
from .results import TABLE_KEYS, num_checks, num_iterations, stack_runs
from .runs import _train, config_beside_keywords, normalization_variants

__all__ = [
    "weight_scale_sweep",
    "dropout_sweep",
    "hyperparameter_search",
    "stack_runs",
    "HOMEWORK_WEIGHT_SCALES",
]

#: The homework's 20 weight scales for the batchnorm sensitivity experiment.
HOMEWORK_WEIGHT_SCALES = np.logspace(-4, 0, num=20)


def _train_table(data, config, per_net, *, batched, input_dim, blas_threads, progress):
    """Train one net per entry of the per-net lists ``per_net`` (validated values of
    ``weight_scale``, ``dropout_keep_ratio``, ``optim_config``, ...) with the rest of the
    validated ``config``; return a table.

    Batched: one :func:`train_batched` pass (with ``blas_threads``); else one Solver run
    each (on one BLAS thread, as :func:`train_net`).
    """
    if batched:
        result = train_config_batched(
            data,
            config,
            per_net,
            input_dim=input_dim,
            blas_threads=blas_threads,
            progress=progress,
        )
        return {key: result[key] for key in TABLE_KEYS}
    num_train = _checks.training_subset(data, config.num_train)["X_train"].shape[0]
    iterations = num_iterations(num_train, config.batch_size, config.num_epochs)
    checks = num_checks(num_train, config.batch_size, config.num_epochs)
    count = len(next(iter(per_net.values())))
    runs = [
        _train(
            data,
            config.derive(**{name: values[k] for name, values in per_net.items()}),
            progress=progress,
            input_dim=input_dim,
        )[0]
        for k in range(count)
    ]
    return stack_runs(runs, iterations, checks)


def _checked_config(config, arguments, function, keys):
    """A sweep's ``config`` beside its keywords (see :func:`config_beside_keywords`)."""
    return config_beside_keywords(config, arguments, inspect.signature(function), keys)


def _sweep_setting(data, config, batched, *, use_batchnorm=False, **keywords):
    """``(config, input_dim)`` of a sweep.

    ``config`` as given (validated when it was made), or, when it is None, one
    made of the sweep's keywords: the keywords every sweep shares are checked
    here, in the order of :func:`_checks.sweep_arguments`; the sweep's own ones
    (``update_rule``, ``optim_config``, ...) the caller has checked, under their
    own names.
    """
    if config is not None:
        _checks.boolean("batched", batched)
        return config, _checks.data(data, config.num_classes)
    shared = {key: keywords.pop(key) for key in _SHARED_KEYS}
    input_dim = _checks.sweep_arguments(
        data=data, batched=batched, use_batchnorm=use_batchnorm, **shared
    )
    shared["hidden_dims"] = _shape(shared["hidden_dims"])
    shared["dtype"] = _checks.dtype(shared["dtype"])
    return TrainingConfig.from_checked(**shared, **keywords), input_dim


#: The training keywords every sweep shares, checked by :func:`_checks.sweep_arguments`.
_SHARED_KEYS = ("hidden_dims", "num_epochs", "batch_size", "num_train", "seed", "dtype")


def _blas_threads(value):
    if value is not None:
        _checks.positive_int("blas_threads", value)
    return value


def weight_scale_sweep(
    data,
    weight_scales=HOMEWORK_WEIGHT_SCALES,
    hidden_dims=(50,) * 6,
    num_epochs=10,
    batch_size=50,
    num_train=1000,
    learning_rate=1e-3,
    seed=0,
    dtype=np.float32,
    batched=True,
    *,
    variants=("baseline", "batchnorm"),
    n_jobs=1,
    blas_threads=1,
    progress=False,
    config=None,
):
    r"""Weight-scale sensitivity of a deep net, with and without batch normalization.

    The homework's experiment: for each of 20 weight scales in
    ``np.logspace(-4, 0, 20)``, a net with six hidden layers of 50 is trained
    with Adam (learning rate 1e-3) for 10 epochs of batches of 50 on the first
    1,000 training samples, once without and once with batchnorm. Per scale
    it records the best validation accuracy, the best training accuracy and
    the final training loss (mean of the last 100 losses) — the three plots
    of the homework. (The homework's cell never trained its baseline; here
    both are trained.)

    Net ``i`` of a variant is exactly ``FullyConnectedNet(hidden_dims,
    weight_scale=weight_scales[i], use_batchnorm=..., seed=seed)`` trained by
    ``Solver(..., update_rule="adam", optim_config={"learning_rate":
    learning_rate}, batch_size=batch_size, num_epochs=num_epochs,
    seed=seed)``. With ``batched=True`` all scales of a variant are trained
    in one vectorized pass (:func:`train_batched`), which reproduces those
    runs; ``batched=False`` runs the Solver once per net.

    Book: chapter 6 (batchnorm).

    Parameters
    ----------
    data : dict
        See :func:`train_net`.
    weight_scales : sequence of float, default ``np.logspace(-4, 0, 20)``
        Positive, non-empty.
    hidden_dims : sequence of int, default (50,) * 6
    num_epochs, batch_size : int
    num_train : int or None
        The first ``num_train`` training samples (None or more: all).
    learning_rate : float
        Adam's learning rate.
    seed : int
    dtype : np.float32 or np.float64
    batched : bool, default True
    variants : tuple of {"baseline", "batchnorm"}, keyword-only
        Which variants to train (default both).
    n_jobs : int, keyword-only, default 1
        With ``batched``, train the two variants (which cannot share a stack:
        their parameters differ) concurrently in this many threads (-1: one
        per variant, at most one per core). numpy releases the GIL inside its
        loops and BLAS calls, so on an idle 2-core machine two threads take
        about 0.6 of the time; but when another process keeps a core busy,
        the threads' many short hand-overs make it 2–3 times *slower*
        (measured by ``benchmarks/bench_sweep.py``), hence the default 1.
    blas_threads : int or None, keyword-only, default 1
        BLAS threads while training (see :func:`train_batched`): the stacked
        matrices are small, and a second BLAS thread gains little on an idle
        machine and loses much on a busy one. None leaves the BLAS alone.
    progress : bool, keyword-only
        Show a tqdm bar.
    config : TrainingConfig, keyword-only, optional
        The shared setting (net shape, rule, schedule, seed, ...) instead of
        ``hidden_dims``, ``num_epochs``, ``batch_size``, ``num_train``,
        ``learning_rate``, ``seed`` and ``dtype`` (which must then keep their
        defaults, as for :func:`train_net`); validated when it was made. The
        weight scales still come from ``weight_scales``, and each variant sets
        the normalization.

    Returns
    -------
    dict
        ``"weight_scales"`` (S,) and, per variant (``"baseline"``,
        ``"batchnorm"``), a dict of arrays indexed like the scales:
        ``best_val_acc`` (S,), ``best_train_acc`` (S,), ``final_train_loss``
        (S,), ``loss_history`` (S, iterations), ``train_acc_history`` (S,
        checks), ``val_acc_history`` (S, checks), ``diverged_at`` (S,) int with
        0 = did not diverge (histories of a diverged net are NaN after it
        stopped).
    """
    if config is not None:
        config = _checked_config(config, dict(locals()), weight_scale_sweep, _SWEEP_KEYS)
    scales = _checks.numeric_weight_scales(weight_scales)
    if config is None:
        _checks.positive_real("learning_rate", learning_rate)
    if isinstance(variants, str) or not set(variants) <= {"baseline", "batchnorm"} or not variants:
        raise ValueError(
            f"variants must be a non-empty subset of ('baseline', 'batchnorm'), got {variants!r}"
        )
    config, input_dim = _sweep_setting(
        data,
        config,
        batched,
        use_batchnorm="batchnorm" in variants,
        hidden_dims=hidden_dims,
        num_epochs=num_epochs,
        batch_size=batch_size,
        num_train=num_train,
        seed=seed,
        dtype=dtype,
        update_rule="adam",
        optim_config={"learning_rate": learning_rate},
    )
    blas_threads = _blas_threads(blas_threads)
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0 or n_jobs < -1:
        raise ValueError(f"n_jobs must be a positive integer or -1, got {n_jobs!r}")
    names = [v for v in ("baseline", "batchnorm") if v in variants]
    jobs = [
        dict(
            data=data,
            config=variant,
            per_net={"weight_scale": scales},
            batched=batched,
            input_dim=input_dim,
            progress=progress,
            blas_threads=blas_threads,
        )
        for variant in normalization_variants(config, names).values()
    ]
    threads = min(len(jobs), os.cpu_count() or 1) if n_jobs == -1 else min(n_jobs, len(jobs))
    if batched and threads > 1:
        tables = run_parallel(_train_table, jobs, n_jobs=threads, backend="threading")
    else:
        tables = [_train_table(**job) for job in jobs]
    return {"weight_scales": np.array(scales, dtype=float), **dict(zip(names, tables, strict=True))}


#: The training keywords of the sweeps that a config replaces.
_SWEEP_KEYS = (
    "hidden_dims",
    "num_epochs",
    "batch_size",
    "num_train",
    "learning_rate",
    "seed",
    "dtype",
)


def _shape(hidden_dims):
    """Validated ``hidden_dims`` as a config holds them."""
    return tuple(int(h) for h in hidden_dims)


def dropout_sweep(
    data,
    keep_ratios=(1.0, 0.75, 0.5, 0.25),
    *,
    hidden_dims=(500,),
    num_train=500,
    num_epochs=25,
    batch_size=100,
    learning_rate=5e-4,
    weight_scale=1e-2,
    seed=0,
    dtype=np.float32,
    batched=True,
    blas_threads=1,
    progress=False,
    config=None,
):
    r"""Dropout as a regularizer: the same net trained with several keep ratios.

    The homework's experiment: a net with one hidden layer of 500 overfits
    500 training samples in 25 epochs (Adam, learning rate 5e-4, batches of
    100); dropout (inverted, keep probability ``p``) narrows the gap between
    training and validation accuracy. Every net starts from the same weights
    and sees the same minibatches; with one seed the dropout masks of the nets
    come from the same uniform draws ``U`` (the mask is ``U < p``).

    Book: chapter 7 (dropout).

    Parameters
    ----------
    data : dict
        See :func:`train_net`.
    keep_ratios : sequence of float in (0, 1]
        Probabilities of keeping a unit; 1.0 is the net without dropout.
    hidden_dims, num_train, num_epochs, batch_size, weight_scale, seed, dtype
        See :func:`train_net`.
    learning_rate : float
        Adam's learning rate.
    batched : bool, default True
        Train all keep ratios in one pass (:func:`train_batched`).
    blas_threads : int or None, default 1
        See :func:`weight_scale_sweep`.
    progress : bool
    config : TrainingConfig, optional
        The shared setting instead of ``hidden_dims``, ``num_train``,
        ``num_epochs``, ``batch_size``, ``learning_rate``, ``weight_scale``,
        ``seed`` and ``dtype`` (see :func:`weight_scale_sweep`); the keep
        ratios still come from ``keep_ratios``.

    Returns
    -------
    dict
        ``"keep_ratios"`` (K,), ``"train_acc_history"`` and
        ``"val_acc_history"`` (K, checks), ``"loss_history"`` (K, iterations),
        ``"best_train_acc"``, ``"best_val_acc"``, ``"final_train_acc"``,
        ``"final_val_acc"`` (K,), ``"gap"`` (K,) = final training accuracy −
        final validation accuracy, ``"final_train_loss"`` and
        ``"diverged_at"`` (K,).
    """
    if config is not None:
        config = _checked_config(
            config, dict(locals()), dropout_sweep, (*_SWEEP_KEYS, "weight_scale")
        )
    ratios = _checks.sequence(
        "keep_ratios", keep_ratios, _checks.keep_ratio, "keep probabilities in (0, 1]"
    )
    if config is None:
        _checks.positive_real("learning_rate", learning_rate)
        weight_scale = _checks.weight_scale(weight_scale)
    config, input_dim = _sweep_setting(
        data,
        config,
        batched,
        hidden_dims=hidden_dims,
        num_epochs=num_epochs,
        batch_size=batch_size,
        num_train=num_train,
        seed=seed,
        dtype=dtype,
        update_rule="adam",
        optim_config={"learning_rate": learning_rate},
        weight_scale=weight_scale,
    )
    table = _train_table(
        data,
        config,
        {"dropout_keep_ratio": ratios},
        batched=batched,
        input_dim=input_dim,
        blas_threads=_blas_threads(blas_threads),
        progress=progress,
    )
    train_hist, val_hist = table["train_acc_history"], table["val_acc_history"]
    table["keep_ratios"] = np.array(ratios, dtype=float)
    table["final_train_acc"] = _last_finite(train_hist)
    table["final_val_acc"] = _last_finite(val_hist)
    table["gap"] = table["final_train_acc"] - table["final_val_acc"]
    return table


def _last_finite(histories):
    """The last non-NaN entry of each row (NaN for a row without any)."""
    out = np.full(histories.shape[0], np.nan)
    for i, row in enumerate(histories):
        finite = row[~np.isnan(row)]
        if finite.size:
            out[i] = finite[-1]
    return out


def hyperparameter_search(
    data,
    learning_rates,
    weight_scales=None,
    *,
    hidden_dims=(100, 100),
    num_epochs=5,
    batch_size=100,
    num_train=None,
    update_rule="adam",
    optim_config=None,
    use_batchnorm=False,
    dropout_keep_ratio=1.0,
    reg=0.0,
    lr_decay=1.0,
    seed=0,
    dtype=np.float32,
    batched=True,
    blas_threads=1,
    progress=False,
    config=None,
):
    r"""Grid search over learning rates × weight scales for one net shape.

    Every configuration of the grid has the same shape, so with
    ``batched=True`` they are trained together in one pass
    (:func:`train_batched`, per-net learning rates broadcast through the
    update rule); with ``batched=False`` one Solver run each. All start from
    the same random draws (one ``seed``) and see the same minibatches.

    Book: chapter 8 (capstone).

    Parameters
    ----------
    data : dict
        See :func:`train_net`.
    learning_rates : sequence of float > 0
    weight_scales : sequence of float or {"he", "xavier"}, optional
        Default ``[1e-2]``.
    hidden_dims, num_epochs, batch_size, num_train, update_rule, use_batchnorm,
    dropout_keep_ratio, reg, lr_decay, seed, dtype
        See :func:`train_net`.
    optim_config : dict, optional
        The rule's other hyperparameters (must not hold ``learning_rate``).
    batched : bool, default True
    blas_threads : int or None, default 1
        See :func:`weight_scale_sweep`.
    progress : bool
    config : TrainingConfig, optional
        The shared setting (rule and its other hyperparameters included)
        instead of ``hidden_dims``, ``num_epochs``, ``batch_size``,
        ``num_train``, ``update_rule``, ``optim_config``, ``use_batchnorm``,
        ``dropout_keep_ratio``, ``reg``, ``lr_decay``, ``seed`` and ``dtype``
        (see :func:`weight_scale_sweep`). The learning rates and weight scales
        still come from ``learning_rates`` and ``weight_scales`` (a learning
        rate in the config's ``optim_config`` is replaced by each of them).

    Returns
    -------
    dict
        One row per configuration, learning rates varying slowest:
        ``"learning_rate"`` (M,), ``"weight_scale"`` (M,) (object array when
        a scheme name is used), ``"best_val_acc"``, ``"best_train_acc"``,
        ``"final_train_loss"`` (M,), ``"diverged_at"`` (M,) int (0 = did not).
    """
    if config is not None:
        config = _checked_config(config, dict(locals()), hyperparameter_search, _SEARCH_KEYS)
    rates = _checks.sequence(
        "learning_rates", learning_rates, _checks.positive_real, "learning rates > 0"
    )
    scales = [1e-2] if weight_scales is None else _checks.weight_scales(weight_scales)
    if config is None:
        update_rule = _checks.update_rule(update_rule)
        optim_config = _checks.optim_config(update_rule, optim_config)
        if "learning_rate" in optim_config:
            raise ValueError(
                "optim_config must not hold 'learning_rate': the learning rates come from "
                "learning_rates"
            )
        _checks.boolean("use_batchnorm", use_batchnorm)
        dropout_keep_ratio = _checks.keep_ratio("dropout_keep_ratio", dropout_keep_ratio)
        reg = _checks.nonnegative_real("reg", reg)
        lr_decay = _checks.lr_decay(lr_decay)
    config, input_dim = _sweep_setting(
        data,
        config,
        batched,
        hidden_dims=hidden_dims,
        num_epochs=num_epochs,
        batch_size=batch_size,
        num_train=num_train,
        seed=seed,
        dtype=dtype,
        use_batchnorm=use_batchnorm,
        normalization="batchnorm" if use_batchnorm else None,
        dropout_keep_ratio=dropout_keep_ratio,
        reg=reg,
        update_rule=update_rule,
        optim_config=optim_config,
        lr_decay=lr_decay,
    )
    # the searched learning rate replaces any the config holds
    others = {k: v for k, v in config.optim_config.items() if k != "learning_rate"}
    grid = list(itertools.product(rates, scales))
    table = _train_table(
        data,
        config,
        {
            "optim_config": [{**others, "learning_rate": lr} for lr, _ in grid],
            "weight_scale": [scale for _, scale in grid],
        },
        batched=batched,
        input_dim=input_dim,
        blas_threads=_blas_threads(blas_threads),
        progress=progress,
    )
    names = any(isinstance(scale, str) for _, scale in grid)
    return {
        "learning_rate": np.array([lr for lr, _ in grid], dtype=float),
        "weight_scale": np.array([scale for _, scale in grid], dtype=object if names else float),
        "best_val_acc": table["best_val_acc"],
        "best_train_acc": table["best_train_acc"],
        "final_train_loss": table["final_train_loss"],
        "diverged_at": table["diverged_at"],
    }


_SEARCH_KEYS = (
    "hidden_dims",
    "num_epochs",
    "batch_size",
    "num_train",
    "update_rule",
    "optim_config",
    "use_batchnorm",
    "dropout_keep_ratio",
    "reg",
    "lr_decay",
    "seed",
    "dtype",
)
