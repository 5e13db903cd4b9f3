"""Tests of nndl_lab.experiments: runs, the homework's experiments, sweeps, run_parallel.

Expected values come from independent computations: a FullyConnectedNet and a
Solver built by hand, the definitions of the run fields, and the Solver's own
accuracy on the restored best parameters.
"""

from __future__ import annotations

import numpy as np
import pytest

from nndl_lab import FullyConnectedNet, Solver
from nndl_lab import experiments as ex
from nndl_lab.data import get_data


def _digits():
    return dict(get_data("digits", verbose=False))


@pytest.fixture(scope="module")
def digits():
    return _digits()


@pytest.fixture
def no_training(monkeypatch):
    """Any training attempt fails the test: errors must come before training."""

    def fail(self):
        raise AssertionError("training started before the bad argument was reported")

    monkeypatch.setattr(Solver, "train", fail)


SMALL = dict(hidden_dims=[20, 20], num_train=200, num_epochs=2, batch_size=50)


def _solver_run(data, hidden_dims, num_train, seed=0, dtype=np.float32, **kwargs):
    """A Solver run built by hand: the reference for train_net."""
    solver_keys = ("update_rule", "optim_config", "lr_decay", "batch_size", "num_epochs")
    solver_kwargs = {k: kwargs.pop(k) for k in solver_keys if k in kwargs}
    model = FullyConnectedNet(hidden_dims, input_dim=64, seed=seed, dtype=dtype, **kwargs)
    subset = {
        "X_train": data["X_train"][:num_train],
        "y_train": data["y_train"][:num_train],
        "X_val": data["X_val"],
        "y_val": data["y_val"],
    }
    solver = Solver(model, subset, verbose=False, seed=seed, **solver_kwargs)
    solver.train()
    return solver, model


# -- train_net --------------------------------------------------------------------------------


def test_train_net_is_exactly_the_solver_run(digits):
    run = ex.train_net(
        digits,
        update_rule="sgd_momentum",
        optim_config={"learning_rate": 2e-2},
        weight_scale=5e-2,
        **SMALL,
    )
    solver, _ = _solver_run(
        digits,
        [20, 20],
        200,
        update_rule="sgd_momentum",
        optim_config={"learning_rate": 2e-2},
        weight_scale=5e-2,
        batch_size=50,
        num_epochs=2,
    )
    np.testing.assert_array_equal(run["loss_history"], solver.loss_history)
    np.testing.assert_array_equal(run["train_acc_history"], solver.train_acc_history)
    np.testing.assert_array_equal(run["val_acc_history"], solver.val_acc_history)
    assert run["best_val_acc"] == solver.best_val_acc
    assert run["diverged_at"] is None


def test_run_fields_follow_their_definitions(digits):
    run = ex.train_net(digits, hidden_dims=[10], num_train=300, num_epochs=3, batch_size=2)
    # 300 // 2 = 150 iterations per epoch, 3 epochs; checks after step 1 and each epoch
    assert run["loss_history"].shape == (450,)
    assert run["train_acc_history"].shape == (4,) == run["val_acc_history"].shape
    assert run["final_train_loss"] == pytest.approx(np.mean(run["loss_history"][-100:]))
    assert run["best_train_acc"] == max(run["train_acc_history"])
    assert run["best_val_acc"] == max(run["val_acc_history"])
    assert set(run) == {
        "loss_history",
        "train_acc_history",
        "val_acc_history",
        "best_val_acc",
        "best_train_acc",
        "final_train_loss",
        "diverged_at",
    }


def test_helpers_count_iterations_and_checks():
    assert ex.num_iterations(1000, 50, 10) == 200
    assert ex.num_iterations(30, 50, 4) == 4  # at least one iteration per epoch
    assert ex.num_checks(1000, 50, 10) == 11
    assert ex.num_checks(30, 50, 4) == 4  # the first step is also the first epoch end
    assert ex.final_train_loss(np.arange(150.0)) == pytest.approx(np.mean(np.arange(50.0, 150.0)))
    assert ex.final_train_loss([1.0, 3.0]) == 2.0


