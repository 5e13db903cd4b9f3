"""The batched trainer reproduces separate Solver runs.

Every expected value comes from an independent computation: a
FullyConnectedNet trained by its own Solver (float64, so the histories must
agree to rounding), and for float32 the sequential sweep.
"""

from __future__ import annotations

import numpy as np
import pytest

from nndl_lab import FullyConnectedNet, Solver, optim
from nndl_lab import experiments as ex
from nndl_lab.data import get_data
from nndl_lab.experiments import batched as batched_module


@pytest.fixture(scope="module")
def digits():
    return dict(get_data("digits", verbose=False))


def _solver(data, hidden_dims, *, num_train, seed, solver_kwargs, **net_kwargs):
    model = FullyConnectedNet(hidden_dims, input_dim=64, seed=seed, **net_kwargs)
    subset = {
        "X_train": data["X_train"][:num_train],
        "y_train": data["y_train"][:num_train],
        "X_val": data["X_val"],
        "y_val": data["y_val"],
    }
    solver = Solver(model, subset, verbose=False, seed=seed, **solver_kwargs)
    solver.train()
    return solver, model


def _assert_matches_solvers(result, data, hidden_dims, *, num_train, nets, solver_kwargs, **shared):
    """Net k of ``result`` is the Solver run with the settings ``nets[k]``."""
    runs = ex.split_runs(result)
    assert len(runs) == len(nets)
    for k, net in enumerate(nets):
        net = dict(net)
        seed = net.pop("seed", 0)
        kwargs = dict(solver_kwargs)
        lr = net.pop("learning_rate", None)
        if lr is not None:
            kwargs["optim_config"] = {**kwargs.get("optim_config", {}), "learning_rate": lr}
        solver, model = _solver(
            data,
            hidden_dims,
            num_train=num_train,
            seed=seed,
            solver_kwargs=kwargs,
            dtype=np.float64,
            **shared,
            **net,
        )
        run = runs[k]
        assert run["diverged_at"] == solver.diverged_at
        np.testing.assert_allclose(run["loss_history"], solver.loss_history, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(run["train_acc_history"], solver.train_acc_history)
        np.testing.assert_allclose(run["val_acc_history"], solver.val_acc_history)
        assert run["best_val_acc"] == pytest.approx(solver.best_val_acc)
        if "best_params" in result:
            for name, value in model.params.items():
                np.testing.assert_allclose(
                    result["best_params"][name][k], value, rtol=1e-8, atol=1e-9, err_msg=name
                )
            for i, bn_param in enumerate(model.bn_params):
                for key in ("running_mean", "running_var"):
                    np.testing.assert_allclose(
                        result["best_bn_params"][i][key][k], bn_param[key], rtol=1e-8, atol=1e-9
                    )


SMALL = dict(num_train=200, num_epochs=2, batch_size=50)


@pytest.mark.parametrize("use_batchnorm", [False, True])
@pytest.mark.parametrize("keep_ratios", [(1.0, 1.0, 1.0), (1.0, 0.7, 0.4)])
def test_batched_equals_separate_solver_runs_float64(digits, use_batchnorm, keep_ratios):
    scales = [1e-2, 5e-2, 2e-1]
    rates = [1e-3, 3e-3, 1e-2]
    result = ex.train_batched(
        digits,
        [20, 20],
        weight_scale=scales,
        learning_rate=rates,
        dropout_keep_ratio=keep_ratios,
        use_batchnorm=use_batchnorm,
        dtype=np.float64,
        return_params=True,
        **SMALL,
    )
    nets = [
        {"weight_scale": s, "learning_rate": lr, "dropout_keep_ratio": p}
        for s, lr, p in zip(scales, rates, keep_ratios, strict=True)
    ]
    _assert_matches_solvers(
        result,
        digits,
        [20, 20],
        num_train=200,
        nets=nets,
        solver_kwargs={"update_rule": "adam", "batch_size": 50, "num_epochs": 2},
        use_batchnorm=use_batchnorm,
    )
    assert result["loss_history"].shape == (3, 8)
    assert result["val_acc_history"].shape == (3, 3)
    np.testing.assert_array_equal(result["settings"]["dropout_keep_ratio"], keep_ratios)


@pytest.mark.parametrize("rule", [r for r in optim.RULES if r != "adam"])
def test_every_rule_with_reg_and_lr_decay(digits, rule):
    regs = [0.0, 1e-2, 1e-1]
    result = ex.train_batched(
        digits,
        [15, 15, 15],
        weight_scale=5e-2,
        learning_rate=[1e-2, 2e-2, 5e-3] if not optim.RULES[rule].adaptive else [1e-4, 1e-3, 3e-3],
        reg=regs,
        update_rule=rule,
        optim_config={"momentum": 0.8} if "momentum" in optim.RULES[rule].defaults else None,
        lr_decay=0.7,
        dtype=np.float64,
        num_train=150,
        num_epochs=3,
        batch_size=40,
    )
    nets = [
        {"reg": reg, "learning_rate": lr}
        for reg, lr in zip(regs, result["settings"]["learning_rate"], strict=True)
    ]
    _assert_matches_solvers(
        result,
        digits,
        [15, 15, 15],
        num_train=150,
        nets=nets,
        solver_kwargs={
            "update_rule": rule,
            "optim_config": {"momentum": 0.8} if "momentum" in optim.RULES[rule].defaults else {},
            "lr_decay": 0.7,
            "batch_size": 40,
            "num_epochs": 3,
        },
        weight_scale=5e-2,
    )


def test_different_seeds_and_subsampled_accuracy(digits):
    """Nets with different seeds get their own minibatches, masks and accuracy subsamples."""
    seeds = [0, 3, 3, 7]
    keep = [0.8, 1.0, 0.6, 0.9]
    result = ex.train_batched(
        digits,
        [16, 12],
        seed=seeds,
        dropout_keep_ratio=keep,
        use_batchnorm=True,
        weight_scale="he",
        learning_rate=2e-3,
        num_train_samples=60,
        num_val_samples=50,
        dtype=np.float64,
        return_params=True,
        **SMALL,
    )
    nets = [{"seed": s, "dropout_keep_ratio": p} for s, p in zip(seeds, keep, strict=True)]
    _assert_matches_solvers(
        result,
        digits,
        [16, 12],
        num_train=200,
        nets=nets,
        solver_kwargs={
            "update_rule": "adam",
            "optim_config": {"learning_rate": 2e-3},
            "num_train_samples": 60,
            "num_val_samples": 50,
            "batch_size": 50,
            "num_epochs": 2,
        },
        use_batchnorm=True,
        weight_scale="he",
    )
    # the two nets with seed 3 start alike but differ by their keep ratio
    assert result["loss_history"][1, 0] != result["loss_history"][2, 0]


def test_diverged_nets_stop_without_touching_the_others(digits, recwarn):
    rates = [1e-2, 1e15, 3e-2, 1e20]
    result = ex.train_batched(
        digits,
        [20],
        weight_scale=1.0,
        learning_rate=rates,
        update_rule="sgd",
        dtype=np.float64,
        num_train=200,
        num_epochs=3,
        batch_size=50,
    )
    diverged = result["diverged_at"]
    assert diverged[0] == 0 and diverged[2] == 0
    assert diverged[1] > 0 and diverged[3] > 0
    for k in (1, 3):
        stop = diverged[k]
        assert not np.isfinite(result["loss_history"][k, stop - 1])
        assert np.all(np.isnan(result["loss_history"][k, stop:]))
        assert np.all(np.isfinite(result["loss_history"][k, : stop - 1]))
    nets = [{"learning_rate": lr} for lr in rates]
    _assert_matches_solvers(
        result,
        digits,
        [20],
        num_train=200,
        nets=nets,
        solver_kwargs={"update_rule": "sgd", "batch_size": 50, "num_epochs": 3},
        weight_scale=1.0,
    )
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_all_nets_diverging_ends_training(digits):
    result = ex.train_batched(
        digits,
        [10],
        weight_scale=1.0,
        learning_rate=[1e8, 1e9],
        update_rule="sgd",
        num_train=100,
        num_epochs=2,
        batch_size=50,
    )
    assert np.all(result["diverged_at"] > 0)
    for run in ex.split_runs(result):
        assert run["loss_history"].size == run["diverged_at"]
        assert not np.isfinite(run["final_train_loss"])


def test_float32_sweep_agrees_with_sequential_runs(digits):
    scales = np.logspace(-4, 0, 8)
    kwargs = dict(hidden_dims=[40] * 4, num_epochs=3, num_train=500)
    batched = ex.weight_scale_sweep(digits, scales, **kwargs)
    sequential = ex.weight_scale_sweep(digits, scales, batched=False, **kwargs)
    for variant in ("baseline", "batchnorm"):
        diff = np.abs(batched[variant]["best_val_acc"] - sequential[variant]["best_val_acc"])
        assert diff.mean() < 0.03, (variant, diff)
        np.testing.assert_allclose(
            batched[variant]["loss_history"][:, :5],
            sequential[variant]["loss_history"][:, :5],
            rtol=1e-3,
        )


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_sweeps_batched_equal_sequential_float64(digits, n_jobs):
    scales = [1e-3, 3e-2, 0.5]
    kwargs = dict(hidden_dims=[12, 12], num_epochs=2, num_train=120, dtype=np.float64)
    batched = ex.weight_scale_sweep(digits, scales, n_jobs=n_jobs, **kwargs)
    sequential = ex.weight_scale_sweep(digits, scales, batched=False, **kwargs)
    for variant in ("baseline", "batchnorm"):
        for key in ("loss_history", "val_acc_history", "best_val_acc", "final_train_loss"):
            np.testing.assert_allclose(
                batched[variant][key], sequential[variant][key], rtol=1e-9, err_msg=key
            )
        np.testing.assert_array_equal(batched[variant]["diverged_at"], [0, 0, 0])


def test_dropout_sweep_and_search_batched_equal_sequential(digits):
    kwargs = dict(hidden_dims=[30], num_train=100, num_epochs=3, batch_size=50, dtype=np.float64)
    batched = ex.dropout_sweep(digits, (1.0, 0.5, 0.25), **kwargs)
    sequential = ex.dropout_sweep(digits, (1.0, 0.5, 0.25), batched=False, **kwargs)
    for key in ("loss_history", "train_acc_history", "gap", "best_val_acc"):
        np.testing.assert_allclose(batched[key], sequential[key], rtol=1e-9, err_msg=key)
    search = dict(hidden_dims=[10], num_epochs=2, num_train=100, batch_size=50, dtype=np.float64)
    table_b = ex.hyperparameter_search(digits, [1e-3, 1e-2], [1e-2, "he"], **search)
    table_s = ex.hyperparameter_search(digits, [1e-3, 1e-2], [1e-2, "he"], batched=False, **search)
    assert list(table_b["weight_scale"]) == [1e-2, "he", 1e-2, "he"]
    for key in ("best_val_acc", "best_train_acc", "final_train_loss"):
        np.testing.assert_allclose(table_b[key], table_s[key], rtol=1e-9, err_msg=key)


def test_blas_limit_is_restored(digits):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    before = [info["num_threads"] for info in threadpoolctl.threadpool_info()]
    ex.train_batched(digits, [10], num_train=100, num_epochs=1, batch_size=50, blas_threads=1)
    ex.weight_scale_sweep(digits, [1e-2, 1e-1], hidden_dims=[10], num_epochs=1, num_train=100)
    after = [info["num_threads"] for info in threadpoolctl.threadpool_info()]
    assert before == after


def test_split_runs_format(digits):
    result = ex.train_batched(
        digits, [10], weight_scale=[1e-2, 1e-1], num_train=100, num_epochs=2, batch_size=50
    )
    runs = ex.split_runs(result)
    assert [set(run) for run in runs] == [set(ex.train_net(digits, [10], num_epochs=1))] * 2
    for k, run in enumerate(runs):
        assert run["diverged_at"] is None
        assert run["final_train_loss"] == pytest.approx(np.mean(result["loss_history"][k]))
        assert run["best_train_acc"] == max(run["train_acc_history"])


@pytest.fixture
def no_batched_training(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("training started before the bad argument was reported")

    monkeypatch.setattr(batched_module, "_train", fail)


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"weight_scale": []}, ValueError, ["weight_scale", "empty"]),
        ({"weight_scale": [1e-2, 0.0]}, ValueError, ["weight_scale[1]"]),
        ({"weight_scale": -1.0}, ValueError, ["weight_scale"]),
        ({"weight_scale": [1e-2, 2e-2], "learning_rate": [1e-3] * 3}, ValueError, ["length"]),
        ({"learning_rate": -1e-3}, ValueError, ["learning_rate"]),
        ({"learning_rate": 1e-3, "optim_config": {"learning_rate": 1e-3}}, ValueError, ["both"]),
        ({"dropout_keep_ratio": [1.0, 0.0]}, ValueError, ["dropout_keep_ratio[1]", "(0, 1]"]),
        ({"seed": [0, -1]}, ValueError, ["seed[1]"]),
        ({"reg": -1.0}, ValueError, ["reg"]),
        ({"num_epochs": 1.5}, ValueError, ["num_epochs"]),
        ({"batch_size": 0}, ValueError, ["batch_size"]),
        ({"update_rule": "adagrad"}, ValueError, ["adagrad", "sgd_nesterov_momentum"]),
        ({"optim_config": {"beta1": 2.0}}, ValueError, ["beta1"]),
        ({"blas_threads": 0}, ValueError, ["blas_threads"]),
        ({"dtype": np.int32}, TypeError, ["dtype"]),
    ],
)
def test_bad_input_before_training(digits, no_batched_training, kwargs, error, words):
    with pytest.raises(error) as info:
        ex.train_batched(digits, [10], **kwargs)
    for word in words:
        assert word in str(info.value)


