"""Solver: the homework's training loop, reproducibility, checkpoints and bad input."""

import re

import numpy as np
import pytest

from nndl_lab import FullyConnectedNet, Solver, optim


def make_data(num_train=200, num_val=50, dim=(3, 4, 4), seed=0, num_classes=10):
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((num_classes, int(np.prod(dim)))) * 3

    def split(n):
        y = rng.integers(0, num_classes, n)
        X = centers[y] + rng.standard_normal((n, centers.shape[1]))
        return X.reshape(n, *dim).astype(np.float32), y

    X_train, y_train = split(num_train)
    X_val, y_val = split(num_val)
    return {"X_train": X_train, "y_train": y_train, "X_val": X_val, "y_val": y_val}


def small_model(**kwargs):
    return FullyConnectedNet([20, 20], input_dim=48, seed=kwargs.pop("seed", 0), **kwargs)


def test_overfits_50_samples_to_full_training_accuracy():
    rng = np.random.default_rng(1)
    data = {
        "X_train": rng.uniform(-128, 128, (50, 3, 32, 32)).astype(np.float32),  # CIFAR-like
        "y_train": rng.integers(0, 10, 50),
    }
    data["X_val"], data["y_val"] = data["X_train"][:10], data["y_train"][:10]
    model = FullyConnectedNet([100, 100], weight_scale=1e-2, seed=0)
    solver = Solver(
        model, data, update_rule="sgd", optim_config={"learning_rate": 1e-2},
        num_epochs=20, batch_size=25, verbose=False, seed=0,
    )  # fmt: skip
    solver.train()
    assert solver.train_acc_history[-1] == 1.0
    assert solver.check_accuracy(data["X_train"], data["y_train"]) == 1.0


def test_verbose_lines_in_the_homework_format(capsys):
    data = make_data()
    solver = Solver(small_model(), data, num_epochs=2, batch_size=50, print_every=3, seed=0)
    solver.train()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "(Iteration 1 / 8) loss: %f" % solver.loss_history[0]
    assert re.fullmatch(r"\(Epoch 0 / 2\) train acc: \d\.\d{6}; val_acc: \d\.\d{6}", lines[1])
    iteration_lines = [line for line in lines if line.startswith("(Iteration")]
    assert [int(line.split()[1]) for line in iteration_lines] == [1, 4, 7]
    assert sum(line.startswith("(Epoch") for line in lines) == 3


