"""An app retrains live in a real JupyterLab when its live-only control moves off the grid.

The test starts ``jupyter lab`` on 127.0.0.1 (a token it chose; temporary user
config, data, runtime, settings and workspace dirs and HOME, while the system
``share/jupyter`` of this Python still provides the kernel spec and the
ipywidgets lab extension), copies a chapter of the book that displays an app
into a temporary folder (the quickest chapter by the execution times recorded
in the committed notebooks; a small generated notebook when no chapter has an
app), appends a probe cell, and opens it in headless Chromium at
``/lab/tree/<name>?token=...`` (requests leaving 127.0.0.1 are aborted and fail
the test).  Then, through the UI only:

1. Run > Run All Cells; wait for the app and the probe's first report;
2. type a value between two grid values into the entry box of the app's first
   grid control (``.nndl-entry``, live kernel only) and press Enter;
3. the app's visible image must change to bytes that differ from the frame
   shown before and from every precomputed grid frame, and the grid slider's
   readout must show the typed value (one control per setting);
4. run the probe cell again (click it, Shift+Enter): the kernel's app must show
   the new off-grid setting, have computed more than before, and its live frame
   must be the bytes the browser shows;
5. shut the kernel down (Kernel > Shut Down Kernel): the app must say so
   (``.nndl-kernel-gone`` visible) and hide its live-only controls.

The server is shut down in the fixture's teardown (REST shutdown, then
SIGTERM/SIGKILL of its process group), and any kernel process started under the
temporary runtime dir is killed by pid, so nothing is left running.
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from .conftest import ROOT, skip_or_fail, toc_docnames

pytestmark = pytest.mark.browser

PROBE_FILE = "nndl_live_probe.json"
#: A chapter whose recorded run time exceeds this is not used (seconds).
CHAPTER_BUDGET_S = 30.0
START_TIMEOUT_S = 60.0
RUN_TIMEOUT_S = 300.0  # a chapter with its grids, on a machine shared with other work
RETRAIN_TIMEOUT_S = 60.0

# The probe: every App alive in the kernel, written to a JSON file beside the
# notebook (the test reads it from disk), with a sequence number per run.
PROBE_SOURCE = f"""\
# Test probe (added by tests/browser/test_jupyterlab.py): report the apps' state.
import base64 as _b64
import gc as _gc
import json as _json
import numbers as _numbers

import widgets as _widgets


def _plain(value):
    if isinstance(value, _numbers.Real) and not isinstance(value, bool):
        return float(value)
    return repr(value)


_nndl_probe_seq = globals().get("_nndl_probe_seq", 0) + 1
with open({PROBE_FILE!r}, "w") as _f:
    _json.dump(
        {{
            "seq": _nndl_probe_seq,
            "apps": [
                {{
                    "name": _a.name,
                    "axes": [
                        {{"key": _x["key"], "values": [_plain(_v) for _v in _x["values"]]}}
                        for _x in _a.grid_axes()
                    ],
                    "frames": [_b64.b64encode(_p).decode() for _p in _a.grid_frames().values()],
                    "live_frame": _b64.b64encode(bytes(_a.live_frame.value)).decode(),
                    "shown_setting": {{
                        _k: _plain(_v) for _k, _v in (_a.shown_setting or {{}}).items()
                    }},
                    "computations": _a.computations,
                    "live": _a.showing_live,
                    "last_error": _a.last_error,
                    "setting": {{_k: _plain(_v) for _k, _v in _a.setting().items()}},
                    "cancelled": _a.worker.cancelled,
                }}
                for _a in _gc.get_objects()
                if isinstance(_a, _widgets.App)
            ],
        }},
        _f,
    )
