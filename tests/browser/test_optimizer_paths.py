"""widgets.paths in the static HTML book, with no kernel: the page computes what Python does.

A one-page book (:mod:`tests.browser.paths_book`: this checkout's ``_config.yml``,
a generated notebook with ``widgets.optimizer_paths`` and
``widgets.momentum_rate_map``) is built into a temporary folder and served on
127.0.0.1. In headless Chromium:

- the page loads with no failed request, no request off the local server, no
  console or page error; both widgets render;
- the page's arithmetic (``window.nndlOptimizerPaths``) agrees with the engine:
  the paths of all five rules for random settings of every surface (>= 20 per
  rule, with and without gradient noise, runs that diverge included: the same
  step of divergence), to 1e-9 of the run's scale; the gradient noise bit for bit;
  the rates, stability limits, critical momenta, optima, the convergence map and
  the error per eigen-direction; Adam's ``beta ** t`` correctly rounded;
- every control of both widgets, moved to an arbitrary (non-grid) value, changes
  the drawing, sets its trait to the value the control shows, and the paths drawn
  are then Python's for the widget's setting;
- the arrow keys move the sliders, the start point and the map's choice;
- dragging the start point moves every path's first point there; a click on the
  map sets the learning rate and the momentum of the paths;
- the text is at least 10 px, every control has an aria-label (sliders an
  aria-valuetext);
- redraw times (300 steps of the five rules) and the page weight are printed in
  the browser report, not asserted.
"""

from __future__ import annotations

import functools
import http.server
import math
import re
import subprocess
import threading
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from nndl_lab.experiments import rates
from nndl_lab.experiments.surfaces import (
    PAGE_SURFACES,
    PATH_RULES,
    gradient_noise,
    make_surface,
    surface_paths,
)

from . import paths_book
from .conftest import _QuietHandler, skip_or_fail

pytestmark = pytest.mark.browser

PAGE = f"{paths_book.DOCNAME}.html"
TOLERANCE = 1e-9  # relative to the largest coordinate of the run
WIDGET_STATE_RE = re.compile(
    r'<script type="application/vnd\.jupyter\.widget-state\+json">(.*?)</script>', re.DOTALL
)


@pytest.fixture(scope="module")
def paths_page(tmp_path_factory):
    folder = tmp_path_factory.mktemp("paths-book")
    try:
        html, seconds, _ = paths_book.build(folder)
    except subprocess.CalledProcessError as err:
        skip_or_fail(f"vendoring the page scripts failed (npm offline?): {err.stderr[-500:]}")
    return html, seconds


@pytest.fixture(scope="module")
def book_server(paths_page):
    """Serve the one-page book (overrides the conftest's server of the main build)."""
    html, _ = paths_page
    root = html.parents[1]
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


READY = """() => {
  const roots = document.querySelectorAll('.nndl-optimizer-paths');
  return roots.length === 2 && Array.from(roots).every((r) => r.dataset.redraws);
}"""

READY_ONE = """() => {
  const roots = document.querySelectorAll('.nndl-optimizer-paths');
  return roots.length >= 1 && Array.from(roots).every((r) => r.dataset.redraws);
}"""

SNAPSHOT = """(i) => {
  const root = document.querySelectorAll('.nndl-optimizer-paths')[i];
  return Array.from(root.querySelectorAll('canvas')).map((c) => c.toDataURL());
}"""

REDRAWS = """(i) => Number(document.querySelectorAll('.nndl-optimizer-paths')[i].dataset.redraws)"""

# the widget's setting, the runs it drew (NaN -> null) and its map numbers
VIEW = """(i) => {
  const view = document.querySelectorAll('.nndl-optimizer-paths')[i].nndlView;
  const runs = {};
  for (const [rule, run] of Object.entries(view.runs || {})) {
    runs[rule] = {
      path: Array.from(run.path, (v) => (Number.isNaN(v) ? null : v)),
      divergedAt: run.divergedAt,
    };
  }
  return {setting: view.setting(), runs, rules: view.get('rules'),
          map_rule: view.get('map_rule'), panels: view.get('panels'),
          eigen: view.eigen || null};
}"""


