r"""Recorded results: the homework's experiments on CIFAR-10, kept with the package.

A book built on a machine without CIFAR-10 (the shipped digits are the
offline default) still shows what the homework's own data set gives: the
results of :func:`~nndl_lab.experiments.reproduce_homework` are recorded
once on CIFAR-10 by ``nndl-lab reproduce --record`` and stored as JSON in
the package (``nndl_lab/_data/cifar10_recorded.json``), together with a
description of the data, a fingerprint of its arrays, the seed, the
commit and the time. The chapters show them beside their live results,
labelled as recorded; a test re-runs the recording when CIFAR-10 is
cached and checks that it reproduces.

File format (JSON)::

    {"format": 1,
     "meta": {"data_name", "data_label", "data_description", "data_fingerprint",
              "split_sizes", "input_dim", "input_rms", "seed", "commit", "nndl_lab_version",
              "recorded_at" (UTC, ISO 8601), "seconds" {name: float}},
     "results": {name: result}}

``result`` is what the experiment function returned, with arrays written
as (nested) lists; :func:`load_recorded` turns lists of numbers back into
float64 arrays (labelled ``(N,)`` histories and ``(S, T)`` tables alike).

Book: chapters 2–8 (the "recorded on CIFAR-10" tables and figures).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
import subprocess
import tempfile
import time
from importlib import resources
from pathlib import Path

import numpy as np

from . import _checks

__all__ = [
    "RECORDED_PATH",
    "RecordedResults",
    "data_fingerprint",
    "load_recorded",
    "record_results",
]

#: Where the recorded CIFAR-10 results ship inside the package.
RECORDED_PATH = Path(str(resources.files("nndl_lab") / "_data" / "cifar10_recorded.json"))

_FORMAT = 1


class RecordedResults(dict):
    """``{experiment name: result}`` as recorded, with the recording's ``meta``.

    Book: chapters 2–8.

    Attributes
    ----------
    meta : dict
        ``data_name``, ``data_label``, ``data_description``, ``data_fingerprint``,
        ``split_sizes``, ``input_dim``, ``input_rms`` (root mean square of the
        training inputs), ``seed``, ``commit``, ``nndl_lab_version``,
        ``recorded_at``, ``seconds``.
    """

    def __init__(self, results, meta):
        super().__init__(results)
        self.meta = meta

    @property
    def label(self) -> str:
        """A short caption label, e.g. ``"CIFAR-10 (JPEG copy), recorded 2026-11-30, seed 0"``."""
        day = str(self.meta.get("recorded_at", ""))[:10]
        short = self.meta.get("data_label") or self.meta.get("data_name", "?")
        return f"{short}, recorded {day}, seed {self.meta.get('seed')}"


def data_fingerprint(data) -> str:
    """SHA-256 of the six arrays of a data dict (shape, dtype and bytes), as hex.

    Two data dicts have the same fingerprint exactly when they hold the same
    splits bit for bit; a recording is only compared with a re-run on data of
    the same fingerprint.

    Book: chapter 8 (reproducing the recorded results).
    """
    _checks.data(data)
    digest = hashlib.sha256()
    for key in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test"):
        if key not in data:
            continue
        array = np.ascontiguousarray(data[key])
        digest.update(f"{key}{array.shape}{array.dtype.str}".encode())
        digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


def _to_json(value):
    if isinstance(value, dict):
        return {str(k): _to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return _to_json(value.tolist())
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if math.isfinite(value) else str(value)
    if (
        isinstance(value, (np.integer, int, bool, np.bool_))
        or value is None
        or isinstance(value, str)
    ):
        return value.item() if isinstance(value, np.generic) else value
    raise TypeError(f"cannot record a value of type {type(value).__name__}")


def _from_json(value):
    if isinstance(value, dict):
        return {k: _from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        flat = value
        while flat and isinstance(flat[0], list):
            flat = flat[0]
        if flat and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in flat):
            try:
                return np.asarray(value, dtype=np.float64)
            except ValueError:
                return [_from_json(v) for v in value]
        return [_from_json(v) for v in value]
    if value in ("nan", "inf", "-inf"):
        return float(value)
    return value


def _commit() -> str | None:
    root = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "nndl_lab"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}{'+changes' if dirty else ''}" if head else None


def record_results(data, names="all", *, seed=0, data_label=None, path=None, progress=False):
    """Run the homework's experiments on ``data`` and write them as a recording.

    The file is written to a temporary file beside ``path`` and renamed into
    place, so a reader never sees a half-written recording.

    Book: chapter 8 (``nndl-lab reproduce --record``).

    Parameters
    ----------
    data : dict
        From :func:`nndl_lab.data.get_data` (normally CIFAR-10).
    names : "all" or list of str
        Experiments of ``nndl_lab.experiments.reproduce.EXPERIMENTS``.
    seed : int
    data_label : str, optional
        How captions name the data, e.g. ``"CIFAR-10 (JPEG copy)"``;
        default the data set's name.
    path : str or os.PathLike, optional
        Default ``RECORDED_PATH``.
    progress : bool

    Returns
    -------
    RecordedResults
    """
    from .reproduce import EXPERIMENTS

    _checks.data(data)
    _checks.seed("seed", seed)
    if names == "all":
        names = list(EXPERIMENTS)
    if isinstance(names, str) or not all(n in EXPERIMENTS for n in names):
        raise ValueError(
            f"names must be 'all' or a list drawn from {list(EXPERIMENTS)}; got {names!r}"
        )
    if data_label is not None and not isinstance(data_label, str):
        raise TypeError(f"data_label must be a str or None; got {type(data_label).__name__}")
    target = Path(RECORDED_PATH if path is None else path)
    if not target.parent.is_dir():
        raise ValueError(f"path must be in an existing folder; {target.parent} is not one")

    from tqdm.auto import tqdm

    results, seconds = {}, {}
    for name in tqdm(names, desc="record", unit="experiment", disable=not progress):
        start = time.perf_counter()
        results[name] = EXPERIMENTS[name].run(data, seed)
        seconds[name] = round(time.perf_counter() - start, 1)
    from .. import __version__

    meta = {
        "data_name": getattr(data, "name", None),
        "data_label": data_label or getattr(data, "name", None),
        "data_description": getattr(data, "description", None),
        "data_fingerprint": data_fingerprint(data),
        "split_sizes": {k: int(len(v)) for k, v in data.items() if k.startswith("y_")},
        "input_dim": int(np.asarray(data["X_train"][0]).size),
        "input_rms": float(np.sqrt(np.mean(np.square(data["X_train"], dtype=np.float64)))),
        "seed": int(seed),
        "commit": _commit(),
        "nndl_lab_version": __version__,
        "recorded_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "seconds": seconds,
    }
    document = {"format": _FORMAT, "meta": meta, "results": _to_json(results)}
    text = json.dumps(document, separators=(",", ":"), allow_nan=False)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".part", dir=target.parent
    )
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return RecordedResults(_from_json(document["results"]), meta)


def load_recorded(name=None, *, path=None):
    """The recorded CIFAR-10 results (all, or one experiment's).

    Book: chapters 2–8.

    Parameters
    ----------
    name : str, optional
        One experiment (``"optimizers"``, ``"adaptive"``, ``"batchnorm"``,
        ``"weight-scale"``, ``"dropout"``, ``"capstone"``); None for all.
    path : str or os.PathLike, optional
        Default ``RECORDED_PATH``.

    Returns
    -------
    RecordedResults or dict
        All results (with ``.meta``), or the one experiment's result.

    Raises
    ------
    FileNotFoundError
        If there is no recording at ``path``.
    ValueError
        If the file is not a recording of this format, or ``name`` is not in it.
    """
    target = Path(RECORDED_PATH if path is None else path)
    try:
        document = json.loads(target.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{target} is not a recording (invalid JSON: {exc})") from None
    if not isinstance(document, dict) or document.get("format") != _FORMAT:
        raise ValueError(f"{target} is not a recording of format {_FORMAT}")
    recorded = RecordedResults(_from_json(document["results"]), document["meta"])
    if name is None:
        return recorded
    if name not in recorded:
        raise ValueError(f"name must be one of {sorted(recorded)}; got {name!r}")
    return recorded[name]
