r"""Fully connected layers and elementwise activations, forward and hand-derived backward.

Every layer is a pair of free functions in the classic form:

* ``name_forward(inputs..., [config]) -> (out, cache)``
* ``name_backward(dout, cache) -> gradient for each differentiable input, in input order``

The cache is a plain tuple holding what the backward derivation needs and nothing else.
No function modifies its inputs or the upstream gradient ``dout``. The derivations are in
``docs/derivations/``; ``torch_impl/layers.py`` holds the PyTorch twins.
"""

from __future__ import annotations

import numpy as np

from reference_numpy.validation import (
    check_array,
    check_choice,
    check_min_ndim,
    check_ndim,
    check_probability,
    check_real,
    check_shape,
)

# --------------------------------------------------------------------------------------------
# Affine
# --------------------------------------------------------------------------------------------


def affine_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray):
    r"""Affine (fully connected) layer.

    Each example is flattened into a row of :math:`D = d_1 \cdots d_k` numbers, giving
    :math:`\tilde x` of shape ``(N, D)``, and

    .. math::

        \mathrm{out} = \tilde x W + b, \qquad
        \mathrm{out}_{nm} = \sum_{d=1}^{D} \tilde x_{nd} W_{dm} + b_m .

    Args:
        x: Inputs, shape ``(N, d_1, ..., d_k)``.
        w: Weights, shape ``(D, M)``.
        b: Biases, shape ``(M,)``.

    Returns:
        ``(out, cache)``: ``out`` of shape ``(N, M)``; ``cache = (x, w)``.
    """
    func = "affine_forward"
    check_min_ndim(func, "x", x, 2, "(N, d_1, ..., d_k)")
    check_ndim(func, "w", w, 2, "(D, M)")
    n = x.shape[0]
    d = int(np.prod(x.shape[1:], dtype=np.int64))
    check_shape(
        func, "w", w, (d, w.shape[1]), f"(D rows, D = {d} numbers per example of x {x.shape})"
    )
    check_shape(func, "b", b, (w.shape[1],), f"(one bias per column of w {w.shape})")
    out = x.reshape(n, d) @ w + b
    return out, (x, w)


def affine_backward(dout: np.ndarray, cache):
    r"""Backward pass of :func:`affine_forward`.

    .. math::

        \frac{\partial L}{\partial \tilde x} = \mathrm{dout}\, W^\top, \qquad
        \frac{\partial L}{\partial W} = \tilde x^\top \mathrm{dout}, \qquad
        \frac{\partial L}{\partial b} = \sum_n \mathrm{dout}_{n\cdot}

    Args:
        dout: Upstream gradient, shape ``(N, M)``.
        cache: ``(x, w)`` from :func:`affine_forward`.

    Returns:
        ``(dx, dw, db)`` with the shapes of ``x``, ``w`` and ``b``.
    """
    x, w = cache
    n = x.shape[0]
    check_shape("affine_backward", "dout", dout, (n, w.shape[1]), "(N, M), the shape of out")
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(n, -1).T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db


# --------------------------------------------------------------------------------------------
# ReLU and leaky ReLU
# --------------------------------------------------------------------------------------------


def relu_forward(x: np.ndarray):
    r"""Rectified linear unit, elementwise: :math:`\mathrm{out} = \max(0, x)`.

    Args:
        x: Inputs of any shape.

    Returns:
        ``(out, cache)``: ``out`` with the shape of ``x``; ``cache = x``.
    """
    check_array("relu_forward", "x", x)
    return np.maximum(x, 0), x


def relu_backward(dout: np.ndarray, cache):
    r"""Backward pass of :func:`relu_forward`: :math:`dx = \mathrm{dout} \cdot [x > 0]`.

    The derivative at exactly :math:`x = 0` is taken to be 0, as in PyTorch.

    Args:
        dout: Upstream gradient, the shape of ``x``.
        cache: ``x`` from :func:`relu_forward`.

    Returns:
        ``dx`` with the shape of ``x``.
    """
    x = cache
    check_shape("relu_backward", "dout", dout, x.shape, "(the shape of x)")
    return dout * (x > 0)


