"""The whole objective of style transfer in NumPy: the three losses are those of
``style.py``, a layer that is both content and style layer gets the sum of both gradients,
and bad input is refused. Agreement with PyTorch and finite differences is tested for the
registered component by ``tests/dualnet/test_crosscheck.py``."""

import numpy as np
import pytest

from reference_numpy.style import (
    content_loss_forward,
    gram_matrix_forward,
    style_loss_forward,
    tv_loss_forward,
)
from reference_numpy.style_transfer import (
    style_transfer_loss_backward,
    style_transfer_loss_forward,
)

pytestmark = pytest.mark.style


def problem(rng):
    feats = [rng.standard_normal(shape) for shape in ((1, 3, 5, 5), (1, 4, 3, 3), (1, 2, 2, 2))]
    img = rng.standard_normal((1, 3, 6, 6))
    targets = [gram_matrix_forward(rng.standard_normal(feats[i].shape))[0] for i in (0, 1)]
    content_target = rng.standard_normal(feats[1].shape)
    return feats, img, 1, content_target, 0.7, [0, 1], targets, [2.0, 3.0], 0.4


def test_the_three_losses_are_those_of_style_py(rng):
    feats, img, layer, target, wc, layers, targets, weights, wt = problem(rng)
    (content, style, tv), _ = style_transfer_loss_forward(
        feats, img, layer, target, wc, layers, targets, weights, wt
    )
    assert content == content_loss_forward(wc, feats[layer], target)[0]
    assert style == style_loss_forward(feats, layers, targets, weights)[0]
    assert tv == tv_loss_forward(img, wt)[0]


def test_gradients_add_up_per_layer_and_skip_unused_layers(rng):
    arguments = problem(rng)
    feats = arguments[0]
    _, cache = style_transfer_loss_forward(*arguments)
    only_content, _ = style_transfer_loss_backward((1.0, 0.0, 0.0), cache)
    only_style, _ = style_transfer_loss_backward((0.0, 1.0, 0.0), cache)
    both, dimg = style_transfer_loss_backward((1.0, 1.0, 0.0), cache)
    np.testing.assert_allclose(both[1], only_content[1] + only_style[1], rtol=1e-12)
    assert not both[2].any() and both[2].shape == feats[2].shape  # enters no loss
    assert not dimg.any()  # the TV loss had no upstream gradient


def test_bad_input_is_refused(rng):
    arguments = list(problem(rng))
    with pytest.raises(ValueError, match="content_layer is 3, expected an index in \\[0, 3\\)"):
        style_transfer_loss_forward(*arguments[:2], 3, *arguments[3:])
    with pytest.raises(ValueError, match="feats must be a non-empty list of feature arrays"):
        style_transfer_loss_forward([], *arguments[1:])
    _, cache = style_transfer_loss_forward(*arguments)
    with pytest.raises(ValueError, match="dlosses has 2 entries, expected 3"):
        style_transfer_loss_backward((1.0, 1.0), cache)
