r"""Layers as forward/backward pairs.

Each ``*_forward`` returns ``(out, cache)``; the matching ``*_backward`` takes
``(dout, cache)`` and returns the gradient with respect to each input, in the
order the forward took them. The docstrings list every shape and what the cache
holds. Book: chapter 1 (affine, ReLU, losses), chapter 6 (batch normalization),
chapter 7 (dropout).

Nothing here touches the global ``np.random`` state, and no function modifies
the arrays it is given: running statistics live in ``bn_param`` (replaced, not
updated in place) and dropout draws from a ``np.random.Generator``.
"""

from __future__ import annotations

import numpy as np

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
]

BATCHNORM_MODES = ("train", "test")
DROPOUT_MODES = ("train", "test")
#: The keys ``bn_param`` may hold.
BN_PARAM_KEYS = ("mode", "eps", "momentum", "running_mean", "running_var")


def _check_array(function, name, value):
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{function}: {name} must be a numpy array, got {type(value).__name__}")


def _check_shape(function, name, value, shape, meaning):
    """Refuse ``value`` unless its shape is exactly ``shape`` (no numpy broadcasting)."""
    _check_array(function, name, value)
    if value.shape != tuple(shape):
        raise ValueError(
            f"{function}: {name} must have shape {tuple(shape)} ({meaning}), got {value.shape}"
        )


def affine_forward(x, w, b):
    r"""Affine (fully connected) layer: :math:`out = x w + b`.

    Parameters
    ----------
    x : ndarray, shape (N, d_1, ..., d_k)
        A minibatch of N inputs; each is flattened to a row of
        :math:`D = d_1 \cdots d_k` numbers.
    w : ndarray, shape (D, M)
        Weights.
    b : ndarray, shape (M,)
        Biases.

    Returns
    -------
    out : ndarray, shape (N, M)
    cache : tuple
        ``(x, w, b)``, the inputs, for the backward pass.
    """
    for name, value in (("x", x), ("w", w), ("b", b)):
        _check_array("affine_forward", name, value)
    if x.ndim < 1 or w.ndim != 2:
        raise ValueError(
            f"affine_forward: x must have shape (N, ...) and w shape (D, M), got x {x.shape} "
            f"and w {w.shape}"
        )
    _check_shape("affine_forward", "b", b, (w.shape[1],), "one bias per output of w")
    x_rows = x.reshape(x.shape[0], -1)
    if x_rows.shape[1] != w.shape[0]:
        raise ValueError(
            f"affine_forward: x has {x_rows.shape[1]} features per sample but w expects "
            f"{w.shape[0]} (w has shape {w.shape})"
        )
    out = x_rows @ w + b
    return out, (x, w, b)


def affine_backward(dout, cache, *, compute_dx=True):
    r"""Backward pass of :func:`affine_forward`.

    .. math:: dx = dout\, w^\top,\quad dw = x^\top dout,\quad db = \textstyle\sum_n dout_n

    Parameters
    ----------
    dout : ndarray, shape (N, M)
        Upstream gradient.
    cache : tuple
        ``(x, w, b)`` from :func:`affine_forward`.
    compute_dx : bool, default True
        The first layer of a net has no use for ``dx``, which costs as much as
        the forward matmul; with ``False`` it is skipped and returned as None.

    Returns
    -------
    dx : ndarray, shape (N, d_1, ..., d_k), or None
    dw : ndarray, shape (D, M)
    db : ndarray, shape (M,)
    """
    x, w, _ = cache
    _check_shape("affine_backward", "dout", dout, (x.shape[0], w.shape[1]), "the forward's out")
    dx = (dout @ w.T).reshape(x.shape) if compute_dx else None
    dw = x.reshape(x.shape[0], -1).T @ dout
    return dx, dw, dout.sum(axis=0)


def relu_forward(x):
    r"""Rectified linear unit: :math:`out = \max(0, x)` elementwise.

    Parameters
    ----------
    x : ndarray, any shape

    Returns
    -------
    out : ndarray, same shape as ``x``
    cache : ndarray
        ``x`` itself.
    """
    return np.maximum(x, 0), x


def relu_backward(dout, cache):
    r"""Backward pass of :func:`relu_forward`: :math:`dx = dout \cdot [x > 0]`.

    Parameters
    ----------
    dout : ndarray, same shape as the forward input
    cache : ndarray
        The forward input ``x``.

    Returns
    -------
    dx : ndarray, same shape as ``x``
    """
    _check_shape("relu_backward", "dout", dout, np.shape(cache), "the forward input's")
    return np.where(cache > 0, dout, 0).astype(dout.dtype, copy=False)


