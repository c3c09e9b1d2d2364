r"""The whole objective of neural style transfer, forward and hand-derived backward.

Style transfer (Gatys et al. 2016) optimises an image :math:`x` so that a fixed network's
features of it keep the *content* of one image and take the *style* of another. With
:math:`F^\ell` the network's activations of :math:`x` at layer :math:`\ell`, the objective is
the sum of three losses of ``style.py``:

.. math::

    L(x) = \underbrace{w_c \sum (F^{c} - P)^2}_{L_c}
         + \underbrace{\sum_{\ell \in S} w_\ell \sum (G(F^\ell) - A^\ell)^2}_{L_s}
         + \underbrace{w_t\, \mathrm{TV}(x)}_{L_{tv}},

where :math:`c` is the content layer, :math:`P` the content image's features there,
:math:`S` the style layers, :math:`G` the normalised Gram matrix and :math:`A^\ell` the style
image's Gram matrices. :func:`style_transfer_loss_forward` returns the three terms;
:func:`style_transfer_loss_backward` returns their gradient with respect to **every** feature
map and to the image: exactly what the network's own backward pass needs to carry the
gradient on to the pixels. Setting ``style_weights`` to zero gives feature inversion
(Mahendran and Vedaldi 2015); setting ``content_weight`` to zero gives texture synthesis.

``torch_impl/style_transfer.py`` holds the PyTorch twin; the derivation is in
``docs/derivations/style_losses.md``.
"""

from __future__ import annotations

import numbers

import numpy as np

from reference_numpy.style import (
    content_loss_backward,
    content_loss_forward,
    style_loss_backward,
    style_loss_forward,
    tv_loss_backward,
    tv_loss_forward,
)
from reference_numpy.validation import check_batch


def check_content_layer(func: str, content_layer, layers: int) -> None:
    """``content_layer`` must index one of ``layers`` feature maps."""
    if isinstance(content_layer, bool) or not isinstance(content_layer, numbers.Integral):
        raise ValueError(f"{func}: content_layer must be an integer index, got {content_layer!r}")
    if not 0 <= content_layer < layers:
        raise ValueError(
            f"{func}: content_layer is {content_layer}, expected an index in [0, {layers}) "
            f"for the {layers} arrays of feats"
        )


def style_transfer_loss_forward(
    feats: list[np.ndarray],
    img: np.ndarray,
    content_layer: int,
    content_target: np.ndarray,
    content_weight: float,
    style_layers: list[int],
    style_targets: list[np.ndarray],
    style_weights: list[float],
    tv_weight: float,
):
    r"""The three losses of style transfer for one image and its features.

    Args:
        feats: The network's activations of the image at every layer up to the last one used,
            a list of arrays; ``feats[i]`` has shape ``(N, C_i, H_i, W_i)``.
        img: The image the features were computed from, shape ``(N, 3, H, W)``.
        content_layer: Index into ``feats`` of the content layer :math:`c`.
        content_target: Features :math:`P` of the content image at that layer, the shape of
            ``feats[content_layer]``. A constant.
        content_weight: :math:`w_c` (0 for texture synthesis).
        style_layers: ``L`` distinct indices into ``feats``.
        style_targets: ``L`` Gram matrices :math:`A^\ell` of the style image, ``(N, C_i, C_i)``.
            Constants.
        style_weights: ``L`` weights :math:`w_\ell` (all 0 for feature inversion).
        tv_weight: :math:`w_t`.

    Returns:
        ``((content, style, tv), cache)``: the three losses as NumPy scalars and what the
        backward pass needs, ``(shapes of feats, content_layer, style_layers, content cache,
        style cache, tv cache)``.
    """
    func = "style_transfer_loss_forward"
    if not isinstance(feats, (list, tuple)) or not feats:
        got = "an empty list" if isinstance(feats, (list, tuple)) else type(feats).__name__
        raise ValueError(f"{func}: feats must be a non-empty list of feature arrays, got {got}")
    for index, features in enumerate(feats):
        check_batch(func, f"feats[{index}]", features)
    check_batch(func, "img", img)
    check_content_layer(func, content_layer, len(feats))
    content, content_cache = content_loss_forward(
        content_weight, feats[content_layer], content_target
    )
    style, style_cache = style_loss_forward(feats, style_layers, style_targets, style_weights)
    tv, tv_cache = tv_loss_forward(img, tv_weight)
    shapes = [(f.shape, f.dtype) for f in feats]
    cache = (shapes, content_layer, list(style_layers), content_cache, style_cache, tv_cache)
    return (content, style, tv), cache


def style_transfer_loss_backward(dlosses, cache) -> tuple[list[np.ndarray], np.ndarray]:
    r"""Backward pass of :func:`style_transfer_loss_forward`.

    Each loss sends its gradient to the arrays it reads: the content loss to
    :math:`F^{c}`, the style loss to every :math:`F^\ell` with :math:`\ell \in S`, the TV loss
    to the image. A layer that is both the content layer and a style layer receives the sum
    (the multivariate chain rule adds the gradients of every path); a layer that enters no
    loss receives zeros:

    .. math::

        \overline{F^\ell} = [\ell = c]\, \overline{F^\ell}\big|_{L_c}
            + [\ell \in S]\, \overline{F^\ell}\big|_{L_s}, \qquad
        \overline{x}\big|_{\text{direct}} = \overline{x}\big|_{L_{tv}} .

    The image's full gradient adds what the network's backward pass makes of
    :math:`\overline{F^\ell}`; that is the caller's part.

    Args:
        dlosses: Upstream gradients ``(dcontent, dstyle, dtv)`` of the three losses, scalars
            (``(1, 1, 1)`` for the gradient of their sum).
        cache: From :func:`style_transfer_loss_forward`.

    Returns:
        ``(dfeats, dimg)``: a list with one array per entry of ``feats``, of its shape, and
        the direct gradient for ``img``, of its shape.
    """
    shapes, content_layer, style_layers, content_cache, style_cache, tv_cache = cache
    if len(dlosses) != 3:
        raise ValueError(
            f"style_transfer_loss_backward: dlosses has {len(dlosses)} entries, expected 3: "
            "(dcontent, dstyle, dtv)"
        )
    dcontent, dstyle, dtv = dlosses
    dfeats = [np.zeros(shape, dtype=dtype) for shape, dtype in shapes]
    dfeats[content_layer] += content_loss_backward(dcontent, content_cache)
    for idx, gradient in zip(style_layers, style_loss_backward(dstyle, style_cache), strict=True):
        dfeats[idx] += gradient
    return dfeats, tv_loss_backward(dtv, tv_cache)
