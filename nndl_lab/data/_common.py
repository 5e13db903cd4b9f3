"""Pieces shared by the data sets: the result type, errors, the cache directory
and argument checks."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

#: Environment variable that overrides the default cache directory.
DATA_DIR_ENV = "NNDL_LAB_DATA_DIR"

#: The six keys of every data set, in the homework's order.
SPLIT_KEYS = ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test")


class DataError(RuntimeError):
    """A data file or archive is missing, corrupt or could not be installed."""


class DownloadError(DataError):
    """A download failed (network, HTTP status, truncation or checksum).

    The message says what happened and how to retry; nothing that a later
    call would trust is left on disk.
    """


class UnsafeArchiveError(DataError):
    """An archive holds a member that would land outside the target directory,
    a link or a device, or this Python cannot extract it safely."""


class Dataset(dict):
    """The homework's data dict, plus where it came from.

    A plain ``dict`` with exactly the keys ``X_train, y_train, X_val, y_val,
    X_test, y_test`` (so ``for k, v in data.items(): print(k, v.shape)`` works
    as in the homework), with three read-only descriptive attributes.

    Attributes
    ----------
    name : str
        ``"cifar10"`` or ``"digits"``.
    description : str
        One sentence: which data set, where it came from, split sizes.
    classes : tuple of str
        The class names, indexed by label.
    """

    def __init__(self, arrays: Mapping[str, np.ndarray], *, name: str, description: str, classes):
        if set(arrays) != set(SPLIT_KEYS):
            raise ValueError(f"arrays must have exactly the keys {SPLIT_KEYS}, got {tuple(arrays)}")
        super().__init__((key, arrays[key]) for key in SPLIT_KEYS)
        self.name = name
        self.description = description
        self.classes = tuple(classes)

    def __repr__(self) -> str:
        # The dict repr would print every pixel; show shapes instead.
        parts = ", ".join(f"{key}={value.dtype}{value.shape}" for key, value in self.items())
        return f"Dataset(name={self.name!r}, {parts})"


def resolve_data_dir_with_source(data_dir=None) -> tuple[Path, str]:
    """Return the cache directory and what chose it (see :func:`resolve_data_dir`)."""
    if data_dir is not None:
        if not isinstance(data_dir, (str, os.PathLike)):
            raise TypeError(
                f"data_dir must be a path (str or os.PathLike) or None, got {data_dir!r}"
            )
        if not isinstance(os.fspath(data_dir), str) or not os.fspath(data_dir).strip():
            # Path("") is the current directory: never install there by accident.
            raise ValueError(f"data_dir must be a non-empty path or None, got {data_dir!r}")
        return Path(data_dir).expanduser(), "argument"
    env = os.environ.get(DATA_DIR_ENV, "")
    if env:
        return Path(env).expanduser(), DATA_DIR_ENV
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    # The XDG spec says relative values are invalid and must be ignored.
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "nndl-lab", "XDG_CACHE_HOME"
    return Path.home() / ".cache" / "nndl-lab", "default"


def resolve_data_dir(data_dir=None) -> Path:
    """Return the directory where downloaded data sets are cached.

    Parameters
    ----------
    data_dir : str or os.PathLike, optional
        Used as is when given. Otherwise the environment variable
        ``NNDL_LAB_DATA_DIR``, then ``$XDG_CACHE_HOME/nndl-lab``, then
        ``~/.cache/nndl-lab``.

    Returns
    -------
    pathlib.Path
        The directory (not created here).
    """
    return resolve_data_dir_with_source(data_dir)[0]


def check_count(name: str, value, *, minimum: int = 0) -> int:
    """Return ``value`` as an int, or raise a TypeError/ValueError naming ``name``."""
    # bool is an int subclass, but num_training=True is a bug, not a count.
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_bool(name: str, value) -> bool:
    """Return ``value`` as a bool, or raise a TypeError naming ``name``."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def finish_splits(splits: Mapping[str, np.ndarray], *, subtract_mean: bool, scale: float = 1.0):
    r"""Convert split images to float32 and optionally subtract the training mean.

    Parameters
    ----------
    splits : mapping
        The six homework keys; images as integer arrays ``(N, C, H, W)``,
        labels as integer arrays ``(N,)``.
    subtract_mean : bool
        Subtract the mean training image :math:`\bar x = \frac1N \sum_i x_i`
        (over the kept training images) from the images of all three splits.
    scale : float
        Pixels are multiplied by this before anything else.

    Returns
    -------
    dict
        Images float32, labels int64.
    """
    out = {}
    for key in SPLIT_KEYS:
        value = splits[key]
        if key.startswith("y"):
            out[key] = value.astype(np.int64)
        else:
            images = value.astype(np.float32)
            if scale != 1.0:
                images *= np.float32(scale)
            out[key] = images
    if subtract_mean:
        # Accumulate in float64 (no full float64 copy: the reduction is
        # buffered), then subtract in float32 in place.
        mean_image = out["X_train"].mean(axis=0, dtype=np.float64).astype(np.float32)
        for key in ("X_train", "X_val", "X_test"):
            out[key] -= mean_image
    return out