@pytest.fixture
def page(page_visit, book_server):
    visit = page_visit(book_server + PAGE)
    visit.page.wait_for_function(READY, timeout=20_000)
    yield visit.page
    assert not visit.problems(), "\n".join(visit.problems())


def js_path(values):
    return np.array([np.nan if v is None else v for v in values], dtype=float).reshape(-1, 2)


def assert_same_run(py, js, what):
    assert js["divergedAt"] == py["diverged_at"], (
        f"{what}: diverged at {js['divergedAt']} in the page, {py['diverged_at']} in Python"
    )
    ours, theirs = py["path"], js_path(js["path"])
    assert ours.shape == theirs.shape, what
    finite = np.isfinite(ours)
    assert np.array_equal(finite, np.isfinite(theirs)), f"{what}: NaN at other steps"
    if not finite.any():
        return 0.0
    scale = max(np.abs(ours[finite]).max(), 1e-300)
    error = float(np.abs(ours[finite] - theirs[finite]).max() / scale)
    assert error <= TOLERANCE, f"{what}: relative difference {error:.3g}"
    return error


def assert_view_matches_python(page, i, what):
    view = page.evaluate(VIEW, i)
    setting = view["setting"]
    python = surface_paths(**setting, rules=list(view["runs"]))
    for rule, run in python.items():
        assert_same_run(run, view["runs"][rule], f"{what}, {rule}")
    return view


def random_settings(rng, count):
    settings = []
    for k in range(count):
        surface = PAGE_SURFACES[k % len(PAGE_SURFACES)]
        kappa = float(10 ** rng.uniform(0, 3))
        the_surface = make_surface(surface, kappa)
        lr_range = (-5.5, -1.5) if surface == "rosenbrock" else (-4.0, -0.3)
        settings.append(
            {
                "surface": surface,
                "kappa": kappa,
                "learning_rate": float(10 ** rng.uniform(*lr_range)),
                "momentum": float(rng.uniform(0, 0.999)),
                "adaptive_learning_rate": float(10 ** rng.uniform(-3.5, 0.3)),
                "decay_rate": float(1 - 10 ** rng.uniform(-4, 0)),
                "beta1": float(1 - 10 ** rng.uniform(-3, 0)),
                "beta2": float(1 - 10 ** rng.uniform(-4, 0)),
                "epsilon": float(10 ** rng.uniform(-10, -0.5)),
                "num_steps": int(rng.integers(1, 400)),
                "noise": float(0.0 if k % 3 == 0 else 10 ** rng.uniform(-2, 1.5)),
                "seed": int(rng.integers(0, 2**32)),
                "start": [
                    float(rng.uniform(*the_surface.xlim)),
                    float(rng.uniform(*the_surface.ylim)),
                ],
            }
        )
    return settings


PAGE_PATHS = """(settings) => settings.map((s) => {
  const runs = window.nndlOptimizerPaths.surfacePaths(s);
  const out = {};
  for (const [rule, run] of Object.entries(runs)) {
    out[rule] = {path: Array.from(run.path, (v) => (Number.isNaN(v) ? null : v)),
                 divergedAt: run.divergedAt};
  }
  return out;
})"""


def test_paths_agree_with_the_engine(page, browser_report):
    rng = np.random.default_rng(20261130)
    settings = random_settings(rng, 48)  # 48 settings x 5 rules, 12 per surface
    pages = page.evaluate(PAGE_PATHS, settings)
    errors = {rule: [] for rule in PATH_RULES}
    diverged = converged = bitwise = 0
    for k, (setting, js) in enumerate(zip(settings, pages, strict=True)):
        python = surface_paths(**setting)
        for rule in PATH_RULES:
            error = assert_same_run(python[rule], js[rule], f"setting {k} {setting}, {rule}")
            errors[rule].append(error)
            bitwise += error == 0.0
            if python[rule]["diverged_at"] is None:
                converged += 1
            else:
                diverged += 1
    assert all(len(e) >= 20 for e in errors.values())
    assert diverged >= 10 and converged >= 100, (diverged, converged)  # both kinds were compared
    worst = ", ".join(f"{rule} {max(e):.1e}" for rule, e in errors.items())
    browser_report(
        f"paths page vs Python: {len(settings)} settings x 5 rules, {diverged} runs diverged "
        f"(same step), {bitwise}/{5 * len(settings)} bit for bit; largest relative difference: "
        f"{worst}"
    )


