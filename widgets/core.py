"""What every app shares, assembled from four parts.

An app is declared, not programmed. It names

- its **controls** (:mod:`widgets.controls`): one per setting; :class:`Grid`
  controls have a precomputed frame per value and work in the static HTML
  book, :class:`Live` controls need a running kernel;
- a pure **compute** function ``compute(data, setting) -> result`` that calls
  :mod:`nndl_lab.experiments` (and optionally ``compute_grid(data, settings)``
  that computes many settings at once with the batched trainer, and ``cost(setting)``,
  a number proportional to its run time, for the waiting estimates);
- a :class:`Plot` (:mod:`widgets.canvas`), which creates its axes and artists
  once and updates them from a result.

:class:`App` joins them with

- the **canvas** (:class:`~widgets.canvas.Canvas`): the figure at a fixed size,
  with the settings line, the legend row and the messages above the axes;
- the **worker** (:class:`~widgets.worker.LatestWins`): a change computes in one
  worker thread, the latest setting wins, and a newer setting stops the
  computation in progress; while it runs the shown figure is dimmed, and after
  a second a progress bar and the elapsed time appear (settings estimated to
  take more than :data:`LONG_S` seconds say so when they start);
- the **static grid** (:class:`~widgets.grid.StaticGrid`);
- one **cache** (:class:`Cache`) of results by setting, which compute
  functions may also use for their own sub-results (``app.cache.call``).

Draw on display: the frame for the default setting is rendered while the app
is built, so an executed notebook (and the HTML book made from it) holds the
figure. Failures never raise out of a control: a setting that cannot be
computed shows a plain sentence; an out-of-range typed value shows a warning
and keeps the value in use. In the static book the live-only controls are
hidden and one line lists their values; in JupyterLab, if the notebook's
kernel stops, a message says so and the grid controls switch the precomputed
frames again (both through the app's own CSS, below).

Structure of the displayed widget (CSS classes for browser tests)::

    App (VBox)                   .nndl-app .nndl-app-<name>
      HTML style                 .nndl-style
      HTML title                 .nndl-title
      VBox of grid controls      .nndl-grid-controls
        SelectionSlider / ToggleButtons   .nndl-grid-slider .nndl-grid-<key>
        (HBox with a Text entry  .nndl-entry .nndl-live-only, for any value)
      VBox of live controls      .nndl-live-controls .nndl-live-only
      HTML                       .nndl-static-only  (static book: the live-only values)
      HTML                       .nndl-kernel-gone  (JupyterLab: the kernel stopped)
      HBox status                .nndl-status: Label .nndl-busy, FloatProgress .nndl-progress
      HTML warning               .nndl-warning
      Box (mode)                 .nndl-mode-stack    child 0: grid, child 1: live frame
                                 (.nndl-live-mode: the live frame shows, else the grid)
        Stack (grid axis 0)      .nndl-grid-stack    nested once per further grid axis
          Image                  .nndl-frame .nndl-frame-<i> / .nndl-frame-<i>-<j>
        Image (live frame)       .nndl-live-frame
"""

from __future__ import annotations

import collections
import dataclasses
import html
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import ipywidgets as W
import numpy as np
from matplotlib.figure import Figure

from nndl_lab.experiments.parallel import blas_limit

from .canvas import SETTING_TEXT_KEY, Canvas, Plot, find_divergence, png_bytes
from .controls import Control, Grid, Live
from .grid import StaticGrid
from .voice import SliderVoice
from .worker import Cancelled, LatestWins

__all__ = [
    "LONG_S",
    "SETTING_TEXT_KEY",
    "STATIC_NOTE",
    "App",
    "Cache",
    "Control",
    "Grid",
    "Live",
    "Plot",
    "find_divergence",
    "frame_report",
    "grid_frames",
    "png_bytes",
]

#: The line the static book shows under every app (before the live-only values).
STATIC_NOTE = (
    "Static page: the sliders above switch precomputed figures. Any other value needs the "
    "live notebook (launch buttons at the top of the page)"
)

