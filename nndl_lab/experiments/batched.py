r"""Many nets of one shape trained together, in one vectorized pass.

Sweeps train many nets that differ only in their initialization scale,
learning rate, dropout keep ratio, L2 strength or seed. :func:`train_batched`
stacks the parameters of K such nets along a leading *model axis* —
``W1`` of shape (K, fan_in, fan_out), ``b1`` (K, 1, fan_out), ... — and runs
the forward pass, the backward pass and the update rule for all K at once:

* one minibatch per step is shared by the nets that share a seed; the first
  layer is ``X_batch (B, D) @ W1 (K, D, H)`` (broadcast), every other layer a
  stack of K small matrix products ``(K, B, H) @ (K, H, H')``;
* batch normalization normalizes each net over the batch axis;
* the update rule is the rule of :mod:`nndl_lab.optim` itself
  (:func:`~nndl_lab.optim.inplace_step`) applied once to a (K, P) buffer
  that holds every parameter of every net; the rules are elementwise, so a
  per-net learning rate is a (K, 1) array that broadcasts (nets with
  different rules — :func:`compare_update_rules` — are consecutive rows,
  each group updated by its own rule's step on its rows);
* accuracy checks evaluate all K nets on the same samples (test-mode
  batchnorm folded into the affine layer).

What makes this exact
---------------------
Net k is the net ``FullyConnectedNet(hidden_dims, weight_scale=scale_k,
dropout_keep_ratio=p_k, reg=reg_k, use_batchnorm=..., seed=seed_k)`` trained
by ``Solver(..., update_rule, optim_config={"learning_rate": lr_k, ...},
seed=seed_k)``. Nets with the same seed draw the same standard-normal
initialization (scaled by their own weight scale), the same minibatch indices
from :func:`nndl_lab.solver.minibatch_rngs`, the same accuracy subsamples and
the same uniform numbers ``U`` for dropout (net k keeps a unit where
``U < p_k``), so each net's arithmetic is exactly that of its Solver run; in
float64 the histories agree with K separate Solver runs to rounding
(``allclose``). Nets with *different* seeds are supported too: each seed has
its own generators, and the minibatch of every net is gathered separately
(``X[idx_k]`` of shape (K, B, D)), which costs a little more than one shared
batch.

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
by ``blas_limit``: the thread count also
changes float32 rounding, so a fixed count keeps runs reproducible wherever
they are computed). Sums over the batch are ``ones @ a`` (one BLAS call), the
ReLU's mask multiplies, and ``max(a, 0)`` compares with a cached array of
zeros: each several times faster than the obvious numpy call on these
shapes. ``benchmarks/bench_sweep.py`` measures where the time goes.

Book: chapter 6 (batchnorm: the weight-scale sweep), chapter 7 (dropout: the
keep-ratio sweep), chapter 8 (capstone: hyperparameter search).
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping

import numpy as np
from tqdm.auto import tqdm

from .. import optim
from ..fc_net import WEIGHT_SCALE_SCHEMES
from ..solver import minibatch_rngs
from . import _checks
from .parallel import blas_limit as _blas_limit
from .runs import final_train_loss, num_checks, num_iterations

__all__ = ["train_batched", "split_runs", "train_batched_table"]

_BN_EPS = 1e-5
_BN_MOMENTUM = 0.9
# Evaluate in chunks of about this many activations per layer (K * samples * width).
_EVAL_CHUNK_ELEMENTS = 1_000_000


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


class _Stack:
    """The parameters, gradients and optimizer state of K nets of one shape."""

    def __init__(self, dims, use_batchnorm, dtype, count):
        self.dims = dims
        self.num_layers = len(dims) - 1
        self.use_batchnorm = use_batchnorm
        self.dtype = dtype
        layout = []
        for layer, (fan_in, fan_out) in enumerate(zip(dims[:-1], dims[1:], strict=True), 1):
            layout.append((f"W{layer}", (fan_in, fan_out)))
            layout.append((f"b{layer}", (1, fan_out)))
            if use_batchnorm and layer < self.num_layers:
                layout.append((f"gamma{layer}", (1, fan_out)))
                layout.append((f"beta{layer}", (1, fan_out)))
        self.layout = layout
        self.size = sum(int(np.prod(shape)) for _, shape in layout)
        self.flat = np.zeros((count, self.size), dtype=dtype)
        self.grad = np.zeros((count, self.size), dtype=dtype)
        hidden = dims[1:-1] if use_batchnorm else []
        self.running_mean = [np.zeros((count, 1, h), dtype=dtype) for h in hidden]
        self.running_var = [np.zeros((count, 1, h), dtype=dtype) for h in hidden]
        self._make_views()

    def _make_views(self):
        count = self.flat.shape[0]
        self.params, self.grads = {}, {}
        offset = 0
        for name, shape in self.layout:
            size = int(np.prod(shape))
            self.params[name] = self.flat[:, offset : offset + size].reshape((count, *shape))
            self.grads[name] = self.grad[:, offset : offset + size].reshape((count, *shape))
            offset += size

    def keep(self, keep):
        """Drop the nets where ``keep`` is False."""
        self.flat = self.flat[keep]
        self.grad = self.grad[keep]
        self.running_mean = [r[keep] for r in self.running_mean]
        self.running_var = [r[keep] for r in self.running_var]
        self._make_views()

    def export(self, flat, running_mean, running_var):
        """Parameters in FullyConnectedNet's shapes, with a leading model axis."""
        params, offset = {}, 0
        count = flat.shape[0]
        for name, shape in self.layout:
            size = int(np.prod(shape))
            block = flat[:, offset : offset + size]
            params[name] = block.reshape((count, *shape) if name.startswith("W") else (count, -1))
            offset += size
        bn = [
            {"running_mean": m.reshape(count, -1), "running_var": v.reshape(count, -1)}
            for m, v in zip(running_mean, running_var, strict=True)
        ]
        return params, bn