def test_labels_out_of_range_before_training(digits, no_batched_training):
    data = dict(digits)
    data["y_val"] = digits["y_val"].copy()
    data["y_val"][0] = 12
    with pytest.raises(ValueError, match=r"y_val.*\[0, 10\)"):
        ex.train_batched(data, [10])
    with pytest.raises(ValueError, match=r"y_val.*\[0, 10\)"):
        ex.weight_scale_sweep(data)


def test_same_numbers_in_a_worker_thread(digits):
    """The widgets compute in a worker thread: the BLAS limit must hold there too.

    (The number of BLAS threads changes float32 rounding; a process-wide limit
    set from a worker thread did not reach it with OpenBLAS 0.3.31.)
    """
    import threading

    kwargs = dict(hidden_dims=(100, 100), num_train=1000, num_epochs=2, weight_scale=5e-2)
    rules = {"sgd": {"learning_rate": 3e-3}, "adam": {"learning_rate": 3e-3}}
    main = ex.compare_update_rules(digits, rules, **kwargs)
    main_net = ex.train_net(digits, (100, 100), num_train=1000, num_epochs=1)
    out = {}

    def work():
        out["batched"] = ex.compare_update_rules(digits, rules, **kwargs)
        out["net"] = ex.train_net(digits, (100, 100), num_train=1000, num_epochs=1)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    for label in rules:
        np.testing.assert_array_equal(
            out["batched"][label]["loss_history"], main[label]["loss_history"]
        )
        np.testing.assert_array_equal(
            out["batched"][label]["val_acc_history"], main[label]["val_acc_history"]
        )
    np.testing.assert_array_equal(out["net"]["loss_history"], main_net["loss_history"])


