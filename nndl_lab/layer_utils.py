r"""Sandwich layers: common chains of layers as one forward/backward pair.

A sandwich bundles the caches of its parts as a tuple and unpacks them in
reverse order in its backward pass. Book: chapter 1 (``affine_relu``),
chapter 6 (``affine_batchnorm_relu``).
"""

from __future__ import annotations

from .layers import (
    affine_backward,
    affine_forward,
    batchnorm_backward_alt,
    batchnorm_forward,
    relu_backward,
    relu_forward,
)

__all__ = [
    "affine_relu_forward",
    "affine_relu_backward",
    "affine_batchnorm_relu_forward",
    "affine_batchnorm_relu_backward",
]


def affine_relu_forward(x, w, b):
    r"""Affine layer followed by a ReLU: :math:`\max(0, x w + b)`.

    Parameters
    ----------
    x : ndarray, shape (N, d_1, ..., d_k)
    w : ndarray, shape (D, M)
    b : ndarray, shape (M,)

    Returns
    -------
    out : ndarray, shape (N, M)
    cache : tuple
        ``(affine_cache, relu_cache)``.
    """
    affine_out, affine_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(affine_out)
    return out, (affine_cache, relu_cache)


def affine_relu_backward(dout, cache, *, compute_dx=True):
    """Backward pass of :func:`affine_relu_forward`.

    Parameters
    ----------
    dout : ndarray, shape (N, M)
    cache : tuple
        ``(affine_cache, relu_cache)``.
    compute_dx : bool, default True
        See :func:`nndl_lab.layers.affine_backward`.

    Returns
    -------
    dx : ndarray, shape (N, d_1, ..., d_k), or None
    dw : ndarray, shape (D, M)
    db : ndarray, shape (M,)
    """
    affine_cache, relu_cache = cache
    return affine_backward(relu_backward(dout, relu_cache), affine_cache, compute_dx=compute_dx)


def affine_batchnorm_relu_forward(x, w, b, gamma, beta, bn_param):
    r"""Affine layer, batch normalization, then ReLU.

    Parameters
    ----------
    x : ndarray, shape (N, d_1, ..., d_k)
    w : ndarray, shape (D, M)
    b : ndarray, shape (M,)
    gamma, beta : ndarray, shape (M,)
        Batchnorm scale and shift.
    bn_param : dict
        See :func:`nndl_lab.layers.batchnorm_forward`.

    Returns
    -------
    out : ndarray, shape (N, M)
    cache : tuple
        ``(affine_cache, batchnorm_cache, relu_cache)``.
    """
    affine_out, affine_cache = affine_forward(x, w, b)
    normalized, batchnorm_cache = batchnorm_forward(affine_out, gamma, beta, bn_param)
    out, relu_cache = relu_forward(normalized)
    return out, (affine_cache, batchnorm_cache, relu_cache)


def affine_batchnorm_relu_backward(dout, cache, *, compute_dx=True):
    """Backward pass of :func:`affine_batchnorm_relu_forward`.

    Parameters
    ----------
    dout : ndarray, shape (N, M)
    cache : tuple
        ``(affine_cache, batchnorm_cache, relu_cache)``.
    compute_dx : bool, default True
        See :func:`nndl_lab.layers.affine_backward`.

    Returns
    -------
    dx : ndarray, shape (N, d_1, ..., d_k), or None
    dw : ndarray, shape (D, M)
    db : ndarray, shape (M,)
    dgamma, dbeta : ndarray, shape (M,)
    """
    affine_cache, batchnorm_cache, relu_cache = cache
    dnormalized = relu_backward(dout, relu_cache)
    daffine, dgamma, dbeta = batchnorm_backward_alt(dnormalized, batchnorm_cache)
    dx, dw, db = affine_backward(daffine, affine_cache, compute_dx=compute_dx)
    return dx, dw, db, dgamma, dbeta
