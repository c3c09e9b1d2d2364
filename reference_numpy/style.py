r"""Losses of neural style transfer, forward and hand-derived backward.

Style transfer (Gatys et al.) optimises an image so that a pretrained network's features of it
match the *content* of one image and the *style* of another, while staying smooth:

* :func:`content_loss_forward`: squared distance between feature maps;
* :func:`gram_matrix_forward`: channel-by-channel correlations of a feature map, the
  summary of style;
* :func:`style_loss_forward`: squared distance between Gram matrices over several layers;
* :func:`tv_loss_forward`: total variation, squared differences of neighbouring pixels.

Each ``name_forward`` returns ``(loss_or_gram, cache)`` and each ``name_backward(dout, cache)``
returns the gradient with respect to the features or the image; targets are constants. The
derivations are in ``docs/derivations/style_losses.md`` and ``docs/derivations/tv_loss.md``;
``torch_impl/style.py`` holds the PyTorch twins.
"""

from __future__ import annotations

import numbers

import numpy as np

from reference_numpy.validation import (
    check_array,
    check_batch,
    check_ndim,
    check_real,
    check_scalar,
    check_shape,
)

# --------------------------------------------------------------------------------------------
# Content loss
# --------------------------------------------------------------------------------------------


def content_loss_forward(
    content_weight: float, content_current: np.ndarray, content_original: np.ndarray
):
    r"""Content loss: weighted squared distance between two feature maps.

    With :math:`F` the features of the image being optimised and :math:`P` those of the
    content image, at one layer,

    .. math::

        L_c = w_c \sum_{i} (F_i - P_i)^2 .

    Args:
        content_weight: The weight :math:`w_c`, a real number.
        content_current: Features :math:`F` of the current image, shape ``(N, C, H, W)``
            (classically ``N = 1``); any shape is accepted.
        content_original: Features :math:`P` of the content image, the shape of
            ``content_current``. A constant: no gradient flows to it.

    Returns:
        ``(loss, cache)``: the loss, a NumPy scalar of the features' dtype;
        ``cache = (content_weight, F - P)``.
    """
    func = "content_loss_forward"
    weight = check_real(func, "content_weight", content_weight)
    check_array(func, "content_current", content_current)
    check_batch(func, "content_current", content_current)
    check_shape(
        func,
        "content_original",
        content_original,
        content_current.shape,
        "(the shape of content_current)",
    )
    diff = content_current - content_original
    return weight * np.sum(diff * diff), (weight, diff)


def content_loss_backward(dout, cache) -> np.ndarray:
    r"""Backward pass of :func:`content_loss_forward`:
    :math:`\overline{F} = 2\, w_c\, (F - P)\, \overline{L_c}`.

    Args:
        dout: Upstream gradient :math:`\overline{L_c}`, a scalar.
        cache: ``(content_weight, F - P)`` from :func:`content_loss_forward`.

    Returns:
        ``dcontent_current`` with the shape of ``content_current``.
    """
    weight, diff = cache
    dout = check_scalar("content_loss_backward", "dout", dout)
    return (2.0 * weight * dout) * diff


# --------------------------------------------------------------------------------------------
# Gram matrix
# --------------------------------------------------------------------------------------------


def gram_matrix_forward(features: np.ndarray, normalize: bool = True):
    r"""Gram matrix of a feature map: the inner products of its channels.

    Each channel is flattened into a row, giving :math:`F` of shape ``(N, C, H*W)``, and

    .. math::

        G_{n,cd} = \frac{1}{C H W} \sum_{k=1}^{HW} F_{n,ck} F_{n,dk},
        \qquad G_n = \frac{F_n F_n^\top}{C H W},

    without the factor :math:`1/(CHW)` when ``normalize`` is false.

    Args:
        features: Feature maps, shape ``(N, C, H, W)``.
        normalize: Whether to divide by :math:`C \cdot H \cdot W`.

    Returns:
        ``(gram, cache)``: ``gram`` of shape ``(N, C, C)``, symmetric in its last two axes;
        ``cache = (features, scale)``.
    """
    func = "gram_matrix_forward"
    check_ndim(func, "features", features, 4, "(N, C, H, W)")
    check_batch(func, "features", features)
    if not isinstance(normalize, (bool, np.bool_)):
        raise ValueError(f"{func}: normalize must be True or False, got {normalize!r}")
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w)
    gram = flat @ flat.transpose(0, 2, 1)
    scale = 1.0 / (c * h * w) if normalize else 1.0
    return gram * scale, (features, scale)