#: Shown (by the app's CSS) when JupyterLab reports the notebook's kernel gone.
KERNEL_GONE = (
    "The kernel has stopped: this app can no longer compute. Its sliders show the "
    "precomputed figures again; restart the kernel and rerun the cell for live settings."
)

#: Threads that compute a static grid (one per core the process may use, at most 4).
GRID_THREADS = min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)
#: Settings estimated to take longer than this (seconds) say so when they start.
LONG_S = 10.0
#: Progress and elapsed time appear after this many seconds.
PROGRESS_AFTER_S = 1.0

# The app's own CSS (in an HTML widget, so it travels with the app into the static
# page and into JupyterLab). Static book: myst-nb puts every output in .cell_output.
# JupyterLab: the notebook panel's kernel indicator says when the kernel is gone.
_GONE = (
    ".jp-NotebookPanel:has(.jp-Notebook-ExecutionIndicator[data-status='dead']) .nndl-app",
    ".jp-NotebookPanel:has(.jp-Notebook-ExecutionIndicator[data-status='unknown']) .nndl-app",
)


def _gone(rule: str) -> str:
    return ", ".join(f"{g} {rule}" for g in _GONE)


STYLE = f"""<style>
.nndl-app .nndl-static-only, .nndl-app .nndl-kernel-gone {{ display: none; }}
.nndl-app .nndl-mode-stack {{ transition: opacity 0.2s ease 0.15s; }}
.nndl-app .nndl-mode-stack > .nndl-live-frame {{ display: none; }}
.nndl-app .nndl-mode-stack.nndl-live-mode > .nndl-live-frame {{ display: block; }}
.nndl-app .nndl-mode-stack.nndl-live-mode > .nndl-grid-stack {{ display: none; }}
.nndl-app .nndl-mode-stack.nndl-stale {{ opacity: 0.45; }}
.nndl-app .nndl-warning:empty, .nndl-app .nndl-warning .widget-html-content:empty {{
  display: none; }}
.nndl-app .nndl-warning {{ color: #8a4b00; }}
.nndl-app .nndl-status {{ min-height: 1.8em; align-items: center; }}
.cell_output .nndl-app .nndl-live-only, .cell_output .nndl-app .nndl-status,
.cell_output .nndl-app .nndl-warning {{ display: none !important; }}
.cell_output .nndl-app .nndl-static-only {{ display: block; }}
{_gone(".nndl-kernel-gone")} {{ display: block; color: #a00000; }}
{_gone(".nndl-live-only")}, {_gone(".nndl-status")} {{ display: none !important; }}
{_gone(".nndl-mode-stack > .nndl-live-frame")} {{ display: none !important; }}
{_gone(".nndl-mode-stack > .nndl-grid-stack")} {{ display: flex !important; }}
{_gone(".nndl-mode-stack")} {{ opacity: 1; }}
</style>"""


def _freeze(value):
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # a TrainingConfig: equal configs give equal keys (its dict fields are unhashable)
        fields = dataclasses.fields(value)
        return (
            type(value).__qualname__,
            tuple((f.name, _freeze(getattr(value, f.name))) for f in fields),
        )
    if isinstance(value, Mapping):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, np.ndarray):
        return tuple(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value


class Cache:
    """A small thread-safe LRU cache: results by setting, and memoized experiment calls.

    One per app: the app's results by setting (``get``, ``put``) and
    the sub-results its compute function memoizes (:meth:`call`) share it.
    """

    def __init__(self, maxsize: int = 512):
        self._items: collections.OrderedDict = collections.OrderedDict()
        self._lock = threading.Lock()
        self.maxsize = maxsize
        self.calls = 0  # call() invocations that ran the function

    @staticmethod
    def key(setting: Mapping) -> tuple:
        return ("setting", _freeze(dict(setting)))

    def get(self, key, default=None):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return default

    def __contains__(self, key) -> bool:
        with self._lock:
            return key in self._items

    def clear(self) -> None:
        """Forget everything (benchmarks measure uncached redraws this way)."""
        with self._lock:
            self._items.clear()

    def put(self, key, value) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)

    def call(self, function: Callable, data, **kwargs):
        """``function(data, **kwargs)``, memoized (the data of an app is fixed)."""
        key = ("call", function.__module__, function.__qualname__, id(data), _freeze(kwargs))
        missing = object()
        value = self.get(key, missing)
        if value is not missing:
            return value
        value = function(data, **kwargs)
        with self._lock:
            self.calls += 1
        self.put(key, value)
        return value


