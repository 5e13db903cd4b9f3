"""What every app shares: controls, latest-setting-wins redraws and the static grid.

An app is declared, not programmed. It names

- its **controls**: :class:`Grid` controls (a ``SelectionSlider`` or
  ``ToggleButtons`` over a few values; they work in the static HTML book because
  every value has a precomputed frame) and :class:`Live` controls (any value
  widget; they need a running kernel and are marked "live kernel only");
- a pure **compute** function ``compute(data, setting) -> result`` that calls
  :mod:`nndl_lab.experiments` (and optionally ``compute_grid(data, settings)``
  that computes many settings at once with the batched trainer);
- a :class:`Plot`, which creates its axes and artists once and updates them
  from a result (draw once, then ``set_data``).

:class:`App` does the rest, once for all apps:

- **draw on display**: the frame for the default setting is rendered while the
  app is built, so an executed notebook (and the HTML book made from it) holds
  the figure;
- **latest setting wins**: a change starts a computation in one worker thread;
  changes made while it runs replace the pending setting, and a result whose
  setting is no longer the latest is dropped;
- a **busy indicator** (``"computing…"``) while it works;
- a **divergence message** ("diverged at iteration N") drawn on the figure, and
  a message instead of a traceback when a computation fails;
- the **static grid**: one PNG frame per combination of grid values, as the
  children of (nested) ``ipywidgets.Stack`` widgets that ``jslink`` connects to
  the grid sliders, so the sliders switch frames in a page without a kernel.

The same :meth:`App.render` (compute → plot → PNG) produces the grid frames and
the live frame, so a frame of the static page is by construction what the
kernel draws for that setting.

Structure of the displayed widget (CSS classes for browser tests)::

    App (VBox)                 .nndl-app .nndl-app-<name>
      HTML title               .nndl-title
      VBox of grid controls    .nndl-grid-controls
        SelectionSlider        .nndl-grid-slider .nndl-grid-<key>   (or ToggleButtons)
      VBox of live controls    .nndl-live-controls   (header "live kernel only")
        any value widget       .nndl-live-only .nndl-live-<key>
      Label busy indicator     .nndl-busy
      Stack (mode)             .nndl-mode-stack    child 0: grid, child 1: live frame
        Stack (grid axis 0)    .nndl-grid-stack    nested once per further grid axis
          Image                .nndl-frame .nndl-frame-<i> / .nndl-frame-<i>-<j>
        Image (live frame)     .nndl-live-frame
      HTML note                .nndl-static-note
"""

from __future__ import annotations

import abc
import collections
import io
import itertools
import json
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ipywidgets as W
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image as PILImage
from PIL.PngImagePlugin import PngInfo

from nndl_lab.experiments.parallel import blas_limit

__all__ = [
    "STATIC_NOTE",
    "App",
    "Grid",
    "Live",
    "Plot",
    "find_divergence",
    "frame_report",
    "grid_frames",
    "png_bytes",
]

#: The note every app shows under its figure.
STATIC_NOTE = (
    "In the static book the gridded sliders switch precomputed results; run the notebook "
    "(launch buttons at the top) to retrain for any setting."
)

#: Text of the header above the live-only controls.
LIVE_ONLY = "live kernel only"

_DESCRIPTION_STYLE = {"description_width": "initial"}


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


# ---------------------------------------------------------------------------
# Controls


