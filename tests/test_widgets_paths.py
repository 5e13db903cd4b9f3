"""widgets.paths on the Python side: factories, trait checks, the kernel's numbers.

The browser side (the page's arithmetic against the engine, every control, the
drag and the map click) is tested in tests/browser/test_optimizer_paths.py.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

pytest.importorskip("anywidget")

import widgets  # noqa: E402
from nndl_lab.experiments import rates  # noqa: E402
from nndl_lab.experiments.surfaces import (  # noqa: E402
    PAGE_SURFACES,
    PATH_RULES,
    make_surface,
    surface_paths,
)
from widgets.paths import PANELS, OptimizerPaths  # noqa: E402


def test_optimizer_paths_defaults_per_surface():
    for surface in PAGE_SURFACES:
        w = widgets.optimizer_paths(surface)
        assert isinstance(w, OptimizerPaths)
        assert w.surface == surface
        assert w.start == list(make_surface(surface).start)
        assert w.panels == ["paths", "loss"]
        assert w.rules == list(PATH_RULES)
    assert widgets.optimizer_paths("rosenbrock").learning_rate == 1e-3


def test_the_page_gets_every_surface_the_engine_has():
    table = OptimizerPaths()._surfaces
    assert list(table) == list(PAGE_SURFACES)
    for name, row in table.items():
        surface = make_surface(name)
        assert row["start"] == list(surface.start)
        assert row["minimum"] == list(surface.minimum)
        assert row["xlim"] == list(surface.xlim) and row["ylim"] == list(surface.ylim)


def test_momentum_rate_map_defaults():
    w = widgets.momentum_rate_map(kappa=30, rule="sgd_nesterov_momentum")
    assert w.panels == ["map", "eigen", "paths"]
    assert w.kappa == 30.0 and w.map_rule == "sgd_nesterov_momentum"
    assert w.rules == ["sgd", "sgd_momentum", "sgd_nesterov_momentum"]
    assert w.rate() == float(rates.worst_case_rate("sgd_nesterov_momentum", 0.02, 0.9, 1.0, 30.0))


def test_paths_are_the_engines_for_the_current_setting():
    w = widgets.optimizer_paths("saddle", noise=0.3, seed=17, num_steps=40, momentum=0.42)
    w.start = [0.5, -0.01]
    expected = surface_paths(
        "saddle",
        learning_rate=0.1,  # the saddle's default in optimizer_paths
        noise=0.3,
        seed=17,
        num_steps=40,
        momentum=0.42,
        start=[0.5, -0.01],
    )
    got = w.paths()
    for rule in PATH_RULES:
        np.testing.assert_array_equal(got[rule]["path"], expected[rule]["path"])


def test_changing_the_surface_resets_the_start():
    w = widgets.optimizer_paths("quadratic", start=[1.0, 1.0])
    assert w.start == [1.0, 1.0]
    w.surface = "rosenbrock"
    assert w.start == list(make_surface("rosenbrock").start)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"lr": 0.1}, TypeError, "unknown setting"),
        ({"momentum": 1.0}, ValueError, "momentum must be in"),
        ({"learning_rate": -1e-3}, ValueError, "learning_rate"),
        ({"epsilon": 0.0}, ValueError, "epsilon"),
        ({"beta2": 1.5}, ValueError, "beta2"),
        ({"num_steps": 0}, ValueError, "num_steps"),
        ({"num_steps": 2.5}, ValueError, "num_steps"),
        ({"seed": -1}, ValueError, "seed"),
        ({"seed": 2**32}, ValueError, "seed"),
        ({"start": [1.0]}, ValueError, "start"),
        ({"start": "here"}, TypeError, "start"),
        ({"rules": ["newton"]}, ValueError, "rules"),
        ({"panels": ["paths", "3d"]}, ValueError, "panels"),
        ({"panels": "paths"}, TypeError, "panels"),
        ({"kappa": 0.5}, ValueError, "kappa"),
        ({"noise": float("nan")}, ValueError, "noise"),
        ({"learning_rate": "fast"}, TypeError, "learning_rate"),
    ],
)
def test_bad_settings_fail_before_a_widget_exists(kwargs, error, match):
    with pytest.raises(error, match=match):
        widgets.optimizer_paths("quadratic", **kwargs)


def test_bad_factory_arguments():
    with pytest.raises(ValueError, match="surface must be one of"):
        widgets.optimizer_paths("bowl")
    with pytest.raises(ValueError, match="rule must be one of"):
        widgets.momentum_rate_map(rule="adam")
    with pytest.raises(ValueError, match="kappa"):
        widgets.momentum_rate_map(kappa=1e7)


def test_trait_checks_on_a_live_widget():
    w = widgets.optimizer_paths()
    with pytest.raises(ValueError, match="momentum"):
        w.momentum = 1.2
    with pytest.raises(ValueError, match="surface"):
        w.surface = "bowl"
    with pytest.raises(ValueError, match="map_rule"):
        w.map_rule = "sgd"
    with pytest.raises(ValueError, match="start"):
        w.start = [0.0, float("inf")]
    assert w.momentum == 0.9 and w.surface == "quadratic"
    w.rules = ["adam", "sgd"]
    assert w.rules == ["sgd", "adam"]  # in the legend's order


def test_front_end_is_self_contained_and_names_every_trait():
    w = OptimizerPaths()
    esm = str(w._esm)
    assert "export default { render }" in esm
    assert not re.search(r"^\s*import\s", esm, re.MULTILINE), "the _esm must not import anything"
    synced = {name for name in w.traits(sync=True) if not name.startswith("_")}
    synced -= {"comm", "keys", "log", "tabbable", "tooltip", "layout"}
    for name in synced:
        assert f'"{name}"' in esm or f"{name}:" in esm, f"paths.js does not use the trait {name}"
    assert set(PANELS) <= {m for m in re.findall(r"(\w+): \(\) =>", esm)}
