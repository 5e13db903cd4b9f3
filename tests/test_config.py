"""TrainingConfig: one validation of a training setting, accepted by train_net."""

from __future__ import annotations

import numpy as np
import pytest

from nndl_lab import experiments as ex
from nndl_lab.data import get_data
from nndl_lab.experiments import TrainingConfig


@pytest.fixture(scope="module")
def digits():
    return dict(get_data("digits", verbose=False))


def test_defaults_are_train_nets():
    config = TrainingConfig()
    assert config.hidden_dims == (100,) * 5
    assert config.update_rule == "adam" and config.optim_config == {}
    assert config.normalization is None and not config.use_batchnorm
    assert config.dtype is np.float32 and config.seed == 0


@pytest.mark.parametrize(
    ("changes", "error", "words"),
    [
        ({"hidden_dims": []}, ValueError, ["hidden_dims"]),
        ({"normalization": "layernorm"}, ValueError, ["normalization", "batchnorm"]),
        ({"dropout_keep_ratio": 0.0}, ValueError, ["dropout_keep_ratio", "(0, 1]"]),
        ({"reg": -1.0}, ValueError, ["reg"]),
        ({"weight_scale": "lecun"}, ValueError, ["weight_scale", "he"]),
        ({"update_rule": "adagrad"}, ValueError, ["adagrad", "sgd_momentum"]),
        ({"optim_config": {"lr": 1e-3}}, ValueError, ["lr", "accepted keys"]),
        ({"optim_overrides": {"b*": {"beta1": 2.0}}}, ValueError, ["optim_overrides", "beta1"]),
        ({"lr_decay": 0.0}, ValueError, ["lr_decay"]),
        ({"batch_size": 0}, ValueError, ["batch_size"]),
        ({"normalization": "batchnorm", "batch_size": 1}, ValueError, ["batch_size", ">= 2"]),
        ({"num_train": 0}, ValueError, ["num_train"]),
        ({"seed": -1}, ValueError, ["seed"]),
        ({"dtype": np.int32}, TypeError, ["dtype"]),
        ({"num_classes": 1}, ValueError, ["num_classes"]),
    ],
)
def test_every_field_is_checked_when_made(changes, error, words):
    for make in (lambda: TrainingConfig(**changes), lambda: TrainingConfig().replace(**changes)):
        with pytest.raises(error) as info:
            make()
        for word in words:
            assert word in str(info.value)


def test_from_kwargs_takes_the_homework_alias_and_names_unknown_keywords():
    config = TrainingConfig.from_kwargs(use_batchnorm=True, hidden_dims=[10])
    assert config.normalization == "batchnorm" and config.use_batchnorm
    assert config.replace(use_batchnorm=False).normalization is None
    with pytest.raises(TypeError, match=r"unknown training keyword\(s\) \['print_every'\]"):
        TrainingConfig.from_kwargs(print_every=10)


def test_train_net_accepts_a_config_and_gives_the_same_run(digits):
    kwargs = dict(
        hidden_dims=[20, 20],
        update_rule="sgd_momentum",
        optim_config={"learning_rate": 1e-2, "momentum": 0.8},
        num_train=200,
        num_epochs=2,
        use_batchnorm=True,
        dropout_keep_ratio=0.8,
        seed=3,
    )
    by_keywords = ex.train_net(digits, **kwargs)
    by_config = ex.train_net(digits, config=TrainingConfig.from_kwargs(**kwargs))
    for key in ("loss_history", "train_acc_history", "val_acc_history"):
        np.testing.assert_array_equal(by_config[key], by_keywords[key])
    with pytest.raises(TypeError, match="either as config or as keywords"):
        ex.train_net(digits, config=TrainingConfig(), num_epochs=3)
    with pytest.raises(TypeError, match="config must be a TrainingConfig"):
        ex.train_net(digits, config={"num_epochs": 3})


def test_train_batched_takes_the_shared_settings_from_a_config(digits):
    config = TrainingConfig(
        hidden_dims=(15, 15), num_train=150, num_epochs=2, batch_size=50, seed=2, reg=1e-2
    )
    scales = [1e-2, 1e-1]
    by_config = ex.train_batched(digits, config=config, weight_scale=scales)
    by_keywords = ex.train_batched(
        digits, [15, 15], weight_scale=scales, num_train=150, num_epochs=2, batch_size=50,
        seed=2, reg=1e-2, learning_rate=1e-3,
    )  # fmt: skip
    for key in ("loss_history", "val_acc_history"):
        np.testing.assert_array_equal(by_config[key], by_keywords[key])
    for k, scale in enumerate(scales):
        single = ex.train_net(digits, config=config.replace(weight_scale=scale))
        np.testing.assert_array_equal(by_config["loss_history"][k], single["loss_history"])
    with pytest.raises(TypeError, match=r"the config sets \['num_epochs'\]"):
        ex.train_batched(digits, config=config, num_epochs=3)
    with pytest.raises(TypeError, match="needs hidden_dims"):
        ex.train_batched(digits)


