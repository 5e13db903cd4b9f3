"""Each app, headless: every control changes the plot to what the experiment function returns.

The expected values are computed here by calling :mod:`nndl_lab.experiments`
directly with the arguments each setting stands for (not through the app's
own compute function), so the tests check the wiring too.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import widgets
from nndl_lab import experiments as E
from nndl_lab import optim
from nndl_lab.data import get_data
from widgets._common import RULE_LABELS


@pytest.fixture(scope="module")
def data():
    return get_data("digits", verbose=False)


def assert_plotted(app, expected: dict):
    """The app's visible lines with these gids hold exactly these y values."""
    plotted = app.plotted()
    for gid, y in expected.items():
        assert gid in plotted, f"{gid} not plotted (have {sorted(plotted)})"
        np.testing.assert_array_equal(plotted[gid][1], np.asarray(y, dtype=float), err_msg=gid)


def run_lines(runs: dict, *, kinds=("loss", "train", "val")) -> dict:
    keys = {"loss": "loss_history", "train": "train_acc_history", "val": "val_acc_history"}
    return {f"{k}/{label}": run[keys[k]] for label, run in runs.items() for k in kinds}


def controls_of(app):
    """(widget, entry) lookups by key: the main widget and the typed-value box."""
    return (lambda key: app.widget(key)), (lambda key: app.control(key).entry)


def change_each(app, changes, expected_for):
    """Apply ``changes`` one by one (widget, value); after each, compare with the experiment."""
    previous = app.plotted()
    for widget, value in changes:
        widget.value = value
        assert app.wait(120)
        assert app.last_error is None, app.last_error
        setting = app.setting()
        assert app.shown_setting == setting
        expected = expected_for(setting)
        assert_plotted(app, expected)
        now = app.plotted()
        changed = any(
            k not in previous or not np.array_equal(previous[k][1], now[k][1], equal_nan=True)
            for k in now
        ) or set(previous) != set(now)
        assert changed, f"plot unchanged after setting {widget.description!r} to {value!r}"
        previous = now


def rapid(app, widget, values):
    for value in values:
        widget.value = value
    assert app.wait(120)
    assert app.shown_setting == app.setting()
    assert app.requests >= len(values)


# -- optimizer race ----------------------------------------------------------------


def race_expected(data, s):
    rules = {}
    for rule in s["rules"]:
        config = {"learning_rate": s["learning_rate"]}
        if "momentum" in optim.RULES[rule].defaults:  # the rules that declare one
            config["momentum"] = s["momentum"]
        rules[rule] = config
    runs = E.compare_update_rules(
        data,
        rules,
        hidden_dims=(s["width"],) * s["depth"],
        num_train=s["num_train"],
        num_epochs=s["num_epochs"],
        batch_size=s["batch_size"],
        weight_scale=5e-2,
        seed=0,
    )
    return run_lines(runs)


def first_bad(loss, first=1, factor=100.0):
    """The first step whose loss is not finite or above factor x its start (by definition)."""
    for i, value in enumerate(loss):
        if not np.isfinite(value) or value > factor * loss[0]:
            return i + first
    return None


def test_optimizer_race_controls(data):
    app = widgets.optimizer_race(data, grid=False)
    assert_plotted(app, race_expected(data, app.setting()))
    w, entry = controls_of(app)
    change_each(
        app,
        [
            (w("learning_rate"), 3e-3),
            (entry("learning_rate"), "2e-3"),
            (w("momentum"), 0.5),
            (w("batch_size"), 50),
            (w("num_epochs"), 2),
            (entry("num_train"), "500"),
            (entry("width"), "40"),
            (w("depth"), 1),
            (w("rules"), ("sgd", "adam")),
        ],
        lambda s: race_expected(data, s),
    )
    assert set(app.plotted()) == {
        f"{k}/{r}" for k in ("loss", "train", "val") for r in ("sgd", "adam")
    }


def test_optimizer_race_rapid_and_divergence(data):
    app = widgets.optimizer_race(data, grid=False, num_epochs=2)
    rapid(app, app.widget("learning_rate"), [1e-4, 3e-4, 1e-2, 3e-2, 1e-1])
    assert app.setting()["learning_rate"] == 1e-1
    expected = race_expected(data, app.setting())
    assert_plotted(app, expected)
    runs = app.result
    diverged = [r for r, run in runs.items() if run["diverged_at"] is not None]
    assert diverged, "lr 0.1 should diverge for some rule"
    for rule in diverged:
        label = RULE_LABELS[rule]
        at = first_bad(runs[rule]["loss_history"])
        assert at <= runs[rule]["diverged_at"]
        assert any(m.startswith(f"{label}: diverged at iteration {at} (") for m in app.messages())
    # still usable
    app.set(learning_rate=1e-3)
    app.wait()
    assert not any("diverged" in m for m in app.messages())
    assert_plotted(app, race_expected(data, app.setting()))


