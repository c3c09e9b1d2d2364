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
    check_batch,
    check_choice,
    check_min_ndim,
    check_ndim,
    check_probability,
    check_real,
    check_shape,
    format_shape,
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
    check_batch(func, "x", x)
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
    check_batch("relu_forward", "x", x)
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
    check_batch(func, "x", x)
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
    check_batch(func, "x", x)
    p, mode, seed = _dropout_settings(func, dropout_param)
    if mode == "test":
        return x.copy(), (x.shape, None)
    # Integer and boolean inputs are scaled in float64: 1/(1-p) is not an integer.
    dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.dtype(np.float64)
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


# --------------------------------------------------------------------------------------------
# Batch normalization and layer normalization
# --------------------------------------------------------------------------------------------


def check_scale_shift(func: str, x, gamma, beta, per: str = "feature") -> None:
    """Fail unless ``gamma`` and ``beta`` hold one number per column (``per``) of ``x``, a
    non-empty batch whose axis 1 holds the features or channels."""
    check_batch(func, "x", x)
    d = x.shape[1]
    shape = format_shape(x.shape)
    check_shape(func, "gamma", gamma, (d,), f"(one scale per {per} of x {shape})")
    check_shape(func, "beta", beta, (d,), f"(one shift per {per} of x {shape})")


def _positive(func: str, name: str, value) -> float:
    value = check_real(func, name, value)
    if value <= 0:
        raise ValueError(f"{func}: {name} must be positive, got {value!r}")
    return value


def _batchnorm_settings(func: str, bn_param, d: int, dtype):
    """``(mode, eps, momentum, running_mean, running_var)`` from ``bn_param``, checked."""
    if not isinstance(bn_param, dict):
        raise ValueError(f"{func}: bn_param must be a dict, got {type(bn_param).__name__}")
    if "mode" not in bn_param:
        raise ValueError(f"{func}: bn_param needs 'mode', 'train' or 'test'")
    mode = bn_param["mode"]
    check_choice(func, "bn_param['mode']", mode, ("train", "test"))
    eps = _positive(func, "bn_param['eps']", bn_param.get("eps", 1e-5))
    momentum = check_probability(func, "bn_param['momentum']", bn_param.get("momentum", 0.9))
    running_mean = bn_param.get("running_mean", np.zeros(d, dtype=dtype))
    running_var = bn_param.get("running_var", np.ones(d, dtype=dtype))
    check_shape(func, "bn_param['running_mean']", running_mean, (d,), "(one per feature)")
    check_shape(func, "bn_param['running_var']", running_var, (d,), "(one per feature)")
    return mode, eps, momentum, running_mean, running_var


def batchnorm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, bn_param: dict):
    r"""Batch normalization: normalize every feature over the batch, then scale and shift.

    In training mode, with the batch statistics of feature :math:`d`,

    .. math::

        \mu_d = \frac1N \sum_n x_{nd}, \qquad
        \sigma_d^2 = \frac1N \sum_n (x_{nd} - \mu_d)^2, \qquad
        \hat x_{nd} = \frac{x_{nd} - \mu_d}{\sqrt{\sigma_d^2 + \epsilon}}, \qquad
        \mathrm{out}_{nd} = \gamma_d \hat x_{nd} + \beta_d,

    and the running statistics are updated in ``bn_param`` as in the classic assignment,
    :math:`r \leftarrow m\, r + (1 - m)\, s` with momentum :math:`m` the weight of the old
    value, for the mean and for the (biased) variance. In test mode the running statistics
    replace :math:`\mu` and :math:`\sigma^2`.

    Args:
        x: Inputs, shape ``(N, D)``.
        gamma: Scales, shape ``(D,)``.
        beta: Shifts, shape ``(D,)``.
        bn_param: ``{'mode': 'train' or 'test', 'eps': 1e-5, 'momentum': 0.9,
            'running_mean': (D,) array, 'running_var': (D,) array}``; only ``mode`` is
            required. Missing running statistics start at mean 0 and variance 1. In training
            mode the two running arrays are replaced by their updated values.

    Returns:
        ``(out, cache)``: ``out`` of shape ``(N, D)``;
        ``cache = (mode, x_hat, gamma, std)`` with ``std`` of shape ``(D,)``.
    """
    func = "batchnorm_forward"
    check_ndim(func, "x", x, 2, "(N, D)")
    check_scale_shift(func, x, gamma, beta)
    return normalize_rows(func, x, gamma, beta, bn_param)


def normalize_rows(func: str, x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, bn_param):
    """The computation of :func:`batchnorm_forward` on checked ``(N, D)`` inputs; ``func`` is
    the public function named in errors (``spatial_batchnorm_forward`` calls it too)."""
    mode, eps, momentum, running_mean, running_var = _batchnorm_settings(
        func, bn_param, x.shape[1], x.dtype
    )
    if mode == "train":
        mean = x.mean(axis=0)
        var = ((x - mean) ** 2).mean(axis=0)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mean
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    else:
        mean, var = running_mean, running_var
    std = np.sqrt(var + eps)
    x_hat = (x - mean) / std
    return gamma * x_hat + beta, (mode, x_hat, gamma, std)


