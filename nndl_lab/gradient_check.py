r"""Numerical gradients by centred differences, and the relative error.

Book: chapter 1 (gradient checking). Checks are meaningful in float64:
centred differences with step :math:`h` have truncation error
:math:`O(h^2)` and round-off :math:`O(\varepsilon / h)`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["eval_numerical_gradient", "eval_numerical_gradient_array", "rel_error"]


def _check_point_and_step(function, x, h):
    """``x`` must be a float array (perturbed in place) and ``h`` a finite step > 0."""
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        kind = f"dtype {x.dtype}" if isinstance(x, np.ndarray) else type(x).__name__
        raise TypeError(
            f"{function}: x must be a floating-point numpy array (it is perturbed in place by "
            f"h; an integer array cannot hold x + h), got {kind}"
        )
    if isinstance(h, bool) or not isinstance(h, (int, float, np.floating)):
        raise TypeError(f"{function}: h must be a number > 0, got {h!r}")
    if not (np.isfinite(h) and h > 0):
        raise ValueError(f"{function}: h must be a finite number > 0, got {h!r}")


def eval_numerical_gradient(f, x, verbose=True, h=1e-5):
    r"""Numerical gradient of a scalar function at ``x``.

    .. math:: \frac{\partial f}{\partial x_i} \approx \frac{f(x + h e_i) - f(x - h e_i)}{2h}

    Parameters
    ----------
    f : callable
        Takes ``x`` (it may also read ``x`` through a closure) and returns a
        number.
    x : ndarray of float
        Perturbed one entry at a time and restored afterwards; after the call
        it holds exactly its original values.
    verbose : bool, default True
        Print every entry's index and numerical gradient (as the homework did).
    h : float, default 1e-5

    Returns
    -------
    grad : ndarray, same shape as ``x``
    """
    _check_point_and_step("eval_numerical_gradient", x, h)
    grad = np.zeros_like(x, dtype=np.float64)
    for ix in np.ndindex(x.shape):
        original = x[ix]
        x[ix] = original + h
        f_plus = f(x)
        x[ix] = original - h
        f_minus = f(x)
        x[ix] = original
        grad[ix] = (f_plus - f_minus) / (2 * h)
        if verbose:
            print(ix, grad[ix])
    return grad


def eval_numerical_gradient_array(f, x, df, h=1e-5):
    r"""Numerical gradient of an array-valued function, contracted with an upstream gradient.

    Returns :math:`\sum_j df_j \, \partial f_j / \partial x_i` for every entry
    :math:`i` of ``x``, the quantity a layer's backward pass computes.

    Parameters
    ----------
    f : callable
        Takes ``x`` and returns an array shaped like ``df``.
    x : ndarray of float
        Perturbed and restored, as in :func:`eval_numerical_gradient`.
    df : ndarray
        Upstream gradient.
    h : float, default 1e-5

    Returns
    -------
    grad : ndarray, same shape as ``x``
    """
    _check_point_and_step("eval_numerical_gradient_array", x, h)
    grad = np.zeros_like(x, dtype=np.float64)
    for ix in np.ndindex(x.shape):
        original = x[ix]
        x[ix] = original + h
        f_plus = np.array(f(x), dtype=np.float64, copy=True)
        x[ix] = original - h
        f_minus = np.array(f(x), dtype=np.float64, copy=True)
        x[ix] = original
        grad[ix] = np.sum((f_plus - f_minus) * df) / (2 * h)
    return grad


def rel_error(x, y):
    r"""Largest elementwise relative error :math:`|x-y| / \max(10^{-8}, |x|+|y|)`.

    Entries near zero make this large even for correct gradients (centred
    differences carry about 1e-10 of noise); compare arrays with an absolute
    floor as well, e.g. ``np.allclose(numeric, analytic, rtol=1e-5, atol=1e-8)``.

    ``x`` and ``y`` must have the same shape: numpy would broadcast a (3,)
    against a (3, 1) into a (3, 3) comparison, which can pass an output of the
    wrong shape.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(
            f"rel_error: x has shape {x.shape} and y has shape {y.shape}; compare arrays of the "
            "same shape"
        )
    if x.size == 0:
        raise ValueError("rel_error: x and y are empty; there is nothing to compare")
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))