# -- loss surface -------------------------------------------------------------------


def surface_expected(s):
    out = {}
    for rule in s["rules"]:
        if optim.RULES[rule].adaptive:
            config = {"learning_rate": s["adaptive_learning_rate"]}
        else:
            config = {"learning_rate": s["learning_rate"]}
            if "momentum" in optim.RULES[rule].defaults:
                config["momentum"] = s["momentum"]
        r = E.optimize_surface(s["surface"], rule, config, num_steps=s["num_steps"])
        out[f"path/{rule}"] = r["path"][:, 1]
        out[f"loss/{rule}"] = r["loss"]
    return out


@pytest.mark.parametrize("surface", ["quadratic", "rosenbrock"])
def test_loss_surface_controls(surface):
    app = widgets.loss_surface(surface=surface, grid=False)
    assert_plotted(app, surface_expected(app.setting()))
    w, entry = controls_of(app)
    lrs = w("learning_rate").options
    change_each(
        app,
        [
            (w("learning_rate"), lrs[1][1]),
            (entry("learning_rate"), str(lrs[3][1] * 1.3)),
            (w("momentum"), 0.5),
            (entry("num_steps"), "50"),
            (w("adaptive_learning_rate"), 0.03),
            (w("rules"), ("sgd_momentum", "sgd_nesterov_momentum")),
        ],
        surface_expected,
    )


def test_loss_surface_rapid_and_divergence():
    app = widgets.loss_surface(surface="rosenbrock", grid=False)
    rapid(app, app.widget("learning_rate"), [1e-4, 3e-4, 1e-3, 2e-3, 3e-3])
    assert_plotted(app, surface_expected(app.setting()))
    sgd = E.optimize_surface("rosenbrock", "sgd", {"learning_rate": 3e-3}, num_steps=300)
    assert sgd["diverged_at"] is not None
    at = first_bad(sgd["loss"], first=0)
    assert at <= sgd["diverged_at"]
    assert any(m.startswith(f"SGD: diverged at step {at} (") for m in app.messages())
    app.set(learning_rate=1e-3)
    app.wait()
    assert not any("diverged" in m for m in app.messages())


# -- adaptive rates -------------------------------------------------------------------


def adaptive_expected(data, s):
    common = dict(
        hidden_dims=(100,) * 5, num_train=4000, num_epochs=5, batch_size=100, weight_scale=5e-2
    )
    runs = {
        "reference": E.train_net(
            data,
            update_rule="sgd_momentum",
            optim_config={"learning_rate": s["reference_learning_rate"], "momentum": 0.9},
            **common,
        ),
        "rmsprop": E.train_net(
            data,
            update_rule="rmsprop",
            optim_config={
                "learning_rate": 2e-4,
                "decay_rate": s["decay_rate"],
                "epsilon": s["epsilon"],
            },
            **common,
        ),
        "adam": E.train_net(
            data,
            update_rule="adam",
            optim_config={
                "learning_rate": 1e-3,
                "beta1": s["beta1"],
                "beta2": s["beta2"],
                "epsilon": s["epsilon"],
            },
            **common,
        ),
    }
    return run_lines(runs, kinds=("loss", "val"))


def test_adaptive_rates_controls(data):
    app = widgets.adaptive_rates(data, grid=False)
    assert_plotted(app, adaptive_expected(data, app.setting()))
    w, entry = controls_of(app)
    change_each(
        app,
        [
            (w("beta1"), 0.5),
            (entry("beta1"), "0.7"),
            (w("decay_rate"), 0.9),
            (w("beta2"), 0.99),
            (w("epsilon"), 1e-2),
        ],
        lambda s: adaptive_expected(data, s),
    )
    # the reference is trained once per app (one cache), not once per change
    assert app.cache.calls <= 1 + 2 * 6