# -- one validation per slider change ---------------------------------------------------------


class ValidationSpy:
    """Records every validation on a path: the argument checks of ``_checks``, the
    registry's hyperparameter checks and the configs made."""

    def __init__(self, monkeypatch):
        from nndl_lab import optim
        from nndl_lab.experiments import _checks

        self.calls = []
        self.configs = 0
        helpers = {"is_int", "is_real", "sequence", "training_subset", "sweep_arguments"}
        for name, function in vars(_checks).items():
            if (
                callable(function)
                and name not in helpers
                and function.__module__ == _checks.__name__
            ):
                monkeypatch.setattr(_checks, name, self._recording(name, function))
        check = optim.UpdateRule.check

        def rule_check(rule, config, name="config"):
            self.calls.append(("UpdateRule.check", rule.name, self._key(config)))
            return check(rule, config, name)

        monkeypatch.setattr(optim.UpdateRule, "check", rule_check)
        post_init = TrainingConfig.__post_init__

        def counting_post_init(config):
            self.configs += 1
            post_init(config)

        monkeypatch.setattr(TrainingConfig, "__post_init__", counting_post_init)

    @staticmethod
    def _key(value):
        # the data dict by identity (its arrays are large), anything else by its value
        if isinstance(value, dict) and "X_train" in value:
            return ("data", id(value))
        return repr(value)

    def _recording(self, name, function):
        def record(*args, **kwargs):
            self.calls.append((name, *map(self._key, args), *map(self._key, kwargs.items())))
            return function(*args, **kwargs)

        return record

    def repeated(self, kinds=None):
        """The validations made more than once (of the same value)."""
        calls = [c for c in self.calls if kinds is None or c[0] in kinds]
        return sorted({c for c in calls if calls.count(c) > 1})


SMALL_APP = {"num_epochs": 1, "num_train": 100}


@pytest.mark.parametrize(
    ("name", "overrides"),
    [
        ("race", {**SMALL_APP, "width": 20, "depth": 2}),
        ("adaptive", {**SMALL_APP, "width": 20, "depth": 2}),
        ("batchnorm", {**SMALL_APP, "width": 20}),
        ("dropout", {**SMALL_APP, "width": 50}),
        ("weight_scale", {**SMALL_APP, "width": 20, "num_scales": 3}),
    ],
)
def test_a_slider_change_validates_its_setting_once(digits, monkeypatch, name, overrides):
    import importlib

    import widgets

    module = importlib.import_module(f"widgets.{name}")
    make = {
        "race": widgets.optimizer_race,
        "adaptive": widgets.adaptive_rates,
        "batchnorm": widgets.batchnorm_vs_baseline,
        "dropout": widgets.dropout_regularization,
        "weight_scale": widgets.weight_scale_sensitivity,
    }[name]
    app = make(digits, grid=False, threaded=False, **overrides)
    setting = app.setting()
    spy = ValidationSpy(monkeypatch)
    result = module.compute(digits, setting)
    assert result
    # one TrainingConfig per compute call: the setting is validated when it is made ...
    assert spy.configs == 1
    # ... and no argument, hyperparameter or data set is checked twice on the way
    assert spy.repeated(_SETTING_CHECKS if name == "adaptive" else None) == []
    if name != "adaptive":
        assert [c[:2] for c in spy.calls if c[0] == "data"] == [("data", ("data", id(digits)))]


#: The adaptive app makes three train_net runs of one config: each checks the data and its
#: call options (progress, BLAS threads), and its Solver (the homework's class) checks its
#: own optim_config; the settings are checked once.
_SETTING_CHECKS = {
    "hidden_dims",
    "normalization",
    "keep_ratio",
    "nonnegative_real",
    "weight_scale",
    "update_rule",
    "optim_config",
    "optim_overrides",
    "lr_decay",
    "batchnorm_batch_size",
    "optional_positive_int",
    "seed",
    "dtype",
    "num_classes",
}


# -- config= in the experiments and the sweeps ------------------------------------------------

SHARED = dict(hidden_dims=(15, 15), num_train=150, num_epochs=2, batch_size=50, seed=1)


def _same_tables(a, b):
    for key in ("loss_history", "val_acc_history", "train_acc_history", "best_val_acc"):
        np.testing.assert_array_equal(a[key], b[key])