def leaky_relu_forward(x: np.ndarray, alpha: float = 0.01):
    r"""Leaky ReLU, elementwise: :math:`\mathrm{out} = x` where :math:`x > 0`, else
    :math:`\alpha x`.

    Args:
        x: Inputs of any shape.
        alpha: Slope for negative inputs (PyTorch's ``negative_slope``).

    Returns:
        ``(out, cache)``: ``out`` with the shape of ``x``; ``cache = (x, alpha)``.
    """
    func = "leaky_relu_forward"
    check_array(func, "x", x)
    alpha = check_real(func, "alpha", alpha)
    return np.where(x > 0, x, alpha * x), (x, alpha)


def leaky_relu_backward(dout: np.ndarray, cache):
    r"""Backward pass of :func:`leaky_relu_forward`: :math:`dx = \mathrm{dout} \cdot (1` where
    :math:`x > 0`, else :math:`\alpha)`.

    Args:
        dout: Upstream gradient, the shape of ``x``.
        cache: ``(x, alpha)`` from :func:`leaky_relu_forward`.

    Returns:
        ``dx`` with the shape of ``x``.
    """
    x, alpha = cache
    check_shape("leaky_relu_backward", "dout", dout, x.shape, "(the shape of x)")
    return np.where(x > 0, dout, alpha * dout)


# --------------------------------------------------------------------------------------------
# Dropout
# --------------------------------------------------------------------------------------------


def dropout_mask(shape: tuple, p: float, seed: int | None = None) -> np.ndarray:
    """The keep-mask dropout uses: ``True`` where an entry survives (probability ``1 - p``).

    The same ``seed`` always gives the same mask, so a cross-check can hand the very mask
    :func:`dropout_forward` draws to the PyTorch version.

    Args:
        shape: Shape of the input.
        p: Probability of zeroing an entry.
        seed: Seed of a fresh ``numpy.random.default_rng``; ``None`` draws fresh entropy.

    Returns:
        Boolean array of the given shape.
    """
    return np.random.default_rng(seed).random(shape) >= p


def _dropout_settings(func: str, dropout_param) -> tuple[float, str, int | None]:
    if not isinstance(dropout_param, dict):
        raise ValueError(
            f"{func}: dropout_param must be a dict with keys 'p', 'mode' and optionally 'seed', "
            f"got {type(dropout_param).__name__}"
        )
    if "p" not in dropout_param:
        raise ValueError(f"{func}: dropout_param needs 'p', the probability of zeroing an entry")
    p = check_probability(func, "dropout_param['p']", dropout_param["p"])
    mode = dropout_param.get("mode", "train")
    check_choice(func, "dropout_param['mode']", mode, ("train", "test"))
    seed = dropout_param.get("seed")
    return p, mode, seed


def dropout_forward(x: np.ndarray, dropout_param: dict):
    r"""Inverted dropout.

    In training mode each entry is zeroed with probability :math:`p` and the survivors are
    scaled by :math:`1/(1-p)`, so that the expected output equals the input:

    .. math::

        \mathrm{out} = x \odot m / (1 - p), \qquad m_i \sim \mathrm{Bernoulli}(1 - p).

    In test mode the layer is the identity. :math:`p = 1` zeroes everything.

    Args:
        x: Inputs of any shape.
        dropout_param: ``{'p': probability of zeroing (as in PyTorch), 'mode': 'train' or
            'test' (default 'train'), 'seed': optional int making the mask reproducible}``.

    Returns:
        ``(out, cache)``: ``out`` with the shape of ``x``; ``cache = (shape, multiplier)``
        where ``multiplier = m / (1 - p)`` in training mode and ``None`` in test mode.
    """
    func = "dropout_forward"
    check_array(func, "x", x)
    p, mode, seed = _dropout_settings(func, dropout_param)
    if mode == "test":
        return x.copy(), (x.shape, None)
    dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64
    keep_scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    multiplier = dropout_mask(x.shape, p, seed).astype(dtype) * dtype.type(keep_scale)
    return x * multiplier, (x.shape, multiplier)


def dropout_backward(dout: np.ndarray, cache):
    r"""Backward pass of :func:`dropout_forward`: :math:`dx = \mathrm{dout} \odot m / (1-p)` in
    training mode, :math:`dx = \mathrm{dout}` in test mode.

    Args:
        dout: Upstream gradient, the shape of ``x``.
        cache: ``(shape, multiplier)`` from :func:`dropout_forward`.

    Returns:
        ``dx`` with the shape of ``x``.
    """
    shape, multiplier = cache
    check_shape("dropout_backward", "dout", dout, shape, "(the shape of x)")
    if multiplier is None:
        return dout.copy()
    return dout * multiplier
