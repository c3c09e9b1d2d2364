r"""The classic "sandwich" layers: common chains of layers as one forward/backward pair.

Each forward pass runs the layers of its chain in order and keeps their caches; each backward
pass runs their backward passes in reverse order. That is the chain rule and nothing more: if
:math:`\mathrm{out} = g(f(x))`, then :math:`\overline{x} = f'^{\top}\,(g'^{\top}\,
\overline{\mathrm{out}})`, each factor one layer's hand-derived backward pass. The derivation
is on the docs page "Sandwich layers"; ``torch_impl/layer_utils.py`` holds the PyTorch twins.

The chains are those of the classic assignments: affine - ReLU, conv - ReLU,
conv - spatial batch norm - ReLU, and conv - ReLU - 2x2 max pool. The convolutions and the
pooling use the fast versions from ``reference_numpy.conv``.
"""

from __future__ import annotations

import numpy as np

from reference_numpy.conv import (
    conv_backward_fast,
    conv_forward_fast,
    max_pool_backward_fast,
    max_pool_forward_fast,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
)
from reference_numpy.layers import affine_backward, affine_forward, relu_backward, relu_forward
from reference_numpy.validation import check_array, check_batch


def _check_batch(func: str, x) -> None:
    """The sandwich names itself when it refuses an empty batch (its layers would too)."""
    check_array(func, "x", x)
    check_batch(func, "x", x)


def affine_relu_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray):
    r"""Affine layer followed by a ReLU: :math:`\mathrm{out} = \max(0, \tilde x W + b)`.

    Args:
        x: Inputs, shape ``(N, d_1, ..., d_k)``.
        w: Weights, shape ``(D, M)`` with ``D = d_1 * ... * d_k``.
        b: Biases, shape ``(M,)``.

    Returns:
        ``(out, cache)``: ``out`` of shape ``(N, M)``; ``cache = (affine_cache, relu_cache)``.
    """
    _check_batch("affine_relu_forward", x)
    a, affine_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(a)
    return out, (affine_cache, relu_cache)


def affine_relu_backward(dout: np.ndarray, cache):
    r"""Backward pass of :func:`affine_relu_forward`:
    :math:`\overline{a} = \overline{\mathrm{out}} \odot [a > 0]`, then the affine backward.

    Args:
        dout: Upstream gradient, shape ``(N, M)``.
        cache: From :func:`affine_relu_forward`.

    Returns:
        ``(dx, dw, db)`` with the shapes of ``x``, ``w`` and ``b``.
    """
    affine_cache, relu_cache = cache
    da = relu_backward(dout, relu_cache)
    return affine_backward(da, affine_cache)


def conv_relu_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict):
    r"""Convolution followed by a ReLU: :math:`\mathrm{out} = \max(0, x \star w + b)`.

    Args:
        x: Images, shape ``(N, C, H, W)``.
        w: Filters, shape ``(F, C, HH, WW)``.
        b: Biases, shape ``(F,)``.
        conv_param: ``{'stride': S, 'pad': P}``.

    Returns:
        ``(out, cache)``: ``out`` of shape ``(N, F, H', W')``;
        ``cache = (conv_cache, relu_cache)``.
    """
    _check_batch("conv_relu_forward", x)
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)
    out, relu_cache = relu_forward(a)
    return out, (conv_cache, relu_cache)


def conv_relu_backward(dout: np.ndarray, cache):
    r"""Backward pass of :func:`conv_relu_forward`: the ReLU backward, then the convolution's.

    Args:
        dout: Upstream gradient, shape ``(N, F, H', W')``.
        cache: From :func:`conv_relu_forward`.

    Returns:
        ``(dx, dw, db)`` with the shapes of ``x``, ``w`` and ``b``.
    """
    conv_cache, relu_cache = cache
    da = relu_backward(dout, relu_cache)
    return conv_backward_fast(da, conv_cache)


def conv_bn_relu_forward(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    conv_param: dict,
    bn_param: dict,
):
    r"""Convolution, spatial batch normalization, ReLU:
    :math:`\mathrm{out} = \max(0, \mathrm{BN}_{\gamma,\beta}(x \star w + b))`.

    Args:
        x: Images, shape ``(N, C, H, W)``.
        w: Filters, shape ``(F, C, HH, WW)``.
        b: Biases, shape ``(F,)``.
        gamma: Scales, shape ``(F,)``.
        beta: Shifts, shape ``(F,)``.
        conv_param: ``{'stride': S, 'pad': P}``.
        bn_param: As for ``reference_numpy.conv.spatial_batchnorm_forward``; its running
            statistics are updated in training mode.

    Returns:
        ``(out, cache)``: ``out`` of shape ``(N, F, H', W')``;
        ``cache = (conv_cache, bn_cache, relu_cache)``.
    """
    _check_batch("conv_bn_relu_forward", x)
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)
    an, bn_cache = spatial_batchnorm_forward(a, gamma, beta, bn_param)
    out, relu_cache = relu_forward(an)
    return out, (conv_cache, bn_cache, relu_cache)


def conv_bn_relu_backward(dout: np.ndarray, cache):
    r"""Backward pass of :func:`conv_bn_relu_forward`: ReLU, batch norm, then convolution.

    Args:
        dout: Upstream gradient, shape ``(N, F, H', W')``.
        cache: From :func:`conv_bn_relu_forward`.

    Returns:
        ``(dx, dw, db, dgamma, dbeta)`` with the shapes of ``x``, ``w``, ``b``, ``gamma``,
        ``beta``.
    """
    conv_cache, bn_cache, relu_cache = cache
    dan = relu_backward(dout, relu_cache)
    da, dgamma, dbeta = spatial_batchnorm_backward(dan, bn_cache)
    dx, dw, db = conv_backward_fast(da, conv_cache)
    return dx, dw, db, dgamma, dbeta


def conv_relu_pool_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict, pool_param: dict
):
    r"""Convolution, ReLU, max pooling:
    :math:`\mathrm{out} = \mathrm{maxpool}(\max(0, x \star w + b))`.

    Args:
        x: Images, shape ``(N, C, H, W)``.
        w: Filters, shape ``(F, C, HH, WW)``.
        b: Biases, shape ``(F,)``.
        conv_param: ``{'stride': S, 'pad': P}``.
        pool_param: ``{'pool_height': PH, 'pool_width': PW, 'stride': S}``.

    Returns:
        ``(out, cache)``: ``out`` of shape ``(N, F, H'', W'')``;
        ``cache = (conv_cache, relu_cache, pool_cache)``.
    """
    _check_batch("conv_relu_pool_forward", x)
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)
    s, relu_cache = relu_forward(a)
    out, pool_cache = max_pool_forward_fast(s, pool_param)
    return out, (conv_cache, relu_cache, pool_cache)


def conv_relu_pool_backward(dout: np.ndarray, cache):
    r"""Backward pass of :func:`conv_relu_pool_forward`: pooling, ReLU, then convolution.

    Args:
        dout: Upstream gradient, shape ``(N, F, H'', W'')``.
        cache: From :func:`conv_relu_pool_forward`.

    Returns:
        ``(dx, dw, db)`` with the shapes of ``x``, ``w`` and ``b``.
    """
    conv_cache, relu_cache, pool_cache = cache
    ds = max_pool_backward_fast(dout, pool_cache)
    da = relu_backward(ds, relu_cache)
    return conv_backward_fast(da, conv_cache)
