r"""A fully connected net of any depth.

Book: chapter 1 (the modular net), chapter 6 (with batch normalization),
chapter 7 (with dropout).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from . import stacked
from .layer_utils import (
    affine_batchnorm_relu_backward,
    affine_batchnorm_relu_forward,
    affine_relu_backward,
    affine_relu_forward,
)
from .layers import affine_backward, affine_forward, dropout_backward, dropout_forward, softmax_loss

__all__ = ["FullyConnectedNet", "WEIGHT_SCALE_SCHEMES", "NORMALIZATIONS", "Normalization"]

#: Named initializations accepted as ``weight_scale``: the standard deviation
#: of each layer's weights as a function of its fan-in and fan-out.
WEIGHT_SCALE_SCHEMES = {
    "he": lambda fan_in, fan_out: np.sqrt(2.0 / fan_in),
    "xavier": lambda fan_in, fan_out: np.sqrt(2.0 / (fan_in + fan_out)),
}

_DTYPES = (np.float32, np.float64)


class Normalization(NamedTuple):
    """A kind of normalization between a hidden affine layer and its ReLU.

    Attributes
    ----------
    params : tuple of (str, float)
        Its parameters per hidden layer, by name prefix, with their initial value
        (``gamma`` = 1, ``beta`` = 0 for batchnorm).
    forward, backward : callable
        The sandwich ``affine → normalization → ReLU`` of
        :mod:`nndl_lab.layer_utils`: ``forward(x, w, b, *params, state)``,
        ``backward(dout, cache, compute_dx=...)`` → ``dx, dw, db, *dparams``.
    stacked_forward, stacked_backward : callable
        Their model-axis twins in :mod:`nndl_lab.stacked` (the batched trainer).
    """

    params: tuple
    forward: Callable
    backward: Callable
    stacked_forward: Callable
    stacked_backward: Callable


#: The kinds of normalization a net accepts as ``normalization``; a new kind plugs in here
#: (with its layer pair, its sandwich and their stacked twins).
NORMALIZATIONS = {
    "batchnorm": Normalization(
        (("gamma", 1.0), ("beta", 0.0)),
        affine_batchnorm_relu_forward,
        affine_batchnorm_relu_backward,
        stacked.affine_batchnorm_relu_forward,
        stacked.affine_batchnorm_relu_backward,
    ),
}


def check_normalization(normalization, use_batchnorm=False):
    """The normalization kind (None or a key of :data:`NORMALIZATIONS`) from both spellings.

    ``use_batchnorm=True`` is the homework's alias of ``normalization="batchnorm"``.
    """
    if not isinstance(use_batchnorm, (bool, np.bool_)):
        raise TypeError(f"use_batchnorm must be True or False, got {use_batchnorm!r}")
    if use_batchnorm and normalization not in (None, "batchnorm"):
        raise ValueError(
            f"use_batchnorm=True means normalization='batchnorm'; got also "
            f"normalization={normalization!r}"
        )
    if normalization is not None and normalization not in NORMALIZATIONS:
        raise ValueError(
            f"normalization must be None or one of {list(NORMALIZATIONS)}, got {normalization!r}"
        )
    return "batchnorm" if use_batchnorm else normalization


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


class FullyConnectedNet:
    r"""A fully connected net with ReLUs, optional batchnorm and dropout, and a softmax loss.

    The architecture is

    .. math::
        \{\text{affine} \to [\text{batchnorm}] \to \text{ReLU} \to
        [\text{dropout}]\} \times (L-1) \to \text{affine} \to \text{softmax}

    with :math:`L - 1` = ``len(hidden_dims)`` hidden layers. The loss adds
    :math:`\tfrac{1}{2}\lambda \sum_l \lVert W_l \rVert^2` over every weight
    matrix, the last layer's included.

    Parameters
    ----------
    hidden_dims : sequence of int
        Width of each hidden layer; at least one.
    input_dim : int, default 3*32*32
        Number of input features; an input sample of any shape is flattened
        and must have this many numbers.
    num_classes : int, default 10
    dropout_keep_ratio : float, default 1.0
        Probability of **keeping** a hidden unit in training, in (0, 1];
        1.0 turns dropout off.
    use_batchnorm : bool, default False
        Batch normalization between each hidden affine layer and its ReLU (the
        homework's spelling of ``normalization="batchnorm"``).
    reg : float, default 0.0
        L2 regularization strength :math:`\lambda \ge 0`.
    weight_scale : float or {"he", "xavier"}, default 1e-2
        Standard deviation of the initial weights, or a named per-layer scheme
        (He et al. 2015: :math:`\sqrt{2/\text{fan-in}}`; Glorot & Bengio 2010:
        :math:`\sqrt{2/(\text{fan-in}+\text{fan-out})}`). Biases start at zero,
        batchnorm's gamma at one and beta at zero.
    dtype : {np.float32, np.float64}, default np.float32
        float32 trains faster; use float64 for numerical gradient checks.
    seed : int or None
        Fixes the initial weights and the sequence of dropout masks. Each
        training pass draws fresh masks from one generator seeded here (the
        homework reseeded every pass, so every step used the same mask).
    normalization : {None, "batchnorm"}, default None
        The normalization between each hidden affine layer and its ReLU, one of
        :data:`NORMALIZATIONS` (None: none). ``use_batchnorm=True`` is the same
        as ``normalization="batchnorm"``.

    Attributes
    ----------
    params : dict of str to ndarray
        ``W1, b1, gamma1, beta1, ..., WL, bL``; ``Wl`` has shape
        (fan-in, fan-out).
    bn_params : list of dict
        One ``bn_param`` per hidden layer when ``use_batchnorm``, holding the
        running averages.
    dropout_rng : numpy.random.Generator
        Source of the dropout masks.
    """

    def __init__(
        self,
        hidden_dims,
        input_dim=3 * 32 * 32,
        num_classes=10,
        dropout_keep_ratio=1.0,
        use_batchnorm=False,
        reg=0.0,
        weight_scale=1e-2,
        dtype=np.float32,
        seed=None,
        normalization=None,
    ):
        hidden_dims = self._check_hidden_dims(hidden_dims)
        if not _is_int(input_dim) or input_dim < 1:
            raise ValueError(f"input_dim must be a positive integer, got {input_dim!r}")
        if not _is_int(num_classes) or num_classes < 2:
            raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}")
        if not _is_real(dropout_keep_ratio) or not 0.0 < dropout_keep_ratio <= 1.0:
            raise ValueError(
                "dropout_keep_ratio is the probability of keeping a unit and must be in (0, 1] "
                f"(1.0 = no dropout), got {dropout_keep_ratio!r}"
            )
        normalization = check_normalization(normalization, use_batchnorm)
        if not _is_real(reg) or not np.isfinite(reg) or reg < 0:
            raise ValueError(f"reg must be a finite number >= 0, got {reg!r}")
        if isinstance(weight_scale, str):
            if weight_scale not in WEIGHT_SCALE_SCHEMES:
                raise ValueError(
                    f"weight_scale must be a positive number or one of "
                    f"{sorted(WEIGHT_SCALE_SCHEMES)}, got {weight_scale!r}"
                )
        elif not _is_real(weight_scale) or not np.isfinite(weight_scale) or weight_scale <= 0:
            raise ValueError(
                f"weight_scale must be a positive number or one of {sorted(WEIGHT_SCALE_SCHEMES)}, "
                f"got {weight_scale!r}"
            )
        try:
            dtype = np.dtype(dtype).type
        except TypeError:
            dtype = None
        if dtype not in _DTYPES:
            raise TypeError("dtype must be np.float32 or np.float64")
        if seed is not None and (not _is_int(seed) or seed < 0):
            raise ValueError(f"seed must be None or a non-negative integer, got {seed!r}")

        self.hidden_dims = list(hidden_dims)
        self.input_dim = int(input_dim)
        self.num_classes = int(num_classes)
        self.num_layers = len(hidden_dims) + 1
        self.dropout_keep_ratio = float(dropout_keep_ratio)
        self.use_dropout = self.dropout_keep_ratio != 1.0
        self.normalization = normalization
        self.use_batchnorm = normalization == "batchnorm"
        self.reg = float(reg)
        self.weight_scale = weight_scale
        self.dtype = dtype
        self.seed = seed

        init_rng, self.dropout_rng = self.random_streams(seed)
        dims = [self.input_dim, *self.hidden_dims, self.num_classes]
        self.params = self.initial_params(dims, weight_scale, normalization, dtype, init_rng)
        self.bn_params = [{"mode": "train"} for _ in self.hidden_dims] if normalization else []

    # -- the net's layout, initialization and random streams (the batched trainer uses them) --

    @staticmethod
    def random_streams(seed):
        """``(init_rng, dropout_rng)``: the generators a net seeded with ``seed`` draws from.

        The initial weights come from the first, the dropout masks from the
        second (both spawned from ``np.random.SeedSequence(seed)``).
        """
        init_seq, dropout_seq = np.random.SeedSequence(seed).spawn(2)
        return np.random.default_rng(init_seq), np.random.default_rng(dropout_seq)

    @staticmethod
    def parameter_shapes(dims, normalization=None):
        """``[(name, shape), ...]`` of the parameters, in the order of :attr:`params`.

        Parameters
        ----------
        dims : sequence of int
            ``[input_dim, *hidden_dims, num_classes]``.
        normalization : None or str
        """
        shapes = []
        num_layers = len(dims) - 1
        kind = NORMALIZATIONS.get(normalization) if normalization else None
        for layer, (fan_in, fan_out) in enumerate(zip(dims[:-1], dims[1:], strict=True), start=1):
            shapes.append((f"W{layer}", (fan_in, fan_out)))
            shapes.append((f"b{layer}", (fan_out,)))
            if kind is not None and layer < num_layers:
                shapes.extend((f"{prefix}{layer}", (fan_out,)) for prefix, _ in kind.params)
        return shapes

    @staticmethod
    def initial_params(dims, weight_scale, normalization, dtype, rng):
        """The initial parameters: weights ``std * N(0, 1)`` drawn from ``rng`` layer by layer,
        biases zero, normalization parameters at their initial values."""
        kind = NORMALIZATIONS.get(normalization) if normalization else None
        initial = dict(kind.params) if kind is not None else {}
        params = {}
        for name, shape in FullyConnectedNet.parameter_shapes(dims, normalization):
            if name.startswith("W"):
                fan_in, fan_out = shape
                if isinstance(weight_scale, str):
                    std = WEIGHT_SCALE_SCHEMES[weight_scale](fan_in, fan_out)
                else:
                    std = weight_scale
                params[name] = (std * rng.standard_normal(shape)).astype(dtype)
            elif name.startswith("b"):
                params[name] = np.zeros(shape, dtype=dtype)
            else:
                prefix = name.rstrip("0123456789")
                params[name] = np.full(shape, initial[prefix], dtype=dtype)
        return params

    @staticmethod
    def _check_hidden_dims(hidden_dims):
        if isinstance(hidden_dims, (str, bytes)) or not hasattr(hidden_dims, "__len__"):
            raise TypeError(
                f"hidden_dims must be a list of positive integers, got {type(hidden_dims).__name__}"
            )
        if len(hidden_dims) == 0:
            raise ValueError(
                "hidden_dims must list at least one hidden layer width (e.g. [100, 100]), got []"
            )
        if not all(_is_int(h) and h > 0 for h in hidden_dims):
            raise ValueError(
                f"hidden_dims must be a list of positive integers, got {list(hidden_dims)!r}"
            )
        return [int(h) for h in hidden_dims]

    def _check_inputs(self, X, y):
        X = np.asarray(X)
        if X.ndim < 2:
            raise ValueError(
                f"X must have shape (N, ...) with input_dim={self.input_dim} numbers per sample, "
                f"got shape {X.shape}"
            )
        features = int(np.prod(X.shape[1:]))
        if features != self.input_dim:
            raise ValueError(
                f"X has {features} numbers per sample (shape {X.shape}) but the net was built "
                f"with input_dim={self.input_dim}"
            )
        if y is None:
            return X.astype(self.dtype, copy=False), None
        y = np.asarray(y)
        if y.shape != (X.shape[0],):
            raise ValueError(f"y must have shape ({X.shape[0]},) to match X, got {y.shape}")
        if not np.issubdtype(y.dtype, np.integer):
            raise TypeError(f"y must hold integer class labels, got dtype {y.dtype}")
        if y.size and (y.min() < 0 or y.max() >= self.num_classes):
            raise ValueError(
                f"labels y must lie in [0, num_classes) = [0, {self.num_classes}), "
                f"got values in [{y.min()}, {y.max()}]"
            )
        return X.astype(self.dtype, copy=False), y

    def loss(self, X, y=None, *, dropout_seed=None):
        r"""Scores for ``X``, or the loss and gradients when labels are given.

        Parameters
        ----------
        X : array_like, shape (N, d_1, ..., d_k)
            With :math:`d_1 \cdots d_k` = ``input_dim``.
        y : array_like of int, shape (N,), optional
            Labels in ``[0, num_classes)``. Without labels the net runs in test
            mode (batchnorm uses its running averages, dropout is off).
        dropout_seed : int, optional
            Draw this pass's dropout masks from a generator seeded with it
            instead of from :attr:`dropout_rng`, so that repeated calls use the
            same masks (numerical gradient checks need that).

        Returns
        -------
        scores : ndarray, shape (N, num_classes)
            When ``y`` is None.
        loss : float
            When ``y`` is given: data loss plus L2 regularization.
        grads : dict of str to ndarray
            When ``y`` is given: the gradient of the loss for every entry of
            :attr:`params`, same shapes.
        """
        X, y = self._check_inputs(X, y)
        mode = "test" if y is None else "train"
        for bn_param in self.bn_params:
            bn_param["mode"] = mode
        dropout_param = {"mode": mode, "p": self.dropout_keep_ratio}
        if self.use_dropout and mode == "train":
            dropout_param["rng"] = (
                self.dropout_rng if dropout_seed is None else np.random.default_rng(dropout_seed)
            )

        kind = NORMALIZATIONS.get(self.normalization) if self.normalization else None
        hidden = X
        caches = []
        for layer in range(1, self.num_layers):
            w, b = self.params[f"W{layer}"], self.params[f"b{layer}"]
            if kind is not None:
                hidden, cache = kind.forward(
                    hidden,
                    w,
                    b,
                    *(self.params[f"{prefix}{layer}"] for prefix, _ in kind.params),
                    self.bn_params[layer - 1],
                )
            else:
                hidden, cache = affine_relu_forward(hidden, w, b)
            dropout_cache = None
            if self.use_dropout:
                hidden, dropout_cache = dropout_forward(hidden, dropout_param)
            caches.append((cache, dropout_cache))
        last = self.num_layers
        scores, scores_cache = affine_forward(
            hidden, self.params[f"W{last}"], self.params[f"b{last}"]
        )
        if mode == "test":
            return scores

        loss, dscores = softmax_loss(scores, y)
        grads = {}
        dhidden, grads[f"W{last}"], grads[f"b{last}"] = affine_backward(dscores, scores_cache)
        for layer in range(self.num_layers - 1, 0, -1):
            cache, dropout_cache = caches[layer - 1]
            if dropout_cache is not None:
                dhidden = dropout_backward(dhidden, dropout_cache)
            # The input gradient of the first layer is never used.
            compute_dx = layer > 1
            if kind is not None:
                dhidden, grads[f"W{layer}"], grads[f"b{layer}"], *dnorm = kind.backward(
                    dhidden, cache, compute_dx=compute_dx
                )
                for (prefix, _), value in zip(kind.params, dnorm, strict=True):
                    grads[f"{prefix}{layer}"] = value
            else:
                dhidden, grads[f"W{layer}"], grads[f"b{layer}"] = affine_relu_backward(
                    dhidden, cache, compute_dx=compute_dx
                )

        if self.reg:
            for layer in range(1, self.num_layers + 1):
                w = self.params[f"W{layer}"]
                loss += 0.5 * self.reg * float(np.sum(w * w))
                grads[f"W{layer}"] = grads[f"W{layer}"] + self.reg * w
        return loss, grads
