"""The NumPy attention and attention LSTM against hand calculations, and their errors on bad input.

Agreement with PyTorch and finite differences is tested by the registry-driven tests in
``tests/dualnet/test_crosscheck.py``.
"""

import math

import numpy as np
import pytest

from reference_numpy.attention import (
    attention_lstm_backward,
    attention_lstm_forward,
    attention_lstm_step_forward,
    dot_product_attention_backward,
    dot_product_attention_forward,
)
from reference_numpy.gradcheck import eval_numerical_gradient_array, rel_error

pytestmark = pytest.mark.attention


def test_a_constant_grid_gets_uniform_weights(rng):
    vector = rng.standard_normal((2, 3))
    A = np.broadcast_to(vector[:, :, None, None], (2, 3, 4, 4)).copy()
    attn, weights, _ = dot_product_attention_forward(rng.standard_normal((2, 3)), A)
    np.testing.assert_allclose(weights, np.full((2, 4, 4), 1 / 16), rtol=1e-14)
    np.testing.assert_allclose(attn, vector, rtol=1e-14)


def test_attention_by_hand_with_the_square_root_scaling():
    # H = 4: one cell holds (c, 0, 0, 0), the 15 others are 0; the query is (2, 0, 0, 0), so
    # that cell scores 2c / sqrt(4) = c and every other cell 0
    c = 1.5
    A = np.zeros((1, 4, 4, 4))
    A[0, 0, 1, 2] = c
    prev_h = np.array([[2.0, 0.0, 0.0, 0.0]])
    attn, weights, _ = dot_product_attention_forward(prev_h, A)
    w_cell = math.exp(c) / (math.exp(c) + 15)
    expected = np.full((1, 4, 4), 1 / (math.exp(c) + 15))
    expected[0, 1, 2] = w_cell
    np.testing.assert_allclose(weights, expected, rtol=1e-14)
    np.testing.assert_allclose(attn, [[c * w_cell, 0.0, 0.0, 0.0]], rtol=1e-14)
    assert weights.sum() == pytest.approx(1.0, rel=1e-15)


def test_the_gradient_through_the_weights_matches_finite_differences(rng):
    prev_h, A = rng.standard_normal((2, 3)), rng.standard_normal((2, 3, 4, 4))
    dweights = rng.standard_normal((2, 4, 4))
    _, _, cache = dot_product_attention_forward(prev_h, A)
    dprev_h, dA = dot_product_attention_backward(np.zeros((2, 3)), cache, dattn_weights=dweights)

    def weights_of(h, grid):
        return dot_product_attention_forward(h, grid)[1]

    numerical_h = eval_numerical_gradient_array(lambda h: weights_of(h, A), prev_h, dweights)
    numerical_A = eval_numerical_gradient_array(lambda a: weights_of(prev_h, a), A, dweights)
    assert rel_error(dprev_h, numerical_h) < 1e-7
    assert rel_error(dA, numerical_A) < 1e-7


def test_the_classic_backward_ignores_the_weights(rng):
    _, _, cache = dot_product_attention_forward(
        rng.standard_normal((2, 3)), rng.standard_normal((2, 3, 4, 4))
    )
    dattn = rng.standard_normal((2, 3))
    classic = dot_product_attention_backward(dattn, cache)
    with_zero = dot_product_attention_backward(dattn, cache, dattn_weights=np.zeros((2, 4, 4)))
    for a, b in zip(classic, with_zero, strict=True):
        np.testing.assert_array_equal(a, b)


def test_attention_keeps_float32(rng):
    prev_h = rng.standard_normal((2, 3)).astype(np.float32)
    A = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    attn, weights, cache = dot_product_attention_forward(prev_h, A)
    assert attn.dtype == weights.dtype == np.float32
    assert all(g.dtype == np.float32 for g in dot_product_attention_backward(attn, cache))


def test_attention_lstm_starts_from_the_grid_average(rng):
    x, A = rng.standard_normal((2, 1, 3)), rng.standard_normal((2, 4, 4, 4))
    Wx, Wh = rng.standard_normal((3, 16)), rng.standard_normal((4, 16))
    Wattn, b = rng.standard_normal((4, 16)), rng.standard_normal(16)
    h, _ = attention_lstm_forward(x, A, Wx, Wh, Wattn, b)
    mean = A.mean(axis=(2, 3))
    attn, _, _ = dot_product_attention_forward(mean, A)
    expected, _, _ = attention_lstm_step_forward(x[:, 0], mean, mean, attn, Wx, Wh, Wattn, b)
    np.testing.assert_array_equal(h[:, 0], expected)


def test_the_grid_gets_the_gradient_of_the_initial_states(rng):
    # with every weight zero the activations are the biases, whatever x, h0 and attn are, and
    # h1 depends on A only through c0 = mean(A): dA = dc0 / 16 in every cell
    x, A = rng.standard_normal((1, 1, 2)), rng.standard_normal((1, 3, 4, 4))
    zeros = np.zeros((3, 12))
    b = rng.standard_normal(12)
    h, cache = attention_lstm_forward(x, A, np.zeros((2, 12)), zeros, zeros, b)
    _, dA, *_ = attention_lstm_backward(np.ones_like(h), cache)
    gates = 1 / (1 + np.exp(-b))
    i, f, o, g = gates[0:3], gates[3:6], gates[6:9], np.tanh(b[9:12])
    c1 = f * A[0].mean(axis=(1, 2)) + i * g
    dc0 = f * o * (1 - np.tanh(c1) ** 2)
    np.testing.assert_allclose(
        dA[0], np.broadcast_to(dc0[:, None, None] / 16, (3, 4, 4)), rtol=1e-13
    )


def test_attention_rejects_bad_shapes(rng):
    with pytest.raises(
        ValueError, match=r"dot_product_attention_forward: A has shape \(2, 3, 16\), expected 4"
    ):
        dot_product_attention_forward(np.zeros((2, 3)), np.zeros((2, 3, 16)))
    with pytest.raises(
        ValueError,
        match=r"dot_product_attention_forward: prev_h has shape \(2, 5\), expected \(2, 3\)",
    ):
        dot_product_attention_forward(np.zeros((2, 5)), np.zeros((2, 3, 4, 4)))
    _, _, cache = dot_product_attention_forward(np.zeros((2, 3)), np.ones((2, 3, 4, 4)))
    with pytest.raises(
        ValueError, match=r"dattn_weights has shape \(2, 16\), expected \(2, 4, 4\)"
    ):
        dot_product_attention_backward(np.zeros((2, 3)), cache, dattn_weights=np.zeros((2, 16)))
    x, A = np.zeros((2, 3, 5)), np.zeros((2, 4, 4, 4))
    with pytest.raises(
        ValueError, match=r"attention_lstm_forward: Wattn has shape \(4, 4\), expected \(4, 16\)"
    ):
        attention_lstm_forward(
            x, A, np.zeros((5, 16)), np.zeros((4, 16)), np.zeros((4, 4)), np.zeros(16)
        )
    with pytest.raises(ValueError, match=r"attention_lstm_forward: A has shape \(3, 4, 4, 4\)"):
        attention_lstm_forward(
            x,
            np.zeros((3, 4, 4, 4)),
            np.zeros((5, 16)),
            np.zeros((4, 16)),
            np.zeros((4, 16)),
            np.zeros(16),
        )
