"""The capstone (chapter 8) on real CIFAR-10: it runs and reaches the homework's 55%.

Its own file, so that ``make test``'s processes run it beside chapters 0-7
(see ``tests/_book_cifar10.py``); skipped, with that reason, without CIFAR-10.
"""

from __future__ import annotations

import pytest
from _book_cifar10 import ROOT, cifar10_dir, run_chapter_on_cifar10  # noqa: F401

pytestmark = [pytest.mark.cifar10, pytest.mark.slow]


def test_capstone_runs_on_cifar10(cifar10_dir, monkeypatch, session_report):  # noqa: F811
    run_chapter_on_cifar10(
        ROOT / "book" / "08_capstone.ipynb", cifar10_dir, monkeypatch, session_report
    )