def batchnorm_backward(dout: np.ndarray, cache):
    r"""Backward pass of :func:`batchnorm_forward`, one node of the computation graph at a time.

    The forward pass is the chain :math:`\mu \to x_c = x - \mu \to \sigma^2 \to
    s = (\sigma^2 + \epsilon)^{-1/2} \to \hat x = x_c s \to \mathrm{out}`; this function walks
    it backwards, adding the contributions of every path (see the derivation page). In test
    mode the statistics are constants and
    :math:`\overline{x} = \gamma\,\overline{\mathrm{out}} / \mathrm{std}`.

    Args:
        dout: Upstream gradient, shape ``(N, D)``.
        cache: ``(mode, x_hat, gamma, std)`` from :func:`batchnorm_forward`.

    Returns:
        ``(dx, dgamma, dbeta)`` of shapes ``(N, D)``, ``(D,)``, ``(D,)``.
    """
    mode, x_hat, gamma, std = cache
    check_shape("batchnorm_backward", "dout", dout, x_hat.shape, "(N, D), the shape of x")
    n = x_hat.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx_hat = dout * gamma
    if mode == "test":
        return dx_hat / std, dgamma, dbeta

    x_centred = x_hat * std  # x - mu
    inv_std = 1.0 / std  # s = (var + eps)^(-1/2)
    # x_hat = x_centred * inv_std
    dx_centred = dx_hat * inv_std
    dinv_std = (dx_hat * x_centred).sum(axis=0)
    # inv_std = (var + eps)^(-1/2)
    dvar = dinv_std * (-0.5) * inv_std**3
    # var = mean(x_centred^2): a second path into x_centred
    dx_centred = dx_centred + dvar * 2.0 * x_centred / n
    # x_centred = x - mu and mu = mean(x)
    dmean = -dx_centred.sum(axis=0)
    dx = dx_centred + dmean / n
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout: np.ndarray, cache):
    r"""Backward pass of :func:`batchnorm_forward` in one compact formula.

    Simplifying the graph walk of :func:`batchnorm_backward` gives, per feature,

    .. math::

        \overline{x} = \frac{1}{N \cdot \mathrm{std}} \left( N\, \overline{\hat x}
            - \textstyle\sum_n \overline{\hat x}
            - \hat x \sum_n \overline{\hat x} \odot \hat x \right),
        \qquad \overline{\hat x} = \gamma\, \overline{\mathrm{out}} .

    Args:
        dout: Upstream gradient, shape ``(N, D)``.
        cache: ``(mode, x_hat, gamma, std)`` from :func:`batchnorm_forward`.

    Returns:
        ``(dx, dgamma, dbeta)`` of shapes ``(N, D)``, ``(D,)``, ``(D,)``.
    """
    mode, x_hat, gamma, std = cache
    check_shape("batchnorm_backward_alt", "dout", dout, x_hat.shape, "(N, D), the shape of x")
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx_hat = dout * gamma
    if mode == "test":
        return dx_hat / std, dgamma, dbeta
    n = x_hat.shape[0]
    dx = (n * dx_hat - dx_hat.sum(axis=0) - x_hat * (dx_hat * x_hat).sum(axis=0)) / (n * std)
    return dx, dgamma, dbeta


def layernorm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, ln_param: dict):
    r"""Layer normalization: normalize every example over its features, then scale and shift.

    .. math::

        \mu_n = \frac1D \sum_d x_{nd}, \qquad
        \sigma_n^2 = \frac1D \sum_d (x_{nd} - \mu_n)^2, \qquad
        \mathrm{out}_{nd} = \gamma_d \frac{x_{nd} - \mu_n}{\sqrt{\sigma_n^2 + \epsilon}} + \beta_d .

    The statistics belong to each example, so training and test mode are the same and there
    are no running statistics.

    Args:
        x: Inputs, shape ``(N, D)``.
        gamma: Scales, shape ``(D,)``.
        beta: Shifts, shape ``(D,)``.
        ln_param: ``{'eps': 1e-5}`` (optional keys).

    Returns:
        ``(out, cache)``: ``out`` of shape ``(N, D)``; ``cache = (x_hat, gamma, std)`` with
        ``std`` of shape ``(N, 1)``.
    """
    func = "layernorm_forward"
    check_ndim(func, "x", x, 2, "(N, D)")
    check_scale_shift(func, x, gamma, beta)
    if not isinstance(ln_param, dict):
        raise ValueError(f"{func}: ln_param must be a dict, got {type(ln_param).__name__}")
    eps = _positive(func, "ln_param['eps']", ln_param.get("eps", 1e-5))
    mean = x.mean(axis=1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=1, keepdims=True)
    std = np.sqrt(var + eps)
    x_hat = (x - mean) / std
    return gamma * x_hat + beta, (x_hat, gamma, std)


def layernorm_backward(dout: np.ndarray, cache):
    r"""Backward pass of :func:`layernorm_forward`: the batch-norm formula along the features.

    .. math::

        \overline{x} = \frac{1}{D \cdot \mathrm{std}} \left( D\, \overline{\hat x}
            - \textstyle\sum_d \overline{\hat x}
            - \hat x \sum_d \overline{\hat x} \odot \hat x \right),
        \qquad \overline{\hat x} = \gamma\, \overline{\mathrm{out}},

    with the sums over the features of each example.

    Args:
        dout: Upstream gradient, shape ``(N, D)``.
        cache: ``(x_hat, gamma, std)`` from :func:`layernorm_forward`.

    Returns:
        ``(dx, dgamma, dbeta)`` of shapes ``(N, D)``, ``(D,)``, ``(D,)``.
    """
    x_hat, gamma, std = cache
    check_shape("layernorm_backward", "dout", dout, x_hat.shape, "(N, D), the shape of x")
    d = x_hat.shape[1]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx_hat = dout * gamma
    dx = (
        d * dx_hat
        - dx_hat.sum(axis=1, keepdims=True)
        - x_hat * (dx_hat * x_hat).sum(axis=1, keepdims=True)
    ) / (d * std)
    return dx, dgamma, dbeta