def gram_matrix_backward(dout: np.ndarray, cache) -> np.ndarray:
    r"""Backward pass of :func:`gram_matrix_forward`.

    :math:`F_{n,ck}` enters row :math:`c` and column :math:`c` of :math:`G_n`, so with
    :math:`s = 1/(CHW)` (or 1)

    .. math::

        \overline{F}_n = s \left(\overline{G}_n + \overline{G}_n^\top\right) F_n .

    Args:
        dout: Upstream gradient :math:`\overline{G}`, shape ``(N, C, C)``; it need not be
            symmetric.
        cache: ``(features, scale)`` from :func:`gram_matrix_forward`.

    Returns:
        ``dfeatures`` with the shape ``(N, C, H, W)`` of ``features``.
    """
    features, scale = cache
    n, c, h, w = features.shape
    check_shape("gram_matrix_backward", "dout", dout, (n, c, c), "(N, C, C), the shape of gram")
    flat = features.reshape(n, c, h * w)
    dflat = (dout + dout.transpose(0, 2, 1)) @ flat
    return (dflat * scale).reshape(features.shape)


# --------------------------------------------------------------------------------------------
# Style loss
# --------------------------------------------------------------------------------------------


def _check_style_arguments(func: str, feats, style_layers, style_targets, style_weights) -> None:
    if not isinstance(feats, (list, tuple)):
        raise ValueError(
            f"{func}: feats must be a list of feature arrays, one per layer, "
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
                f"for the {len(feats)} arrays of feats"
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


def style_loss_forward(
    feats: list[np.ndarray],
    style_layers: list[int],
    style_targets: list[np.ndarray],
    style_weights: list[float],
):
    r"""Style loss: weighted squared distances between Gram matrices, summed over layers.

    With :math:`G^\ell` the normalised Gram matrix (:func:`gram_matrix_forward`) of the
    current image's features at style layer :math:`\ell` and :math:`A^\ell` that of the
    style image,

    .. math::

        L_s = \sum_{\ell} w_\ell \sum_{n,c,d} \left(G^\ell_{n,cd} - A^\ell_{n,cd}\right)^2 .

    Args:
        feats: Features of the current image at every layer of the network, a list of arrays;
            ``feats[i]`` has shape ``(N, C_i, H_i, W_i)``.
        style_layers: Indices into ``feats`` of the style layers, a list of ``L`` distinct
            integers.
        style_targets: Gram matrices :math:`A^\ell` of the style image, a list of ``L`` arrays;
            ``style_targets[l]`` has shape ``(N, C_i, C_i)`` for ``i = style_layers[l]``.
            Constants: no gradient flows to them.
        style_weights: Weights :math:`w_\ell`, a list of ``L`` real numbers.

    Returns:
        ``(loss, cache)``: the loss, a NumPy scalar of the features' dtype; ``cache`` holds,
        per style layer, ``(weight, G - A, gram cache)``.
    """
    func = "style_loss_forward"
    _check_style_arguments(func, feats, style_layers, style_targets, style_weights)
    loss = 0.0
    caches = []
    for position, (idx, target, weight) in enumerate(
        zip(style_layers, style_targets, style_weights, strict=True)
    ):
        weight = check_real(func, f"style_weights[{position}]", weight)
        check_ndim(func, f"feats[{idx}]", feats[idx], 4, "(N, C, H, W)")
        check_batch(func, f"feats[{idx}]", feats[idx])
        gram, gram_cache = gram_matrix_forward(feats[idx])
        check_shape(
            func,
            f"style_targets[{position}]",
            target,
            gram.shape,
            f"(N, C, C), the shape of the Gram matrix of feats[{idx}]",
        )
        diff = gram - target
        loss = loss + weight * np.sum(diff * diff)
        caches.append((weight, diff, gram_cache))
    return loss, tuple(caches)


def style_loss_backward(dout, cache) -> list[np.ndarray]:
    r"""Backward pass of :func:`style_loss_forward`.

    Each layer's term gives :math:`\overline{G^\ell} = 2\, w_\ell\, (G^\ell - A^\ell)\,
    \overline{L_s}`, which :func:`gram_matrix_backward` turns into the gradient for that
    layer's features.

    Args:
        dout: Upstream gradient :math:`\overline{L_s}`, a scalar.
        cache: From :func:`style_loss_forward`.

    Returns:
        A list of ``L`` arrays, the gradient for the features of every style layer, in the
        order of ``style_layers``: entry ``l`` has the shape of ``feats[style_layers[l]]``.
        Layers that are not style layers do not influence the loss and get no entry.
    """
    dout = check_scalar("style_loss_backward", "dout", dout)
    return [
        gram_matrix_backward((2.0 * weight * dout) * diff, gram_cache)
        for weight, diff, gram_cache in cache
    ]


# --------------------------------------------------------------------------------------------
# Total variation
# --------------------------------------------------------------------------------------------


def tv_loss_forward(img: np.ndarray, tv_weight: float):
    r"""Total-variation loss: squared differences of all vertically and horizontally adjacent
    pixel pairs, in every channel of every image.

    .. math::

        L_{tv} = w_t \sum_{n,c} \left( \sum_{i=1}^{H-1} \sum_{j=1}^{W}
            (x_{n,c,i+1,j} - x_{n,c,i,j})^2
          + \sum_{i=1}^{H} \sum_{j=1}^{W-1} (x_{n,c,i,j+1} - x_{n,c,i,j})^2 \right).

    Args:
        img: Images, shape ``(N, C, H, W)`` (classically ``N = 1``, ``C = 3``).
        tv_weight: The weight :math:`w_t`, a real number.

    Returns:
        ``(loss, cache)``: the loss, a NumPy scalar of the dtype of ``img``;
        ``cache = (tv_weight, vertical differences (N, C, H-1, W),
        horizontal differences (N, C, H, W-1))``.
    """
    func = "tv_loss_forward"
    check_ndim(func, "img", img, 4, "(N, C, H, W)")
    check_batch(func, "img", img)
    weight = check_real(func, "tv_weight", tv_weight)
    down = img[:, :, 1:, :] - img[:, :, :-1, :]
    right = img[:, :, :, 1:] - img[:, :, :, :-1]
    loss = weight * (np.sum(down * down) + np.sum(right * right))
    return loss, (weight, down, right)


def tv_loss_backward(dout, cache) -> np.ndarray:
    r"""Backward pass of :func:`tv_loss_forward`.

    Pixel :math:`x_{n,c,i,j}` is the later pixel of the pair it forms with the pixel above and
    with the pixel to its left, and the earlier pixel of the pairs it forms below and to its
    right. With :math:`v = x_{i+1,j} - x_{i,j}` and :math:`h = x_{i,j+1} - x_{i,j}`,

    .. math::

        \overline{x}_{i,j} = 2\, w_t\, \overline{L_{tv}}
            \left(v_{i-1,j} - v_{i,j} + h_{i,j-1} - h_{i,j}\right),

    where a difference that would reach past the border is 0.

    Args:
        dout: Upstream gradient :math:`\overline{L_{tv}}`, a scalar.
        cache: From :func:`tv_loss_forward`.

    Returns:
        ``dimg`` with the shape ``(N, C, H, W)`` of ``img``.
    """
    weight, down, right = cache
    dout = check_scalar("tv_loss_backward", "dout", dout)
    scale = 2.0 * weight * dout
    dimg = np.zeros(right.shape[:3] + (right.shape[3] + 1,), dtype=right.dtype)
    dimg[:, :, 1:, :] += scale * down
    dimg[:, :, :-1, :] -= scale * down
    dimg[:, :, :, 1:] += scale * right
    dimg[:, :, :, :-1] -= scale * right
    return dimg