def test_float32_batched_runs_are_the_solver_runs_bit_for_bit(digits):
    """With one BLAS thread the stacked arithmetic is each net's own, in float32 too."""
    scales = np.logspace(-4, 0, 6)
    kwargs = dict(hidden_dims=[30] * 3, num_epochs=2, num_train=300)
    batched = ex.weight_scale_sweep(digits, scales, **kwargs)
    sequential = ex.weight_scale_sweep(digits, scales, batched=False, **kwargs)
    for variant in ("baseline", "batchnorm"):
        for key in ("loss_history", "train_acc_history", "val_acc_history", "diverged_at"):
            np.testing.assert_array_equal(
                batched[variant][key], sequential[variant][key], err_msg=(variant, key)
            )
    settings = dict(
        weight_scale=[1e-2, 5e-2, 1e-1],
        seed=[0, 1, 2],
        dropout_keep_ratio=[1.0, 0.5, 0.8],
        reg=[0.0, 1e-2, 1e-1],
        learning_rate=[1e-3, 2e-3, 5e-3],
    )
    common = dict(use_batchnorm=True, num_epochs=2, num_train=300, lr_decay=0.9)
    runs = ex.split_runs(ex.train_batched(digits, [20, 20], **settings, **common))
    for k, run in enumerate(runs):
        single = ex.train_net(
            digits,
            [20, 20],
            weight_scale=settings["weight_scale"][k],
            seed=settings["seed"][k],
            dropout_keep_ratio=settings["dropout_keep_ratio"][k],
            reg=settings["reg"][k],
            optim_config={"learning_rate": settings["learning_rate"][k]},
            **common,
        )
        for key in ("loss_history", "train_acc_history", "val_acc_history"):
            np.testing.assert_array_equal(run[key], single[key], err_msg=(k, key))