def test_adaptive_rates_rapid_and_divergence(data):
    app = widgets.adaptive_rates(data, grid=False, reference_learning_rate=1.0)
    ref = app.result["reference"]
    assert ref["diverged_at"] is not None
    at = first_bad(ref["loss_history"])
    prefix = f"SGD+momentum (reference): diverged at iteration {at} ("
    assert any(m.startswith(prefix) for m in app.messages())
    rapid(app, app.widget("beta1"), [0.0, 0.5, 0.95, 0.99, 0.995])
    assert_plotted(app, adaptive_expected(data, app.setting()))


# -- batchnorm ---------------------------------------------------------------------------


def batchnorm_runs(data, s):
    """The nets of batchnorm_vs_baseline, trained by the batched sweep (as the app does)."""
    sweep = E.weight_scale_sweep(
        data,
        weight_scales=[s["weight_scale"]],
        hidden_dims=(s["width"],) * s["depth"],
        num_train=s["num_train"],
        num_epochs=s["num_epochs"],
        batch_size=50,
        learning_rate=s["learning_rate"],
        seed=0,
    )
    return {v: row_as_run(sweep[v], 0) for v in ("baseline", "batchnorm")}


def row_as_run(table, i):
    at = int(table["diverged_at"][i])
    loss = table["loss_history"][i]
    return {
        "loss_history": loss[:at] if at else loss,
        "train_acc_history": table["train_acc_history"][i][
            ~np.isnan(table["train_acc_history"][i])
        ],
        "val_acc_history": table["val_acc_history"][i][~np.isnan(table["val_acc_history"][i])],
        "diverged_at": at or None,
    }


def batchnorm_expected(data, s):
    return run_lines(batchnorm_runs(data, s))


def test_batchnorm_matches_batchnorm_vs_baseline(data):
    """The batched nets are batchnorm_vs_baseline's nets (float32: equal to rounding)."""
    app = widgets.batchnorm_vs_baseline(data, grid=False)
    s = app.setting()
    single = E.batchnorm_vs_baseline(
        data,
        hidden_dims=(s["width"],) * s["depth"],
        num_train=s["num_train"],
        weight_scale=s["weight_scale"],
        num_epochs=s["num_epochs"],
        batch_size=50,
        learning_rate=s["learning_rate"],
        seed=0,
    )
    # float32 rounding of the batched and the single run differs in the last bits, and
    # 200 Adam steps amplify it: the first steps agree to rounding, the end to a few percent
    for variant, run in single.items():
        got, want = app.result[variant]["loss_history"], run["loss_history"]
        assert len(got) == len(want)
        np.testing.assert_allclose(got[:5], want[:5], rtol=1e-4)
        np.testing.assert_allclose(got[-20:].mean(), want[-20:].mean(), rtol=0.1, atol=0.02)
        np.testing.assert_allclose(
            app.result[variant]["val_acc_history"], run["val_acc_history"], atol=0.03
        )


def test_batchnorm_controls(data):
    app = widgets.batchnorm_vs_baseline(data, grid=False)
    assert_plotted(app, batchnorm_expected(data, app.setting()))
    w, entry = controls_of(app)
    change_each(
        app,
        [
            (w("weight_scale"), 0.1),
            (entry("weight_scale"), "0.07"),
            (w("depth"), 3),
            (entry("width"), "30"),
            (w("num_epochs"), 2),
            (entry("num_train"), "500"),
            (w("learning_rate"), 3e-3),
        ],
        lambda s: batchnorm_expected(data, s),
    )


def test_batchnorm_rapid_and_divergence(data, monkeypatch):
    app = widgets.batchnorm_vs_baseline(data, grid=False, num_epochs=2)
    rapid(app, app.widget("weight_scale"), [1e-3, 1e-2, 0.3, 1.0])
    assert_plotted(app, batchnorm_expected(data, app.setting()))
    # Adam on these nets does not reach a non-finite loss within the sliders' range;
    # make the experiment report one to check what the app shows
    real = E.weight_scale_sweep

    def diverging(*args, **kwargs):
        sweep = real(*args, **kwargs)
        sweep["baseline"] = diverged_table(sweep["baseline"], 7)
        return sweep

    monkeypatch.setattr(E, "weight_scale_sweep", diverging)
    app.set(weight_scale=0.1)
    app.wait()
    assert "baseline: diverged at iteration 7 (loss not finite)" in app.messages()
    monkeypatch.setattr(E, "weight_scale_sweep", real)
    app.set(weight_scale=0.3)
    app.wait()
    assert not any("diverged" in m for m in app.messages())
    assert_plotted(app, batchnorm_expected(data, app.setting()))