class Grid:
    """A control whose values all have precomputed frames (works in the static page).

    Parameters
    ----------
    key : str
        The setting key the control sets.
    values : sequence
        The grid values, in slider order.
    default : value
        One of ``values``; the setting shown first.
    description : str
        The label shown beside the control.
    kind : {"slider", "toggle"}
        A ``SelectionSlider`` or ``ToggleButtons``; both have a synced
        ``index`` that ``jslink`` can follow in the browser.
    fmt : callable, optional
        Formats a value for its label.
    fine : {None, "log", "linear", "int"}
        Also add a live-only continuous slider for the same key, covering the
        grid's range, to try values between the grid points (needs a kernel).
        Whichever of the two was moved last sets the value.
    """

    def __init__(
        self,
        key: str,
        values: Sequence,
        default,
        description: str,
        *,
        kind: str = "slider",
        fmt: Callable[[Any], str] | None = None,
        fine: str | None = None,
    ):
        values = list(values)
        if not values:
            raise ValueError(f"Grid {key!r}: values must not be empty")
        if default not in values:
            raise ValueError(f"Grid {key!r}: default {default!r} is not one of values {values}")
        if kind not in ("slider", "toggle"):
            raise ValueError(f"Grid {key!r}: kind must be 'slider' or 'toggle', got {kind!r}")
        if fine not in (None, "log", "linear", "int"):
            raise ValueError(f"Grid {key!r}: fine must be None, 'log', 'linear' or 'int'")
        self.key, self.values, self.default = key, values, default
        self.description, self.kind, self.fine = description, kind, fine
        self.fmt = fmt or _fmt

    def index_of(self, value) -> int | None:
        """Index of ``value`` among the grid values (floats compared with a tolerance)."""
        for i, v in enumerate(self.values):
            if isinstance(v, (float, np.floating)) and isinstance(value, (int, float, np.number)):
                if math.isclose(float(v), float(value), rel_tol=1e-9, abs_tol=0.0):
                    return i
            elif v == value:
                return i
        return None

    def make_widget(self):
        options = [(self.fmt(v), v) for v in self.values]
        if self.kind == "slider":
            widget = W.SelectionSlider(
                options=options,
                value=self.default,
                description=self.description,
                # frames switch while dragging (jslink in the page; cached in a kernel)
                continuous_update=True,
                style=_DESCRIPTION_STYLE,
                layout=W.Layout(width="420px"),
            )
        else:
            widget = W.ToggleButtons(
                options=options,
                value=self.default,
                description=self.description,
                style={**_DESCRIPTION_STYLE, "button_width": "auto"},
            )
        widget.add_class("nndl-grid-slider")
        widget.add_class(f"nndl-grid-{self.key}")
        return widget

    def make_fine_widget(self):
        if self.fine is None:
            return None
        lo, hi = min(self.values), max(self.values)
        description = f"{self.description} (any value)"
        common = dict(
            description=description,
            continuous_update=False,
            style=_DESCRIPTION_STYLE,
            layout=W.Layout(width="420px"),
        )
        if self.fine == "log":
            widget = W.FloatLogSlider(
                value=self.default,
                base=10,
                min=math.log10(lo),
                max=math.log10(hi),
                step=0.01,
                readout_format=".3g",
                **common,
            )
        elif self.fine == "linear":
            widget = W.FloatSlider(
                value=self.default,
                min=lo,
                max=hi,
                step=(hi - lo) / 200,
                readout_format=".3g",
                **common,
            )
        else:
            widget = W.IntSlider(value=self.default, min=lo, max=hi, step=1, **common)
        widget.add_class("nndl-live-only")
        widget.add_class("nndl-fine-slider")
        widget.add_class(f"nndl-live-{self.key}")
        return widget


class Live:
    """A control that needs a running kernel (marked "live kernel only").

    Parameters
    ----------
    key : str
        The setting key.
    widget : ipywidgets value widget
        Its ``value`` (passed through ``convert``) is the setting's value; its
        value at build time is the default, which the grid frames use.
    convert : callable, optional
        Maps the widget value to the setting value (e.g. ``tuple``).
    """

    def __init__(self, key: str, widget, *, convert: Callable | None = None):
        self.key, self.widget = key, widget
        self.convert = convert or (lambda v: v)
        widget.add_class("nndl-live-only")
        widget.add_class(f"nndl-live-{key}")
        style = getattr(widget, "style", None)
        if style is not None and "description_width" in style.keys:
            style.description_width = "initial"

    @property
    def default(self):
        return self.convert(self.widget.value)


# ---------------------------------------------------------------------------
# Plotting