def _batchnorm_settings(bn_param, num_features, dtype):
    if not isinstance(bn_param, dict):
        raise TypeError(f"bn_param must be a dict with a 'mode' key, got {type(bn_param).__name__}")
    unknown = sorted(map(str, set(bn_param) - set(BN_PARAM_KEYS)))
    if unknown:
        raise ValueError(f"bn_param has unknown key(s) {unknown}; accepted keys: {BN_PARAM_KEYS}")
    mode = bn_param.get("mode")
    if mode not in BATCHNORM_MODES:
        raise ValueError(f"bn_param['mode'] must be one of {BATCHNORM_MODES}, got {mode!r}")
    eps = bn_param.get("eps", 1e-5)
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.floating)) or not eps > 0:
        raise ValueError(f"bn_param['eps'] must be a number > 0, got {eps!r}")
    if not np.isfinite(eps):
        raise ValueError(f"bn_param['eps'] must be a finite number > 0, got {eps!r}")
    momentum = bn_param.get("momentum", 0.9)
    if isinstance(momentum, bool) or not isinstance(momentum, (int, float, np.floating)):
        raise ValueError(f"bn_param['momentum'] must be a number in [0, 1), got {momentum!r}")
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"bn_param['momentum'] must be in [0, 1), got {momentum!r}")
    running_mean = bn_param.get("running_mean")
    running_var = bn_param.get("running_var")
    for key, value in (("running_mean", running_mean), ("running_var", running_var)):
        if value is not None:
            _check_shape(
                "batchnorm_forward", f"bn_param[{key!r}]", value, (num_features,), "per feature"
            )
    if running_mean is None:
        running_mean = np.zeros(num_features, dtype=dtype)
    if running_var is None:
        running_var = np.zeros(num_features, dtype=dtype)
    return mode, eps, momentum, running_mean, running_var


def batchnorm_forward(x, gamma, beta, bn_param):
    r"""Batch normalization (Ioffe & Szegedy, 2015) over a minibatch.

    In ``'train'`` mode each feature is normalized with the minibatch
    statistics,

    .. math::
        \mu = \frac{1}{N}\sum_n x_n,\quad
        \sigma^2 = \frac{1}{N}\sum_n (x_n-\mu)^2,\quad
        \hat x = \frac{x-\mu}{\sqrt{\sigma^2+\epsilon}},\quad
        out = \gamma \hat x + \beta,

    and exponential running averages are kept for test time:
    ``running = momentum * running + (1 - momentum) * batch_statistic``. In
    ``'test'`` mode the running averages replace the minibatch statistics, so
    the output of a sample does not depend on the rest of the batch.

    Parameters
    ----------
    x : ndarray, shape (N, D)
    gamma : ndarray, shape (D,)
        Scale.
    beta : ndarray, shape (D,)
        Shift.
    bn_param : dict
        ``'mode'`` (``'train'`` or ``'test'``, required), ``'eps'`` (default
        1e-5), ``'momentum'`` (default 0.9), ``'running_mean'`` and
        ``'running_var'`` (shape (D,), start at zero). In train mode the
        running averages are replaced by new arrays in this dict; the old
        arrays are not modified.

    Returns
    -------
    out : ndarray, shape (N, D)
    cache : tuple
        Train mode: ``("train", x_hat, gamma, inv_std, x_centered)``;
        test mode: ``("test", x_hat, gamma, inv_std)``, where ``inv_std`` is
        :math:`1/\sqrt{\sigma^2+\epsilon}` of shape (D,).
    """
    _check_array("batchnorm_forward", "x", x)
    if x.ndim != 2:
        raise ValueError(f"batchnorm_forward: x must have shape (N, D), got {x.shape}")
    num_features = x.shape[1]
    _check_shape("batchnorm_forward", "gamma", gamma, (num_features,), "one scale per feature")
    _check_shape("batchnorm_forward", "beta", beta, (num_features,), "one shift per feature")
    mode, eps, momentum, running_mean, running_var = _batchnorm_settings(
        bn_param, num_features, x.dtype
    )
    if mode == "train":
        if x.shape[0] < 2:
            raise ValueError(
                f"batchnorm_forward: x must hold at least 2 samples in 'train' mode, got "
                f"{x.shape[0]}: a batch of one normalizes to zero (out = beta, no gradient)"
            )
        mean = x.mean(axis=0)
        x_centered = x - mean
        var = np.mean(x_centered * x_centered, axis=0)
        inv_std = 1.0 / np.sqrt(var + eps)
        x_hat = x_centered * inv_std
        bn_param["running_mean"] = momentum * running_mean + (1.0 - momentum) * mean
        bn_param["running_var"] = momentum * running_var + (1.0 - momentum) * var
        cache = ("train", x_hat, gamma, inv_std, x_centered)
    else:
        inv_std = 1.0 / np.sqrt(running_var + eps)
        x_hat = (x - running_mean) * inv_std
        bn_param.setdefault("running_mean", running_mean)
        bn_param.setdefault("running_var", running_var)
        cache = ("test", x_hat, gamma, inv_std)
    out = gamma * x_hat + beta
    return out.astype(x.dtype, copy=False), cache


