"""The book on real CIFAR-10: chapters 0-7 run, their claims asserted on it.

Every chapter is executed in a fresh kernel on CIFAR-10 (see
``tests/_book_cifar10.py`` for where it is looked for; skipped, with that
reason, when it is absent). A chapter's hidden cells assert its claims on the
data in use, so a claim CIFAR-10 does not support fails here. The time of each
chapter is printed at the end of the session ("chapters on CIFAR-10"). The
capstone has its own file (``test_capstone_cifar10.py``), as does the recording
(``test_recording_cifar10.py``).
"""

from __future__ import annotations

import pytest
from _book_cifar10 import CHAPTERS, cifar10_dir, run_chapter_on_cifar10  # noqa: F401

pytestmark = [pytest.mark.cifar10, pytest.mark.slow]

BEFORE_CAPSTONE = [c for c in CHAPTERS if c.stem != "08_capstone"]


@pytest.mark.parametrize("chapter", BEFORE_CAPSTONE, ids=[c.stem for c in BEFORE_CAPSTONE])
def test_chapter_runs_on_cifar10(chapter, cifar10_dir, monkeypatch, session_report):  # noqa: F811
    run_chapter_on_cifar10(chapter, cifar10_dir, monkeypatch, session_report)
