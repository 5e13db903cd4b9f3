r"""Many nets of one shape trained together, in one vectorized pass.

Sweeps train many nets that differ only in their initialization scale,
learning rate, dropout keep ratio, L2 strength or seed. :func:`train_batched`
stacks the parameters of K such nets along a leading *model axis* and trains
them with the stacked layer pairs of :mod:`nndl_lab.stacked` (the model-axis
twins of :mod:`nndl_lab.layers`), the update rules of :mod:`nndl_lab.optim`
and the training loop of :mod:`nndl_lab.training` — the loop the Solver runs.
This module holds only the stacking and the bookkeeping:

* one (K, P) buffer holds every parameter of every net, in the layout of
  :meth:`FullyConnectedNet.parameter_shapes`; the update is the rule's own
  in-place step (:func:`~nndl_lab.optim.inplace_step`) on consecutive rows
  (nets with different rules — :func:`compare_update_rules` — form groups of
  rows, each updated by its own rule), with per-net learning rates as a
  (K, 1) array;
* net k starts from :meth:`FullyConnectedNet.initial_params` with its own
  weight scale and seed, and draws minibatches, accuracy subsamples and
  dropout masks from the generators a Solver and a net seeded like it draw
  from (:func:`nndl_lab.solver.minibatch_rngs`,
  :meth:`FullyConnectedNet.random_streams`); nets that share a seed share
  these draws (one minibatch for all: the first layer is one broadcast
  product), other seeds are gathered per net;
* accuracy checks evaluate every net on the same samples, in batches of 100
  as the Solver does.

What agrees exactly
-------------------
Net k is the net ``FullyConnectedNet(hidden_dims, weight_scale=scale_k,
dropout_keep_ratio=p_k, reg=reg_k, normalization=..., seed=seed_k)`` trained
by ``Solver(..., update_rule, optim_config={"learning_rate": lr_k, ...},
seed=seed_k)``. Every stacked layer performs for net k the arithmetic of its
single-net twin in the same order, and the rules round per-net
hyperparameters exactly as they round a Python number, so with one BLAS
thread (the default, ``blas_threads=1``; the Solver trains with one too) the
histories of net k are those of its Solver run **bit for bit, in float32 as
in float64** (``tests/test_batched.py``). What cannot agree: with more BLAS
threads a matrix product's float32 rounding depends on how OpenBLAS splits
it, and a float32 run is chaotic — a one-ulp difference early can grow into
a different trajectory, so results computed under another thread count (or
another BLAS) must be compared over several seeds, not digit by digit.

Divergence
----------
A net whose loss becomes non-finite stops there, as its Solver run would: its
``loss_history`` ends with that loss, ``diverged_at`` records the 1-based
iteration, and the net is removed from the stack, so it costs nothing more and
cannot put NaN into the other nets. In the stacked result arrays its
histories are NaN after that point.

Speed
-----
The work is a few dozen numpy calls per step whatever K is. Small stacked
matrix products do not gain from a second BLAS thread, so the trainer runs
with one BLAS thread by default (``blas_threads``, set for the calling thread
by ``blas_limit``). Activations are kept as (N, K, H) — samples first — so
that sums over the batch run over contiguous rows of K·H numbers.
``benchmarks/bench_sweep.py`` measures where the time goes.

Book: chapter 6 (batchnorm: the weight-scale sweep), chapter 7 (dropout: the
keep-ratio sweep), chapter 8 (capstone: hyperparameter search).
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Mapping

import numpy as np
from tqdm.auto import tqdm

from .. import optim, stacked
from ..fc_net import NORMALIZATIONS, FullyConnectedNet
from ..solver import minibatch_rngs
from ..training import Schedule, improved, run
from . import _checks
from .config import TrainingConfig
from .parallel import blas_limit as _blas_limit
from .results import TABLE_KEYS, final_train_loss, split_runs

__all__ = ["train_batched", "split_runs", "train_batched_table"]


def _per_model(name, value, check, what):
    """A scalar or a 1-D sequence, checked elementwise; returns a list (or a scalar)."""
    if isinstance(value, (str, numbers.Number, np.generic)):
        return check(name, value.item() if isinstance(value, np.generic) else value)
    return _checks.sequence(name, value, check, what)


def _broadcast_models(settings):
    """Broadcast scalars and length-K lists to length K; K = the common length."""
    lengths = {len(v) for v in settings.values() if isinstance(v, list)}
    if len(lengths) > 1:
        listed = {k: len(v) for k, v in settings.items() if isinstance(v, list)}
        raise ValueError(
            f"per-net arguments must be scalars or sequences of one common length K; got {listed}"
        )
    count = lengths.pop() if lengths else 1
    return count, {k: (v if isinstance(v, list) else [v] * count) for k, v in settings.items()}


def train_batched(
    data,
    hidden_dims=None,
    *,
    weight_scale=1e-2,
    learning_rate=None,
    dropout_keep_ratio=1.0,
    reg=0.0,
    seed=0,
    update_rule="adam",
    optim_config=None,
    use_batchnorm=False,
    num_train=None,
    num_epochs=10,
    batch_size=100,
    lr_decay=1.0,
    num_train_samples=1000,
    num_val_samples=None,
    num_classes=10,
    dtype=np.float32,
    return_params=False,
    blas_threads=1,
    progress=False,
    normalization=None,
    optim_overrides=None,
    config=None,
):
    r"""Train K fully connected nets of one shape together, in one vectorized pass.

    Net k is the net ``FullyConnectedNet(hidden_dims, weight_scale=
    weight_scale[k], dropout_keep_ratio=dropout_keep_ratio[k], reg=reg[k],
    use_batchnorm=use_batchnorm, dtype=dtype, seed=seed[k])`` trained by
    ``Solver(..., update_rule=update_rule[k], optim_config={**optim_config[k],
    "learning_rate": learning_rate[k]}, lr_decay=lr_decay,
    batch_size=batch_size, num_epochs=num_epochs, seed=seed[k])`` on the first
    ``num_train`` training samples, and the result reproduces those K runs
    (see the module documentation for why, and for divergence). Nets with
    different update rules share the forward and backward pass; each group of
    nets with one rule is updated by that rule's step.

    Book: chapter 6 (batchnorm: weight-scale sweep), chapter 7 (dropout:
    keep-ratio sweep), chapter 8 (capstone: hyperparameter search).

    Parameters
    ----------
    data : dict
        As :func:`nndl_lab.data.get_data` returns.
    hidden_dims : sequence of int
        The shape shared by all nets.
    weight_scale, learning_rate, dropout_keep_ratio, reg, seed : scalar or sequence
        Per-net settings: a scalar is shared, sequences (all of one length K)
        give one value per net. ``weight_scale`` is a positive number or
        ``"he"``/``"xavier"``; ``learning_rate`` >= 0 (None: from
        ``optim_config``, else the rule's default); ``dropout_keep_ratio`` in
        (0, 1]; ``reg`` >= 0; ``seed`` a non-negative integer. Nets with one
        seed share minibatches (fastest); different seeds are gathered per net.
    update_rule : str or sequence of str, default "adam"
        A name from :data:`nndl_lab.optim.UPDATE_RULES`, or one per net.
    optim_config : dict, or sequence of dicts (one per net), optional
        The rules' hyperparameters (numbers only). A ``learning_rate`` here
        is used when the ``learning_rate`` argument is None; otherwise each
        rule's default learning rate.
    use_batchnorm : bool
        The homework's spelling of ``normalization="batchnorm"``.
    normalization : {None, "batchnorm"}
        See :class:`~nndl_lab.fc_net.FullyConnectedNet`.
    optim_overrides : dict, optional
        Per-parameter hyperparameters shared by all nets, as for the Solver
        (:func:`nndl_lab.optim.parameter_configs`), e.g.
        ``{optim.BIAS_AND_NORMALIZATION: {"learning_rate": 0.0}}``.
    config : TrainingConfig, optional
        The settings shared by all nets, validated when it was made (then
        ``hidden_dims`` and the other shared keywords must not be given); the
        per-net keywords (``weight_scale``, ``learning_rate``,
        ``dropout_keep_ratio``, ``reg``, ``seed``, ``update_rule``,
        ``optim_config``) default to the config's values. The config is not
        checked again: only the data and the per-net keywords given beside it
        are (a config's ``optim_config`` too when ``update_rule`` names another
        rule).
    num_train, num_epochs, batch_size, lr_decay, num_train_samples,
    num_val_samples, num_classes, dtype
        As for :func:`nndl_lab.experiments.train_net`.
    return_params : bool, default False
        Also return every net's best parameters (those the Solver restores).
    blas_threads : int or None, default 1
        Limit the BLAS to this many threads while training (see
        ``blas_limit``); None leaves it
        alone, and then float32 results can depend on the BLAS's thread
        count. Measured on 2
        cores (``benchmarks/bench_sweep.py``): the stacked (K, 50, 50)
        products of a training step run on one thread whatever the limit;
        a second thread speeds up the larger evaluation products a little
        on an idle machine, and slows everything down many times when the
        other core is busy (OpenBLAS threads spin). For wide nets (CIFAR-10
        inputs, 500 units) on an idle machine, None may be faster.
    progress : bool
        Show a tqdm bar over the iterations.

    Returns
    -------
    dict
        ``loss_history`` (K, iterations); ``train_acc_history`` and
        ``val_acc_history`` (K, checks); ``best_val_acc``, ``best_train_acc``,
        ``final_train_loss`` (K,); ``diverged_at`` (K,) int, 0 = did not
        diverge (a diverged net's histories are NaN after it stopped);
        ``settings``: the per-net ``update_rule``, ``weight_scale``,
        ``learning_rate``, ``dropout_keep_ratio``, ``reg``, ``seed`` as (K,)
        arrays. With
        ``return_params``: ``best_params`` {name: (K, ...) array in
        FullyConnectedNet's shapes} and ``best_bn_params`` (a list with one
        ``{"running_mean": (K, H), "running_var": (K, H)}`` per hidden layer
        when ``use_batchnorm``). :func:`split_runs` turns the result into K
        run dicts.

    Examples
    --------
    >>> result = train_batched(data, [50] * 6, weight_scale=np.logspace(-4, 0, 20),
    ...                        learning_rate=1e-3, num_train=1000, batch_size=50)  # doctest: +SKIP
    >>> result["best_val_acc"].shape                                               # doctest: +SKIP
    (20,)
    """
    if config is not None:
        arguments = {k: v for k, v in locals().items() if k not in ("data", "config")}
        config, given = _from_config(config, arguments)
        # The config was validated when it was made: only the data and the per-net
        # keywords given beside it are checked here.
        input_dim = _checks.data(data, config.num_classes)
        count, per = _check_per_net(given, config)
        return_params = _checks.boolean("return_params", return_params)
        if blas_threads is not None:
            _checks.positive_int("blas_threads", blas_threads)
        return train_config_batched(
            data,
            config,
            per,
            input_dim=input_dim,
            return_params=return_params,
            blas_threads=blas_threads,
            progress=progress,
        )
    if hidden_dims is None:
        raise TypeError("train_batched needs hidden_dims (or a config)")
    # ---- check everything before any work -------------------------------------------------
    hidden_dims = _checks.hidden_dims(hidden_dims)
    num_classes = _checks.num_classes(num_classes)
    input_dim = _checks.data(data, num_classes)
    count, per = _check_per_net(
        {
            "update_rule": update_rule,
            "optim_config": optim_config,
            "weight_scale": weight_scale,
            "learning_rate": learning_rate,
            "dropout_keep_ratio": dropout_keep_ratio,
            "reg": reg,
            "seed": seed,
        }
    )
    normalization = _checks.normalization(normalization, use_batchnorm)
    overrides = {
        rule: _checks.optim_overrides(rule, optim_overrides)
        for rule in dict.fromkeys(per["update_rule"])
    }
    num_epochs = _checks.positive_int("num_epochs", num_epochs)
    batch_size = _checks.positive_int("batch_size", batch_size)
    _checks.batchnorm_batch_size(normalization == "batchnorm", batch_size)
    lr_decay = _checks.lr_decay(lr_decay)
    num_train_samples = _checks.optional_positive_int("num_train_samples", num_train_samples)
    num_val_samples = _checks.optional_positive_int("num_val_samples", num_val_samples)
    dtype = _checks.dtype(dtype)
    return_params = _checks.boolean("return_params", return_params)
    if blas_threads is not None:
        _checks.positive_int("blas_threads", blas_threads)
    num_train = _checks.optional_positive_int("num_train", num_train)
    shared = TrainingConfig.from_checked(
        hidden_dims=tuple(hidden_dims),
        normalization=normalization,
        optim_overrides=optim_overrides,
        lr_decay=lr_decay,
        num_epochs=num_epochs,
        batch_size=batch_size,
        num_train=num_train,
        num_train_samples=num_train_samples,
        num_val_samples=num_val_samples,
        dtype=dtype,
        num_classes=num_classes,
    )
    return _train_stack(
        data,
        shared,
        count,
        per,
        overrides,
        input_dim=input_dim,
        return_params=return_params,
        blas_threads=blas_threads,
        progress=progress,
    )


_CHECKS_PER_NET = {
    "weight_scale": (
        lambda n, v: _checks.weight_scale(v, n),
        "positive numbers (or 'he'/'xavier')",
    ),
    "learning_rate": (_checks.nonnegative_real, "learning rates >= 0"),
    "dropout_keep_ratio": (_checks.keep_ratio, "keep probabilities in (0, 1]"),
    "reg": (_checks.nonnegative_real, "numbers >= 0"),
    "seed": (_checks.seed, "non-negative integers"),
}


def _check_per_net(given, config=None):
    """Check the per-net keywords in ``given``; return ``(K, {name: K values})``.

    A per-net setting missing from ``given`` comes from ``config`` unchecked (it
    was validated when the config was made), except a config's ``optim_config``
    meeting an update rule given here, which is checked for that rule.
    """
    update_rule = given.get("update_rule", config.update_rule if config else None)
    optim_config = given.get("optim_config", config.optim_config if config else None)
    if optim_config is None or isinstance(optim_config, Mapping):
        config_arg = dict(optim_config or {})
    elif isinstance(optim_config, (str, bytes)) or not hasattr(optim_config, "__len__"):
        raise TypeError(
            "optim_config must be a dict, None, or a sequence with one dict (or None) per net; "
            f"got {type(optim_config).__name__}"
        )
    else:
        config_arg = list(optim_config)
        if not config_arg:
            raise ValueError("optim_config must not be an empty sequence")
    settings = {
        "update_rule": update_rule
        if "update_rule" not in given
        else _per_model(
            "update_rule",
            update_rule,
            lambda n, v: _checks.update_rule(v, n),
            f"update-rule names from {list(optim.UPDATE_RULES)}",
        ),
        "optim_config": config_arg,
    }
    for name, (check, what) in _CHECKS_PER_NET.items():
        if name in given:
            value = given[name]
            settings[name] = None if value is None else _per_model(name, value, check, what)
        elif name == "learning_rate":
            settings[name] = None
        else:
            settings[name] = getattr(config, name)
    count, per = _broadcast_models(settings)
    trusted = config is not None and "update_rule" not in given and "optim_config" not in given
    for k in range(count):
        rule = per["update_rule"][k]
        name = "optim_config" if isinstance(config_arg, dict) else f"optim_config[{k}]"
        rule_config = per["optim_config"][k]
        if not trusted:
            rule_config = _checks.optim_config(rule, rule_config, name=name)
        for key, value in rule_config.items():
            if not _checks.is_real(value):
                raise ValueError(
                    f"{name}[{key!r}] must be a number: train_batched keeps the optimizer "
                    f"state itself, got {type(value).__name__}"
                )
        if per["learning_rate"][k] is not None and "learning_rate" in rule_config:
            raise ValueError(
                "give the learning rate either as learning_rate or in optim_config, not both"
            )
        per["optim_config"][k] = rule_config
    return count, per


def _split_learning_rates(per):
    """Move each net's learning rate out of its optim_config into ``per["learning_rate"]``
    (the learning_rate given, else the config's, else the rule's default)."""
    count = len(per["update_rule"])
    rates, configs = [], []
    for k in range(count):
        config = dict(per["optim_config"][k])
        rate = config.pop("learning_rate", None)
        if per["learning_rate"][k] is not None:
            rate = per["learning_rate"][k]
        elif rate is None:
            rate = optim.RULES[per["update_rule"][k]].defaults["learning_rate"]
        rates.append(rate)
        configs.append(config)
    return {**per, "learning_rate": rates, "optim_config": configs}


def train_config_batched(
    data,
    config,
    per_net=None,
    *,
    input_dim,
    return_params=False,
    blas_threads=1,
    progress=False,
):
    """:func:`train_batched` for a validated config and per-net settings already checked.

    The experiments' entry: they validate their own arguments once (the config
    when it was made, the swept values with messages naming their argument, the
    data giving ``input_dim``) and nothing is checked again here.

    Parameters
    ----------
    data : dict
    config : TrainingConfig
        The shared settings; the per-net settings missing from ``per_net`` too.
    per_net : dict {name: list}, optional
        Validated per-net values, one list of length K per name, of any of
        ``weight_scale``, ``learning_rate``, ``dropout_keep_ratio``, ``reg``,
        ``seed``, ``update_rule`` and ``optim_config`` (numbers only).
    input_dim : int
        What :func:`_checks.data` returned for ``data``.
    return_params, blas_threads, progress
        See :func:`train_batched` (checked by the caller).

    Returns
    -------
    dict
        As :func:`train_batched`.
    """
    per_net = dict(per_net or {})
    count = max((len(values) for values in per_net.values()), default=1)
    per = {
        name: list(per_net.get(name, [getattr(config, name, None)] * count))
        for name in ("update_rule", "optim_config", "weight_scale", "learning_rate")
        + ("dropout_keep_ratio", "reg", "seed")
    }
    if "learning_rate" not in per_net:
        per["learning_rate"] = [None] * count
    overrides = {
        rule: config.optim_overrides
        if rule == config.update_rule
        else _checks.optim_overrides(rule, config.optim_overrides)
        for rule in dict.fromkeys(per["update_rule"])
    }
    return _train_stack(
        data,
        config,
        count,
        per,
        overrides,
        input_dim=input_dim,
        return_params=return_params,
        blas_threads=blas_threads,
        progress=progress,
    )


def _train_stack(
    data, config, count, per, overrides, *, input_dim, return_params, blas_threads, progress
):
    """Train the K nets of validated settings; the result of :func:`train_batched`."""
    per = _split_learning_rates(per)
    subset = _checks.training_subset(data, config.num_train)
    # Nets with the same rule and hyperparameters (but their learning rate) form a group of
    # consecutive rows, updated by one call of the rule's step; train in that order.
    keys = [(per["update_rule"][k], sorted(per["optim_config"][k].items())) for k in range(count)]
    first = {}
    for key in keys:
        first.setdefault(repr(key), len(first))
    order = sorted(range(count), key=lambda k: first[repr(keys[k])])
    ordered = {name: [values[k] for k in order] for name, values in per.items()}
    with _blas_limit(blas_threads):
        result = _train(
            subset,
            [input_dim, *config.hidden_dims, config.num_classes],
            ordered,
            count=count,
            normalization=config.normalization,
            overrides=overrides,
            num_epochs=config.num_epochs,
            batch_size=config.batch_size,
            lr_decay=config.lr_decay,
            num_train_samples=config.num_train_samples,
            num_val_samples=config.num_val_samples,
            dtype=config.dtype,
            return_params=return_params,
            progress=progress,
        )
    inverse = np.argsort(order)
    for key in TABLE_KEYS:
        result[key] = result[key][inverse]
    for name, value in result.get("best_params", {}).items():
        result["best_params"][name] = value[inverse]
    for bn in result.get("best_bn_params", []):
        for name in bn:
            bn[name] = bn[name][inverse]
    result["settings"] = _settings(per)
    return result


_SHARED = (
    "hidden_dims",
    "use_batchnorm",
    "normalization",
    "num_train",
    "num_epochs",
    "batch_size",
    "lr_decay",
    "num_train_samples",
    "num_val_samples",
    "num_classes",
    "dtype",
    "optim_overrides",
)
_PER_NET = ("weight_scale", "dropout_keep_ratio", "reg", "seed", "update_rule", "optim_config")


def _same(a, b):
    try:
        return bool(a is b or a == b)
    except (TypeError, ValueError):
        return False


def _from_config(config, arguments):
    """``(config, {per-net keyword: value given})`` of a train_batched call with a config."""
    if not isinstance(config, TrainingConfig):
        raise TypeError(f"config must be a TrainingConfig or None, got {type(config).__name__}")
    defaults = inspect.signature(train_batched).parameters
    clash = [k for k in _SHARED if not _same(arguments[k], defaults[k].default)]
    if clash:
        raise TypeError(
            f"train_batched: the config sets {clash}; pass them in the config, not as keywords"
        )
    given = {
        key: arguments[key]
        for key in (*_PER_NET, "learning_rate")
        if not _same(arguments[key], defaults[key].default)
    }
    return config, given


def _settings(per):
    scales = per["weight_scale"]
    return {
        "update_rule": np.array(per["update_rule"], dtype=object),
        "weight_scale": np.array(
            scales, dtype=object if any(isinstance(s, str) for s in scales) else float
        ),
        "learning_rate": np.array(per["learning_rate"], dtype=float),
        "dropout_keep_ratio": np.array(per["dropout_keep_ratio"], dtype=float),
        "reg": np.array(per["reg"], dtype=float),
        "seed": np.array(per["seed"], dtype=np.int64),
    }


class _Stack:
    """The parameters, gradients and normalization state of K nets of one shape.

    One (K, P) buffer holds every parameter of every net (so an update is one
    call of the rule's step per group of rows); ``params`` and ``grads`` are
    views of it in the net's shapes with a leading model axis, in the layout
    of :meth:`FullyConnectedNet.parameter_shapes`.
    """

    def __init__(self, dims, normalization, dtype, count):
        self.dims = dims
        self.num_layers = len(dims) - 1
        self.kind = NORMALIZATIONS.get(normalization) if normalization else None
        self.dtype = dtype
        self.layout = FullyConnectedNet.parameter_shapes(dims, normalization)
        self.columns = {}
        offset = 0
        for name, shape in self.layout:
            size = int(np.prod(shape))
            self.columns[name] = (offset, offset + size)
            offset += size
        self.size = offset
        self.flat = np.zeros((count, self.size), dtype=dtype)
        self.grad = np.zeros((count, self.size), dtype=dtype)
        # one bn_param-like dict per hidden layer: running statistics (K, H), set by the layers
        self.states = [{"mode": "train"} for _ in dims[1:-1]] if self.kind else []
        self._make_views()

    def _make_views(self):
        count = self.flat.shape[0]
        self.params, self.grads = {}, {}
        for name, shape in self.layout:
            start, stop = self.columns[name]
            self.params[name] = self.flat[:, start:stop].reshape((count, *shape))
            self.grads[name] = self.grad[:, start:stop].reshape((count, *shape))

    def initialize(self, weight_scales, seeds, normalization):
        """Net k's parameters: those of ``FullyConnectedNet(..., weight_scale=weight_scales[k],
        seed=seeds[k])``, from the net's own initialization."""
        for k, (scale, seed) in enumerate(zip(weight_scales, seeds, strict=True)):
            init_rng, _ = FullyConnectedNet.random_streams(seed)
            params = FullyConnectedNet.initial_params(
                self.dims, scale, normalization, self.dtype, init_rng
            )
            for name, value in params.items():
                self.params[name][k] = value

    def running(self):
        """The running statistics: per hidden layer, {key: (K, H) array}."""
        count = self.flat.shape[0]
        out = []
        for state, width in zip(self.states, self.dims[1:-1], strict=False):
            out.append(
                {
                    key: state.get(key, np.zeros((count, width), dtype=self.dtype))
                    for key in ("running_mean", "running_var")
                }
            )
        return out

    def keep(self, rows):
        """Drop the nets where ``rows`` is False."""
        self.flat = self.flat[rows]
        self.grad = self.grad[rows]
        for state in self.states:
            for key in ("running_mean", "running_var"):
                if key in state:
                    state[key] = state[key][rows]
        self._make_views()

    def export(self, flat, running):
        """Parameters in FullyConnectedNet's shapes, with a leading model axis."""
        count = flat.shape[0]
        params = {}
        for name, shape in self.layout:
            start, stop = self.columns[name]
            params[name] = flat[:, start:stop].reshape((count, *shape)).copy()
        return params, [{key: value.copy() for key, value in r.items()} for r in running]


class _Streams:
    """The random generators of the distinct seeds, and which net uses which.

    Seed s gives the generators a Solver and a net seeded with s draw from:
    minibatches and accuracy subsamples (:func:`nndl_lab.solver.minibatch_rngs`)
    and dropout's uniform numbers (:meth:`FullyConnectedNet.random_streams`).
    """

    def __init__(self, seeds):
        self.seeds = sorted(set(seeds))
        self.group = np.array([self.seeds.index(s) for s in seeds])
        self.batch, self.eval, self.dropout = [], [], []
        for seed in self.seeds:
            batch_rng, eval_rng = minibatch_rngs(seed)
            self.batch.append(batch_rng)
            self.eval.append(eval_rng)
            self.dropout.append(FullyConnectedNet.random_streams(seed)[1])

    def draw(self, generators, draw, axis):
        """One draw per seed still in use; shared by all nets: the draw itself, else the
        draws of the nets stacked along ``axis`` (the model axis of the result)."""
        if len(self.seeds) == 1:
            return draw(generators[0])
        draws = {g: draw(generators[g]) for g in np.unique(self.group)}
        return np.stack([draws[g] for g in self.group], axis=axis)

    def keep(self, rows):
        self.group = self.group[rows]


class _RuleGroups:
    """Consecutive rows of the stack that share an update rule and its hyperparameters.

    Each group has its own config — the state arrays of its rows, a float64
    learning rate per row ((n, 1); (n, P) when the per-parameter overrides set
    learning rates), per-column hyperparameters as (1, P) rows when overrides
    make them differ between parameters — and is updated by one call of the
    rule's in-place step on its rows (the rules are elementwise).
    """

    def __init__(self, per, stack, overrides):
        self.groups = []
        count = stack.flat.shape[0]
        names = [name for name, _ in stack.layout]
        start = 0
        for k in range(1, count + 1):
            if k < count and (per["update_rule"][k], per["optim_config"][k]) == (
                per["update_rule"][start],
                per["optim_config"][start],
            ):
                continue
            rule = per["update_rule"][start]
            lr = np.array(per["learning_rate"][start:k], dtype=np.float64)[:, None]
            config = self._config(
                rule, per["optim_config"][start], lr, names, stack, overrides.get(rule)
            )
            config = self._prepare(rule, config, stack.flat[start:k])
            self.groups.append([start, k, optim.inplace_step(rule), config])
            start = k

    @staticmethod
    def _config(rule, optim_config, lr, names, stack, overrides):
        spec = optim.RULES[rule]
        per_param = optim.resolve_parameter_configs(optim_config, names, overrides)
        config = {}
        for h in spec.hyperparameters:
            values = [per_param[name].get(h.name) for name in names]
            if h.name == "learning_rate":
                if all(v is None for v in values):
                    config[h.name] = lr
                    continue
                row = np.zeros((lr.shape[0], stack.size))
                row[:] = lr
            else:
                base = optim_config.get(h.name, h.default)
                values = [base if v is None else v for v in values]
                if len(set(values)) == 1:
                    config[h.name] = values[0]
                    continue
                row = np.zeros((1, stack.size))
            for name, value in zip(names, values, strict=True):
                if value is not None:
                    start, stop = stack.columns[name]
                    row[:, start:stop] = value
            config[h.name] = row
        return config

    @staticmethod
    def _prepare(rule, config, rows):
        # Make the state arrays; the numbers were validated before training started, and
        # the per-net and per-column arrays are put back afterwards.
        arrays = {key: value for key, value in config.items() if isinstance(value, np.ndarray)}
        numbers = {key: value for key, value in config.items() if key not in arrays}
        prepared = optim.prepare_checked_config(rule, numbers, rows)
        prepared.update(arrays)
        return prepared

    @property
    def configs(self):
        return {i: group[3] for i, group in enumerate(self.groups)}

    def keep(self, rows):
        groups, offset = [], 0
        for start, stop, step, config in self.groups:
            kept = rows[start:stop]
            size = int(kept.sum())
            if size == 0:
                continue
            for key, value in list(config.items()):
                if isinstance(value, np.ndarray) and value.shape[0] == stop - start:
                    config[key] = value[kept]
            groups.append([offset, offset + size, step, config])
            offset += size
        self.groups = groups

    def step(self, flat, grad):
        for start, stop, step, config in self.groups:
            step(flat[start:stop], grad[start:stop], config)


class _Trainer:
    """K nets trained by :func:`nndl_lab.training.run`: the batched side of the one loop."""

    def __init__(
        self,
        data,
        dims,
        per,
        *,
        count,
        normalization,
        overrides,
        num_epochs,
        batch_size,
        lr_decay,
        num_train_samples,
        num_val_samples,
        dtype,
        return_params,
        progress,
    ):
        self.X_train = np.ascontiguousarray(
            data["X_train"].reshape(len(data["X_train"]), -1), dtype=dtype
        )
        self.X_val = np.ascontiguousarray(
            data["X_val"].reshape(len(data["X_val"]), -1), dtype=dtype
        )
        self.y_train = data["y_train"].astype(np.intp)
        self.y_val = data["y_val"].astype(np.intp)
        self.schedule = Schedule(self.X_train.shape[0], batch_size, num_epochs)
        self.batch_size = batch_size
        self.lr_decay = lr_decay
        self.num_train_samples = num_train_samples
        self.num_val_samples = num_val_samples
        self.return_params = return_params

        self.stack = _Stack(dims, normalization, dtype, count)
        self.stack.initialize(per["weight_scale"], per["seed"], normalization)
        self.streams = _Streams(per["seed"])
        self.rules = _RuleGroups(per, self.stack, overrides)
        self.keep_ratio = np.array(per["dropout_keep_ratio"], dtype=np.float64)
        self.use_dropout = bool(np.any(self.keep_ratio < 1.0))
        self.reg = np.array(per["reg"], dtype=np.float64)
        self.use_reg = bool(np.any(self.reg > 0))

        total, checks = self.schedule.num_iterations, self.schedule.num_checks
        self.active = np.arange(count)
        self.loss_history = np.full((count, total), np.nan)
        self.train_history = np.full((count, checks), np.nan)
        self.val_history = np.full((count, checks), np.nan)
        self.best_val = np.zeros(count)
        self.has_best = np.zeros(count, dtype=bool)
        self.diverged_at = np.zeros(count, dtype=np.int64)
        self.check_index = 0
        if return_params:
            self.best_flat = self.stack.flat.copy()
            self.best_running = [
                {
                    key: np.zeros((count, width), dtype=dtype)
                    for key in ("running_mean", "running_var")
                }
                for width in (dims[1:-1] if self.stack.kind else [])
            ]
        self.bar = tqdm(total=total, desc="training", unit="it") if progress else None

    # -- the loop's steps (nndl_lab.training.run) ------------------------------------------

    @property
    def optim_configs(self):
        return self.rules.configs

    def forward_backward(self, t):
        n_train = self.X_train.shape[0]
        size = self.batch_size
        batch = self.streams.draw(
            self.streams.batch, lambda rng: rng.integers(0, n_train, size=size), axis=1
        )
        return self._loss_and_grads(self.X_train[batch], self.y_train[batch])

    def after_step(self, t, losses):
        self.loss_history[self.active, t] = losses
        if self.bar is not None:
            self.bar.update(1)

    def stop(self, diverged, iteration):
        # As the Solver: record the iteration, make no update, stop those nets.
        self.diverged_at[self.active[diverged]] = iteration
        rows = ~diverged
        self.active = self.active[rows]
        self.stack.keep(rows)
        self.streams.keep(rows)
        self.rules.keep(rows)
        self.keep_ratio, self.reg = self.keep_ratio[rows], self.reg[rows]
        return self.active.size

    def update(self):
        self.rules.step(self.stack.flat, self.stack.grad)

    def end_epoch(self):
        pass

    def check(self, t):
        train_acc = self._accuracy(self.X_train, self.y_train, self.num_train_samples)
        val_acc = self._accuracy(self.X_val, self.y_val, self.num_val_samples)
        active = self.active
        self.train_history[active, self.check_index] = train_acc
        self.val_history[active, self.check_index] = val_acc
        self.check_index += 1
        better = improved(val_acc, self.best_val[active], self.has_best[active])
        rows = active[better]
        self.best_val[rows] = val_acc[better]
        self.has_best[rows] = True
        if self.return_params and rows.size:
            self.best_flat[rows] = self.stack.flat[better]
            for target, source in zip(self.best_running, self.stack.running(), strict=True):
                for key in target:
                    target[key][rows] = source[key][better]

    def after_check(self, t, epoch_end):
        pass

    # -- the nets' arithmetic, through the stacked layer pairs -------------------------------

    def _loss_and_grads(self, xb, yb):
        """Forward and backward pass of every net; gradients into ``stack.grad``; (K,) losses.

        ``xb`` is (B, D) when the nets share a seed, else (B, K, D) (``yb`` likewise).
        """
        stack, streams = self.stack, self.streams
        params, grads, kind = stack.params, stack.grads, stack.kind
        n = xb.shape[0]
        last = stack.num_layers
        h, caches = xb, []
        for layer in range(1, last):
            w, b = params[f"W{layer}"], params[f"b{layer}"]
            if kind is not None:
                norm = (params[f"{prefix}{layer}"] for prefix, _ in kind.params)
                h, cache = kind.stacked_forward(h, w, b, *norm, stack.states[layer - 1])
            else:
                h, cache = stacked.affine_relu_forward(h, w, b)
            mask = None
            if self.use_dropout:
                width = h.shape[2]
                uniform = streams.draw(
                    streams.dropout, lambda rng, w=width: rng.random((n, w)), axis=1
                )
                h, mask = stacked.dropout_forward(h, self.keep_ratio, uniform)
            caches.append((cache, mask))
        scores, scores_cache = stacked.affine_forward(h, params[f"W{last}"], params[f"b{last}"])
        loss, d = stacked.softmax_loss(scores, yb)
        d, grads[f"W{last}"][...], grads[f"b{last}"][...] = stacked.affine_backward(d, scores_cache)
        for layer in range(last - 1, 0, -1):
            cache, mask = caches[layer - 1]
            d = stacked.dropout_backward(d, mask)
            compute_dx = layer > 1
            if kind is not None:
                d, dw, db, *dnorm = kind.stacked_backward(d, cache, compute_dx=compute_dx)
                for (prefix, _), value in zip(kind.params, dnorm, strict=True):
                    grads[f"{prefix}{layer}"][...] = value
            else:
                d, dw, db = stacked.affine_relu_backward(d, cache, compute_dx=compute_dx)
            grads[f"W{layer}"][...] = dw
            grads[f"b{layer}"][...] = db
        if self.use_reg:
            # as FullyConnectedNet.loss: 0.5 * reg * sum(w * w) per layer, grad + reg * w
            half_reg = 0.5 * self.reg
            reg = self.reg.astype(stack.dtype)[:, None, None]
            for layer in range(1, last + 1):
                w = params[f"W{layer}"]
                loss += half_reg * np.sum(w * w, axis=(1, 2)).astype(np.float64)
                grads[f"W{layer}"] += reg * w
        return loss

    def _scores(self, X):
        """Test-mode scores (N, K, C) of every net (batchnorm with its running averages)."""
        stack, params, kind = self.stack, self.stack.params, self.stack.kind
        running = stack.running()
        h = X
        for layer in range(1, stack.num_layers):
            w, b = params[f"W{layer}"], params[f"b{layer}"]
            if kind is not None:
                norm = (params[f"{prefix}{layer}"] for prefix, _ in kind.params)
                state = {"mode": "test", **running[layer - 1]}
                h, _ = kind.stacked_forward(h, w, b, *norm, state)
            else:
                h, _ = stacked.affine_relu_forward(h, w, b)
        last = stack.num_layers
        return stacked.affine_forward(h, params[f"W{last}"], params[f"b{last}"])[0]

    def _accuracy(self, X, y, num_samples, batch_size=100):
        """Every net's accuracy as :meth:`Solver.check_accuracy` measures it: on a sorted
        random subsample from the eval generator when the set is larger, in batches of 100."""
        n = X.shape[0]
        if num_samples is not None and n > num_samples:
            subset = self.streams.draw(
                self.streams.eval,
                lambda rng: np.sort(rng.choice(n, num_samples, replace=False)),
                axis=1,
            )
            X, y = X[subset], y[subset]
            n = num_samples
        correct = np.zeros(self.active.size, dtype=np.int64)
        for start in range(0, n, batch_size):
            scores = self._scores(X[start : start + batch_size])
            labels = y[start : start + batch_size]
            if labels.ndim == 1:
                labels = labels[:, None]
            correct += np.sum(np.argmax(scores, axis=2) == labels, axis=0)
        return correct / n

    # -- the result ------------------------------------------------------------------------

    def result(self):
        if self.bar is not None:
            self.bar.close()
        total = self.schedule.num_iterations
        train = self.train_history
        # The highest training accuracy of the checks made (0.0 for a net that made none).
        best_train = np.where(np.isnan(train), -np.inf, train).max(axis=1)
        best_train[np.isinf(best_train)] = 0.0
        final_loss = np.array(
            [
                final_train_loss(self.loss_history[k, : self.diverged_at[k] or total])
                for k in range(self.loss_history.shape[0])
            ]
        )
        result = {
            "loss_history": self.loss_history,
            "train_acc_history": self.train_history,
            "val_acc_history": self.val_history,
            "best_val_acc": self.best_val,
            "best_train_acc": best_train,
            "final_train_loss": final_loss,
            "diverged_at": self.diverged_at,
        }
        if self.return_params:
            params, running = self.stack.export(self.best_flat, self.best_running)
            result["best_params"] = params
            result["best_bn_params"] = running
        return result


def _train(data, dims, per, **options):
    trainer = _Trainer(data, dims, per, **options)
    run(trainer.schedule, trainer)
    return trainer.result()


def train_batched_table(data, settings, common):
    """The sweeps' adapter: per-net ``settings`` + shared ``common`` train_net keywords → table.

    ``settings`` is a list of dicts with any of ``weight_scale``,
    ``dropout_keep_ratio``, ``reg``, ``seed``, ``update_rule`` and
    ``optim_config``. Book: chapters 6–8 (the sweeps).
    """
    common = dict(common)
    per = {}
    for key in ("weight_scale", "dropout_keep_ratio", "reg", "seed", "update_rule", "optim_config"):
        if any(key in s for s in settings):
            per[key] = [s.get(key, common.get(key)) for s in settings]
            common.pop(key, None)
    result = train_batched(data, **common, **per)
    return {key: result[key] for key in TABLE_KEYS}
