"""CIFAR-10: download once, verify, extract safely, load without unpickling
downloaded bytes, split and preprocess as the homework does."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import pickle
import secrets
import shutil
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

try:
    import fcntl
except ImportError:  # not on Windows: the install lock falls back to a lock directory
    fcntl = None

from ._common import (
    DataError,
    Dataset,
    check_bool,
    check_count,
    finish_splits,
    resolve_data_dir,
)
from ._fetch import (
    MAX_MEMBER_BYTES,
    check_md5,
    check_timeout,
    check_url,
    download_verified,
    file_mode,
    md5_of_file,
    safe_extract,
)

#: The official binary-format archive and its publisher's MD5.
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
CIFAR10_MD5 = "c32a1d4ab5d03f1284b67883e8d87530"
#: The official Python-format archive (pickled batches) and its MD5.
CIFAR10_PYTHON_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_PYTHON_MD5 = "c58f30108f718f92721af3b95e74349a"

CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)

CIFAR10_NUM_TRAIN = 50000
CIFAR10_NUM_TEST = 10000
CIFAR10_DEFAULTS = {"num_training": 49000, "num_validation": 1000, "num_test": 1000}

_IMAGE_SHAPE = (3, 32, 32)
_PIXELS = 3 * 32 * 32
_RECORD_BYTES = 1 + _PIXELS  # one label byte, then the channel-major pixels


@dataclass(frozen=True)
class _Format:
    name: str
    url: str
    md5: str
    archive: str  # file name of the archive in the cache directory
    folder: str  # the folder the archive extracts to
    train_files: tuple[str, ...]
    test_file: str

    @property
    def files(self) -> tuple[str, ...]:
        return (*self.train_files, self.test_file)

    @property
    def members(self) -> frozenset[str]:
        """The archive members an install keeps: the folder, its batches, meta and readme."""
        meta = "batches.meta.txt" if self.name == "binary" else "batches.meta"
        names = (*self.files, meta, "readme.html")
        return frozenset([self.folder, *(f"{self.folder}/{name}" for name in names)])


FORMATS = {
    "binary": _Format(
        "binary",
        CIFAR10_URL,
        CIFAR10_MD5,
        "cifar-10-binary.tar.gz",
        "cifar-10-batches-bin",
        tuple(f"data_batch_{i}.bin" for i in range(1, 6)),
        "test_batch.bin",
    ),
    "python": _Format(
        "python",
        CIFAR10_PYTHON_URL,
        CIFAR10_PYTHON_MD5,
        "cifar-10-python.tar.gz",
        "cifar-10-batches-py",
        tuple(f"data_batch_{i}" for i in range(1, 6)),
        "test_batch",
    ),
}


def _retry_hint(root: Path, fmt: _Format) -> str:
    flag = "" if fmt.name == "binary" else " --format python"
    return (
        f"Retry with `nndl-lab data download cifar10{flag}`, or download {fmt.url} yourself "
        f"and place it in {root}."
    )


# --------------------------------------------------------------------------
# Reading the batch files
# --------------------------------------------------------------------------


def _read_binary_batch(path: Path, handle) -> tuple[np.ndarray, np.ndarray]:
    """Records of 1 label byte + 3072 pixel bytes, read with numpy only."""
    raw = np.fromfile(handle, dtype=np.uint8)
    if raw.size == 0 or raw.size % _RECORD_BYTES:
        raise DataError(
            f"{path} is not a CIFAR-10 binary batch: its size ({raw.size} bytes) is not a "
            f"positive multiple of {_RECORD_BYTES}"
        )
    records = raw.reshape(-1, _RECORD_BYTES)
    labels = records[:, 0].astype(np.int64)
    if labels.max() >= len(CIFAR10_CLASSES):
        raise DataError(f"{path} holds a label {labels.max()} outside 0..9")
    return records[:, 1:].reshape(-1, *_IMAGE_SHAPE), labels


def _safe_dtype(*args):
    dtype = np.dtype(*args)
    if dtype.hasobject:
        raise pickle.UnpicklingError(f"refusing to build an object dtype {dtype!r}")
    return dtype


def _latin1_encode(text, encoding="utf-8"):
    # Python 3 pickles bytes with protocol 2 as _codecs.encode(text, "latin1").
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("refusing _codecs.encode but of a str to latin1 bytes")
    return text.encode("latin1")


# The only globals a cifar-10-batches-py file refers to: what numpy needs to
# rebuild a uint8 ndarray, and (in a batch re-pickled by Python 3 with
# protocol 2) the latin1 encoding of the pixel bytes. Both spellings of numpy's
# core module are listed because the files were written by numpy 1.x
# (numpy.core) and numpy 2 pickles say numpy._core; each name maps to the
# running numpy's object.
_RECONSTRUCT = np.empty(0).__reduce__()[0]
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _safe_dtype,
    ("_codecs", "encode"): _latin1_encode,
}


class _RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild numpy arrays and nothing else.

    Every callable a pickle can invoke is looked up through
    :meth:`find_class` (GLOBAL, STACK_GLOBAL, INST and the extension
    registry all go through it), so refusing every global but numpy's
    array reconstruction means a forged file cannot run code.
    """

    def find_class(self, module, name):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load global {module}.{name}: a CIFAR-10 python batch holds "
                "only numpy arrays, lists and strings"
            ) from None

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("refusing a persistent id in a CIFAR-10 python batch")