def diverged_table(table, at):
    """A one-net sweep table as the trainer returns it when the loss is not finite at ``at``."""
    table = {k: np.array(v, dtype=float) for k, v in table.items()}
    table["loss_history"][0, at - 1] = np.nan
    table["loss_history"][0, at:] = np.nan
    table["train_acc_history"][0, 1:] = np.nan
    table["val_acc_history"][0, 1:] = np.nan
    table["final_train_loss"][0] = np.nan
    table["diverged_at"] = np.array([at])
    return table


# -- weight-scale sensitivity -------------------------------------------------------------


def sweep_expected(data, s):
    sweep = E.weight_scale_sweep(
        data,
        weight_scales=np.logspace(-4, 0, 20),
        hidden_dims=(s["width"],) * s["depth"],
        num_epochs=s["num_epochs"],
        batch_size=50,
        num_train=s["num_train"],
        learning_rate=s["learning_rate"],
        seed=0,
    )
    return {
        f"{key}/{variant}": sweep[variant][key]
        for key in ("best_val_acc", "best_train_acc", "final_train_loss")
        for variant in ("baseline", "batchnorm")
    }


def assert_sweep_plotted(app, expected):
    plotted = app.plotted()
    for gid, y in expected.items():
        np.testing.assert_array_equal(plotted[gid][0], np.logspace(-4, 0, 20))
        np.testing.assert_array_equal(plotted[gid][1], y, err_msg=gid)


def test_weight_scale_controls(data):
    app = widgets.weight_scale_sensitivity(data, grid=False, num_epochs=2, num_train=200)
    assert_sweep_plotted(app, sweep_expected(data, app.setting()))
    w, entry = controls_of(app)
    change_each(
        app,
        [
            (w("depth"), 3),
            (entry("width"), "30"),
            (w("num_epochs"), 1),
            (entry("num_train"), "300"),
            (w("learning_rate"), 3e-3),
        ],
        lambda s: sweep_expected(data, s),
    )


def test_weight_scale_rapid_and_divergence(data, monkeypatch):
    app = widgets.weight_scale_sensitivity(data, grid=False, num_epochs=1, num_train=200)
    rapid(app, app.widget("depth"), [1, 2, 3, 4])
    assert_sweep_plotted(app, sweep_expected(data, app.setting()))
    real = E.weight_scale_sweep

    def diverging(*args, **kwargs):
        sweep = real(*args, **kwargs)
        table = dict(sweep["baseline"])
        table["diverged_at"] = table["diverged_at"].copy()
        table["diverged_at"][[17, 19]] = [9, 4]
        sweep["baseline"] = table
        return sweep

    monkeypatch.setattr(E, "weight_scale_sweep", diverging)
    app.set(depth=5)
    app.wait()
    expected = "baseline: diverged in 2 of 20 runs (first at iteration 4, loss not finite)"
    assert expected in app.messages()
    monkeypatch.setattr(E, "weight_scale_sweep", real)
    app.set(depth=6)
    app.wait()
    assert not any("diverged" in m for m in app.messages())


# -- dropout ------------------------------------------------------------------------------


def dropout_expected(data, s):
    p = s["keep_ratio"]
    table = E.dropout_sweep(
        data,
        keep_ratios=(1.0,) if p == 1.0 else (1.0, p),
        hidden_dims=(s["width"],),
        num_train=s["num_train"],
        num_epochs=s["num_epochs"],
        batch_size=100,
        learning_rate=s["learning_rate"],
        weight_scale=s["weight_scale"],
        seed=0,
    )
    last = len(table["keep_ratios"]) - 1
    return {
        "train/reference": table["train_acc_history"][0],
        "val/reference": table["val_acc_history"][0],
        "train/dropout": table["train_acc_history"][last],
        "val/dropout": table["val_acc_history"][last],
    }


def test_dropout_controls(data):
    app = widgets.dropout_regularization(data, grid=False, num_epochs=10)
    assert_plotted(app, dropout_expected(data, app.setting()))
    w, entry = controls_of(app)
    change_each(
        app,
        [
            (w("keep_ratio"), 0.2),
            (entry("keep_ratio"), "0.33"),
            (entry("width"), "200"),
            (entry("num_epochs"), "5"),
            (entry("num_train"), "200"),
            (w("learning_rate"), 3e-3),
            (entry("weight_scale"), "0.07"),
        ],
        lambda s: dropout_expected(data, s),
    )
    # the gap bars show the table's gaps
    heights = [bar.get_height() for bar in app.plot.bars]
    assert heights == [float(app.result["gap"][0]), float(app.result["gap"][-1])]