class App(W.VBox):
    """An app: controls → ``compute(data, setting)`` → a :class:`Plot`, shown as PNG frames.

    Parameters
    ----------
    name : str
        Short name; the container gets the CSS classes ``nndl-app`` and
        ``nndl-app-<name>``.
    title : str
        Shown above the controls.
    controls : sequence of Control
    compute : callable ``(data, setting) -> result``
        Pure; calls :mod:`nndl_lab.experiments`. ``setting`` is a dict with one
        entry per control plus ``fixed``.
    plot : Plot subclass
    data : dict
        Passed to ``compute``.
    fixed : dict, optional
        Setting entries without a control.
    compute_grid : callable ``(data, settings) -> list of results``, optional
        Computes many settings at once; must give what ``compute`` gives for
        each setting. Default: ``compute`` in a loop.
    cost : callable ``(setting) -> float``, optional
        Proportional to a setting's run time (e.g. multiply-adds); with it the
        app estimates run times (calibrated on its own runs).
    notes : sequence of str, optional
        Lines shown under the title (e.g. how the data was subsampled).
    grid : bool
        Precompute the grid frames (for the static page).
    threaded : bool
        Compute changes in a worker thread (latest setting wins, the kernel
        stays responsive). Without, a change computes before the call returns.
    dpi, colors : figure resolution and PNG palette size.
    cache : Cache, optional
        The app's cache (give one that the compute function also uses).

    Raises
    ------
    ValueError, TypeError
        From the first computation (the default setting), when a fixed
        setting is not accepted by the experiment function.
    """

    def __init__(
        self,
        name: str,
        title: str,
        controls: Sequence[Control],
        compute: Callable[[Any, dict], Any],
        plot: type[Plot],
        data,
        *,
        fixed: Mapping | None = None,
        compute_grid: Callable[[Any, list[dict]], list] | None = None,
        cost: Callable[[Mapping], float] | None = None,
        notes: Sequence[str] = (),
        grid: bool = True,
        threaded: bool = True,
        dpi: float = 96,
        colors: int | None = 64,
        cache: Cache | None = None,
    ):
        keys = [c.key for c in controls]
        if len(set(keys)) != len(keys):
            raise ValueError(f"App {name!r}: duplicate control keys {keys}")
        fixed = dict(fixed or {})
        clash = sorted(set(fixed) & set(keys))
        if clash:
            raise ValueError(f"App {name!r}: fixed entries {clash} are also controls")
        self.name = name
        self.headline = title or name
        self.data = data
        self.fixed = fixed
        self.controls = list(controls)
        self.grid_controls = [c for c in self.controls if c.grid]
        self.live_controls = [c for c in self.controls if not c.grid]
        for c in self.grid_controls:
            if c.kind != "multi" and c.index_of(c.default) is None:
                # an off-grid default gets a frame of its own
                c.values = sorted([*c.values, c.default])
        self._compute = compute
        self._compute_grid = compute_grid
        self._cost = cost
        self.cache = cache or Cache()
        self.canvas = Canvas(plot, dpi, colors, [(c.key, c.fmt) for c in self.grid_controls])
        self.worker = LatestWins(name, self._run, threaded=threaded)
        self.threaded = threaded

        # bookkeeping (tests and benchmarks read these)
        self.computations = 0  # compute() calls that were not served from the cache
        self.requests = 0  # changes that asked for a redraw
        self.last_error: str | None = None
        self.result = None  # the result drawn last
        self.shown_setting: dict | None = None  # its setting
        self.seconds_per_cost: float | None = None  # calibrated on this app's runs
        #: per redraw shown: (wall seconds, CPU seconds of the worker thread, computed?)
        self.timings: list[tuple[float, float, bool]] = []

        # controls
        self._values: dict[str, Any] = {}
        self._holding = False
        for c in self.controls:
            c.make_widgets()
            c.on_value = self._on_value
            c.on_warning = self._on_warning
            c.on_options = self._on_options
            self._values[c.key] = c.default
        self.default_setting = self.setting()

        # status, warnings, frames
        self.busy = W.Label(value="")
        self.busy.add_class("nndl-busy")
        self.progress = W.FloatProgress(
            value=0.0, min=0.0, max=1.0, layout=W.Layout(width="180px", visibility="hidden")
        )
        self.progress.add_class("nndl-progress")
        status = W.HBox([self.busy, self.progress])
        status.add_class("nndl-status")
        self.warning = W.HTML("")
        self.warning.add_class("nndl-warning")
        width, height = self.canvas.size_px
        self.image_layout = W.Layout(
            width=f"{width}px", height=f"{height}px", max_width="100%", object_fit="contain"
        )
        self.live_frame = W.Image(format="png", value=b"", layout=self.image_layout)
        self.live_frame.add_class("nndl-live-frame")

        # draw on display: the default setting first (a bad fixed setting raises here)
        start = time.perf_counter()
        default_result = self.compute(self.default_setting)
        self._calibrate(self.default_setting, time.perf_counter() - start)
        first_png = self.canvas.draw(default_result, self.default_setting)
        self.result, self.shown_setting = default_result, dict(self.default_setting)
        self.messages_ = self.canvas.messages()

        self.grid = StaticGrid(self.grid_controls, self.default_setting, self.image_layout)
        self.grid.placeholder = self.live_frame
        if grid and self.grid_controls:
            grid_root = self.grid.build(self._compute_many, self._draw_safely, self.describe)
        else:
            grid_root = W.HTML("")
        self.grid_time = self.grid.build_time
        # The live frame joins the mode box when the kernel first draws into it: in the
        # static page an Image without bytes would be a broken image.
        self.mode = W.Box([grid_root])
        self.mode.add_class("nndl-mode-stack")
        # The text alternatives of the frames: alt text set in the page by SliderVoice.
        self.voice = SliderVoice(
            descriptions={
                "live": self.describe(self.default_setting),
                **{
                    "nndl-frame-" + "-".join(map(str, index)): text
                    for index, text in self.grid.descriptions.items()
                },
            }
        )
        if not self.grid.frames:
            self.live_frame.value = first_png
            self._show_live()
        self.canvas.draw(default_result, self.default_setting)  # the figure shows the default

        children: list[W.Widget] = []
        style = W.HTML(STYLE)
        style.add_class("nndl-style")
        children.append(style)
        if title:
            t = W.HTML(f"<b>{html.escape(title)}</b>")
            t.add_class("nndl-title")
            children.append(t)
        for line in notes:
            n = W.HTML(f"<small>{html.escape(line)}</small>")
            n.add_class("nndl-data-note")
            children.append(n)
        if self.grid_controls:
            box = W.VBox([c.box for c in self.grid_controls])
            box.add_class("nndl-grid-controls")
            children.append(box)
        if self.live_controls:
            box = W.VBox([c.box for c in self.live_controls])
            box.add_class("nndl-live-controls")
            box.add_class("nndl-live-only")
            children.append(box)
        static = W.HTML(f"<small>{html.escape(self.static_line())}</small>")
        static.add_class("nndl-static-only")
        static.add_class("nndl-static-note")
        gone = W.HTML(f"<small>{html.escape(KERNEL_GONE)}</small>")
        gone.add_class("nndl-kernel-gone")
        # SliderVoice: readable slider handles and frames' alt text (static and live).
        children += [static, gone, status, self.warning, self.mode, self.voice]
        super().__init__(children=children)
        self.add_class("nndl-app")
        self.add_class(f"nndl-app-{name}")

    # -- settings -----------------------------------------------------------

    def setting(self) -> dict:
        """The current setting: fixed entries plus one value per control."""
        return {**self.fixed, **self._values}

    def control(self, key: str) -> Control:
        """The control of setting ``key``."""
        for c in self.controls:
            if c.key == key:
                return c
        raise KeyError(f"{self.name}: no control {key!r}; controls: {list(self._values)}")

    def widget(self, key: str) -> W.Widget:
        """The main widget of setting ``key`` (slider, buttons, dropdown or list)."""
        return self.control(key).widget

    def describe(self, setting: Mapping) -> str:
        """The text alternative of the figure drawn for ``setting``: what it shows, for what."""
        return f"{self.headline}. Figure for: {self.canvas.plot.title(setting)}".replace("\n", " ")

    def static_line(self) -> str:
        """The line the static book shows instead of the live-only controls."""
        parts = [f"{c.description} {c.fmt(c.default)}" for c in self.live_controls]
        typed = [c.description for c in self.grid_controls if c.any_value]
        line = STATIC_NOTE
        if typed:
            line += f"; it can also take any {', '.join(typed)} in its range"
        if parts:
            line += ". Fixed here, live in the notebook: " + "; ".join(parts)
        return line + "."

    def compute(self, setting: Mapping):
        """``compute(data, setting)`` through the app's cache."""
        key = Cache.key(setting)
        missing = object()
        result = self.cache.get(key, missing)
        if result is not missing:
            return result
        # One BLAS thread: these nets are small, a second thread only costs (and
        # the thread count changes float32 rounding: same numbers in any thread).
        with np.errstate(all="ignore"), blas_limit(1):
            result = self._compute(self.data, dict(setting))
        self.computations += 1
        self.cache.put(key, result)
        return result

    def _compute_many(self, settings: list[dict]) -> list[tuple[Any, str | None]]:
        """(result, error) per setting, with ``compute_grid`` when the app has one."""
        if self._compute_grid is not None:
            todo = [s for s in settings if Cache.key(s) not in self.cache]
            # Interleaved shares, one per core, computed in threads: the BLAS releases
            # the GIL, and each net's numbers do not depend on which nets share its batch.
            shares = [todo[k::GRID_THREADS] for k in range(GRID_THREADS) if todo[k:]]
            if len(shares) > 1:
                with ThreadPoolExecutor(len(shares), thread_name_prefix="nndl-grid") as pool:
                    results_per_share = list(pool.map(self._compute_share, shares))
            else:
                results_per_share = [self._compute_share(share) for share in shares]
            for share, results in zip(shares, results_per_share, strict=True):
                for s, r in zip(share, results, strict=True):
                    self.cache.put(Cache.key(s), r)
        out = []
        for s in settings:
            try:
                out.append((self.compute(s), None))
            except Exception as exc:  # drawn as a sentence on the frame
                out.append((None, f"This setting could not be computed: {exc}"))
        return out

    def _compute_share(self, settings: list[dict]) -> list:
        """``compute_grid`` on some of the grid's settings, in the calling thread."""
        # errstate and the BLAS limit hold per thread (see nndl_lab._blas.blas_limit)
        with np.errstate(all="ignore"), blas_limit(1):
            results = list(self._compute_grid(self.data, settings))
        if len(results) != len(settings):
            raise RuntimeError(
                f"{self.name}: compute_grid returned {len(results)} results for "
                f"{len(settings)} settings"
            )
        return results

    def _draw_safely(self, result, setting, error=None) -> bytes:
        try:
            return self.canvas.draw(result, setting, error)
        except Exception as exc:  # drawn as a sentence on the frame
            return self.canvas.draw(None, setting, f"This setting could not be drawn: {exc}")

    def render(self, setting: Mapping, result=None) -> bytes:
        """PNG bytes of the figure for ``setting`` (computing it unless ``result`` is given)."""
        if result is None:
            result = self.compute(setting)
        return self.canvas.draw(result, setting)

    def set(self, **values) -> None:
        """Set controls programmatically (one redraw for all of them).

        Accepts exactly what the app function's keyword overrides accept (any
        value :meth:`Control.coerce` accepts); otherwise raises ValueError
        naming the control, before anything changes.
        """
        unknown = sorted(set(values) - set(self._values))
        if unknown:
            raise ValueError(
                f"{self.name}: unknown setting(s) {unknown}; controls: {list(self._values)}"
            )
        coerced = {key: self.control(key).coerce(value) for key, value in values.items()}
        changed = False
        self._holding = True
        try:
            for key, value in coerced.items():
                control = self.control(key)
                control.show(value)
                if Cache.key({key: self._values[key]}) != Cache.key({key: value}):
                    changed = True
                self._values[key] = value
                self.grid.follow(control)
        finally:
            self._holding = False
        if changed:
            self._request()

    def redraw(self) -> None:
        """Compute and draw the current setting again (from the cache if it is there)."""
        self._request()

    # -- events ---------------------------------------------------------------

    def _on_value(self, control: Control, value) -> None:
        self._values[control.key] = value
        self.grid.follow(control)
        self.warning.value = ""
        self._request()

    def _on_options(self, control: Control) -> None:
        self.grid.options_changed(control)

    def _on_warning(self, control: Control, message: str) -> None:
        self.warning.value = f"<small>{html.escape(message)}</small>"

    def _request(self) -> None:
        if self._holding:
            return
        self.requests += 1

        def snapshot() -> dict:
            # under the worker's lock: the setting, its number and the busy state agree
            setting = self.setting()
            if Cache.key(setting) not in self.cache:
                self.mode.add_class("nndl-stale")
                self.busy.value = "computing…"
            return setting

        self.worker.submit(snapshot)

    # -- the worker's side ------------------------------------------------------

    def estimate(self, setting: Mapping) -> float | None:
        """Estimated seconds to compute ``setting`` (None without a cost model)."""
        if self._cost is None or self.seconds_per_cost is None:
            return None
        return float(self._cost(setting)) * self.seconds_per_cost

    def _calibrate(self, setting: Mapping, seconds: float) -> None:
        if self._cost is None:
            return
        cost = float(self._cost(setting))
        if cost <= 0:
            return
        rate = seconds / cost
        old = self.seconds_per_cost
        self.seconds_per_cost = rate if old is None else 0.5 * old + 0.5 * rate

    def _run(self, generation: int, setting: dict) -> None:
        key = Cache.key(setting)
        cached = key in self.cache
        start = time.monotonic()
        cpu_start = time.thread_time()
        estimate = None if cached else self.estimate(setting)
        if estimate is not None and estimate > LONG_S:
            self._status(
                generation,
                f"This setting takes about {estimate:.0f} s (estimated); "
                "moving any control cancels it.",
            )
        if not cached and self.threaded:
            threading.Thread(
                target=self._tick, args=(generation, start, estimate), daemon=True
            ).start()
        error = None
        result = None
        try:
            with self.worker.cancellable():
                result = self.compute(setting)
        except Cancelled:
            raise
        except Exception as exc:  # shown as a sentence; the app stays usable
            error = f"This setting could not be computed: {exc}"
        elapsed = time.monotonic() - start
        if not cached and error is None:
            self._calibrate(setting, elapsed)
        if not self.worker.is_latest(generation):
            self.worker.dropped += 1
            return
        png = self._draw_safely(result, setting, error)
        messages = self.canvas.messages()

        description = self.describe(setting)

        def show() -> None:
            self.live_frame.value = png
            self.voice.descriptions = {**self.voice.descriptions, "live": description}
            self._show_live()
            self.mode.remove_class("nndl-stale")
            self.busy.value = ""
            self.progress.layout.visibility = "hidden"
            self.result = result
            self.shown_setting = dict(setting)
            self.last_error = error
            self.messages_ = messages
            self.timings.append(
                (time.monotonic() - start, time.thread_time() - cpu_start, not cached)
            )

        self.worker.publish(generation, show)

    def _status(self, generation: int, text: str, fraction: float | None = None) -> None:
        with self.worker.cond:
            if generation != self.worker.generation:
                return
            self.busy.value = text
            if fraction is not None:
                self.progress.value = min(max(fraction, 0.0), 1.0)
                self.progress.layout.visibility = "visible"

    def _tick(self, generation: int, start: float, estimate: float | None) -> None:
        time.sleep(PROGRESS_AFTER_S)
        while self.worker.running_generation == generation:
            elapsed = time.monotonic() - start
            if estimate:
                fraction = min(elapsed / estimate, 0.97)
                text = f"computing… {elapsed:.0f} s of about {max(estimate, elapsed):.0f} s"
            else:
                fraction, text = None, f"computing… {elapsed:.0f} s"
            self._status(generation, text, fraction)
            time.sleep(0.25)

    def _show_live(self) -> None:
        if self.live_frame not in self.mode.children:
            self.mode.children = (*self.mode.children, self.live_frame)
        self.mode.add_class("nndl-live-mode")

    def wait(self, timeout: float = 60.0) -> bool:
        """Block until the latest change is drawn; False on timeout."""
        return self.worker.wait(timeout)

    # -- inspection -------------------------------------------------------------

    @property
    def figure(self) -> Figure:
        return self.canvas.fig

    @property
    def plot(self) -> Plot:
        return self.canvas.plot

    @property
    def showing_live(self) -> bool:
        """Whether the app shows its live frame (drawn by the kernel) rather than a grid frame."""
        return "nndl-live-mode" in self.mode._dom_classes

    @property
    def links(self) -> list:
        """The jslinks between the grid controls and the grid's Stacks."""
        return list(self.grid.links)

    @property
    def dropped(self) -> int:
        """Finished computations whose result was stale (not shown)."""
        return self.worker.dropped

    def messages(self) -> list[str]:
        """The message lines of the figure shown (divergence, chance, errors)."""
        return list(self.messages_)

    def plotted(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """``{gid: (x, y)}`` of the visible lines of the current figure that have a gid."""
        out = {}
        with self.canvas.lock:
            for ax in self.canvas.fig.axes:
                for line in ax.get_lines():
                    gid = line.get_gid()
                    if gid and line.get_visible():
                        out[gid] = (
                            np.asarray(line.get_xdata(), dtype=float).copy(),
                            np.asarray(line.get_ydata(), dtype=float).copy(),
                        )
        return out

    def grid_settings(self) -> list[tuple[tuple[int, ...], dict]]:
        """Every grid point: (indices, setting) with live controls at their defaults."""
        return self.grid.settings()

    def grid_axes(self) -> list[dict]:
        """The grid axes: key, description, values and index of the default."""
        return self.grid.axes()

    def grid_frames(self) -> dict[tuple[int, ...], bytes]:
        """PNG bytes of every grid frame, by grid indices."""
        return dict(self.grid.frames)

    def frame_bytes(self) -> int:
        """Total PNG bytes of the grid frames (what the static page carries)."""
        return sum(len(b) for b in self.grid.frames.values())

    def visible_frame(self) -> bytes:
        """PNG bytes of the image the Python-side widget state shows now."""
        if self.showing_live:
            return bytes(self.live_frame.value)
        return self.grid.visible() or b""


def grid_frames(app: App) -> dict:
    """For a browser test: the app's grid axes and, per grid point, the PNG bytes."""
    return {"axes": app.grid_axes(), "frames": app.grid_frames()}


def frame_report(app: App) -> dict:
    """Name, grid shape, frame count and bytes of an app's static frames."""
    frames = app.grid_frames()
    sizes = [len(b) for b in frames.values()]
    return {
        "name": app.name,
        "grid": tuple(len(c.values) for c in app.grid_controls),
        "frames": len(frames),
        "bytes": sum(sizes),
        "mean_frame_bytes": (sum(sizes) / len(sizes)) if sizes else 0,
        # what the frames weigh in the notebook's widget state (base64)
        "state_bytes": sum(4 * ((n + 2) // 3) for n in sizes),
        "grid_time_s": app.grid_time,
    }