class Plot(abc.ABC):
    """How an app draws a result: axes and artists made once, then updated.

    Subclasses set ``figsize`` and implement ``setup`` (create axes and
    artists on ``self.fig``) and ``update`` (set their data from a result).
    Give every data line a ``gid`` (``line.set_gid("loss/sgd")``):
    :meth:`App.plotted` reports the data of the visible lines by gid, which is
    what the tests compare with the experiment functions.

    ``update`` must not depend on what was drawn before (the same result
    gives the same picture whatever came first), so a grid frame and the live
    frame for one setting are the same PNG.
    """

    figsize: tuple[float, float] = (8.0, 2.8)

    def __init__(self, fig: Figure):
        self.fig = fig
        self.setup()

    @abc.abstractmethod
    def setup(self) -> None:
        """Create the axes and artists on ``self.fig`` (called once)."""

    @abc.abstractmethod
    def update(self, result, setting: Mapping) -> None:
        """Set the artists' data from ``result`` (the picture depends on nothing else)."""

    def messages(self, result, setting: Mapping) -> list[str]:
        """Lines shown over the plot; default: every divergence found in the result."""
        return find_divergence(result)


def find_divergence(
    result, labels: Mapping[str, str] | None = None, _prefix: str = ""
) -> list[str]:
    """Lines "diverged at iteration N" for every ``diverged_at`` in a (nested) result.

    A scalar ``diverged_at`` (None = did not diverge) gives "diverged at
    iteration N"; an array (0 = did not diverge) gives "diverged in k of n runs
    (first at iteration N)". Nested dicts are prefixed with their key (through
    ``labels`` if given).
    """
    labels = labels or {}
    lines: list[str] = []
    if not isinstance(result, Mapping):
        return lines
    if "diverged_at" in result and result["diverged_at"] is not None:
        at = np.asarray(result["diverged_at"])
        if at.ndim == 0:
            if int(at) > 0:
                lines.append(f"{_prefix}diverged at iteration {int(at)}")
        else:
            hit = at[at > 0]
            if hit.size:
                lines.append(
                    f"{_prefix}diverged in {hit.size} of {at.size} runs "
                    f"(first at iteration {int(hit.min())})"
                )
    for key, value in result.items():
        if isinstance(value, Mapping):
            label = labels.get(key, str(key))
            lines += find_divergence(value, labels, f"{_prefix}{label}: ")
    return lines


#: PNG text chunk naming the grid setting a frame was drawn for (JSON ``{key: label}``).
SETTING_TEXT_KEY = "nndl-setting"


def png_bytes(
    fig: Figure, *, dpi: float, colors: int | None = 64, text: Mapping[str, str] | None = None
) -> bytes:
    """The figure as PNG bytes, palette-quantized to ``colors`` colours (None: RGBA).

    ``text`` entries become PNG text chunks; the apps record there the setting a
    frame was drawn for, so a test of the static page can tie each frame's bytes
    to its slider positions without trusting the page's own structure.
    """
    text = dict(text or {})
    buf = io.BytesIO()
    fig.savefig(
        buf, format="png", dpi=dpi, facecolor="white", metadata=text if not colors else None
    )
    if not colors:
        return buf.getvalue()
    image = PILImage.open(io.BytesIO(buf.getvalue())).convert("RGB")
    image = image.quantize(colors=colors, method=PILImage.Quantize.FASTOCTREE)
    info = PngInfo()
    for key, value in text.items():
        info.add_text(key, value)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True, pnginfo=info)
    return out.getvalue()


