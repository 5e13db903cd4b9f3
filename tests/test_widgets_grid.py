"""The static grid of every app: frames are what the kernel draws for their settings.

For every grid point of every app, the experiment function is called here
directly with that setting's arguments; the app's precomputed result must hold
the same numbers, and its frame must be the PNG that rendering the result
gives (on a second app, built without a grid). The grid values cover the
sliders' ranges, every gridded slider is jslinked to its Stack, and the
frames stay light.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping

import ipywidgets as W
import numpy as np
import pytest
from PIL import Image as PILImage

import widgets
from nndl_lab import experiments as E
from nndl_lab import optim
from nndl_lab.data import get_data
from widgets.core import SETTING_TEXT_KEY, frame_report, grid_frames

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data():
    return get_data("digits", verbose=False)


# -- the experiment calls a setting stands for (written out, not the apps' code) --------


def race(data, s):
    rules = {}
    for rule in s["rules"]:
        config = {"learning_rate": s["learning_rate"]}
        if "momentum" in optim.RULES[rule].defaults:  # the rules that declare one
            config["momentum"] = s["momentum"]
        rules[rule] = config
    return E.compare_update_rules(
        data,
        rules,
        hidden_dims=(s["width"],) * s["depth"],
        num_train=s["num_train"],
        num_epochs=s["num_epochs"],
        batch_size=s["batch_size"],
        weight_scale=s["weight_scale"],
        seed=s["seed"],
    )


def surface(data, s):
    out = {}
    for rule in s["rules"]:
        if optim.RULES[rule].adaptive:
            config = {"learning_rate": s["adaptive_learning_rate"]}
        else:
            config = {"learning_rate": s["learning_rate"]}
            if "momentum" in optim.RULES[rule].defaults:
                config["momentum"] = s["momentum"]
        out[rule] = E.optimize_surface(s["surface"], rule, config, num_steps=s["num_steps"])
    return out


_TRAIN_NET_CALLS: dict = {}


def _train_net(data, **kwargs):
    """E.train_net, called once per distinct set of arguments (the runs are deterministic)."""
    key = repr(sorted(kwargs.items()))
    if key not in _TRAIN_NET_CALLS:
        _TRAIN_NET_CALLS[key] = E.train_net(data, **kwargs)
    return _TRAIN_NET_CALLS[key]


def adaptive(data, s):
    common = dict(
        hidden_dims=(s["width"],) * s["depth"],
        num_train=s["num_train"],
        num_epochs=s["num_epochs"],
        batch_size=s["batch_size"],
        weight_scale=s["weight_scale"],
        seed=s["seed"],
    )
    eps = s["epsilon"]
    return {
        "reference": _train_net(
            data,
            update_rule="sgd_momentum",
            optim_config={
                "learning_rate": s["reference_learning_rate"],
                "momentum": s["reference_momentum"],
            },
            **common,
        ),
        "rmsprop": _train_net(
            data,
            update_rule="rmsprop",
            optim_config={
                "learning_rate": s["rmsprop_learning_rate"],
                "decay_rate": s["decay_rate"],
                "epsilon": eps,
            },
            **common,
        ),
        "adam": _train_net(
            data,
            update_rule="adam",
            optim_config={
                "learning_rate": s["adam_learning_rate"],
                "beta1": s["beta1"],
                "beta2": s["beta2"],
                "epsilon": eps,
            },
            **common,
        ),
    }


def batchnorm(data, s):
    """batchnorm_vs_baseline's two nets, trained by the batched sweep (one weight scale)."""
    table = E.weight_scale_sweep(
        data,
        weight_scales=[s["weight_scale"]],
        hidden_dims=(s["width"],) * s["depth"],
        num_train=s["num_train"],
        num_epochs=s["num_epochs"],
        batch_size=s["batch_size"],
        learning_rate=s["learning_rate"],
        seed=s["seed"],
    )
    runs = {}
    for variant in ("baseline", "batchnorm"):
        t = table[variant]
        at = int(t["diverged_at"][0])
        runs[variant] = {
            "loss_history": t["loss_history"][0][:at] if at else t["loss_history"][0],
            "train_acc_history": t["train_acc_history"][0][~np.isnan(t["train_acc_history"][0])],
            "val_acc_history": t["val_acc_history"][0][~np.isnan(t["val_acc_history"][0])],
            "best_val_acc": t["best_val_acc"][0],
            "best_train_acc": t["best_train_acc"][0],
            "final_train_loss": t["final_train_loss"][0],
            "diverged_at": at or None,
        }
    return runs


