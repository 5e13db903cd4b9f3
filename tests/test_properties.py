"""Properties of the engine over random shapes and magnitudes (hypothesis)."""

import warnings

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from nndl_lab import layers, optim
from nndl_lab.gradient_check import eval_numerical_gradient_array

SETTINGS = settings(max_examples=40, deadline=None)

shapes = st.tuples(st.integers(2, 6), st.integers(1, 5))
seeds = st.integers(0, 2**32 - 1)


@SETTINGS
@given(shape=shapes, num_classes=st.integers(2, 8), log_scale=st.floats(-3, 30), seed=seeds)
def test_softmax_loss_is_finite_silent_and_its_gradient_rows_sum_to_zero(
    shape, num_classes, log_scale, seed
):
    rng = np.random.default_rng(seed)
    n = shape[0]
    x = rng.standard_normal((n, num_classes)) * 10.0**log_scale
    y = rng.integers(0, num_classes, n)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, dx = layers.softmax_loss(x, y)
    assert np.isfinite(loss) and loss >= 0
    # d/dx of -log softmax: probabilities minus the one-hot label, over N.
    np.testing.assert_allclose(dx.sum(axis=1), 0.0, atol=1e-12)
    assert np.all(dx[np.arange(n), y] <= 0)
    # The loss is at least each sample's margin to the best wrong class, averaged.
    margins = (
        np.where(np.arange(num_classes) == y[:, None], -np.inf, x).max(axis=1) - x[np.arange(n), y]
    )
    assert loss >= np.mean(np.maximum(margins, 0)) * (1 - 1e-12)


@SETTINGS
@given(shape=shapes, width=st.integers(1, 4), seed=seeds)
def test_affine_backward_matches_numerical_gradient(shape, width, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    w = rng.standard_normal((shape[1], width))
    b = rng.standard_normal(width)
    dout = rng.standard_normal((shape[0], width))
    dx, dw, db = layers.affine_backward(dout, layers.affine_forward(x, w, b)[1])
    for arg, grad in ((x, dx), (w, dw), (b, db)):
        numeric = eval_numerical_gradient_array(
            lambda _: layers.affine_forward(x, w, b)[0], arg, dout
        )
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8)


@SETTINGS
@given(
    n=st.integers(3, 8),
    d=st.integers(1, 4),
    offset=st.floats(-100, 100),
    log_spread=st.floats(-1, 2),
    seed=seeds,
)
def test_batchnorm_backward_forms_agree_with_numerical_gradient(n, d, offset, log_spread, seed):
    rng = np.random.default_rng(seed)
    x = offset + 10.0**log_spread * rng.standard_normal((n, d))
    gamma = rng.standard_normal(d)
    beta = rng.standard_normal(d)
    dout = rng.standard_normal((n, d))
    out, cache = layers.batchnorm_forward(x, gamma, beta, {"mode": "train"})
    graph = layers.batchnorm_backward(dout, cache)
    closed = layers.batchnorm_backward_alt(dout, cache)
    for a, b in zip(graph, closed, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-10)
    numeric = eval_numerical_gradient_array(
        lambda v: layers.batchnorm_forward(v, gamma, beta, {"mode": "train"})[0], x, dout, h=1e-6
    )
    scale = np.abs(numeric).max() + 1e-12
    np.testing.assert_allclose(closed[0] / scale, numeric / scale, atol=1e-5)
    # Normalized output: per feature, mean beta and (for a non-constant column) std |gamma|.
    np.testing.assert_allclose(out.mean(axis=0), beta, atol=1e-8 * (1 + np.abs(gamma).max()))


@SETTINGS
@given(
    rule=st.sampled_from(sorted(optim.UPDATE_RULES)),
    shape=shapes,
    steps=st.integers(1, 4),
    seed=seeds,
)
def test_rules_never_touch_their_inputs_and_match_their_inplace_step(rule, shape, steps, seed):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(shape)
    fast_w = w.copy()
    config, fast_config = {}, optim.prepare_config(rule, {}, fast_w)
    for _ in range(steps):
        dw = rng.standard_normal(shape)
        w_before, dw_before = w.copy(), dw.copy()
        next_w, config = optim.UPDATE_RULES[rule](w, dw, config)
        np.testing.assert_array_equal(w, w_before)
        np.testing.assert_array_equal(dw, dw_before)
        optim.inplace_step(rule)(fast_w, dw, fast_config)
        np.testing.assert_array_equal(next_w, fast_w)
        w = next_w


@SETTINGS
@given(p=st.floats(0.05, 1.0), shape=shapes, seed=seeds)
def test_dropout_mask_is_zero_or_inverse_p_and_test_mode_is_identity(p, shape, seed):
    x = np.random.default_rng(seed).standard_normal(shape)
    out, (_, mask) = layers.dropout_forward(x, {"mode": "train", "p": p, "seed": seed})
    assert set(np.unique(mask)).issubset({0.0, 1.0 / p})
    np.testing.assert_array_equal(out, x * mask)
    test_out, _ = layers.dropout_forward(x, {"mode": "test", "p": p})
    np.testing.assert_array_equal(test_out, x)
