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
