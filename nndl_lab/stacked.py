r"""The layers of :mod:`nndl_lab.layers` for K nets at once: a model axis, one-for-one.

Each function here is the twin of the function of the same name in
:mod:`nndl_lab.layers` (and of the sandwiches of :mod:`nndl_lab.layer_utils`),
for K nets of one shape whose parameters are stacked along a leading *model
axis*:

================ ==========================================================
parameters        ``w`` (K, D, M), ``b``, ``gamma``, ``beta`` (K, M)
activations       (N, K, D): sample axis first, then the model axis
shared input      (N, D) (or (N, d_1, ..., d_k)): one minibatch for all K
labels            (N,) shared, or (N, K)
================ ==========================================================

Activations keep the sample axis first so that a sum over the samples (bias
gradients, batchnorm statistics) runs over whole contiguous rows of K·D
numbers; the stacked matrix products read them through strided views. Every
function performs, for net k, exactly the arithmetic its single-net twin
performs on net k's slice, in the same order — matrix products slice by slice,
sums over the samples row after row, the same elementwise operations with the
same constants — so that net k of a stack computes the same numbers as the
net alone, bit for bit in float32 as in float64, with one BLAS thread
(``tests/test_stacked.py`` checks each pair against its twin and numerically).
The two twins differ only where the single-net function makes its own random
numbers: :func:`dropout_forward` takes its uniform draws as an argument.

Book: chapter 6 (the weight-scale sweep), chapter 7 (the keep-ratio sweep),
chapter 8 (hyperparameter search) — the batched trainer of
:mod:`nndl_lab.experiments` is built from these pairs.
"""

from __future__ import annotations

import numpy as np

from . import layers as _layers

__all__ = [
    "affine_forward",
    "affine_backward",
    "relu_forward",
    "relu_backward",
    "batchnorm_forward",
    "batchnorm_backward",
    "batchnorm_backward_alt",
    "dropout_forward",
    "dropout_backward",
    "softmax_loss",
    "svm_loss",
    "affine_relu_forward",
    "affine_relu_backward",
    "affine_batchnorm_relu_forward",
    "affine_batchnorm_relu_backward",
]

_BN_EPS = 1e-5
_BN_MOMENTUM = 0.9


def _models_first(a):
    """The (K, N, ...) view of an (N, K, ...) array (no copy: matmul reads it strided)."""
    return a.swapaxes(0, 1)


def _check_stack(function, name, value, count, shape_tail):
    if value.shape != (count, *shape_tail):
        raise ValueError(
            f"{function}: {name} must have shape {(count, *shape_tail)} (one row per net), "
            f"got {value.shape}"
        )


def affine_forward(x, w, b):
    r"""Affine layers of K nets: :math:`out_{n,k} = x_{n,k} w_k + b_k`.

    Parameters
    ----------
    x : ndarray, shape (N, K, D), or (N, d_1, ..., d_k) shared by all nets
    w : ndarray, shape (K, D, M)
    b : ndarray, shape (K, M)

    Returns
    -------
    out : ndarray, shape (N, K, M)
    cache : tuple
        ``(x, w, b)`` (a shared ``x`` flattened to (N, D)).
    """
    if w.ndim != 3:
        raise ValueError(f"affine_forward: w must have shape (K, D, M), got {w.shape}")
    count, fan_in, fan_out = w.shape
    _check_stack("affine_forward", "b", b, count, (fan_out,))
    shared = x.ndim != 3 or x.shape[1:] != (count, fan_in)
    if shared:
        x = x.reshape(x.shape[0], -1)
        if x.shape[1] != fan_in:
            raise ValueError(
                f"affine_forward: x has {x.shape[1]} features per sample but w expects {fan_in}"
            )
    out = np.empty((x.shape[0], count, fan_out), dtype=np.result_type(x, w))
    np.matmul(x if shared else _models_first(x), w, out=_models_first(out))
    out += b
    return out, (x, w, b)


