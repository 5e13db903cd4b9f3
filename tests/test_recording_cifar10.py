"""The recorded CIFAR-10 results the book shows reproduce on the same data.

The recording (``nndl_lab/_data/cifar10_recorded.json``, written by
``nndl-lab reproduce --record``) is re-run on the cached CIFAR-10 when it is the
copy the recording was made on (the fingerprint of the arrays must match) and
compared: same seed, same numbers, within float32 rounding carried through
training (see ``TOLERANCE``). Skipped, with that reason, without CIFAR-10.
"""

from __future__ import annotations

import numpy as np
import pytest
from _book_cifar10 import cifar10_dir  # noqa: F401

from nndl_lab.data import get_data
from nndl_lab.experiments import data_fingerprint, load_recorded, record_results

pytestmark = [pytest.mark.cifar10, pytest.mark.slow]

#: Recorded and re-run numbers agree to this absolute difference. Accuracies are
#: multiples of 1/1000 on CIFAR-10's validation and test sets, so 0.02 allows a
#: handful of images to flip where float32 rounding grows through training; in
#: practice the same machine reproduces them exactly.
TOLERANCE = {"accuracy": 0.02, "loss": 0.02}


def _compare(recorded, rerun, path=""):
    if isinstance(recorded, dict):
        assert set(recorded) == set(rerun), path
        for key in recorded:
            _compare(recorded[key], rerun[key], f"{path}/{key}")
        return
    if recorded is None or isinstance(recorded, str):
        assert recorded == rerun, path
        return
    recorded = np.asarray(recorded, dtype=np.float64)
    rerun = np.asarray(rerun, dtype=np.float64)
    assert recorded.shape == rerun.shape, path
    kind = "accuracy" if "acc" in path or "gap" in path else "loss"
    finite = np.isfinite(recorded)
    assert np.array_equal(finite, np.isfinite(rerun)), path
    if "loss_history" in path:
        # A single iteration's loss can differ more than the summary values: compare
        # the histories by their mean over windows of 50 iterations.
        length = recorded.shape[-1] // 50 * 50
        if length:
            shape = (*recorded.shape[:-1], -1, 50)
            recorded = recorded[..., :length].reshape(shape).mean(-1)
            rerun = rerun[..., :length].reshape(shape).mean(-1)
            finite = np.isfinite(recorded)
    difference = np.abs(recorded[finite] - np.asarray(rerun)[finite])
    assert difference.size == 0 or difference.max() <= TOLERANCE[kind], (path, difference.max())


def test_recording_reproduces(cifar10_dir, tmp_path):  # noqa: F811
    recorded = load_recorded()
    data = get_data("cifar10", data_dir=cifar10_dir, verbose=False)
    if data_fingerprint(data) != recorded.meta["data_fingerprint"]:
        pytest.skip(
            "the cached CIFAR-10 is not the copy the recording was made on "
            f"({recorded.label}); its fingerprint differs"
        )
    rerun = record_results(
        data, list(recorded), seed=recorded.meta["seed"], path=tmp_path / "rerun.json"
    )
    for name in recorded:
        _compare(recorded[name], rerun[name], name)
