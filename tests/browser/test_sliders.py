"""Every gridded slider of every app in the built book shows the right precomputed frame.

For each page of the built HTML that displays an app (``.nndl-app``), served from
127.0.0.1 with every other request aborted, in headless Chromium:

- the expected frames come from the page alone: the embedded widget state holds
  every frame's PNG bytes, the nested Stacks give each its grid point, and the
  ``jslink`` models tie each slider to a grid axis (``widget_apps.py``);
- **keyboard**: each slider handle is focused and moved with Home, then
  ArrowRight/ArrowLeft along a path that visits every grid point (all
  combinations for a 2-D grid, one arrow step at a time), then End and Home;
- **mouse**: every grid point again, each move a click on the slider's track at
  the computed position or a drag of its handle there (both kinds on every
  slider; see ``AppCheck.mouse``);
- after each move, the one visible image of the app (inside
  ``.nndl-mode-stack``) must have exactly the PNG bytes of that point's frame
  (fetched from its ``blob:`` URL), the slider's handle must report that
  position and its readout that value's label, the handle must carry an
  ``aria-label`` (the control's description) and an ``aria-valuetext`` equal
  to the readout, and the app's height must not change (a frame swap never
  moves the page);
- no shown control is inert: every control that is visible in the static page
  is a grid control (the live-only ones are hidden), and the app shows its one
  line about the live notebook;
- no console error, page error, failed request or request leaving the server.

The page weights (HTML, widget state, frames per app) and the time per app are
printed at the end of the session.  Run against another build with
``NNDL_BOOK_HTML=/path/to/_build/html``.
"""

from __future__ import annotations

import base64
import itertools
import time
from collections.abc import Callable

import pytest

from .conftest import IN_CI, book_html_dir, skip_or_fail, toc_docnames
from .widget_apps import App, Slider, app_name, page_apps, snake, widget_state

pytestmark = pytest.mark.browser

WAIT_S = 3.0  # how long a move may take to show its frame

TAG_APPS = """() => {
  const out = [];
  const scripts = document.querySelectorAll(
    'script[type="application/vnd.jupyter.widget-view+json"]');
  scripts.forEach((script, k) => {
    const id = JSON.parse(script.textContent).model_id;
    const area = script.previousElementSibling;  // where embed-amd.js renders the view
    const apps = area && area.classList.contains('widget-subarea')
      ? Array.from(area.querySelectorAll('.nndl-app')) : [];
    apps.forEach((app, j) => app.setAttribute('data-nndl-test', `${k}:${j}`));
    out.push([id, apps.length]);
  });
  return out;
}"""

# What the app shows now: the bytes of its one visible image (fetched from the
# image's blob: URL) and, per grid control, its position and readout.
SHOWN = """async ([selector, controls]) => {
  const app = document.querySelector(selector);
  if (!app) return {error: `no element ${selector}`};
  const out = {positions: [], readouts: [], aria: [], height: app.getBoundingClientRect().height};
  for (const key of controls) {
    const el = app.querySelector(`.nndl-grid-slider.nndl-grid-${key}`);
    const handle = el && el.querySelector('.noUi-handle');
    if (handle) {
      out.positions.push(Math.round(Number(handle.getAttribute('aria-valuenow'))));
      const readout = el.querySelector('.widget-readout');
      out.readouts.push(readout ? readout.textContent.trim() : null);
      const label = el.querySelector('.widget-label');
      out.aria.push([handle.getAttribute('aria-label'), handle.getAttribute('aria-valuetext'),
                     label ? label.textContent.trim() : null]);
    } else {  // ToggleButtons
      const buttons = el ? Array.from(el.querySelectorAll('button')) : [];
      const active = buttons.flatMap((b, i) => b.classList.contains('mod-active') ? [i] : []);
      out.positions.push(active.length === 1 ? active[0] : null);
      out.readouts.push(null);
      out.aria.push(null);
    }
  }
  const imgs = Array.from(app.querySelectorAll('.nndl-mode-stack img'))
    .filter((img) => img.getClientRects().length > 0);
  if (imgs.length !== 1) return {...out, error: `${imgs.length} visible images in the app`};
  const img = imgs[0];
  out.cls = img.className;
  if (!img.src) return {...out, error: 'the visible image has no src'};
  if (!img.complete || img.naturalWidth === 0) {
    return {...out, error: 'the visible image is not loaded'};
  }
  const bytes = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  out.b64 = btoa(s);
  return out;
}"""