def _initialize(stack, weight_scales, seeds):
    """The initial weights of FullyConnectedNet(..., weight_scale=s_k, seed=seed_k)."""
    dims = stack.dims
    for seed in sorted(set(seeds)):
        init_seq, _ = np.random.SeedSequence(seed).spawn(2)
        rng = np.random.default_rng(init_seq)
        members = [k for k, s in enumerate(seeds) if s == seed]
        for layer, (fan_in, fan_out) in enumerate(zip(dims[:-1], dims[1:], strict=True), 1):
            normal = rng.standard_normal((fan_in, fan_out))
            target = stack.params[f"W{layer}"]
            for k in members:
                scale = weight_scales[k]
                std = (
                    WEIGHT_SCALE_SCHEMES[scale](fan_in, fan_out)
                    if isinstance(scale, str)
                    else scale
                )
                target[k] = (std * normal).astype(stack.dtype)
    if stack.use_batchnorm:
        for layer in range(1, stack.num_layers):
            stack.params[f"gamma{layer}"][...] = 1


class _Streams:
    """The random generators of the distinct seeds, and which net uses which."""

    def __init__(self, seeds):
        self.seeds = sorted(set(seeds))
        self.group = np.array([self.seeds.index(s) for s in seeds])
        self.batch, self.eval, self.dropout = [], [], []
        for seed in self.seeds:
            batch_rng, eval_rng = minibatch_rngs(seed)
            _, dropout_seq = np.random.SeedSequence(seed).spawn(2)
            self.batch.append(batch_rng)
            self.eval.append(eval_rng)
            self.dropout.append(np.random.default_rng(dropout_seq))

    @property
    def shared(self):
        return len(self.seeds) == 1

    def active_groups(self):
        return np.unique(self.group)

    def draw(self, generators, draw):
        """One draw per active seed; shared: the draw; else stacked per net (K, ...)."""
        if self.shared:
            return draw(generators[0])
        groups = self.active_groups()
        draws = {g: draw(generators[g]) for g in groups}
        return np.stack([draws[g] for g in self.group])


