"""Test-session setup shared by tests/ and the nbval run over book/.

The book and the tests use ``get_data("auto")``, which picks CIFAR-10 when it
is cached on the machine. Tests must not depend on what a developer has
downloaded, so the session points the data cache at an empty directory (so
"auto" means the shipped digits) unless NNDL_LAB_TEST_USE_CACHE=1. Notebook
kernels started by nbval inherit this environment.
"""

import os
import tempfile

if os.environ.get("NNDL_LAB_TEST_USE_CACHE") != "1":
    os.environ["NNDL_LAB_DATA_DIR"] = tempfile.mkdtemp(prefix="nndl-lab-test-data-")