class _Canvas:
    """A figure, its Plot and the message overlay; renders results to PNG."""

    def __init__(
        self, plot_class: type[Plot], dpi: float, colors: int | None, grid_controls: Sequence = ()
    ):
        self.grid_controls = list(grid_controls)
        self.fig = Figure(figsize=plot_class.figsize, dpi=dpi)
        FigureCanvasAgg(self.fig)
        self.plot = plot_class(self.fig)
        self.dpi, self.colors = dpi, colors
        self.overlay = self.fig.text(
            0.5,
            0.5,
            "",
            ha="center",
            va="center",
            fontsize=11,
            color="#a00000",
            zorder=100,
            bbox=dict(boxstyle="round,pad=0.5", facecolor="#fff3f3", edgecolor="#a00000"),
            visible=False,
            gid="message",
        )
        self.lock = threading.RLock()

    def draw(self, result, setting: Mapping, error: str | None = None) -> bytes:
        with self.lock:
            if error is None:
                self.plot.update(result, setting)
                lines = self.plot.messages(result, setting)
            else:
                lines = [error]
            self.overlay.set_text("\n".join(lines))
            self.overlay.set_visible(bool(lines))
            # Labels as the grid sliders show them: the same text for a grid frame and
            # for a live frame of the same setting, so their bytes stay identical.
            labels = {c.key: c.fmt(setting[c.key]) for c in self.grid_controls}
            text = {SETTING_TEXT_KEY: json.dumps(labels, sort_keys=True)} if labels else None
            return png_bytes(self.fig, dpi=self.dpi, colors=self.colors, text=text)

    def messages(self) -> list[str]:
        return self.overlay.get_text().splitlines() if self.overlay.get_visible() else []


# ---------------------------------------------------------------------------
# The app