def sweep(data, s):
    return E.weight_scale_sweep(
        data,
        weight_scales=np.logspace(-4, 0, 20),
        hidden_dims=(s["width"],) * s["depth"],
        num_epochs=s["num_epochs"],
        batch_size=s["batch_size"],
        num_train=s["num_train"],
        learning_rate=s["learning_rate"],
        seed=s["seed"],
    )


def dropout(data, s):
    p = s["keep_ratio"]
    return E.dropout_sweep(
        data,
        keep_ratios=(1.0,) if p == 1.0 else (1.0, p),
        hidden_dims=(s["width"],) * s["depth"],
        num_train=s["num_train"],
        num_epochs=s["num_epochs"],
        batch_size=s["batch_size"],
        learning_rate=s["learning_rate"],
        weight_scale=s["weight_scale"],
        seed=s["seed"],
    )


# name: (build, experiment, minimum grid shape)
CASES = {
    "optimizer_race": (widgets.optimizer_race, race, (8,)),
    "loss_surface_quadratic": (
        lambda d, **k: widgets.loss_surface(d, surface="quadratic", **k),
        surface,
        (6, 4),
    ),
    "loss_surface_rosenbrock": (
        lambda d, **k: widgets.loss_surface(d, surface="rosenbrock", **k),
        surface,
        (6, 4),
    ),
    "adaptive_rates": (widgets.adaptive_rates, adaptive, (6, 4)),
    "batchnorm_vs_baseline": (widgets.batchnorm_vs_baseline, batchnorm, (6, 4)),
    "weight_scale_sensitivity": (widgets.weight_scale_sensitivity, sweep, (6,)),
    "dropout_regularization": (widgets.dropout_regularization, dropout, (8,)),
}


def assert_same_numbers(got, want, path=""):
    """Nested dicts of arrays/floats/None: equal up to float rounding (NaN == NaN)."""
    if isinstance(want, Mapping):
        assert isinstance(got, Mapping) and set(got) == set(want), path
        for key in want:
            assert_same_numbers(got[key], want[key], f"{path}/{key}")
    elif want is None:
        assert got is None, path
    else:
        np.testing.assert_allclose(
            np.asarray(got, dtype=float),
            np.asarray(want, dtype=float),
            rtol=1e-5,
            atol=1e-7,
            equal_nan=True,
            err_msg=path,
        )


def exactly_equal(got, want) -> bool:
    if isinstance(want, Mapping):
        return all(exactly_equal(got[k], want[k]) for k in want)
    if want is None:
        return got is None
    return np.array_equal(np.asarray(got), np.asarray(want), equal_nan=True)


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request, data):
    build, experiment, shape = CASES[request.param]
    app = build(data)
    return request.param, build, experiment, shape, app


def test_every_frame_is_the_render_of_the_experiment(case, data):
    name, build, experiment, shape, app = case
    fresh = build(data, grid=False)
    frames = app.grid_frames()
    points = app.grid_settings()
    assert len(frames) == len(points) == int(np.prod([len(a["values"]) for a in app.grid_axes()]))
    exact = 0
    for index, setting in points:
        direct = experiment(data, setting)
        precomputed = app.compute(setting)  # the result the grid frame was drawn from
        assert_same_numbers(precomputed, direct, f"{name}{index}")
        if exactly_equal(precomputed, direct):
            # the frame is the render of the experiment's own result
            assert frames[index] == fresh.render(setting, result=direct), (name, index)
            exact += 1
        else:  # batched vs single runs differ by float rounding: same numbers, drawn alike
            assert frames[index] == fresh.render(setting, result=precomputed), (name, index)
    print(f"{name}: {exact}/{len(points)} grid results bit-identical to the direct calls")


