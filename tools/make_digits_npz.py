"""Regenerate ``nndl_lab/_data/digits.npz`` from scikit-learn's bundled digits.

Run once by a maintainer (``python tools/make_digits_npz.py``); scikit-learn is
needed here only, never at run time. The file stores the 1,797 images as
``uint8`` values 0..16 (their native range) and the labels as ``uint8``; the
loader in :mod:`nndl_lab.data` scales and splits them. The printed SHA-256 is
of the array contents (not of the compressed file, whose bytes depend on the
zlib version) and must match ``_DIGITS_SHA256`` in ``nndl_lab/data/_digits.py``.
"""

import hashlib
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

OUT = Path(__file__).resolve().parent.parent / "nndl_lab" / "_data" / "digits.npz"


def main() -> None:
    digits = load_digits()
    images = digits.images
    # The bundled values are integers 0..16 stored as floats; keep them exact.
    if not np.array_equal(images, np.round(images)) or images.min() < 0 or images.max() > 16:
        raise SystemExit("unexpected pixel values in scikit-learn's digits")
    images = images.astype(np.uint8)
    labels = digits.target.astype(np.uint8)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, images=images, labels=labels)
    digest = hashlib.sha256(images.tobytes() + labels.tobytes()).hexdigest()
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes), images {images.shape}, labels {labels.shape}")
    print(f"content SHA-256: {digest}")


if __name__ == "__main__":
    main()
