"""Data sets for the book and the homework: CIFAR-10 and the offline digits.

``get_data("auto")`` returns CIFAR-10 when it is already in the cache
directory and otherwise the UCI handwritten digits that ship with the
package, and says which it used. Every loader returns the homework's dict
``X_train, y_train, X_val, y_val, X_test, y_test`` (float32 images
``(N, C, H, W)``, mean-subtracted; int64 labels) as a :class:`Dataset`.

CIFAR-10 is downloaded once (``nndl-lab data download cifar10`` or
:func:`download_cifar10`), checked against the publisher's MD5, extracted
with no member allowed outside the target directory, and read with numpy from
the binary format; an existing ``cifar-10-batches-py`` folder is read with a
restricted unpickler that can rebuild numpy arrays and nothing else.
"""

from __future__ import annotations

import os
import pickle
import warnings
from pathlib import Path

from ._cifar10 import (
    CIFAR10_CLASSES,
    CIFAR10_DEFAULTS,
    CIFAR10_MD5,
    CIFAR10_PYTHON_MD5,
    CIFAR10_PYTHON_URL,
    CIFAR10_URL,
    FORMATS,
    SplitTooLargeError,
    _folder_complete,
    download_cifar10,
    find_cifar10,
    get_CIFAR10_data,
    get_cifar10_data,
    load_cifar10,
)
from ._common import (
    DATA_DIR_ENV,
    DataError,
    Dataset,
    DownloadError,
    UnsafeArchiveError,
    check_bool,
    resolve_data_dir,
    resolve_data_dir_with_source,
)
from ._digits import DIGITS_DEFAULTS, DIGITS_PATH, get_digits_data, load_digits_raw
from ._fetch import md5_of_file

__all__ = [
    "CIFAR10_CLASSES",
    "CIFAR10_MD5",
    "CIFAR10_PYTHON_MD5",
    "CIFAR10_PYTHON_URL",
    "CIFAR10_URL",
    "DATA_DIR_ENV",
    "DATASET_NAMES",
    "DataError",
    "Dataset",
    "DownloadError",
    "UnsafeArchiveError",
    "cache_info",
    "download_cifar10",
    "find_cifar10",
    "get_CIFAR10_data",
    "get_cifar10_data",
    "get_data",
    "get_digits_data",
    "load_cifar10",
    "resolve_data_dir",
]

#: Accepted values of ``get_data``'s ``name``.
DATASET_NAMES = ("auto", "cifar10", "digits")

_DOWNLOAD_HINT = "Run `nndl-lab data download cifar10` for CIFAR-10."


def get_data(
    name: str = "auto",
    *,
    num_training: int | None = None,
    num_validation: int | None = None,
    num_test: int | None = None,
    subtract_mean: bool = True,
    data_dir=None,
    verbose: bool = True,
) -> Dataset:
    """The homework's data dict, from CIFAR-10 or the shipped digits.

    Parameters
    ----------
    name : {"auto", "cifar10", "digits"}
        ``"auto"`` uses CIFAR-10 if a complete copy is already in the cache
        directory (it never downloads) and the digits otherwise; a cached
        copy that cannot be read, or that is too small for the default split
        when no split sizes are given, is skipped with a warning.
        ``"cifar10"`` downloads CIFAR-10 if needed.
    num_training, num_validation, num_test : int, optional
        Split sizes; ``None`` means the chosen data set's default
        (CIFAR-10: 49000 / 1000 / 1000, digits: 1197 / 300 / 300).
    subtract_mean : bool
        Subtract the mean training image from all three splits.
    data_dir : str or os.PathLike, optional
        CIFAR-10 cache directory; see :func:`resolve_data_dir`.
    verbose : bool
        Print one line saying which data set is used and its split sizes.

    Returns
    -------
    Dataset
        A dict with ``X_train, y_train, X_val, y_val, X_test, y_test`` and
        attributes ``name``, ``description`` and ``classes``.

    Examples
    --------
    >>> data = get_data("digits", verbose=False)
    >>> data.name, data["X_train"].shape
    ('digits', (1197, 1, 8, 8))
    """
    if not isinstance(name, str) or name not in DATASET_NAMES:
        raise ValueError(f"name must be one of {', '.join(map(repr, DATASET_NAMES))}; got {name!r}")
    verbose = check_bool("verbose", verbose)
    given = {"num_training": num_training, "num_validation": num_validation, "num_test": num_test}

    def counts(defaults):
        return {key: defaults[key] if value is None else value for key, value in given.items()}

    data = None
    fallback = name == "auto"
    if name == "auto" and find_cifar10(data_dir) is not None:
        data = _cached_cifar10_or_none(counts(CIFAR10_DEFAULTS), given, subtract_mean, data_dir)
    elif name == "cifar10":
        try:
            data = get_cifar10_data(
                **counts(CIFAR10_DEFAULTS), subtract_mean=subtract_mean, data_dir=data_dir
            )
        except SplitTooLargeError as exc:
            if None not in given.values():
                raise
            raise SplitTooLargeError(f"{exc}; {_default_split_note(given)}") from None
    if data is not None:
        line = (
            f"Using the CIFAR-10 data set (from {find_cifar10(data_dir)}): {_sizes(data)}, "
            "3×32×32 images."
        )
    else:
        name = "digits"
        # data_dir only concerns CIFAR-10, but a bad value is still a bug.
        resolve_data_dir(data_dir)
        data = get_digits_data(**counts(DIGITS_DEFAULTS), subtract_mean=subtract_mean)
        origin = " (offline default)" if fallback else ""
        hint = f" {_DOWNLOAD_HINT}" if fallback else ""
        line = f"Using the digits data set{origin}: {_sizes(data)}, 1×8×8 images.{hint}"
    if verbose:
        print(line)
    return data