def test_noise_and_rates_agree_with_the_engine(page):
    rng = np.random.default_rng(7)
    seeds = [0, 1, 12345, 2**32 - 1, int(rng.integers(0, 2**32))]
    noise = page.evaluate(
        "(seeds) => seeds.map((s) => Array.from(window.nndlOptimizerPaths.gradientNoise(s, 60)))",
        seeds,
    )
    for seed, values in zip(seeds, noise, strict=True):
        np.testing.assert_array_equal(np.reshape(values, (60, 2)), gradient_noise(seed, 60))

    cases = []
    for k in range(60):
        rule = rates.MOMENTUM_RULES[k % 2]
        kappa = float(10 ** rng.uniform(0, 3))
        cases.append(
            {
                "rule": rule,
                "kappa": kappa,
                "lr": float(rng.uniform(0, 4.5 / kappa)),
                "mu": float(rng.uniform(0, 0.999)),
                "lam": float(10 ** rng.uniform(-1, 3)),
            }
        )
    page_values = page.evaluate(
        """(cases) => cases.map((c) => {
          const A = window.nndlOptimizerPaths;
          return {
            direction: A.directionRate(c.rule, c.lr, c.mu, c.lam),
            worst: A.worstCaseRate(c.rule, c.lr, c.mu, 1.0, c.kappa),
            limit: A.stabilityLimit(c.rule, c.mu, c.kappa),
            critical: A.criticalMomentum(c.rule, c.lr, c.lam),
            best: A.optimalParameters(c.rule, 1.0, c.kappa),
            eigen: A.eigenErrors(c.rule, c.lr, c.mu, [1.0, c.lam, c.kappa], 80),
          };
        })""",
        cases,
    )
    for c, js in zip(cases, page_values, strict=True):
        rule, lr, mu, lam, kappa = c["rule"], c["lr"], c["mu"], c["lam"], c["kappa"]
        assert js["direction"] == float(rates.direction_rate(rule, lr, mu, lam)), c
        assert js["worst"] == float(rates.worst_case_rate(rule, lr, mu, 1.0, kappa)), c
        assert js["limit"] == float(rates.stability_limit(rule, mu, kappa)), c
        critical = float(rates.critical_momentum(rule, lr, lam))
        if math.isnan(critical):
            assert js["critical"] is None or math.isnan(js["critical"]), c
        else:
            assert js["critical"] == critical, c
        assert js["best"] == rates.optimal_parameters(rule, 1.0, kappa), c
        python = rates.eigen_errors(rule, lr, mu, [1.0, lam, kappa], 80)
        np.testing.assert_array_equal(np.array(js["eigen"], dtype=float), python)

    lrs = np.linspace(0, 0.08, 57)
    mus = np.linspace(0, 0.999, 41)
    for rule in rates.MOMENTUM_RULES:
        grid = page.evaluate(
            "([r, lrs, mus]) => window.nndlOptimizerPaths.rateMap(r, 50, lrs, mus)",
            [rule, lrs.tolist(), mus.tolist()],
        )
        np.testing.assert_array_equal(np.array(grid), rates.rate_map(rule, 50.0, lrs, mus))