# Viewport points of positions on a slider's track (see Mover._points).
TRACK_POINTS = """async (el, [positions, n]) => {
  const inView = (r) => r.top >= 0 && r.bottom <= window.innerHeight
    && r.left >= 0 && r.right <= window.innerWidth;
  if (!inView(el.getBoundingClientRect())) el.scrollIntoView({block: 'center', inline: 'center'});
  const t0 = performance.now();
  while (el.querySelector('.noUi-state-tap')) {
    if (performance.now() - t0 > 3000) return {error: 'the tap animation does not end'};
    await new Promise((ok) => requestAnimationFrame(ok));
  }
  const base = el.querySelector('.noUi-base');
  if (!base) return {error: 'no .noUi-base'};
  const r = base.getBoundingClientRect();
  const y = r.top + r.height / 2;
  const x = (i) => r.left + 1 + (r.width - 2) * (n > 1 ? i / (n - 1) : 0.5);
  const points = positions.map((i) => [x(i), y]);
  for (const [x, yy] of points) {
    const hit = document.elementFromPoint(x, yy);
    if (!hit || !base.contains(hit)) {
      return {error: `(${x}, ${yy}) is on ${hit ? hit.className : 'nothing'}, not the track`};
    }
  }
  return {points};
}"""


# Controls a reader can see in the app: every visible input, button, select, slider handle.
VISIBLE_CONTROLS = """(app) => {
  const shown = (el) => el.getClientRects().length > 0
    && getComputedStyle(el).visibility !== 'hidden';
  const out = [];
  app.querySelectorAll('input, button, select, textarea, .noUi-handle').forEach((el) => {
    if (!shown(el)) return;
    const control = el.closest('.nndl-control, .widget-text, .widget-inline-hbox');
    const grid = el.closest('.nndl-grid-slider');
    out.push({grid: Boolean(grid), what: (control || el).className});
  });
  const lines = Array.from(app.querySelectorAll('.nndl-static-only'))
    .filter((el) => el.getClientRects().length > 0).map((el) => el.textContent.trim());
  const live = Array.from(app.querySelectorAll('.nndl-live-only'))
    .filter((el) => el.getClientRects().length > 0).length;
  return {controls: out, lines, live};
}"""


def app_pages() -> list:
    """Docnames of the built pages that display an app (decided at collection)."""
    html = book_html_dir()
    if not (html / "index.html").is_file():
        return [pytest.param(None, id="no-built-book")]
    found = []
    for docname in toc_docnames():
        path = html / f"{docname}.html"
        if not path.is_file():
            continue
        source = path.read_text(encoding="utf-8")
        models = widget_state(source) if "nndl-app" in source else {}
        if any(app_name(m) is not None for m in models.values()):
            found.append(docname)
    return found or [pytest.param(None, id="no-app-pages")]