def affine_backward(dout, cache, *, compute_dx=True):
    r"""Backward pass of :func:`affine_forward`, net by net.

    Parameters
    ----------
    dout : ndarray, shape (N, K, M)
    cache : tuple
        From :func:`affine_forward`.
    compute_dx : bool, default True
        False skips the input gradient (the first layer of a net has no use for it).

    Returns
    -------
    dx : ndarray, shape (N, K, D), or None
    dw : ndarray, shape (K, D, M)
    db : ndarray, shape (K, M)
    """
    x, w, _ = cache
    d_models = _models_first(dout)
    dx = None
    if compute_dx:
        dx = np.empty((dout.shape[0], w.shape[0], w.shape[1]), dtype=dout.dtype)
        np.matmul(d_models, w.swapaxes(1, 2), out=_models_first(dx))
    x_t = x.T if x.ndim == 2 else x.transpose(1, 2, 0)
    dw = np.matmul(x_t, d_models)
    return dx, dw, dout.sum(axis=0)


def relu_forward(x):
    r"""ReLU of every net: :math:`\max(0, x)` elementwise (any shape).

    Returns
    -------
    out : ndarray, same shape as ``x``
    cache : ndarray
        ``x``.
    """
    return np.maximum(x, _zeros(x.shape, x.dtype)), x


def relu_backward(dout, cache):
    r"""Backward pass of :func:`relu_forward`: :math:`dout \cdot [x > 0]`."""
    return dout * (cache > 0)


def batchnorm_forward(x, gamma, beta, bn_param):
    r"""Batch normalization of every net over the samples (axis 0).

    The arithmetic of :func:`nndl_lab.layers.batchnorm_forward` with (K, D)
    statistics: train mode normalizes with each net's minibatch mean and
    variance and updates its running averages; test mode uses them.

    Parameters
    ----------
    x : ndarray, shape (N, K, D)
    gamma, beta : ndarray, shape (K, D)
    bn_param : dict
        ``'mode'`` (``'train'``/``'test'``), ``'running_mean'``,
        ``'running_var'`` (K, D) (zeros when missing), ``'eps'`` (1e-5),
        ``'momentum'`` (0.9). In train mode the running averages are replaced by
        new arrays.

    Returns
    -------
    out : ndarray, shape (N, K, D)
    cache : tuple
        As the single-net twin's, with (K, D) statistics.
    """
    return _batchnorm_forward(x, gamma, beta, bn_param, overwrite=False)


def _batchnorm_forward(x, gamma, beta, bn_param, overwrite):
    # The twin's arithmetic. With ``overwrite`` (a sandwich's own affine output) ``x`` is
    # the working array and the train-mode cache omits x_centered, which only the
    # step-by-step backward reads (the sandwiches use the closed form).
    mode = bn_param.get("mode")
    if mode not in ("train", "test"):
        raise ValueError(f"bn_param['mode'] must be one of ('train', 'test'), got {mode!r}")
    count, features = x.shape[1], x.shape[2]
    _check_stack("batchnorm_forward", "gamma", gamma, count, (features,))
    _check_stack("batchnorm_forward", "beta", beta, count, (features,))
    eps = bn_param.get("eps", _BN_EPS)
    momentum = bn_param.get("momentum", _BN_MOMENTUM)
    running_mean = bn_param.get("running_mean")
    running_var = bn_param.get("running_var")
    if running_mean is None:
        running_mean = np.zeros((count, features), dtype=x.dtype)
    if running_var is None:
        running_var = np.zeros((count, features), dtype=x.dtype)
    if mode == "train":
        mean = x.mean(axis=0)
        x_centered = np.subtract(x, mean, out=x if overwrite else None)
        scratch = x_centered * x_centered
        var = scratch.mean(axis=0)
        inv_std = 1.0 / np.sqrt(var + eps)
        x_hat = np.multiply(x_centered, inv_std, out=scratch)
        bn_param["running_mean"] = momentum * running_mean + (1.0 - momentum) * mean
        bn_param["running_var"] = momentum * running_var + (1.0 - momentum) * var
        if overwrite:
            cache = ("train", x_hat, gamma, inv_std)
            out = np.multiply(gamma, x_hat, out=x)
        else:
            cache = ("train", x_hat, gamma, inv_std, x_centered)
            out = gamma * x_hat
    else:
        inv_std = 1.0 / np.sqrt(running_var + eps)
        x_hat = np.subtract(x, running_mean, out=x if overwrite else None)
        x_hat *= inv_std
        bn_param.setdefault("running_mean", running_mean)
        bn_param.setdefault("running_var", running_var)
        cache = ("test", x_hat, gamma, inv_std)
        out = gamma * x_hat
    out += beta
    return out.astype(x.dtype, copy=False), cache


