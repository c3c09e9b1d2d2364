"""The NumPy RNN, word embedding, temporal affine and temporal softmax loss against hand
calculations, and their errors on bad input.

Agreement with PyTorch and finite differences is tested for every component by the
registry-driven tests in ``tests/dualnet/test_crosscheck.py``.
"""

import math

import numpy as np
import pytest

from reference_numpy.rnn import (
    rnn_backward,
    rnn_forward,
    rnn_step_backward,
    rnn_step_forward,
    temporal_affine_backward,
    temporal_affine_forward,
    temporal_softmax_loss,
    word_embedding_backward,
    word_embedding_forward,
)

pytestmark = pytest.mark.rnn


def scalar_rnn():
    """A one-unit RNN over two steps: x = (1, 2), h0 = 0.5, Wx = 0.3, Wh = 0.5, b = 0.1."""
    x = np.array([[[1.0], [2.0]]])
    h0 = np.array([[0.5]])
    Wx, Wh, b = np.array([[0.3]]), np.array([[0.5]]), np.array([0.1])
    return x, h0, Wx, Wh, b


def test_rnn_step_by_hand():
    x = np.array([[1.0, 0.0], [0.0, 2.0]])
    prev_h = np.array([[0.5], [-1.0]])
    Wx, Wh, b = np.array([[0.2], [0.3]]), np.array([[1.0]]), np.array([0.1])
    next_h, cache = rnn_step_forward(x, prev_h, Wx, Wh, b)
    np.testing.assert_allclose(next_h, [[math.tanh(0.8)], [math.tanh(-0.3)]], rtol=1e-15)

    dx, dprev_h, dWx, dWh, db = rnn_step_backward(np.array([[1.0], [0.0]]), cache)
    da = 1 - math.tanh(0.8) ** 2  # only the first example has an upstream gradient
    np.testing.assert_allclose(dx, [[0.2 * da, 0.3 * da], [0.0, 0.0]], rtol=1e-15)
    np.testing.assert_allclose(dprev_h, [[da], [0.0]], rtol=1e-15)
    np.testing.assert_allclose(dWx, [[da], [0.0]], rtol=1e-15)
    np.testing.assert_allclose(dWh, [[0.5 * da]], rtol=1e-15)
    np.testing.assert_allclose(db, [da], rtol=1e-15)


def test_rnn_forward_by_hand():
    x, h0, Wx, Wh, b = scalar_rnn()
    h, _ = rnn_forward(x, h0, Wx, Wh, b)
    h1 = math.tanh(0.3 * 1 + 0.5 * 0.5 + 0.1)
    h2 = math.tanh(0.3 * 2 + 0.5 * h1 + 0.1)
    np.testing.assert_allclose(h, [[[h1], [h2]]], rtol=1e-15)


def test_backpropagation_through_time_adds_the_gradients_of_every_step():
    x, h0, Wx, Wh, b = scalar_rnn()
    h, cache = rnn_forward(x, h0, Wx, Wh, b)
    h1, h2 = h[0, 0, 0], h[0, 1, 0]
    # the loss sees only h2: dL/da2 = 1 - h2^2, and dL/da1 = dL/da2 * Wh * (1 - h1^2)
    da2 = 1 - h2**2
    da1 = da2 * 0.5 * (1 - h1**2)
    dx, dh0, dWx, dWh, db = rnn_backward(np.array([[[0.0], [1.0]]]), cache)
    np.testing.assert_allclose(dWh, [[da2 * h1 + da1 * 0.5]], rtol=1e-14)  # step 2 + step 1
    np.testing.assert_allclose(dWx, [[da2 * 2.0 + da1 * 1.0]], rtol=1e-14)
    np.testing.assert_allclose(db, [da2 + da1], rtol=1e-14)
    np.testing.assert_allclose(dx, [[[da1 * 0.3], [da2 * 0.3]]], rtol=1e-14)
    np.testing.assert_allclose(dh0, [[da1 * 0.5]], rtol=1e-14)


@pytest.mark.parametrize("scale", [0.5, 1.5])
def test_gradients_shrink_or_grow_geometrically_in_the_linear_regime(scale):
    # x = 0 and h0 = 0 keep every h_t = 0 where tanh' = 1: each step back multiplies the
    # gradient by Wh^T = scale * I, so dh0 = scale^T * dh_T
    n, t, h = 1, 12, 3
    x, h0 = np.zeros((n, t, 2)), np.zeros((n, h))
    Wx, Wh, b = np.ones((2, h)), scale * np.eye(h), np.zeros(h)
    _, cache = rnn_forward(x, h0, Wx, Wh, b)
    dh = np.zeros((n, t, h))
    dh[:, -1] = [1.0, -2.0, 0.5]
    _, dh0, *_ = rnn_backward(dh, cache)
    np.testing.assert_allclose(dh0, scale**t * dh[:, -1], rtol=1e-13)


