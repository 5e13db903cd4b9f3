"""The shared parts of the apps (widgets.core, controls, canvas, worker), with small fakes."""

from __future__ import annotations

import threading
import time

import ipywidgets as W
import numpy as np
import pytest

from widgets import core
from widgets.canvas import DIVERGE_FACTOR, EXPLODE_FACTOR, Plot, run_flags, table_flags
from widgets.core import App, Grid, Live
from widgets.worker import LatestWins


class LinePlot(Plot):
    figsize = (4.0, 3.0)

    def setup(self):
        self.fig.subplots_adjust(top=self.top, bottom=self.bottom)
        self.ax = self.fig.add_subplot()
        (self.line,) = self.ax.plot([], [], gid="y", label="y")

    def update(self, result, setting):
        y = result["y"]
        self.line.set_data(np.arange(len(y)), y)
        self.line.set_visible(True)
        self.ax.relim()
        self.ax.autoscale_view()

    def title(self, setting):
        return f"a {setting['a']:g}, p {setting['p']}, n {setting['n']}"

    def legend_handles(self):
        return [self.line]

    def messages(self, result, setting):
        return run_flags("y", result["y"], num_classes=None, diverged_at=result["diverged_at"])


def fake_compute(data, setting):
    """y = a * (1 + arange(n)) ** p; diverges (stops, diverged_at) when a < 0."""
    if setting.get("fail"):
        raise ValueError("learning_rate must be > 0")
    n = setting["n"]
    y = abs(setting["a"]) * (1.0 + np.arange(n, dtype=float)) ** setting["p"]
    diverged_at = None
    if setting["a"] < 0:
        diverged_at = 3
        y = np.append(y[:2], np.inf)
    return {"y": y, "diverged_at": diverged_at}


def make_app(**kwargs):
    controls = [
        Grid("a", [-1.0, 1.0, 2.0, 3.0], 1.0, "a", any_value="float"),
        Grid("p", [1, 2], 1, "p", kind="toggle"),
        Live("n", [2, 5, 10, 20], 5, "n", any_value="int", lo=2, hi=50),
    ]
    kwargs.setdefault("fixed", {"fail": False})
    compute = kwargs.pop("compute", fake_compute)
    return App("fake", "Fake app", controls, compute, LinePlot, data=None, **kwargs)


def expected_y(**setting):
    return fake_compute(None, {"fail": False, "a": 1.0, "p": 1, "n": 5, **setting})["y"]


def readout(app, key):
    """What the control of ``key`` displays: the label of its selected option."""
    w = app.widget(key)
    return w.options[w.index][0] if hasattr(w, "index") else w.value


def test_draws_on_build_and_grid_frames_match_render():
    app = make_app()
    assert app.grid_axes()[0]["values"] == [-1.0, 1.0, 2.0, 3.0]
    frames = app.grid_frames()
    assert sorted(frames) == [(i, j) for i in range(4) for j in range(2)]
    for png in frames.values():
        assert png.startswith(b"\x89PNG")
    assert app.visible_frame() == frames[(1, 0)]
    np.testing.assert_array_equal(app.plotted()["y"][1], expected_y())
    fresh = make_app(grid=False)
    for index, setting in app.grid_settings():
        assert fresh.render(setting) == frames[index], index
    assert app.frame_bytes() == sum(map(len, frames.values()))
    report = core.frame_report(app)
    assert report["frames"] == 8 and report["grid"] == (4, 2)


def test_structure_classes_and_jslinks():
    app = make_app()
    assert "nndl-app" in app._dom_classes and "nndl-app-fake" in app._dom_classes
    for key in ("a", "p"):
        assert "nndl-grid-slider" in app.widget(key)._dom_classes
    outer = app.mode.children[0]
    assert isinstance(outer, W.Stack) and len(outer.children) == 4
    inner = outer.children[2]
    assert isinstance(inner, W.Stack) and len(inner.children) == 2
    assert "nndl-frame-2-1" in inner.children[1]._dom_classes
    assert inner.children[1].value == app.grid_frames()[(2, 1)]
    assert len(app.links) == 1 + 4
    # live-only parts are marked; the grid slider itself is not
    assert "nndl-live-only" in app.widget("n")._dom_classes
    assert "nndl-live-only" in app.control("a").entry._dom_classes
    assert "nndl-live-only" not in app.widget("a")._dom_classes
    # the static line names each live-only setting with its value
    static = [c for c in app.children if "nndl-static-only" in c._dom_classes]
    assert len(static) == 1 and "n 5" in static[0].value and core.STATIC_NOTE in static[0].value
    # the app's CSS hides live-only parts in the static book (myst-nb's .cell_output)
    style = [c for c in app.children if "nndl-style" in c._dom_classes][0].value
    assert ".cell_output .nndl-app .nndl-live-only" in style
    assert "nndl-kernel-gone" in style


