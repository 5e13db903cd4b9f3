r"""Single training runs and the homework's experiments built from them.

Each returns *runs* (the format of :mod:`nndl_lab.experiments.results`).

Book: chapter 2 (SGD & momentum), chapter 3 (Nesterov), chapter 4 (RMSProp),
chapter 5 (Adam), chapter 6 (batchnorm), chapter 8 (capstone).
"""

from __future__ import annotations

import inspect

import numpy as np

from .. import optim
from ..fc_net import FullyConnectedNet
from ..solver import Solver
from . import _checks
from . import batched as _batched
from .config import TrainingConfig
from .parallel import blas_limit, run_parallel
from .results import final_train_loss, make_run, num_checks, num_iterations, split_runs

__all__ = [
    "HOMEWORK_RULES",
    "HOMEWORK_ADAPTIVE_RULES",
    "train_net",
    "compare_update_rules",
    "batchnorm_vs_baseline",
    "capstone",
    "final_train_loss",
    "num_iterations",
    "num_checks",
]

#: The homework's first comparison: SGD, momentum and Nesterov at learning rate 1e-2
#: (a 6-layer net of 100 units per hidden layer, 4,000 samples, 5 epochs).
HOMEWORK_RULES = {
    "sgd": {"learning_rate": 1e-2},
    "sgd_momentum": {"learning_rate": 1e-2},
    "sgd_nesterov_momentum": {"learning_rate": 1e-2},
}

#: The homework's second comparison: RMSProp at 2e-4 against Adam at 1e-3.
HOMEWORK_ADAPTIVE_RULES = {
    "rmsprop": {"learning_rate": 2e-4},
    "adam": {"learning_rate": 1e-3},
}


def _run_from_solver(solver):
    return make_run(
        solver.loss_history,
        solver.train_acc_history,
        solver.val_acc_history,
        solver.best_val_acc,
        solver.diverged_at,
    )


def _train(data, config, *, progress=False, blas_threads=1, input_dim=None):
    """Build the net of a validated :class:`TrainingConfig` and train it with the Solver on
    ``data``; return (run, model, solver). ``data`` is checked here unless the caller
    already did (``input_dim``, what :func:`_checks.data` returned)."""
    if input_dim is None:
        input_dim = _checks.data(data, config.num_classes)
    subset = _checks.training_subset(data, config.num_train)
    model = FullyConnectedNet(input_dim=input_dim, **config.net_kwargs())
    solver = Solver(model, subset, verbose=False, progress=progress, **config.solver_kwargs())
    with blas_limit(blas_threads):
        solver.train()
    return _run_from_solver(solver), model, solver


_CONFIG_KEYS = (
    "hidden_dims",
    "update_rule",
    "optim_config",
    "num_train",
    "num_epochs",
    "batch_size",
    "lr_decay",
    "weight_scale",
    "use_batchnorm",
    "dropout_keep_ratio",
    "reg",
    "num_train_samples",
    "num_val_samples",
    "seed",
    "dtype",
    "num_classes",
    "normalization",
    "optim_overrides",
)


def _config_from(arguments, config):
    """The validated config of a train_net call: ``config`` itself (then every training
    keyword must keep its default), or one made from the keywords."""
    if config is None:
        return TrainingConfig.from_kwargs(**{key: arguments[key] for key in _CONFIG_KEYS})
    return config_beside_keywords(config, arguments, _TRAIN_NET_SIGNATURE, _CONFIG_KEYS)


def config_beside_keywords(config, arguments, signature, keys):
    """``config``, when no training keyword ``keys`` of a call differs from its default.

    The rule of every experiment that accepts ``config=`` (as :func:`train_net`):
    the training settings come either from the config or from the keywords, not
    both; the config is trusted as it is (validated when it was made).

    Parameters
    ----------
    config : TrainingConfig
    arguments : dict
        The call's arguments by name.
    signature : inspect.Signature
        The called function's, for the defaults.
    keys : iterable of str
        The training keywords of that function.

    Returns
    -------
    TrainingConfig
    """
    if not isinstance(config, TrainingConfig):
        raise TypeError(f"config must be a TrainingConfig or None, got {type(config).__name__}")
    defaults = signature.parameters
    changed = [key for key in keys if not _same(arguments[key], defaults[key].default)]
    if changed:
        raise TypeError(
            f"pass the training settings either as config or as keywords, not both: got "
            f"config and {changed}"
        )
    return config


