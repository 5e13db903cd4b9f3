"""FullyConnectedNet: gradient checks of every parameter, numerics, initialization, bad input."""

import warnings

import numpy as np
import pytest

from nndl_lab import FullyConnectedNet
from nndl_lab.gradient_check import eval_numerical_gradient

N, D, C = 10, 15, 10


def norm_rel_error(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-12)


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(0)
    return rng.standard_normal((N, D)), rng.integers(0, C, N)


@pytest.mark.parametrize("use_batchnorm", [False, True])
@pytest.mark.parametrize("keep", [1.0, 0.5])
@pytest.mark.parametrize("reg", [0.0, 3.14])
def test_gradients_of_every_parameter(batch, use_batchnorm, keep, reg):
    X, y = batch
    model = FullyConnectedNet(
        [20, 30],
        input_dim=D,
        num_classes=C,
        reg=reg,
        weight_scale=5e-2,
        dtype=np.float64,
        use_batchnorm=use_batchnorm,
        dropout_keep_ratio=keep,
        seed=1,
    )
    loss, grads = model.loss(X, y, dropout_seed=7)
    assert set(grads) == set(model.params)
    max_rel = 1e-5 if use_batchnorm else 1e-6
    for name in sorted(grads):
        numeric = eval_numerical_gradient(
            lambda _: model.loss(X, y, dropout_seed=7)[0], model.params[name], verbose=False, h=1e-6
        )
        np.testing.assert_allclose(grads[name], numeric, rtol=1e-5, atol=1e-8, err_msg=name)
        if use_batchnorm and name in ("b1", "b2"):
            # A bias before batchnorm cancels out: its gradient is exactly zero, and the
            # numerical one is round-off noise, which allclose above bounds.
            np.testing.assert_allclose(grads[name], 0.0, atol=1e-15)
            continue
        assert norm_rel_error(numeric, grads[name]) < max_rel, name


def test_last_layer_regularization_gradient_is_included(batch):
    # The homework's net showed "W3 relative error: 1.0" with reg > 0.
    X, y = batch
    model = FullyConnectedNet([20, 30], input_dim=D, reg=3.14, dtype=np.float64, seed=0)
    plain = FullyConnectedNet([20, 30], input_dim=D, reg=0.0, dtype=np.float64, seed=0)
    loss, grads = model.loss(X, y)
    plain_loss, plain_grads = plain.loss(X, y)
    penalty = sum(np.sum(model.params[f"W{i}"] ** 2) for i in (1, 2, 3))
    assert loss == pytest.approx(plain_loss + 0.5 * 3.14 * penalty, rel=1e-12)
    for i in (1, 2, 3):
        np.testing.assert_allclose(
            grads[f"W{i}"], plain_grads[f"W{i}"] + 3.14 * model.params[f"W{i}"], rtol=1e-12
        )


def test_initial_loss_is_log_num_classes(batch):
    X, y = batch
    model = FullyConnectedNet([50, 50], input_dim=D, weight_scale=1e-3, dtype=np.float64, seed=0)
    assert model.loss(X, y)[0] == pytest.approx(np.log(C), rel=1e-3)


@pytest.mark.parametrize("use_batchnorm", [False, True])
def test_finite_and_warning_free_for_every_weight_scale(use_batchnorm):
    rng = np.random.default_rng(3)
    # CIFAR-like inputs: 3072 mean-subtracted pixel values in [-128, 128).
    X = rng.uniform(-128, 128, size=(50, 3, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, 50)
    for scale in np.logspace(-4, 0, 20):
        model = FullyConnectedNet(
            [50] * 6, weight_scale=float(scale), use_batchnorm=use_batchnorm, seed=0
        )
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with np.errstate(all="raise", under="ignore"):
                loss, grads = model.loss(X, y)
                scores = model.loss(X)
        assert np.isfinite(loss), scale
        assert all(np.all(np.isfinite(g)) for g in grads.values()), scale
        assert np.all(np.isfinite(scores))


def test_initialization_shapes_and_scales():
    model = FullyConnectedNet(
        [300, 200], input_dim=400, num_classes=7, weight_scale=0.05, use_batchnorm=True, seed=0
    )
    shapes = {k: v.shape for k, v in model.params.items()}
    assert shapes == {
        "W1": (400, 300), "b1": (300,), "gamma1": (300,), "beta1": (300,),
        "W2": (300, 200), "b2": (200,), "gamma2": (200,), "beta2": (200,),
        "W3": (200, 7), "b3": (7,),
    }  # fmt: skip
    assert all(v.dtype == np.float32 for v in model.params.values())
    assert model.params["W1"].std() == pytest.approx(0.05, rel=0.02)
    assert np.all(model.params["b2"] == 0) and np.all(model.params["gamma1"] == 1)
    he = FullyConnectedNet([300], input_dim=400, weight_scale="he", seed=0)
    assert he.params["W1"].std() == pytest.approx(np.sqrt(2 / 400), rel=0.02)
    xavier = FullyConnectedNet([300], input_dim=400, weight_scale="xavier", seed=0)
    assert xavier.params["W1"].std() == pytest.approx(np.sqrt(2 / 700), rel=0.02)


def test_seed_fixes_initialization_and_dropout_masks(batch):
    X, y = batch

    def run():
        model = FullyConnectedNet(
            [20], input_dim=D, dropout_keep_ratio=0.5, dtype=np.float64, seed=42
        )
        return model, [model.loss(X, y)[0] for _ in range(3)]

    (m1, losses1), (m2, losses2) = run(), run()
    np.testing.assert_array_equal(m1.params["W1"], m2.params["W1"])
    assert losses1 == losses2
    # Each pass draws a fresh mask (the homework reused one mask for every step).
    assert len(set(losses1)) == 3
    state = np.random.get_state()[1].copy()  # noqa: NPY002 (checks the global state is untouched)
    FullyConnectedNet([20], input_dim=D, dropout_keep_ratio=0.5, seed=1).loss(X, y)
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # noqa: NPY002


def test_test_mode_is_deterministic_with_dropout(batch):
    X, _ = batch
    model = FullyConnectedNet([20], input_dim=D, dropout_keep_ratio=0.3, seed=0)
    np.testing.assert_array_equal(model.loss(X), model.loss(X))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"hidden_dims": []}, ValueError, "hidden_dims"),
        ({"hidden_dims": [10, 0]}, ValueError, "hidden_dims"),
        ({"hidden_dims": 10}, TypeError, "hidden_dims"),
        ({"input_dim": 0}, ValueError, "input_dim"),
        ({"num_classes": 1}, ValueError, "num_classes"),
        ({"dropout_keep_ratio": 0.0}, ValueError, r"dropout_keep_ratio.*\(0, 1\]"),
        ({"dropout_keep_ratio": 1.2}, ValueError, "dropout_keep_ratio"),
        ({"reg": -1}, ValueError, "reg"),
        ({"weight_scale": 0}, ValueError, "weight_scale"),
        ({"weight_scale": "kaiming"}, ValueError, "weight_scale"),
        ({"dtype": np.int32}, TypeError, "dtype"),
        ({"use_batchnorm": "yes"}, TypeError, "use_batchnorm"),
    ],
)
def test_bad_constructor_arguments(kwargs, error, match):
    args = {"hidden_dims": [10], "input_dim": 5, **kwargs}
    with pytest.raises(error, match=match):
        FullyConnectedNet(**args)


