"""Each app, headless: every control changes the plot to what the experiment function returns.

The expected values are computed here by calling :mod:`nndl_lab.experiments`
directly with the arguments each setting stands for (not through the app's
own compute function), so the tests check the wiring too.
"""

from __future__ import annotations

import numpy as np
import pytest

import widgets
from nndl_lab import experiments as E
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
        if rule in ("sgd_momentum", "sgd_nesterov_momentum"):
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


def test_optimizer_race_controls(data):
    app = widgets.optimizer_race(data, grid=False)
    assert_plotted(app, race_expected(data, app.setting()))
    g, f, live = app._grid_widgets, app._fine_widgets, app._live_widgets
    change_each(
        app,
        [
            (g["learning_rate"], 3e-3),
            (f["learning_rate"], 2e-3),
            (live["momentum"], 0.5),
            (live["batch_size"], 50),
            (live["num_epochs"], 2),
            (live["num_train"], 500),
            (live["width"], 40),
            (live["depth"], 1),
            (live["rules"], ("sgd", "adam")),
        ],
        lambda s: race_expected(data, s),
    )
    assert set(app.plotted()) == {
        f"{k}/{r}" for k in ("loss", "train", "val") for r in ("sgd", "adam")
    }


def test_optimizer_race_rapid_and_divergence(data):
    app = widgets.optimizer_race(data, grid=False, num_epochs=2)
    rapid(app, app._grid_widgets["learning_rate"], [1e-4, 3e-4, 1e-2, 3e-2, 1e-1])
    assert app.setting()["learning_rate"] == 1e-1
    expected = race_expected(data, app.setting())
    assert_plotted(app, expected)
    runs = app.result
    diverged = [r for r, run in runs.items() if run["diverged_at"] is not None]
    assert diverged, "lr 0.1 should diverge for some rule"
    for rule in diverged:
        label = RULE_LABELS[rule]
        assert f"{label}: diverged at iteration {runs[rule]['diverged_at']}" in app.messages()
    # still usable
    app.set(learning_rate=1e-3)
    app.wait()
    assert app.messages() == []
    assert_plotted(app, race_expected(data, app.setting()))


# -- loss surface -------------------------------------------------------------------


def surface_expected(s):
    out = {}
    for rule in s["rules"]:
        if rule in ("rmsprop", "adam"):
            config = {"learning_rate": s["adaptive_learning_rate"]}
        else:
            config = {"learning_rate": s["learning_rate"]}
            if rule != "sgd":
                config["momentum"] = s["momentum"]
        r = E.optimize_surface(s["surface"], rule, config, num_steps=s["num_steps"])
        out[f"path/{rule}"] = r["path"][:, 1]
        out[f"loss/{rule}"] = r["loss"]
    return out


@pytest.mark.parametrize("surface", ["quadratic", "rosenbrock"])
def test_loss_surface_controls(surface):
    app = widgets.loss_surface(surface=surface, grid=False)
    assert_plotted(app, surface_expected(app.setting()))
    g, f, live = app._grid_widgets, app._fine_widgets, app._live_widgets
    lrs = g["learning_rate"].options
    change_each(
        app,
        [
            (g["learning_rate"], lrs[2][1]),
            (f["learning_rate"], lrs[3][1] * 1.3),
            (g["momentum"], 0.5),
            (live["num_steps"], 50),
            (live["adaptive_learning_rate"], 0.03),
            (live["rules"], ("sgd_momentum", "sgd_nesterov_momentum")),
        ],
        surface_expected,
    )


def test_loss_surface_rapid_and_divergence():
    app = widgets.loss_surface(surface="rosenbrock", grid=False)
    rapid(app, app._grid_widgets["learning_rate"], [1e-4, 2e-4, 1e-3, 2e-3, 3e-3])
    assert_plotted(app, surface_expected(app.setting()))
    sgd = E.optimize_surface("rosenbrock", "sgd", {"learning_rate": 3e-3}, num_steps=300)
    assert sgd["diverged_at"] is not None
    assert f"SGD: diverged at iteration {sgd['diverged_at']}" in app.messages()
    app.set(learning_rate=1e-3)
    app.wait()
    assert not any("diverged" in m for m in app.messages())


# -- adaptive rates -------------------------------------------------------------------