def _same(a, b):
    try:
        return bool(a is b or a == b)
    except (TypeError, ValueError):
        return False


def train_net(
    data,
    hidden_dims=(100,) * 5,
    *,
    update_rule="adam",
    optim_config=None,
    num_train=None,
    num_epochs=5,
    batch_size=100,
    lr_decay=1.0,
    weight_scale=5e-2,
    use_batchnorm=False,
    dropout_keep_ratio=1.0,
    reg=0.0,
    num_train_samples=1000,
    num_val_samples=None,
    seed=0,
    dtype=np.float32,
    progress=False,
    num_classes=10,
    blas_threads=1,
    normalization=None,
    optim_overrides=None,
    config=None,
):
    r"""Train one :class:`~nndl_lab.fc_net.FullyConnectedNet` with the Solver; return its run.

    Exactly ``FullyConnectedNet(hidden_dims, ..., seed=seed)`` trained by
    ``Solver(..., seed=seed, verbose=False)`` on the first ``num_train``
    training samples. Every argument is checked before the net is built.

    Book: chapters 2–8 (every chapter trains nets this way).

    Parameters
    ----------
    data : dict
        As :func:`nndl_lab.data.get_data` returns: ``X_train, y_train, X_val,
        y_val`` (images ``(N, C, H, W)``); ``input_dim`` is inferred from
        ``X_train.shape[1:]``.
    hidden_dims : sequence of int, default (100,) * 5
    update_rule : str, default "adam"
        A name from :data:`nndl_lab.optim.UPDATE_RULES`.
    optim_config : dict, optional
        Hyperparameters of the rule (``learning_rate``, ``momentum``, ...).
    num_train : int or None
        Train on the first ``num_train`` samples (None, or more than there
        are: all of them).
    num_epochs, batch_size : int
    lr_decay : float in (0, 1]
        The learning rate is multiplied by this after every epoch.
    weight_scale : float or {"he", "xavier"}
    use_batchnorm : bool
    dropout_keep_ratio : float in (0, 1]
        Probability of keeping a hidden unit (1.0 = no dropout).
    reg : float >= 0
        L2 regularization strength.
    num_train_samples, num_val_samples : int or None
        Samples used for the accuracy checks (None = all).
    seed : int
        Fixes initialization, minibatches, accuracy subsamples, dropout masks.
    dtype : np.float32 or np.float64
    progress : bool
        Show a tqdm bar.
    num_classes : int, default 10
    blas_threads : int or None, default 1
        Limit the BLAS to this many threads while training
        (``blas_limit``; a fixed count also
        keeps float32 runs identical in any thread):
        the book's small nets run faster on one, and much faster than two
        when the machine is busy (OpenBLAS threads spin). None leaves the
        BLAS alone (wide nets on an idle machine may gain from more).
    normalization : {None, "batchnorm"}
        ``use_batchnorm=True`` is the same as ``normalization="batchnorm"``.
    optim_overrides : dict, optional
        Per-parameter hyperparameters, e.g. ``{optim.BIAS_AND_NORMALIZATION:
        {"learning_rate": 0.0}}`` (see :func:`nndl_lab.optim.parameter_configs`).
    config : TrainingConfig, optional
        All of the training settings at once, validated when it was made
        (then no other training keyword may be given).

    Returns
    -------
    run : dict
        See ``nndl_lab.experiments.results``.
    """
    arguments = dict(locals())
    config = _config_from(arguments, config)
    _checks.boolean("progress", progress)
    if blas_threads is not None:
        _checks.positive_int("blas_threads", blas_threads)
    run, _, _ = _train(data, config, progress=progress, blas_threads=blas_threads)
    return run


