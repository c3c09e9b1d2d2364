"""The NumPy style-transfer losses against hand calculations and finite differences, and their
errors on bad input.

Agreement with PyTorch is tested for every component by ``tests/dualnet/test_crosscheck.py``.
"""

import numpy as np
import pytest

from reference_numpy.gradcheck import eval_numerical_gradient, eval_numerical_gradient_array
from reference_numpy.style import (
    content_loss_backward,
    content_loss_forward,
    gram_matrix_backward,
    gram_matrix_forward,
    style_loss_backward,
    style_loss_forward,
    tv_loss_backward,
    tv_loss_forward,
)

pytestmark = pytest.mark.style


def test_content_loss_by_hand():
    current = np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 1, 2, 2)
    original = np.array([1.0, 0.0, 4.0, 2.0]).reshape(1, 1, 2, 2)
    loss, cache = content_loss_forward(0.5, current, original)
    assert loss == 0.5 * (0 + 4 + 1 + 4)
    # d/dF of w sum (F - P)^2 is 2 w (F - P), times the upstream gradient 3
    np.testing.assert_array_equal(
        content_loss_backward(np.array(3.0), cache),
        3.0 * np.array([0, 2, -1, 2.0]).reshape(1, 1, 2, 2),
    )


def test_content_loss_keeps_float32():
    current = np.ones((1, 2, 3, 3), dtype=np.float32)
    loss, cache = content_loss_forward(2.0, current, np.zeros_like(current))
    assert loss.dtype == np.float32 and loss == 36
    assert content_loss_backward(np.float32(1.0), cache).dtype == np.float32


def test_content_loss_rejects_bad_input():
    x = np.zeros((1, 2, 3, 3))
    with pytest.raises(
        ValueError, match=r"content_loss_forward: content_original has shape \(2, 3, 3\), expected"
    ):
        content_loss_forward(1.0, x, np.zeros((2, 3, 3)))
    with pytest.raises(ValueError, match="content_loss_forward: content_weight must be a real"):
        content_loss_forward("1", x, x)
    _, cache = content_loss_forward(1.0, x, x)
    with pytest.raises(
        ValueError,
        match=r"content_loss_backward: dout has shape \(1,\), expected a scalar \(shape \(\)\)",
    ):
        content_loss_backward(np.ones(1), cache)


def test_gram_matrix_by_hand():
    # two channels of a 1 x 2 image: c0 = [1, 2], c1 = [3, -1]
    features = np.array([[[[1.0, 2.0]], [[3.0, -1.0]]]])
    gram, cache = gram_matrix_forward(features)
    np.testing.assert_allclose(gram, np.array([[[5.0, 1.0], [1.0, 10.0]]]) / 4, rtol=1e-15)
    raw, _ = gram_matrix_forward(features, normalize=False)
    np.testing.assert_array_equal(raw, [[[5.0, 1.0], [1.0, 10.0]]])

    # an upstream gradient on the off-diagonal entry G_01 alone reaches both channels:
    # dF_0 = F_1 / 4 and dF_1 = F_0 / 4, since G_01 = F_0 . F_1 / 4
    dfeatures = gram_matrix_backward(np.array([[[0.0, 1.0], [0.0, 0.0]]]), cache)
    np.testing.assert_allclose(dfeatures, [[[[0.75, -0.25]], [[0.25, 0.5]]]], rtol=1e-15)


@pytest.mark.parametrize("normalize", [True, False])
def test_gram_matrix_backward_matches_finite_differences(rng, normalize):
    features = rng.standard_normal((2, 3, 4, 3))
    _, cache = gram_matrix_forward(features, normalize)
    dout = rng.standard_normal((2, 3, 3))  # not symmetric
    numerical = eval_numerical_gradient_array(
        lambda f: gram_matrix_forward(f, normalize)[0], features, dout
    )
    np.testing.assert_allclose(gram_matrix_backward(dout, cache), numerical, rtol=1e-7, atol=1e-9)


def test_gram_matrix_rejects_bad_input():
    with pytest.raises(
        ValueError, match=r"gram_matrix_forward: features has shape \(3, 4, 4\), expected 4"
    ):
        gram_matrix_forward(np.zeros((3, 4, 4)))
    with pytest.raises(ValueError, match="gram_matrix_forward: normalize must be True or False"):
        gram_matrix_forward(np.zeros((1, 3, 4, 4)), normalize="yes")
    _, cache = gram_matrix_forward(np.zeros((1, 3, 4, 4)))
    with pytest.raises(
        ValueError, match=r"gram_matrix_backward: dout has shape \(3, 3\), expected \(1, 3, 3\)"
    ):
        gram_matrix_backward(np.zeros((3, 3)), cache)


def test_style_loss_by_hand():
    # one channel [a, b] = [1, 2]: G = (a^2 + b^2) / 2 = 2.5; target 0.5; L = 3 (G - 0.5)^2
    feats = [np.zeros((1, 1, 1, 1)), np.array([[[[1.0, 2.0]]]])]
    loss, cache = style_loss_forward(feats, [1], [np.array([[[0.5]]])], [3.0])
    assert loss == 12.0
    # dL/da = 3 * 2 (G - 0.5) * a = 12 a
    (dfeats,) = style_loss_backward(1.0, cache)
    np.testing.assert_allclose(dfeats, [[[[12.0, 24.0]]]], rtol=1e-15)