def test_every_frame_has_the_same_size_and_a_fixed_image_box():
    app = make_app()
    import io

    from PIL import Image as PILImage

    sizes = {PILImage.open(io.BytesIO(png)).size for png in app.grid_frames().values()}
    assert sizes == {app.canvas.size_px}
    w, h = app.canvas.size_px
    for image in [app.live_frame, app.mode.children[0].children[0].children[0]]:
        assert image.layout.height == f"{h}px" and image.layout.width == f"{w}px"
        assert image.layout.object_fit == "contain"


def test_python_side_links_select_the_matching_frame():
    app = make_app(threaded=False)
    outer = app.mode.children[0]
    W.link((app.widget("a"), "index"), (outer, "selected_index"))
    app.widget("a").value = 3.0
    app.widget("p").value = 2
    assert outer.selected_index == 3
    assert outer.children[3].selected_index == 1
    assert app.showing_live
    assert app.live_frame.value == app.grid_frames()[(3, 1)]


@pytest.mark.parametrize("threaded", [False, True])
def test_each_control_redraws_with_its_result(threaded):
    app = make_app(threaded=threaded, grid=False)
    app.widget("a").value = 2.0
    assert app.wait()
    np.testing.assert_array_equal(app.plotted()["y"][1], expected_y(a=2.0))
    app.widget("p").value = 2
    assert app.wait()
    np.testing.assert_array_equal(app.plotted()["y"][1], expected_y(a=2.0, p=2))
    app.widget("n").value = 10
    assert app.wait()
    np.testing.assert_array_equal(app.plotted()["y"][1], expected_y(a=2.0, p=2, n=10))
    app.control("a").entry.value = "1.5"  # typed: off the slider's values
    assert app.wait()
    np.testing.assert_array_equal(app.plotted()["y"][1], expected_y(a=1.5, p=2, n=10))
    assert app.busy.value == "" and "nndl-stale" not in app.mode._dom_classes
    assert app.shown_setting["a"] == 1.5


def test_one_control_per_setting_readout_is_the_setting():
    app = make_app(threaded=False)
    a = app.widget("a")
    assert readout(app, "a") == "1"
    # typing a value between the slider's values: the slider shows it, in order
    app.control("a").entry.value = "1.5"
    assert app.shown_setting["a"] == 1.5
    assert readout(app, "a") == "1.5"
    assert [v for _, v in a.options] == [-1.0, 1.0, 1.5, 2.0, 3.0]
    assert app.control("a").entry.value == "1.5"
    assert app.control("a").grid_index() is None
    # the grid's Stacks keep one child per option (the live frame at the typed value's
    # place), so the page's jslinks stay aligned if the kernel stops
    outer = app.mode.children[0]
    assert len(outer.children) == 5 and outer.children[2] is app.live_frame
    assert outer.selected_index == a.index == 2
    # moving the slider to a value of its own removes the typed one, and redraws
    a.value = 3.0
    assert [v for _, v in a.options] == [-1.0, 1.0, 2.0, 3.0]
    assert len(outer.children) == 4 and app.live_frame not in outer.children
    assert outer.selected_index == 3
    assert readout(app, "a") == "3" and app.shown_setting["a"] == 3.0
    assert app.control("a").entry.value == "3"
    # set() shows the value in the same control
    app.set(a=2.5)
    assert readout(app, "a") == "2.5" and app.shown_setting["a"] == 2.5
    app.set(a=1.0)
    assert readout(app, "a") == "1" and app.shown_setting["a"] == 1.0
    assert app.visible_frame() == app.grid_frames()[(1, 0)]