_TRAIN_NET_SIGNATURE = inspect.signature(train_net)
_TRAIN_NET_DEFAULTS = {
    name: parameter.default
    for name, parameter in _TRAIN_NET_SIGNATURE.parameters.items()
    if name not in ("data", "config")
}


def _rule_plan(rules):
    """Turn ``{label: config}`` into ``{label: (rule, config)}``, checking every entry."""
    if rules is None:
        rules = HOMEWORK_RULES
    if not isinstance(rules, dict) or not rules:
        raise ValueError(
            "rules must be a non-empty dict {label: optim_config}, e.g. "
            f"{HOMEWORK_ADAPTIVE_RULES}; got {rules!r}"
        )
    plan = {}
    for label, config in rules.items():
        if config is None:
            config = {}
        if not isinstance(config, dict):
            raise TypeError(
                f"rules[{label!r}] must be an optim_config dict or None, got "
                f"{type(config).__name__}"
            )
        config = dict(config)
        rule = config.pop("update_rule", label)
        if not isinstance(rule, str) or rule not in optim.UPDATE_RULES:
            raise ValueError(
                f"rules[{label!r}]: unknown update rule {rule!r}; a label must be an update rule "
                f"or its config must hold 'update_rule'; known update rules: "
                f"{list(optim.UPDATE_RULES)}"
            )
        plan[label] = (rule, _checks.optim_config(rule, config, name=f"rules[{label!r}]"))
    return plan


