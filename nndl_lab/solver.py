r"""Minibatch training of a classification model.

Book: chapter 1 (the Solver), chapters 2–5 (update rules), chapter 8 (the
capstone run with learning-rate decay and checkpoints).
"""

from __future__ import annotations

import json
import math
import numbers
import os
import tempfile
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from . import optim, training
from ._blas import blas_limit

__all__ = ["Solver", "minibatch_rngs", "REQUIRED_DATA_KEYS"]

REQUIRED_DATA_KEYS = ("X_train", "y_train", "X_val", "y_val")


def minibatch_rngs(seed):
    """The two generators a Solver seeded with ``seed`` draws from.

    Returns ``(batch_rng, eval_rng)``: minibatch ``t`` is
    ``batch_rng.integers(0, num_train, size=batch_size)`` (drawn with
    replacement, as in the homework), and the subsamples used to measure
    training (and validation) accuracy come from ``eval_rng``, so checking
    accuracy never shifts the minibatch sequence. The batched trainer in
    :mod:`nndl_lab.experiments` uses the same generators to reproduce Solver runs.
    """
    batch_seq, eval_seq = np.random.SeedSequence(seed).spawn(2)
    return np.random.default_rng(batch_seq), np.random.default_rng(eval_seq)


def _dropout_rng_state(model):
    rng = getattr(model, "dropout_rng", None)
    return rng.bit_generator.state if isinstance(rng, np.random.Generator) else None


def _json_scalar(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} in a checkpoint")


def _positive_int(name, value):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


#: Seeds are stored as int64 by the batched trainer; larger ones are refused everywhere.
MAX_SEED = 2**63 - 1


def _check_seed(seed):
    if seed is None:
        return None
    if (
        not isinstance(seed, numbers.Integral)
        or isinstance(seed, bool)
        or not 0 <= seed <= MAX_SEED
    ):
        raise ValueError(f"seed must be None or an integer in [0, 2**63 - 1], got {seed!r}")
    return int(seed)