def test_optim_overrides_and_normalization_as_in_the_solver(digits):
    overrides = {optim.BIAS_AND_NORMALIZATION: {"learning_rate": 0.0}, "W2": {"beta1": 0.5}}
    result = ex.train_batched(
        digits,
        [12, 12],
        weight_scale=[1e-2, 1e-1],
        learning_rate=[1e-3, 1e-2],
        normalization="batchnorm",
        optim_overrides=overrides,
        dtype=np.float64,
        return_params=True,
        **SMALL,
    )
    nets = [
        {"weight_scale": 1e-2, "learning_rate": 1e-3},
        {"weight_scale": 1e-1, "learning_rate": 1e-2},
    ]
    _assert_matches_solvers(
        result,
        digits,
        [12, 12],
        num_train=200,
        nets=nets,
        solver_kwargs={
            "update_rule": "adam",
            "batch_size": 50,
            "num_epochs": 2,
            "optim_overrides": overrides,
        },
        use_batchnorm=True,
    )
    # frozen by the overrides: biases at 0, gamma at 1, beta at 0
    np.testing.assert_array_equal(result["best_params"]["b1"], 0.0)
    np.testing.assert_array_equal(result["best_params"]["gamma2"], 1.0)
    with pytest.raises(ValueError, match="optim_overrides"):
        ex.train_batched(digits, [10], optim_overrides={"b*": {"momentum": 0.5}})
    with pytest.raises(ValueError, match="normalization must be None or one of"):
        ex.train_batched(digits, [10], normalization="layernorm")