def test_out_of_range_typed_value_warns_and_keeps_the_setting():
    app = make_app(threaded=False, grid=False)
    computed = app.computations
    app.control("a").entry.value = "10"
    assert "out of range" in app.warning.value and "kept 1" in app.warning.value
    assert app.setting()["a"] == 1.0 and readout(app, "a") == "1"
    assert app.control("a").entry.value == "1"
    assert app.computations == computed
    app.control("n").entry.value = "7.5"  # not a whole number
    assert "whole number" in app.warning.value
    app.control("n").entry.value = "abc"
    assert "not a number" in app.warning.value
    app.control("n").entry.value = "7"
    assert app.warning.value == "" and app.shown_setting["n"] == 7


def test_set_and_constructor_accept_the_same_values():
    app = make_app(threaded=False, grid=False)
    app.set(a=3.0, p=2, n=7)
    assert app.requests == 1  # one redraw for three values
    np.testing.assert_array_equal(app.plotted()["y"][1], expected_y(a=3.0, p=2, n=7))
    for bad, message in [
        ({"a": 10.0}, r"a=10.0 is out of range: a number from -1 to 3"),
        ({"p": 5}, r"p=5 is not accepted: one of \[1, 2\]"),
        ({"n": 1}, "out of range: a whole number from 2 to 50"),
        ({"n": 7.5}, "a whole number"),
        ({"a": "big"}, "not accepted"),
    ]:
        with pytest.raises(ValueError, match=message):
            app.set(**bad)
        key, value = next(iter(bad.items()))
        control = app.control(key)
        with pytest.raises(ValueError, match=message):
            control.coerce(value)
    # nothing changed by a refused set(), even with a good value beside it
    with pytest.raises(ValueError):
        app.set(n=9, a=10.0)
    assert app.setting()["n"] == 7
    with pytest.raises(ValueError, match="unknown setting"):
        app.set(q=1)
    # an off-grid default is accepted by the constructor too, and gets its own frame
    controls = [Grid("a", [1.0, 2.0], 1.5, "a", any_value="float"), Live("n", [5], 5, "n")]
    off = App("off", "", controls, fake_compute, LinePlot, None, fixed={"p": 1})
    assert off.grid_axes()[0]["values"] == [1.0, 1.5, 2.0]
    assert off.visible_frame() == off.grid_frames()[(1,)]


def test_divergence_message_and_app_stays_usable():
    app = make_app(grid=False)
    app.set(a=-1.0)
    assert app.wait()
    assert app.messages() == ["y: diverged at iteration 3 (loss not finite)"]
    app.set(a=2.0)
    assert app.wait()
    assert app.messages() == []


def test_failure_is_a_sentence_not_a_traceback():
    with pytest.raises(ValueError, match="learning_rate must be > 0"):
        make_app(grid=False, fixed={"fail": True})  # a bad fixed setting: the constructor says so
    app = make_app(grid=False)
    app.fixed["fail"] = True
    app.set(a=2.0)
    assert app.wait()
    assert app.last_error == "This setting could not be computed: learning_rate must be > 0"
    assert app.messages() == [app.last_error]
    assert "Traceback" not in app.messages()[0] and "ValueError" not in app.messages()[0]
    assert app.plotted() == {}  # no stale curves under the sentence
    assert bytes(app.live_frame.value).startswith(b"\x89PNG")


