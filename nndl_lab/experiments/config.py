r"""One validated training configuration: the net, the update rule, the schedule, the seed.

:class:`TrainingConfig` holds everything that defines a training run except
the data — net shape, normalization, dropout, L2, initialization, update rule
and its hyperparameters (with per-parameter overrides), learning-rate decay,
epochs, batch size, the accuracy checks, seed and dtype — and checks all of it
once, when it is made (a ``ValueError``/``TypeError`` naming the field and
what is accepted). :func:`~nndl_lab.experiments.train_net` and
:func:`~nndl_lab.experiments.train_batched` accept one as ``config=``, and
the experiments that train several variants of one setting (the rule
comparison, batchnorm against baseline) validate their shared setting once
as a config and derive the variants with :meth:`TrainingConfig.replace`.

Book: chapters 2–8 (every run).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from . import _checks

__all__ = ["TrainingConfig"]


@dataclass(frozen=True)
class TrainingConfig:
    """Everything that defines a training run but the data, validated when made.

    The fields and their defaults are those of
    :func:`~nndl_lab.experiments.train_net` (``normalization`` replaces its
    ``use_batchnorm``, which :meth:`from_kwargs` accepts as an alias).

    Attributes
    ----------
    hidden_dims : tuple of int
    normalization : None or "batchnorm"
    dropout_keep_ratio : float in (0, 1]
    reg : float >= 0
    weight_scale : float or str
        A standard deviation > 0, or ``"he"`` or ``"xavier"``.
    update_rule : str
        A name from :data:`nndl_lab.optim.RULES`.
    optim_config : dict
        The rule's hyperparameters (checked against the registry).
    optim_overrides : dict or None
        Per-parameter hyperparameters (:func:`nndl_lab.optim.parameter_configs`).
    lr_decay : float in (0, 1]
    num_epochs, batch_size : int
    num_train : int or None
        Train on the first ``num_train`` samples (None: all).
    num_train_samples, num_val_samples : int or None
        Samples of the accuracy checks (None: all).
    seed : int
    dtype : np.float32 or np.float64
    num_classes : int
    """

    hidden_dims: tuple = (100,) * 5
    normalization: str | None = None
    dropout_keep_ratio: float = 1.0
    reg: float = 0.0
    weight_scale: float | str = 5e-2
    update_rule: str = "adam"
    optim_config: dict = field(default_factory=dict)
    optim_overrides: dict | None = None
    lr_decay: float = 1.0
    num_epochs: int = 5
    batch_size: int = 100
    num_train: int | None = None
    num_train_samples: int | None = 1000
    num_val_samples: int | None = None
    seed: int = 0
    dtype: type = field(default_factory=lambda: np.float32)
    num_classes: int = 10

    def __post_init__(self):
        put = object.__setattr__.__get__(self)
        put("hidden_dims", tuple(_checks.hidden_dims(self.hidden_dims)))
        put("normalization", _checks.normalization(self.normalization))
        put("dropout_keep_ratio", _checks.keep_ratio("dropout_keep_ratio", self.dropout_keep_ratio))
        put("reg", _checks.nonnegative_real("reg", self.reg))
        put("weight_scale", _checks.weight_scale(self.weight_scale))
        put("update_rule", _checks.update_rule(self.update_rule))
        put("optim_config", _checks.optim_config(self.update_rule, self.optim_config))
        _checks.optim_overrides(self.update_rule, self.optim_overrides)
        put("lr_decay", _checks.lr_decay(self.lr_decay))
        put("num_epochs", _checks.positive_int("num_epochs", self.num_epochs))
        put("batch_size", _checks.positive_int("batch_size", self.batch_size))
        _checks.batchnorm_batch_size(self.normalization == "batchnorm", self.batch_size)
        if self.num_train is not None:
            put("num_train", _checks.positive_int("num_train", self.num_train))
        put(
            "num_train_samples",
            _checks.optional_positive_int("num_train_samples", self.num_train_samples),
        )
        put(
            "num_val_samples",
            _checks.optional_positive_int("num_val_samples", self.num_val_samples),
        )
        put("seed", _checks.seed("seed", self.seed))
        put("dtype", _checks.dtype(self.dtype))
        put("num_classes", _checks.num_classes(self.num_classes))

    @classmethod
    def from_kwargs(cls, *, use_batchnorm=False, normalization=None, **kwargs):
        """A config from ``train_net``'s keywords (``use_batchnorm`` included).

        Unknown keywords are a ``TypeError`` naming them and the accepted ones.
        """
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(kwargs) - names)
        if unknown:
            raise TypeError(
                f"unknown training keyword(s) {unknown}; accepted: "
                f"{sorted(names | {'use_batchnorm'})}"
            )
        return cls(normalization=_checks.normalization(normalization, use_batchnorm), **kwargs)

    def replace(self, **changes):
        """A copy with some fields changed, validated again."""
        if "use_batchnorm" in changes:
            use_batchnorm = changes.pop("use_batchnorm")
            changes["normalization"] = _checks.normalization(
                changes.get("normalization"), use_batchnorm
            )
        return dataclasses.replace(self, **changes)

    @property
    def use_batchnorm(self):
        """The homework's spelling of ``normalization == "batchnorm"``."""
        return self.normalization == "batchnorm"

    def net_kwargs(self):
        """The keywords of :class:`~nndl_lab.fc_net.FullyConnectedNet` (but ``input_dim``)."""
        return {
            "hidden_dims": list(self.hidden_dims),
            "num_classes": self.num_classes,
            "dropout_keep_ratio": self.dropout_keep_ratio,
            "normalization": self.normalization,
            "reg": self.reg,
            "weight_scale": self.weight_scale,
            "dtype": self.dtype,
            "seed": self.seed,
        }

    def solver_kwargs(self):
        """The keywords of :class:`~nndl_lab.solver.Solver` this config sets."""
        return {
            "update_rule": self.update_rule,
            "optim_config": dict(self.optim_config),
            "optim_overrides": self.optim_overrides,
            "lr_decay": self.lr_decay,
            "batch_size": self.batch_size,
            "num_epochs": self.num_epochs,
            "num_train_samples": self.num_train_samples,
            "num_val_samples": self.num_val_samples,
            "seed": self.seed,
        }
