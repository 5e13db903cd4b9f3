"""Argument checks shared by the experiments: a clear error before any training.

Every check raises ``ValueError`` or ``TypeError`` with a message naming the
argument and the accepted values (DESIGN.md, "Engineering rules").
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping

import numpy as np

from .. import optim
from ..fc_net import WEIGHT_SCALE_SCHEMES, check_normalization
from ..solver import all_finite

REQUIRED_DATA_KEYS = ("X_train", "y_train", "X_val", "y_val")


def is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def positive_int(name, value):
    """``value`` as an int, or a ValueError naming ``name``."""
    if not is_int(value) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def optional_positive_int(name, value):
    return None if value is None else positive_int(name, value)


def nonnegative_int(name, value):
    if not is_int(value) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    return int(value)


def positive_real(name, value):
    if not is_real(value) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def nonnegative_real(name, value):
    if not is_real(value) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def lr_decay(value):
    if not is_real(value) or math.isnan(value) or not 0 < value <= 1:
        raise ValueError(f"lr_decay must be in (0, 1], got {value!r}")
    return float(value)


def keep_ratio(name, value):
    if not is_real(value) or math.isnan(value) or not 0.0 < value <= 1.0:
        raise ValueError(
            f"{name} is the probability of keeping a unit and must be in (0, 1] "
            f"(1.0 = no dropout), got {value!r}"
        )
    return float(value)


#: The largest seed: the batched trainer and the run tables store seeds as int64.
MAX_SEED = 2**63 - 1


def seed(name, value):
    if not is_int(value) or not 0 <= value <= MAX_SEED:
        raise ValueError(f"{name} must be an integer in [0, 2**63 - 1], got {value!r}")
    return int(value)


def batchnorm_batch_size(use_batchnorm, batch_size, name="batch_size"):
    """Batch normalization needs two samples per batch: one sample normalizes to zero."""
    if use_batchnorm and batch_size < 2:
        raise ValueError(
            f"{name} must be >= 2 with batch normalization: a batch of one sample normalizes "
            f"to zero (out = beta, zero gradients), so nothing would train; got {batch_size!r}"
        )
    return batch_size


def boolean(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def update_rule(value, name="update_rule"):
    if not isinstance(value, str) or value not in optim.UPDATE_RULES:
        raise ValueError(
            f"unknown {name} {value!r}; known update rules: {list(optim.UPDATE_RULES)}"
        )
    return value


def optim_config(rule, config, name="optim_config"):
    """Validate ``config`` for ``rule`` the way the Solver will (unknown keys, ranges)."""
    if config is None:
        return {}
    if not isinstance(config, Mapping):
        raise TypeError(f"{name} must be a dict or None, got {type(config).__name__}")
    config = dict(config)
    probe = np.zeros(1)
    try:
        optim.prepare_config(rule, dict(config), probe)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{name}: {exc}") from None
    return config


def hidden_dims(value):
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
        raise TypeError(
            f"hidden_dims must be a list of positive integers, got {type(value).__name__}"
        )
    if len(value) == 0 or not all(is_int(h) and h > 0 for h in value):
        raise ValueError(
            f"hidden_dims must be a non-empty list of positive integers, got {list(value)!r}"
        )
    return [int(h) for h in value]


def weight_scale(value, name="weight_scale"):
    """A positive number or the name of a scheme of :data:`fc_net.WEIGHT_SCALE_SCHEMES`."""
    if isinstance(value, str):
        if value not in WEIGHT_SCALE_SCHEMES:
            raise ValueError(
                f"{name} must be a positive number or one of {sorted(WEIGHT_SCALE_SCHEMES)}, "
                f"got {value!r}"
            )
        return value
    if not is_real(value) or not math.isfinite(value) or value <= 0:
        raise ValueError(
            f"{name} must be a positive number or one of {sorted(WEIGHT_SCALE_SCHEMES)}, "
            f"got {value!r}"
        )
    return float(value)


def sequence(name, values, check, what):
    """A non-empty 1-D list of values, each passed through ``check(name_i, value)``."""
    if isinstance(values, (str, bytes, Mapping)):
        raise TypeError(f"{name} must be a non-empty sequence of {what}, got {values!r}")
    if isinstance(values, np.ndarray):
        if values.ndim != 1:
            raise ValueError(f"{name} must be 1-D, got an array of shape {values.shape}")
        values = values.tolist()
    try:
        values = list(values)
    except TypeError:
        raise TypeError(
            f"{name} must be a non-empty sequence of {what}, got {type(values).__name__}"
        ) from None
    if not values:
        raise ValueError(f"{name} must be a non-empty sequence of {what}, got an empty one")
    return [check(f"{name}[{i}]", v) for i, v in enumerate(values)]


def numeric_weight_scales(values, name="weight_scales"):
    """Positive numbers only: a sweep's table holds its scales as a float array."""

    def check(name_i, value):
        if not is_real(value) or not math.isfinite(value) or value <= 0:
            raise ValueError(
                f"{name_i} must be a positive number (a sweep's table holds its scales as "
                f"numbers; use train_net for the named schemes), got {value!r}"
            )
        return float(value)

    return sequence(name, values, check, "positive numbers")


