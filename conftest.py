"""Test-session setup shared by tests/ and the nbval run over book/.

The book and the tests use ``get_data("auto")``, which picks CIFAR-10 when it
is cached on the machine. Tests must not depend on what a developer has
downloaded, so the session points the data cache at an empty directory (so
"auto" means the shipped digits) unless NNDL_LAB_TEST_USE_CACHE=1. Notebook
kernels started by nbval inherit this environment.

Tests marked ``cifar10`` need real CIFAR-10. They look for it where a reader's
download would be: the data directory the package resolves before the
override above (``NNDL_LAB_DATA_DIR``, else ``XDG_CACHE_HOME/nndl-lab``, else
``~/.cache/nndl-lab``), kept in ``NNDL_LAB_USER_DATA_DIR``, and are skipped,
with that reason, when no complete copy is there.

``make test`` runs the suite on several processes (pytest-xdist, ``--dist
loadfile``): the tests of one file, and the cells of one chapter under nbval,
stay together on one process, in order. The longest tests, the chapters on
CIFAR-10, are therefore split over three files.
"""

import os
import tempfile

import pytest

from nndl_lab.data import resolve_data_dir

USER_DATA_DIR_ENV = "NNDL_LAB_USER_DATA_DIR"

if USER_DATA_DIR_ENV not in os.environ:
    os.environ[USER_DATA_DIR_ENV] = str(resolve_data_dir())
if os.environ.get("NNDL_LAB_TEST_USE_CACHE") != "1":
    os.environ["NNDL_LAB_DATA_DIR"] = tempfile.mkdtemp(prefix="nndl-lab-test-data-")


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "cifar10: needs CIFAR-10 in the reader's data directory (skipped when it is absent)",
    )


#: ``user_properties`` entries named so are printed at the end of the session.
REPORT_PROPERTY = "nndl-report"
_REPORT_LINES: dict[str, list[str]] = {}


@pytest.fixture
def session_report(request):
    """``session_report(section, line)``: a line for the end-of-session summary.

    The line travels with the test's report (``user_properties``), so it reaches
    the summary from any test process.
    """

    def add(section: str, line: str) -> None:
        request.node.user_properties.append((REPORT_PROPERTY, (section, line)))

    return add


def pytest_runtest_logreport(report):
    if report.when != "teardown":  # the last report of a test holds all its properties
        return
    for name, value in report.user_properties:
        if name == REPORT_PROPERTY:
            section, line = value
            _REPORT_LINES.setdefault(section, []).append(line)


def pytest_terminal_summary(terminalreporter):
    for section, lines in _REPORT_LINES.items():
        terminalreporter.section(section)
        for line in lines:
            terminalreporter.write_line(line)