def test_style_loss_returns_one_gradient_per_style_layer(rng):
    feats = [rng.standard_normal(shape) for shape in [(1, 3, 4, 4), (1, 2, 3, 3), (1, 4, 2, 2)]]
    style_layers = [2, 0]
    targets = [rng.standard_normal((1, 4, 4)), rng.standard_normal((1, 3, 3))]
    weights = [0.7, 1.3]
    loss, cache = style_loss_forward(feats, style_layers, targets, weights)
    gradients = style_loss_backward(np.array(2.0), cache)
    assert [g.shape for g in gradients] == [(1, 4, 2, 2), (1, 3, 4, 4)]

    def loss_of(_):
        return style_loss_forward(feats, style_layers, targets, weights)[0]

    for idx, gradient in zip(style_layers, gradients, strict=True):
        numerical = 2.0 * eval_numerical_gradient(loss_of, feats[idx])
        np.testing.assert_allclose(gradient, numerical, rtol=1e-6, atol=1e-9)
    # the layer that is not a style layer does not move the loss
    np.testing.assert_array_equal(eval_numerical_gradient(loss_of, feats[1]), 0)


def test_style_loss_sums_the_layer_terms(rng):
    feats = [rng.standard_normal((1, 2, 3, 3)), rng.standard_normal((1, 3, 2, 2))]
    targets = [rng.standard_normal((1, 2, 2)), rng.standard_normal((1, 3, 3))]
    total, _ = style_loss_forward(feats, [0, 1], targets, [1.5, 0.5])
    first, _ = style_loss_forward(feats, [0], targets[:1], [1.5])
    second, _ = style_loss_forward(feats, [1], targets[1:], [0.5])
    assert total == pytest.approx(first + second, rel=1e-14)


@pytest.mark.parametrize(
    ("layers", "targets", "weights", "message"),
    [
        ([], [], [], r"style_layers must name at least one layer"),
        ([2], [np.zeros((1, 2, 2))], [1.0], r"style_layers holds 2, expected indices in \[0, 2\)"),
        ([0, 0], [np.zeros((1, 2, 2))] * 2, [1.0, 1.0], r"style_layers holds a layer twice"),
        ([0], [np.zeros((1, 2, 2))], [1.0, 2.0], r"style_weights has 2 entries, expected 1"),
        (
            [0],
            [np.zeros((2, 2))],
            [1.0],
            r"style_targets\[0\] has shape \(2, 2\), expected \(1, 2, 2\)",
        ),
        ([0.0], [np.zeros((1, 2, 2))], [1.0], r"style_layers must hold integer indices"),
        ([0], [np.zeros((1, 2, 2))], [None], r"style_weights\[0\] must be a real number"),
    ],
)
def test_style_loss_rejects_bad_arguments(layers, targets, weights, message):
    feats = [np.zeros((1, 2, 3, 3)), np.zeros((1, 3, 3, 3))]
    with pytest.raises(ValueError, match="style_loss_forward: " + message):
        style_loss_forward(feats, layers, targets, weights)


def test_style_loss_rejects_a_single_array_for_feats():
    with pytest.raises(ValueError, match="style_loss_forward: feats must be a list"):
        style_loss_forward(np.zeros((1, 2, 3, 3)), [0], [np.zeros((1, 2, 2))], [1.0])


def test_tv_loss_by_hand():
    img = np.array([[1.0, 2.0], [4.0, 8.0]]).reshape(1, 1, 2, 2)
    loss, cache = tv_loss_forward(img, 0.5)
    # vertical pairs differ by 3 and 6, horizontal pairs by 1 and 4
    assert loss == 0.5 * (9 + 36 + 1 + 16)
    # pixel (0,0) starts the pairs down (3) and right (1): 2 w (-3 - 1); and so on
    np.testing.assert_array_equal(
        tv_loss_backward(1.0, cache), np.array([[-4.0, -5.0], [-1.0, 10.0]]).reshape(1, 1, 2, 2)
    )


def test_tv_loss_covers_every_adjacent_pair_in_every_channel(rng):
    img = rng.standard_normal((2, 3, 4, 5))
    expected = 0.0
    for n, c, i, j in np.ndindex(img.shape):
        if i + 1 < img.shape[2]:
            expected += (img[n, c, i + 1, j] - img[n, c, i, j]) ** 2
        if j + 1 < img.shape[3]:
            expected += (img[n, c, i, j + 1] - img[n, c, i, j]) ** 2
    loss, _ = tv_loss_forward(img, 1.7)
    assert loss == pytest.approx(1.7 * expected, rel=1e-13)


@pytest.mark.parametrize("shape", [(1, 3, 4, 5), (2, 1, 1, 4), (1, 2, 3, 1)])
def test_tv_loss_backward_matches_finite_differences(rng, shape):
    img = rng.standard_normal(shape)
    _, cache = tv_loss_forward(img, 0.3)
    numerical = eval_numerical_gradient(lambda x: tv_loss_forward(x, 0.3)[0], img)
    np.testing.assert_allclose(tv_loss_backward(1.0, cache), numerical, rtol=1e-6, atol=1e-9)


def test_tv_loss_rejects_bad_input():
    with pytest.raises(ValueError, match=r"tv_loss_forward: img has shape \(3, 4, 4\), expected 4"):
        tv_loss_forward(np.zeros((3, 4, 4)), 1.0)
    with pytest.raises(ValueError, match="tv_loss_forward: tv_weight must be finite"):
        tv_loss_forward(np.zeros((1, 3, 4, 4)), float("inf"))
    _, cache = tv_loss_forward(np.zeros((1, 3, 4, 4)), 1.0)
    with pytest.raises(ValueError, match="tv_loss_backward: dout must be a real number"):
        tv_loss_backward("1", cache)
