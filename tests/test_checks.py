"""The learner self-checks pass on correct code and fail on the classic mistakes."""

import numpy as np
import pytest

from nndl_lab import checks, layers, optim


def test_all_checks_pass_on_the_engine(capsys):
    results = [
        checks.check_affine_forward(layers.affine_forward),
        checks.check_affine_backward(layers.affine_forward, layers.affine_backward),
        checks.check_relu_forward(layers.relu_forward),
        checks.check_relu_backward(layers.relu_forward, layers.relu_backward),
        checks.check_softmax_loss(layers.softmax_loss),
        checks.check_batchnorm_forward(layers.batchnorm_forward),
        checks.check_batchnorm_backward(layers.batchnorm_forward, layers.batchnorm_backward),
        checks.check_batchnorm_backward(layers.batchnorm_forward, layers.batchnorm_backward_alt),
        checks.check_dropout_forward(layers.dropout_forward),
        checks.check_dropout_backward(layers.dropout_forward, layers.dropout_backward),
        checks.check_sgd_momentum(optim.sgd_momentum),
        checks.check_sgd_nesterov_momentum(optim.sgd_nesterov_momentum),
        checks.check_rmsprop(optim.rmsprop),
        checks.check_adam(optim.adam),
    ]
    failed = [r for r in results if not r.passed]
    assert not failed, "\n".join(r.report() for r in failed)
    assert capsys.readouterr().out.count("PASSED") == len(results)


def momentum_with_wrong_sign(w, dw, config):
    v = config.get("momentum", 0.9) * config["velocity"] + config["learning_rate"] * dw
    return w + v, dict(config, velocity=v)


def adam_without_bias_correction(w, dw, config):
    t = config["t"] + 1
    m = 0.9 * config["v"] + 0.1 * dw
    v = 0.999 * config["a"] + 0.001 * dw**2
    return w - config["learning_rate"] * m / (np.sqrt(v) + 1e-8), dict(config, v=m, a=v, t=t)


def adam_returning_old_state(w, dw, config):
    next_w, new_config = optim.adam(w, dw, dict(config))
    return next_w, config  # forgets to return the updated moments


def rmsprop_without_decay(w, dw, config):
    a = config["a"] + dw**2
    return w - config["learning_rate"] * dw / (np.sqrt(a) + 1e-8), dict(config, a=a)


def nesterov_as_plain_momentum(w, dw, config):
    return optim.sgd_momentum(w, dw, config)


@pytest.mark.parametrize(
    "check, wrong",
    [
        (checks.check_sgd_momentum, momentum_with_wrong_sign),
        (checks.check_adam, adam_without_bias_correction),
        (checks.check_adam, adam_returning_old_state),
        (checks.check_rmsprop, rmsprop_without_decay),
        (checks.check_sgd_nesterov_momentum, nesterov_as_plain_momentum),
    ],
)
def test_optimizer_checks_catch_mistakes(check, wrong):
    assert not check(wrong, verbose=False).passed


def test_dropout_check_catches_non_inverted_dropout_and_test_time_mask():
    def not_inverted(x, param):
        mask = np.random.default_rng(param.get("seed")).random(x.shape) < param["p"]
        return x * mask, (param, mask)

    def masks_at_test_time(x, param):
        return layers.dropout_forward(x, dict(param, mode="train"))

    assert not checks.check_dropout_forward(not_inverted, verbose=False).passed
    assert not checks.check_dropout_forward(masks_at_test_time, verbose=False).passed


def test_batchnorm_backward_check_catches_a_missing_term():
    def missing_mean_term(dout, cache):
        dx, dgamma, dbeta = layers.batchnorm_backward_alt(dout, cache)
        _, x_hat, gamma, inv_std = cache[:4]
        return dout * gamma * inv_std, dgamma, dbeta

    result = checks.check_batchnorm_backward(
        layers.batchnorm_forward, missing_mean_term, verbose=False
    )
    assert not result.passed
    assert result.errors["dgamma"] < 1e-6


def test_softmax_check_catches_the_naive_softmax():
    def naive(x, y):
        probs = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
        n = x.shape[0]
        dx = probs.copy()
        dx[np.arange(n), y] -= 1
        return -np.mean(np.log(probs[np.arange(n), y])), dx / n

    with np.errstate(all="ignore"):
        result = checks.check_softmax_loss(naive, verbose=False)
    assert not result.passed
    assert result.errors["loss"] < 1e-9


def test_affine_backward_check_catches_a_transposed_product():
    def wrong(dout, cache):
        dx, dw, db = layers.affine_backward(dout, cache)
        return dx, dw * 2, db

    result = checks.check_affine_backward(layers.affine_forward, wrong, verbose=False)
    assert not result.passed and result.errors["dx"] < 1e-6


def test_a_missing_or_misshapen_answer_fails_the_check_instead_of_raising():
    def batchnorm_without_running_averages(x, gamma, beta, bn_param):
        mean, var = x.mean(0), x.var(0)
        return gamma * (x - mean) / np.sqrt(var + 1e-5) + beta, None

    result = checks.check_batchnorm_forward(batchnorm_without_running_averages, verbose=False)
    assert not result.passed and result.errors["running_mean"] == np.inf

    def affine_forward_transposed(x, w, b):
        out, cache = layers.affine_forward(x, w, b)
        return out.T, cache

    result = checks.check_affine_forward(affine_forward_transposed, verbose=False)
    assert not result.passed and result.errors["out"] == np.inf