def test_rnn_forward_matches_the_step_applied_in_a_loop(rng):
    x, h0 = rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 5))
    Wx, Wh, b = rng.standard_normal((3, 5)), rng.standard_normal((5, 5)), rng.standard_normal(5)
    h, _ = rnn_forward(x, h0, Wx, Wh, b)
    prev = h0
    for t in range(4):
        prev, _ = rnn_step_forward(x[:, t], prev, Wx, Wh, b)
        np.testing.assert_array_equal(h[:, t], prev)


def test_rnn_keeps_float32():
    x = np.ones((2, 3, 4), dtype=np.float32)
    h0 = np.zeros((2, 5), dtype=np.float32)
    Wx, Wh = np.ones((4, 5), np.float32) * 0.1, np.eye(5, dtype=np.float32)
    h, cache = rnn_forward(x, h0, Wx, Wh, np.zeros(5, np.float32))
    assert h.dtype == np.float32
    assert all(g.dtype == np.float32 for g in rnn_backward(np.ones_like(h), cache))


def test_rnn_rejects_weights_that_do_not_fit(rng):
    x, prev_h = rng.standard_normal((2, 3)), rng.standard_normal((2, 4))
    Wx, Wh, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 4)), np.zeros(4)
    with pytest.raises(
        ValueError,
        match=r"rnn_step_forward: Wh has shape \(3, 4\), expected \(4, 4\) \(H, H\) for D = 3 "
        r"input features and H = 4 hidden units",
    ):
        rnn_step_forward(x, prev_h, Wx, Wh[:3], b)
    with pytest.raises(ValueError, match=r"rnn_step_forward: b has shape \(1,\), expected \(4,\)"):
        rnn_step_forward(x, prev_h, Wx, Wh, np.zeros(1))
    with pytest.raises(ValueError, match=r"rnn_step_forward: prev_h has shape \(3, 4\)"):
        rnn_step_forward(x, rng.standard_normal((3, 4)), Wx, Wh, b)
    with pytest.raises(ValueError, match=r"rnn_forward: x has shape \(2, 3\), expected 3 dim"):
        rnn_forward(x, prev_h, Wx, Wh, b)
    with pytest.raises(ValueError, match=r"rnn_forward: x has shape \(2, 0, 3\).*T >= 1"):
        rnn_forward(np.zeros((2, 0, 3)), prev_h, Wx, Wh, b)


def test_rnn_backward_rejects_a_mismatched_upstream_gradient(rng):
    _, cache = rnn_forward(
        rng.standard_normal((2, 3, 4)), np.zeros((2, 5)), np.ones((4, 5)), np.eye(5), np.zeros(5)
    )
    with pytest.raises(
        ValueError, match=r"rnn_backward: dh has shape \(2, 5\), expected \(2, 3, 5\)"
    ):
        rnn_backward(np.zeros((2, 5)), cache)
    _, cache = rnn_step_forward(
        np.ones((2, 4)), np.zeros((2, 5)), np.ones((4, 5)), np.eye(5), np.zeros(5)
    )
    with pytest.raises(ValueError, match=r"rnn_step_backward: dnext_h has shape \(5,\)"):
        rnn_step_backward(np.zeros(5), cache)


def test_word_embedding_looks_up_rows_and_accumulates_repeated_words():
    W = np.arange(8.0).reshape(4, 2)
    x = np.array([[1, 1, 2], [2, 0, 1]])
    out, cache = word_embedding_forward(x, W)
    np.testing.assert_array_equal(out[0], [[2.0, 3.0], [2.0, 3.0], [4.0, 5.0]])
    dout = np.ones((2, 3, 2))
    dout[0, 0] = [10.0, 20.0]
    dW = word_embedding_backward(dout, cache)
    # word 1 occurs three times, word 2 twice, word 0 once, word 3 never
    np.testing.assert_array_equal(dW, [[1.0, 1.0], [12.0, 22.0], [2.0, 2.0], [0.0, 0.0]])


def test_word_embedding_rejects_bad_indices():
    W = np.zeros((5, 2))
    with pytest.raises(
        ValueError,
        match=r"word_embedding_forward: x\[1, 2\] = 7 lies outside \[0, 5\), expected indices "
        r"into the 5 rows of W",
    ):
        word_embedding_forward(np.array([[0, 1, 2], [3, 4, 7]]), W)
    with pytest.raises(ValueError, match=r"x\[0, 0\] = -1 lies outside"):
        word_embedding_forward(np.array([[-1]]), W)
    with pytest.raises(ValueError, match="x must hold integer indices, got dtype float64"):
        word_embedding_forward(np.array([[1.0]]), W)