def _freeze(value):
    if isinstance(value, Mapping):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, np.ndarray):
        return tuple(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value


def _key(setting: Mapping) -> tuple:
    return _freeze(dict(setting))


class App(W.VBox):
    """An app: controls → ``compute(data, setting)`` → a :class:`Plot`, shown as PNG frames.

    Parameters
    ----------
    name : str
        Short name; the container gets the CSS classes ``nndl-app`` and
        ``nndl-app-<name>``.
    title : str
        Shown above the controls.
    controls : sequence of Grid or Live
    compute : callable ``(data, setting) -> result``
        Pure; calls :mod:`nndl_lab.experiments`. ``setting`` is a dict with one
        entry per control plus ``fixed``.
    plot : Plot subclass
    data : dict
        Passed to ``compute``.
    fixed : dict, optional
        Setting entries without a control (the keyword overrides of the app
        functions end up here).
    compute_grid : callable ``(data, settings) -> list of results``, optional
        Computes many settings at once (e.g. with the batched trainer); must
        give what ``compute`` gives for each setting. Default: ``compute`` in
        a loop.
    grid : bool
        Precompute the grid frames (for the static page). Without, the app
        shows only its live frame.
    threaded : bool
        Compute changes in a worker thread (latest setting wins, the kernel
        stays responsive). Without, a change computes before the call returns.
    dpi, colors : figure resolution and PNG palette size.
    """

    def __init__(
        self,
        name: str,
        title: str,
        controls: Sequence[Grid | Live],
        compute: Callable[[Any, dict], Any],
        plot: type[Plot],
        data,
        *,
        fixed: Mapping | None = None,
        compute_grid: Callable[[Any, list[dict]], list] | None = None,
        grid: bool = True,
        threaded: bool = True,
        dpi: float = 80,
        colors: int | None = 64,
        cache_size: int = 256,
    ):
        keys = [c.key for c in controls]
        if len(set(keys)) != len(keys):
            raise ValueError(f"App {name!r}: duplicate control keys {keys}")
        fixed = dict(fixed or {})
        clash = sorted(set(fixed) & set(keys))
        if clash:
            raise ValueError(f"App {name!r}: fixed entries {clash} are also controls")
        self.name = name
        self.data = data
        self.fixed = fixed
        self.controls = list(controls)
        self.grid_controls = [c for c in controls if isinstance(c, Grid)]
        self.live_controls = [c for c in controls if isinstance(c, Live)]
        self._compute = compute
        self._compute_grid = compute_grid
        self._canvas = _Canvas(plot, dpi, colors, self.grid_controls)
        self._cache: collections.OrderedDict = collections.OrderedDict()
        self._cache_size = cache_size
        self.threaded = threaded

        # bookkeeping of computations (tests and benchmarks read these)
        self.computations = 0  # compute() calls that were not served from the cache
        self.requests = 0  # changes that asked for a redraw
        self.dropped = 0  # finished computations whose result was stale
        self.last_error: str | None = None
        self.result = None  # the result drawn last
        self.shown_setting: dict | None = None  # its setting

        # latest-wins machinery
        self._generation = 0
        self._pending: tuple[int, dict] | None = None
        self._running = False
        self._cond = threading.Condition()
        self._worker: threading.Thread | None = None
        self._holding = False

        # widgets ------------------------------------------------------------
        self._values: dict[str, Any] = {}
        self._grid_widgets: dict[str, W.Widget] = {}
        self._fine_widgets: dict[str, W.Widget] = {}
        self._live_widgets: dict[str, W.Widget] = {}
        self._syncing = False
        for c in self.grid_controls:
            w = c.make_widget()
            self._grid_widgets[c.key] = w
            self._values[c.key] = c.default
            w.observe(self._on_grid_change(c), names="value")
            fw = c.make_fine_widget()
            if fw is not None:
                self._fine_widgets[c.key] = fw
                fw.observe(self._on_fine_change(c), names="value")
        for c in self.live_controls:
            self._live_widgets[c.key] = c.widget
            self._values[c.key] = c.default
            c.widget.observe(self._on_live_change(c), names="value")

        self.default_setting = self.setting()
        self.busy = W.Label(value="", layout=W.Layout(height="1.6em"))
        self.busy.add_class("nndl-busy")
        self.live_frame = W.Image(format="png", value=b"")
        self.live_frame.add_class("nndl-live-frame")

        self._frames: dict[tuple[int, ...], bytes] = {}
        self._stacks: list[list[W.Stack]] = [[] for _ in self.grid_controls]
        self._links: list = []  # the jslinks slider.index -> stack.selected_index
        self.grid_time = 0.0
        if grid and self.grid_controls:
            start = time.perf_counter()
            grid_root = self._build_grid()
            self.grid_time = time.perf_counter() - start
        else:
            grid_root = W.HTML("")
        self.mode = W.Stack(children=[grid_root, self.live_frame], selected_index=0)
        self.mode.add_class("nndl-mode-stack")

        # draw on display: the default setting, synchronously
        self._show(self._generation, self.default_setting)
        if not self._frames:
            self.mode.selected_index = 1

        children = []
        if title:
            t = W.HTML(f"<b>{title}</b>")
            t.add_class("nndl-title")
            children.append(t)
        if self._grid_widgets:
            box = W.VBox(list(self._grid_widgets.values()))
            box.add_class("nndl-grid-controls")
            children.append(box)
        live = list(self._fine_widgets.values()) + list(self._live_widgets.values())
        if live:
            header = W.HTML(f"<small><i>{LIVE_ONLY}:</i></small>")
            header.add_class("nndl-live-header")
            box = W.VBox([header, *live])
            box.add_class("nndl-live-controls")
            children.append(box)
        children += [self.busy, self.mode]
        note = W.HTML(f"<small>{STATIC_NOTE}</small>")
        note.add_class("nndl-static-note")
        children.append(note)
        super().__init__(children=children)
        self.add_class("nndl-app")
        self.add_class(f"nndl-app-{name}")

    # -- settings -----------------------------------------------------------

    def setting(self) -> dict:
        """The current setting: fixed entries plus one value per control."""
        return {**self.fixed, **self._values}

    def compute(self, setting: Mapping):
        """``compute(data, setting)`` through the app's result cache."""
        key = _key(setting)
        with self._cond:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        # One BLAS thread: these nets are small, a second thread only costs (and
        # the thread count changes float32 rounding: same numbers in any thread).
        with np.errstate(all="ignore"), blas_limit(1):
            result = self._compute(self.data, dict(setting))
        with self._cond:
            self.computations += 1
            self._store(key, result)
        return result

    def _store(self, key, result):
        self._cache[key] = result
        self._cache.move_to_end(key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def render(self, setting: Mapping, result=None) -> bytes:
        """PNG bytes of the figure for ``setting`` (computing it unless ``result`` is given)."""
        if result is None:
            result = self.compute(setting)
        return self._canvas.draw(result, setting)

    def set(self, **values) -> None:
        """Set controls programmatically (one redraw for all of them).

        A value on a grid control's grid moves that control; any other value
        goes to its live-only companion slider, or raises ValueError.
        """
        unknown = sorted(set(values) - set(self._values))
        if unknown:
            raise ValueError(
                f"{self.name}: unknown setting(s) {unknown}; controls: {list(self._values)}"
            )
        self._holding = True
        changed = False
        try:
            for key, value in values.items():
                before = dict(self._values)
                if key in self._grid_widgets:
                    control = next(c for c in self.grid_controls if c.key == key)
                    i = control.index_of(value)
                    if i is not None:
                        widget = self._grid_widgets[key]
                        if widget.index != i:
                            widget.index = i
                        elif self._values[key] != control.values[i]:
                            # the fine slider had moved off the grid: back to the grid value
                            self._values[key] = control.values[i]
                    elif key in self._fine_widgets:
                        self._fine_widgets[key].value = value
                    else:
                        raise ValueError(
                            f"{self.name}: {key}={value!r} is not one of the grid values "
                            f"{control.values}"
                        )
                else:
                    self._live_widgets[key].value = value
                changed |= before != self._values
        finally:
            self._holding = False
        if changed:
            self._request()

    # -- observers ------------------------------------------------------------

    def _on_grid_change(self, control: Grid):
        def handler(change):
            self._values[control.key] = change["new"]
            i = self._grid_widgets[control.key].index
            axis = self.grid_controls.index(control)
            for stack in self._stacks[axis]:
                stack.selected_index = i
            fine = self._fine_widgets.get(control.key)
            if fine is not None and not self._syncing:
                self._syncing = True
                try:
                    fine.value = change["new"]
                finally:
                    self._syncing = False
            self._request()

        return handler

    def _on_fine_change(self, control: Grid):
        def handler(change):
            if self._syncing:
                return
            self._values[control.key] = change["new"]
            self._request()

        return handler

    def _on_live_change(self, control: Live):
        def handler(change):
            self._values[control.key] = control.convert(change["new"])
            self._request()

        return handler

    # -- latest setting wins ----------------------------------------------------

    def _request(self) -> None:
        if self._holding:
            return
        setting = self.setting()
        with self._cond:
            self.requests += 1
            self._generation += 1
            generation = self._generation
            self.busy.value = "computing…"
            if not self.threaded:
                self._running = True
        if not self.threaded:
            try:
                self._show(generation, setting)
            finally:
                with self._cond:
                    self._running = False
                    self._cond.notify_all()
            return
        with self._cond:
            self._pending = (generation, setting)
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(
                    target=self._work, name=f"nndl-app-{self.name}", daemon=True
                )
                self._worker.start()
            self._cond.notify_all()

    #: Seconds an idle worker thread waits for work before it ends (a new one
    #: starts with the next change); while the reader interacts it stays warm.
    worker_idle_s = 120.0

    def _work(self) -> None:
        # One long-lived worker per app: BLAS calls from freshly started threads
        # were measured slower and more erratic than from a thread that keeps running.
        while True:
            with self._cond:
                if self._pending is None:
                    self._cond.wait(self.worker_idle_s)
                if self._pending is None:
                    # idle: end, so an app that is no longer shown can be collected
                    self._worker = None
                    self._cond.notify_all()
                    return
                generation, setting = self._pending
                self._pending = None
                self._running = True
            try:
                self._show(generation, setting)
            finally:
                with self._cond:
                    self._running = False
                    self._cond.notify_all()

    def _show(self, generation: int, setting: dict) -> None:
        error = None
        result = None
        try:
            result = self.compute(setting)
        except Exception as exc:  # shown on the plot; the app stays usable
            error = f"could not compute this setting:\n{type(exc).__name__}: {exc}"
        with self._cond:
            if generation != self._generation:
                self.dropped += 1
                return
        try:
            png = self._canvas.draw(result, setting, error)
        except Exception as exc:
            error = f"could not draw this setting:\n{type(exc).__name__}: {exc}"
            png = self._canvas.draw(None, setting, error)
        with self._cond:
            if generation != self._generation:
                self.dropped += 1
                return
            self.last_error = error
            self.result = result
            self.shown_setting = dict(setting)
        if generation != 0 or not self._frames:
            # generation 0 with a grid: the grid frame for the default is what shows
            self.live_frame.value = png
            self.mode.selected_index = 1
        with self._cond:
            if generation == self._generation:
                self.busy.value = ""

    def wait(self, timeout: float = 60.0) -> bool:
        """Block until the latest change is drawn; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending is not None or self._running:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    # -- inspection -------------------------------------------------------------

    @property
    def figure(self) -> Figure:
        return self._canvas.fig

    @property
    def plot(self) -> Plot:
        return self._canvas.plot

    def messages(self) -> list[str]:
        """The message lines drawn over the current figure (divergence, errors)."""
        return self._canvas.messages()

    def plotted(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """``{gid: (x, y)}`` of the visible lines of the current figure that have a gid."""
        out = {}
        with self._canvas.lock:
            for ax in self._canvas.fig.axes:
                for line in ax.get_lines():
                    gid = line.get_gid()
                    if gid and line.get_visible():
                        out[gid] = (
                            np.asarray(line.get_xdata(), dtype=float).copy(),
                            np.asarray(line.get_ydata(), dtype=float).copy(),
                        )
        return out

    # -- the static grid ----------------------------------------------------------

    def grid_settings(self) -> list[tuple[tuple[int, ...], dict]]:
        """Every grid point: (indices, setting) with live controls at their defaults."""
        points = []
        axes = [range(len(c.values)) for c in self.grid_controls]
        for index in itertools.product(*axes):
            setting = dict(self.default_setting)
            for c, i in zip(self.grid_controls, index, strict=True):
                setting[c.key] = c.values[i]
            points.append((index, setting))
        return points

    def grid_axes(self) -> list[dict]:
        """The grid axes: key, description, values and index of the default."""
        return [
            {
                "key": c.key,
                "description": c.description,
                "values": list(c.values),
                "default_index": c.values.index(c.default),
            }
            for c in self.grid_controls
        ]

    def grid_frames(self) -> dict[tuple[int, ...], bytes]:
        """PNG bytes of every grid frame, by grid indices."""
        return dict(self._frames)

    def frame_bytes(self) -> int:
        """Total PNG bytes of the grid frames (what the static page carries)."""
        return sum(len(b) for b in self._frames.values())

    def _build_grid(self) -> W.Stack:
        points = self.grid_settings()
        settings = [s for _, s in points]
        if self._compute_grid is not None:
            with np.errstate(all="ignore"), blas_limit(1):
                results = list(self._compute_grid(self.data, settings))
            if len(results) != len(settings):
                raise RuntimeError(f"{self.name}: compute_grid returned {len(results)} results")
            with self._cond:
                for s, r in zip(settings, results, strict=True):
                    self._store(_key(s), r)
        for index, setting in points:
            try:
                result = self.compute(setting)
                png = self._canvas.draw(result, setting)
            except Exception as exc:
                png = self._canvas.draw(None, setting, f"{type(exc).__name__}: {exc}")
            self._frames[index] = png
        return self._nest(())

    def _nest(self, prefix: tuple[int, ...]):
        axis = len(prefix)
        if axis == len(self.grid_controls):
            image = W.Image(value=self._frames[prefix], format="png")
            image.add_class("nndl-frame")
            image.add_class("nndl-frame-" + "-".join(map(str, prefix)))
            return image
        control = self.grid_controls[axis]
        children = [self._nest((*prefix, i)) for i in range(len(control.values))]
        stack = W.Stack(children=children, selected_index=control.values.index(control.default))
        stack.add_class("nndl-grid-stack")
        self._links.append(
            W.jslink((self._grid_widgets[control.key], "index"), (stack, "selected_index"))
        )
        self._stacks[axis].append(stack)
        return stack

    def visible_frame(self) -> bytes:
        """PNG bytes of the image the Python-side widget state shows now."""
        if self.mode.selected_index == 1:
            return bytes(self.live_frame.value)
        node = self.mode.children[0]
        while isinstance(node, W.Stack):
            node = node.children[node.selected_index]
        return bytes(node.value)


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
