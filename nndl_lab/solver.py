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

from . import optim

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


def _json_scalar(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} in a checkpoint")


def _positive_int(name, value):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


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
        :func:`minibatch_rngs`).
    optim_overrides : dict, optional
        Per-parameter hyperparameters ``{pattern: {key: value}}`` on top of
        ``optim_config`` for the parameters whose names match ``pattern``
        (``fnmatch``, or a tuple of patterns); e.g. ``{optim.BIAS_AND_NORMALIZATION:
        {"learning_rate": 0.0}}`` freezes the biases and batchnorm's gamma and
        beta. See :func:`nndl_lab.optim.parameter_configs`.

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
        range and non-positive batch sizes or epoch counts, before training.
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
        self.checkpoint_name = None if checkpoint_name is None else os.fspath(checkpoint_name)
        self.verbose = bool(verbose)
        self.progress = bool(progress)
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
            X, y = np.asarray(data[f"X_{split}"]), np.asarray(data[f"y_{split}"])
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

    @property
    def iterations_per_epoch(self):
        return max(self.X_train.shape[0] // self.batch_size, 1)

    @property
    def num_iterations(self):
        return self.num_epochs * self.iterations_per_epoch

    def _prepare_configs(self):
        if self._rule_name is not None:
            for name, w in self.model.params.items():
                self.optim_configs[name] = optim.prepare_config(
                    self._rule_name, self.optim_configs[name], w
                )
        self._configs_prepared = True

    def _step(self):
        batch = self._batch_rng.integers(0, self.X_train.shape[0], size=self.batch_size)
        loss, grads = self.model.loss(self.X_train[batch], self.y_train[batch])
        self.loss_history.append(float(loss))
        if not math.isfinite(loss):
            return False
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
        return True

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
        y = np.asarray(y)
        n = X.shape[0]
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
        if val_acc > self.best_val_acc or not self.best_params:
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
        num_iterations = self.num_iterations
        bar = None
        if self.progress and not self.verbose:
            bar = tqdm(total=num_iterations, initial=self._iteration, desc="training", unit="it")
        # A diverging run overflows on its way to NaN; it is detected and reported below.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            while self._iteration < num_iterations:
                t = self._iteration
                finite = self._step()
                self._iteration += 1
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{self.loss_history[-1]:.4f}", refresh=False)
                if self.verbose and t % self.print_every == 0:
                    print(
                        "(Iteration %d / %d) loss: %f"
                        % (t + 1, num_iterations, self.loss_history[-1])
                    )
                if not finite:
                    self.diverged_at = t + 1
                    if self.verbose:
                        print(f"Diverged at iteration {t + 1}: the loss is {self.loss_history[-1]}")
                    break
                epoch_end = (t + 1) % self.iterations_per_epoch == 0
                if epoch_end:
                    self.epoch += 1
                    for config in self.optim_configs.values():
                        if "learning_rate" in config:
                            config["learning_rate"] *= self.lr_decay
                # As in the homework, "epoch 0" is measured after the first step.
                if t == 0 or epoch_end:
                    self._check_epoch()
                if epoch_end and self.checkpoint_name is not None:
                    self._save_checkpoint()
        if bar is not None:
            bar.close()
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
        state, the histories, the best parameters and the random generators,
        so that :meth:`train` continues exactly where the saved run was.
        """
        with np.load(filename, allow_pickle=False) as archive:
            meta = json.loads(str(archive["meta"]))
            arrays = {key: archive[key] for key in archive.files if key != "meta"}
        if meta["update_rule"] != self._rule_name or meta["batch_size"] != self.batch_size:
            raise ValueError(
                f"checkpoint {filename} was written with update_rule={meta['update_rule']!r}, "
                f"batch_size={meta['batch_size']}; this Solver has "
                f"update_rule={self._rule_name!r}, batch_size={self.batch_size}"
            )
        missing = [n for n in self.model.params if f"params/{n}" not in arrays]
        if missing:
            raise ValueError(f"checkpoint {filename} has no values for parameters {missing}")
        for name in self.model.params:
            saved = arrays[f"params/{name}"]
            if saved.shape != self.model.params[name].shape:
                raise ValueError(
                    f"checkpoint {filename}: parameter {name} has shape {saved.shape}, "
                    f"the model's has shape {self.model.params[name].shape}"
                )
            self.model.params[name] = saved.copy()
        self.best_params = {
            key.split("/", 1)[1]: value
            for key, value in arrays.items()
            if key.startswith("best_params/")
        }
        self.optim_configs = {}
        for name in self.model.params:
            config = dict(meta["optim_scalars"][name])
            prefix = f"optim/{name}/"
            for key, value in arrays.items():
                if key.startswith(prefix):
                    config[key[len(prefix) :]] = value.copy()
            self.optim_configs[name] = config
        self._configs_prepared = True
        bn_params = getattr(self.model, "bn_params", None) or []
        self.best_bn_params = [dict(p) for p in bn_params] if bn_params else None
        for i, bn_param in enumerate(bn_params):
            for key in ("running_mean", "running_var"):
                if f"bn/{i}/{key}" in arrays:
                    bn_param[key] = arrays[f"bn/{i}/{key}"].copy()
                if f"best_bn/{i}/{key}" in arrays:
                    self.best_bn_params[i][key] = arrays[f"best_bn/{i}/{key}"].copy()
        self.epoch = meta["epoch"]
        self._iteration = meta["iteration"]
        self.loss_history = list(meta["loss_history"])
        self.train_acc_history = list(meta["train_acc_history"])
        self.val_acc_history = list(meta["val_acc_history"])
        self.best_val_acc = meta["best_val_acc"]
        self._batch_rng.bit_generator.state = meta["batch_rng"]
        self._eval_rng.bit_generator.state = meta["eval_rng"]