def test_adam_bias_correction_power_is_correctly_rounded(page):
    rng = np.random.default_rng(3)
    pairs = [
        (float(b), int(t))
        for b, t in zip(
            np.concatenate([rng.uniform(0, 1, 300), 1 - 10 ** rng.uniform(-5, -1, 300)]),
            rng.integers(1, 3000, 600),
            strict=True,
        )
    ]
    got = page.evaluate(
        "(pairs) => pairs.map(([b, t]) => window.nndlOptimizerPaths.powInt(b, t))", pairs
    )
    wrong = [
        (b, t) for (b, t), value in zip(pairs, got, strict=True) if value != float(Fraction(b) ** t)
    ]
    assert not wrong, f"powInt is not the correctly rounded power for {wrong[:5]}"


def range_inputs(page, i):
    root = page.locator(".nndl-optimizer-paths").nth(i)
    return root, root.locator("input[type=range]")


def wait_redraw(page, i, before):
    page.wait_for_function(
        f"() => Number(document.querySelectorAll('.nndl-optimizer-paths')[{i}]"
        f".dataset.redraws) > {before}",
        timeout=5_000,
    )


def slider_value(kind_trait, position):
    """What the page's slider position means (the mapping of paths.js)."""
    if kind_trait in ("kappa", "learning_rate", "adaptive_learning_rate", "epsilon"):
        return 10.0**position
    if kind_trait in ("decay_rate", "beta1", "beta2"):
        return 1.0 - 10.0 ** (-position)
    if kind_trait == "noise":
        return position * position
    if kind_trait == "num_steps":
        return round(position)
    return position


@pytest.mark.parametrize("i", [0, 1])
def test_every_control_changes_the_drawing(page, i):
    rng = np.random.default_rng(100 + i)
    root, sliders = range_inputs(page, i)
    root.scroll_into_view_if_needed()
    traits = [sliders.nth(k).get_attribute("data-trait") for k in range(sliders.count())]
    expected = {"kappa", "learning_rate", "momentum", "num_steps", "noise"}
    if i == 0:
        expected |= {"adaptive_learning_rate", "decay_rate", "beta1", "beta2", "epsilon"}
    assert set(traits) == expected
    # noise before the seed, so the seed matters
    order = sorted(range(len(traits)), key=lambda k: traits[k] == "noise", reverse=True)
    for k in order:
        trait, slider = traits[k], sliders.nth(k)
        lo, hi = float(slider.get_attribute("min")), float(slider.get_attribute("max"))
        # epsilon shows only where it is not negligible against sqrt(a): its upper range
        u = rng.uniform(0.8, 0.95) if trait == "epsilon" else rng.uniform(0.25, 0.75)
        position = lo + (hi - lo) * float(u)
        if trait == "num_steps":
            position = float(round(position))
        elif trait == "momentum":
            position = 0.5 + 0.4 * float(rng.uniform())  # away from the map's white corner
        before_shot, before = page.evaluate(SNAPSHOT, i), page.evaluate(REDRAWS, i)
        slider.fill(repr(position))
        wait_redraw(page, i, before)
        value = page.evaluate(
            f"() => document.querySelectorAll('.nndl-optimizer-paths')[{i}].nndlView.get('{trait}')"
        )
        assert math.isclose(value, slider_value(trait, position), rel_tol=1e-12), trait
        assert page.evaluate(SNAPSHOT, i) != before_shot, f"{trait} did not change the drawing"
        text = slider.get_attribute("aria-valuetext")
        assert text and re.search(r"\d", text), f"{trait}: aria-valuetext {text!r}"
        assert_view_matches_python(page, i, f"after {trait} -> {value}")

    controls = [("seed", root.locator("input.nndl-op-seed"), "fill", "3141592")]
    selects = root.locator("select")
    for k in range(selects.count()):
        controls.append(
            (selects.nth(k).get_attribute("aria-label"), selects.nth(k), "select", None)
        )
    for trait, locator, how, value in controls:
        before_shot, before = page.evaluate(SNAPSHOT, i), page.evaluate(REDRAWS, i)
        if how == "fill":
            locator.fill(value)
        else:
            options = locator.locator("option")
            current = locator.input_value()
            choices = [options.nth(k).get_attribute("value") for k in range(options.count())]
            locator.select_option(next(c for c in choices if c != current))
        wait_redraw(page, i, before)
        assert page.evaluate(SNAPSHOT, i) != before_shot, f"{trait} did not change the drawing"
        assert_view_matches_python(page, i, f"after {trait}")
    boxes = root.locator(".nndl-op-legend input[type=checkbox]")
    for k in range(boxes.count()):
        before_shot, before = page.evaluate(SNAPSHOT, i), page.evaluate(REDRAWS, i)
        boxes.nth(k).click()
        wait_redraw(page, i, before)
        assert page.evaluate(SNAPSHOT, i) != before_shot, f"legend box {k} did not change it"
        boxes.nth(k).click()