def batchnorm_backward(dout, cache):
    r"""Backward pass of :func:`batchnorm_forward` through its graph, net by net.

    The single-net :func:`nndl_lab.layers.batchnorm_backward` itself: every
    reduction is over the batch axis 0, so the same lines serve the model axis
    K (the forward's cache has the twin's layout).

    Returns
    -------
    dx : ndarray, shape (N, K, D)
    dgamma, dbeta : ndarray, shape (K, D)
    """
    return _layers.batchnorm_backward(dout, cache)


def batchnorm_backward_alt(dout, cache):
    r"""Backward pass of :func:`batchnorm_forward` in closed form, net by net.

    .. math::
        dx = \frac{\gamma}{N\sqrt{\sigma^2+\epsilon}}
             \Big(N\,dout - \textstyle\sum_n dout_n - \hat x \sum_n dout_n \hat x_n\Big)

    Returns
    -------
    dx : ndarray, shape (N, K, D)
    dgamma, dbeta : ndarray, shape (K, D)
    """
    return _batchnorm_backward_alt(dout, cache, overwrite=False)


def _batchnorm_backward_alt(dout, cache, overwrite):
    # The twin's arithmetic with two scratch arrays (``dout`` itself when ``overwrite``).
    mode, x_hat, gamma, inv_std = cache[:4]
    dbeta = dout.sum(axis=0)
    scratch = dout * x_hat
    dgamma = scratch.sum(axis=0)
    if mode == "test":
        return dout * (gamma * inv_std), dgamma, dbeta
    n = dout.shape[0]
    dx = np.multiply(dout, n, out=dout if overwrite else None)
    dx -= dbeta
    dx -= np.multiply(x_hat, dgamma, out=scratch)
    dx *= gamma * inv_std / n
    return dx, dgamma, dbeta


def dropout_forward(x, keep, uniform, mode="train"):
    r"""Inverted dropout of every net, from given uniform draws.

    Net k keeps unit (n, j) where ``uniform < keep[k]`` and scales it by
    ``1 / keep[k]``: the mask of :func:`nndl_lab.layers.dropout_forward` for
    the same draws. Nets that share a seed share their draws (a (N, D)
    ``uniform``); test mode is the identity.

    Parameters
    ----------
    x : ndarray, shape (N, K, D)
    keep : ndarray, shape (K,)
        Keep probabilities in (0, 1].
    uniform : ndarray, shape (N, D) shared, or (N, K, D); or None in test mode
        Draws from [0, 1).
    mode : {"train", "test"}

    Returns
    -------
    out : ndarray, shape (N, K, D)
    cache : ndarray or None
        The mask (0 or ``1/keep[k]``), None in test mode.
    """
    if mode == "test":
        return x, None
    keep = np.asarray(keep, dtype=np.float64)
    _check_stack("dropout_forward", "keep", keep, x.shape[1], ())
    if uniform.ndim == 2:
        uniform = uniform[:, None, :]
    # (U < p) / p, rounded to x's dtype: the single-net mask for the same draws
    scale = (1.0 / keep).astype(x.dtype)[:, None]
    mask = np.where(uniform < keep[:, None], scale, x.dtype.type(0))
    return x * mask, mask


def dropout_backward(dout, cache):
    r"""Backward pass of :func:`dropout_forward`: :math:`dout \cdot mask`."""
    if cache is None:
        return dout
    return dout * cache


def _picked(x, y):
    """(K, N): the entry of the correct class of every sample of every net, nets first."""
    count = x.shape[1]
    index = y[:, None, None] if y.ndim == 1 else y[:, :, None]
    index = np.broadcast_to(index, (x.shape[0], count, 1))
    return np.ascontiguousarray(np.take_along_axis(x, index, axis=2)[:, :, 0].T), index


