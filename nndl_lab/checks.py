r"""Self-checks a learner runs on their own implementation.

Each ``check_*`` takes the learner's function (same signature as the one in
:mod:`nndl_lab.layers` or :mod:`nndl_lab.optim`), runs it on the homework's
inputs, prints one line per compared quantity and returns a
:class:`CheckResult`. The expected values are computed here from the
formulas (for update rules and forward passes) or by numerical
differentiation of the learner's own forward pass (for backward passes), never
by calling nndl_lab's implementation; the homework's printed expected arrays
carried transcription errors, and its RMSProp and Adam cells compared
``next_w`` with itself, so they could not fail.

Book: chapters 1 (layers), 2–5 (update rules), 6 (batchnorm), 7 (dropout).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .gradient_check import eval_numerical_gradient, eval_numerical_gradient_array, rel_error
from .optim import RULES

__all__ = [
    "CheckResult",
    "check_affine_forward",
    "check_affine_backward",
    "check_relu_forward",
    "check_relu_backward",
    "check_softmax_loss",
    "check_batchnorm_forward",
    "check_batchnorm_backward",
    "check_dropout_forward",
    "check_dropout_backward",
    "check_sgd_momentum",
    "check_sgd_nesterov_momentum",
    "check_rmsprop",
    "check_adam",
]

#: A comparison passes when its relative error is below this.
TOLERANCE = 1e-6


@dataclass
class CheckResult:
    """Outcome of a self-check: the relative error of each compared quantity."""

    name: str
    errors: dict = field(default_factory=dict)
    tolerance: float = TOLERANCE

    @property
    def passed(self):
        return all(error < self.tolerance for error in self.errors.values())

    def __bool__(self):
        return self.passed

    def report(self):
        lines = [f"{self.name}: {'PASSED' if self.passed else 'FAILED'}"]
        for quantity, error in self.errors.items():
            mark = "ok" if error < self.tolerance else f"too large (tolerance {self.tolerance:.0e})"
            lines.append(f"  {quantity} relative error: {error:.2e}  {mark}")
        return "\n".join(lines)

    def __repr__(self):
        return self.report()


def _error(actual, expected):
    """``rel_error``, or inf when the learner's value is missing, not numeric or of the wrong shape.

    A self-check reports a wrong answer as a failure; it does not raise on it.
    """
    try:
        actual = np.asarray(actual, dtype=np.float64)
    except (TypeError, ValueError):
        return float("inf")
    expected = np.asarray(expected, dtype=np.float64)
    if actual.shape != expected.shape or actual.size == 0:
        return float("inf")
    return rel_error(actual, expected)


def _finish(name, errors, verbose, tolerance=TOLERANCE):
    result = CheckResult(name, errors, tolerance)
    if verbose:
        print(result.report())
    return result


def _grad_error(numeric, analytic):
    # Relative error of the whole array: robust to entries whose gradient is ~0.
    numeric = np.asarray(numeric, dtype=np.float64)
    analytic = np.asarray(analytic, dtype=np.float64)
    if numeric.shape != analytic.shape:
        return float("inf")
    scale = np.linalg.norm(numeric) + np.linalg.norm(analytic)
    return float(np.linalg.norm(numeric - analytic) / max(scale, 1e-12))


def _defaults(rule):
    """The default hyperparameters of ``rule`` as the registry declares them (the learner's
    function is called without them, so it must use the same defaults)."""
    return RULES[rule].defaults


def _optimizer_inputs():
    n, d = 4, 5
    w = np.linspace(-0.4, 0.6, num=n * d).reshape(n, d)
    dw = np.linspace(-0.6, 0.4, num=n * d).reshape(n, d)
    state = np.linspace(0.6, 0.9, num=n * d).reshape(n, d)
    return w, dw, state


def check_affine_forward(affine_forward, verbose=True):
    """Check ``affine_forward(x, w, b)`` on the homework's inputs against the formula."""
    num_inputs, input_shape, output_dim = 2, (4, 5, 6), 3
    input_size = num_inputs * int(np.prod(input_shape))
    weight_size = output_dim * int(np.prod(input_shape))
    x = np.linspace(-0.1, 0.5, num=input_size).reshape(num_inputs, *input_shape)
    w = np.linspace(-0.2, 0.3, num=weight_size).reshape(int(np.prod(input_shape)), output_dim)
    b = np.linspace(-0.3, 0.1, num=output_dim)
    out, _ = affine_forward(x, w, b)
    expected = np.einsum("nd,dm->nm", x.reshape(num_inputs, -1), w) + b
    return _finish("affine_forward", {"out": _error(out, expected)}, verbose)


def check_affine_backward(affine_forward, affine_backward, verbose=True):
    """Check ``affine_backward`` against numerical gradients of ``affine_forward``."""
    rng = np.random.default_rng(231)
    x = rng.standard_normal((10, 2, 3))
    w = rng.standard_normal((6, 5))
    b = rng.standard_normal(5)
    dout = rng.standard_normal((10, 5))
    dx, dw, db = affine_backward(dout, affine_forward(x, w, b)[1])
    errors = {
        "dx": _grad_error(
            eval_numerical_gradient_array(lambda v: affine_forward(v, w, b)[0], x, dout), dx
        ),
        "dw": _grad_error(
            eval_numerical_gradient_array(lambda v: affine_forward(x, v, b)[0], w, dout), dw
        ),
        "db": _grad_error(
            eval_numerical_gradient_array(lambda v: affine_forward(x, w, v)[0], b, dout), db
        ),
    }
    return _finish("affine_backward", errors, verbose)