"""

GENERATED_CELLS = [
    "import widgets\n\napp = widgets.dropout_regularization()\napp",
]

# Bytes of the one visible image of an app (the selected child of .nndl-mode-stack).
VISIBLE_PNG = """async (app) => {
  const imgs = Array.from(app.querySelectorAll('.nndl-mode-stack img'))
    .filter((img) => img.getClientRects().length > 0);
  if (imgs.length !== 1) return {error: `${imgs.length} visible images`};
  const img = imgs[0];
  if (!img.src || !img.complete || img.naturalWidth === 0) return {error: 'not loaded'};
  const bytes = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  const busy = app.querySelector('.nndl-busy');
  return {b64: btoa(s), busy: busy ? busy.textContent.trim() : '', cls: img.className};
}"""


# ---------------------------------------------------------------------------
# Which notebook


def fmt_label(value) -> str:
    """A grid value as the slider's readout shows it (widgets.controls.fmt_value)."""
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def recorded_seconds(nb: dict) -> float | None:
    """Wall time of the notebook's last recorded execution (cell metadata), if any."""
    stamps = []
    for cell in nb.get("cells", []):
        execution = cell.get("metadata", {}).get("execution", {})
        for key in ("iopub.execute_input", "shell.execute_reply"):
            if key in execution:
                stamps.append(datetime.fromisoformat(execution[key].replace("Z", "+00:00")))
    return (max(stamps) - min(stamps)).total_seconds() if stamps else None


def chapter_with_app() -> tuple[Path, float] | None:
    """The quickest chapter (by recorded time) that calls an app of ``widgets.APPS``."""
    import widgets

    call = re.compile(r"\bwidgets\.(" + "|".join(map(re.escape, widgets.APPS)) + r")\(")
    found = []
    for docname in toc_docnames(ROOT / "_toc.yml"):  # this checkout's chapters
        path = ROOT / f"{docname}.ipynb"
        if not path.is_file():
            continue
        nb = json.loads(path.read_text(encoding="utf-8"))
        code = "\n".join(
            "".join(c.get("source", "")) for c in nb.get("cells", []) if c["cell_type"] == "code"
        )
        seconds = recorded_seconds(nb)
        if call.search(code) and seconds is not None and seconds <= CHAPTER_BUDGET_S:
            found.append((seconds, path))
    return (min(found)[1], min(found)[0]) if found else None


def write_notebook(folder: Path, cells: list[str] | None = None) -> tuple[str, str]:
    """Write the notebook under test into ``folder``: (file name, description).

    ``cells``: a generated notebook of these cells (default: the quickest chapter
    with an app, else ``GENERATED_CELLS``).
    """
    import nbformat

    chosen = chapter_with_app() if cells is None else None
    if chosen is not None:
        source, seconds = chosen
        nb = nbformat.read(source, as_version=4)
        what = f"{source.relative_to(ROOT)} (recorded run {seconds:.1f} s)"
    else:
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(c) for c in (cells or GENERATED_CELLS)]
        what = (
            "a generated notebook"
            if cells
            else "a generated notebook (no chapter of the toc displays an app)"
        )
    for cell in nb.cells:  # start clean: the test runs everything itself
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.metadata.pop("widgets", None)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells.append(nbformat.v4.new_code_cell(PROBE_SOURCE))
    name = "live_app_test.ipynb"
    nbformat.write(nb, folder / name)
    return name, what


# ---------------------------------------------------------------------------
# The JupyterLab server