def test_keyboard_moves_sliders_start_and_map_choice(page):
    root, sliders = range_inputs(page, 0)
    lr = root.locator("input[data-trait=learning_rate]")
    lr.focus()
    before = page.evaluate(REDRAWS, 0)
    value = page.evaluate(VIEW, 0)["setting"]["learning_rate"]
    page.keyboard.press("ArrowRight")
    wait_redraw(page, 0, before)
    moved = page.evaluate(VIEW, 0)["setting"]["learning_rate"]
    assert moved > value
    # the start point: focus the paths canvas, arrow up
    canvas = root.locator(".nndl-op-paths canvas")
    canvas.focus()
    start = page.evaluate(VIEW, 0)["setting"]["start"]
    before = page.evaluate(REDRAWS, 0)
    page.keyboard.press("ArrowUp")
    wait_redraw(page, 0, before)
    assert page.evaluate(VIEW, 0)["setting"]["start"][1] > start[1]
    assert_view_matches_python(page, 0, "after moving the start with the keyboard")
    # the map's choice
    map_canvas = page.locator(".nndl-optimizer-paths").nth(1).locator(".nndl-op-map canvas")
    map_canvas.focus()
    setting = page.evaluate(VIEW, 1)["setting"]
    before = page.evaluate(REDRAWS, 1)
    page.keyboard.press("ArrowDown")
    wait_redraw(page, 1, before)
    assert page.evaluate(VIEW, 1)["setting"]["momentum"] < setting["momentum"]


FRAME = """([i, panel]) => {
  const view = document.querySelectorAll('.nndl-optimizer-paths')[i].nndlView;
  const f = panel === 'map' ? view.mapFrame : view.pathFrameCache;
  return {x0: f.x0, y0: f.y0, w: f.w, h: f.h, xRange: f.xRange, yRange: f.yRange};
}"""


def data_point(frame, px, py):
    u, v = (px - frame["x0"]) / frame["w"], (frame["y0"] + frame["h"] - py) / frame["h"]
    x0, x1 = frame["xRange"]
    y0, y1 = frame["yRange"]
    return x0 + u * (x1 - x0), y0 + v * (y1 - y0)


def test_dragging_the_start_moves_every_first_point(page):
    root = page.locator(".nndl-optimizer-paths").nth(0)
    canvas = root.locator(".nndl-op-paths canvas")
    canvas.scroll_into_view_if_needed()
    frame = page.evaluate(FRAME, [0, "paths"])
    box = canvas.bounding_box()
    start = page.evaluate(VIEW, 0)["setting"]["start"]
    (x0, x1), (y0, y1) = frame["xRange"], frame["yRange"]
    sx = frame["x0"] + (start[0] - x0) / (x1 - x0) * frame["w"]
    sy = frame["y0"] + frame["h"] - (start[1] - y0) / (y1 - y0) * frame["h"]
    tx, ty = frame["x0"] + 0.63 * frame["w"], frame["y0"] + 0.27 * frame["h"]
    before = page.evaluate(REDRAWS, 0)
    page.mouse.move(box["x"] + sx, box["y"] + sy)
    page.mouse.down()
    for k in range(1, 9):
        page.mouse.move(box["x"] + sx + (tx - sx) * k / 8, box["y"] + sy + (ty - sy) * k / 8)
    page.mouse.up()
    wait_redraw(page, 0, before)
    page.wait_for_timeout(100)
    view = assert_view_matches_python(page, 0, "after dragging the start")
    new_start = view["setting"]["start"]
    expected = data_point(frame, tx, ty)
    pixel = (x1 - x0) / frame["w"], (y1 - y0) / frame["h"]
    assert (
        abs(new_start[0] - expected[0]) <= pixel[0] and abs(new_start[1] - expected[1]) <= pixel[1]
    )
    for rule, run in view["runs"].items():
        assert js_path(run["path"])[0].tolist() == new_start, rule