class Mover:
    """Moves one grid control of one app in the page, with keyboard or mouse."""

    def __init__(self, page, app_selector: str, slider: Slider):
        self.page, self.slider = page, slider
        self.root = page.locator(f"{app_selector} .nndl-grid-slider.nndl-grid-{slider.key}")
        count = self.root.count()
        if count != 1:
            raise AssertionError(f"{count} elements .nndl-grid-{slider.key} in {app_selector}")
        self.toggle = slider.model_name == "ToggleButtonsModel"
        if self.toggle:
            self.buttons = self.root.locator("button")
        else:
            self.handle = self.root.locator(".noUi-handle")

    # -- keyboard ----------------------------------------------------------

    def press(self, key: str) -> None:
        """Focus the control and press ``key`` (ArrowLeft/ArrowRight/Home/End)."""
        if self.toggle:
            current = 0
            for i in range(self.buttons.count()):
                if "mod-active" in (self.buttons.nth(i).get_attribute("class") or ""):
                    current = i
            target = {
                "Home": 0,
                "End": self.slider.size - 1,
                "ArrowRight": min(current + 1, self.slider.size - 1),
                "ArrowLeft": max(current - 1, 0),
            }[key]
            self.buttons.nth(target).focus()
            self.page.keyboard.press("Space")
            return
        self.handle.focus()
        self.page.keyboard.press(key)

    # -- mouse -------------------------------------------------------------

    def _points(self, positions: list[int], what: str) -> list[tuple[float, float]]:
        """Viewport points of slider positions on the track, ready for the mouse.

        Scrolls the slider to the middle of the viewport if it is not in view,
        waits for a tap animation to end (noUiSlider ignores the mouse on a
        slider for the 300 ms after a click on its track, class
        ``noUi-state-tap``, a person would wait too) and checks that each point
        lands on this slider's track.  Positions are 1 px inside the track's ends.
        """
        got = self.root.evaluate(TRACK_POINTS, [positions, self.slider.size])
        if "error" in got:
            raise AssertionError(f"{what} on {self.slider.key}: {got['error']}")
        return [tuple(p) for p in got["points"]]

    def click(self, i: int) -> None:
        """Click the track (or the toggle button) at position ``i``."""
        if self.toggle:
            self.buttons.nth(i).click()
            return
        ((x, y),) = self._points([i], "click")
        self.page.mouse.click(x, y)

    def drag(self, i: int, current: int) -> None:
        """Drag the handle from position ``current`` (where it is) to position ``i``."""
        if self.toggle:
            self.click(i)
            return
        (x0, y), (x1, _) = self._points([current, i], "drag")
        self.page.mouse.move(x0, y)
        self.page.mouse.down()
        self.page.mouse.move(x1, y, steps=3)
        self.page.mouse.up()


