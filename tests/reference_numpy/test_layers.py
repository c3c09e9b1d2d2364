"""The NumPy layers against hand calculations, and their errors on bad input.

Agreement with PyTorch and finite differences is tested for every component by the
registry-driven tests in ``tests/dualnet/test_crosscheck.py``.
"""

import numpy as np
import pytest

import reference_numpy.layers as L
from reference_numpy.layers import (
    affine_backward,
    affine_forward,
    dropout_backward,
    dropout_forward,
    dropout_mask,
    leaky_relu_backward,
    leaky_relu_forward,
    relu_backward,
    relu_forward,
)

pytestmark = pytest.mark.layers


def test_affine_by_hand():
    x = np.array([[[1.0, 2.0]], [[3.0, 4.0]]])  # (2, 1, 2): flattened to rows [1, 2] and [3, 4]
    w = np.array([[1.0, 0.0, -1.0], [2.0, 1.0, 0.5]])
    b = np.array([0.5, -1.0, 0.0])
    out, cache = affine_forward(x, w, b)
    np.testing.assert_array_equal(out, [[5.5, 1.0, 0.0], [11.5, 3.0, -1.0]])

    dout = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]])
    dx, dw, db = affine_backward(dout, cache)
    # dx = dout w^T, reshaped like x; dw = x^T dout; db = column sums of dout
    np.testing.assert_array_equal(dx, [[[1.0, 2.0]], [[-1.0, 1.5]]])
    np.testing.assert_array_equal(dw, [[1.0, 3.0, 3.0], [2.0, 4.0, 4.0]])
    np.testing.assert_array_equal(db, [1.0, 1.0, 1.0])


def test_affine_rejects_a_bias_numpy_would_broadcast(rng):
    x, w = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    # a bias of length 1 would broadcast silently over the 4 outputs
    with pytest.raises(ValueError, match=r"affine_forward: b has shape \(1,\), expected \(4,\)"):
        affine_forward(x, w, np.zeros(1))
    with pytest.raises(ValueError, match=r"affine_forward: b has shape \(1, 4\), expected \(4,\)"):
        affine_forward(x, w, np.zeros((1, 4)))


def test_affine_rejects_weights_that_do_not_fit_x(rng):
    x = rng.standard_normal((2, 3, 2))  # D = 6
    with pytest.raises(ValueError, match=r"w has shape \(5, 4\), expected \(6, 4\)"):
        affine_forward(x, rng.standard_normal((5, 4)), np.zeros(4))
    with pytest.raises(ValueError, match=r"w has shape \(6,\), expected 2 dimensions \(D, M\)"):
        affine_forward(x, rng.standard_normal(6), np.zeros(4))
    with pytest.raises(ValueError, match=r"x has shape \(6,\), expected at least 2 dimensions"):
        affine_forward(rng.standard_normal(6), rng.standard_normal((6, 4)), np.zeros(4))


def test_affine_backward_rejects_a_mismatched_upstream_gradient(rng):
    _, cache = affine_forward(rng.standard_normal((2, 3)), rng.standard_normal((3, 4)), np.zeros(4))
    with pytest.raises(
        ValueError, match=r"affine_backward: dout has shape \(1, 4\), expected \(2, 4\)"
    ):
        affine_backward(np.zeros((1, 4)), cache)


def test_non_arrays_are_rejected():
    with pytest.raises(ValueError, match="relu_forward: x must be a numpy.ndarray, got list"):
        relu_forward([1.0, -1.0])


def test_relu_by_hand():
    x = np.array([[-2.0, 0.0, 3.0]])
    out, cache = relu_forward(x)
    np.testing.assert_array_equal(out, [[0.0, 0.0, 3.0]])
    # the derivative at 0 is taken to be 0, as in PyTorch
    np.testing.assert_array_equal(relu_backward(np.array([[5.0, 6.0, 7.0]]), cache), [[0, 0, 7.0]])


def test_relu_backward_rejects_a_mismatched_upstream_gradient():
    _, cache = relu_forward(np.ones((2, 3)))
    with pytest.raises(
        ValueError, match=r"relu_backward: dout has shape \(3, 2\), expected \(2, 3\)"
    ):
        relu_backward(np.ones((3, 2)), cache)


def test_leaky_relu_by_hand():
    x = np.array([-2.0, 0.5])
    out, cache = leaky_relu_forward(x, alpha=0.1)
    np.testing.assert_allclose(out, [-0.2, 0.5])
    np.testing.assert_allclose(leaky_relu_backward(np.array([1.0, 1.0]), cache), [0.1, 1.0])


