r"""Confidence intervals for an accuracy measured on a finite set of images.

An accuracy measured on :math:`n` images is a binomial proportion
:math:`\hat q = k/n`. The textbook interval :math:`\hat q \pm z\sqrt{\hat q(1-\hat q)/n}`
(Wald's) is unreliable when :math:`\hat q` is near 0 or 1: at :math:`\hat q = 1` it
has width zero, whatever :math:`n`. Wilson's interval inverts the score test instead
and stays inside :math:`[0, 1]` with sensible width there.

Book: chapter 8 (capstone).
"""

from __future__ import annotations

import math
import numbers
from statistics import NormalDist

__all__ = ["wilson_interval"]


def _count(name, value):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    return int(value)


def wilson_interval(successes, trials, confidence=0.95):
    r"""Wilson's score interval for a binomial proportion, e.g. an accuracy.

    With :math:`\hat q = k/n` and :math:`z` the standard normal quantile of
    :math:`(1 + \text{confidence})/2`, the interval is

    .. math::

        \frac{\hat q + \frac{z^2}{2n}}{1 + \frac{z^2}{n}}
        \pm \frac{z}{1 + \frac{z^2}{n}}
        \sqrt{\frac{\hat q (1 - \hat q)}{n} + \frac{z^2}{4 n^2}},

    the set of true proportions :math:`q` for which
    :math:`|\hat q - q| \le z \sqrt{q(1-q)/n}` (Wilson, 1927). At :math:`k = n`
    it is :math:`[n/(n + z^2),\ 1]`.

    Book: chapter 8 (capstone).

    Parameters
    ----------
    successes : int
        Number of successes :math:`k` (e.g. correctly classified images),
        ``0 <= successes <= trials``.
    trials : int
        Number of trials :math:`n` (e.g. images), at least 1.
    confidence : float, default 0.95
        Coverage of the interval, strictly between 0 and 1.

    Returns
    -------
    (low, high) : tuple of float
        The interval's ends, ``0 <= low <= successes / trials <= high <= 1``.

    Raises
    ------
    TypeError
        If ``successes`` or ``trials`` is not an integer, or ``confidence`` not a
        real number.
    ValueError
        If ``trials < 1``, ``successes`` is outside ``[0, trials]``, or
        ``confidence`` is outside ``(0, 1)``.
    """
    k = _count("successes", successes)
    n = _count("trials", trials)
    if not isinstance(confidence, numbers.Real) or isinstance(confidence, bool):
        raise TypeError(f"confidence must be a real number, got {type(confidence).__name__}")
    if n < 1:
        raise ValueError(f"trials must be at least 1, got {n}")
    if not 0 <= k <= n:
        raise ValueError(f"successes must be between 0 and trials ({n}), got {k}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence!r}")
    z = NormalDist().inv_cdf((1 + float(confidence)) / 2)
    q = k / n
    denominator = 1 + z * z / n
    center = (q + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(q * (1 - q) / n + z * z / (4 * n * n))
    # the ends are exactly 0 at k = 0 and exactly 1 at k = n; rounding would blur them
    low = 0.0 if k == 0 else max(0.0, center - half)
    high = 1.0 if k == n else min(1.0, center + half)
    return low, high
