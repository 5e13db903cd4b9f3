"""The stacked (model-axis) layers against their single-net twins and numerical gradients.

Each stacked pair must compute, for net k, the numbers its twin in
``nndl_lab.layers`` / ``nndl_lab.layer_utils`` computes on net k's slice: in
float64 to rounding and — the promise the batched trainer relies on — bit for
bit in float32 with one BLAS thread. Backward passes are also checked against
centred differences of the stacked forward pass (float64).
"""

from __future__ import annotations

import numpy as np
import pytest

from nndl_lab import layer_utils, layers, stacked
from nndl_lab.experiments.parallel import blas_limit
from nndl_lab.gradient_check import eval_numerical_gradient_array

K, N, D, M = 3, 6, 5, 4


@pytest.fixture(autouse=True)
def one_blas_thread():
    with blas_limit(1):
        yield


def _rng():
    return np.random.default_rng(13)


def _inputs(dtype, shared=False):
    rng = _rng()
    x = rng.standard_normal((N, D) if shared else (N, K, D)).astype(dtype)
    w = rng.standard_normal((K, D, M)).astype(dtype)
    b = rng.standard_normal((K, M)).astype(dtype)
    dout = rng.standard_normal((N, K, M)).astype(dtype)
    return x, w, b, dout


def _slice(x, k):
    return x if x.ndim == 2 else np.ascontiguousarray(x[:, k])


def _equal(a, b, dtype):
    if dtype == np.float32:
        np.testing.assert_array_equal(a, b)
    else:
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)


def _numeric_grads(forward, arrays, dout):
    return [
        eval_numerical_gradient_array(
            lambda v, i=i: forward(*[v if j == i else a for j, a in enumerate(arrays)]),
            arrays[i],
            dout,
        )
        for i in range(len(arrays))
    ]


