"""The shared core of the apps (widgets.core), with small fake compute functions."""

from __future__ import annotations

import threading
import time

import ipywidgets as W
import numpy as np
import pytest

from widgets import core
from widgets.core import App, Grid, Live, Plot


class LinePlot(Plot):
    figsize = (3.0, 2.0)

    def setup(self):
        self.ax = self.fig.add_subplot()
        (self.line,) = self.ax.plot([], [], gid="y")

    def update(self, result, setting):
        y = result["y"]
        self.line.set_data(np.arange(len(y)), y)
        self.ax.relim()
        self.ax.autoscale_view()


def fake_compute(data, setting):
    """y = a * arange(n) ** p; diverges (stops, diverged_at) when a < 0."""
    n = setting["n"]
    y = setting["a"] * np.arange(n, dtype=float) ** setting["p"]
    diverged_at = None
    if setting["a"] < 0:
        diverged_at = 3
        y = y[:2]
    if setting.get("fail"):
        raise ValueError("learning_rate must be > 0")
    return {"y": y, "diverged_at": diverged_at}


def make_app(**kwargs):
    controls = [
        Grid("a", [-1.0, 1.0, 2.0, 3.0], 1.0, "a", fine="linear"),
        Grid("p", [1, 2], 1, "p", kind="toggle"),
        Live("n", W.IntSlider(value=5, min=2, max=50, description="n")),
    ]
    kwargs.setdefault("fixed", {"fail": False})
    return App("fake", "Fake app", controls, fake_compute, LinePlot, data=None, **kwargs)


def expected_y(**setting):
    return fake_compute(None, {"fail": False, "a": 1.0, "p": 1, "n": 5, **setting})["y"]


def test_draws_on_build_and_grid_frames_match_render():
    app = make_app()
    assert app.grid_axes()[0]["values"] == [-1.0, 1.0, 2.0, 3.0]
    frames = app.grid_frames()
    assert sorted(frames) == [(i, j) for i in range(4) for j in range(2)]
    for png in frames.values():
        assert png.startswith(b"\x89PNG")
    # the visible frame is the default's grid frame, and the figure holds the default
    assert app.visible_frame() == frames[(1, 0)]
    np.testing.assert_array_equal(app.plotted()["y"][1], expected_y())
    # each frame is what rendering that setting gives, also on a fresh app without a grid
    fresh = make_app(grid=False)
    for index, setting in app.grid_settings():
        assert fresh.render(setting) == frames[index], index
    assert app.frame_bytes() == sum(map(len, frames.values()))
    report = core.frame_report(app)
    assert report["frames"] == 8 and report["grid"] == (4, 2)


def test_structure_classes_and_jslinks():
    app = make_app()
    assert "nndl-app" in app._dom_classes and "nndl-app-fake" in app._dom_classes
    sliders = [w for w in app._grid_widgets.values()]
    assert all("nndl-grid-slider" in w._dom_classes for w in sliders)
    outer = app.mode.children[0]
    assert isinstance(outer, W.Stack) and len(outer.children) == 4
    inner = outer.children[2]
    assert isinstance(inner, W.Stack) and len(inner.children) == 2
    assert "nndl-frame-2-1" in inner.children[1]._dom_classes
    assert inner.children[1].value == app.grid_frames()[(2, 1)]
    # live-only controls are marked
    assert "nndl-live-only" in app._live_widgets["n"]._dom_classes
    assert "nndl-live-only" in app._fine_widgets["a"]._dom_classes
    note = [c for c in app.children if "nndl-static-note" in c._dom_classes]
    assert note and core.STATIC_NOTE in note[0].value


def test_python_side_links_select_the_matching_frame():
    # jslink acts only in a browser; an explicit Python link stands in for it here
    app = make_app(threaded=False)
    outer = app.mode.children[0]
    W.link((app._grid_widgets["a"], "index"), (outer, "selected_index"))
    app._grid_widgets["a"].value = 3.0
    app._grid_widgets["p"].value = 2
    assert outer.selected_index == 3
    assert outer.children[3].selected_index == 1
    # the kernel draws the same bytes into the live frame
    assert app.mode.selected_index == 1
    assert app.live_frame.value == app.grid_frames()[(3, 1)]


