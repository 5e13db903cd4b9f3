"""Each layer: backward against numerical gradients (float64), forward against formulas."""

import warnings

import numpy as np
import pytest

from nndl_lab import layer_utils, layers
from nndl_lab.gradient_check import (
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    rel_error,
)


def assert_grad_close(numeric, analytic, max_rel=1e-6):
    # An elementwise relative error fails correct gradients on entries near zero;
    # compare with an absolute floor, and bound the relative error of the whole array.
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)
    norm_rel = np.linalg.norm(numeric - analytic) / max(
        np.linalg.norm(numeric) + np.linalg.norm(analytic), 1e-12
    )
    assert norm_rel < max_rel


@pytest.fixture
def rng():
    return np.random.default_rng(231)


def test_affine_forward_formula(rng):
    x = rng.standard_normal((2, 4, 5, 6))
    w = rng.standard_normal((120, 3))
    b = rng.standard_normal(3)
    out, _ = layers.affine_forward(x, w, b)
    expected = np.array([[x[n].ravel() @ w[:, m] + b[m] for m in range(3)] for n in range(2)])
    assert rel_error(out, expected) < 1e-12


def test_affine_backward(rng):
    x = rng.standard_normal((10, 2, 3))
    w = rng.standard_normal((6, 5))
    b = rng.standard_normal(5)
    dout = rng.standard_normal((10, 5))
    dx, dw, db = layers.affine_backward(dout, layers.affine_forward(x, w, b)[1])
    assert_grad_close(
        eval_numerical_gradient_array(lambda x: layers.affine_forward(x, w, b)[0], x, dout), dx
    )
    assert_grad_close(
        eval_numerical_gradient_array(lambda w: layers.affine_forward(x, w, b)[0], w, dout), dw
    )
    assert_grad_close(
        eval_numerical_gradient_array(lambda b: layers.affine_forward(x, w, b)[0], b, dout), db
    )
    assert dx.shape == x.shape
    no_dx, dw2, db2 = layers.affine_backward(
        dout, layers.affine_forward(x, w, b)[1], compute_dx=False
    )
    assert no_dx is None
    np.testing.assert_array_equal(dw2, dw)


def test_affine_forward_shape_mismatch(rng):
    with pytest.raises(ValueError, match="features"):
        layers.affine_forward(rng.standard_normal((2, 7)), rng.standard_normal((6, 3)), np.zeros(3))


def test_relu(rng):
    x = np.linspace(-0.5, 0.5, num=12).reshape(3, 4)
    out, cache = layers.relu_forward(x)
    np.testing.assert_array_equal(out, np.where(x > 0, x, 0.0))
    x = rng.standard_normal((10, 10))
    dout = rng.standard_normal((10, 10))
    dx = layers.relu_backward(dout, layers.relu_forward(x)[1])
    assert_grad_close(
        eval_numerical_gradient_array(lambda x: layers.relu_forward(x)[0], x, dout), dx
    )


@pytest.mark.parametrize(
    "forward, backward",
    [
        (layer_utils.affine_relu_forward, layer_utils.affine_relu_backward),
    ],
)
def test_affine_relu_sandwich(rng, forward, backward):
    x = rng.standard_normal((2, 3, 4))
    w = rng.standard_normal((12, 10))
    b = rng.standard_normal(10)
    dout = rng.standard_normal((2, 10))
    out, cache = forward(x, w, b)
    dx, dw, db = backward(dout, cache)
    for arg, grad in ((x, dx), (w, dw), (b, db)):
        assert_grad_close(
            eval_numerical_gradient_array(lambda _: forward(x, w, b)[0], arg, dout), grad
        )