def test_leaky_relu_default_slope_is_0_01():
    out, _ = leaky_relu_forward(np.array([-1.0]))
    np.testing.assert_allclose(out, [-0.01])


@pytest.mark.parametrize("alpha", [float("nan"), "0.1", None])
def test_leaky_relu_rejects_a_bad_slope(alpha):
    with pytest.raises(ValueError, match="leaky_relu_forward: alpha must be"):
        leaky_relu_forward(np.ones(2), alpha)


def test_dropout_zeroes_a_fraction_p_and_keeps_the_mean():
    x = np.ones((200, 500))
    out, _ = dropout_forward(x, {"p": 0.3, "mode": "train", "seed": 0})
    zeroed = np.mean(out == 0)
    assert abs(zeroed - 0.3) < 0.005  # 100,000 draws: the standard error is 0.0014
    assert abs(out.mean() - 1.0) < 0.01
    np.testing.assert_allclose(out[out != 0], 1 / 0.7)


def test_dropout_mask_is_reproducible_and_shared_with_forward():
    x = np.arange(12.0).reshape(3, 4) + 1
    param = {"p": 0.5, "mode": "train", "seed": 7}
    out_a, _ = dropout_forward(x, param)
    out_b, _ = dropout_forward(x, param)
    np.testing.assert_array_equal(out_a, out_b)
    np.testing.assert_array_equal(out_a != 0, dropout_mask(x.shape, 0.5, 7))


def test_dropout_backward_routes_through_the_same_mask():
    x = np.arange(1.0, 13.0).reshape(3, 4)
    out, cache = dropout_forward(x, {"p": 0.5, "mode": "train", "seed": 3})
    dx = dropout_backward(np.ones_like(x), cache)
    np.testing.assert_array_equal(dx, out / x)


def test_dropout_test_mode_is_the_identity():
    x = np.arange(6.0).reshape(2, 3)
    out, cache = dropout_forward(x, {"p": 0.9, "mode": "test"})
    np.testing.assert_array_equal(out, x)
    assert out is not x
    np.testing.assert_array_equal(
        dropout_backward(np.full((2, 3), 2.0), cache), np.full((2, 3), 2.0)
    )


def test_dropout_edge_probabilities():
    x = np.ones((4, 4))
    out, _ = dropout_forward(x, {"p": 0.0, "mode": "train"})
    np.testing.assert_array_equal(out, x)
    out, cache = dropout_forward(x, {"p": 1.0, "mode": "train"})
    np.testing.assert_array_equal(out, np.zeros_like(x))
    np.testing.assert_array_equal(dropout_backward(x, cache), np.zeros_like(x))


@pytest.mark.parametrize(
    ("param", "message"),
    [
        ({"p": 1.5, "mode": "train"}, r"dropout_param\['p'\] must lie in \[0, 1\], got 1.5"),
        ({"p": -0.1, "mode": "train"}, r"must lie in \[0, 1\], got -0.1"),
        ({"mode": "train"}, r"dropout_param needs 'p'"),
        (
            {"p": 0.5, "mode": "eval"},
            r"dropout_param\['mode'\] must be one of 'train', 'test', got 'eval'",
        ),
        (0.5, r"dropout_param must be a dict"),
    ],
)
def test_dropout_rejects_bad_parameters(param, message):
    with pytest.raises(ValueError, match=message):
        dropout_forward(np.ones(3), param)


@pytest.mark.parametrize("mode", ["train", "test"])
def test_dropout_backward_rejects_a_mismatched_upstream_gradient(mode):
    _, cache = dropout_forward(np.ones((2, 3)), {"p": 0.5, "mode": mode, "seed": 0})
    with pytest.raises(
        ValueError, match=r"dropout_backward: dout has shape \(3,\), expected \(2, 3\)"
    ):
        dropout_backward(np.ones(3), cache)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.bool_])
def test_dropout_on_integer_arrays_scales_in_float64(dtype):
    x = np.arange(1, 13).reshape(3, 4).astype(dtype)
    param = {"p": 0.25, "mode": "train", "seed": 3}
    out, cache = L.dropout_forward(x, param)
    keep = L.dropout_mask(x.shape, 0.25, 3)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, np.where(keep, x.astype(np.float64) / 0.75, 0.0))
    dx = L.dropout_backward(np.ones((3, 4)), cache)
    np.testing.assert_allclose(dx, np.where(keep, 1 / 0.75, 0.0))
    out_test, _ = L.dropout_forward(x, {"p": 0.25, "mode": "test"})
    np.testing.assert_array_equal(out_test, x)