class AppCheck:
    """Moves an app's sliders and checks the visible frame after each move."""

    def __init__(self, page, selector: str, app: App):
        self.page, self.selector, self.app = page, selector, app
        self.movers = [Mover(page, selector, s) for s in app.sliders]
        self.keys = [s.key for s in app.sliders]
        self.checks = 0
        self.heights: set[float] = set()

    def shown(self) -> dict:
        return self.page.evaluate(SHOWN, [self.selector, self.keys])

    def positions(self) -> list[int | None]:
        return self.shown()["positions"]

    def expect(self, point: tuple[int, ...], how: str) -> None:
        """The app must show the frame of ``point``; raises with what it shows instead.

        Waits up to ``WAIT_S`` for the image, the positions, the readouts and the
        handles' labels to agree with ``point``, then reports whatever still does not.
        """
        deadline = time.monotonic() + WAIT_S
        while True:
            got = self.shown()
            problems = self.problems(point, got)
            if not problems or time.monotonic() > deadline:
                break
            self.page.wait_for_timeout(20)
        self.checks += 1
        self.heights.add(round(got["height"], 1))
        if max(self.heights) - min(self.heights) > 0.5:
            problems.append(f"the app's height changed: {sorted(self.heights)} px")
        if problems:
            setting = {s.key: s.labels[i] for s, i in zip(self.app.sliders, point, strict=True)}
            raise AssertionError(
                f"{self.app.name}: after {how}, expected the frame of {point} {setting}: "
                + "; ".join(problems)
            )

    def problems(self, point: tuple[int, ...], got: dict) -> list[str]:
        """What in ``got`` (from ``SHOWN``) disagrees with the grid point ``point``."""
        want = self.app.frames[point]
        png = base64.b64decode(got["b64"]) if "b64" in got else None
        problems = []
        if png != want:
            if png is None:
                problems.append(got.get("error", "no image"))
            else:
                same = self.app.which(png)
                problems.append(
                    f"shows the frame of {same[0] if same else 'no grid point'}"
                    f" (classes {got.get('cls')!r})"
                )
        if got["positions"] != list(point):
            problems.append(f"slider positions are {got['positions']}")
        for s, i, readout in zip(self.app.sliders, point, got["readouts"], strict=True):
            if readout is not None and readout != s.labels[i]:
                problems.append(f"{s.key} reads {readout!r}, not {s.labels[i]!r}")
        for s, i, aria in zip(self.app.sliders, point, got["aria"], strict=True):
            if aria is None:
                continue
            label, text, description = aria
            if not label or label != description:
                problems.append(f"{s.key}: handle aria-label {label!r}, not {description!r}")
            if text != s.labels[i]:
                problems.append(f"{s.key}: handle aria-valuetext {text!r}, not {s.labels[i]!r}")
        return problems

    def no_inert_controls(self) -> None:
        """Every visible control is a grid control; the live-notebook line is shown."""
        got = self.page.locator(self.selector).evaluate(VISIBLE_CONTROLS)
        inert = [c["what"] for c in got["controls"] if not c["grid"]]
        problems = []
        if inert:
            problems.append(f"{len(inert)} visible control(s) that need a kernel: {inert[:5]}")
        if got["live"]:
            problems.append(f"{got['live']} .nndl-live-only element(s) visible")
        if len(got["lines"]) != 1 or "live notebook" not in got["lines"][0]:
            problems.append(f"the static-page line is {got['lines']!r}")
        if problems:
            raise AssertionError(f"{self.app.name}: " + "; ".join(problems))

    def keyboard(self) -> None:
        """Home on each slider, every grid point by arrow steps, then End/Home/End."""
        point = list(self.app.default)
        self.expect(tuple(point), "loading the page")
        for axis, m in enumerate(self.movers):
            m.press("Home")
            point[axis] = 0
            self.expect(tuple(point), f"Home on {m.slider.key}")
        path = list(snake(self.app.shape))
        for prev, nxt in itertools.pairwise(path):
            axis = next(a for a in range(len(nxt)) if nxt[a] != prev[a])
            key = "ArrowRight" if nxt[axis] > prev[axis] else "ArrowLeft"
            self.movers[axis].press(key)
            self.expect(nxt, f"{key} on {self.movers[axis].slider.key}")
        point = list(path[-1])
        for axis, m in enumerate(self.movers):
            for key, i in (("End", m.slider.size - 1), ("Home", 0), ("End", m.slider.size - 1)):
                m.press(key)
                point[axis] = i
                self.expect(tuple(point), f"{key} on {m.slider.key}")

    def mouse(self) -> None:
        """Every grid point again (snake order), each move a click or a drag.

        After a click on its track a slider animates for 300 ms and ignores the
        mouse meanwhile (a person would wait too), so clicks go where the same
        slider is not touched right after: every move of the outer sliders, and
        the inner slider on its last sweep; the other inner moves are drags.
        A 1-D grid alternates clicks and drags.
        """
        current = list(self.positions())
        inner = len(self.movers) - 1
        path = list(snake(self.app.shape))
        start = path[0]
        for axis, m in enumerate(self.movers):  # to the first point of the path
            if current[axis] != start[axis]:
                m.click(start[axis])
                current[axis] = start[axis]
                self.expect(tuple(current), f"click on {m.slider.key} at {start[axis]}")
        for k, point in enumerate(path[1:]):
            axis = next(a for a in range(len(point)) if point[a] != current[a])
            m, i = self.movers[axis], point[axis]
            if axis < inner:
                click = True
            elif inner == 0:
                click = k % 2 == 0
            else:
                click = point[:inner] == path[-1][:inner]
            if click:
                m.click(i)
            else:
                m.drag(i, current[axis])
            current[axis] = i
            self.expect(point, f"{'click on' if click else 'drag of'} {m.slider.key} to {i}")