def test_dropout_rapid_and_divergence(data, monkeypatch):
    app = widgets.dropout_regularization(data, grid=False, num_epochs=5)
    rapid(app, app.widget("keep_ratio"), [1.0, 0.9, 0.3, 0.1])
    assert_plotted(app, dropout_expected(data, app.setting()))
    real = E.dropout_sweep

    def diverging(*args, **kwargs):
        table = real(*args, **kwargs)
        table["diverged_at"] = np.array([0, 3])
        return table

    monkeypatch.setattr(E, "dropout_sweep", diverging)
    app.set(keep_ratio=0.75)
    app.wait()
    assert app.messages() == [
        "dropout: diverged in 1 of 2 runs (first at iteration 3, loss not finite)"
    ]
    monkeypatch.setattr(E, "dropout_sweep", real)
    app.set(keep_ratio=0.6)
    app.wait()
    assert not any("diverged" in m for m in app.messages())


# -- shared behaviour ----------------------------------------------------------------------


APP_CALLS = {
    "optimizer_race": lambda d: widgets.optimizer_race(d, grid=False),
    "loss_surface": lambda d: widgets.loss_surface(d, grid=False),
    "adaptive_rates": lambda d: widgets.adaptive_rates(d, grid=False),
    "batchnorm_vs_baseline": lambda d: widgets.batchnorm_vs_baseline(d, grid=False),
    "weight_scale_sensitivity": lambda d: widgets.weight_scale_sensitivity(
        d, grid=False, num_epochs=1, num_train=200
    ),
    "dropout_regularization": lambda d: widgets.dropout_regularization(d, grid=False, num_epochs=5),
}


@pytest.mark.parametrize("name", sorted(APP_CALLS))
def test_seeded_same_settings_same_png(data, name):
    a, b = APP_CALLS[name](data), APP_CALLS[name](data)
    assert bytes(a.live_frame.value) == bytes(b.live_frame.value)
    assert bytes(a.live_frame.value).startswith(b"\x89PNG")
    assert "nndl-app" in a._dom_classes


def test_overrides_are_checked(data):
    with pytest.raises(TypeError, match="unexpected keyword argument 'num_epoch'"):
        widgets.optimizer_race(data, grid=False, num_epoch=3)
    with pytest.raises(ValueError, match="learning_rate=5.0 is out of range"):
        widgets.optimizer_race(data, grid=False, learning_rate=5.0)
    with pytest.raises(ValueError, match="batch_size=30 is not accepted: one of"):
        widgets.optimizer_race(data, grid=False, batch_size=30)
    # the constructor and set() accept the same values
    app = widgets.optimizer_race(data, grid=False, learning_rate=5e-3, num_epochs=1)
    assert app.setting()["learning_rate"] == 5e-3
    with pytest.raises(ValueError, match="batch_size=30 is not accepted: one of"):
        app.set(batch_size=30)
    with pytest.raises(ValueError, match="learning_rate=5.0 is out of range"):
        app.set(learning_rate=5.0)
    with pytest.raises(ValueError, match="surface must be one of"):
        widgets.loss_surface(surface="bowl")
    with pytest.raises(TypeError, match="data must be None or the dict"):
        widgets.optimizer_race([1, 2, 3])


def test_no_rule_selected_is_a_plain_sentence(data):
    for app in (
        widgets.optimizer_race(data, grid=False, num_epochs=1),
        widgets.loss_surface(grid=False),
    ):
        app.widget("rules").value = ()
        assert app.wait()
        assert app.last_error is None and app.busy.value == ""
        assert app.messages() == [
            "No update rule is selected: select at least one in the list of rules."
        ]
        assert app.plotted() == {}
        assert app.plot.legend_handles() and not any(
            h.get_visible() for h in app.plot.legend_handles() if h.get_gid()
        )


# -- defaults, small data, controls -----------------------------------------------------


def engine_default(function, name):
    return inspect.signature(function).parameters[name].default