def weight_scales(values, name="weight_scales"):
    return sequence(
        name, values, lambda n, v: weight_scale(v, n), "positive numbers (or 'he'/'xavier')"
    )


def num_classes(value):
    if not is_int(value) or value < 2:
        raise ValueError(f"num_classes must be an integer >= 2, got {value!r}")
    return int(value)


def dtype(value):
    try:
        result = np.dtype(value).type
    except TypeError:
        result = None
    if result not in (np.float32, np.float64):
        raise TypeError(f"dtype must be np.float32 or np.float64, got {value!r}")
    return result


def data(data, classes=10, *, need_test=False):
    """Check the data dict; return the number of input features (``input_dim``).

    Labels must be integers in ``[0, num_classes)``: a label out of range is
    an error here, before any net is built.
    """
    if not isinstance(data, Mapping):
        raise TypeError(
            f"data must be a dict with keys {list(REQUIRED_DATA_KEYS)} (as get_data returns), "
            f"got {type(data).__name__}"
        )
    required = list(REQUIRED_DATA_KEYS) + (["X_test", "y_test"] if need_test else [])
    missing = [key for key in required if key not in data]
    if missing:
        raise ValueError(f"data is missing key(s) {missing}; experiments need {required}")
    splits = ("train", "val", "test") if need_test else ("train", "val")
    input_dim = None
    for split in splits:
        for key in (f"X_{split}", f"y_{split}"):
            if not isinstance(data[key], np.ndarray):
                raise TypeError(
                    f"data[{key!r}] must be a numpy array, got {type(data[key]).__name__} "
                    "(convert it with np.asarray)"
                )
        X, y = data[f"X_{split}"], data[f"y_{split}"]
        if X.ndim < 2 or y.ndim != 1 or X.shape[0] != y.shape[0]:
            raise ValueError(
                f"data['X_{split}'] has shape {X.shape} and data['y_{split}'] shape {y.shape}: "
                "X must be (N, ...) and y (N,) with the same N"
            )
        if X.shape[0] == 0:
            raise ValueError(f"data['X_{split}'] holds no samples")
        if not np.issubdtype(X.dtype, np.floating):
            raise TypeError(f"data['X_{split}'] must hold floating-point numbers, got {X.dtype}")
        if not all_finite(X):
            raise ValueError(
                f"data['X_{split}'] holds NaN or infinite values; clean or impute the data first"
            )
        if not np.issubdtype(y.dtype, np.integer):
            raise TypeError(f"data['y_{split}'] must hold integer labels, got dtype {y.dtype}")
        low, high = int(y.min()), int(y.max())
        if low < 0 or high >= classes:
            raise ValueError(
                f"data['y_{split}'] holds labels in [{low}, {high}] but num_classes={classes}: "
                f"labels must lie in [0, {classes})"
            )
        features = int(np.prod(X.shape[1:]))
        if input_dim is None:
            input_dim = features
        elif features != input_dim:
            raise ValueError(
                f"data['X_{split}'] has {features} numbers per sample but data['X_train'] has "
                f"{input_dim}"
            )
    return input_dim


def training_subset(data, num_train):
    """The first ``num_train`` training samples (None or more than there are: all of them).

    ``num_train`` is validated by the caller (a config, or the experiment's own checks).
    """
    subset = {
        "X_train": data["X_train"][:num_train],
        "y_train": np.asarray(data["y_train"])[:num_train],
        "X_val": data["X_val"],
        "y_val": np.asarray(data["y_val"]),
    }
    return subset


def sweep_arguments(**arguments):
    """Check the arguments every sweep shares, in one order.

    ``data``, ``hidden_dims``, ``num_epochs``, ``batch_size``, ``num_train``
    (None = all samples), ``seed``, ``dtype``, ``batched`` and optionally
    ``use_batchnorm`` (whether any net of the sweep has batchnorm), as keywords
    (the parameter names shadow this module's check functions). Returns the
    number of input features of the data (``input_dim``).
    """
    hidden_dims(arguments["hidden_dims"])
    positive_int("num_epochs", arguments["num_epochs"])
    positive_int("batch_size", arguments["batch_size"])
    seed("seed", arguments["seed"])
    batchnorm_batch_size(arguments.get("use_batchnorm", False), arguments["batch_size"])
    dtype(arguments["dtype"])
    boolean("batched", arguments["batched"])
    input_dim = data(arguments["data"])
    if arguments["num_train"] is not None:
        positive_int("num_train", arguments["num_train"])
    return input_dim


def normalization(value, use_batchnorm=False):
    """The net's normalization kind from ``normalization`` and its alias ``use_batchnorm``."""
    return check_normalization(value, use_batchnorm)


def optim_overrides(rule, overrides, name="optim_overrides"):
    """Per-parameter hyperparameters ``{pattern: {key: value}}``, checked for ``rule``."""
    return optim.check_overrides(rule, overrides, name=name)
