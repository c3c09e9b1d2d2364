r"""The classic "sandwich" layers in PyTorch: the twins of ``reference_numpy/layer_utils.py``.

Each function is its chain of ``torch_impl`` layers; autograd differentiates the chain.
"""

from __future__ import annotations

import torch

from torch_impl.conv import conv, max_pool, spatial_batchnorm
from torch_impl.layers import affine, relu
from torch_impl.validation import check_batch, check_tensor


def _check_batch(func: str, x) -> None:
    """The sandwich names itself when it refuses an empty batch (its layers would too)."""
    check_tensor(func, "x", x)
    check_batch(func, "x", x)


def affine_relu(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    r""":math:`\max(0, \tilde x W + b)`; shapes as in ``torch_impl.layers.affine``."""
    _check_batch("affine_relu", x)
    return relu(affine(x, w, b))


def conv_relu(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, conv_param: dict) -> torch.Tensor:
    r""":math:`\max(0, x \star w + b)`; shapes as in ``torch_impl.conv.conv``."""
    _check_batch("conv_relu", x)
    return relu(conv(x, w, b, conv_param))


def conv_bn_relu(
    x: torch.Tensor,
    w: torch.Tensor,
    b: torch.Tensor,
    gamma: torch.Tensor,
    beta: torch.Tensor,
    conv_param: dict,
    bn_param: dict,
) -> torch.Tensor:
    r""":math:`\max(0, \mathrm{BN}_{\gamma,\beta}(x \star w + b))`; ``gamma`` and ``beta`` of
    shape ``(F,)``, ``bn_param`` as in ``torch_impl.conv.spatial_batchnorm``."""
    _check_batch("conv_bn_relu", x)
    return relu(spatial_batchnorm(conv(x, w, b, conv_param), gamma, beta, bn_param))


def conv_relu_pool(
    x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, conv_param: dict, pool_param: dict
) -> torch.Tensor:
    r""":math:`\mathrm{maxpool}(\max(0, x \star w + b))`; shapes as in ``torch_impl.conv``."""
    _check_batch("conv_relu_pool", x)
    return max_pool(relu(conv(x, w, b, conv_param)), pool_param)