def check_relu_forward(relu_forward, verbose=True):
    """Check ``relu_forward`` against :math:`\\max(0, x)`."""
    x = np.linspace(-0.5, 0.5, num=12).reshape(3, 4)
    out, _ = relu_forward(x)
    return _finish("relu_forward", {"out": _error(out, np.where(x > 0, x, 0.0))}, verbose)


def check_relu_backward(relu_forward, relu_backward, verbose=True):
    """Check ``relu_backward`` against numerical gradients of ``relu_forward``."""
    rng = np.random.default_rng(231)
    x = rng.standard_normal((10, 10))
    dout = rng.standard_normal((10, 10))
    dx = relu_backward(dout, relu_forward(x)[1])
    numeric = eval_numerical_gradient_array(lambda v: relu_forward(v)[0], x, dout)
    return _finish("relu_backward", {"dx": _grad_error(numeric, dx)}, verbose)


def check_softmax_loss(softmax_loss, verbose=True):
    r"""Check ``softmax_loss``: the loss by formula, dx numerically, finite for huge scores."""
    rng = np.random.default_rng(231)
    num_classes, num_inputs = 10, 50
    x = 0.001 * rng.standard_normal((num_inputs, num_classes))
    y = rng.integers(0, num_classes, num_inputs)
    loss, dx = softmax_loss(x, y)
    probs = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    expected = -np.mean(np.log(probs[np.arange(num_inputs), y]))
    numeric = eval_numerical_gradient(lambda v: softmax_loss(v, y)[0], x, verbose=False)
    huge = np.array([[1e4, -1e4, 0.0]])
    with np.errstate(all="ignore"):
        huge_loss, _ = softmax_loss(huge, np.array([1]))
    errors = {
        "loss": _error(loss, expected),
        "dx": _grad_error(numeric, dx),
        # log-sum-exp gives exactly the margin 2e4 here; a naive softmax gives inf or nan.
        "loss at scores of 1e4": _error(huge_loss, 2e4) if np.isfinite(huge_loss) else np.inf,
    }
    return _finish("softmax_loss", errors, verbose)


def check_batchnorm_forward(batchnorm_forward, verbose=True):
    """Check that train mode normalizes to gamma/beta and test mode uses the running averages."""
    rng = np.random.default_rng(231)
    x = 5 * rng.standard_normal((200, 3)) + 12
    gamma = np.array([1.0, 2.0, 3.0])
    beta = np.array([11.0, 12.0, 13.0])
    bn_param = {"mode": "train"}
    out, _ = batchnorm_forward(x, gamma, beta, bn_param)
    expected_train = gamma * (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5) + beta
    running_mean, running_var = 0.1 * x.mean(0), 0.1 * x.var(0)
    bn_param["mode"] = "test"
    test_out, _ = batchnorm_forward(x, gamma, beta, bn_param)
    expected_test = gamma * (x - running_mean) / np.sqrt(running_var + 1e-5) + beta
    errors = {
        "train out": _error(out, expected_train),
        "running_mean": _error(bn_param.get("running_mean", np.nan), running_mean),
        "running_var": _error(bn_param.get("running_var", np.nan), running_var),
        "test out": _error(test_out, expected_test),
    }
    return _finish("batchnorm_forward", errors, verbose)


def check_batchnorm_backward(batchnorm_forward, batchnorm_backward, verbose=True):
    """Check a batchnorm backward pass against numerical gradients of the forward pass."""
    rng = np.random.default_rng(231)
    n, d = 4, 5
    x = 5 * rng.standard_normal((n, d)) + 12
    gamma = rng.standard_normal(d)
    beta = rng.standard_normal(d)
    dout = rng.standard_normal((n, d))

    def forward(x_, gamma_, beta_):
        return batchnorm_forward(x_, gamma_, beta_, {"mode": "train"})[0]

    dx, dgamma, dbeta = batchnorm_backward(
        dout, batchnorm_forward(x, gamma, beta, {"mode": "train"})[1]
    )
    errors = {
        "dx": _grad_error(
            eval_numerical_gradient_array(lambda v: forward(v, gamma, beta), x, dout), dx
        ),
        "dgamma": _grad_error(
            eval_numerical_gradient_array(lambda v: forward(x, v, beta), gamma, dout), dgamma
        ),
        "dbeta": _grad_error(
            eval_numerical_gradient_array(lambda v: forward(x, gamma, v), beta, dout), dbeta
        ),
    }
    return _finish("batchnorm_backward", errors, verbose, tolerance=1e-5)


