r"""Losses of neural style transfer in PyTorch: the twins of ``reference_numpy/style.py``.

``content_loss(content_weight, content_current, content_original)``,
``gram_matrix(features, normalize=True)``,
``style_loss(feats, style_layers, style_targets, style_weights)`` and
``tv_loss(img, tv_weight)`` keep the classic signatures and return tensors; autograd supplies
the gradients with respect to the features or the image.
"""

from __future__ import annotations

import numbers

import torch

from torch_impl.validation import check_batch, check_ndim, check_real, check_shape, check_tensor


def content_loss(
    content_weight: float, content_current: torch.Tensor, content_original: torch.Tensor
) -> torch.Tensor:
    r"""Content loss, :math:`w_c \sum_i (F_i - P_i)^2`.

    Args:
        content_weight: The weight :math:`w_c`.
        content_current: Features :math:`F` of the current image, shape ``(N, C, H, W)``.
        content_original: Features :math:`P` of the content image, the same shape.

    Returns:
        The loss, a 0-dimensional tensor.
    """
    func = "content_loss"
    weight = check_real(func, "content_weight", content_weight)
    check_tensor(func, "content_current", content_current)
    check_batch(func, "content_current", content_current)
    check_shape(
        func,
        "content_original",
        content_original,
        tuple(content_current.shape),
        "(the shape of content_current)",
    )
    return weight * torch.sum((content_current - content_original) ** 2)


def gram_matrix(features: torch.Tensor, normalize: bool = True) -> torch.Tensor:
    r"""Gram matrix, :math:`G_n = F_n F_n^\top / (C H W)` with :math:`F_n` of shape
    ``(C, H*W)``.

    Args:
        features: Feature maps, shape ``(N, C, H, W)``.
        normalize: Whether to divide by :math:`C \cdot H \cdot W`.

    Returns:
        ``gram`` of shape ``(N, C, C)``.
    """
    func = "gram_matrix"
    check_ndim(func, "features", features, 4, "(N, C, H, W)")
    check_batch(func, "features", features)
    if not isinstance(normalize, bool):
        raise ValueError(f"{func}: normalize must be True or False, got {normalize!r}")
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w)
    gram = flat @ flat.transpose(1, 2)
    return gram / (c * h * w) if normalize else gram


def _check_style_arguments(func: str, feats, style_layers, style_targets, style_weights) -> None:
    if not isinstance(feats, (list, tuple)):
        raise ValueError(
            f"{func}: feats must be a list of feature tensors, one per layer, "
            f"got {type(feats).__name__}"
        )
    for name, value in (
        ("style_layers", style_layers),
        ("style_targets", style_targets),
        ("style_weights", style_weights),
    ):
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{func}: {name} must be a list, got {type(value).__name__}")
    if not style_layers:
        raise ValueError(f"{func}: style_layers must name at least one layer, got []")
    for idx in style_layers:
        if isinstance(idx, bool) or not isinstance(idx, numbers.Integral):
            raise ValueError(f"{func}: style_layers must hold integer indices, got {idx!r}")
        if not 0 <= idx < len(feats):
            raise ValueError(
                f"{func}: style_layers holds {idx}, expected indices in [0, {len(feats)}) "
                f"for the {len(feats)} tensors of feats"
            )
    if len(set(style_layers)) != len(style_layers):
        raise ValueError(
            f"{func}: style_layers holds a layer twice: {list(style_layers)}; "
            "the backward pass returns one gradient per style layer"
        )
    for name, value in (("style_targets", style_targets), ("style_weights", style_weights)):
        if len(value) != len(style_layers):
            raise ValueError(
                f"{func}: {name} has {len(value)} entries, expected {len(style_layers)}, "
                "one per entry of style_layers"
            )


def style_loss(
    feats: list[torch.Tensor],
    style_layers: list[int],
    style_targets: list[torch.Tensor],
    style_weights: list[float],
) -> torch.Tensor:
    r"""Style loss, :math:`\sum_\ell w_\ell \sum (G^\ell - A^\ell)^2` with :math:`G^\ell` the
    normalised Gram matrix of ``feats[style_layers[l]]``.

    Args:
        feats: Features at every layer, ``feats[i]`` of shape ``(N, C_i, H_i, W_i)``.
        style_layers: ``L`` distinct indices into ``feats``.
        style_targets: ``L`` Gram matrices of the style image, ``(N, C_i, C_i)`` each.
        style_weights: ``L`` real weights.

    Returns:
        The loss, a 0-dimensional tensor.
    """
    func = "style_loss"
    _check_style_arguments(func, feats, style_layers, style_targets, style_weights)
    loss = 0.0
    for position, (idx, target, weight) in enumerate(
        zip(style_layers, style_targets, style_weights, strict=True)
    ):
        weight = check_real(func, f"style_weights[{position}]", weight)
        check_ndim(func, f"feats[{idx}]", feats[idx], 4, "(N, C, H, W)")
        check_batch(func, f"feats[{idx}]", feats[idx])
        gram = gram_matrix(feats[idx])
        check_shape(
            func,
            f"style_targets[{position}]",
            target,
            tuple(gram.shape),
            f"(N, C, C), the shape of the Gram matrix of feats[{idx}]",
        )
        loss = loss + weight * torch.sum((gram - target) ** 2)
    return loss


def tv_loss(img: torch.Tensor, tv_weight: float) -> torch.Tensor:
    r"""Total-variation loss: :math:`w_t` times the sum of squared differences of all
    vertically and horizontally adjacent pixels.

    Args:
        img: Images, shape ``(N, C, H, W)``.
        tv_weight: The weight :math:`w_t`.

    Returns:
        The loss, a 0-dimensional tensor.
    """
    func = "tv_loss"
    check_ndim(func, "img", img, 4, "(N, C, H, W)")
    check_batch(func, "img", img)
    weight = check_real(func, "tv_weight", tv_weight)
    down = img[:, :, 1:, :] - img[:, :, :-1, :]
    right = img[:, :, :, 1:] - img[:, :, :, :-1]
    return weight * (torch.sum(down**2) + torch.sum(right**2))