def train_batched(
    data,
    hidden_dims,
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
    # ---- check everything before any work -------------------------------------------------
    hidden_dims = _checks.hidden_dims(hidden_dims)
    num_classes = _checks.num_classes(num_classes)
    input_dim = _checks.data(data, num_classes)
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
    count, per = _broadcast_models(
        {
            "update_rule": _per_model(
                "update_rule",
                update_rule,
                lambda n, v: _checks.update_rule(v, n),
                f"update-rule names from {list(optim.UPDATE_RULES)}",
            ),
            "optim_config": config_arg,
            "weight_scale": _per_model(
                "weight_scale",
                weight_scale,
                lambda n, v: _checks.weight_scale(v, n),
                "positive numbers (or 'he'/'xavier')",
            ),
            "learning_rate": None
            if learning_rate is None
            else _per_model(
                "learning_rate", learning_rate, _checks.nonnegative_real, "learning rates >= 0"
            ),
            "dropout_keep_ratio": _per_model(
                "dropout_keep_ratio",
                dropout_keep_ratio,
                _checks.keep_ratio,
                "keep probabilities in (0, 1]",
            ),
            "reg": _per_model("reg", reg, _checks.nonnegative_real, "numbers >= 0"),
            "seed": _per_model("seed", seed, _checks.seed, "non-negative integers"),
        }
    )
    for k in range(count):
        rule = per["update_rule"][k]
        name = "optim_config" if isinstance(config_arg, dict) else f"optim_config[{k}]"
        config = _checks.optim_config(rule, per["optim_config"][k], name=name)
        for key, value in config.items():
            if not _checks.is_real(value):
                raise ValueError(
                    f"{name}[{key!r}] must be a number: train_batched keeps the optimizer "
                    f"state itself, got {type(value).__name__}"
                )
        if per["learning_rate"][k] is None:
            default = optim.prepare_config(rule, dict(config), np.zeros(1))["learning_rate"]
            per["learning_rate"][k] = default
        elif "learning_rate" in config:
            raise ValueError(
                "give the learning rate either as learning_rate or in optim_config, not both"
            )
        config.pop("learning_rate", None)
        per["optim_config"][k] = config
    use_batchnorm = _checks.boolean("use_batchnorm", use_batchnorm)
    num_epochs = _checks.positive_int("num_epochs", num_epochs)
    batch_size = _checks.positive_int("batch_size", batch_size)
    _checks.batchnorm_batch_size(use_batchnorm, batch_size)
    lr_decay = _checks.lr_decay(lr_decay)
    num_train_samples = _checks.optional_positive_int("num_train_samples", num_train_samples)
    num_val_samples = _checks.optional_positive_int("num_val_samples", num_val_samples)
    dtype = _checks.dtype(dtype)
    return_params = _checks.boolean("return_params", return_params)
    if blas_threads is not None:
        _checks.positive_int("blas_threads", blas_threads)
    subset = _checks.training_subset(data, num_train)

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
            [input_dim, *hidden_dims, num_classes],
            ordered,
            count=count,
            use_batchnorm=use_batchnorm,
            num_epochs=num_epochs,
            batch_size=batch_size,
            lr_decay=lr_decay,
            num_train_samples=num_train_samples,
            num_val_samples=num_val_samples,
            dtype=dtype,
            return_params=return_params,
            progress=progress,
        )
    inverse = np.argsort(order)
    for key in _TABLE_KEYS:
        result[key] = result[key][inverse]
    for name, value in result.get("best_params", {}).items():
        result["best_params"][name] = value[inverse]
    for bn in result.get("best_bn_params", []):
        for name in bn:
            bn[name] = bn[name][inverse]
    result["settings"] = _settings(per)
    return result


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