@pytest.mark.parametrize("docname", app_pages())
def test_gridded_sliders_show_their_frames(
    docname, built_book, book_server, page_visit, browser_report: Callable[[str], None]
):
    if docname is None:
        reason = "the built book displays no app (no page has an .nndl-app)"
        if IN_CI and (built_book / "index.html").is_file():
            pytest.fail(f"{reason}: chapters with apps are expected (CI is set)")
        skip_or_fail(reason)
    html_file = built_book / f"{docname}.html"
    source = html_file.read_text(encoding="utf-8")
    views, apps = page_apps(source)
    assert apps, f"{docname}.html embeds an app's models but displays no app"
    structure = [f"{a.name}: {p}" for a in apps.values() for p in a.problems]
    assert not structure, f"{docname}.html: app structure:\n  " + "\n  ".join(structure)

    start = time.perf_counter()
    visit = page_visit(book_server + f"{docname}.html")
    page = visit.page
    expected = sum(len(ids) for _, ids in views)
    try:
        page.wait_for_function(
            "(n) => document.querySelectorAll('.nndl-app .nndl-mode-stack img').length >= n",
            arg=expected,
            timeout=20_000,
        )
    except Exception as err:  # noqa: BLE001 - reported with the page's faults
        rendered = page.locator(".nndl-app").count()
        missing = f"{expected} app(s) in the state, {rendered} rendered: {err}"
        problems = [*visit.problems(), missing]
        pytest.fail(f"{docname}.html:\n  " + "\n  ".join(problems))
    tagged = page.evaluate(TAG_APPS)  # [model id, apps rendered] per view, in order
    load_s = time.perf_counter() - start
    failures: list[str] = []
    lines = [
        f"{docname}.html: {html_file.stat().st_size / 1024:.1f} KiB "
        f"(widget state {sum(a.state_bytes() for a in apps.values()) / 1024:.1f} KiB "
        f"of frames), {len(apps)} app(s), loaded in {load_s:.1f} s"
    ]
    if [v for v, _ in tagged] != [v for v, _ in views]:
        failures.append(f"widget views in the page {tagged} differ from the HTML's {views}")
        tagged = []
    for k, ((view_id, ids), (_, shown)) in enumerate(zip(views, tagged, strict=False)):
        if shown != len(ids):
            failures.append(f"view {view_id}: {len(ids)} app(s) in the state, {shown} shown")
            continue
        for j, app_id in enumerate(ids):
            app = apps[app_id]
            selector = f'[data-nndl-test="{k}:{j}"]'
            rendered = page.locator(selector).get_attribute("class") or ""
            if f"nndl-app-{app.name}" not in rendered.split():
                failures.append(f"app {app.name}: rendered element has classes {rendered!r}")
                continue
            if not app.sliders:
                continue
            t0 = time.perf_counter()
            check = None
            try:
                check = AppCheck(page, selector, app)
                check.no_inert_controls()
                check.keyboard()
                check.mouse()
            except AssertionError as err:
                failures.append(str(err))
            lines.append(
                f"  {app.name}: grid {'x'.join(map(str, app.shape))}, {len(app.frames)} frames, "
                f"{sum(map(len, app.frames.values())) / 1024:.1f} KiB PNG "
                f"({app.state_bytes() / 1024:.1f} KiB in the page, {app.labelled} labelled "
                f"with their setting); {check.checks if check else 0} checked moves in "
                f"{time.perf_counter() - t0:.1f} s"
            )
    for line in lines:
        browser_report(line)
    failures = visit.problems() + failures
    assert not failures, f"{docname}.html:\n  " + "\n  ".join(failures)