def test_a_click_on_the_map_sets_learning_rate_and_momentum(page):
    root = page.locator(".nndl-optimizer-paths").nth(1)
    canvas = root.locator(".nndl-op-map canvas")
    canvas.scroll_into_view_if_needed()
    frame = page.evaluate(FRAME, [1, "map"])
    box = canvas.bounding_box()
    tx, ty = frame["x0"] + 0.41 * frame["w"], frame["y0"] + 0.33 * frame["h"]
    before_shot, before = page.evaluate(SNAPSHOT, 1), page.evaluate(REDRAWS, 1)
    page.mouse.click(box["x"] + tx, box["y"] + ty)
    wait_redraw(page, 1, before)
    view = assert_view_matches_python(page, 1, "after a click on the map")
    lr, mu = data_point(frame, tx, ty)
    pixel = (frame["xRange"][1] - frame["xRange"][0]) / frame["w"]
    assert abs(view["setting"]["learning_rate"] - lr) <= pixel
    assert abs(view["setting"]["momentum"] - mu) <= 1.0 / frame["h"]
    assert page.evaluate(SNAPSHOT, 1) != before_shot
    eigen = rates.eigen_errors(
        view["map_rule"],
        view["setting"]["learning_rate"],
        view["setting"]["momentum"],
        [1.0, view["setting"]["kappa"]],
        view["setting"]["num_steps"],
    )
    np.testing.assert_array_equal(np.array(view["eigen"], dtype=float), eigen)


READABILITY = """() => {
  const problems = [];
  for (const root of document.querySelectorAll('.nndl-optimizer-paths')) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      const node = walker.currentNode;
      if (!node.textContent.trim()) continue;
      const size = parseFloat(getComputedStyle(node.parentElement).fontSize);
      if (size < 10) problems.push(`${size}px: ${node.textContent.slice(0, 40)}`);
    }
    for (const control of root.querySelectorAll('input, select, canvas')) {
      if (!control.getAttribute('aria-label')) {
        problems.push(`no aria-label: ${control.outerHTML.slice(0, 80)}`);
      }
      if (control.type === 'range' && !control.getAttribute('aria-valuetext')) {
        problems.push(`no aria-valuetext: ${control.getAttribute('aria-label')}`);
      }
    }
  }
  return problems;
}"""


def test_readable_and_labelled(page):
    problems = page.evaluate(READABILITY)
    assert not problems, "\n".join(problems)


TIMING = """(n) => {
  const rasterize = (v) => v.root.querySelectorAll('canvas')
    .forEach((c) => c.getContext('2d').getImageData(0, 0, 1, 1));
  const view = document.querySelectorAll('.nndl-optimizer-paths')[0].nndlView;
  view.model.set('num_steps', 300);
  view.model.set('rules', window.nndlOptimizerPaths.RULES.slice());
  const redraw = [];
  const compute = [];
  for (let k = 0; k < n; k++) {
    view.model.set('learning_rate', 0.01 + 0.02 * k / n);
    view.model.set('momentum', 0.5 + 0.4 * k / n);
    // rasterize (getImageData) so the canvases are drawn inside the measured time
    const t1 = performance.now();
    view.redraw();
    rasterize(view);
    redraw.push(performance.now() - t1);
    const t0 = performance.now();
    window.nndlOptimizerPaths.surfacePaths(view.setting());
    compute.push(performance.now() - t0);
  }
  const median = (a) => a.slice().sort((x, y) => x - y)[Math.floor(a.length / 2)];
  return {redraw: median(redraw), redrawMax: Math.max(...redraw), compute: median(compute)};
}"""


