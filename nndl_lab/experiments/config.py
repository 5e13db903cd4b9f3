r"""One validated training configuration: the net, the update rule, the schedule, the seed.

:class:`TrainingConfig` holds everything that defines a training run except
the data — net shape, normalization, dropout, L2, initialization, update rule
and its hyperparameters (with per-parameter overrides), learning-rate decay,
epochs, batch size, the accuracy checks, seed and dtype — and checks all of it
once, when it is made (a ``ValueError``/``TypeError`` naming the field and
what is accepted). :func:`~nndl_lab.experiments.train_net`,
:func:`~nndl_lab.experiments.train_batched`, the experiments
(``compare_update_rules``, ``batchnorm_vs_baseline``, ``capstone``) and the
sweeps (``weight_scale_sweep``, ``dropout_sweep``, ``hyperparameter_search``)
accept one as ``config=`` and trust it: a slider change of an app builds one
config and nothing on its way checks those settings again. The variants an
experiment trains (a rule, a normalization, a swept value) are derived with
:meth:`TrainingConfig.replace`, which checks only what changes, or, for values
the experiment has checked itself, :meth:`TrainingConfig.derive`.

Book: chapters 2–8 (every run).
"""

from __future__ import annotations

import copy
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
        self._validate([f.name for f in dataclasses.fields(self)])

    def _validate(self, names):
        """Check (and normalize) the fields ``names``, in the order of the fields.

        A field whose accepted values depend on another one is checked with it:
        ``optim_config`` and ``optim_overrides`` with ``update_rule``, the batch
        size's lower bound with ``normalization``.
        """
        names = set(names)
        if "update_rule" in names:
            names |= {"optim_config", "optim_overrides"}
        put = object.__setattr__.__get__(self)
        if "hidden_dims" in names:
            put("hidden_dims", tuple(_checks.hidden_dims(self.hidden_dims)))
        if "normalization" in names:
            put("normalization", _checks.normalization(self.normalization))
        if "dropout_keep_ratio" in names:
            put(
                "dropout_keep_ratio",
                _checks.keep_ratio("dropout_keep_ratio", self.dropout_keep_ratio),
            )
        if "reg" in names:
            put("reg", _checks.nonnegative_real("reg", self.reg))
        if "weight_scale" in names:
            put("weight_scale", _checks.weight_scale(self.weight_scale))
        if "update_rule" in names:
            put("update_rule", _checks.update_rule(self.update_rule))
        if "optim_config" in names:
            put("optim_config", _checks.optim_config(self.update_rule, self.optim_config))
        if "optim_overrides" in names:
            _checks.optim_overrides(self.update_rule, self.optim_overrides)
        if "lr_decay" in names:
            put("lr_decay", _checks.lr_decay(self.lr_decay))
        if "num_epochs" in names:
            put("num_epochs", _checks.positive_int("num_epochs", self.num_epochs))
        if "batch_size" in names:
            put("batch_size", _checks.positive_int("batch_size", self.batch_size))
        if names & {"normalization", "batch_size"}:
            _checks.batchnorm_batch_size(self.normalization == "batchnorm", self.batch_size)
        if "num_train" in names and self.num_train is not None:
            put("num_train", _checks.positive_int("num_train", self.num_train))
        for name in ("num_train_samples", "num_val_samples"):
            if name in names:
                put(name, _checks.optional_positive_int(name, getattr(self, name)))
        if "seed" in names:
            put("seed", _checks.seed("seed", self.seed))
        if "dtype" in names:
            put("dtype", _checks.dtype(self.dtype))
        if "num_classes" in names:
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
        """A copy with some fields changed; the changed fields (and those whose accepted
        values depend on them) are validated, the others were when this config was made."""
        if "use_batchnorm" in changes:
            use_batchnorm = changes.pop("use_batchnorm")
            changes["normalization"] = _checks.normalization(
                changes.get("normalization"), use_batchnorm
            )
        config = self.derive(**changes)
        config._validate(changes)
        return config

    @classmethod
    def from_checked(cls, **fields):
        """A config of the defaults and ``fields``, values the caller has already validated
        (an experiment's own keywords, checked with messages naming them)."""
        return _DEFAULTS.derive(**fields)

    def derive(self, **changes):
        """A copy with fields changed to values the caller has already validated.

        For the experiments that check a swept value themselves (with a message
        naming their own argument, such as ``rules['sgd']`` or ``weight_scales[3]``)
        and then train one variant of this config per value: nothing is checked
        again. Unknown field names are a ``TypeError``.
        """
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise TypeError(f"unknown TrainingConfig field(s) {unknown}; fields: {sorted(names)}")
        config = copy.copy(self)
        for name, value in changes.items():
            object.__setattr__(config, name, value)
        return config

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


#: The defaults, validated once: :meth:`TrainingConfig.from_checked` derives from them.
_DEFAULTS = TrainingConfig()