def test_affine_batchnorm_relu_sandwich(rng):
    x = rng.standard_normal((8, 6))
    w = rng.standard_normal((6, 5))
    b = rng.standard_normal(5)
    gamma = rng.standard_normal(5)
    beta = rng.standard_normal(5)
    dout = rng.standard_normal((8, 5))

    def f(_):
        return layer_utils.affine_batchnorm_relu_forward(x, w, b, gamma, beta, {"mode": "train"})[0]

    _, cache = layer_utils.affine_batchnorm_relu_forward(x, w, b, gamma, beta, {"mode": "train"})
    grads = layer_utils.affine_batchnorm_relu_backward(dout, cache)
    for arg, grad in zip(
        (x, w, gamma, beta), (grads[0], grads[1], grads[3], grads[4]), strict=True
    ):
        assert_grad_close(eval_numerical_gradient_array(f, arg, dout), grad, max_rel=1e-5)
    # A bias before batchnorm cancels out: its gradient is exactly zero.
    np.testing.assert_allclose(grads[2], 0.0, atol=1e-12)


def test_batchnorm_train_normalizes_to_gamma_beta(rng):
    x = 5 * rng.standard_normal((200, 3)) + 12
    gamma = np.array([1.0, 2.0, 3.0])
    beta = np.array([11.0, 12.0, 13.0])
    out, _ = layers.batchnorm_forward(x, gamma, beta, {"mode": "train"})
    np.testing.assert_allclose(out.mean(axis=0), beta, atol=1e-10)
    np.testing.assert_allclose(out.std(axis=0), gamma, rtol=1e-6)


def test_batchnorm_test_mode_after_warm_up(rng):
    # Warm up the running averages in train mode first, then switch to test mode once
    # (the homework switched modes inside its warm-up loop).
    w1 = rng.standard_normal((50, 60))
    w2 = rng.standard_normal((60, 3))
    bn_param = {"mode": "train"}
    gamma, beta = np.ones(3), np.zeros(3)
    for _ in range(100):
        x = rng.standard_normal((200, 50))
        a = np.maximum(0, x @ w1) @ w2
        layers.batchnorm_forward(a, gamma, beta, bn_param)
    bn_param["mode"] = "test"
    x = rng.standard_normal((2000, 50))
    a = np.maximum(0, x @ w1) @ w2
    out, _ = layers.batchnorm_forward(a, gamma, beta, bn_param)
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=0.15)
    np.testing.assert_allclose(out.std(axis=0), 1.0, atol=0.15)


def test_batchnorm_running_average_formula(rng):
    x1, x2 = rng.standard_normal((2, 20, 4))
    bn_param = {"mode": "train", "momentum": 0.8}
    layers.batchnorm_forward(x1, np.ones(4), np.zeros(4), bn_param)
    first_mean = bn_param["running_mean"]
    layers.batchnorm_forward(x2, np.ones(4), np.zeros(4), bn_param)
    expected = 0.8 * (0.2 * x1.mean(0)) + 0.2 * x2.mean(0)
    np.testing.assert_allclose(bn_param["running_mean"], expected, rtol=1e-12)
    expected_var = 0.8 * (0.2 * x1.var(0)) + 0.2 * x2.var(0)
    np.testing.assert_allclose(bn_param["running_var"], expected_var, rtol=1e-12)
    # The earlier array was replaced, not updated in place.
    np.testing.assert_allclose(first_mean, 0.2 * x1.mean(0), rtol=1e-12)


@pytest.mark.parametrize("backward", [layers.batchnorm_backward, layers.batchnorm_backward_alt])
@pytest.mark.parametrize("mode", ["train", "test"])
def test_batchnorm_backward(rng, backward, mode):
    n, d = 4, 5
    x = 5 * rng.standard_normal((n, d)) + 12
    gamma = rng.standard_normal(d)
    beta = rng.standard_normal(d)
    dout = rng.standard_normal((n, d))
    base = {
        "mode": mode,
        "running_mean": rng.standard_normal(d),
        "running_var": rng.random(d) + 0.5,
    }

    def f(_):
        return layers.batchnorm_forward(x, gamma, beta, dict(base))[0]

    _, cache = layers.batchnorm_forward(x, gamma, beta, dict(base))
    dx, dgamma, dbeta = backward(dout, cache)
    for arg, grad in ((x, dx), (gamma, dgamma), (beta, dbeta)):
        assert_grad_close(eval_numerical_gradient_array(f, arg, dout), grad, max_rel=1e-5)