def check_dropout_forward(dropout_forward, verbose=True):
    r"""Check inverted dropout: keeps about p of the units, preserves the mean, identity at test.

    Reported as relative errors: the fraction of units kept against ``p``
    (tolerance 2%), the train-mode mean against the input mean (2%), and the
    test-mode output against the input (exact).
    """
    x = np.random.default_rng(231).standard_normal((500, 500)) + 10
    errors = {}
    for p in (0.25, 0.4, 0.7):
        out, _ = dropout_forward(x, {"mode": "train", "p": p, "seed": 123})
        test_out, _ = dropout_forward(x, {"mode": "test", "p": p, "seed": 123})
        errors[f"p={p} kept fraction"] = abs(np.mean(out != 0) - p) / p
        errors[f"p={p} mean"] = abs(out.mean() - x.mean()) / abs(x.mean())
        errors[f"p={p} test mode = identity"] = _error(test_out, x)
    result = CheckResult("dropout_forward", errors, 2e-2)
    if verbose:
        print(result.report())
    return result


def check_dropout_backward(dropout_forward, dropout_backward, verbose=True):
    """Check ``dropout_backward`` against numerical gradients with a fixed mask (seeded)."""
    rng = np.random.default_rng(231)
    x = rng.standard_normal((10, 10)) + 10
    dout = rng.standard_normal((10, 10))
    param = {"mode": "train", "p": 0.2, "seed": 123}
    dx = dropout_backward(dout, dropout_forward(x, param)[1])
    numeric = eval_numerical_gradient_array(lambda v: dropout_forward(v, param)[0], x, dout)
    return _finish("dropout_backward", {"dx": _grad_error(numeric, dx)}, verbose)


def check_sgd_momentum(sgd_momentum, verbose=True):
    r"""Check ``sgd_momentum`` on the homework's inputs.

    Formula: :math:`v' = \mu v - \eta\,dw`, :math:`w' = w + v'`.
    """
    w, dw, v = _optimizer_inputs()
    mu = _defaults("sgd_momentum")["momentum"]
    next_w, config = sgd_momentum(
        w.copy(), dw.copy(), {"learning_rate": 1e-3, "velocity": v.copy()}
    )
    expected_v = mu * v - 1e-3 * dw
    errors = {
        "next_w": _error(next_w, w + expected_v),
        "velocity": _error(config["velocity"], expected_v),
    }
    return _finish("sgd_momentum", errors, verbose)


def check_sgd_nesterov_momentum(sgd_nesterov_momentum, verbose=True):
    r"""Check Nesterov momentum.

    Formula: :math:`v' = \mu v - \eta\,dw`, :math:`w' = w + v' + \mu (v' - v)`.
    """
    w, dw, v = _optimizer_inputs()
    mu = _defaults("sgd_nesterov_momentum")["momentum"]
    next_w, config = sgd_nesterov_momentum(
        w.copy(), dw.copy(), {"learning_rate": 1e-3, "velocity": v.copy()}
    )
    expected_v = mu * v - 1e-3 * dw
    errors = {
        "next_w": _error(next_w, w + expected_v + mu * (expected_v - v)),
        "velocity": _error(config["velocity"], expected_v),
    }
    return _finish("sgd_nesterov_momentum", errors, verbose)


def check_rmsprop(rmsprop, verbose=True):
    r"""Check RMSProp.

    Formula: :math:`a' = \rho a + (1-\rho)\,dw^2`, :math:`w' = w - \eta\,dw/(\sqrt{a'}+\epsilon)`.
    """
    w, dw, a = _optimizer_inputs()
    defaults = _defaults("rmsprop")
    rho, eps = defaults["decay_rate"], defaults["epsilon"]
    next_w, config = rmsprop(w.copy(), dw.copy(), {"learning_rate": 1e-2, "a": a.copy()})
    expected_a = rho * a + (1 - rho) * dw**2
    errors = {
        "next_w": _error(next_w, w - 1e-2 * dw / (np.sqrt(expected_a) + eps)),
        "a": _error(config["a"], expected_a),
    }
    return _finish("rmsprop", errors, verbose)


def check_adam(adam, verbose=True):
    r"""Check Adam with bias correction, ``t`` incremented before use (from t = 5 to 6)."""
    w, dw, m = _optimizer_inputs()
    v = np.linspace(0.7, 0.5, num=w.size).reshape(w.shape)
    config = {"learning_rate": 1e-2, "v": m.copy(), "a": v.copy(), "t": 5}
    next_w, config = adam(w.copy(), dw.copy(), config)
    t = 6
    defaults = _defaults("adam")
    beta1, beta2, eps = defaults["beta1"], defaults["beta2"], defaults["epsilon"]
    expected_m = beta1 * m + (1 - beta1) * dw
    expected_v = beta2 * v + (1 - beta2) * dw**2
    expected_w = w - 1e-2 * (expected_m / (1 - beta1**t)) / (
        np.sqrt(expected_v / (1 - beta2**t)) + eps
    )
    errors = {
        "next_w": _error(next_w, expected_w),
        "v": _error(config["v"], expected_m),
        "a": _error(config["a"], expected_v),
        "t": 0.0 if config.get("t") == t else np.inf,
    }
    return _finish("adam", errors, verbose)