def test_apps_open_on_the_chapter_experiments(data):
    n = len(data["X_train"])
    race = widgets.optimizer_race(data, grid=False).setting()
    for key in ("num_epochs", "batch_size", "weight_scale"):
        assert race[key] == engine_default(E.compare_update_rules, key), key
    assert (race["width"],) * race["depth"] == engine_default(E.compare_update_rules, "hidden_dims")
    assert race["num_train"] == min(engine_default(E.compare_update_rules, "num_train"), n)
    assert race["learning_rate"] == E.HOMEWORK_RULES["sgd"]["learning_rate"]
    assert race["momentum"] == 0.9  # the homework's (and sgd_momentum's default)
    adaptive = widgets.adaptive_rates(data, grid=False).setting()
    assert (
        adaptive["rmsprop_learning_rate"] == E.HOMEWORK_ADAPTIVE_RULES["rmsprop"]["learning_rate"]
    )
    assert adaptive["adam_learning_rate"] == E.HOMEWORK_ADAPTIVE_RULES["adam"]["learning_rate"]
    assert (adaptive["width"],) * adaptive["depth"] == (100,) * 5
    bn = widgets.batchnorm_vs_baseline(data, grid=False).setting()
    for key in ("num_epochs", "batch_size", "weight_scale", "num_train", "learning_rate"):
        assert bn[key] == engine_default(E.batchnorm_vs_baseline, key), key
    assert (bn["width"],) * bn["depth"] == engine_default(E.batchnorm_vs_baseline, "hidden_dims")
    ws = widgets.weight_scale_sensitivity(data, grid=False).setting()
    for key in ("num_epochs", "batch_size", "learning_rate"):
        assert ws[key] == engine_default(E.weight_scale_sweep, key), key
    assert (ws["width"],) * ws["depth"] == engine_default(E.weight_scale_sweep, "hidden_dims")
    drop = widgets.dropout_regularization(data, grid=False).setting()
    for key in ("num_train", "num_epochs", "batch_size", "learning_rate", "weight_scale"):
        assert drop[key] == engine_default(E.dropout_sweep, key), key
    assert (drop["width"],) * drop["depth"] == engine_default(E.dropout_sweep, "hidden_dims")
    assert drop["keep_ratio"] in engine_default(E.dropout_sweep, "keep_ratios")
    quad = widgets.loss_surface(surface="quadratic", grid=False).setting()
    assert (quad["learning_rate"], quad["momentum"], quad["num_steps"]) == (0.02, 0.9, 100)
    rosen = widgets.loss_surface(surface="rosenbrock", grid=False).setting()
    assert (rosen["learning_rate"], rosen["momentum"], rosen["num_steps"]) == (1e-3, 0.9, 300)


@pytest.mark.parametrize("name", sorted(set(widgets.APPS) - {"loss_surface"}))
def test_apps_work_on_twenty_training_images(data, name):
    small = dict(data)
    small["X_train"], small["y_train"] = data["X_train"][:20], data["y_train"][:20]
    app = widgets.APPS[name](small, grid=False, num_epochs=1)
    assert app.last_error is None and app.result is not None
    if "num_train" in {c.key for c in app.controls}:
        control = app.control("num_train")
        assert control.hi == 20 and app.setting()["num_train"] == 20
        notes = [c.value for c in app.children if "nndl-data-note" in c._dom_classes]
        assert any("only 20 training images" in n for n in notes), notes
    too_small = dict(small)
    too_small["X_train"], too_small["y_train"] = data["X_train"][:19], data["y_train"][:19]
    with pytest.raises(ValueError, match="at least 20 training images, got 19"):
        widgets.APPS[name](too_small, grid=False)


@pytest.mark.parametrize("name", sorted(widgets.APPS))
def test_every_control_is_explained_and_reachable(data, name):
    app = APP_CALLS[name](data)
    for control in app.controls:
        assert control.tooltip and control.widget.tooltip == control.tooltip, control.key
        if control.kind == "slider":
            values = np.asarray(control.values, dtype=float)
            assert np.all(np.diff(values) > 0), control.key
            # a slider crosses its range in at most about 40 key presses
            assert len(values) <= 45, (control.key, len(values))
            if (
                "β" in control.description
                or "momentum" in control.description
                or (control.key == "decay_rate")
            ):
                # log(1 - beta) scale: the gaps 1 - beta shrink by similar factors
                gaps = 1.0 - values[values < 1.0]
                ratios = gaps[:-1] / gaps[1:]
                assert np.all(ratios > 1.0) and ratios.max() / ratios.min() < 3.5, control.key