def test_batchnorm_bad_mode():
    with pytest.raises(ValueError, match="mode"):
        layers.batchnorm_forward(np.ones((2, 2)), np.ones(2), np.zeros(2), {"mode": "eval"})


@pytest.mark.parametrize("p", [0.25, 0.4, 0.7])
def test_dropout_train_keeps_p_and_preserves_mean(p):
    x = np.random.default_rng(0).standard_normal((500, 500)) + 10
    out, _ = layers.dropout_forward(x, {"mode": "train", "p": p, "seed": 123})
    kept = np.mean(out != 0)
    assert kept == pytest.approx(p, abs=0.01)
    assert out.mean() == pytest.approx(x.mean(), rel=0.01)
    np.testing.assert_allclose(out[out != 0], x[out != 0] / p)


def test_dropout_test_mode_is_identity():
    x = np.random.default_rng(0).standard_normal((50, 40))
    out, _ = layers.dropout_forward(x, {"mode": "test", "p": 0.3, "seed": 1})
    np.testing.assert_array_equal(out, x)


def test_dropout_backward(rng):
    x = rng.standard_normal((10, 10)) + 10
    dout = rng.standard_normal((10, 10))
    param = {"mode": "train", "p": 0.2, "seed": 123}
    dx = layers.dropout_backward(dout, layers.dropout_forward(x, param)[1])
    numeric = eval_numerical_gradient_array(lambda x: layers.dropout_forward(x, param)[0], x, dout)
    assert_grad_close(numeric, dx)


def test_dropout_generator_draws_fresh_masks():
    x = np.ones((20, 20))
    param = {"mode": "train", "p": 0.5, "rng": np.random.default_rng(5)}
    first, _ = layers.dropout_forward(x, param)
    second, _ = layers.dropout_forward(x, param)
    assert not np.array_equal(first, second)
    state = np.random.get_state()[1].copy()  # noqa: NPY002 (checks the global state is untouched)
    layers.dropout_forward(x, {"mode": "train", "p": 0.5, "seed": 3})
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # noqa: NPY002


@pytest.mark.parametrize("p", [0, 1.5, -0.1, "0.5", None])
def test_dropout_bad_keep_probability(p):
    with pytest.raises(ValueError, match="keep probability"):
        layers.dropout_forward(np.ones((2, 2)), {"mode": "train", "p": p})


def test_softmax_loss_formula_and_gradient(rng):
    x = 0.001 * rng.standard_normal((50, 10))
    y = rng.integers(0, 10, 50)
    loss, dx = layers.softmax_loss(x, y)
    probs = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    assert loss == pytest.approx(-np.mean(np.log(probs[np.arange(50), y])), rel=1e-12)
    assert loss == pytest.approx(np.log(10), rel=1e-2)
    numeric = eval_numerical_gradient(lambda x: layers.softmax_loss(x, y)[0], x, verbose=False)
    assert_grad_close(numeric, dx)


def test_softmax_loss_is_finite_and_silent_for_huge_scores():
    x = np.array([[1e6, -1e6, 0.0], [-1e30, 1e30, 0.0]], dtype=np.float32)
    y = np.array([1, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, dx = layers.softmax_loss(x, y)
    assert np.isfinite(loss) and np.all(np.isfinite(dx))
    # The right class is out-scored by 2e6 and 2e30: the loss is those margins, averaged.
    assert loss == pytest.approx((2e6 + 2e30) / 2, rel=1e-3)


def test_svm_loss_formula_and_gradient(rng):
    x = 0.001 * rng.standard_normal((50, 10))
    y = rng.integers(0, 10, 50)
    loss, dx = layers.svm_loss(x, y)
    assert loss == pytest.approx(9.0, rel=1e-2)  # every margin is about 1
    numeric = eval_numerical_gradient(lambda x: layers.svm_loss(x, y)[0], x, verbose=False)
    assert_grad_close(numeric, dx)


@pytest.mark.parametrize("loss_fn", [layers.softmax_loss, layers.svm_loss])
def test_losses_reject_bad_labels(loss_fn):
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        loss_fn(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(TypeError, match="integers"):
        loss_fn(np.zeros((2, 3)), np.array([0.0, 1.0]))