def test_temporal_affine_by_hand():
    x = np.array([[[1.0, 2.0], [3.0, 4.0]]])  # N = 1, T = 2, D = 2
    w = np.array([[1.0, -1.0, 0.0], [0.5, 0.0, 2.0]])
    b = np.array([0.0, 1.0, -1.0])
    out, cache = temporal_affine_forward(x, w, b)
    np.testing.assert_array_equal(out, [[[2.0, 0.0, 3.0], [5.0, -2.0, 7.0]]])
    dx, dw, db = temporal_affine_backward(np.ones((1, 2, 3)), cache)
    np.testing.assert_array_equal(dx, [[[0.0, 2.5], [0.0, 2.5]]])
    np.testing.assert_array_equal(dw, [[4.0, 4.0, 4.0], [6.0, 6.0, 6.0]])
    np.testing.assert_array_equal(db, [2.0, 2.0, 2.0])


def test_temporal_affine_rejects_a_bias_numpy_would_broadcast():
    with pytest.raises(
        ValueError, match=r"temporal_affine_forward: b has shape \(1,\), expected \(3,\)"
    ):
        temporal_affine_forward(np.zeros((1, 2, 2)), np.zeros((2, 3)), np.zeros(1))


def test_temporal_softmax_loss_by_hand():
    # equal scores: every kept step costs log V; the gradient is (1/V - onehot) * mask / N
    n, t, v = 2, 3, 4
    x = np.zeros((n, t, v))
    y = np.array([[0, 1, 2], [3, 3, 0]])
    mask = np.array([[True, True, False], [True, False, False]])
    loss, dx = temporal_softmax_loss(x, y, mask)
    assert loss == pytest.approx(3 * math.log(4) / 2, rel=1e-15)
    expected = np.full((n, t, v), 0.25)
    expected[np.arange(n)[:, None], np.arange(t), y] -= 1
    expected *= mask[:, :, None] / n
    np.testing.assert_allclose(dx, expected, rtol=1e-15)
    assert np.all(dx[~mask] == 0)


def test_temporal_softmax_loss_is_the_masked_sum_of_softmax_losses(rng):
    x = rng.standard_normal((3, 4, 5))
    y = rng.integers(0, 5, size=(3, 4))
    mask = rng.random((3, 4)) < 0.6
    loss, _ = temporal_softmax_loss(x, y, mask)
    log_probs = x - np.log(np.exp(x).sum(axis=2, keepdims=True))
    expected = -sum(log_probs[n, t, y[n, t]] for n in range(3) for t in range(4) if mask[n, t])
    assert loss == pytest.approx(expected / 3, rel=1e-13)
    # a 0/1 integer mask means the same as a boolean one
    assert temporal_softmax_loss(x, y, mask.astype(np.int64))[0] == loss


def test_temporal_softmax_loss_verbose_prints_the_flat_shape_and_changes_nothing(rng, capsys):
    x = rng.standard_normal((2, 3, 5))
    y = rng.integers(0, 5, size=(2, 3))
    mask = np.array([[1, 1, 0], [1, 0, 0]])
    quiet = temporal_softmax_loss(x, y, mask)
    assert capsys.readouterr().out == ""
    loud = temporal_softmax_loss(x, y, mask, verbose=True)
    assert capsys.readouterr().out == "dx_flat:  (6, 5)\n"
    assert loud[0] == quiet[0]
    np.testing.assert_array_equal(loud[1], quiet[1])


def test_temporal_softmax_loss_rejects_bad_targets_and_masks():
    x = np.zeros((2, 3, 4))
    y = np.zeros((2, 3), dtype=np.int64)
    mask = np.ones((2, 3), dtype=bool)
    with pytest.raises(ValueError, match=r"temporal_softmax_loss: y\[0, 1\] = 4 lies outside"):
        temporal_softmax_loss(x, np.array([[0, 4, 0], [0, 0, 0]]), mask)
    with pytest.raises(ValueError, match=r"y has shape \(2,\), expected \(2, 3\)"):
        temporal_softmax_loss(x, np.zeros(2, dtype=np.int64), mask)
    with pytest.raises(ValueError, match="mask must hold only 0 and 1"):
        temporal_softmax_loss(x, y, np.full((2, 3), 0.5))
    with pytest.raises(ValueError, match=r"mask has shape \(3, 2\), expected \(2, 3\)"):
        temporal_softmax_loss(x, y, np.ones((3, 2), dtype=bool))
    x_nan = x.copy()
    x_nan[1, 2, 3] = np.nan
    with pytest.raises(ValueError, match="x holds 1 non-finite value"):
        temporal_softmax_loss(x_nan, y, mask)