def test_bad_loss_inputs():
    model = FullyConnectedNet([10], input_dim=12, num_classes=3)
    with pytest.raises(ValueError, match="input_dim=12"):
        model.loss(np.zeros((4, 13)))
    with pytest.raises(ValueError, match=r"num_classes\) = \[0, 3\)"):
        model.loss(np.zeros((4, 3, 4)), np.array([0, 1, 2, 3]))
    with pytest.raises(ValueError, match="shape"):
        model.loss(np.zeros((4, 12)), np.array([0, 1]))
    with pytest.raises(TypeError, match="integer"):
        model.loss(np.zeros((2, 12)), np.array([0.5, 1.0]))


def test_normalization_parameter_and_its_homework_alias():
    from nndl_lab.fc_net import NORMALIZATIONS

    assert list(NORMALIZATIONS) == ["batchnorm"]
    X = np.random.default_rng(0).standard_normal((6, 12))
    y = np.array([0, 1, 2, 0, 1, 2])
    alias = FullyConnectedNet([7, 5], input_dim=12, num_classes=3, use_batchnorm=True, seed=4)
    named = FullyConnectedNet(
        [7, 5], input_dim=12, num_classes=3, normalization="batchnorm", seed=4
    )
    assert named.use_batchnorm and named.normalization == "batchnorm"
    assert list(named.params) == list(alias.params)
    for name in alias.params:
        np.testing.assert_array_equal(named.params[name], alias.params[name])
    loss_a, grads_a = alias.loss(X, y)
    loss_n, grads_n = named.loss(X, y)
    assert loss_a == loss_n
    for name in grads_a:
        np.testing.assert_array_equal(grads_n[name], grads_a[name])
    plain = FullyConnectedNet([7, 5], input_dim=12, num_classes=3, seed=4)
    assert plain.normalization is None and not plain.bn_params
    with pytest.raises(ValueError, match="normalization must be None or one of"):
        FullyConnectedNet([7], normalization="layernorm")
    with pytest.raises(ValueError, match="use_batchnorm=True means"):
        FullyConnectedNet([7], normalization="other", use_batchnorm=True)


def test_layout_and_initialization_helpers_describe_the_net():
    net = FullyConnectedNet([7, 5], input_dim=12, num_classes=3, use_batchnorm=True, seed=9)
    dims = [12, 7, 5, 3]
    shapes = FullyConnectedNet.parameter_shapes(dims, "batchnorm")
    assert [name for name, _ in shapes] == list(net.params)
    assert all(net.params[name].shape == shape for name, shape in shapes)
    # the weights are weight_scale * standard normals from the first spawned generator
    init_seq, _ = np.random.SeedSequence(9).spawn(2)
    rng = np.random.default_rng(init_seq)
    for layer, (fan_in, fan_out) in enumerate(zip(dims[:-1], dims[1:], strict=True), 1):
        expected = (1e-2 * rng.standard_normal((fan_in, fan_out))).astype(np.float32)
        np.testing.assert_array_equal(net.params[f"W{layer}"], expected)
    np.testing.assert_array_equal(net.params["gamma2"], np.ones(5, np.float32))