def test_grid_shape_covers_the_sliders(case):
    name, build, experiment, shape, app = case
    axes = app.grid_axes()
    assert tuple(len(a["values"]) for a in axes) >= shape
    assert all(len(a["values"]) >= n for a, n in zip(axes, shape, strict=False))
    for axis in axes:
        slider = app.widget(axis["key"])
        assert [v for _, v in slider.options] == axis["values"]
        assert slider.index == axis["default_index"]
        assert "nndl-grid-slider" in slider._dom_classes
        control = app.control(axis["key"])
        if control.any_value:  # a live kernel takes any value, at least over the grid's range
            assert control.lo <= min(axis["values"]) and control.hi >= max(axis["values"])
            assert "nndl-live-only" in control.entry._dom_classes


def test_stacks_are_jslinked_and_frames_named(case):
    name, build, experiment, shape, app = case
    axes = app.grid_axes()
    links = app.links
    # one link for the outer Stack, one per inner Stack
    expected_links = sum(
        int(np.prod([len(a["values"]) for a in axes[:i]])) for i in range(len(axes))
    )
    assert len(links) == expected_links
    for link in links:
        assert link._model_name == "LinkModel"
        (slider, attr), (stack, target) = link.source, link.target
        assert attr == "index" and target == "selected_index"
        grid_widgets = [app.widget(a["key"]) for a in axes]
        assert slider in grid_widgets and isinstance(stack, W.Stack)
    frames = app.grid_frames()

    def walk(node, prefix):
        if isinstance(node, W.Stack):
            for i, child in enumerate(node.children):
                walk(child, (*prefix, i))
        else:
            assert isinstance(node, W.Image)
            assert f"nndl-frame-{'-'.join(map(str, prefix))}" in node._dom_classes
            assert bytes(node.value) == frames[prefix]

    walk(app.mode.children[0], ())
    # the page shows the default's frame until the kernel draws something else
    default = tuple(a["default_index"] for a in axes)
    assert not app.showing_live
    assert app.visible_frame() == frames[default]
    # in Python, an explicit link stands in for the browser's jslink
    last = app.grid_axes()[-1]
    slider = app.widget(last["key"])
    outer = app.mode.children[0]
    W.link((app.widget(axes[0]["key"]), "index"), (outer, "selected_index"))
    assert outer.selected_index == axes[0]["default_index"]
    assert slider.index == last["default_index"]


def test_frames_are_light(case):
    name, build, experiment, shape, app = case
    report = frame_report(app)
    print(name, report)
    # two apps of this size fit one chapter page (1.5 MB with the widget state and text)
    assert report["state_bytes"] < 650_000
    assert grid_frames(app)["frames"].keys() == app.grid_frames().keys()
    for png in app.grid_frames().values():
        assert png.startswith(b"\x89PNG") and png[25] == 3  # palette PNG (colour type 3)


def test_each_frame_names_the_setting_it_was_drawn_for(case):
    # The PNG carries the slider labels of its setting, so a browser test can tie the
    # bytes it sees to the slider positions without trusting the Stack structure.
    name, build, experiment, shape, app = case
    axes = app.grid_axes()
    for index, png in app.grid_frames().items():
        drawn_for = json.loads(PILImage.open(io.BytesIO(png)).text[SETTING_TEXT_KEY])
        labels = {
            axis["key"]: app.widget(axis["key"]).options[i][0]
            for axis, i in zip(axes, index, strict=True)
        }
        assert drawn_for == labels, (name, index)
