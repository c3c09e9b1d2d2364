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
    check_batch,
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
    check_batch(func, "x", x)
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
    check_batch("relu", "x", x)
    return torch.relu(x)


def leaky_relu(x: torch.Tensor, alpha: float = 0.01) -> torch.Tensor:
    r"""Leaky ReLU, :math:`x` where :math:`x > 0` else :math:`\alpha x`: ``F.leaky_relu``."""
    check_tensor("leaky_relu", "x", x)
    check_batch("leaky_relu", "x", x)
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
    check_batch(func, "x", x)
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
    return x * (mask.to(device=x.device, dtype=x.dtype) * keep_scale)


# --------------------------------------------------------------------------------------------
# Batch normalization and layer normalization
# --------------------------------------------------------------------------------------------


def _positive(func: str, name: str, value) -> float:
    value = check_real(func, name, value)
    if value <= 0:
        raise ValueError(f"{func}: {name} must be positive, got {value!r}")
    return value


def batchnorm_statistics(func: str, x: torch.Tensor, bn_param: dict, channels: int):
    """Read and check ``bn_param``; running statistics come back as tensors on ``x``'s device.

    Returns:
        ``(mode, eps, momentum, running_mean, running_var)``.
    """
    if not isinstance(bn_param, dict):
        raise ValueError(f"{func}: bn_param must be a dict, got {type(bn_param).__name__}")
    if "mode" not in bn_param:
        raise ValueError(f"{func}: bn_param needs 'mode', 'train' or 'test'")
    mode = bn_param["mode"]
    check_choice(func, "bn_param['mode']", mode, ("train", "test"))
    eps = _positive(func, "bn_param['eps']", bn_param.get("eps", 1e-5))
    momentum = check_probability(func, "bn_param['momentum']", bn_param.get("momentum", 0.9))
    options = {"dtype": x.dtype, "device": x.device}
    running_mean = torch.as_tensor(bn_param.get("running_mean", torch.zeros(channels)), **options)
    running_var = torch.as_tensor(bn_param.get("running_var", torch.ones(channels)), **options)
    check_shape(func, "bn_param['running_mean']", running_mean, (channels,), "(one per feature)")
    check_shape(func, "bn_param['running_var']", running_var, (channels,), "(one per feature)")
    return mode, eps, momentum, running_mean, running_var


def normalize_batch(func: str, x, gamma, beta, bn_param: dict, dims: tuple[int, ...]):
    """``F.batch_norm`` with the classic running-statistics update, shared by the flat and the
    spatial version; ``dims`` are the dimensions the statistics are taken over."""
    check_batch(func, "x", x)
    channels = x.shape[1]
    check_shape(func, "gamma", gamma, (channels,), f"(one scale per channel of x {tuple(x.shape)})")
    check_shape(func, "beta", beta, (channels,), f"(one shift per channel of x {tuple(x.shape)})")
    mode, eps, momentum, running_mean, running_var = batchnorm_statistics(
        func, x, bn_param, channels
    )
    if mode == "test":
        return F.batch_norm(x, running_mean, running_var, gamma, beta, training=False, eps=eps)
    out = F.batch_norm(x, None, None, gamma, beta, training=True, eps=eps)
    with torch.no_grad():
        mean = x.mean(dim=dims)
        var = x.var(dim=dims, unbiased=False)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mean
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    return out


def batchnorm(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, bn_param: dict):
    r"""Batch normalization of ``(N, D)`` inputs: ``F.batch_norm``.

    The running statistics follow the classic assignment, as in ``reference_numpy``:
    :math:`r \leftarrow m\, r + (1 - m)\, s` with ``momentum`` :math:`m` (default 0.9) the
    weight of the old value and the biased batch variance. (``nn.BatchNorm1d`` instead uses
    momentum 0.1 as the weight of the new value and the unbiased variance.) Running statistics
    may be given as arrays or tensors; they are stored back as tensors.

    Args:
        x: Inputs, shape ``(N, D)``.
        gamma: Scales, shape ``(D,)``.
        beta: Shifts, shape ``(D,)``.
        bn_param: ``{'mode', 'eps', 'momentum', 'running_mean', 'running_var'}`` as in
            ``reference_numpy.layers.batchnorm_forward``.

    Returns:
        ``out`` of shape ``(N, D)``.
    """
    check_ndim("batchnorm", "x", x, 2, "(N, D)")
    return normalize_batch("batchnorm", x, gamma, beta, bn_param, dims=(0,))


def layernorm(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, ln_param: dict):
    r"""Layer normalization of ``(N, D)`` inputs over their features: ``F.layer_norm``.

    Args:
        x: Inputs, shape ``(N, D)``.
        gamma: Scales, shape ``(D,)``.
        beta: Shifts, shape ``(D,)``.
        ln_param: ``{'eps': 1e-5}`` (optional keys).

    Returns:
        ``out`` of shape ``(N, D)``.
    """
    func = "layernorm"
    check_ndim(func, "x", x, 2, "(N, D)")
    check_batch(func, "x", x)
    d = x.shape[1]
    check_shape(func, "gamma", gamma, (d,), f"(one scale per feature of x {tuple(x.shape)})")
    check_shape(func, "beta", beta, (d,), f"(one shift per feature of x {tuple(x.shape)})")
    if not isinstance(ln_param, dict):
        raise ValueError(f"{func}: ln_param must be a dict, got {type(ln_param).__name__}")
    eps = _positive(func, "ln_param['eps']", ln_param.get("eps", 1e-5))
    return F.layer_norm(x, (d,), gamma, beta, eps)