def compare_update_rules(
    data,
    rules=None,
    *,
    hidden_dims=(100,) * 5,
    num_train=4000,
    num_epochs=5,
    batch_size=100,
    weight_scale=5e-2,
    seed=0,
    n_jobs=1,
    batched=True,
    config=None,
    **train_kwargs,
):
    r"""Train the same net (same initialization, same minibatches) with several update rules.

    The homework's optimizer comparison: a 6-layer net (five hidden layers of
    100), the first 4,000 training samples, 5 epochs, batches of 100,
    weight scale 5e-2. Every rule starts from identical weights and sees the
    same minibatches (one ``seed``), so the histories differ only by the rule.

    Book: chapter 2 (SGD & momentum), chapter 3 (Nesterov), chapter 4
    (RMSProp), chapter 5 (Adam).

    Parameters
    ----------
    data : dict
        See :func:`train_net`.
    rules : dict {label: optim_config}, optional
        A label is an update-rule name, or any label when its config holds
        ``"update_rule"`` (e.g. ``{"adam 1e-2": {"update_rule": "adam",
        "learning_rate": 1e-2}}``). Default ``HOMEWORK_RULES`` (SGD,
        momentum, Nesterov at 1e-2); ``HOMEWORK_ADAPTIVE_RULES`` is the
        homework's RMSProp 2e-4 vs Adam 1e-3.
    hidden_dims, num_train, num_epochs, batch_size, weight_scale, seed
        See :func:`train_net`. ``num_train`` larger than the training set
        (the digits have 1,197) uses all of it.
    n_jobs : int, default 1
        With ``batched=False``: train the rules in this many processes (see
        :func:`run_parallel`); 1 trains them one after the other.
    batched : bool, default True
        Train all rules in one pass of :func:`train_batched` (the nets share
        their shape, so they share the forward and backward pass; each rule
        updates its own net), several times faster than one Solver run per
        rule, with the same results up to floating-point rounding (float64:
        ``allclose``). False: one Solver run (:func:`train_net`) per rule.
    config : TrainingConfig, optional
        The shared setting, validated when it was made (then no other training
        keyword may be given; ``progress`` and ``blas_threads`` may); its
        ``update_rule`` and ``optim_config`` are replaced by each entry of
        ``rules``, which alone is checked here.
    **train_kwargs
        Any other keyword of :func:`train_net` (``use_batchnorm``, ``reg``,
        ``lr_decay``, ``dtype``, ...).

    Returns
    -------
    runs : dict {label: run}
        In the order of ``rules``.

    Examples
    --------
    >>> runs = compare_update_rules(get_data("digits"))            # doctest: +SKIP
    >>> runs["sgd_momentum"]["final_train_loss"] < runs["sgd"]["final_train_loss"]  # doctest: +SKIP
    True
    """
    plan = _rule_plan(rules)
    for key in ("update_rule", "optim_config"):
        if key in train_kwargs:
            raise TypeError(f"compare_update_rules sets {key} from rules; do not pass {key}")
    if config is not None:
        arguments = dict(locals())
        config = config_beside_keywords(
            config, arguments, _COMPARE_SIGNATURE, _COMPARE_TRAINING_KEYS
        )
        options = _run_options(train_kwargs, config)
        _checks.boolean("batched", batched)
        input_dim = _checks.data(data, config.num_classes)
        if batched:
            result = _batched.train_config_batched(
                data,
                config,
                {
                    "update_rule": [rule for rule, _ in plan.values()],
                    "optim_config": [rule_config for _, rule_config in plan.values()],
                },
                input_dim=input_dim,
                **options,
            )
            return dict(zip(plan, split_runs(result), strict=True))
        configs = [_with_rule(config, rule, rule_config) for rule, rule_config in plan.values()]
        if n_jobs == 1:
            results = [_train(data, c, input_dim=input_dim, **options)[0] for c in configs]
        else:
            jobs = [dict(data=data, config=c, **options) for c in configs]
            results = run_parallel(train_net, jobs, n_jobs=n_jobs)
        return dict(zip(plan, results, strict=True))
    # Check the shared arguments once, before any training.
    _checks.hidden_dims(hidden_dims)
    _checks.data(data, train_kwargs.get("num_classes", 10))
    jobs = []
    for rule, config in plan.values():
        kwargs = dict(
            data=data,
            hidden_dims=hidden_dims,
            update_rule=rule,
            optim_config=config,
            num_train=num_train,
            num_epochs=num_epochs,
            batch_size=batch_size,
            weight_scale=weight_scale,
            seed=seed,
            **train_kwargs,
        )
        jobs.append(kwargs)
    _validate_train_kwargs(jobs[0])
    _checks.boolean("batched", batched)
    if batched:
        common = {k: v for k, v in jobs[0].items() if k not in ("update_rule", "optim_config")}
        result = _batched.train_batched(
            update_rule=[rule for rule, _ in plan.values()],
            optim_config=[config for _, config in plan.values()],
            **common,
        )
        results = split_runs(result)
    elif n_jobs == 1:
        results = [train_net(**kwargs) for kwargs in jobs]
    else:
        results = run_parallel(train_net, jobs, n_jobs=n_jobs)
    return dict(zip(plan, results, strict=True))


_COMPARE_TRAINING_KEYS = (
    "hidden_dims",
    "num_train",
    "num_epochs",
    "batch_size",
    "weight_scale",
    "seed",
)
_COMPARE_SIGNATURE = inspect.signature(compare_update_rules)


def _run_options(train_kwargs, config):
    """``progress`` and ``blas_threads`` of train_net keywords given beside a config (any
    other training keyword is the error :func:`config_beside_keywords` names), checked."""
    arguments = {key: train_kwargs.get(key, value) for key, value in _TRAIN_NET_DEFAULTS.items()}
    unknown = sorted(set(train_kwargs) - set(arguments))
    if unknown:
        raise TypeError(f"train_net: got an unexpected keyword argument {unknown[0]!r}")
    config_beside_keywords(config, arguments, _TRAIN_NET_SIGNATURE, _CONFIG_KEYS)
    progress = _checks.boolean("progress", arguments["progress"])
    blas_threads = arguments["blas_threads"]
    if blas_threads is not None:
        _checks.positive_int("blas_threads", blas_threads)
    return {"progress": progress, "blas_threads": blas_threads}


