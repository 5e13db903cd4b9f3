"""The UCI handwritten digits shipped inside the package (the offline default)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ._common import DataError, Dataset, check_bool, check_count, finish_splits

#: The shipped file: uint8 ``images`` (1797, 8, 8) in 0..16, uint8 ``labels``.
DIGITS_PATH = Path(__file__).resolve().parent.parent / "_data" / "digits.npz"

# SHA-256 of images.tobytes() + labels.tobytes(): pins the contents, not the
# compressed bytes (those depend on the zlib that wrote them).
_DIGITS_SHA256 = "87ff0c9e40dc7e2c0e34e7257799c2e3f3aec1a016363bb11cad869ec428a826"

DIGITS_NUM_IMAGES = 1797
DIGITS_CLASSES = tuple(str(i) for i in range(10))

# The fixed permutation behind the split; seed and layout are part of the
# contract (the book's numbers depend on them).
_SPLIT_SEED = 0

#: Default split sizes: 1197 train / 300 val / 300 test.
DIGITS_DEFAULTS = {"num_training": 1197, "num_validation": 300, "num_test": 300}


def _digits_content_sha256(images: np.ndarray, labels: np.ndarray) -> str:
    return hashlib.sha256(images.tobytes() + labels.tobytes()).hexdigest()


def load_digits_raw(path=DIGITS_PATH) -> tuple[np.ndarray, np.ndarray]:
    """Load the shipped digits as stored, checking their checksum.

    Returns
    -------
    images : ndarray of uint8, shape (1797, 8, 8)
        Pixel values 0..16.
    labels : ndarray of uint8, shape (1797,)
        Digits 0..9.
    """
    try:
        with np.load(path, allow_pickle=False) as archive:
            images = archive["images"]
            labels = archive["labels"]
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(
            f"the digits file shipped with nndl-lab ({path}) cannot be read ({exc}); "
            "reinstall nndl-lab"
        ) from exc
    if (
        images.dtype != np.uint8
        or labels.dtype != np.uint8
        or images.shape != (DIGITS_NUM_IMAGES, 8, 8)
        or labels.shape != (DIGITS_NUM_IMAGES,)
        or _digits_content_sha256(images, labels) != _DIGITS_SHA256
    ):
        raise DataError(f"the digits file {path} does not match its checksum; reinstall nndl-lab")
    return images, labels


def digits_split_indices(num_training: int, num_validation: int, num_test: int):
    """Indices of the fixed seeded split of the 1,797 digits.

    The permutation ``np.random.default_rng(0).permutation(1797)`` is cut so
    that the test images are its last ``num_test`` entries, the validation
    images the ``num_validation`` entries before them, and the training
    images its first ``num_training`` entries. Asking for fewer training
    images therefore keeps the validation and test sets unchanged.
    """
    order = np.random.default_rng(_SPLIT_SEED).permutation(DIGITS_NUM_IMAGES)
    test_start = DIGITS_NUM_IMAGES - num_test
    val_start = test_start - num_validation
    return order[:num_training], order[val_start:test_start], order[test_start:]


def get_digits_data(
    num_training: int = 1197,
    num_validation: int = 300,
    num_test: int = 300,
    subtract_mean: bool = True,
) -> Dataset:
    """The shipped handwritten digits in the homework's dict layout.

    Pixels are scaled from 0..16 to 0..255 (like CIFAR-10's), images shaped
    ``(N, 1, 8, 8)``, float32; labels int64 in 0..9. Needs no network and no
    scikit-learn.

    Parameters
    ----------
    num_training, num_validation, num_test : int
        Split sizes; their sum must not exceed 1797. See
        ``digits_split_indices`` for which images go where.
    subtract_mean : bool
        Subtract the mean training image from all three splits.

    Returns
    -------
    Dataset
        ``X_train, y_train, X_val, y_val, X_test, y_test``, name ``"digits"``.
    """
    num_training = check_count("num_training", num_training, minimum=1)
    num_validation = check_count("num_validation", num_validation)
    num_test = check_count("num_test", num_test)
    subtract_mean = check_bool("subtract_mean", subtract_mean)
    total = num_training + num_validation + num_test
    if total > DIGITS_NUM_IMAGES:
        raise ValueError(
            f"num_training + num_validation + num_test = {total} exceeds the "
            f"{DIGITS_NUM_IMAGES} digits images"
        )
    images, labels = load_digits_raw()
    images = images.reshape(DIGITS_NUM_IMAGES, 1, 8, 8)
    train, val, test = digits_split_indices(num_training, num_validation, num_test)
    splits = {
        "X_train": images[train],
        "y_train": labels[train],
        "X_val": images[val],
        "y_val": labels[val],
        "X_test": images[test],
        "y_test": labels[test],
    }
    arrays = finish_splits(splits, subtract_mean=subtract_mean, scale=255.0 / 16.0)
    description = (
        "The UCI handwritten digits (E. Alpaydin and C. Kaynak, 1998; CC BY 4.0; the 8×8 copy "
        f"bundled by scikit-learn), shipped with nndl-lab: {num_training} train / "
        f"{num_validation} val / {num_test} test images of 1×8×8, 10 classes."
    )
    return Dataset(arrays, name="digits", description=description, classes=DIGITS_CLASSES)