def test_run_flags_from_the_definitions():
    # not finite at the 4th loss: diverged at iteration 4 (losses are numbered from 1)
    assert run_flags("SGD", [2.3, 2.0, 5.0, np.inf], num_classes=10) == [
        "SGD: diverged at iteration 4 (loss not finite)"
    ]
    # above DIVERGE_FACTOR times the start at step 2 (steps numbered from 0), and it stays up
    loss = [1.0, 10.0, DIVERGE_FACTOR * 2, DIVERGE_FACTOR * 20]
    assert run_flags("Nesterov", loss, step_word="step", first=0, num_classes=None) == [
        f"Nesterov: diverged at step 2 (loss above {DIVERGE_FACTOR:g}× its start)"
    ]
    # a spike it recovers from is not a divergence
    spike = run_flags("RMSProp", [2.3, 2.3 * DIVERGE_FACTOR * 3, 1.0, 0.5], num_classes=None)
    assert len(spike) == 1 and "then came back" in spike[0] and "iteration 2" in spike[0]
    # a finite loss that stays huge: exploded (relative to ln 10)
    big = EXPLODE_FACTOR * np.log(10) * 10
    assert run_flags("baseline", [big] * 20, num_classes=10)[0].startswith(
        "baseline: the loss exploded"
    )
    # accuracy: fell to chance, or never left it
    fell = run_flags("momentum", [2.3, 2.3], accuracy=[0.1, 0.6, 0.1], num_classes=10)
    assert fell == ["momentum: accuracy fell to chance (0.10 at the end)"]
    stayed = run_flags("SGD", [2.3, 2.3], accuracy=[0.1, 0.11], num_classes=10)
    assert stayed == ["SGD: accuracy never left chance (0.11)"]
    assert run_flags("Adam", [2.3, 0.5], accuracy=[0.1, 0.9], num_classes=10) == []


def test_table_flags():
    table = {
        "diverged_at": np.array([0, 5, 0, 9]),
        "best_val_acc": np.array([0.1, 0.5, 0.9, 0.11]),
        "final_train_loss": np.array([2.3, np.nan, 0.1, 1e8]),
    }
    assert table_flags("baseline", table) == [
        "baseline: diverged in 2 of 4 runs (first at iteration 5, loss not finite)",
        "baseline: 2 of 4 runs never left chance accuracy",
        "baseline: in 1 of 4 runs the loss exploded (up to 1e+08; chance level is 2.30)",
    ]


def test_rapid_changes_end_with_the_last_setting():
    gate = threading.Event()
    calls = []

    def slow(data, setting):
        calls.append(setting["a"])
        gate.wait(5)
        return fake_compute(data, setting)

    controls = [Grid("a", [1.0, 2.0, 3.0, 4.0, 5.0], 1.0, "a"), Live("n", [5], 5, "n")]
    gate.set()
    app = App("slow", "", controls, slow, LinePlot, None, fixed={"p": 1}, grid=False)
    gate.clear()
    for value in [2.0, 3.0, 4.0, 5.0, 3.0]:
        app.widget("a").value = value
        time.sleep(0.01)
    assert app.busy.value == "computing…"
    assert "nndl-stale" in app.mode._dom_classes  # the old figure is dimmed meanwhile
    gate.set()
    assert app.wait(10)
    assert app.shown_setting["a"] == 3.0
    np.testing.assert_array_equal(
        app.plotted()["y"][1], fake_compute(None, {"a": 3.0, "p": 1, "n": 5})["y"]
    )
    assert len(calls) < 6
    assert app.busy.value == "" and "nndl-stale" not in app.mode._dom_classes


def test_preempted_request_cannot_publish_an_older_setting():
    """Two threads change two controls at once; the one preempted between reading the
    setting and numbering it must not end up drawing the older setting."""
    app = make_app(grid=False)
    assert app.wait()
    real_setting = app.setting
    first_read = threading.Event()
    release = threading.Event()

    def setting():
        snapshot = real_setting()
        if threading.current_thread().name == "first" and not first_read.is_set():
            first_read.set()
            release.wait(1.0)  # preempted here, holding its (soon stale) snapshot
        return snapshot

    app.setting = setting

    def first():
        app.set(a=2.0)

    t1 = threading.Thread(target=first, name="first")
    t1.start()
    assert first_read.wait(5)
    t2 = threading.Thread(target=lambda: app.set(n=9), name="second")
    t2.start()
    time.sleep(0.2)  # the second change is made while the first is preempted
    release.set()
    t1.join(5)
    t2.join(5)
    assert app.wait(10)
    app.setting = real_setting
    # the values of both changes are what is drawn, whichever thread numbered last
    assert app.setting() == {"fail": False, "a": 2.0, "p": 1, "n": 9}
    assert app.shown_setting == app.setting()
    np.testing.assert_array_equal(app.plotted()["y"][1], expected_y(a=2.0, n=9))
    assert app.busy.value == ""