def restricted_load(file):
    """Unpickle a CIFAR-10 python batch with :class:`_RestrictedUnpickler`.

    ``encoding="bytes"`` because the files were written by Python 2: their
    strings (dict keys, the raw pixel buffer) come back as ``bytes``.
    """
    return _RestrictedUnpickler(file, encoding="bytes").load()


def _get(batch: dict, key: str):
    # Python 2 files give b"data"; a file re-pickled by Python 3 gives "data".
    if key.encode() in batch:
        return batch[key.encode()]
    return batch.get(key)


def _read_python_batch(path: Path, handle) -> tuple[np.ndarray, np.ndarray]:
    """A pickled batch dict, loaded with the restricted unpickler and checked."""
    size = os.fstat(handle.fileno()).st_size
    if size > MAX_MEMBER_BYTES:
        raise DataError(
            f"{path} is not a CIFAR-10 python batch: {size:,} bytes, more than a batch can be"
        )
    try:
        batch = restricted_load(handle)
    except pickle.UnpicklingError as exc:
        raise pickle.UnpicklingError(f"{path}: {exc}") from exc
    except (
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        IndexError,
        KeyError,
        MemoryError,
        OverflowError,
        RecursionError,
    ) as exc:
        # MemoryError: a forged length (e.g. a 10 TB bytes object) in the pickle.
        raise DataError(f"{path} is not a readable CIFAR-10 python batch: {exc!r}") from exc
    data = _get(batch, "data") if isinstance(batch, dict) else None
    labels = _get(batch, "labels") if isinstance(batch, dict) else None
    if (
        not isinstance(data, np.ndarray)
        or data.dtype != np.uint8
        or data.ndim != 2
        or data.shape[1] != _PIXELS
        or data.shape[0] == 0
    ):
        raise DataError(f"{path} is not a CIFAR-10 python batch: no uint8 (N, 3072) 'data' array")
    if not isinstance(labels, list) or len(labels) != data.shape[0]:
        raise DataError(f"{path} is not a CIFAR-10 python batch: 'labels' is not a list of N ints")
    if not all(type(label) is int and 0 <= label < len(CIFAR10_CLASSES) for label in labels):
        raise DataError(f"{path} holds a label outside 0..9")
    return data.reshape(-1, *_IMAGE_SHAPE), np.asarray(labels, dtype=np.int64)


def _folder_format(folder: Path) -> _Format | None:
    """The format whose batch files are all present in ``folder``, if any."""
    for fmt in FORMATS.values():
        if all((folder / name).is_file() for name in fmt.files):
            return fmt
    return None