def test_histories_and_best_params_restored():
    data = make_data()
    model = small_model()
    solver = Solver(model, data, update_rule="adam", optim_config={"learning_rate": 1e-3},
                    num_epochs=3, batch_size=20, verbose=False, seed=0)  # fmt: skip
    solver.train()
    assert len(solver.loss_history) == 3 * (200 // 20)
    assert len(solver.train_acc_history) == len(solver.val_acc_history) == 4
    assert solver.best_val_acc == max(solver.val_acc_history)
    for name, value in solver.best_params.items():
        np.testing.assert_array_equal(model.params[name], value)
    assert solver.check_accuracy(data["X_val"], data["y_val"]) == solver.best_val_acc


def test_lr_decay_applied_after_every_epoch():
    data = make_data()
    solver = Solver(small_model(), data, update_rule="sgd_momentum",
                    optim_config={"learning_rate": 0.1}, lr_decay=0.5,
                    num_epochs=3, batch_size=50, verbose=False, seed=0)  # fmt: skip
    solver.train()
    for config in solver.optim_configs.values():
        assert config["learning_rate"] == pytest.approx(0.1 * 0.5**3)


def test_same_seed_gives_bit_identical_histories():
    def run():
        data = make_data()
        model = small_model(dropout_keep_ratio=0.7, use_batchnorm=True)
        solver = Solver(model, data, update_rule="adam", num_epochs=2, batch_size=16,
                        num_train_samples=100, verbose=False, seed=3)  # fmt: skip
        solver.train()
        return solver

    a, b = run(), run()
    assert a.loss_history == b.loss_history
    assert a.train_acc_history == b.train_acc_history
    c = Solver(small_model(), make_data(), num_epochs=1, verbose=False, seed=4)
    d = Solver(small_model(), make_data(), num_epochs=1, verbose=False, seed=5)
    c.train(), d.train()
    assert c.loss_history != d.loss_history


def test_minibatches_follow_the_documented_stream():
    data = make_data()
    seen = []

    class Recorder:
        def __init__(self):
            self.inner = small_model()
            self.params = self.inner.params
            self.num_classes = 10

        def loss(self, X, y=None):
            if y is not None:
                seen.append(y.copy())
            return self.inner.loss(X, y)

    Solver(Recorder(), data, num_epochs=1, batch_size=40, verbose=False, seed=11).train()
    from nndl_lab.solver import minibatch_rngs

    batch_rng, _ = minibatch_rngs(11)
    for labels in seen:
        np.testing.assert_array_equal(labels, data["y_train"][batch_rng.integers(0, 200, size=40)])


def test_custom_update_rule_function_and_no_aliasing():
    data = make_data()
    calls = []

    def halving_sgd(w, dw, config):
        calls.append(1)
        return w - 0.5 * config.get("learning_rate", 1e-2) * dw, config

    model = small_model()
    before = model.params["W1"]
    snapshot = before.copy()
    Solver(
        model, data, update_rule=halving_sgd, num_epochs=1, batch_size=100, verbose=False
    ).train()
    assert len(calls) == 2 * len(model.params)
    np.testing.assert_array_equal(before, snapshot)


def test_fast_path_matches_the_public_rules():
    # The Solver updates the model's arrays in place with the rule's own step; the
    # public function (new arrays each step) must give the same numbers.
    data = make_data()
    fast = Solver(small_model(), data, update_rule="adam", num_epochs=2, verbose=False, seed=0)
    slow = Solver(small_model(), data, update_rule=lambda w, dw, c: optim.adam(w, dw, c),
                  num_epochs=2, verbose=False, seed=0)  # fmt: skip
    fast.train(), slow.train()
    assert fast.loss_history == slow.loss_history


def test_checkpoint_resume_continues_exactly(tmp_path):
    data = make_data()

    def solver(model, **kwargs):
        return Solver(model, data, update_rule="adam", num_epochs=4, batch_size=25,
                      num_train_samples=80, verbose=False, seed=2, **kwargs)  # fmt: skip

    full = solver(small_model(use_batchnorm=True))
    full.train()
    first = solver(small_model(use_batchnorm=True), checkpoint_name=tmp_path / "run")
    first.num_epochs = 2
    first.train()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run_epoch_1.npz", "run_epoch_2.npz"]
    resumed = solver(small_model(use_batchnorm=True, seed=99))
    resumed.load_checkpoint(tmp_path / "run_epoch_2.npz")
    resumed.train()
    assert resumed.loss_history == full.loss_history
    assert resumed.val_acc_history == full.val_acc_history
    for name in full.model.params:
        np.testing.assert_array_equal(resumed.model.params[name], full.model.params[name])


def test_checkpoint_from_another_setup_is_refused(tmp_path):
    data = make_data()
    Solver(small_model(), data, update_rule="adam", num_epochs=1, verbose=False,
           checkpoint_name=tmp_path / "a").train()  # fmt: skip
    other = Solver(small_model(), data, update_rule="sgd", num_epochs=1, verbose=False)
    with pytest.raises(ValueError, match="update_rule"):
        other.load_checkpoint(tmp_path / "a_epoch_1.npz")


def test_divergence_stops_training_and_is_reported(capsys):
    data = make_data()
    data["X_train"] = data["X_train"] * 1e4
    solver = Solver(small_model(weight_scale=1.0), data, update_rule="sgd",
                    optim_config={"learning_rate": 1e3}, num_epochs=5, batch_size=50,
                    seed=0)  # fmt: skip
    solver.train()
    assert solver.diverged_at is not None
    assert len(solver.loss_history) == solver.diverged_at
    assert not np.isfinite(solver.loss_history[-1])
    assert f"Diverged at iteration {solver.diverged_at}" in capsys.readouterr().out


def test_progress_bar(capsys):
    Solver(small_model(), make_data(), num_epochs=1, verbose=False, progress=True).train()
    assert "training" in capsys.readouterr().err


def test_check_accuracy_in_batches():
    data = make_data(num_train=250)
    solver = Solver(small_model(), data, verbose=False)
    scores = solver.model.loss(data["X_train"])
    expected = np.mean(np.argmax(scores, axis=1) == data["y_train"])
    assert solver.check_accuracy(data["X_train"], data["y_train"], batch_size=7) == expected


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"update_rule": "adamw"}, ValueError, r"update_rule.*'sgd', 'sgd_momentum'"),
        ({"update_rule": 3}, TypeError, "update_rule"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"num_epochs": 0}, ValueError, "num_epochs"),
        ({"num_epochs": 2.5}, ValueError, "num_epochs"),
        ({"lr_decay": 0}, ValueError, "lr_decay"),
        ({"print_every": -1}, ValueError, "print_every"),
        ({"learning_rate": 1e-3}, ValueError, r"Unrecognized arguments \['learning_rate'\]"),
        ({"optim_config": {"learning_rate": 1e-3, "print_every": 5}}, ValueError, "print_every"),
    ],
)
def test_bad_options(kwargs, error, match):
    with pytest.raises(error, match=match):
        Solver(small_model(), make_data(), **kwargs)