def batchnorm_backward(dout, cache):
    r"""Backward pass of :func:`batchnorm_forward`, step by step through its graph.

    Written as the chain rule through each node of the forward computation
    (:math:`\hat x`, :math:`\sigma^2`, :math:`\mu`), as one derives it on
    paper; :func:`batchnorm_backward_alt` gives the simplified closed form.

    Parameters
    ----------
    dout : ndarray, shape (N, D)
    cache : tuple
        From :func:`batchnorm_forward`.

    Returns
    -------
    dx : ndarray, shape (N, D)
    dgamma : ndarray, shape (D,)
    dbeta : ndarray, shape (D,)
    """
    mode, x_hat, gamma, inv_std = cache[:4]
    _check_shape("batchnorm_backward", "dout", dout, x_hat.shape, "the forward's out")
    dbeta = dout.sum(axis=0)
    dgamma = np.sum(dout * x_hat, axis=0)
    dx_hat = dout * gamma
    if mode == "test":
        return dx_hat * inv_std, dgamma, dbeta
    x_centered = cache[4]
    n = dout.shape[0]
    # x_hat = x_centered * inv_std, with inv_std = (var + eps)^(-1/2)
    dinv_std = np.sum(dx_hat * x_centered, axis=0)
    dvar = -0.5 * inv_std**3 * dinv_std
    # var = mean(x_centered**2); x_centered = x - mean
    dx_centered = dx_hat * inv_std + (2.0 / n) * x_centered * dvar
    dmean = -dx_centered.sum(axis=0)
    dx = dx_centered + dmean / n
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    r"""Backward pass of :func:`batchnorm_forward` in closed form.

    Simplifying the graph of :func:`batchnorm_backward` on paper gives

    .. math::
        dx = \frac{\gamma}{N\sqrt{\sigma^2+\epsilon}}
             \Big(N\,dout - \textstyle\sum_n dout_n
             - \hat x \sum_n dout_n \hat x_n\Big),

    one pass over the data instead of several.

    Parameters
    ----------
    dout : ndarray, shape (N, D)
    cache : tuple
        From :func:`batchnorm_forward`.

    Returns
    -------
    dx : ndarray, shape (N, D)
    dgamma : ndarray, shape (D,)
    dbeta : ndarray, shape (D,)
    """
    mode, x_hat, gamma, inv_std = cache[:4]
    _check_shape("batchnorm_backward_alt", "dout", dout, x_hat.shape, "the forward's out")
    dbeta = dout.sum(axis=0)
    dgamma = np.sum(dout * x_hat, axis=0)
    if mode == "test":
        return dout * (gamma * inv_std), dgamma, dbeta
    n = dout.shape[0]
    dx = (gamma * inv_std / n) * (n * dout - dbeta - x_hat * dgamma)
    return dx, dgamma, dbeta


def _dropout_generator(dropout_param):
    rng = dropout_param.get("rng")
    if rng is not None:
        if not isinstance(rng, np.random.Generator):
            raise TypeError(
                f"dropout_param['rng'] must be a numpy.random.Generator, got {type(rng).__name__}"
            )
        return rng
    return np.random.default_rng(dropout_param.get("seed"))