def test_publish_checks_the_generation_under_the_submit_lock():
    shown = []
    worker = LatestWins("t", lambda g, s: None, threaded=False)
    g1 = worker.submit(lambda: {"a": 1})
    g2 = worker.submit(lambda: {"a": 2})
    assert worker.publish(g1, lambda: shown.append(1)) is False  # older: dropped
    assert worker.publish(g2, lambda: shown.append(2)) is True
    assert shown == [2] and worker.dropped == 1


def test_a_new_setting_stops_the_running_computation():
    progress = {"steps": 0}
    started = threading.Event()

    def long_compute(data, setting):
        if setting["a"] == 2.0:  # a long run, in many small Python steps like a training loop
            started.set()
            for _ in range(400):
                progress["steps"] += 1
                time.sleep(0.01)
        return fake_compute(data, setting)

    app = make_app(grid=False, compute=long_compute)
    app.set(a=2.0)
    assert started.wait(5)
    time.sleep(0.1)
    t0 = time.monotonic()
    app.set(a=3.0)
    assert app.wait(10)
    assert time.monotonic() - t0 < 2.0  # not the 4 s the first run would have taken
    assert progress["steps"] < 300
    assert app.worker.cancelled == 1
    assert app.shown_setting["a"] == 3.0
    # the app keeps working after a cancellation
    app.set(a=1.0)
    assert app.wait(10) and app.shown_setting["a"] == 1.0


def test_long_runs_show_progress_and_say_so_before_they_start(monkeypatch):
    monkeypatch.setattr(core, "PROGRESS_AFTER_S", 0.1)
    gate = threading.Event()
    seen = []

    def slow(data, setting):
        if setting["a"] == 3.0:
            gate.wait(5)
        return fake_compute(data, setting)

    app = make_app(grid=False, compute=slow, cost=lambda s: s["a"])
    app.seconds_per_cost = 5.0  # 3.0 costs an estimated 15 s: more than LONG_S
    app.set(a=3.0)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        seen.append((app.busy.value, app.progress.layout.visibility, app.progress.value))
        if app.progress.layout.visibility == "visible":
            break
        time.sleep(0.02)
    texts = [s[0] for s in seen]
    assert any("about 15 s" in t and "cancels" in t for t in texts), texts
    assert app.progress.layout.visibility == "visible"
    assert "computing…" in app.busy.value and "of about 15 s" in app.busy.value
    assert 0.0 <= app.progress.value < 0.5
    gate.set()
    assert app.wait(10)
    assert app.busy.value == "" and app.progress.layout.visibility == "hidden"


def test_idle_worker_ends_and_restarts():
    app = make_app(grid=False)
    app.worker.idle_s = 0.05
    app.set(a=2.0)
    assert app.wait()
    deadline = time.monotonic() + 5
    while app.worker.thread is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert app.worker.thread is None
    app.set(a=3.0)
    assert app.wait()
    np.testing.assert_array_equal(app.plotted()["y"][1], expected_y(a=3.0))


def test_same_setting_same_png():
    a, b = make_app(grid=False), make_app(grid=False)
    assert a.live_frame.value == b.live_frame.value


def test_one_cache_for_settings_and_calls():
    cache = core.Cache(maxsize=3)
    calls = []

    def f(data, x):
        calls.append(x)
        return x * 2

    assert cache.call(f, None, x=1) == 2 and cache.call(f, None, x=1) == 2
    assert calls == [1] and cache.calls == 1
    for i in range(5):
        cache.put(("setting", i), i)
    assert ("setting", 0) not in cache and cache.get(("setting", 4)) == 4


def test_bad_declarations():
    with pytest.raises(ValueError, match="out of range|not accepted"):
        Grid("a", [1, 2], 3, "a")
    with pytest.raises(ValueError, match="duplicate"):
        App("x", "", [Grid("a", [1], 1, "a"), Grid("a", [1], 1, "a")], fake_compute, LinePlot, None)
    with pytest.raises(ValueError, match="any_value needs kind='slider'"):
        Grid("a", [1, 2], 1, "a", kind="toggle", any_value="int")