def test_diverged_run_stops_and_says_where(digits):
    run = ex.train_net(
        digits,
        hidden_dims=[20],
        update_rule="sgd",
        optim_config={"learning_rate": 1e6},
        weight_scale=1.0,
        num_train=200,
        num_epochs=3,
        batch_size=50,
    )
    k = run["diverged_at"]
    assert k is not None and 1 <= k < 12
    assert run["loss_history"].shape == (k,)
    assert not np.isfinite(run["loss_history"][-1])
    assert np.all(np.isfinite(run["loss_history"][:-1]))
    assert not np.isfinite(run["final_train_loss"])


# -- compare_update_rules ---------------------------------------------------------------------


def test_compare_update_rules_same_start_and_labels(digits):
    rules = {
        "sgd": {"learning_rate": 1e-2},
        "fast adam": {"update_rule": "adam", "learning_rate": 1e-2},
        "adam": None,
    }
    reference = ex.train_net(
        digits, update_rule="adam", optim_config={"learning_rate": 1e-2}, weight_scale=5e-2, **SMALL
    )
    for batched in (False, True):
        runs = ex.compare_update_rules(digits, rules, batched=batched, **SMALL)
        assert list(runs) == ["sgd", "fast adam", "adam"]
        # same initial weights and first minibatch: the first loss is the same for every rule
        first = {label: run["loss_history"][0] for label, run in runs.items()}
        assert first["sgd"] == first["fast adam"] == first["adam"]
        # and the second differs, since the rules differ
        assert runs["sgd"]["loss_history"][1] != runs["fast adam"]["loss_history"][1]
        if batched:  # float32: the batched pass adds in another order
            np.testing.assert_allclose(
                runs["fast adam"]["loss_history"], reference["loss_history"], rtol=1e-5
            )
        else:
            np.testing.assert_array_equal(
                runs["fast adam"]["loss_history"], reference["loss_history"]
            )


def test_compare_update_rules_batched_equals_solver_runs_float64(digits):
    rules = {
        "sgd": {"learning_rate": 3e-2},
        "momentum": {"update_rule": "sgd_momentum", "momentum": 0.5},
        "nesterov": {"update_rule": "sgd_nesterov_momentum"},
        "rmsprop": {"learning_rate": 1e-3},
        "adam": None,
        "adam fast": {"update_rule": "adam", "learning_rate": 1e-2, "beta2": 0.99},
    }
    batched = ex.compare_update_rules(
        digits, rules, dtype=np.float64, use_batchnorm=True, lr_decay=0.8, **SMALL
    )
    sequential = ex.compare_update_rules(
        digits, rules, dtype=np.float64, use_batchnorm=True, lr_decay=0.8, batched=False, **SMALL
    )
    assert list(batched) == list(rules)
    for label in rules:
        for key in ("loss_history", "train_acc_history", "val_acc_history"):
            np.testing.assert_allclose(
                batched[label][key], sequential[label][key], rtol=1e-9, err_msg=(label, key)
            )
        assert batched[label]["best_val_acc"] == sequential[label]["best_val_acc"]


def test_compare_update_rules_default_is_the_homework(digits, monkeypatch):
    calls = []

    def fake_train_net(**kwargs):
        calls.append(kwargs)
        return {}

    monkeypatch.setattr(ex.runs, "train_net", fake_train_net)
    ex.compare_update_rules(digits, batched=False)
    assert [c["update_rule"] for c in calls] == ["sgd", "sgd_momentum", "sgd_nesterov_momentum"]
    assert all(c["optim_config"] == {"learning_rate": 1e-2} for c in calls)
    assert all(c["hidden_dims"] == (100,) * 5 and c["num_train"] == 4000 for c in calls)
    assert all(c["num_epochs"] == 5 and c["weight_scale"] == 5e-2 for c in calls)
    batched_calls = []

    def fake_train_batched(data, **kwargs):
        batched_calls.append(kwargs)
        raise KeyboardInterrupt  # stop here: only the arguments matter

    monkeypatch.setattr(ex.batched, "train_batched", fake_train_batched)
    with pytest.raises(KeyboardInterrupt):
        ex.compare_update_rules(digits)
    (call,) = batched_calls
    assert call["update_rule"] == ["sgd", "sgd_momentum", "sgd_nesterov_momentum"]
    assert call["optim_config"] == [{"learning_rate": 1e-2}] * 3
    assert call["num_train"] == 4000 and call["weight_scale"] == 5e-2
    assert ex.HOMEWORK_ADAPTIVE_RULES == {
        "rmsprop": {"learning_rate": 2e-4},
        "adam": {"learning_rate": 1e-3},
    }