def _check_flag(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _check_optim_numbers(optim_config):
    """``True`` is a number to Python but never a hyperparameter: refuse bools in the config."""
    for key, value in optim_config.items():
        if isinstance(value, (bool, np.bool_)):
            raise TypeError(f"optim_config[{key!r}] must be a number, got {value!r}")


def _check_checkpoint_name(checkpoint_name):
    """The checkpoint prefix as a str; its directory must be one that can exist and be written."""
    if checkpoint_name is None:
        return None
    if not isinstance(checkpoint_name, (str, os.PathLike)):
        raise TypeError(
            f"checkpoint_name must be a path (str or os.PathLike) or None, got {checkpoint_name!r}"
        )
    name = os.fspath(checkpoint_name)
    if not isinstance(name, str) or not name or Path(name).name in ("", ".", ".."):
        raise ValueError(
            f"checkpoint_name must name a file prefix such as 'runs/capstone', got {name!r}"
        )
    # The nearest existing ancestor of the checkpoint directory must be a writable directory;
    # otherwise the first save would fail after an epoch of training.
    ancestor = Path(name).parent.absolute()
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir() or not os.access(ancestor, os.W_OK | os.X_OK):
        raise ValueError(
            f"checkpoint_name {name!r}: cannot write checkpoints there ({ancestor} is not a "
            "writable directory)"
        )
    return name


def _uses_batchnorm(model):
    return bool(getattr(model, "bn_params", None))


def all_finite(X):
    """Whether every entry of the array ``X`` is finite, without a full-size temporary.

    A float64 sum is one buffered pass (no boolean copy of a CIFAR-10-sized
    array); only when it is not finite (a NaN or inf, or an overflow of huge
    values) are the rows looked at block by block.
    """
    if not np.issubdtype(X.dtype, np.inexact) or X.size == 0:
        return True
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(X.sum(dtype=np.complex128 if X.dtype.kind == "c" else np.float64)):
            return True
    rows = X.reshape(X.shape[0] if X.ndim else 1, -1)
    return all(np.isfinite(rows[i : i + 1024]).all() for i in range(0, rows.shape[0], 1024))


def _check_finite(name, X):
    if not all_finite(X):
        raise ValueError(f"{name} holds NaN or infinite values; clean or impute the data first")


def _one_blas_thread():
    """Limit the BLAS to one thread in this thread (see :func:`nndl_lab._blas.blas_limit`)."""
    return blas_limit(1)


class Solver:
    r"""Trains a classification model with minibatch gradient descent.

    The model must provide

    - ``model.params``: a dict mapping parameter names to arrays;
    - ``model.loss(X, y=None)``: with ``y``, ``(loss, grads)`` where ``grads``
      has the keys of ``params``; without, class scores of shape (N, C);
    - optionally ``model.bn_params`` (running batchnorm statistics, saved with
      the best parameters and in checkpoints) and ``model.num_classes``
      (labels are checked against it).

    Every iteration samples a minibatch, computes the loss and gradients, and
    updates each parameter with ``update_rule``. At the start, at the end of
    every epoch and at the last iteration it measures training accuracy (on
    ``num_train_samples`` random training samples) and validation accuracy,
    and keeps a copy of the parameters with the best validation accuracy,
    which are put back into the model when training ends.

    Parameters
    ----------
    model : object
        See above.
    data : dict
        ``X_train`` (N_train, ...), ``y_train`` (N_train,), ``X_val`` (N_val,
        ...), ``y_val`` (N_val,); labels are integers.
    update_rule : str or callable, default ``'sgd'``
        A name from :data:`nndl_lab.optim.UPDATE_RULES`, or any function with
        the signature ``next_w, config = rule(w, dw, config)``.
    optim_config : dict, default {}
        Hyperparameters for the update rule; every parameter gets its own copy
        (and so its own optimizer state).
    lr_decay : float, default 1.0
        ``learning_rate`` is multiplied by this after every epoch.
    batch_size : int, default 100
    num_epochs : int, default 10
    num_train_samples : int or None, default 1000
        Training samples used to measure training accuracy; None uses all.
    num_val_samples : int or None, default None
        Validation samples used to measure validation accuracy; None uses all.
    checkpoint_name : str or path, optional
        Write ``{checkpoint_name}_epoch_{e}.npz`` after every epoch (atomically:
        a half-written file never has the final name). :meth:`load_checkpoint`
        resumes from one.
    print_every : int, default 10
        With ``verbose``, print the loss every this many iterations.
    verbose : bool, default True
        Print progress lines in the homework's format.
    progress : bool, default False
        Show a tqdm progress bar (only when not ``verbose``).
    seed : int or None
        Fixes the minibatch order and the accuracy subsamples (see
        :func:`minibatch_rngs`); an integer in [0, 2**63 - 1].
    optim_overrides : dict, optional
        Per-parameter hyperparameters ``{pattern: {key: value}}`` on top of
        ``optim_config`` for the parameters whose names match ``pattern``
        (``fnmatch``, or a tuple of patterns); e.g. ``{optim.BIAS_AND_NORMALIZATION:
        {"learning_rate": 0.0}}`` freezes the biases and batchnorm's gamma and
        beta. See :func:`nndl_lab.optim.parameter_configs`.

    Training runs with the BLAS limited to one thread (in the training
    thread only): the float32 rounding of a matrix product depends on the
    number of BLAS threads, and the same seed must give the same numbers on
    every machine (``benchmarks/bench_solver_threads.py`` measures the cost).

    Attributes
    ----------
    loss_history : list of float
        Loss at every iteration.
    train_acc_history, val_acc_history : list of float
        Accuracies at every check (``num_epochs + 1`` entries).
    best_val_acc : float
    best_params : dict of str to ndarray
    diverged_at : int or None
        The 1-based iteration at which the loss became NaN or infinite;
        training stops there.

    Raises
    ------
    ValueError
        For unknown options or update rules, missing data keys, labels out of
        range, NaN or infinite inputs, non-positive batch sizes or epoch
        counts, a batch size of 1 for a model with batch normalization, a
        seed outside [0, 2**63 - 1] and a ``checkpoint_name`` in a place no
        checkpoint can be written, before training.
    TypeError
        For data that are not numpy arrays, non-boolean ``verbose`` or
        ``progress``, a ``checkpoint_name`` that is not a path and booleans
        in ``optim_config``.
    """

    def __init__(
        self,
        model,
        data,
        update_rule="sgd",
        optim_config=None,
        lr_decay=1.0,
        batch_size=100,
        num_epochs=10,
        num_train_samples=1000,
        num_val_samples=None,
        checkpoint_name=None,
        print_every=10,
        verbose=True,
        progress=False,
        seed=None,
        optim_overrides=None,
        **unknown_options,
    ):
        if unknown_options:
            raise ValueError(
                f"Unrecognized arguments {sorted(unknown_options)}; Solver accepts update_rule, "
                "optim_config, lr_decay, batch_size, num_epochs, num_train_samples, "
                "num_val_samples, checkpoint_name, print_every, verbose, progress, seed, "
                "optim_overrides"
            )
        self.model = model
        seed = _check_seed(seed)
        self._check_data(data)
        self.X_train, self.y_train = data["X_train"], np.asarray(data["y_train"])
        self.X_val, self.y_val = data["X_val"], np.asarray(data["y_val"])

        if isinstance(update_rule, str):
            if update_rule not in optim.UPDATE_RULES:
                raise ValueError(
                    f"Invalid update_rule {update_rule!r}; known update rules: "
                    f"{list(optim.UPDATE_RULES)} (or pass a function "
                    "next_w, config = rule(w, dw, config))"
                )
            self.update_rule = optim.UPDATE_RULES[update_rule]
            self._rule_name = update_rule
        elif callable(update_rule):
            self.update_rule = update_rule
            self._rule_name = None
        else:
            raise TypeError(
                f"update_rule must be a name from {list(optim.UPDATE_RULES)} or a function, "
                f"got {type(update_rule).__name__}"
            )
        if optim_config is None:
            optim_config = {}
        if not isinstance(optim_config, dict):
            raise TypeError(f"optim_config must be a dict, got {type(optim_config).__name__}")
        _check_optim_numbers(optim_config)
        if self._rule_name is not None:
            # Validate once (unknown keys, ranges) before training starts.
            probe = next(iter(model.params.values()))
            optim.prepare_config(self._rule_name, dict(optim_config), probe)
            self._param_configs = optim.parameter_configs(
                self._rule_name, optim_config, model.params, optim_overrides
            )
        elif optim_overrides is not None:
            raise ValueError(
                "optim_overrides needs update_rule to be a name from the registry "
                f"{list(optim.RULES)}, not a function"
            )
        else:
            self._param_configs = {name: dict(optim_config) for name in model.params}
        self.optim_config = optim_config
        self.optim_overrides = optim_overrides

        if not isinstance(lr_decay, numbers.Real) or not 0 < lr_decay <= 1 or math.isnan(lr_decay):
            raise ValueError(f"lr_decay must be in (0, 1], got {lr_decay!r}")
        self.lr_decay = float(lr_decay)
        self.batch_size = _positive_int("batch_size", batch_size)
        if self.batch_size == 1 and _uses_batchnorm(model):
            raise ValueError(
                "batch_size must be >= 2 for a model with batch normalization: a batch of one "
                "sample normalizes to zero (out = beta, zero gradients), so nothing would train"
            )
        self.num_epochs = _positive_int("num_epochs", num_epochs)
        self.num_train_samples = (
            None
            if num_train_samples is None
            else _positive_int("num_train_samples", num_train_samples)
        )
        self.num_val_samples = (
            None if num_val_samples is None else _positive_int("num_val_samples", num_val_samples)
        )
        self.print_every = _positive_int("print_every", print_every)
        self.checkpoint_name = _check_checkpoint_name(checkpoint_name)
        self.verbose = _check_flag("verbose", verbose)
        self.progress = _check_flag("progress", progress)
        self.seed = seed
        self._reset()

    def _check_data(self, data):
        if not isinstance(data, dict):
            raise TypeError(
                f"data must be a dict with keys {list(REQUIRED_DATA_KEYS)}, "
                f"got {type(data).__name__}"
            )
        missing = [key for key in REQUIRED_DATA_KEYS if key not in data]
        if missing:
            raise ValueError(
                f"data is missing key(s) {missing}; Solver needs {list(REQUIRED_DATA_KEYS)}"
            )
        num_classes = getattr(self.model, "num_classes", None)
        for split in ("train", "val"):
            for key in (f"X_{split}", f"y_{split}"):
                if not isinstance(data[key], np.ndarray):
                    raise TypeError(
                        f"data[{key!r}] must be a numpy array, got {type(data[key]).__name__} "
                        "(convert it with np.asarray)"
                    )
            X, y = data[f"X_{split}"], data[f"y_{split}"]
            _check_finite(f"data['X_{split}']", X)
            if X.ndim < 1 or y.ndim != 1 or X.shape[0] != y.shape[0]:
                raise ValueError(
                    f"data['X_{split}'] has shape {X.shape} and data['y_{split}'] shape {y.shape}: "
                    "they must hold the same number N of samples, and y must have shape (N,)"
                )
            if X.shape[0] == 0:
                raise ValueError(f"data['X_{split}'] holds no samples")
            if not np.issubdtype(y.dtype, np.integer):
                raise TypeError(f"data['y_{split}'] must hold integer labels, got dtype {y.dtype}")
            if num_classes is not None and (y.min() < 0 or y.max() >= num_classes):
                raise ValueError(
                    f"data['y_{split}'] holds labels in [{y.min()}, {y.max()}] but the model "
                    f"has num_classes={num_classes}: labels must lie in [0, {num_classes})"
                )

    def _reset(self):
        self.epoch = 0
        self.best_val_acc = 0.0
        self.best_params = {}
        self.best_bn_params = None
        self.loss_history = []
        self.train_acc_history = []
        self.val_acc_history = []
        self.diverged_at = None
        self._iteration = 0
        self._batch_rng, self._eval_rng = minibatch_rngs(self.seed)
        self.optim_configs = {name: dict(config) for name, config in self._param_configs.items()}
        self._configs_prepared = False
        self._grads = None
        self._bar = None

    @property
    def _schedule(self):
        return training.Schedule(self.X_train.shape[0], self.batch_size, self.num_epochs)

    @property
    def iterations_per_epoch(self):
        return self._schedule.iterations_per_epoch

    @property
    def num_iterations(self):
        return self._schedule.num_iterations

    def _prepare_configs(self):
        if self._rule_name is not None:
            for name, w in self.model.params.items():
                self.optim_configs[name] = optim.prepare_config(
                    self._rule_name, self.optim_configs[name], w
                )
        self._configs_prepared = True

    # -- the steps of the training loop (nndl_lab.training.run) ------------------------------

    def forward_backward(self, t):
        """Loss and gradients on minibatch ``t``; returns the loss as a (1,) array."""
        batch = self._batch_rng.integers(0, self.X_train.shape[0], size=self.batch_size)
        loss, self._grads = self.model.loss(self.X_train[batch], self.y_train[batch])
        return np.array([loss], dtype=np.float64)

    def update(self):
        """Apply the update rule to every parameter with the last gradients."""
        grads, self._grads = self._grads, None
        if self._rule_name is not None:
            # The model owns its arrays: update them in place with the rule's own step.
            step = optim.inplace_step(self._rule_name)
            for name, w in self.model.params.items():
                step(w, grads[name], self.optim_configs[name])
        else:
            for name, w in self.model.params.items():
                next_w, next_config = self.update_rule(w, grads[name], self.optim_configs[name])
                self.model.params[name] = next_w
                self.optim_configs[name] = next_config

    def _step(self):
        """One iteration without the loop's bookkeeping: loss, gradients, update if finite."""
        loss = self.forward_backward(self._iteration)
        self.loss_history.append(float(loss[0]))
        if not math.isfinite(loss[0]):
            return False
        self.update()
        return True

    def after_step(self, t, losses):
        self.loss_history.append(float(losses[0]))
        self._iteration = t + 1
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix(loss=f"{self.loss_history[-1]:.4f}", refresh=False)
        if self.verbose and t % self.print_every == 0:
            print("(Iteration %d / %d) loss: %f" % (t + 1, self.num_iterations, losses[0]))

    def stop(self, diverged, iteration):
        self.diverged_at = iteration
        if self.verbose:
            print(f"Diverged at iteration {iteration}: the loss is {self.loss_history[-1]}")
        return 0

    def end_epoch(self):
        self.epoch += 1

    def check(self, t):
        self._check_epoch()

    def after_check(self, t, epoch_end):
        if epoch_end and self.checkpoint_name is not None:
            self._save_checkpoint()

    def check_accuracy(self, X, y, num_samples=None, batch_size=100, rng=None):
        """Accuracy of the model on (a subsample of) the given data.

        Evaluates in batches of ``batch_size`` so a large set never becomes one
        giant activation.

        Parameters
        ----------
        X : ndarray, shape (N, ...)
        y : ndarray of int, shape (N,)
        num_samples : int, optional
            Evaluate on this many samples drawn at random without replacement.
        batch_size : int, default 100
        rng : numpy.random.Generator, optional
            Source of the subsample; defaults to the Solver's own.

        Returns
        -------
        acc : float
            Fraction of samples classified correctly.
        """
        batch_size = _positive_int("batch_size", batch_size)
        if num_samples is not None:
            num_samples = _positive_int("num_samples", num_samples)
        y = np.asarray(y)
        n = X.shape[0]
        if n == 0:
            raise ValueError("X holds no samples: accuracy needs at least one")
        if num_samples is not None and n > num_samples:
            rng = self._eval_rng if rng is None else rng
            subset = np.sort(rng.choice(n, num_samples, replace=False))
            X, y = X[subset], y[subset]
            n = num_samples
        correct = 0
        for start in range(0, n, batch_size):
            scores = self.model.loss(X[start : start + batch_size])
            correct += int(np.sum(np.argmax(scores, axis=1) == y[start : start + batch_size]))
        return correct / n

    def _check_epoch(self):
        train_acc = self.check_accuracy(self.X_train, self.y_train, self.num_train_samples)
        val_acc = self.check_accuracy(self.X_val, self.y_val, self.num_val_samples)
        self.train_acc_history.append(train_acc)
        self.val_acc_history.append(val_acc)
        if self.verbose:
            print(
                "(Epoch %d / %d) train acc: %f; val_acc: %f"
                % (self.epoch, self.num_epochs, train_acc, val_acc)
            )
        if training.improved(val_acc, self.best_val_acc, bool(self.best_params)):
            self.best_val_acc = val_acc
            self.best_params = {name: w.copy() for name, w in self.model.params.items()}
            self.best_bn_params = self._copy_bn_params()

    def _copy_bn_params(self):
        bn_params = getattr(self.model, "bn_params", None)
        if not bn_params:
            return None
        return [
            {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in p.items()}
            for p in bn_params
        ]

    def train(self):
        """Run the optimization; afterwards the model holds :attr:`best_params`."""
        if not self._configs_prepared:
            self._prepare_configs()
        self._bar = None
        if self.progress and not self.verbose:
            self._bar = tqdm(
                total=self.num_iterations, initial=self._iteration, desc="training", unit="it"
            )
        # One BLAS thread: a matrix product's float32 rounding depends on the thread count.
        with _one_blas_thread():
            training.run(self._schedule, self, start=self._iteration)
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self.best_params:
            for name, w in self.best_params.items():
                self.model.params[name] = w.copy()
            if self.best_bn_params is not None:
                for target, source in zip(self.model.bn_params, self.best_bn_params, strict=True):
                    target.update(
                        {
                            k: (v.copy() if isinstance(v, np.ndarray) else v)
                            for k, v in source.items()
                        }
                    )

    # -- checkpoints -------------------------------------------------------------------------

    def checkpoint_path(self, epoch):
        """The file the checkpoint of ``epoch`` is written to."""
        return Path(f"{self.checkpoint_name}_epoch_{epoch}.npz")

    def _save_checkpoint(self):
        arrays = {}
        for name, w in self.model.params.items():
            arrays[f"params/{name}"] = w
        for name, w in self.best_params.items():
            arrays[f"best_params/{name}"] = w
        config_scalars = {}
        for name, config in self.optim_configs.items():
            config_scalars[name] = {}
            for key, value in config.items():
                if isinstance(value, np.ndarray):
                    arrays[f"optim/{name}/{key}"] = value
                else:
                    config_scalars[name][key] = value
        for prefix, bn_params in (
            ("bn", getattr(self.model, "bn_params", None) or []),
            ("best_bn", self.best_bn_params or []),
        ):
            for i, bn_param in enumerate(bn_params):
                for key, value in bn_param.items():
                    if isinstance(value, np.ndarray):
                        arrays[f"{prefix}/{i}/{key}"] = value
        meta = {
            "epoch": self.epoch,
            "iteration": self._iteration,
            "batch_size": self.batch_size,
            "num_epochs": self.num_epochs,
            "lr_decay": self.lr_decay,
            "update_rule": self._rule_name,
            "optim_scalars": config_scalars,
            "loss_history": self.loss_history,
            "train_acc_history": self.train_acc_history,
            "val_acc_history": self.val_acc_history,
            "best_val_acc": self.best_val_acc,
            "batch_rng": self._batch_rng.bit_generator.state,
            "eval_rng": self._eval_rng.bit_generator.state,
            "dropout_rng": _dropout_rng_state(self.model),
        }
        arrays["meta"] = np.array(json.dumps(meta, default=_json_scalar))
        path = self.checkpoint_path(self.epoch)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".part")
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez(handle, **arrays)
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        if self.verbose:
            print(f'Saving checkpoint to "{path}"')

    def load_checkpoint(self, filename):
        """Resume from a checkpoint written by a Solver with the same model and options.

        Restores the model's parameters and batchnorm statistics, the optimizer
        state, the histories, the best parameters and the random generators
        (minibatches, accuracy subsamples and the model's dropout masks), so
        that :meth:`train` continues exactly where the saved run was.

        Everything in the file is checked first (names, shapes and dtypes of the
        arrays, the optimizer's hyperparameters, the histories, the generator
        states); only then is anything restored, so a refused file leaves the
        Solver and the model as they were.

        Raises
        ------
        ValueError
            The file is not a readable Solver checkpoint, or was written for
            another model, update rule or batch size.
        """
        state = _read_checkpoint(self, filename)
        for name, value in state["params"].items():
            self.model.params[name] = value
        bn_params = getattr(self.model, "bn_params", None) or []
        for bn_param, saved in zip(bn_params, state["bn"], strict=True):
            bn_param.update(saved)
        self.best_bn_params = state["best_bn"]
        self.best_params = state["best_params"]
        self.optim_configs = state["optim_configs"]
        self._configs_prepared = True
        for key in ("epoch", "_iteration", "loss_history", "train_acc_history"):
            setattr(self, key, state[key])
        self.val_acc_history = state["val_acc_history"]
        self.best_val_acc = state["best_val_acc"]
        self._batch_rng, self._eval_rng = state["batch_rng"], state["eval_rng"]
        if state["dropout_rng"] is not None:
            self.model.dropout_rng.bit_generator.state = state["dropout_rng"].bit_generator.state