def softmax_loss(x, y):
    r"""Softmax cross-entropy of every net, and its gradient.

    The arithmetic of :func:`nndl_lab.layers.softmax_loss` (log-sum-exp) for
    each net.

    Parameters
    ----------
    x : ndarray, shape (N, K, C)
        Scores.
    y : ndarray of int, shape (N,) shared or (N, K)

    Returns
    -------
    loss : ndarray, shape (K,), float64
    dx : ndarray, shape (N, K, C)
    """
    n = x.shape[0]
    shifted = x - x.max(axis=2, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=2, keepdims=True))
    picked, index = _picked(log_probs, y)
    loss = -picked.sum(axis=1).astype(np.float64) / n
    dx = np.exp(log_probs)
    np.put_along_axis(dx, index, np.take_along_axis(dx, index, axis=2) - 1, axis=2)
    dx /= n
    return loss, dx


def svm_loss(x, y):
    r"""Multiclass SVM (hinge) loss of every net, and its gradient.

    Parameters
    ----------
    x : ndarray, shape (N, K, C)
    y : ndarray of int, shape (N,) shared or (N, K)

    Returns
    -------
    loss : ndarray, shape (K,), float64
    dx : ndarray, shape (N, K, C)
    """
    n = x.shape[0]
    correct, index = _picked(x, y)
    margins = np.maximum(0, x - correct.T[:, :, None] + 1.0)
    np.put_along_axis(margins, index, 0, axis=2)
    loss = np.ascontiguousarray(margins.transpose(1, 0, 2)).reshape(x.shape[1], -1)
    loss = loss.sum(axis=1).astype(np.float64) / n
    positive = (margins > 0).astype(x.dtype)
    np.put_along_axis(positive, index, -positive.sum(axis=2, keepdims=True), axis=2)
    return loss, positive / n


def _relu_in_place(a):
    # ReLU of a fresh array in place; its output is positive exactly where its input was,
    # so it serves as the ReLU's cache.
    return np.maximum(a, _zeros(a.shape, a.dtype), out=a)


def affine_relu_forward(x, w, b):
    """Affine layers then ReLU, for every net (twin of ``layer_utils.affine_relu_forward``)."""
    a, affine_cache = affine_forward(x, w, b)
    out = _relu_in_place(a)
    return out, (affine_cache, out)


def affine_relu_backward(dout, cache, *, compute_dx=True):
    """Backward pass of :func:`affine_relu_forward`: ``dx, dw, db``."""
    affine_cache, relu_cache = cache
    return affine_backward(relu_backward(dout, relu_cache), affine_cache, compute_dx=compute_dx)


def affine_batchnorm_relu_forward(x, w, b, gamma, beta, bn_param):
    """Affine, batchnorm, ReLU for every net (twin of the ``layer_utils`` sandwich)."""
    a, affine_cache = affine_forward(x, w, b)
    normalized, bn_cache = _batchnorm_forward(a, gamma, beta, bn_param, overwrite=True)
    out = _relu_in_place(normalized)
    return out, (affine_cache, bn_cache, out)


def affine_batchnorm_relu_backward(dout, cache, *, compute_dx=True):
    """Backward pass of :func:`affine_batchnorm_relu_forward`: ``dx, dw, db, dgamma, dbeta``."""
    affine_cache, bn_cache, relu_cache = cache
    dnormalized = relu_backward(dout, relu_cache)
    da, dgamma, dbeta = _batchnorm_backward_alt(dnormalized, bn_cache, overwrite=True)
    dx, dw, db = affine_backward(da, affine_cache, compute_dx=compute_dx)
    return dx, dw, db, dgamma, dbeta


# Read-only arrays of zeros by shape: np.maximum(a, zeros) is several times faster than
# np.maximum(a, 0) on numpy 2.x, with the same result.
_ZEROS = {}


def _zeros(shape, dtype):
    key = (shape, np.dtype(dtype).str)
    zeros = _ZEROS.get(key)
    if zeros is None:
        if len(_ZEROS) > 64:
            _ZEROS.clear()
        zeros = np.zeros(shape, dtype=dtype)
        zeros.flags.writeable = False
        _ZEROS[key] = zeros
    return zeros