class _RuleGroups:
    """Consecutive rows of the stack that share an update rule and its hyperparameters.

    Each group has its own config (state arrays of its rows, a (n, 1) learning
    rate) and is updated by one call of the rule's in-place step on its rows,
    a view of the (K, P) buffers.
    """

    def __init__(self, per, flat, lr, dtype):
        self.dtype = dtype
        self.groups = []
        count = flat.shape[0]
        start = 0
        for k in range(1, count + 1):
            if k == count or (per["update_rule"][k], per["optim_config"][k]) != (
                per["update_rule"][start],
                per["optim_config"][start],
            ):
                rule = per["update_rule"][start]
                config = optim.prepare_config(
                    rule,
                    {**per["optim_config"][start], "learning_rate": float(lr[start])},
                    flat[start:k],
                )
                self.groups.append([start, k, optim.inplace_step(rule), config])
                start = k
        self.set_learning_rates(lr)

    def set_learning_rates(self, lr):
        # The rules are elementwise: an (n, 1) learning rate broadcasts over the (n, P) rows.
        for start, stop, _, config in self.groups:
            config["learning_rate"] = lr[start:stop, None].astype(self.dtype)

    def keep(self, finite):
        groups, offset = [], 0
        for start, stop, step, config in self.groups:
            kept = finite[start:stop]
            size = int(kept.sum())
            if size == 0:
                continue
            for key, value in list(config.items()):
                if isinstance(value, np.ndarray):
                    config[key] = value[kept]
            groups.append([offset, offset + size, step, config])
            offset += size
        self.groups = groups

    def step(self, flat, grad):
        for start, stop, step, config in self.groups:
            step(flat[start:stop], grad[start:stop], config)