def _read_checkpoint(solver, filename):
    """Read and check every part of a checkpoint for ``solver``; restore nothing.

    Returns the new values (fresh arrays and generators) of everything
    :meth:`Solver.load_checkpoint` restores.
    """
    if not isinstance(filename, (str, os.PathLike)):
        raise TypeError(f"filename must be a path (str or os.PathLike), got {filename!r}")

    def bad(problem):
        return ValueError(f"checkpoint {os.fspath(filename)!r} {problem}")

    try:
        with np.load(filename, allow_pickle=False) as archive:
            if not hasattr(archive, "files"):
                raise ValueError("it holds one array, not an .npz archive")
            meta = json.loads(str(archive["meta"][()]))
            arrays = {key: archive[key] for key in archive.files if key != "meta"}
    except FileNotFoundError:
        raise
    except Exception as exc:  # BadZipFile, KeyError, JSONDecodeError, zlib.error, ...
        raise bad(f"is not a readable Solver checkpoint ({type(exc).__name__}: {exc})") from None
    model = solver.model
    params = model.params
    required = {
        "epoch": int,
        "iteration": int,
        "batch_size": int,
        "update_rule": (str, type(None)),
        "optim_scalars": dict,
        "loss_history": list,
        "train_acc_history": list,
        "val_acc_history": list,
        "best_val_acc": (int, float),
        "batch_rng": dict,
        "eval_rng": dict,
    }
    if not isinstance(meta, dict):
        raise bad("is not a Solver checkpoint: its metadata is not a dict")
    for key, kind in required.items():
        if key not in meta or not isinstance(meta[key], kind) or isinstance(meta[key], bool):
            raise bad(f"is not a Solver checkpoint: metadata {key!r} is missing or malformed")
    if meta["update_rule"] != solver._rule_name or meta["batch_size"] != solver.batch_size:
        raise bad(
            f"was written with update_rule={meta['update_rule']!r}, "
            f"batch_size={meta['batch_size']}; this Solver has "
            f"update_rule={solver._rule_name!r}, batch_size={solver.batch_size}"
        )

    def group(prefix):
        return {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}

    def check_like(what, saved, reference):
        if set(saved) != set(reference):
            raise bad(
                f"holds {what} {sorted(saved)}, but the model has {sorted(reference)}: it was "
                "written for another model"
            )
        for name, value in saved.items():
            target = reference[name]
            if value.shape != target.shape or value.dtype != target.dtype:
                raise bad(
                    f"holds {what} {name} of shape {value.shape} and dtype {value.dtype}; the "
                    f"model's has shape {target.shape} and dtype {target.dtype}"
                )
            if not np.isfinite(value).all():
                raise bad(f"holds NaN or infinite values in {what} {name}")
        return {name: value.copy() for name, value in saved.items()}

    state = {"params": check_like("parameters", group("params/"), params)}
    best = group("best_params/")
    state["best_params"] = check_like("best parameters", best, params) if best else {}

    optim_configs = {}
    scalars = meta["optim_scalars"]
    if set(scalars) != set(params) or not all(isinstance(v, dict) for v in scalars.values()):
        raise bad(f"holds optimizer settings for {sorted(scalars)}, the model has {sorted(params)}")
    for name, w in params.items():
        config = dict(scalars[name])
        config.update(group(f"optim/{name}/"))
        try:
            _check_optim_numbers(config)
            if solver._rule_name is not None:
                checked = optim.prepare_config(solver._rule_name, dict(config), w)
                for key, value in config.items():
                    if isinstance(value, np.ndarray) and value.dtype != w.dtype:
                        raise ValueError(f"config[{key!r}] has dtype {value.dtype}, w {w.dtype}")
                config = checked
        except (TypeError, ValueError) as exc:
            raise bad(f"holds bad optimizer settings for {name}: {exc}") from None
        optim_configs[name] = config
    state["optim_configs"] = optim_configs

    bn_params = getattr(model, "bn_params", None) or []
    bn, best_bn = [], []
    for i, bn_param in enumerate(bn_params):
        saved, saved_best = group(f"bn/{i}/"), group(f"best_bn/{i}/")
        gamma = params.get(f"gamma{i + 1}")
        for stats, what in ((saved, "running statistics"), (saved_best, "best running statistics")):
            if set(stats) != {"running_mean", "running_var"}:
                raise bad(
                    f"has no batchnorm {what} for layer {i + 1}: it was written for a model "
                    "without batch normalization"
                )
            reference = {key: stats[key] for key in stats}
            if gamma is not None:
                reference = {key: gamma for key in stats}
            check_like(f"batchnorm {what} of layer {i + 1}:", stats, reference)
            if (stats["running_var"] < 0).any():
                raise bad(f"holds a negative running variance for layer {i + 1}")
        bn.append({key: value.copy() for key, value in saved.items()})
        best_bn.append({**bn_param, **{key: value.copy() for key, value in saved_best.items()}})
    extra_bn = sorted({k.split("/")[1] for k in arrays if k.startswith(("bn/", "best_bn/"))})
    if len(extra_bn) > len(bn_params):
        raise bad(
            f"holds batchnorm statistics for {len(extra_bn)} layers; the model has {len(bn_params)}"
        )
    state["bn"], state["best_bn"] = bn, (best_bn or None)

    epoch, iteration = meta["epoch"], meta["iteration"]
    histories = {key: meta[key] for key in ("loss_history", "train_acc_history", "val_acc_history")}
    if epoch < 0 or iteration < 0 or len(histories["loss_history"]) != iteration:
        raise bad(
            f"is inconsistent: epoch {epoch}, iteration {iteration}, "
            f"{len(histories['loss_history'])} losses"
        )
    for key, values in histories.items():
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            raise bad(f"holds a non-number in {key}")
    accuracies = histories["train_acc_history"] + histories["val_acc_history"]
    accuracies.append(meta["best_val_acc"])
    if len(histories["train_acc_history"]) != len(histories["val_acc_history"]) or not all(
        0.0 <= a <= 1.0 for a in accuracies
    ):
        raise bad("holds accuracy histories of different lengths or accuracies outside [0, 1]")
    state.update(
        epoch=epoch,
        _iteration=iteration,
        loss_history=[float(v) for v in histories["loss_history"]],
        train_acc_history=[float(v) for v in histories["train_acc_history"]],
        val_acc_history=[float(v) for v in histories["val_acc_history"]],
        best_val_acc=float(meta["best_val_acc"]),
    )

    def generator(key, like):
        rng = np.random.default_rng()
        try:
            if meta[key].get("bit_generator") != like.bit_generator.state["bit_generator"]:
                raise ValueError("another bit generator")
            rng.bit_generator.state = meta[key]
        except Exception as exc:
            raise bad(f"holds an unusable {key} state ({exc})") from None
        return rng

    state["batch_rng"] = generator("batch_rng", solver._batch_rng)
    state["eval_rng"] = generator("eval_rng", solver._eval_rng)
    state["dropout_rng"] = None
    model_rng = getattr(model, "dropout_rng", None)
    if isinstance(model_rng, np.random.Generator) and meta.get("dropout_rng") is not None:
        if not isinstance(meta["dropout_rng"], dict):
            raise bad("holds an unusable dropout_rng state")
        state["dropout_rng"] = generator("dropout_rng", model_rng)
    return state
