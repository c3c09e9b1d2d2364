"""Registry entries for the style-transfer losses (``style.py`` in both backends) and their
sum, the whole objective (``style_transfer.py``).

The content and style losses do not fit the classic layer form: the content weight comes
first, and the style loss takes lists of arrays. Their three adapter calls are written here by
hand, in entry builders that take the NumPy functions by their public names. Only feature
maps and images are differentiable; content and style targets are constants.
"""

from __future__ import annotations

import numpy as np

import reference_numpy.style as R
import reference_numpy.style_transfer as RST
import torch_impl.style as T
import torch_impl.style_transfer as TST
from dualnet.registry.component import Case, Component, dotted_name, layer, substitutable

TOPIC = "style"

# --------------------------------------------------------------------------------------------
# Content loss: content_loss(content_weight, content_current, content_original)
# --------------------------------------------------------------------------------------------


def away_from_zero(rng: np.random.Generator, shape: tuple, low: float, high: float):
    """Magnitudes in ``[low, high)`` with random signs."""
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(low, high, size=shape)


def content_case(rng: np.random.Generator, dtype) -> Case:
    """Content features at least 0.2 from the current ones: every gradient entry
    ``2 w (F - P)`` is far enough from 0 for a finite difference to measure it."""
    current = rng.standard_normal((2, 3, 4, 5))
    original = current + away_from_zero(rng, current.shape, 0.2, 2.0)
    weight = float(rng.uniform(0.5, 2.0))
    return Case(
        {"content_current": current.astype(dtype), "content_original": original.astype(dtype)},
        wrt=("content_current",),
        config=(weight,),
    )


def content_loss_entry(content_loss_forward, content_loss_backward) -> Component:
    def forward_numpy(case: Case):
        (weight,) = case.config
        loss, cache = content_loss_forward(
            weight, case.inputs["content_current"], case.inputs["content_original"]
        )
        return (np.asarray(loss),), cache

    def backward_numpy(douts, cache, case: Case):
        (dloss,) = douts
        return {"content_current": content_loss_backward(dloss, cache)}

    return Component(
        name="content_loss",
        topic=TOPIC,
        summary="w * sum (F - P)^2 between current and content features",
        page="derivations/style_losses",
        make_case=content_case,
        forward_numpy=forward_numpy,
        backward_numpy=backward_numpy,
        forward_torch=content_forward_torch,
        implementations=(
            dotted_name(content_loss_forward),
            dotted_name(content_loss_backward),
            dotted_name(T.content_loss),
        ),
        outputs=("loss",),
    )


def content_forward_torch(tensors, case: Case):
    (weight,) = case.config
    return (T.content_loss(weight, tensors["content_current"], tensors["content_original"]),)


# --------------------------------------------------------------------------------------------
# Gram matrix and total variation: the classic layer form
# --------------------------------------------------------------------------------------------


def gram_case(normalize: bool):
    def make(rng: np.random.Generator, dtype) -> Case:
        features = rng.standard_normal((2, 3, 3, 4)).astype(dtype)
        return Case({"features": features}, wrt=("features",), config=(normalize,))

    return make


def tv_case(rng: np.random.Generator, dtype) -> Case:
    """A checkerboard of signs times magnitudes in [0.5, 1.5): every pixel differs from all
    its neighbours in the same direction by at least 1, so no gradient entry is near 0."""
    shape = (2, 3, 4, 5)
    rows, cols = np.indices(shape[2:])
    signs = np.where((rows + cols) % 2 == 0, 1.0, -1.0)
    img = signs * rng.uniform(0.5, 1.5, size=shape)
    return Case({"img": img.astype(dtype)}, wrt=("img",), config=(float(rng.uniform(0.5, 2.0)),))


# --------------------------------------------------------------------------------------------
# Style loss: feats_0, feats_1, ... and style_target_0, ... map to the lists
# --------------------------------------------------------------------------------------------