# -- batchnorm_vs_baseline, dropout_sweep, capstone ------------------------------------------


def test_batchnorm_vs_baseline_trains_both_nets_with_adam(digits):
    result = ex.batchnorm_vs_baseline(digits, hidden_dims=[20, 20], num_train=100, num_epochs=2)
    assert set(result) == {"baseline", "batchnorm"}
    for use_batchnorm, key in ((False, "baseline"), (True, "batchnorm")):
        solver, _ = _solver_run(
            digits,
            [20, 20],
            100,
            use_batchnorm=use_batchnorm,
            weight_scale=2e-2,
            update_rule="adam",
            optim_config={"learning_rate": 1e-3},
            batch_size=50,
            num_epochs=2,
        )
        np.testing.assert_array_equal(result[key]["loss_history"], solver.loss_history)
        np.testing.assert_array_equal(result[key]["val_acc_history"], solver.val_acc_history)


def test_dropout_sweep_gap_and_no_dropout_entry(digits):
    table = ex.dropout_sweep(
        digits,
        (1.0, 0.5),
        hidden_dims=[30],
        num_train=100,
        num_epochs=3,
        batch_size=50,
        batched=False,
    )
    np.testing.assert_array_equal(table["keep_ratios"], [1.0, 0.5])
    np.testing.assert_allclose(table["gap"], table["final_train_acc"] - table["final_val_acc"])
    np.testing.assert_array_equal(table["final_train_acc"], table["train_acc_history"][:, -1])
    plain = ex.train_net(
        digits,
        hidden_dims=[30],
        optim_config={"learning_rate": 5e-4},
        weight_scale=1e-2,
        num_train=100,
        num_epochs=3,
        batch_size=50,
    )
    np.testing.assert_array_equal(table["loss_history"][0], plain["loss_history"])
    assert table["loss_history"].shape == (2, 6)
    assert table["val_acc_history"].shape == (2, 4)


def test_capstone_reports_best_params_accuracies(digits):
    run = ex.capstone(digits, hidden_dims=[30, 30], num_epochs=2, batch_size=100)
    # the best parameters are those of the check with the best validation accuracy on all
    # of the validation set, so evaluating them again gives that accuracy
    assert run["val_acc"] == run["best_val_acc"]
    solver, model = _solver_run(
        digits,
        [30, 30],
        None,
        use_batchnorm=True,
        weight_scale=1e-2,
        update_rule="adam",
        optim_config={"learning_rate": 1e-3},
        lr_decay=0.9,
        batch_size=100,
        num_epochs=2,
    )
    expected = np.mean(np.argmax(model.loss(digits["X_test"]), axis=1) == digits["y_test"])
    assert run["test_acc"] == pytest.approx(expected)
    no_test = {k: v for k, v in digits.items() if not k.endswith("_test")}
    assert ex.capstone(no_test, hidden_dims=[10], num_epochs=1)["test_acc"] is None


# -- sweeps, sequential -----------------------------------------------------------------------


def test_weight_scale_sweep_sequential_matches_single_runs(digits):
    scales = [1e-3, 1e-1]
    result = ex.weight_scale_sweep(
        digits, scales, hidden_dims=[15, 15], num_epochs=2, num_train=100, batched=False
    )
    np.testing.assert_array_equal(result["weight_scales"], scales)
    for use_batchnorm, key in ((False, "baseline"), (True, "batchnorm")):
        table = result[key]
        assert table["loss_history"].shape == (2, 4)
        assert table["val_acc_history"].shape == (2, 3)
        for i, scale in enumerate(scales):
            run = ex.train_net(
                digits,
                hidden_dims=[15, 15],
                optim_config={"learning_rate": 1e-3},
                weight_scale=scale,
                use_batchnorm=use_batchnorm,
                num_train=100,
                num_epochs=2,
                batch_size=50,
            )
            np.testing.assert_array_equal(table["loss_history"][i], run["loss_history"])
            assert table["best_val_acc"][i] == run["best_val_acc"]
            assert table["final_train_loss"][i] == run["final_train_loss"]
        np.testing.assert_array_equal(table["diverged_at"], [0, 0])