def dropout_forward(x, dropout_param):
    r"""Inverted dropout (Srivastava et al., 2014).

    In ``'train'`` mode each unit is kept with probability ``p`` and the kept
    units are scaled by :math:`1/p`, so the expected output equals the input
    and test mode needs no rescaling. Test mode is exactly the identity.

    Parameters
    ----------
    x : ndarray, any shape
    dropout_param : dict
        ``'p'``: the probability of **keeping** a unit, in (0, 1].
        ``'mode'``: ``'train'`` or ``'test'``.
        ``'seed'`` (optional): with a seed, every call draws the same mask,
        which makes the layer a deterministic function for gradient checks.
        ``'rng'`` (optional): a ``np.random.Generator`` to draw masks from; it
        takes precedence over ``'seed'``, and successive calls draw fresh masks.
        With neither, masks come from fresh OS entropy.

    Returns
    -------
    out : ndarray, same shape as ``x``
    cache : tuple
        ``(dropout_param, mask)``; ``mask`` holds 0 or :math:`1/p` per unit in
        train mode and is ``None`` in test mode.
    """
    if not isinstance(dropout_param, dict):
        raise TypeError(
            "dropout_param must be a dict with keys 'p' and 'mode', "
            f"got {type(dropout_param).__name__}"
        )
    p = dropout_param.get("p")
    mode = dropout_param.get("mode")
    if mode not in DROPOUT_MODES:
        raise ValueError(f"dropout_param['mode'] must be one of {DROPOUT_MODES}, got {mode!r}")
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating)) or not 0.0 < p <= 1.0:
        raise ValueError(
            f"dropout_param['p'] is the keep probability and must be in (0, 1], got {p!r}"
        )
    if mode == "test":
        return x, (dropout_param, None)
    uniform = _dropout_generator(dropout_param).random(x.shape)
    mask = ((uniform < p) / p).astype(x.dtype, copy=False)
    return x * mask, (dropout_param, mask)


def dropout_backward(dout, cache):
    r"""Backward pass of :func:`dropout_forward`: :math:`dx = dout \cdot mask`.

    Parameters
    ----------
    dout : ndarray, same shape as the forward input
    cache : tuple
        ``(dropout_param, mask)`` from :func:`dropout_forward`.

    Returns
    -------
    dx : ndarray
    """
    _, mask = cache
    if mask is None:
        return dout
    _check_shape("dropout_backward", "dout", dout, mask.shape, "the forward input's")
    return dout * mask


def _check_labels(x, y):
    _check_array("loss", "scores x", x)
    if x.ndim != 2:
        raise ValueError(f"scores x must have shape (N, C), got shape {x.shape}")
    if x.shape[0] == 0:
        raise ValueError("scores x must hold at least one sample (N >= 1): the loss is a mean")
    y = np.asarray(y)
    if y.shape != (x.shape[0],):
        raise ValueError(f"labels y must have shape ({x.shape[0]},) to match x, got {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"labels y must be integers, got dtype {y.dtype}")
    num_classes = x.shape[1]
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(
            f"labels y must lie in [0, {num_classes}) for {num_classes} classes, "
            f"got values in [{y.min()}, {y.max()}]"
        )
    return y


def softmax_loss(x, y):
    r"""Softmax cross-entropy loss and its gradient, by log-sum-exp.

    .. math::
        L = -\frac{1}{N}\sum_n \log \frac{e^{x_{n,y_n}}}{\sum_c e^{x_{n,c}}},
        \qquad \frac{\partial L}{\partial x_{n,c}} =
        \frac{1}{N}\big(\mathrm{softmax}(x_n)_c - [c = y_n]\big)

    The log-probabilities are computed as
    :math:`x_{n,c} - m_n - \log\sum_c e^{x_{n,c}-m_n}` with
    :math:`m_n = \max_c x_{n,c}`: no exponential overflows and no log of zero
    is taken, so the loss stays finite for scores of any magnitude (the
    homework's version hit ``divide by zero encountered in log``).

    Parameters
    ----------
    x : ndarray, shape (N, C)
        Scores.
    y : ndarray of int, shape (N,)
        Labels in ``[0, C)``.

    Returns
    -------
    loss : float
    dx : ndarray, shape (N, C)
    """
    y = _check_labels(x, y)
    n = x.shape[0]
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(n)
    loss = -float(log_probs[rows, y].sum()) / n
    dx = np.exp(log_probs)
    dx[rows, y] -= 1
    dx /= n
    return loss, dx


def svm_loss(x, y):
    r"""Multiclass SVM (hinge) loss and its gradient.

    .. math::
        L = \frac{1}{N}\sum_n \sum_{c \ne y_n} \max(0,\, x_{n,c} - x_{n,y_n} + 1)

    Parameters
    ----------
    x : ndarray, shape (N, C)
        Scores.
    y : ndarray of int, shape (N,)
        Labels in ``[0, C)``.

    Returns
    -------
    loss : float
    dx : ndarray, shape (N, C)
    """
    y = _check_labels(x, y)
    n = x.shape[0]
    rows = np.arange(n)
    margins = np.maximum(0, x - x[rows, y][:, None] + 1.0)
    margins[rows, y] = 0
    loss = float(margins.sum()) / n
    positive = (margins > 0).astype(x.dtype)
    positive[rows, y] = -positive.sum(axis=1)
    return loss, positive / n