def _train(
    data,
    dims,
    per,
    *,
    count,
    use_batchnorm,
    num_epochs,
    batch_size,
    lr_decay,
    num_train_samples,
    num_val_samples,
    dtype,
    return_params,
    progress,
):
    X_train = np.ascontiguousarray(data["X_train"].reshape(len(data["X_train"]), -1), dtype=dtype)
    X_val = np.ascontiguousarray(data["X_val"].reshape(len(data["X_val"]), -1), dtype=dtype)
    y_train, y_val = data["y_train"].astype(np.intp), data["y_val"].astype(np.intp)
    n_train = X_train.shape[0]
    iterations_per_epoch = max(n_train // batch_size, 1)
    total = num_iterations(n_train, batch_size, num_epochs)
    checks = num_checks(n_train, batch_size, num_epochs)

    stack = _Stack(dims, use_batchnorm, dtype, count)
    _initialize(stack, per["weight_scale"], per["seed"])
    streams = _Streams(per["seed"])

    # Per-net hyperparameters, as arrays that broadcast against the stacks.
    lr = np.array(per["learning_rate"], dtype=np.float64)
    keep = np.array(per["dropout_keep_ratio"], dtype=np.float64)
    reg = np.array(per["reg"], dtype=np.float64)
    use_dropout = bool(np.any(keep < 1.0))
    use_reg = bool(np.any(reg > 0))

    rules = _RuleGroups(per, stack.flat, lr, dtype)

    def set_hyperparameters():
        rules.set_learning_rates(lr)
        state.update(
            keep=keep[:, None, None],
            inv_keep=(1.0 / keep)[:, None, None].astype(dtype),
            reg=reg.astype(dtype)[:, None, None],
            reg64=reg,
        )

    state = {}
    set_hyperparameters()

    # Results, for all nets; ``active`` maps stack rows to nets.
    active = np.arange(count)
    loss_history = np.full((count, total), np.nan)
    train_history = np.full((count, checks), np.nan)
    val_history = np.full((count, checks), np.nan)
    best_val = np.zeros(count)
    has_best = np.zeros(count, dtype=bool)
    diverged_at = np.zeros(count, dtype=np.int64)
    if return_params:
        best_flat = stack.flat.copy()
        best_mean = [r.copy() for r in stack.running_mean]
        best_var = [r.copy() for r in stack.running_var]

    check_index = 0
    bar = tqdm(total=total, desc="training", unit="it") if progress else None
    with np.errstate(all="ignore"):
        for t in range(total):
            if active.size == 0:
                break
            batch = streams.draw(
                streams.batch, lambda rng: rng.integers(0, n_train, size=batch_size)
            )
            loss = _loss_and_grads(
                stack, X_train[batch], y_train[batch], streams, state, use_dropout, use_reg
            )
            loss_history[active, t] = loss
            finite = np.isfinite(loss)
            if not finite.all():
                # As the Solver: record the iteration, make no update, stop that net.
                diverged_at[active[~finite]] = t + 1
                active = active[finite]
                stack.keep(finite)
                streams.group = streams.group[finite]
                rules.keep(finite)
                lr, keep, reg = lr[finite], keep[finite], reg[finite]
                set_hyperparameters()
                if active.size == 0:
                    break
            rules.step(stack.flat, stack.grad)
            if bar is not None:
                bar.update(1)
            epoch_end = (t + 1) % iterations_per_epoch == 0
            if epoch_end:
                lr = lr * lr_decay
                rules.set_learning_rates(lr)
            if t == 0 or epoch_end:
                train_acc, val_acc = _accuracies(
                    stack,
                    [(X_train, y_train, num_train_samples), (X_val, y_val, num_val_samples)],
                    streams,
                    active.size,
                )
                train_history[active, check_index] = train_acc
                val_history[active, check_index] = val_acc
                check_index += 1
                improved = (val_acc > best_val[active]) | ~has_best[active]
                rows = active[improved]
                best_val[rows] = val_acc[improved]
                has_best[rows] = True
                if return_params and rows.size:
                    best_flat[rows] = stack.flat[improved]
                    for target, source in zip(best_mean, stack.running_mean, strict=True):
                        target[rows] = source[improved]
                    for target, source in zip(best_var, stack.running_var, strict=True):
                        target[rows] = source[improved]
    if bar is not None:
        bar.close()

    # The highest training accuracy of the checks made (0.0 for a net that made none).
    best_train = np.where(np.isnan(train_history), -np.inf, train_history).max(axis=1)
    best_train[np.isinf(best_train)] = 0.0
    final_loss = np.array(
        [final_train_loss(loss_history[k, : diverged_at[k] or total]) for k in range(count)]
    )
    result = {
        "loss_history": loss_history,
        "train_acc_history": train_history,
        "val_acc_history": val_history,
        "best_val_acc": best_val,
        "best_train_acc": best_train,
        "final_train_loss": final_loss,
        "diverged_at": diverged_at,
    }
    if return_params:
        params, bn = stack.export(best_flat, best_mean, best_var)
        result["best_params"] = params
        result["best_bn_params"] = bn
    return result


# Read-only constant arrays, cached by key; safe to share between threads (a reader
# keeps its own reference even if another thread empties the cache).
_CONSTANTS = {}


def _constant(key, make):
    array = _CONSTANTS.get(key)
    if array is None:
        array = make()
        if len(_CONSTANTS) > 128:
            _CONSTANTS.clear()
        _CONSTANTS[key] = array
    return array


def _zeros(shape, dtype):
    """A cached array of zeros: ``np.maximum(a, zeros)`` is several times faster than
    ``np.maximum(a, 0)`` (numpy 2.x has no fast loop for a scalar operand here)."""
    return _constant(("zeros", shape, dtype), lambda: np.zeros(shape, dtype=dtype))


def _ones_row(n, dtype):
    """A (1, n) row of ones: ``ones @ a`` sums a (K, n, H) stack over n with one BLAS call."""
    return _constant(("ones", n, dtype), lambda: np.ones((1, n), dtype=dtype))


def _row_offsets(count, n, classes):
    """(K, n) flat offsets of row (k, i) in a (K, n, classes) array."""
    return _constant(
        ("offsets", count, n, classes),
        lambda: (np.arange(count)[:, None] * n + np.arange(n)[None, :]) * classes,
    )


def _loss_and_grads(stack, xb, yb, streams, state, use_dropout, use_reg):
    """Forward and backward pass of every net on its minibatch; grads go to ``stack.grad``.

    ``xb`` is (B, D) when the nets share a seed, else (K, B, D) (``yb`` likewise).
    Returns the loss of every net, (K,) float64.

    The arithmetic is that of the layers in :mod:`nndl_lab.layers`, stacked:
    sums over the batch are ``ones (1, B) @ a`` (one BLAS call instead of a
    strided reduction), the ReLU mask multiplies (a masked assignment with a
    random mask is slower), so only the order of additions differs.
    """
    params, grads = stack.params, stack.grads
    dtype = stack.dtype
    num_layers = stack.num_layers
    count = stack.flat.shape[0]
    n = xb.shape[-2]
    ones = _ones_row(n, dtype)
    inputs, masks, bn_caches = [xb], [], []
    h = xb
    for layer in range(1, num_layers):
        a = np.matmul(h, params[f"W{layer}"])
        a += params[f"b{layer}"]
        if stack.use_batchnorm:
            i = layer - 1
            mean = np.matmul(ones, a)
            mean /= n
            a -= mean
            var = np.matmul(ones, a * a)
            var /= n
            inv_std = 1.0 / np.sqrt(var + _BN_EPS)
            a *= inv_std  # a is now x_hat
            stack.running_mean[i] = (
                _BN_MOMENTUM * stack.running_mean[i] + (1.0 - _BN_MOMENTUM) * mean
            )
            stack.running_var[i] = _BN_MOMENTUM * stack.running_var[i] + (1.0 - _BN_MOMENTUM) * var
            gamma = params[f"gamma{layer}"]
            bn_caches.append((a, gamma, inv_std))
            a = a * gamma
            a += params[f"beta{layer}"]
        np.maximum(a, _zeros(a.shape, dtype), out=a)
        if use_dropout:
            width = a.shape[-1]
            uniform = streams.draw(streams.dropout, lambda rng, w=width: rng.random((n, w)))
            mask = np.where(uniform < state["keep"], state["inv_keep"], dtype(0))
            a *= mask
            masks.append(mask)
        inputs.append(a)
        h = a

    last = num_layers
    scores = np.matmul(h, params[f"W{last}"])
    scores += params[f"b{last}"]
    scores -= scores.max(axis=2, keepdims=True)
    log_probs = scores
    log_probs -= np.log(np.exp(scores).sum(axis=2, keepdims=True))
    classes = scores.shape[2]
    # flat positions of the correct class of every sample of every net
    picked = _row_offsets(count, n, classes) + yb
    loss = log_probs.reshape(-1)[picked].sum(axis=1).astype(np.float64)
    loss /= -n
    d = np.exp(log_probs)
    d.reshape(-1)[picked] -= 1
    d /= n

    for layer in range(last, 0, -1):
        below = inputs[layer - 1]
        np.matmul(np.swapaxes(below, -1, -2), d, out=grads[f"W{layer}"])
        np.matmul(ones, d, out=grads[f"b{layer}"])
        if layer == 1:
            break
        d = np.matmul(d, np.swapaxes(params[f"W{layer}"], 1, 2))
        if use_dropout:
            d *= masks[layer - 2]
        np.multiply(d, below > 0, out=d)
        if stack.use_batchnorm:
            x_hat, gamma, inv_std = bn_caches[layer - 2]
            dbeta = grads[f"beta{layer - 1}"]
            dgamma = grads[f"gamma{layer - 1}"]
            np.matmul(ones, d, out=dbeta)
            np.matmul(ones, d * x_hat, out=dgamma)
            d *= n
            d -= dbeta
            d -= x_hat * dgamma
            d *= gamma * inv_std / n

    if use_reg:
        reg, reg64 = state["reg"], state["reg64"]
        for layer in range(1, last + 1):
            w = params[f"W{layer}"]
            loss += 0.5 * reg64 * np.sum(w * w, axis=(1, 2)).astype(np.float64)
            grads[f"W{layer}"] += reg * w
    return loss


def _predict_scores(stack, X):
    """Test-mode scores (K, n, C) of every net (batchnorm folded into the affine layers)."""
    params = stack.params
    h = X
    for layer in range(1, stack.num_layers):
        w, b = params[f"W{layer}"], params[f"b{layer}"]
        if stack.use_batchnorm:
            i = layer - 1
            scale = params[f"gamma{layer}"] / np.sqrt(stack.running_var[i] + _BN_EPS)
            b = (b - stack.running_mean[i]) * scale + params[f"beta{layer}"]
            w = w * scale
        h = np.matmul(h, w)
        h += b
        np.maximum(h, _zeros(h.shape, stack.dtype), out=h)
    last = stack.num_layers
    scores = np.matmul(h, params[f"W{last}"])
    scores += params[f"b{last}"]
    return scores


def _accuracies(stack, sets, streams, count):
    """Accuracy of every net on each ``(X, y, num_samples)`` of ``sets``, as the Solver checks.

    A set larger than ``num_samples`` is subsampled from the eval generators,
    in the order of ``sets`` (the Solver's order: training, then validation).
    Sets shared by all nets are evaluated in one pass, in chunks that keep a
    layer's activations in cache.
    """
    drawn = []
    for X, y, num_samples in sets:
        n = X.shape[0]
        if num_samples is not None and n > num_samples:
            subset = streams.draw(
                streams.eval,
                lambda rng, n=n, m=num_samples: np.sort(rng.choice(n, m, replace=False)),
            )
            X, y = X[subset], y[subset]
        drawn.append((X, y))
    if len({X.ndim for X, _ in drawn}) == 1:
        sizes = [y.shape[-1] for _, y in drawn]
        X = np.concatenate([X for X, _ in drawn], axis=-2)
        y = np.concatenate([y for _, y in drawn], axis=-1)
        correct = _count_correct(stack, X, y, count)
        bounds = np.cumsum([0, *sizes])
        return [
            correct[:, a:b].sum(axis=1) / (b - a)
            for a, b in zip(bounds[:-1], bounds[1:], strict=True)
        ]
    return [_count_correct(stack, X, y, count).sum(axis=1) / y.shape[-1] for X, y in drawn]


def _count_correct(stack, X, y, count):
    """(K, n) bool: which samples each net classifies correctly."""
    n = X.shape[-2]
    width = max(stack.dims[1:])
    chunk = max(1, _EVAL_CHUNK_ELEMENTS // (count * width))
    correct = np.empty((count, n), dtype=bool)
    for start in range(0, n, chunk):
        Xc, yc = X[..., start : start + chunk, :], y[..., start : start + chunk]
        correct[:, start : start + chunk] = np.argmax(_predict_scores(stack, Xc), axis=2) == yc
    return correct


def split_runs(result):
    r"""Turn a :func:`train_batched` result into K run dicts (the format of ``train_net``).

    A diverged net's histories are cut where its Solver run stopped, and its
    ``diverged_at`` is an int (None for the others).

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


_TABLE_KEYS = (
    "loss_history",
    "train_acc_history",
    "val_acc_history",
    "best_val_acc",
    "best_train_acc",
    "final_train_loss",
    "diverged_at",
)


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
    return {key: result[key] for key in _TABLE_KEYS}