def load_cifar10(folder) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Load the raw CIFAR-10 batches from a folder, binary or Python format.

    Parameters
    ----------
    folder : str or os.PathLike
        A ``cifar-10-batches-bin`` folder (``data_batch_{1..5}.bin``,
        ``test_batch.bin``) or a ``cifar-10-batches-py`` folder
        (``data_batch_{1..5}``, ``test_batch``; loaded with a restricted
        unpickler that refuses any global but numpy's array reconstruction).
        Any number of records per file is accepted.

    Returns
    -------
    X_train : ndarray of uint8, shape (N_train, 3, 32, 32)
    y_train : ndarray of int64, shape (N_train,)
    X_test : ndarray of uint8, shape (N_test, 3, 32, 32)
    y_test : ndarray of int64, shape (N_test,)

    Raises
    ------
    FileNotFoundError
        The folder has neither format's complete set of files.
    DataError
        A file is corrupt.
    pickle.UnpicklingError
        A Python-format file refers to anything but numpy arrays.
    """
    folder = Path(folder)
    fmt = _folder_format(folder)
    if fmt is None:
        expected = ", ".join(FORMATS["binary"].files)
        raise FileNotFoundError(
            f"{folder} is not a CIFAR-10 folder: expected {expected} (or the python format's "
            "data_batch_1..5 and test_batch)"
        )
    read = _read_binary_batch if fmt.name == "binary" else _read_python_batch
    with _open_batches(folder, fmt) as handles:
        parts = [read(folder / name, handles[name]) for name in fmt.train_files]
        X_test, y_test = read(folder / fmt.test_file, handles[fmt.test_file])
    X_train = np.concatenate([images for images, _ in parts])
    y_train = np.concatenate([labels for _, labels in parts])
    return X_train, y_train, X_test, y_test


@contextlib.contextmanager
def _open_batches(folder: Path, fmt: _Format):
    """Open every batch file of one folder before reading any.

    Where the platform allows, the files are opened relative to one open
    handle of the folder, so all of them come from the same folder even if an
    install renames a new copy into place meanwhile (an open file stays
    readable after a rename or delete): a reader never mixes two copies.
    """
    with contextlib.ExitStack() as stack:
        handles = {}
        if os.open in os.supports_dir_fd and hasattr(os, "O_DIRECTORY"):
            dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
            stack.callback(os.close, dir_fd)
            for name in fmt.files:
                fd = os.open(name, os.O_RDONLY, dir_fd=dir_fd)
                handles[name] = stack.enter_context(open(fd, "rb"))
        else:
            for name in fmt.files:
                handles[name] = stack.enter_context(open(folder / name, "rb"))
        yield handles


# --------------------------------------------------------------------------
# Finding, downloading and installing
# --------------------------------------------------------------------------

#: How long an installer waits for another one's lock where there is no fcntl.
_LOCK_WAIT = 3600.0


@contextlib.contextmanager
def _install_lock(root: Path):
    """Hold the cache directory's install lock: one installer at a time, across processes.

    With ``fcntl`` (Linux, macOS) an exclusive ``flock`` on the directory
    itself: no lock file to leave behind, and the kernel releases it if the
    process dies. Elsewhere a lock directory created atomically with
    ``os.mkdir`` and removed on release.
    """
    if fcntl is not None:
        fd = os.open(root, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock
        return
    lock = root / ".cifar-10-install.lock"
    waited = time.monotonic() + _LOCK_WAIT
    while True:
        try:
            os.mkdir(lock)
            break
        except FileExistsError:
            if time.monotonic() > waited:
                raise DataError(
                    f"another install of CIFAR-10 holds {lock}; if none is running, delete it"
                ) from None
            time.sleep(0.2)
    try:
        yield
    finally:
        os.rmdir(lock)


def _is_leftover(path: Path) -> bool:
    """A temporary file or folder of an install (``.<archive or folder>.*.part``)."""
    prefixes = [f".{fmt.archive}." for fmt in FORMATS.values()]
    prefixes += [f".{fmt.folder}." for fmt in FORMATS.values()]
    return path.name.endswith(".part") and path.name.startswith(tuple(prefixes))


def _remove_leftovers(root: Path) -> None:
    """Remove what killed installs left behind; only called holding the install lock."""
    for path in root.iterdir():
        if _is_leftover(path):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def _binary_folder_complete(folder: Path) -> bool:
    fmt = FORMATS["binary"]
    for name in fmt.files:
        path = folder / name
        if not path.is_file():
            return False
        size = path.stat().st_size
        if size == 0 or size % _RECORD_BYTES:
            return False
    return True


def _folder_complete(folder: Path, fmt: _Format) -> bool:
    if fmt.name == "binary":
        return _binary_folder_complete(folder)
    return all(
        (folder / name).is_file() and (folder / name).stat().st_size > 0 for name in fmt.files
    )


def find_cifar10(data_dir=None) -> Path | None:
    """Where a complete CIFAR-10 folder is, without downloading.

    Looks in the cache directory (see :func:`resolve_data_dir`) for
    ``cifar-10-batches-bin`` (what :func:`download_cifar10` installs, only
    ever renamed into place after its archive's checksum matched and every
    batch was read back), then ``cifar-10-batches-py`` (as cs231n's script
    leaves it), then accepts ``data_dir`` itself if it is such a folder.

    Returns
    -------
    pathlib.Path or None
    """
    root = resolve_data_dir(data_dir)
    for fmt in FORMATS.values():
        if _folder_complete(root / fmt.folder, fmt):
            return root / fmt.folder
    for fmt in FORMATS.values():
        if _folder_complete(root, fmt):
            return root
    return None


def download_cifar10(
    data_dir=None,
    *,
    archive_format: str = "binary",
    url: str | None = None,
    md5: str | None = None,
    progress: bool = True,
    force: bool = False,
    keep_archive: bool = True,
    timeout: float = 60.0,
) -> Path:
    """Download, verify and extract CIFAR-10 into the cache directory, once.

    The archive is streamed to a temporary file with a progress bar, its
    MD5 checked, extracted into a temporary directory (no member outside
    it, no links or devices), every batch read back, and only then are the
    folder and the archive renamed into place. On any failure the
    temporary files are removed and the error says how to retry. An archive
    already in the cache directory (e.g. one you downloaded yourself) is used
    instead of the network if its MD5 matches.

    Parameters
    ----------
    data_dir : str or os.PathLike, optional
        Cache directory; see :func:`resolve_data_dir`. Created if missing.
    archive_format : {"binary", "python"}
        Which official archive: ``cifar-10-binary.tar.gz`` (default, read
        with numpy) or ``cifar-10-python.tar.gz`` (pickles, read with the
        restricted unpickler).
    url : str, optional
        Where to download from; defaults to the official URL of the format.
    md5 : str, optional
        Expected MD5 of the archive; defaults to the publisher's.
    progress : bool
        Show a progress bar on stderr.
    force : bool
        Download and extract again even if the data are already there.
    keep_archive : bool
        Keep the verified archive in the cache directory (lets
        ``nndl-lab data info`` re-check it and re-extract without network).
    timeout : float
        Seconds to wait on each network operation. Besides, the whole download
        may take at most an hour, a transfer bringing less than 16 KiB in a
        minute is abandoned as stalled, and at most 256 MiB are accepted.

    Returns
    -------
    pathlib.Path
        The extracted folder, e.g. ``<data_dir>/cifar-10-batches-bin``.

    Notes
    -----
    Installs into one directory from several processes at once (two
    notebooks, parallel test workers) take turns: each holds the directory's
    install lock, and one that finds the folder installed by the other when
    its turn comes uses it. The folder is only ever renamed into place whole,
    and an old copy replaced with ``force`` is renamed away before it is
    deleted, so a reader sees the old folder, the new one, or (for an
    instant) none, never a partial one. Temporary files that a killed install
    left behind are removed by the next install.

    Raises
    ------
    DownloadError
        HTTP error, network failure, truncated transfer or checksum mismatch.
    UnsafeArchiveError
        An archive member escapes the directory or is a link or device.
    DataError
        The archive is not a valid CIFAR-10 archive.
    pickle.UnpicklingError
        A Python-format batch refers to anything but numpy arrays.
    """
    if archive_format not in FORMATS:
        raise ValueError(f"archive_format must be one of {sorted(FORMATS)}, got {archive_format!r}")
    fmt = FORMATS[archive_format]
    url = check_url(fmt.url if url is None else url)
    md5 = check_md5(fmt.md5 if md5 is None else md5)
    progress = check_bool("progress", progress)
    force = check_bool("force", force)
    keep_archive = check_bool("keep_archive", keep_archive)
    timeout = check_timeout(timeout)

    root = resolve_data_dir(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    target = root / fmt.folder
    if not force and _folder_complete(target, fmt):
        return target
    with _install_lock(root):
        _remove_leftovers(root)
        # Another process may have installed it while this one waited for the lock.
        if not force and _folder_complete(target, fmt):
            return target
        _download_and_install(root, fmt, url, md5, progress, force, keep_archive, timeout)
    return target


def _download_and_install(root, fmt, url, md5, progress, force, keep_archive, timeout):
    """The body of :func:`download_cifar10`, run holding the install lock."""
    hint = _retry_hint(root, fmt)
    archive = root / fmt.archive

    source = None
    if archive.is_file() and not force:
        found = md5_of_file(archive)
        if found == md5:
            source = archive
        else:
            warnings.warn(
                f"{archive} does not match the expected MD5 ({found} != {md5}); "
                "downloading it again",
                stacklevel=4,
            )
    downloaded = None
    if source is None:
        downloaded = download_verified(
            url, root, fmt.archive, md5, progress=progress, timeout=timeout, hint=hint
        )
        source = downloaded
    try:
        _install_folder(source, root, fmt, hint)
        if downloaded is not None and keep_archive:
            # A temporary file is private (0600); the kept archive is shared like any file.
            os.chmod(downloaded, file_mode())
            os.replace(downloaded, archive)
    finally:
        if downloaded is not None:
            # Already renamed away on success; removes the verified
            # temporary file when extraction failed or was not wanted.
            downloaded.unlink(missing_ok=True)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two paths (Linux ``renameat2(RENAME_EXCHANGE)``); False where
    the system or file system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):  # glibc before 2.28, or another C library
        return False
    at_fdcwd, rename_exchange = -100, 2
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
    renameat2.argtypes += [ctypes.c_uint]
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    error = ctypes.get_errno()
    if error in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False  # not supported here: the caller renames twice
    raise OSError(error, os.strerror(error), str(a), None, str(b))


def _swap_into_place(new: Path, target: Path, old: Path) -> None:
    """Put ``new`` at ``target`` and the previous ``target`` at ``old``.

    One atomic exchange where the system has one, so ``target`` always names
    a complete folder; elsewhere two renames, with an instant where it names
    nothing (readers look again, see :func:`_find_and_load`).
    """
    if _exchange(new, target):
        os.rename(new, old)  # ``new`` now names the previous copy
        return
    os.rename(target, old)
    os.replace(new, target)


def _install_folder(archive: Path, root: Path, fmt: _Format, hint: str) -> None:
    """Extract ``archive`` and rename its batch folder into ``root``."""
    tmp = safe_extract(archive, root, name=fmt.archive, hint=hint, keep=fmt.members)
    try:
        extracted = tmp / fmt.folder
        if not extracted.is_dir() or _folder_format(extracted) is not fmt:
            raise DataError(
                f"{fmt.archive} does not hold a complete {fmt.folder}/ folder "
                f"({', '.join(fmt.files)}); nothing was kept. {hint}"
            )
        # Read every batch back before trusting the folder: corrupt sizes,
        # bad labels or a forged pickle fail here, not at some later load.
        load_cifar10(extracted)
        os.chmod(extracted, 0o777 & file_mode() | 0o111)
        target = root / fmt.folder
        old = None
        if target.exists() or target.is_symlink():
            # Only reached with force=True or when a previous copy was damaged
            # by hand (installs are atomic renames). Swap the new copy in and
            # the old one out, so a reader sees one or the other, never half of one.
            old = root / f".{fmt.folder}.{os.getpid()}-{secrets.token_hex(4)}.part"
            _swap_into_place(extracted, target, old)
        else:
            os.replace(extracted, target)
        if old is not None:
            if old.is_dir() and not old.is_symlink():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink(missing_ok=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------
# The homework's get_CIFAR10_data
# --------------------------------------------------------------------------


class SplitTooLargeError(ValueError):
    """The requested split needs more images than the CIFAR-10 folder found holds."""


def _check_cifar_counts(num_training, num_validation, num_test, n_train, n_test, where):
    if num_training + num_validation > n_train:
        raise SplitTooLargeError(
            f"num_training + num_validation = {num_training + num_validation} exceeds the "
            f"{n_train} training images of CIFAR-10{where}"
        )
    if num_test > n_test:
        raise SplitTooLargeError(
            f"num_test = {num_test} exceeds the {n_test} test images of CIFAR-10{where}"
        )


def get_cifar10_data(
    num_training: int = 49000,
    num_validation: int = 1000,
    num_test: int = 1000,
    subtract_mean: bool = True,
    *,
    data_dir=None,
    download: bool = True,
    url: str | None = None,
    md5: str | None = None,
    progress: bool = True,
) -> Dataset:
    """CIFAR-10 split and preprocessed exactly as the homework's ``get_CIFAR10_data``.

    Training images are the first ``num_training`` of the 50,000, validation
    images the next ``num_validation``, test images the first ``num_test``
    of the 10,000. With ``subtract_mean`` the mean of the kept training
    images is subtracted from all three splits.

    Parameters
    ----------
    num_training, num_validation, num_test : int
        Split sizes (checked before any download).
    subtract_mean : bool
        Subtract the mean training image.
    data_dir : str or os.PathLike, optional
        Cache directory (see :func:`resolve_data_dir`), or a
        ``cifar-10-batches-bin`` / ``cifar-10-batches-py`` folder or its
        parent (see :func:`find_cifar10`).
    download : bool
        Download the archive if CIFAR-10 is not found; otherwise raise
        ``FileNotFoundError``.
    url, md5 : str, optional
        Override the official binary archive's URL and MD5.
    progress : bool
        Show a progress bar while downloading.

    Returns
    -------
    Dataset
        ``X_*`` float32 ``(N, 3, 32, 32)``, ``y_*`` int64 in 0..9, name
        ``"cifar10"``.
    """
    num_training = check_count("num_training", num_training, minimum=1)
    num_validation = check_count("num_validation", num_validation)
    num_test = check_count("num_test", num_test)
    subtract_mean = check_bool("subtract_mean", subtract_mean)
    download = check_bool("download", download)
    _check_cifar_counts(
        num_training, num_validation, num_test, CIFAR10_NUM_TRAIN, CIFAR10_NUM_TEST, ""
    )

    folder, (X_train, y_train, X_test, y_test) = _find_and_load(
        data_dir, download=download, url=url, md5=md5, progress=progress
    )
    _check_cifar_counts(
        num_training, num_validation, num_test, len(y_train), len(y_test), f" found in {folder}"
    )
    splits = {
        "X_train": X_train[:num_training],
        "y_train": y_train[:num_training],
        "X_val": X_train[num_training : num_training + num_validation],
        "y_val": y_train[num_training : num_training + num_validation],
        "X_test": X_test[:num_test],
        "y_test": y_test[:num_test],
    }
    arrays = finish_splits(splits, subtract_mean=subtract_mean)
    description = (
        f"CIFAR-10 (A. Krizhevsky, 2009), from {folder}: {num_training} train / "
        f"{num_validation} val / {num_test} test images of 3×32×32, 10 classes."
    )
    return Dataset(arrays, name="cifar10", description=description, classes=CIFAR10_CLASSES)


def _find_and_load(data_dir, *, download, url, md5, progress, attempts=6):
    """Find (or download) the CIFAR-10 folder and load it: ``(folder, arrays)``.

    An install with ``force`` in another process may swap the folder for a
    new copy between finding and opening it (and delete the old one while it
    is being opened); then it is looked up again, waiting 0.05, 0.1, 0.2, ...
    seconds.
    """
    for attempt in range(attempts - 1):
        try:
            return _find_and_load_once(data_dir, download, url, md5, progress)
        except FileNotFoundError:
            time.sleep(0.05 * 2**attempt)
    return _find_and_load_once(data_dir, download, url, md5, progress)


def _find_and_load_once(data_dir, download, url, md5, progress):
    folder = find_cifar10(data_dir)
    if folder is None:
        if not download:
            root = resolve_data_dir(data_dir)
            raise FileNotFoundError(
                f"CIFAR-10 is not in {root}; run `nndl-lab data download cifar10` "
                "(or pass download=True)"
            )
        folder = download_cifar10(data_dir, url=url, md5=md5, progress=progress)
    return folder, load_cifar10(folder)


#: The homework's name for :func:`get_cifar10_data`.
get_CIFAR10_data = get_cifar10_data
