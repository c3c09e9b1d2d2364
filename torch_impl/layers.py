r"""Fully connected layers and elementwise activations in PyTorch; gradients come from autograd.

The twins of ``reference_numpy/layers.py``, under the same names without ``_forward``:
``affine(x, w, b)``, ``relu(x)``, ``leaky_relu(x, alpha)``, ``dropout(x, dropout_param)``.
Where PyTorch ships the operation, the function *is* that operation, so the cross-check holds
the hand-derived NumPy code against PyTorch's own kernels.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from torch_impl.validation import (
    check_choice,
    check_min_ndim,
    check_ndim,
    check_probability,
    check_real,
    check_shape,
    check_tensor,
)


def affine(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    r"""Affine layer, :math:`\mathrm{out} = \tilde x W + b` with :math:`\tilde x` = ``x``
    flattened to ``(N, D)``.

    Args:
        x: Inputs, shape ``(N, d_1, ..., d_k)``.
        w: Weights, shape ``(D, M)`` with ``D = d_1 * ... * d_k``.
        b: Biases, shape ``(M,)``.

    Returns:
        ``out`` of shape ``(N, M)``.
    """
    func = "affine"
    check_min_ndim(func, "x", x, 2, "(N, d_1, ..., d_k)")
    check_ndim(func, "w", w, 2, "(D, M)")
    n = x.shape[0]
    d = math.prod(x.shape[1:])
    check_shape(
        func,
        "w",
        w,
        (d, w.shape[1]),
        f"(D rows, D = {d} numbers per example of x {tuple(x.shape)})",
    )
    check_shape(func, "b", b, (w.shape[1],), f"(one bias per column of w {tuple(w.shape)})")
    return x.reshape(n, d) @ w + b


def relu(x: torch.Tensor) -> torch.Tensor:
    r"""ReLU, :math:`\max(0, x)` elementwise: ``torch.relu``."""
    check_tensor("relu", "x", x)
    return torch.relu(x)


def leaky_relu(x: torch.Tensor, alpha: float = 0.01) -> torch.Tensor:
    r"""Leaky ReLU, :math:`x` where :math:`x > 0` else :math:`\alpha x`: ``F.leaky_relu``."""
    check_tensor("leaky_relu", "x", x)
    alpha = check_real("leaky_relu", "alpha", alpha)
    return F.leaky_relu(x, negative_slope=alpha)


def dropout(x: torch.Tensor, dropout_param: dict, mask: torch.Tensor | None = None) -> torch.Tensor:
    r"""Inverted dropout, :math:`\mathrm{out} = x \odot m / (1 - p)` in training mode.

    ``F.dropout`` computes the same thing but draws its mask from PyTorch's global generator,
    which a cross-check cannot share. This version takes the keep-mask ``m`` explicitly, or
    draws it from a ``torch.Generator`` seeded with ``dropout_param['seed']``.

    Args:
        x: Inputs of any shape.
        dropout_param: ``{'p': probability of zeroing, 'mode': 'train' or 'test'
            (default 'train'), 'seed': optional int}``, as in ``reference_numpy``.
        mask: Optional boolean keep-mask with the shape of ``x`` (``True`` keeps an entry).

    Returns:
        ``out`` with the shape of ``x``.
    """
    func = "dropout"
    check_tensor(func, "x", x)
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
    if mode == "test":
        return x.clone()
    if mask is None:
        generator = torch.Generator(device=x.device)
        seed = dropout_param.get("seed")
        if seed is None:
            generator.seed()
        else:
            generator.manual_seed(int(seed))
        mask = torch.rand(x.shape, generator=generator, device=x.device, dtype=torch.float64) >= p
    else:
        check_shape(func, "mask", mask, tuple(x.shape), "(the shape of x)")
    keep_scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    return x * (mask.to(x.dtype) * keep_scale)