# Four layers of features; three of them are style layers, one is not (it gets no gradient).
FEATURE_SHAPES = ((2, 3, 4, 4), (2, 4, 3, 3), (2, 2, 5, 2), (2, 5, 2, 3))
STYLE_LAYERS = [0, 2, 3]


def normalized_gram(features: np.ndarray) -> np.ndarray:
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w)
    return flat @ flat.transpose(0, 2, 1) / (c * h * w)


def style_case(rng: np.random.Generator, dtype) -> Case:
    """Features with magnitudes in [0.5, 2) and targets ``A = G - E``, where ``G`` is the Gram
    matrix of the features and ``E`` a random symmetric matrix dominated by its diagonal.

    The gradient for a style layer's features is ``4 w E F / (C H W)``; with ``E`` dominated
    by its diagonal no entry of it comes near 0, where a finite difference could not measure
    it to relative precision.
    """
    feats = {
        f"feats_{i}": away_from_zero(rng, shape, 0.5, 2.0) for i, shape in enumerate(FEATURE_SHAPES)
    }
    targets = {}
    for position, idx in enumerate(STYLE_LAYERS):
        features = feats[f"feats_{idx}"]
        channels = features.shape[1]
        off_diagonal = rng.uniform(-0.02, 0.02, size=(features.shape[0], channels, channels))
        difference = rng.uniform(0.5, 1.5) * (
            np.eye(channels) + off_diagonal + off_diagonal.transpose(0, 2, 1)
        )
        targets[f"style_target_{position}"] = normalized_gram(features) - difference
    weights = [float(w) for w in rng.uniform(0.5, 2.0, size=len(STYLE_LAYERS))]
    inputs = {name: array.astype(dtype) for name, array in {**feats, **targets}.items()}
    return Case(inputs, wrt=tuple(feats), config=(list(STYLE_LAYERS), weights))


def style_lists(values: dict, case: Case):
    """``(feats, style_targets)`` as lists, from named arrays or tensors."""
    style_layers, _ = case.config
    feats = [values[f"feats_{i}"] for i in range(len(FEATURE_SHAPES))]
    targets = [values[f"style_target_{position}"] for position in range(len(style_layers))]
    return feats, targets


def style_loss_entry(style_loss_forward, style_loss_backward) -> Component:
    def forward_numpy(case: Case):
        style_layers, style_weights = case.config
        feats, targets = style_lists(case.inputs, case)
        loss, cache = style_loss_forward(feats, style_layers, targets, style_weights)
        return (np.asarray(loss),), cache

    def backward_numpy(douts, cache, case: Case):
        """One gradient per style layer from the NumPy backward; the layers that are not
        style layers do not influence the loss, so their gradient is zero."""
        (dloss,) = douts
        style_layers, _ = case.config
        per_style_layer = style_loss_backward(dloss, cache)
        gradients = {name: np.zeros_like(case.inputs[name]) for name in case.wrt}
        for idx, gradient in zip(style_layers, per_style_layer, strict=True):
            gradients[f"feats_{idx}"] = gradient
        return gradients

    return Component(
        name="style_loss",
        topic=TOPIC,
        summary="sum over style layers of w_l * sum (G_l - A_l)^2",
        page="derivations/style_losses",
        make_case=style_case,
        forward_numpy=forward_numpy,
        backward_numpy=backward_numpy,
        forward_torch=style_forward_torch,
        implementations=(
            dotted_name(style_loss_forward),
            dotted_name(style_loss_backward),
            dotted_name(T.style_loss),
        ),
        outputs=("loss",),
    )


def style_forward_torch(tensors, case: Case):
    style_layers, style_weights = case.config
    feats, targets = style_lists(tensors, case)
    return (T.style_loss(feats, style_layers, targets, style_weights),)


# --------------------------------------------------------------------------------------------
# The whole objective: style_transfer_loss(feats, img, content_layer, content_target, ...)
# --------------------------------------------------------------------------------------------