@pytest.mark.parametrize("threaded", [False, True])
def test_each_control_redraws_with_its_result(threaded):
    app = make_app(threaded=threaded, grid=False)
    before = app.plotted()["y"][1]
    app._grid_widgets["a"].value = 2.0
    app.wait()
    np.testing.assert_array_equal(app.plotted()["y"][1], expected_y(a=2.0))
    app._grid_widgets["p"].value = 2
    app.wait()
    np.testing.assert_array_equal(app.plotted()["y"][1], expected_y(a=2.0, p=2))
    app._live_widgets["n"].value = 9
    app.wait()
    np.testing.assert_array_equal(app.plotted()["y"][1], expected_y(a=2.0, p=2, n=9))
    # off-grid value through the live-only fine slider
    app._fine_widgets["a"].value = 1.5
    app.wait()
    np.testing.assert_array_equal(app.plotted()["y"][1], expected_y(a=1.5, p=2, n=9))
    assert not np.array_equal(before, app.plotted()["y"][1])
    assert app.busy.value == ""
    assert app.shown_setting["a"] == 1.5


def test_set_moves_grid_or_fine_control():
    app = make_app(threaded=False, grid=False)
    app.set(a=3.0, p=2, n=7)
    assert app._grid_widgets["a"].value == 3.0
    assert app.requests == 1  # one redraw for three values
    np.testing.assert_array_equal(app.plotted()["y"][1], expected_y(a=3.0, p=2, n=7))
    app.set(a=2.5)  # off the grid: the fine slider
    assert app._fine_widgets["a"].value == 2.5
    assert app.shown_setting["a"] == 2.5
    app.set(a=3.0)  # back on the grid value the slider already shows
    assert app.shown_setting["a"] == 3.0
    with pytest.raises(ValueError, match="not one of the grid values"):
        app.set(p=5)
    with pytest.raises(ValueError, match="unknown setting"):
        app.set(q=1)


def test_divergence_message_and_app_stays_usable():
    app = make_app(grid=False)
    app.set(a=-1.0)
    app.wait()
    assert app.messages() == ["diverged at iteration 3"]
    app.set(a=2.0)
    app.wait()
    assert app.messages() == []


def test_error_is_shown_not_raised():
    app = make_app(grid=False, fixed={"fail": True})
    assert app.last_error and "learning_rate must be > 0" in app.last_error
    assert "ValueError" in app.messages()[1]
    assert bytes(app.live_frame.value).startswith(b"\x89PNG")


def test_find_divergence_nested_and_arrays():
    result = {
        "sgd": {"diverged_at": 12},
        "adam": {"diverged_at": None},
        "sweep": {"diverged_at": np.array([0, 5, 0, 9])},
    }
    assert core.find_divergence(result, labels={"sgd": "SGD"}) == [
        "SGD: diverged at iteration 12",
        "sweep: diverged in 2 of 4 runs (first at iteration 5)",
    ]


def test_rapid_changes_end_with_the_last_setting():
    gate = threading.Event()
    calls = []

    def slow(data, setting):
        calls.append(setting["a"])
        gate.wait(5)
        return fake_compute(data, setting)

    controls = [Grid("a", [1.0, 2.0, 3.0, 4.0, 5.0], 1.0, "a"), Live("n", W.IntSlider(5))]
    gate.set()
    app = App("slow", "", controls, slow, LinePlot, None, fixed={"p": 1}, grid=False)
    gate.clear()
    slider = app._grid_widgets["a"]
    for value in [2.0, 3.0, 4.0, 5.0, 3.0]:
        slider.value = value
        time.sleep(0.01)
    assert app.busy.value == "computing…"
    gate.set()
    assert app.wait(10)
    assert app.shown_setting["a"] == 3.0
    y = fake_compute(None, {"a": 3.0, "p": 1, "n": 5})["y"]
    np.testing.assert_array_equal(app.plotted()["y"][1], y)
    # the run in progress finished and was dropped; the middle settings never ran
    assert len(calls) < 6
    assert app.busy.value == ""


def test_idle_worker_ends_and_restarts():
    app = make_app(grid=False)
    app.worker_idle_s = 0.05
    app.set(a=2.0)
    assert app.wait()
    deadline = time.monotonic() + 5
    while app._worker is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert app._worker is None
    app.set(a=3.0)
    assert app.wait()
    np.testing.assert_array_equal(app.plotted()["y"][1], expected_y(a=3.0))


def test_same_setting_same_png():
    a, b = make_app(grid=False), make_app(grid=False)
    assert a.live_frame.value == b.live_frame.value


def test_bad_declarations():
    with pytest.raises(ValueError, match="default"):
        Grid("a", [1, 2], 3, "a")
    with pytest.raises(ValueError, match="duplicate"):
        App("x", "", [Grid("a", [1], 1, "a"), Grid("a", [1], 1, "a")], fake_compute, LinePlot, None)