MAP_TIMING = """(n) => {
  const rasterize = (v) => v.root.querySelectorAll('canvas')
    .forEach((c) => c.getContext('2d').getImageData(0, 0, 1, 1));
  const view = document.querySelectorAll('.nndl-optimizer-paths')[1].nndlView;
  const median = (a) => a.slice().sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const moves = [];
  const kappas = [];
  for (let k = 0; k < n; k++) {
    view.model.set('learning_rate', 0.005 + 0.05 * k / n);
    view.model.set('momentum', 0.2 + 0.7 * k / n);
    const t1 = performance.now();
    view.redraw();
    rasterize(view);
    moves.push(performance.now() - t1);
  }
  for (let k = 0; k < n; k++) {
    view.model.set('kappa', 10 + 90 * k / n);  // a new heat map every time
    const t1 = performance.now();
    view.redraw();
    rasterize(view);
    kappas.push(performance.now() - t1);
  }
  const pixels = view.mapCanvas.width * view.mapCanvas.height;
  return {move: median(moves), kappa: median(kappas), pixels};
}"""


DRAG_FRAMES = """async (n) => {
  const root = document.querySelectorAll('.nndl-optimizer-paths')[0];
  const slider = root.querySelector('input[data-trait=learning_rate]');
  const lo = Number(slider.min);
  const hi = Number(slider.max);
  const frame = () => new Promise((ok) => requestAnimationFrame(ok));
  await frame();
  const stamps = [];
  const start = Number(root.dataset.redraws);
  for (let k = 0; k < n; k++) {
    slider.value = String(lo + (hi - lo) * (0.3 + 0.3 * k / n));
    slider.dispatchEvent(new Event('input', {bubbles: true}));
    await frame();
    stamps.push(performance.now());
  }
  const gaps = stamps.slice(1).map((t, k) => t - stamps[k]).sort((x, y) => x - y);
  return {median: gaps[Math.floor(gaps.length / 2)], redraws: Number(root.dataset.redraws) - start};
}"""


def test_redraw_time_and_page_weight(page, paths_page, browser_report):
    timing = page.evaluate(TIMING, 100)
    drag = page.evaluate(DRAG_FRAMES, 60)
    map_timing = page.evaluate(MAP_TIMING, 30)
    html, seconds = paths_page
    text = html.read_text(encoding="utf-8")
    state = sum(len(m.group(1).encode()) for m in WIDGET_STATE_RE.finditer(text))
    esm = Path(paths_book.ROOT / "widgets" / "paths.js").stat().st_size
    browser_report(
        f"optimizer paths (300 steps x 5 rules, paths + loss panels): redraw (rasterized) median "
        f"{timing['redraw']:.2f} ms, max {timing['redrawMax']:.2f} ms (compute alone "
        f"{timing['compute']:.2f} ms) over 100 settings"
    )
    browser_report(
        f"dragging the learning-rate slider (one input event per animation frame, 300 steps "
        f"x 5 rules): median frame interval {drag['median']:.1f} ms, {drag['redraws']} redraws "
        "for 60 moves"
    )
    browser_report(
        f"convergence map (map + eigen + 3 paths panels, 100 steps): redraw median "
        f"{map_timing['move']:.2f} ms for a new learning rate and momentum, "
        f"{map_timing['kappa']:.2f} ms for a new kappa (heat map of {map_timing['pixels']} "
        "cells recomputed)"
    )
    browser_report(
        f"paths test page: {html.stat().st_size / 1024:.1f} KiB, widget state "
        f"{state / 1024:.1f} KiB for {len(paths_book.CELLS)} widgets (paths.js {esm / 1024:.1f} "
        f"KiB each); built in {seconds:.0f} s"
    )
