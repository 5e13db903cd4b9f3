"""widgets.optimizer_paths is live in a real JupyterLab: traits flow both ways.

Uses the JupyterLab server of :mod:`tests.browser.test_jupyterlab` (127.0.0.1, a
token, temporary dirs; requests leaving 127.0.0.1 are aborted and fail the test).
A generated notebook displays ``widgets.optimizer_paths``, runs a probe cell that
writes the kernel's view of the widget (its setting and the engine's paths for it)
to a JSON file, and then sets two traits from Python. Through the UI only:

1. Run All: the page shows the widget with the values Python set after display
   (kernel -> page);
2. a slider moved in the page to an arbitrary value: the canvas changes;
3. the probe cell run again: the kernel's trait has the page's value exactly
   (page -> kernel) and the engine's paths for the kernel's setting are the paths
   the page drew (to 1e-9 of the run's scale).
"""

from __future__ import annotations

import re
import time

import numpy as np
import pytest

from .test_jupyterlab import (  # noqa: F401 - jupyter_lab is a fixture
    Lab,
    diagnose,
    jupyter_lab,
    read_probe,
    start_kernel,
)
from .test_optimizer_paths import READY_ONE, SNAPSHOT, VIEW, assert_same_run

pytestmark = pytest.mark.browser

PROBE_FILE = "nndl_paths_probe.json"
CELLS = [
    'import widgets\n\nw = widgets.optimizer_paths("quadratic", num_steps=150)\nw',
    f"""# probe (tests/browser/test_optimizer_paths_lab.py): the kernel's view of the widget
import json as _json

_seq = globals().get("_seq", 0) + 1
_runs = w.paths()
with open({PROBE_FILE!r}, "w") as _f:
    _json.dump(
        {{
            "seq": _seq,
            "setting": w.setting(),
            "runs": {{
                _r: {{
                    "path": [None if _v != _v else float(_v) for _v in _run["path"].ravel()],
                    "diverged_at": _run["diverged_at"],
                }}
                for _r, _run in _runs.items()
            }},
        }},
        _f,
    )""",
    "w.momentum = 0.3141\nw.start = [1.5, -0.75]",
]


def write_notebook(folder) -> str:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in CELLS]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    name = "optimizer_paths_live.ipynb"
    nbformat.write(nb, folder / name)
    return name


def test_optimizer_paths_is_live_in_jupyterlab(browser, jupyter_lab: Lab, browser_report):  # noqa: F811
    t_start = time.perf_counter()
    name = write_notebook(jupyter_lab.root)
    probe_path = jupyter_lab.root / PROBE_FILE
    external: list[str] = []
    page = None
    context = browser.new_context(viewport={"width": 1400, "height": 1200})
    try:

        def block(route) -> None:
            external.append(route.request.url)
            route.abort("blockedbyclient")

        local = "|".join(re.escape(p) for p in (jupyter_lab.url, "data:", "blob:", "about:"))
        context.route(re.compile(f"^(?!{local})"), block)
        page = context.new_page()
        page.set_default_timeout(30_000)
        page_errors: list[str] = []
        page.on("pageerror", lambda e: page_errors.append(str(e)))
        page.goto(f"{jupyter_lab.url}lab/tree/{name}?token={jupyter_lab.token}")
        page.locator(".jp-Notebook .jp-Cell").first.wait_for(state="visible", timeout=60_000)
        start_kernel(page, jupyter_lab, name)

        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
        first = read_probe(page, probe_path, 0, 90)
        page.wait_for_function(READY_ONE, timeout=30_000)

        # kernel -> page: the values the last cell set after the widget was shown
        def page_setting():
            return page.evaluate(VIEW, 0)["setting"]

        deadline = time.monotonic() + 20
        while page_setting()["momentum"] != 0.3141 and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        setting = page_setting()
        assert setting["momentum"] == 0.3141 and setting["start"] == [1.5, -0.75], setting
        assert first["setting"]["momentum"] == 0.9  # the probe ran before the last cell

        # page -> kernel: an arbitrary learning rate from the page's slider
        root = page.locator(".nndl-optimizer-paths").first
        root.scroll_into_view_if_needed()
        slider = root.locator("input[data-trait=learning_rate]")
        before = page.evaluate(SNAPSHOT, 0)
        slider.fill("-1.6180339887")
        page.wait_for_function(
            "() => document.querySelector('.nndl-optimizer-paths').nndlView"
            ".get('learning_rate') !== 0.02"
        )
        page.wait_for_timeout(300)
        assert page.evaluate(SNAPSHOT, 0) != before, "the canvas did not change"
        view = page.evaluate(VIEW, 0)
        t_moved = time.perf_counter()

        page.locator(".jp-Notebook .jp-Cell").nth(1).locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        second = read_probe(page, probe_path, first["seq"], 30)
        kernel = second["setting"]
        assert kernel["learning_rate"] == view["setting"]["learning_rate"], (kernel, view)
        assert abs(kernel["learning_rate"] - 10**-1.6180339887) < 1e-15
        assert kernel["momentum"] == 0.3141 and kernel["start"] == [1.5, -0.75]
        for rule, run in second["runs"].items():
            python = {
                "path": np.array(
                    [np.nan if v is None else v for v in run["path"]], dtype=float
                ).reshape(-1, 2),
                "diverged_at": run["diverged_at"],
            }
            assert_same_run(python, view["runs"][rule], f"live {rule}")
        assert not page_errors, f"page errors: {page_errors}"
        assert not external, f"requests leaving 127.0.0.1: {external}"
    except Exception as err:
        raise AssertionError(f"{err}\n{diagnose(page, jupyter_lab)}") from err
    finally:
        context.close()
    browser_report(
        f"jupyterlab: widgets.optimizer_paths live: kernel -> page and page -> kernel "
        f"(learning rate {view['setting']['learning_rate']:.6g}); probe answered "
        f"{time.perf_counter() - t_moved:.1f} s after the move; total "
        f"{time.perf_counter() - t_start:.1f} s"
    )