def test_sweeps_take_the_shared_setting_from_a_config(digits):
    config = TrainingConfig(optim_config={"learning_rate": 2e-3}, **SHARED)
    keywords = dict(SHARED, learning_rate=2e-3)
    for batched in (True, False):
        by_config = ex.weight_scale_sweep(digits, [1e-2, 1e-1], batched=batched, config=config)
        by_keywords = ex.weight_scale_sweep(digits, [1e-2, 1e-1], batched=batched, **keywords)
        for variant in ("baseline", "batchnorm"):
            _same_tables(by_config[variant], by_keywords[variant])
        by_config = ex.dropout_sweep(digits, (1.0, 0.5), batched=batched, config=config)
        by_keywords = ex.dropout_sweep(
            digits, (1.0, 0.5), batched=batched, weight_scale=5e-2, **keywords
        )
        _same_tables(by_config, by_keywords)
    search_config = config.replace(update_rule="sgd_momentum", optim_config={"momentum": 0.8})
    by_config = ex.hyperparameter_search(digits, [1e-2, 3e-2], [5e-2], config=search_config)
    by_keywords = ex.hyperparameter_search(
        digits, [1e-2, 3e-2], [5e-2], update_rule="sgd_momentum",
        optim_config={"momentum": 0.8}, **SHARED,
    )  # fmt: skip
    for key in ("best_val_acc", "final_train_loss", "learning_rate"):
        np.testing.assert_array_equal(by_config[key], by_keywords[key])


def test_experiments_take_the_shared_setting_from_a_config(digits):
    config = TrainingConfig(weight_scale=5e-2, **SHARED)
    rules = {"sgd_momentum": {"learning_rate": 1e-2}, "adam": {"learning_rate": 1e-3}}
    for batched in (True, False):
        by_config = ex.compare_update_rules(digits, rules, batched=batched, config=config)
        by_keywords = ex.compare_update_rules(
            digits, rules, batched=batched, weight_scale=5e-2, **SHARED
        )
        for rule in rules:
            _same_tables(by_config[rule], by_keywords[rule])
    by_config = ex.batchnorm_vs_baseline(digits, config=config.replace(weight_scale=2e-2))
    by_keywords = ex.batchnorm_vs_baseline(digits, **SHARED)
    for variant in ("baseline", "batchnorm"):
        _same_tables(by_config[variant], by_keywords[variant])
    capstone = dict(SHARED, hidden_dims=(20,), num_epochs=1)
    by_config = ex.capstone(
        digits,
        config=TrainingConfig(
            normalization="batchnorm", lr_decay=0.9, weight_scale=1e-2,
            optim_config={"learning_rate": 1e-3}, **capstone,
        ),
    )  # fmt: skip
    by_keywords = ex.capstone(digits, **capstone)
    _same_tables(by_config, by_keywords)
    assert by_config["val_acc"] == by_keywords["val_acc"]


@pytest.mark.parametrize(
    "call",
    [
        lambda d, c: ex.weight_scale_sweep(d, [1e-2], num_epochs=3, config=c),
        lambda d, c: ex.dropout_sweep(d, (1.0,), learning_rate=1e-2, config=c),
        lambda d, c: ex.hyperparameter_search(d, [1e-3], reg=0.1, config=c),
        lambda d, c: ex.compare_update_rules(d, {"sgd": {}}, seed=3, config=c),
        lambda d, c: ex.compare_update_rules(d, {"sgd": {}}, reg=0.1, config=c),
        lambda d, c: ex.batchnorm_vs_baseline(d, batch_size=20, config=c),
        lambda d, c: ex.capstone(d, dtype=np.float64, config=c),
    ],
)
def test_a_config_and_training_keywords_are_not_mixed(digits, call):
    with pytest.raises(TypeError, match="either as config or as keywords, not both: got config"):
        call(digits, TrainingConfig(**SHARED))


def test_swept_values_and_the_data_are_still_checked_beside_a_config(digits):
    config = TrainingConfig(**SHARED)
    with pytest.raises(ValueError, match=r"weight_scales\[1\]"):
        ex.weight_scale_sweep(digits, [1e-2, -1.0], config=config)
    with pytest.raises(ValueError, match=r"keep_ratios\[0\]"):
        ex.dropout_sweep(digits, (0.0,), config=config)
    with pytest.raises(ValueError, match=r"rules\['sgd'\]"):
        ex.compare_update_rules(digits, {"sgd": {"momentum": 0.9}}, config=config)
    with pytest.raises(ValueError, match="batch_size must be >= 2 with batch normalization"):
        ex.weight_scale_sweep(digits, [1e-2], config=config.replace(batch_size=1))
    with pytest.raises(TypeError, match="config must be a TrainingConfig"):
        ex.dropout_sweep(digits, config={"num_epochs": 2})
    data = dict(digits, y_val=digits["y_val"].copy())
    data["y_val"][0] = 12
    with pytest.raises(ValueError, match=r"y_val.*\[0, 10\)"):
        ex.weight_scale_sweep(data, [1e-2], config=config)
