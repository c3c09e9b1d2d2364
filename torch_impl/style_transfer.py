r"""The whole objective of neural style transfer in PyTorch: the twin of
``reference_numpy/style_transfer.py``, and the feature extraction it needs.

* :func:`extract_features` runs a network's feature layers **once** and keeps every
  intermediate activation, so the content and all the style layers come from one forward pass;
* :func:`style_transfer_loss` returns the content, style and total-variation losses
  (``torch_impl/style.py``) of an image and its features; autograd supplies the gradients.
"""

from __future__ import annotations

import numbers

import torch
from torch import nn

from torch_impl.style import content_loss, style_loss, tv_loss
from torch_impl.validation import check_batch


def extract_features(x: torch.Tensor, layers: nn.Sequential, last: int) -> list[torch.Tensor]:
    r"""The activations of ``layers[0]``, ..., ``layers[last]`` for the input ``x``.

    .. math::

        F^0 = f_0(x), \qquad F^{i} = f_i(F^{i-1}), \qquad i = 1, \dots, \text{last}.

    Args:
        x: Input images, shape ``(N, C, H, W)``, as the network expects them (normalised).
        layers: The network's feature layers, applied in order (SqueezeNet's ``features``).
        last: Index of the last layer to run; the layers after it are never evaluated.

    Returns:
        ``last + 1`` tensors; entry ``i`` has shape ``(N, C_i, H_i, W_i)``.
    """
    if isinstance(last, bool) or not isinstance(last, numbers.Integral):
        raise ValueError(f"extract_features: last must be an integer index, got {last!r}")
    if not 0 <= last < len(layers):
        raise ValueError(
            f"extract_features: last is {last}, expected an index in [0, {len(layers)}) "
            f"for the {len(layers)} layers"
        )
    feats = []
    for layer in list(layers)[: last + 1]:
        x = layer(x)
        feats.append(x)
    return feats


def style_transfer_loss(
    feats: list[torch.Tensor],
    img: torch.Tensor,
    content_layer: int,
    content_target: torch.Tensor,
    content_weight: float,
    style_layers: list[int],
    style_targets: list[torch.Tensor],
    style_weights: list[float],
    tv_weight: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""The content, style and TV losses,
    :math:`L_c = w_c \sum (F^c - P)^2`, :math:`L_s = \sum_{\ell \in S} w_\ell \sum (G(F^\ell) -
    A^\ell)^2` and :math:`L_{tv} = w_t\, \mathrm{TV}(x)`.

    Args:
        feats: Activations at every layer up to the last one used, ``(N, C_i, H_i, W_i)``.
        img: The image, ``(N, 3, H, W)``.
        content_layer: Index into ``feats`` of the content layer.
        content_target: The content image's features there (a constant).
        content_weight: :math:`w_c`.
        style_layers: ``L`` distinct indices into ``feats``.
        style_targets: ``L`` Gram matrices of the style image, ``(N, C_i, C_i)``.
        style_weights: ``L`` weights :math:`w_\ell`.
        tv_weight: :math:`w_t`.

    Returns:
        ``(content, style, tv)``, three 0-dimensional tensors.
    """
    func = "style_transfer_loss"
    if not isinstance(feats, (list, tuple)) or not feats:
        got = "an empty list" if isinstance(feats, (list, tuple)) else type(feats).__name__
        raise ValueError(f"{func}: feats must be a non-empty list of feature tensors, got {got}")
    if isinstance(content_layer, bool) or not isinstance(content_layer, numbers.Integral):
        raise ValueError(f"{func}: content_layer must be an integer index, got {content_layer!r}")
    if not 0 <= content_layer < len(feats):
        raise ValueError(
            f"{func}: content_layer is {content_layer}, expected an index in [0, {len(feats)}) "
            f"for the {len(feats)} tensors of feats"
        )
    for index, features in enumerate(feats):
        check_batch(func, f"feats[{index}]", features)
    check_batch(func, "img", img)
    content = content_loss(content_weight, feats[content_layer], content_target)
    style = style_loss(feats, style_layers, style_targets, style_weights)
    return content, style, tv_loss(img, tv_weight)