def adaptive_expected(data, s):
    common = dict(
        hidden_dims=(100, 100), num_train=1000, num_epochs=4, batch_size=100, weight_scale=5e-2
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
                "learning_rate": 1e-3,
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
    g, f, live = app._grid_widgets, app._fine_widgets, app._live_widgets
    change_each(
        app,
        [
            (g["beta1"], 0.5),
            (f["beta1"], 0.7),
            (g["decay_rate"], 0.9),
            (live["beta2"], 0.99),
            (live["epsilon"], 1e-2),
        ],
        lambda s: adaptive_expected(data, s),
    )
    # the reference is trained once per app (memo), not once per change
    assert app.memo.calls <= 1 + 2 * 6


def test_adaptive_rates_rapid_and_divergence(data):
    app = widgets.adaptive_rates(data, grid=False, reference_learning_rate=1.0)
    ref = app.result["reference"]
    assert ref["diverged_at"] is not None
    assert f"SGD+momentum (reference): diverged at iteration {ref['diverged_at']}" in app.messages()
    rapid(app, app._grid_widgets["beta1"], [0.0, 0.5, 0.8, 0.95, 0.99])
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
    for variant, run in single.items():
        np.testing.assert_allclose(
            app.result[variant]["loss_history"], run["loss_history"], rtol=1e-4
        )
        np.testing.assert_allclose(
            app.result[variant]["val_acc_history"], run["val_acc_history"], atol=0.01
        )


def test_batchnorm_controls(data):
    app = widgets.batchnorm_vs_baseline(data, grid=False)
    assert_plotted(app, batchnorm_expected(data, app.setting()))
    g, f, live = app._grid_widgets, app._fine_widgets, app._live_widgets
    change_each(
        app,
        [
            (g["weight_scale"], 0.1),
            (f["weight_scale"], 0.07),
            (g["depth"], 3),
            (live["width"], 30),
            (live["num_epochs"], 2),
            (live["num_train"], 500),
            (live["learning_rate"], 3e-3),
        ],
        lambda s: batchnorm_expected(data, s),
    )


def test_batchnorm_rapid_and_divergence(data, monkeypatch):
    app = widgets.batchnorm_vs_baseline(data, grid=False, num_epochs=2)
    rapid(app, app._grid_widgets["weight_scale"], [1e-3, 1e-2, 0.3, 1.0])
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
    assert app.messages() == ["baseline: diverged at iteration 7"]
    monkeypatch.setattr(E, "weight_scale_sweep", real)
    app.set(weight_scale=0.3)
    app.wait()
    assert app.messages() == []
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
    g, live = app._grid_widgets, app._live_widgets
    change_each(
        app,
        [
            (g["depth"], 3),
            (live["width"], 30),
            (live["num_epochs"], 1),
            (live["num_train"], 300),
            (live["learning_rate"], 3e-3),
        ],
        lambda s: sweep_expected(data, s),
    )


def test_weight_scale_rapid_and_divergence(data, monkeypatch):
    app = widgets.weight_scale_sensitivity(data, grid=False, num_epochs=1, num_train=200)
    rapid(app, app._grid_widgets["depth"], [1, 2, 3, 4])
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
    assert app.messages() == ["baseline: diverged in 2 of 20 runs (first at iteration 4)"]
    monkeypatch.setattr(E, "weight_scale_sweep", real)
    app.set(depth=6)
    app.wait()
    assert app.messages() == []


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
    g, f, live = app._grid_widgets, app._fine_widgets, app._live_widgets
    change_each(
        app,
        [
            (g["keep_ratio"], 0.2),
            (f["keep_ratio"], 0.33),
            (live["width"], 200),
            (live["num_epochs"], 5),
            (live["num_train"], 200),
            (live["learning_rate"], 3e-3),
            (live["weight_scale"], 7e-2),
        ],
        lambda s: dropout_expected(data, s),
    )
    # the gap bars show the table's gaps
    heights = [bar.get_height() for bar in app.plot.bars]
    assert heights == [float(app.result["gap"][0]), float(app.result["gap"][-1])]


def test_dropout_rapid_and_divergence(data, monkeypatch):
    app = widgets.dropout_regularization(data, grid=False, num_epochs=5)
    rapid(app, app._grid_widgets["keep_ratio"], [1.0, 0.9, 0.3, 0.1])
    assert_plotted(app, dropout_expected(data, app.setting()))
    real = E.dropout_sweep

    def diverging(*args, **kwargs):
        table = real(*args, **kwargs)
        table["diverged_at"] = np.array([0, 3])
        return table

    monkeypatch.setattr(E, "dropout_sweep", diverging)
    app.set(keep_ratio=0.75)
    app.wait()
    assert app.messages() == ["dropout: diverged in 1 of 2 runs (first at iteration 3)"]
    monkeypatch.setattr(E, "dropout_sweep", real)
    app.set(keep_ratio=0.6)
    app.wait()
    assert app.messages() == []


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
    with pytest.raises(ValueError, match="not one of the grid values"):
        widgets.optimizer_race(data, grid=False, learning_rate=5e-3)
    with pytest.raises(ValueError, match="surface must be one of"):
        widgets.loss_surface(surface="bowl")
    with pytest.raises(TypeError, match="data must be None or the dict"):
        widgets.optimizer_race([1, 2, 3])


def test_bad_live_value_shows_message_not_traceback(data):
    app = widgets.optimizer_race(data, grid=False)
    app._live_widgets["rules"].value = ()  # no rule: nothing to compare
    app.wait()
    assert app.busy.value == ""
    # either an (empty) plot or a clear message, never an exception out of the observer
    if app.last_error:
        assert app.messages() and "could not compute" in app.messages()[0]