def test_bad_data():
    data = make_data()
    with pytest.raises(ValueError, match=r"missing key\(s\) \['y_val'\]"):
        Solver(small_model(), {k: v for k, v in data.items() if k != "y_val"})
    bad = dict(data, y_train=data["y_train"] + 5)
    with pytest.raises(ValueError, match=r"num_classes=10.*\[0, 10\)"):
        Solver(small_model(), bad)
    with pytest.raises(ValueError, match="same number"):
        Solver(small_model(), dict(data, y_val=data["y_val"][:3]))
    with pytest.raises(TypeError, match="dict"):
        Solver(small_model(), [data])


def test_optim_overrides_freeze_biases_and_batchnorm_parameters():
    data = make_data()
    model = FullyConnectedNet([20, 20], input_dim=48, use_batchnorm=True, seed=0)
    before = {name: w.copy() for name, w in model.params.items()}
    solver = Solver(
        model,
        data,
        update_rule="adam",
        optim_config={"learning_rate": 1e-2},
        optim_overrides={optim.BIAS_AND_NORMALIZATION: {"learning_rate": 0.0}},
        num_epochs=1,
        verbose=False,
        seed=0,
    )
    solver.train()
    for name, w in model.params.items():
        if name.startswith("W"):
            assert not np.array_equal(w, before[name]), name
        else:
            # a learning rate of zero leaves the initial values: b = 0, gamma = 1, beta = 0
            np.testing.assert_array_equal(w, before[name], err_msg=name)
    assert solver.optim_configs["W1"]["learning_rate"] == 1e-2
    assert solver.optim_configs["gamma1"]["learning_rate"] == 0.0


def test_optim_overrides_are_checked_before_training():
    data = make_data()
    model = small_model()
    with pytest.raises(ValueError, match=r"optim_overrides\['b\*'\].*momentum"):
        Solver(model, data, update_rule="sgd", optim_overrides={"b*": {"momentum": 0.5}})
    with pytest.raises(ValueError, match="optim_overrides needs update_rule"):
        Solver(
            model,
            data,
            update_rule=lambda w, dw, c: (w, c),
            optim_overrides={"b*": {"learning_rate": 0.0}},
        )
