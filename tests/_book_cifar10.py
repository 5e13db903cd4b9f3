"""What the CIFAR-10 tests share: where CIFAR-10 is, and running a chapter on it.

The tests that need CIFAR-10 (marker ``cifar10``) look for it where a reader's
``nndl-lab data download cifar10`` would have put it (``NNDL_LAB_USER_DATA_DIR``,
set by the root conftest from ``NNDL_LAB_DATA_DIR``, else the default cache
directory) and are skipped, with that reason, when it is absent. They live in
three files (chapters 0-7, the capstone, the recording) so that ``make test``'s
processes (``--dist loadfile``) share them out.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from nndl_lab.data import find_cifar10

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book").glob("0*.ipynb"))
USER_DATA_DIR = os.environ.get("NNDL_LAB_USER_DATA_DIR")


@pytest.fixture(scope="module")
def cifar10_dir():
    folder = find_cifar10(USER_DATA_DIR) if USER_DATA_DIR else None
    if folder is None:
        pytest.skip(
            f"CIFAR-10 is not in the data directory {USER_DATA_DIR} "
            "(run `nndl-lab data download cifar10`)"
        )
    return USER_DATA_DIR


def run_chapter_on_cifar10(chapter: Path, cifar10_dir: str, monkeypatch, session_report) -> None:
    """Executes ``chapter`` in a fresh kernel on CIFAR-10; its hidden cells assert its claims."""
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
    seconds = time.perf_counter() - start
    session_report("chapters on CIFAR-10", f"{chapter.stem}: {seconds:.0f} s")
    first = "".join(
        "".join(output.get("text", ""))
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "stream"
    )
    assert "Using the CIFAR-10 data set" in first, "the chapter did not use CIFAR-10"