def _with_rule(config, rule, rule_config):
    """``config`` training with ``rule`` and its checked ``rule_config`` (the overrides are
    checked for a rule other than the config's own)."""
    if rule != config.update_rule:
        _checks.optim_overrides(rule, config.optim_overrides)
    return config.derive(update_rule=rule, optim_config=rule_config)


def _validate_train_kwargs(kwargs):
    """Check the keyword arguments of a train_net call without training; return its config."""
    try:
        bound = _TRAIN_NET_SIGNATURE.bind(**kwargs)
    except TypeError as exc:
        raise TypeError(f"train_net: {exc}") from None
    bound.apply_defaults()
    args = bound.arguments
    config = _config_from(args, args["config"])
    if args["blas_threads"] is not None:
        _checks.positive_int("blas_threads", args["blas_threads"])
    return config


def batchnorm_vs_baseline(
    data,
    *,
    hidden_dims=(100,) * 5,
    num_train=1000,
    weight_scale=2e-2,
    num_epochs=10,
    batch_size=50,
    learning_rate=1e-3,
    seed=0,
    config=None,
    **train_kwargs,
):
    r"""The same deep net trained with Adam, with and without batch normalization.

    The homework's batchnorm experiment: five hidden layers of 100, the first
    1,000 training samples, weight scale 2e-2, 10 epochs of batches of 50,
    Adam at 1e-3. Both nets start from the same weights (one ``seed``; the
    batchnorm net adds :math:`\gamma = 1, \beta = 0`) and see the same
    minibatches.

    Book: chapter 6 (batchnorm).

    Parameters
    ----------
    data : dict
        See :func:`train_net`.
    hidden_dims, num_train, weight_scale, num_epochs, batch_size, seed
        See :func:`train_net`.
    learning_rate : float
        Adam's learning rate.
    config : TrainingConfig, optional
        The shared setting (rule included), validated when it was made (then no
        other training keyword may be given; ``progress`` and ``blas_threads``
        may); its ``normalization`` is replaced by each variant's.
    **train_kwargs
        Any other keyword of :func:`train_net` except ``update_rule``,
        ``optim_config`` and ``use_batchnorm``.

    Returns
    -------
    dict
        ``{"baseline": run, "batchnorm": run}``.
    """
    for key in ("update_rule", "optim_config", "use_batchnorm"):
        if key in train_kwargs:
            raise TypeError(f"batchnorm_vs_baseline sets {key}; do not pass it")
    if config is not None:
        config = config_beside_keywords(
            config, dict(locals()), _BATCHNORM_SIGNATURE, _BATCHNORM_TRAINING_KEYS
        )
        options = _run_options(train_kwargs, config)
        input_dim = _checks.data(data, config.num_classes)
        return {
            name: _train(data, variant, input_dim=input_dim, **options)[0]
            for name, variant in normalization_variants(config).items()
        }
    _checks.positive_real("learning_rate", learning_rate)
    kwargs = dict(
        data=data,
        hidden_dims=hidden_dims,
        update_rule="adam",
        optim_config={"learning_rate": learning_rate},
        num_train=num_train,
        num_epochs=num_epochs,
        batch_size=batch_size,
        weight_scale=weight_scale,
        seed=seed,
        **train_kwargs,
    )
    _validate_train_kwargs(kwargs)
    _checks.data(data, kwargs.get("num_classes", 10))
    return {
        "baseline": train_net(**kwargs, use_batchnorm=False),
        "batchnorm": train_net(**kwargs, use_batchnorm=True),
    }


_BATCHNORM_TRAINING_KEYS = (
    "hidden_dims",
    "num_train",
    "weight_scale",
    "num_epochs",
    "batch_size",
    "learning_rate",
    "seed",
)
_BATCHNORM_SIGNATURE = inspect.signature(batchnorm_vs_baseline)


def normalization_variants(config, names=("baseline", "batchnorm")):
    """``{"baseline": config without normalization, "batchnorm": config with batchnorm}``
    (those of ``names``); the batch size is checked against batchnorm here."""
    variants = {}
    for name in names:
        if name == "batchnorm":
            _checks.batchnorm_batch_size(True, config.batch_size)
        variants[name] = config.derive(normalization="batchnorm" if name == "batchnorm" else None)
    return variants


