r"""Convolution, max pooling and spatial batch normalization in PyTorch.

The twins of ``reference_numpy/conv.py``. PyTorch ships all three operations, so each function
checks its arguments the same way and then *is* PyTorch's own kernel: ``F.conv2d``,
``F.max_pool2d``, ``F.batch_norm``. (There is one version of each: the NumPy reference's
naive and fast variants are both held against it.)
"""

from __future__ import annotations

import numbers

import torch
import torch.nn.functional as F

from torch_impl.layers import normalize_batch
from torch_impl.validation import check_batch, check_ndim, check_shape


def _int_param(func: str, params: dict, params_name: str, key: str, minimum: int) -> int:
    if not isinstance(params, dict):
        raise ValueError(f"{func}: {params_name} must be a dict, got {type(params).__name__}")
    if key not in params:
        raise ValueError(f"{func}: {params_name} needs {key!r}")
    value = params[key]
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{func}: {params_name}[{key!r}] must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{func}: {params_name}[{key!r}] must be at least {minimum}, got {value}")
    return value


def _check_window(func: str, size: int, window: int, pad: int, axis: str) -> None:
    if window > size + 2 * pad:
        raise ValueError(
            f"{func}: the window is {window} {axis} but the padded input is only "
            f"{size + 2 * pad} {axis} ({size} + 2 * pad {pad})"
        )


def conv(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, conv_param: dict) -> torch.Tensor:
    r"""Convolution (cross-correlation): ``F.conv2d(x, w, b, stride, padding)``.

    Args:
        x: Images, shape ``(N, C, H, W)``.
        w: Filters, shape ``(F, C, HH, WW)``.
        b: Biases, shape ``(F,)``.
        conv_param: ``{'stride': S >= 1, 'pad': P >= 0}``.

    Returns:
        ``out`` of shape ``(N, F, 1 + (H + 2P - HH) // S, 1 + (W + 2P - WW) // S)``.
    """
    func = "conv"
    check_ndim(func, "x", x, 4, "(N, C, H, W)")
    check_batch(func, "x", x)
    check_ndim(func, "w", w, 4, "(F, C, HH, WW)")
    if w.shape[1] != x.shape[1]:
        raise ValueError(
            f"{func}: w has shape {tuple(w.shape)}, whose {w.shape[1]} input channels do not "
            f"match the {x.shape[1]} channels of x {tuple(x.shape)}"
        )
    check_shape(func, "b", b, (w.shape[0],), f"(one bias per filter of w {tuple(w.shape)})")
    stride = _int_param(func, conv_param, "conv_param", "stride", 1)
    pad = _int_param(func, conv_param, "conv_param", "pad", 0)
    _check_window(func, x.shape[2], w.shape[2], pad, "rows")
    _check_window(func, x.shape[3], w.shape[3], pad, "columns")
    return F.conv2d(x, w, b, stride=stride, padding=pad)


def max_pool(x: torch.Tensor, pool_param: dict) -> torch.Tensor:
    r"""Max pooling: ``F.max_pool2d(x, (PH, PW), stride)``.

    Args:
        x: Inputs, shape ``(N, C, H, W)``.
        pool_param: ``{'pool_height': PH, 'pool_width': PW, 'stride': S}``, each at least 1.

    Returns:
        ``out`` of shape ``(N, C, 1 + (H - PH) // S, 1 + (W - PW) // S)``.
    """
    func = "max_pool"
    check_ndim(func, "x", x, 4, "(N, C, H, W)")
    check_batch(func, "x", x)
    height = _int_param(func, pool_param, "pool_param", "pool_height", 1)
    width = _int_param(func, pool_param, "pool_param", "pool_width", 1)
    stride = _int_param(func, pool_param, "pool_param", "stride", 1)
    _check_window(func, x.shape[2], height, 0, "rows")
    _check_window(func, x.shape[3], width, 0, "columns")
    return F.max_pool2d(x, (height, width), stride=stride)


def spatial_batchnorm(
    x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, bn_param: dict
) -> torch.Tensor:
    r"""Batch normalization of each channel over the batch and all positions: ``F.batch_norm``
    on ``(N, C, H, W)`` inputs, with the running statistics of ``torch_impl.layers.batchnorm``.

    Args:
        x: Inputs, shape ``(N, C, H, W)``.
        gamma: Scales, shape ``(C,)``.
        beta: Shifts, shape ``(C,)``.
        bn_param: As for ``torch_impl.layers.batchnorm``, statistics of shape ``(C,)``.

    Returns:
        ``out`` of shape ``(N, C, H, W)``.
    """
    check_ndim("spatial_batchnorm", "x", x, 4, "(N, C, H, W)")
    return normalize_batch("spatial_batchnorm", x, gamma, beta, bn_param, dims=(0, 2, 3))