def test_stack_runs_pads_diverged_histories():
    runs = [
        {
            "loss_history": np.array([1.0, 2.0, 3.0]),
            "train_acc_history": np.array([0.1, 0.2]),
            "val_acc_history": np.array([0.3, 0.4]),
            "best_val_acc": 0.4,
            "best_train_acc": 0.2,
            "final_train_loss": 2.0,
            "diverged_at": None,
        },
        {
            "loss_history": np.array([1.0, np.inf]),
            "train_acc_history": np.array([0.1]),
            "val_acc_history": np.array([0.2]),
            "best_val_acc": 0.2,
            "best_train_acc": 0.1,
            "final_train_loss": np.inf,
            "diverged_at": 2,
        },
    ]
    table = ex.stack_runs(runs, 3, 2)
    np.testing.assert_array_equal(table["loss_history"][1], [1.0, np.inf, np.nan])
    np.testing.assert_array_equal(table["train_acc_history"][1], [0.1, np.nan])
    np.testing.assert_array_equal(table["diverged_at"], [0, 2])
    assert table["diverged_at"].dtype.kind == "i"


def test_hyperparameter_search_grid_order(digits):
    table = ex.hyperparameter_search(
        digits,
        [1e-3, 1e-2],
        [1e-2, 5e-2],
        hidden_dims=[10],
        num_epochs=1,
        num_train=100,
        batch_size=50,
        batched=False,
    )
    np.testing.assert_array_equal(table["learning_rate"], [1e-3, 1e-3, 1e-2, 1e-2])
    np.testing.assert_array_equal(table["weight_scale"], [1e-2, 5e-2, 1e-2, 5e-2])
    run = ex.train_net(
        digits,
        hidden_dims=[10],
        optim_config={"learning_rate": 1e-2},
        weight_scale=5e-2,
        num_train=100,
        num_epochs=1,
        batch_size=50,
    )
    assert table["best_val_acc"][3] == run["best_val_acc"]
    assert table["final_train_loss"][3] == run["final_train_loss"]


# -- bad input: a clear error before any training ---------------------------------------------


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda d: ex.weight_scale_sweep(d, []), ValueError, ["weight_scales", "empty"]),
        (lambda d: ex.weight_scale_sweep(d, [1e-2, -1.0]), ValueError, ["weight_scales[1]"]),
        (lambda d: ex.weight_scale_sweep(d, [0.0]), ValueError, ["weight_scales[0]", "positive"]),
        (lambda d: ex.weight_scale_sweep(d, num_epochs=2.5), ValueError, ["num_epochs"]),
        (lambda d: ex.weight_scale_sweep(d, batch_size=0), ValueError, ["batch_size"]),
        (lambda d: ex.train_net(d, num_epochs=0), ValueError, ["num_epochs", "positive"]),
        (lambda d: ex.train_net(d, batch_size=10.0), ValueError, ["batch_size"]),
        (lambda d: ex.train_net(d, update_rule="adagrad"), ValueError, ["adagrad", "rmsprop"]),
        (lambda d: ex.train_net(d, dropout_keep_ratio=0.0), ValueError, ["dropout_keep_ratio"]),
        (lambda d: ex.train_net(d, dropout_keep_ratio=1.5), ValueError, ["(0, 1]"]),
        (lambda d: ex.train_net(d, weight_scale=-1e-2), ValueError, ["weight_scale"]),
        (lambda d: ex.train_net(d, optim_config={"lr": 1e-3}), ValueError, ["lr", "learning_rate"]),
        (lambda d: ex.train_net(d, hidden_dims=[]), ValueError, ["hidden_dims"]),
        (lambda d: ex.train_net(d, num_train=-5), ValueError, ["num_train"]),
        (lambda d: ex.dropout_sweep(d, (1.0, 0.0)), ValueError, ["keep_ratios[1]", "(0, 1]"]),
        (lambda d: ex.dropout_sweep(d, ()), ValueError, ["keep_ratios"]),
        (lambda d: ex.compare_update_rules(d, {"adagrad": {}}), ValueError, ["adagrad", "sgd"]),
        (lambda d: ex.compare_update_rules(d, {}), ValueError, ["rules"]),
        (lambda d: ex.compare_update_rules(d, num_epochs=-1), ValueError, ["num_epochs"]),
        (lambda d: ex.batchnorm_vs_baseline(d, learning_rate=0), ValueError, ["learning_rate"]),
        (lambda d: ex.capstone(d, lr_decay=1.5), ValueError, ["lr_decay"]),
        (lambda d: ex.hyperparameter_search(d, []), ValueError, ["learning_rates"]),
        (lambda d: ex.hyperparameter_search(d, [1e-3], [0]), ValueError, ["weight_scales[0]"]),
        (lambda d: ex.train_net({"X_train": 1}), ValueError, ["missing", "y_train"]),
        (lambda d: ex.train_net([1, 2]), TypeError, ["data"]),
    ],
)
def test_bad_input_is_reported_before_training(digits, no_training, call, error, words):
    with pytest.raises(error) as info:
        call(digits)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize("bad_label", [10, -1])