def _default_split_note(given) -> str:
    """Which split sizes were get_data's CIFAR-10 defaults, for a split too large."""
    defaulted = [key for key, value in given.items() if value is None]
    if len(defaulted) == len(given):
        split = " / ".join(str(CIFAR10_DEFAULTS[key]) for key in CIFAR10_DEFAULTS)
        what = f"no split sizes were given, so get_data used CIFAR-10's default split {split}"
    else:
        listed = " and ".join(f"{key} = {CIFAR10_DEFAULTS[key]}" for key in defaulted)
        what = f"{listed} were the defaults"
    return f"{what}; pass num_training, num_validation and num_test that fit this copy"


def _cached_cifar10_or_none(counts, given, subtract_mean, data_dir):
    """The cached CIFAR-10 for ``get_data("auto")``, or None (with a warning) if unusable."""
    try:
        return get_cifar10_data(
            **counts, subtract_mean=subtract_mean, data_dir=data_dir, download=False
        )
    except SplitTooLargeError as exc:
        if None not in given.values():
            raise  # split sizes the caller asked for: their error, not the cache's
        if any(value is not None for value in given.values()):
            raise SplitTooLargeError(f"{exc}; {_default_split_note(given)}") from None
        problem = f"{exc}; {_default_split_note(given)}"
    except (DataError, pickle.UnpicklingError, FileNotFoundError) as exc:
        problem = f"it cannot be read ({exc}); delete it and run `nndl-lab data download cifar10`"
    warnings.warn(
        f"get_data('auto'): the cached CIFAR-10 in {find_cifar10(data_dir)} is not used: "
        f"{problem}. Using the digits instead.",
        stacklevel=3,
    )
    return None


def _sizes(data: Dataset) -> str:
    return f"{len(data['y_train'])} train / {len(data['y_val'])} val / {len(data['y_test'])} test"


def cache_info(data_dir=None, *, check_archives: bool = True) -> dict:
    """What is cached where, for ``nndl-lab data info``.

    Parameters
    ----------
    data_dir : str or os.PathLike, optional
        Cache directory; see :func:`resolve_data_dir`.
    check_archives : bool
        Compute the MD5 of kept archives (about a second for CIFAR-10).

    Returns
    -------
    dict
        ``data_dir`` (Path), ``data_dir_source`` (``"argument"``,
        ``"NNDL_LAB_DATA_DIR"``, ``"XDG_CACHE_HOME"`` or ``"default"``),
        ``digits`` (``path``, ``size``, ``ok``, ``problem``), ``cifar10``
        (``found``: the folder ``get_data("auto")`` would use or None;
        ``folders``: list of ``path``, ``format``, ``size``, ``complete``
        (every batch file present and read back without error) and
        ``problem`` (None, or what is wrong);
        ``archives``: list of ``path``, ``format``, ``size``, ``md5``,
        ``expected_md5``, ``ok``), and ``leftovers`` (temporary ``.part``
        files or folders from an interrupted run, safe to delete).
    """
    root, source = resolve_data_dir_with_source(data_dir)
    check_archives = check_bool("check_archives", check_archives)
    info: dict = {"data_dir": root, "data_dir_source": source}

    digits = {"path": DIGITS_PATH, "size": None, "ok": False, "problem": None}
    try:
        digits["size"] = DIGITS_PATH.stat().st_size
        load_digits_raw()
        digits["ok"] = True
    except (OSError, DataError) as exc:
        digits["problem"] = str(exc)
    info["digits"] = digits

    folders, archives = [], []
    problems = {}
    for fmt in FORMATS.values():
        folder = root / fmt.folder
        if folder.is_dir():
            problems[folder] = _folder_problem(folder, fmt)
            folders.append(
                {
                    "path": folder,
                    "format": fmt.name,
                    "size": _tree_size(folder),
                    "complete": problems[folder] is None,
                    "problem": problems[folder],
                }
            )
        archive = root / fmt.archive
        if archive.is_file():
            found = md5_of_file(archive) if check_archives else None
            archives.append(
                {
                    "path": archive,
                    "format": fmt.name,
                    "size": archive.stat().st_size,
                    "md5": found,
                    "expected_md5": fmt.md5,
                    "ok": None if found is None else found == fmt.md5,
                }
            )
    found = find_cifar10(root)
    if found is not None:
        if found not in problems:
            problems[found] = _folder_problem(found, None)
        if problems[found] is not None:
            found = None
    info["cifar10"] = {"found": found, "folders": folders, "archives": archives}
    info["leftovers"] = (
        sorted(p for p in root.iterdir() if p.name.startswith(".") and p.name.endswith(".part"))
        if root.is_dir()
        else []
    )
    return info


def _folder_problem(folder: Path, fmt) -> str | None:
    """None if every batch of ``folder`` reads back, else what is wrong (file sizes alone
    do not tell: a forged pickle has a plausible size)."""
    if fmt is not None and not _folder_complete(folder, fmt):
        return "batch files missing, empty or of a size no CIFAR-10 batch has"
    try:
        load_cifar10(folder)
    except (DataError, pickle.UnpicklingError, OSError) as exc:
        return str(exc)
    return None


def _tree_size(folder: Path) -> int:
    total = 0
    for dirpath, _, filenames in os.walk(folder):
        for filename in filenames:
            total += (Path(dirpath) / filename).stat().st_size
    return total