def _assert_grads(numeric, analytic):
    for got, want in zip(analytic, numeric, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shared", [False, True])
def test_affine_pair_is_its_twin_per_net(dtype, shared):
    x, w, b, dout = _inputs(dtype, shared)
    out, cache = stacked.affine_forward(x, w, b)
    dx, dw, db = stacked.affine_backward(dout, cache)
    assert out.shape == (N, K, M) and dx.shape == (N, K, D)
    for k in range(K):
        single_out, single_cache = layers.affine_forward(_slice(x, k), w[k], b[k])
        sdx, sdw, sdb = layers.affine_backward(np.ascontiguousarray(dout[:, k]), single_cache)
        _equal(out[:, k], single_out, dtype)
        _equal(dx[:, k], sdx, dtype)
        _equal(dw[k], sdw, dtype)
        _equal(db[k], sdb, dtype)
    assert stacked.affine_backward(dout, cache, compute_dx=False)[0] is None


def test_affine_backward_is_the_numerical_gradient():
    x, w, b, dout = _inputs(np.float64)
    dx, dw, db = stacked.affine_backward(dout, stacked.affine_forward(x, w, b)[1])
    numeric = _numeric_grads(lambda *a: stacked.affine_forward(*a)[0], [x, w, b], dout)
    _assert_grads(numeric, [dx, dw, db])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_pair_is_its_twin(dtype):
    x, _, _, _ = _inputs(dtype)
    dout = _rng().standard_normal(x.shape).astype(dtype)
    out, cache = stacked.relu_forward(x)
    dx = stacked.relu_backward(dout, cache)
    single_out, single_cache = layers.relu_forward(x)
    _equal(out, single_out, dtype)
    _equal(dx, layers.relu_backward(dout, single_cache), dtype)
    numeric = _numeric_grads(lambda v: stacked.relu_forward(v)[0], [x.astype(np.float64)], dout)
    _assert_grads(numeric, [dx])


def _bn_inputs(dtype):
    rng = _rng()
    x = (3 * rng.standard_normal((N, K, M)) + 1).astype(dtype)
    gamma = rng.standard_normal((K, M)).astype(dtype)
    beta = rng.standard_normal((K, M)).astype(dtype)
    dout = rng.standard_normal((N, K, M)).astype(dtype)
    running = {
        "running_mean": rng.standard_normal((K, M)).astype(dtype),
        "running_var": rng.uniform(0.5, 2, (K, M)).astype(dtype),
    }
    return x, gamma, beta, dout, running


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", ["train", "test"])
@pytest.mark.parametrize(
    ("backward", "single_backward"),
    [
        (stacked.batchnorm_backward, layers.batchnorm_backward),
        (stacked.batchnorm_backward_alt, layers.batchnorm_backward_alt),
    ],
)
def test_batchnorm_pair_is_its_twin_per_net(dtype, mode, backward, single_backward):
    x, gamma, beta, dout, running = _bn_inputs(dtype)
    bn_param = {"mode": mode, **{key: value.copy() for key, value in running.items()}}
    out, cache = stacked.batchnorm_forward(x, gamma, beta, bn_param)
    dx, dgamma, dbeta = backward(dout, cache)
    for k in range(K):
        single_param = {"mode": mode, **{key: value[k].copy() for key, value in running.items()}}
        single_out, single_cache = layers.batchnorm_forward(
            np.ascontiguousarray(x[:, k]), gamma[k], beta[k], single_param
        )
        sdx, sdgamma, sdbeta = single_backward(np.ascontiguousarray(dout[:, k]), single_cache)
        _equal(out[:, k], single_out, dtype)
        _equal(dx[:, k], sdx, dtype)
        _equal(dgamma[k], sdgamma, dtype)
        _equal(dbeta[k], sdbeta, dtype)
        for key in ("running_mean", "running_var"):
            _equal(bn_param[key][k], single_param[key], dtype)


@pytest.mark.parametrize("mode", ["train", "test"])
def test_batchnorm_backward_is_the_numerical_gradient(mode):
    x, gamma, beta, dout, running = _bn_inputs(np.float64)

    def forward(x_, gamma_, beta_):
        return stacked.batchnorm_forward(x_, gamma_, beta_, {"mode": mode, **running})[0]

    numeric = _numeric_grads(forward, [x, gamma, beta], dout)
    cache = stacked.batchnorm_forward(x, gamma, beta, {"mode": mode, **running})[1]
    _assert_grads(numeric, stacked.batchnorm_backward(dout, cache))
    _assert_grads(numeric, stacked.batchnorm_backward_alt(dout, cache))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shared_draws", [True, False])
def test_dropout_pair_is_its_twin_for_the_same_draws(dtype, shared_draws):
    x, _, _, dout, _ = _bn_inputs(dtype)
    keep = np.array([1.0, 0.7, 0.3])
    seeds = [5, 5, 5] if shared_draws else [5, 6, 7]
    draws = [np.random.default_rng(s).random((N, M)) for s in seeds]
    uniform = draws[0] if shared_draws else np.stack(draws, axis=1)
    out, mask = stacked.dropout_forward(x, keep, uniform)
    dx = stacked.dropout_backward(dout, mask)
    for k in range(K):
        param = {"mode": "train", "p": float(keep[k]), "rng": np.random.default_rng(seeds[k])}
        single_out, single_cache = layers.dropout_forward(np.ascontiguousarray(x[:, k]), param)
        _equal(out[:, k], single_out, dtype)
        _equal(
            dx[:, k], layers.dropout_backward(np.ascontiguousarray(dout[:, k]), single_cache), dtype
        )
    # keep = 1 keeps every unit, unscaled; test mode is the identity
    _equal(out[:, 0], x[:, 0], dtype)
    assert stacked.dropout_forward(x, keep, None, mode="test")[0] is x
    numeric = _numeric_grads(
        lambda v: stacked.dropout_forward(v, keep, uniform)[0], [x.astype(np.float64)], dout
    )
    _assert_grads(numeric, [dx])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shared_labels", [True, False])
@pytest.mark.parametrize(
    ("loss", "single_loss"),
    [(stacked.softmax_loss, layers.softmax_loss), (stacked.svm_loss, layers.svm_loss)],
)
def test_losses_are_their_twins_per_net(dtype, shared_labels, loss, single_loss):
    rng = _rng()
    x = (4 * rng.standard_normal((N, K, 7))).astype(dtype)
    y = rng.integers(0, 7, N) if shared_labels else rng.integers(0, 7, (N, K))
    value, dx = loss(x, y)
    assert value.shape == (K,) and value.dtype == np.float64
    for k in range(K):
        labels = y if shared_labels else y[:, k]
        single_value, single_dx = single_loss(np.ascontiguousarray(x[:, k]), labels)
        if dtype == np.float32:
            assert value[k] == single_value
        else:
            assert value[k] == pytest.approx(single_value, rel=1e-13)
        _equal(dx[:, k], single_dx, dtype)


def test_softmax_gradient_is_the_numerical_gradient():
    rng = _rng()
    x = rng.standard_normal((N, K, 7))
    y = rng.integers(0, 7, N)
    _, dx = stacked.softmax_loss(x, y)
    # d(sum_k loss_k)/dx: the nets are independent, so the gradient of the sum is each net's
    numeric = eval_numerical_gradient_array(
        lambda v: np.array(stacked.softmax_loss(v, y)[0].sum()), x, np.array(1.0)
    )
    np.testing.assert_allclose(dx, numeric, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sandwiches_are_their_twins_per_net(dtype):
    x, w, b, dout = _inputs(dtype)
    _, gamma, beta, _, running = _bn_inputs(dtype)
    bn_param = {"mode": "train", **{key: v.copy() for key, v in running.items()}}
    out, cache = stacked.affine_batchnorm_relu_forward(x, w, b, gamma, beta, bn_param)
    grads = stacked.affine_batchnorm_relu_backward(dout, cache)
    plain_out, plain_cache = stacked.affine_relu_forward(x, w, b)
    plain_grads = stacked.affine_relu_backward(dout, plain_cache)
    for k in range(K):
        single_param = {"mode": "train", **{key: v[k].copy() for key, v in running.items()}}
        s_out, s_cache = layer_utils.affine_batchnorm_relu_forward(
            _slice(x, k), w[k], b[k], gamma[k], beta[k], single_param
        )
        s_grads = layer_utils.affine_batchnorm_relu_backward(
            np.ascontiguousarray(dout[:, k]), s_cache
        )
        _equal(out[:, k], s_out, dtype)
        for got, want in zip(grads, s_grads, strict=True):
            _equal(got[:, k] if got.ndim == 3 and got.shape[0] == N else got[k], want, dtype)
        p_out, p_cache = layer_utils.affine_relu_forward(_slice(x, k), w[k], b[k])
        p_grads = layer_utils.affine_relu_backward(np.ascontiguousarray(dout[:, k]), p_cache)
        _equal(plain_out[:, k], p_out, dtype)
        for got, want in zip(plain_grads, p_grads, strict=True):
            _equal(got[:, k] if got.ndim == 3 and got.shape[0] == N else got[k], want, dtype)


def test_shape_errors_name_the_argument():
    x, w, b, _ = _inputs(np.float64)
    with pytest.raises(ValueError, match="b must have shape"):
        stacked.affine_forward(x, w, b[:, :2])
    with pytest.raises(ValueError, match="w must have shape"):
        stacked.affine_forward(x, w[0], b)
    with pytest.raises(ValueError, match="features per sample"):
        stacked.affine_forward(np.zeros((N, D + 1)), w, b)
    with pytest.raises(ValueError, match="keep must have shape"):
        stacked.dropout_forward(x, [0.5, 0.5], np.zeros((N, D)))
    with pytest.raises(ValueError, match="mode"):
        stacked.batchnorm_forward(x, b, b, {"mode": "eval"})