def test_labels_out_of_range_are_reported_before_training(digits, no_training, bad_label):
    data = dict(digits)
    data["y_train"] = digits["y_train"].copy()
    data["y_train"][7] = bad_label
    for call in (
        lambda: ex.train_net(data),
        lambda: ex.weight_scale_sweep(data),
        lambda: ex.dropout_sweep(data),
        lambda: ex.compare_update_rules(data),
    ):
        with pytest.raises(ValueError, match=r"y_train.*\[0, 10\)"):
            call()


# -- run_parallel -----------------------------------------------------------------------------


def _small_job(scale):
    return dict(
        hidden_dims=[10],
        weight_scale=scale,
        num_train=100,
        num_epochs=1,
        batch_size=50,
    )


def test_run_parallel_processes_match_sequential(digits):
    jobs = [dict(data=digits, **_small_job(scale)) for scale in (1e-2, 1e-1, 1.0)]
    parallel = ex.run_parallel(ex.train_net, jobs, n_jobs=2, backend="loky")
    sequential = ex.run_parallel(ex.train_net, jobs, n_jobs=1)
    assert len(parallel) == 3
    for a, b in zip(parallel, sequential, strict=True):
        np.testing.assert_array_equal(a["loss_history"], b["loss_history"])
        assert a["best_val_acc"] == b["best_val_acc"]
    threaded = ex.run_parallel(ex.train_net, jobs[:1], n_jobs=2, backend="threading")
    np.testing.assert_array_equal(threaded[0]["loss_history"], sequential[0]["loss_history"])


def test_run_parallel_joblib_config_switches_backend(digits):
    joblib = pytest.importorskip("joblib")
    seen = []

    def record(x):
        import threading

        seen.append(threading.current_thread().name)
        return x * 2

    # a function that is not picklable runs under a backend chosen by parallel_config
    with joblib.parallel_config(backend="threading"):
        assert ex.run_parallel(record, [{"x": 1}, {"x": 2}], n_jobs=2) == [2, 4]
    assert len(seen) == 2


def test_run_parallel_bad_input():
    with pytest.raises(TypeError, match="function"):
        ex.run_parallel(3, [])
    with pytest.raises(TypeError, match=r"kwargs_list\[1\]"):
        ex.run_parallel(abs, [{}, 5])
    with pytest.raises(ValueError, match="n_jobs"):
        ex.run_parallel(abs, [{"x": 1}], n_jobs=0)
    assert ex.run_parallel(abs, []) == []


def test_compare_update_rules_in_processes(digits):
    rules = {"sgd": None, "adam": None}
    parallel = ex.compare_update_rules(digits, rules, n_jobs=2, batched=False, **SMALL)
    sequential = ex.compare_update_rules(digits, rules, batched=False, **SMALL)
    for label in rules:
        np.testing.assert_array_equal(
            parallel[label]["loss_history"], sequential[label]["loss_history"]
        )


def test_blas_limit_shared_by_threads_restores_the_original():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    import threading

    from nndl_lab.experiments.parallel import blas_limit

    def blas_threads():  # numpy's own BLAS (others, e.g. scipy's, may be loaded later)
        return [
            i["num_threads"]
            for i in threadpoolctl.threadpool_info()
            if i["user_api"] == "blas" and "numpy" in i["filepath"]
        ]

    before = blas_threads()
    if not before:
        pytest.skip("numpy's BLAS is not visible to threadpoolctl")
    entered, leave = threading.Event(), threading.Event()

    def worker():
        with blas_limit(1):
            entered.set()
            leave.wait()

    with blas_limit(1):
        assert blas_threads() == [1] * len(before)
        thread = threading.Thread(target=worker)
        thread.start()
        entered.wait()
        leave.set()
        thread.join()
        # the worker left first: the limit of the main thread's context still holds
        assert blas_threads() == [1] * len(before)
    assert blas_threads() == before
