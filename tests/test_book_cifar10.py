"""The book on real CIFAR-10: every chapter runs, and the recorded results reproduce.

These tests need CIFAR-10 where a reader's ``nndl-lab data download cifar10``
would have put it (``NNDL_LAB_USER_DATA_DIR``, set by the root conftest from
``NNDL_LAB_DATA_DIR``, else the default cache directory) and are skipped,
with that reason, when it is absent. Every chapter is executed in a fresh
kernel on that data: a chapter's hidden cells assert its claims on the data
in use, so a claim CIFAR-10 does not support fails here. The time of each
chapter is printed at the end of the session.

The recording the book shows (``nndl_lab/_data/cifar10_recorded.json``,
written by ``nndl-lab reproduce --record``) is re-run on the same data (the
fingerprint of the arrays must match) and compared: same seed, same numbers,
within float32 rounding carried through training (see ``TOLERANCE``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from nndl_lab.data import find_cifar10, get_data
from nndl_lab.experiments import data_fingerprint, load_recorded, record_results

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book").glob("0*.ipynb"))
USER_DATA_DIR = os.environ.get("NNDL_LAB_USER_DATA_DIR")

pytestmark = [pytest.mark.cifar10, pytest.mark.slow]

#: Recorded and re-run numbers agree to this absolute difference. Accuracies are
#: multiples of 1/1000 on CIFAR-10's validation and test sets, so 0.02 allows a
#: handful of images to flip where float32 rounding grows through training; in
#: practice the same machine reproduces them exactly.
TOLERANCE = {"accuracy": 0.02, "loss": 0.02}

TIMES: dict[str, float] = {}


@pytest.fixture(scope="module")
def cifar10_dir():
    folder = find_cifar10(USER_DATA_DIR) if USER_DATA_DIR else None
    if folder is None:
        pytest.skip(
            f"CIFAR-10 is not in the data directory {USER_DATA_DIR} "
            "(run `nndl-lab data download cifar10`)"
        )
    return USER_DATA_DIR


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.stem for c in CHAPTERS])
def test_chapter_runs_on_cifar10(chapter, cifar10_dir, monkeypatch):
    monkeypatch.setenv("NNDL_LAB_DATA_DIR", cifar10_dir)
    nb = nbformat.read(chapter, as_version=4)
    client = NotebookClient(
        nb,
        timeout=1200,
        kernel_name="python3",
        resources={"metadata": {"path": str(chapter.parent)}},
    )
    start = time.perf_counter()
    client.execute()
    TIMES[chapter.stem] = time.perf_counter() - start
    first = "".join(
        "".join(output.get("text", ""))
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "stream"
    )
    assert "Using the CIFAR-10 data set" in first, "the chapter did not use CIFAR-10"


def test_chapter_times_on_cifar10(cifar10_dir, request):
    """Prints each chapter's time (a report, not a timed assertion)."""
    if not TIMES:
        pytest.skip("no chapter was executed on CIFAR-10 in this session")
    lines = [f"{name}: {seconds:.0f} s" for name, seconds in TIMES.items()]
    lines.append(f"total: {sum(TIMES.values()):.0f} s")
    print("\nchapters on CIFAR-10:\n  " + "\n  ".join(lines))


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


def test_recording_reproduces(cifar10_dir, tmp_path):
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