def capstone(
    data,
    *,
    hidden_dims=(500,) * 3,
    use_batchnorm=True,
    learning_rate=1e-3,
    lr_decay=0.9,
    num_epochs=10,
    batch_size=100,
    weight_scale=1e-2,
    dropout_keep_ratio=1.0,
    reg=0.0,
    seed=0,
    progress=False,
    num_train=None,
    dtype=np.float32,
    num_classes=10,
    blas_threads=1,
    config=None,
):
    r"""The homework's final model: a 3×500 batchnorm net, Adam with learning-rate decay.

    Adam at 1e-3, ``lr_decay=0.9`` per epoch, 10 epochs of batches of 100 on
    the whole training set (the homework reaches 55%+ validation accuracy on
    CIFAR-10 with it). Afterwards the model holds its best parameters (those
    of the check with the highest validation accuracy), which are evaluated
    on all of the validation and test sets.

    Book: chapter 8 (capstone).

    Parameters
    ----------
    data : dict
        See :func:`train_net`; ``X_test`` and ``y_test`` are used when present.
    hidden_dims, use_batchnorm, lr_decay, num_epochs, batch_size, weight_scale,
    dropout_keep_ratio, reg, seed, progress, num_train, dtype, num_classes
        See :func:`train_net`.
    learning_rate : float
        Adam's initial learning rate.
    blas_threads : int or None, default 1
        See :func:`train_net`. On the digits, one thread took 1.3 s where no
        limit took 6–20 s on a busy 2-core machine; None may gain on an idle
        machine with the wide CIFAR-10 net.
    config : TrainingConfig, optional
        The whole setting, validated when it was made (then no other training
        keyword may be given; ``progress`` and ``blas_threads`` may).

    Returns
    -------
    dict
        A run plus ``"val_acc"`` (best parameters, whole validation set) and
        ``"test_acc"`` (best parameters on ``X_test``/``y_test``; None when the
        data has no test split).
    """
    if config is not None:
        config = config_beside_keywords(
            config, dict(locals()), _CAPSTONE_SIGNATURE, _CAPSTONE_TRAINING_KEYS
        )
        num_classes = config.num_classes
    else:
        _checks.positive_real("learning_rate", learning_rate)
        num_classes = _checks.num_classes(num_classes)
    has_test = "X_test" in data and "y_test" in data if isinstance(data, dict) else False
    input_dim = _checks.data(data, num_classes, need_test=has_test)
    config = config or TrainingConfig.from_kwargs(
        hidden_dims=hidden_dims,
        update_rule="adam",
        optim_config={"learning_rate": learning_rate},
        num_train=num_train,
        num_epochs=num_epochs,
        batch_size=batch_size,
        lr_decay=lr_decay,
        weight_scale=weight_scale,
        use_batchnorm=use_batchnorm,
        dropout_keep_ratio=dropout_keep_ratio,
        reg=reg,
        num_train_samples=1000,
        num_val_samples=None,
        seed=seed,
        dtype=dtype,
        num_classes=num_classes,
    )
    _checks.boolean("progress", progress)
    if blas_threads is not None:
        _checks.positive_int("blas_threads", blas_threads)
    run, model, solver = _train(
        data, config, progress=progress, blas_threads=blas_threads, input_dim=input_dim
    )
    run["val_acc"] = float(solver.check_accuracy(data["X_val"], data["y_val"]))
    run["test_acc"] = (
        float(solver.check_accuracy(data["X_test"], data["y_test"])) if has_test else None
    )
    return run


_CAPSTONE_TRAINING_KEYS = (
    "hidden_dims",
    "use_batchnorm",
    "learning_rate",
    "lr_decay",
    "num_epochs",
    "batch_size",
    "weight_scale",
    "dropout_keep_ratio",
    "reg",
    "seed",
    "num_train",
    "dtype",
    "num_classes",
)
_CAPSTONE_SIGNATURE = inspect.signature(capstone)