@dataclass
class Lab:
    url: str  # http://127.0.0.1:PORT/
    token: str
    root: Path  # the server's root dir (the notebook lives here)
    runtime: Path
    process: subprocess.Popen
    log: Path

    def api(self, method: str, path: str) -> int:
        request = urllib.request.Request(
            self.url + path, method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - 127.0.0.1
            return response.status

    def get(self, path: str):
        request = urllib.request.Request(
            self.url + path, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - 127.0.0.1
            return json.loads(response.read())

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def processes_under(marker: str) -> list[int]:
    """Pids of processes whose command line mentions ``marker`` (our runtime dir)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline:
            pids.append(int(entry.name))
    return pids


def stop(lab: Lab) -> list[str]:
    """Shut the server and its kernels down; return what had to be killed."""
    killed = []
    try:
        lab.api("POST", "api/shutdown")
    except Exception:  # noqa: BLE001, S110 - the signals below do the job then
        pass
    try:
        lab.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(lab.process.pid, sig)
            except ProcessLookupError:
                break
            killed.append(f"server process group {lab.process.pid} ({sig.name})")
            try:
                lab.process.wait(timeout=10)
                break
            except subprocess.TimeoutExpired:
                continue
    # Kernels run in sessions of their own; they are found by their connection
    # file in our runtime dir.
    deadline = time.monotonic() + 10
    while processes_under(str(lab.runtime)) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in processes_under(str(lab.runtime)):
        try:
            os.kill(pid, signal.SIGKILL)
            killed.append(f"leftover kernel pid {pid}")
        except ProcessLookupError:
            pass
    return killed


@pytest.fixture
def jupyter_lab(tmp_path: Path) -> Iterator[Lab]:
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        skip_or_fail("jupyterlab is not installed (pip install -e '.[book]')")
    dirs = {
        name: tmp_path / name
        for name in ("home", "config", "data", "runtime", "settings", "workspaces", "notebooks")
    }
    for d in dirs.values():
        d.mkdir()
    # No announcements or update checks (no request leaves the machine, no pop-up).
    notification = dirs["settings"] / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True)
    (notification / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    # Start the notebook's kernel without asking; never autosave over the test's copy.
    for plugin, settings in {
        "notebook-extension/tracker": {"autoStartDefaultKernel": True},
        "docmanager-extension/plugin": {"autosave": False},
    }.items():
        path = dirs["settings"] / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings))
    env = dict(os.environ)
    env.update(
        HOME=str(dirs["home"]),
        JUPYTER_CONFIG_DIR=str(dirs["config"]),
        JUPYTER_DATA_DIR=str(dirs["data"]),
        JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
        JUPYTERLAB_SETTINGS_DIR=str(dirs["settings"]),
        JUPYTERLAB_WORKSPACES_DIR=str(dirs["workspaces"]),
        IPYTHONDIR=str(dirs["home"] / ".ipython"),
        MPLCONFIGDIR=str(dirs["home"] / ".matplotlib"),
    )
    token = secrets.token_hex(16)
    port = free_port()
    log = tmp_path / "jupyterlab.log"
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={dirs['notebooks']}",
        "--ServerApp.allow_root=True",
        "--ServerApp.terminals_enabled=False",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
    ]
    with open(log, "wb") as out:
        process = subprocess.Popen(
            cmd,
            cwd=dirs["notebooks"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    lab = Lab(f"http://127.0.0.1:{port}/", token, dirs["notebooks"], dirs["runtime"], process, log)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"jupyter lab exited with {process.returncode}:\n{lab.log_tail()}")
            try:
                if lab.api("GET", "api/status") == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"jupyter lab did not answer in {START_TIMEOUT_S:.0f} s")
            time.sleep(0.2)
        yield lab
    finally:
        killed = stop(lab)
        left = processes_under(str(lab.runtime))
        if process.poll() is None or left:
            pytest.fail(f"processes left running: server {process.poll()}, kernels {left}")
        if killed:
            print("jupyterlab teardown had to kill:", ", ".join(killed))


# ---------------------------------------------------------------------------
# The test


def read_probe(page, path: Path, after: int, timeout: float) -> dict:
    """The probe's report with a sequence number above ``after``.

    Waits with ``page.wait_for_timeout`` (not ``time.sleep``), so the page's
    events keep being handled meanwhile.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            report = json.loads(path.read_text())
            if report["seq"] > after:
                return report
        except (OSError, ValueError, KeyError):
            pass
        page.wait_for_timeout(200)
    raise AssertionError(f"the probe cell did not report (run {after + 1}) within {timeout:.0f} s")


KERNEL_STATUS = ".jp-Notebook-ExecutionIndicator"


def start_kernel(page, lab: Lab, name: str, timeout: float = 60.0) -> str:
    """Wait until the notebook's kernel is up and idle; its id.

    Idle means: the server has exactly one session for the notebook, its
    kernel is idle, the notebook's status indicator says idle, and that kernel
    has stayed the same for a second (the indicator says "idle" before any
    kernel exists).  A "Select Kernel" dialog (JupyterLab 4 asks unless
    autoStartDefaultKernel is set) is accepted: it preselects the notebook's
    kernel.
    """
    deadline = time.monotonic() + timeout
    seen, since = None, 0.0
    while time.monotonic() < deadline:
        dialog = page.locator(".jp-Dialog")
        if dialog.count() and "Select Kernel" in dialog.first.inner_text():
            dialog.first.locator(".jp-Dialog-button.jp-mod-accept").click()
        kernels = [s["kernel"] for s in lab.get("api/sessions") if s.get("path") == name]
        status = page.locator(KERNEL_STATUS).first
        ui = status.get_attribute("data-status") if status.count() else None
        if len(kernels) == 1 and kernels[0]["execution_state"] == "idle" and ui == "idle":
            if kernels[0]["id"] != seen:
                seen, since = kernels[0]["id"], time.monotonic()
            elif time.monotonic() - since >= 1.0:
                return seen
        else:
            seen = None
        page.wait_for_timeout(200)
    raise AssertionError(f"the notebook's kernel did not start within {timeout:.0f} s")


def diagnose(page, lab: Lab) -> str:
    """What the notebook and the server said, for a failure message."""
    parts = []
    try:
        shot = lab.root.parent / "jupyterlab-failure.png"
        page.screenshot(path=str(shot), full_page=True)
        parts.append(f"screenshot: {shot}")
        errors = page.locator(
            '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
        ).all_inner_texts()
        parts += [f"cell error output:\n{text[-2000:]}" for text in errors]
        status = page.locator(KERNEL_STATUS).first
        if status.count():
            parts.append(f"kernel status: {status.get_attribute('data-status')}")
    except Exception as err:  # noqa: BLE001 - best effort
        parts.append(f"(no page diagnostics: {err})")
    parts.append(f"server log (tail):\n{lab.log_tail(25)}")
    return "\n".join(parts)


def test_live_control_retrains_in_jupyterlab(browser, jupyter_lab: Lab, browser_report):
    t_start = time.perf_counter()
    name, what = write_notebook(jupyter_lab.root)
    probe_path = jupyter_lab.root / PROBE_FILE

    external: list[str] = []
    page = None
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:

        def block(route) -> None:
            external.append(route.request.url)
            route.abort("blockedbyclient")

        # A regex, not a Python predicate: the sync API runs Python callbacks only
        # while the test is inside a Playwright call, so a predicate would hold
        # every request of the page while the test waits for the kernel.
        local = "|".join(re.escape(p) for p in (jupyter_lab.url, "data:", "blob:", "about:"))
        context.route(re.compile(f"^(?!{local})"), block)
        page = context.new_page()
        page.set_default_timeout(30_000)
        page_errors: list[str] = []
        page.on("pageerror", lambda e: page_errors.append(str(e)))

        page.goto(f"{jupyter_lab.url}lab/tree/{name}?token={jupyter_lab.token}")
        page.locator(".jp-Notebook .jp-Cell").first.wait_for(state="visible", timeout=60_000)
        kernel_id = start_kernel(page, jupyter_lab, name)
        t_open = time.perf_counter()

        # Run > Run All Cells
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
        first = read_probe(page, probe_path, 0, RUN_TIMEOUT_S)
        t_ran = time.perf_counter()

        # The app to drive: the first with an entry box for a typed value.
        apps = page.locator(".jp-OutputArea .nndl-app")
        apps.first.wait_for(state="visible", timeout=30_000)
        target = None
        for i in range(apps.count()):
            app = apps.nth(i)
            entries = app.locator(".nndl-grid-controls .nndl-entry")
            if entries.count():
                target = (app, entries.first)
                break
        assert target, "no app on the page has a grid control with an entry box"
        app, entry = target
        app_classes = (app.get_attribute("class") or "").split()
        app_name = next(c[len("nndl-app-") :] for c in app_classes if c.startswith("nndl-app-"))
        entry_classes = (entry.get_attribute("class") or "").split()
        key = next(
            c[len("nndl-entry-") :]
            for c in entry_classes
            if c.startswith("nndl-entry-") and c != "nndl-entry"
        )
        kernel_apps = [a for a in first["apps"] if a["name"] == app_name]
        assert len(kernel_apps) == 1, f"{len(kernel_apps)} apps named {app_name} in the kernel"
        kernel_app = kernel_apps[0]
        frames = {base64.b64decode(f) for f in kernel_app["frames"]}
        assert frames, f"{app_name}: the kernel's app has no grid frames"
        grid = next(a["values"] for a in kernel_app["axes"] if a["key"] == key)

        app.scroll_into_view_if_needed()
        before = app.evaluate(VISIBLE_PNG)
        assert "b64" in before, f"{app_name}: no visible image before the move: {before}"
        before_png = base64.b64decode(before["b64"])
        on_grid = before_png in frames
        assert on_grid, f"{app_name}: the figure shown first is not a grid frame"
        readout = app.locator(f".nndl-grid-{key} .widget-readout")
        value_before = readout.inner_text().strip()

        # Type a value between the first two grid values into the entry box.
        typed = grid[0] + 0.37 * (grid[1] - grid[0])
        if isinstance(grid[0], float) and grid[0] > 0:
            typed = math.sqrt(grid[0] * grid[1])
        typed_text = f"{typed:.4g}"
        entry.locator("input").fill(typed_text)
        entry.locator("input").press("Enter")
        t_moved = time.perf_counter()
        value_after = value_before
        for _ in range(50):
            value_after = readout.inner_text().strip()
            if value_after != value_before:
                break
            page.wait_for_timeout(100)
        assert float(value_after) == float(typed_text), (
            f"{key}: the readout shows {value_after!r} after typing {typed_text}"
        )
        # A screen reader hears the control's name and the readout (widgets/voice.js),
        # not noUiSlider's raw number, in the live notebook as in the static book.
        handle = app.locator(f".nndl-grid-{key} .noUi-handle")
        spoken = None
        for _ in range(50):
            spoken = handle.get_attribute("aria-valuetext")
            if spoken == value_after:
                break
            page.wait_for_timeout(100)
        assert spoken == value_after, f"{key}: the handle says {spoken!r}, reads {value_after!r}"
        assert handle.get_attribute("aria-label"), f"{key}: the handle has no aria-label"

        deadline = time.monotonic() + RETRAIN_TIMEOUT_S
        while True:
            now = app.evaluate(VISIBLE_PNG)
            png = base64.b64decode(now["b64"]) if "b64" in now else None
            if png and png != before_png and not now["busy"]:
                break
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{app_name}: the figure did not change within {RETRAIN_TIMEOUT_S:.0f} s "
                    f"after {key} {value_before} -> {value_after} (busy: {now.get('busy')!r})"
                )
            page.wait_for_timeout(100)
        t_redrawn = time.perf_counter()
        on_grid = png in frames  # (a bool: no bytes dump in the failure message)
        assert not on_grid, f"{app_name}: after the off-grid move it shows a grid frame"

        # Ask the kernel: run the probe (the last cell) again.
        page.locator(".jp-Notebook .jp-Cell").last.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        second = read_probe(page, probe_path, first["seq"], 30)
        (kernel_after,) = [a for a in second["apps"] if a["name"] == app_name]
        setting = kernel_after["shown_setting"]
        assert key in setting, f"{app_name}: the kernel's setting has no {key}: {setting}"
        value = setting[key]
        axis = [a for a in kernel_app["axes"] if a["key"] == key]
        if axis:  # a fine slider: the value must lie between grid points
            grid = axis[0]["values"]
            assert isinstance(value, float), f"{key}={value!r}"
            assert not any(math.isclose(value, g, rel_tol=1e-9) for g in grid), (
                f"{key}={value} is on the grid {grid}"
            )
        assert kernel_after["computations"] > kernel_app["computations"], (
            "the kernel did not compute"
        )
        assert kernel_after["live"], "the kernel's app does not show its live frame"
        assert kernel_after["last_error"] is None, kernel_after["last_error"]
        same = base64.b64decode(kernel_after["live_frame"]) == png
        assert same, "the browser does not show the kernel's live frame"
        kernels = [s["kernel"]["id"] for s in jupyter_lab.get("api/sessions")]
        assert kernels == [kernel_id], f"the kernel changed during the test: {kernels}"
        # Kernel > Shut Down Kernel: the app says so and hides its live-only controls.
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Kernel$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Shut Down Kernel$")).click()
        dialog = page.locator(".jp-Dialog")
        try:
            dialog.first.wait_for(state="visible", timeout=3_000)
            dialog.first.locator(".jp-Dialog-button.jp-mod-accept").click()
        except Exception:  # noqa: BLE001, S110 - no confirmation dialog in this version
            pass
        gone = app.locator(".nndl-kernel-gone")
        gone.wait_for(state="visible", timeout=20_000)
        # JupyterLab skips rendering cells out of view (content-visibility: auto), and
        # the text of an unrendered element reads empty: look at it as a reader would.
        # Scrolling in takes effect at the next rendering update, so read it until then.
        gone.scroll_into_view_if_needed()
        gone_text = ""
        for _ in range(50):
            gone_text = gone.inner_text()
            if gone_text:
                break
            page.wait_for_timeout(100)
        assert "kernel has stopped" in gone_text, f"the kernel-gone line reads {gone_text!r}"
        assert app.locator(".nndl-live-controls").is_hidden()
        # the grid frames show again and the grid slider switches them (jslink, no kernel)
        shown = app.evaluate(VISIBLE_PNG)
        assert "nndl-live-frame" in shown.get("cls", ""), shown.get("cls")  # the typed value
        app.locator(f".nndl-grid-{key} .noUi-handle").focus()
        page.keyboard.press("Home")
        page.wait_for_timeout(500)
        after_home = app.evaluate(VISIBLE_PNG)
        assert "b64" in after_home, after_home
        assert base64.b64decode(after_home["b64"]) in frames, (
            "no grid frame after the kernel stopped"
        )
        assert readout.inner_text().strip() == fmt_label(grid[0])
        status = page.locator(KERNEL_STATUS).first.get_attribute("data-status")
        assert not page_errors, f"page errors: {page_errors}"
        assert not external, f"requests leaving 127.0.0.1: {external}"
    except Exception as err:
        raise AssertionError(f"{err}\n{diagnose(page, jupyter_lab)}") from err
    finally:
        context.close()
    browser_report(
        f"jupyterlab: {what}: opened in {t_open - t_start:.1f} s, ran in {t_ran - t_open:.1f} s; "
        f"{app_name} {key} {value_before} -> {value_after} redrawn in "
        f"{t_redrawn - t_moved:.1f} s; kernel shut down: message shown (status {status}); "
        f"total {time.perf_counter() - t_start:.1f} s"
    )


# The dropout app on few images: quick to build, and its live-only controls can ask
# for a run of many seconds (1,000 hidden units, 100 epochs).
WAITING_CELLS = [
    "import widgets\nfrom nndl_lab.data import get_data\n\n"
    "data = get_data('digits')\n"
    "app = widgets.dropout_regularization(data, num_train=100, num_epochs=5)\napp",
]


def test_rapid_moves_and_interrupted_run_in_jupyterlab(browser, jupyter_lab: Lab, browser_report):
    """Rapid slider moves end on the last setting; a change during a long run interrupts
    it (the run shows progress first); the figure is the kernel's, for the last setting."""
    t_start = time.perf_counter()
    name, what = write_notebook(jupyter_lab.root, WAITING_CELLS)
    probe_path = jupyter_lab.root / PROBE_FILE
    external: list[str] = []
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = None
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
        first = read_probe(page, probe_path, 0, RUN_TIMEOUT_S)
        app = page.locator(".jp-OutputArea .nndl-app").first
        app.wait_for(state="visible", timeout=30_000)
        app.scroll_into_view_if_needed()
        busy = app.locator(".nndl-busy")

        def settled(before: dict, timeout: float) -> dict:
            """The app's state once it shows a new live frame (the kernel's) and is not busy."""
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                now = app.evaluate(VISIBLE_PNG)
                new = "b64" in now and now["b64"] != before.get("b64")
                if new and not now["busy"] and "nndl-live-frame" in now["cls"]:
                    return now
                page.wait_for_timeout(100)
            raise AssertionError(f"the app did not settle within {timeout:.0f} s")

        # 1. rapid moves: five arrow presses without waiting
        handle = app.locator(".nndl-grid-keep_ratio .noUi-handle")
        before = app.evaluate(VISIBLE_PNG)
        handle.focus()
        for key in ("ArrowLeft", "ArrowLeft", "ArrowLeft", "ArrowRight", "ArrowLeft"):
            page.keyboard.press(key)
        readout = app.locator(".nndl-grid-keep_ratio .widget-readout")
        settled(before, RETRAIN_TIMEOUT_S)
        seq = first["seq"]
        probe_cell = page.locator(".jp-Notebook .jp-Cell", has_text="Test probe").last

        def run_probe(after: int, timeout: float = 30) -> dict:
            probe_cell.locator(".jp-InputArea-editor").click()
            page.keyboard.press("Shift+Enter")
            return read_probe(page, probe_path, after, timeout)

        for _ in range(20):  # ask the kernel until it has drawn its latest setting
            second = run_probe(seq)
            seq = second["seq"]
            (kernel_app,) = second["apps"]
            if kernel_app["setting"] == kernel_app["shown_setting"]:
                break
            page.wait_for_timeout(500)
        shown = app.evaluate(VISIBLE_PNG)
        last = float(readout.inner_text().strip())
        assert kernel_app["shown_setting"]["keep_ratio"] == last, (kernel_app, last)
        assert kernel_app["setting"] == kernel_app["shown_setting"]
        assert base64.b64decode(kernel_app["live_frame"]) == base64.b64decode(shown["b64"])

        # 2. a long run (1,000 images, 1,000 hidden units, 100 epochs: many seconds),
        # interrupted by a short one
        before = shown
        for key, value in (("width", "1000"), ("num_train", "1000"), ("num_epochs", "100")):
            box = app.locator(f".nndl-entry-{key} input")
            box.fill(value)
            box.press("Enter")
        progress = app.locator(".nndl-progress")
        progress.wait_for(state="visible", timeout=20_000)
        for _ in range(50):  # the elapsed time follows the bar within a tick
            waiting = busy.inner_text().strip()
            if " s" in waiting:
                break
            page.wait_for_timeout(100)
        assert waiting.startswith("computing…") and " s" in waiting, waiting
        t_change = time.perf_counter()
        box = app.locator(".nndl-entry-num_epochs input")
        box.fill("5")
        box.press("Enter")
        settled(before, RETRAIN_TIMEOUT_S)
        t_done = time.perf_counter()
        third = run_probe(seq, 60)
        (kernel_app,) = third["apps"]
        assert kernel_app["cancelled"] >= 1, "the long run was not interrupted"
        assert kernel_app["shown_setting"]["num_epochs"] == 5.0
        assert kernel_app["shown_setting"]["width"] == 1000.0
        assert kernel_app["last_error"] is None, kernel_app["last_error"]
        assert not page_errors, f"page errors: {page_errors}"
        assert not external, f"requests leaving 127.0.0.1: {external}"
    except Exception as err:
        raise AssertionError(f"{err}\n{diagnose(page, jupyter_lab)}") from err
    finally:
        context.close()
    browser_report(
        f"jupyterlab: {what}: rapid moves ended on the last setting; a long run showed "
        f"{waiting!r} and was interrupted: the short setting drawn {t_done - t_change:.1f} s "
        f"after the change; total {time.perf_counter() - t_start:.1f} s"
    )