# The content layer is also a style layer, so its gradient is a sum of two; feats_1 enters no
# loss and gets a zero gradient.
CONTENT_LAYER = 2


def objective_case(rng: np.random.Generator, dtype) -> Case:
    """The style case's features and targets, the TV case's image, and a content target at
    least 0.2 away from the content layer's features."""
    style = style_case(rng, dtype)
    img = tv_case(rng, dtype).inputs["img"]
    current = style.inputs[f"feats_{CONTENT_LAYER}"].astype(np.float64)
    target = current + away_from_zero(rng, current.shape, 0.2, 2.0)
    weights = [float(w) for w in rng.uniform(0.5, 2.0, size=2)]
    inputs = {**style.inputs, "img": img, "content_target": target.astype(dtype)}
    return Case(inputs, wrt=(*style.wrt, "img"), config=(*style.config, *weights))


def objective_arguments(values: dict, case: Case) -> tuple:
    """The positional arguments of both backends' functions, from named arrays or tensors."""
    style_layers, style_weights, content_weight, tv_weight = case.config
    feats, targets = style_lists(values, Case(values, (), (style_layers, style_weights)))
    return (feats, values["img"], CONTENT_LAYER, values["content_target"], content_weight,
            list(style_layers), targets, style_weights, tv_weight)  # fmt: skip


def style_transfer_loss_entry(
    style_transfer_loss_forward, style_transfer_loss_backward
) -> Component:
    def forward_numpy(case: Case):
        losses, cache = style_transfer_loss_forward(*objective_arguments(case.inputs, case))
        return tuple(np.asarray(loss) for loss in losses), cache

    def backward_numpy(douts, cache, case: Case):
        dfeats, dimg = style_transfer_loss_backward(douts, cache)
        return {**{f"feats_{i}": d for i, d in enumerate(dfeats)}, "img": dimg}

    return Component(
        name="style_transfer_loss",
        topic=TOPIC,
        summary="the three losses of style transfer; gradients for every feature map and the image",
        page="derivations/style_losses",
        make_case=objective_case,
        forward_numpy=forward_numpy,
        backward_numpy=backward_numpy,
        forward_torch=objective_forward_torch,
        implementations=(
            dotted_name(style_transfer_loss_forward),
            dotted_name(style_transfer_loss_backward),
            dotted_name(TST.style_transfer_loss),
        ),
        outputs=("content_loss", "style_loss", "tv_loss"),
    )


def objective_forward_torch(tensors, case: Case):
    return TST.style_transfer_loss(*objective_arguments(tensors, case))


ENTRIES = [
    substitutable(
        content_loss_entry,
        content_loss_forward=R.content_loss_forward,
        content_loss_backward=R.content_loss_backward,
    ),
    *[
        layer(
            name="gram_matrix",
            variant=variant,
            topic=TOPIC,
            summary=f"G = F F^T per example, (N, C, H, W) -> (N, C, C), {meaning}",
            page="derivations/style_losses",
            make_case=gram_case(normalize),
            forward=R.gram_matrix_forward,
            backward=R.gram_matrix_backward,
            torch_function=T.gram_matrix,
            outputs=("gram",),
        )
        for variant, normalize, meaning in (
            ("normalized", True, "divided by C*H*W"),
            ("unnormalized", False, "not divided"),
        )
    ],
    substitutable(
        style_loss_entry,
        style_loss_forward=R.style_loss_forward,
        style_loss_backward=R.style_loss_backward,
    ),
    layer(
        name="tv_loss",
        topic=TOPIC,
        summary="w * sum of squared differences of all adjacent pixel pairs",
        page="derivations/tv_loss",
        make_case=tv_case,
        forward=R.tv_loss_forward,
        backward=R.tv_loss_backward,
        torch_function=T.tv_loss,
        outputs=("loss",),
    ),
    substitutable(
        style_transfer_loss_entry,
        style_transfer_loss_forward=RST.style_transfer_loss_forward,
        style_transfer_loss_backward=RST.style_transfer_loss_backward,
    ),
]
