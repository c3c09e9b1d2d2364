"""The NumPy LSTM against hand calculations (the gate order i, f, o, g above all), and its errors
on bad input.

Agreement with PyTorch and finite differences is tested by the registry-driven tests in
``tests/dualnet/test_crosscheck.py``; the PyTorch LSTM is also held against ``nn.LSTMCell``
in ``tests/torch_impl/test_lstm.py``.
"""

import math

import numpy as np
import pytest

from reference_numpy.lstm import (
    lstm_backward,
    lstm_forward,
    lstm_gates_forward,
    lstm_step_backward,
    lstm_step_forward,
    sigmoid,
)

pytestmark = pytest.mark.lstm


def sig(z: float) -> float:
    return 1 / (1 + math.exp(-z))


# With x = 0 and prev_h = 0 the activations are the biases, one number per gate:
A_I, A_F, A_O, A_G = 0.3, -0.4, 1.2, 0.7
PREV_C = 2.0


def one_unit_step():
    x, prev_h, prev_c = np.zeros((1, 1)), np.zeros((1, 1)), np.array([[PREV_C]])
    Wx, Wh = np.ones((1, 4)), np.ones((1, 4))
    b = np.array([A_I, A_F, A_O, A_G])
    return lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)


def test_lstm_step_gates_are_i_f_o_g_by_hand():
    next_h, next_c, _ = one_unit_step()
    i, f, o, g = sig(A_I), sig(A_F), sig(A_O), math.tanh(A_G)
    c = f * PREV_C + i * g
    np.testing.assert_allclose(next_c, [[c]], rtol=1e-15)
    np.testing.assert_allclose(next_h, [[o * math.tanh(c)]], rtol=1e-15)


def test_lstm_step_backward_by_hand_for_every_gate():
    next_h, next_c, cache = one_unit_step()
    i, f, o, g = sig(A_I), sig(A_F), sig(A_O), math.tanh(A_G)
    tanh_c = math.tanh(f * PREV_C + i * g)
    # upstream gradient on h only: the cell state gets o * tanh'(c)
    dc = o * (1 - tanh_c**2)
    dx, dprev_h, dprev_c, dWx, dWh, db = lstm_step_backward(
        np.ones((1, 1)), np.zeros((1, 1)), cache
    )
    expected_db = [
        dc * g * i * (1 - i),  # input gate
        dc * PREV_C * f * (1 - f),  # forget gate
        tanh_c * o * (1 - o),  # output gate
        dc * i * (1 - g**2),  # candidate
    ]
    np.testing.assert_allclose(db, expected_db, rtol=1e-14)
    np.testing.assert_allclose(dprev_c, [[dc * f]], rtol=1e-14)
    # x = prev_h = 0: no weight gradient; the input gradients are sums of the gate gradients
    np.testing.assert_array_equal(dWx, np.zeros((1, 4)))
    np.testing.assert_array_equal(dWh, np.zeros((1, 4)))
    np.testing.assert_allclose(dx, [[sum(expected_db)]], rtol=1e-14)
    np.testing.assert_allclose(dprev_h, [[sum(expected_db)]], rtol=1e-14)


def test_a_gradient_on_the_cell_state_alone_skips_the_output_gate():
    _, _, cache = one_unit_step()
    *_, db = lstm_step_backward(np.zeros((1, 1)), np.ones((1, 1)), cache)
    i, f, g = sig(A_I), sig(A_F), math.tanh(A_G)
    np.testing.assert_allclose(
        db, [g * i * (1 - i), PREV_C * f * (1 - f), 0.0, i * (1 - g**2)], rtol=1e-14
    )


def test_lstm_forward_starts_from_a_zero_cell_state_and_carries_it(rng):
    x, h0 = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5))
    Wx, Wh, b = rng.standard_normal((4, 20)), rng.standard_normal((5, 20)), rng.standard_normal(20)
    h, _ = lstm_forward(x, h0, Wx, Wh, b)
    prev_h, prev_c = h0, np.zeros((2, 5))
    for t in range(3):
        prev_h, prev_c, _ = lstm_step_forward(x[:, t], prev_h, prev_c, Wx, Wh, b)
        np.testing.assert_array_equal(h[:, t], prev_h)


def test_lstm_backward_returns_gradients_of_every_input(rng):
    x, h0 = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5))
    Wx, Wh, b = rng.standard_normal((4, 20)), rng.standard_normal((5, 20)), rng.standard_normal(20)
    h, cache = lstm_forward(x, h0, Wx, Wh, b)
    grads = lstm_backward(np.ones_like(h), cache)
    assert [g.shape for g in grads] == [x.shape, h0.shape, Wx.shape, Wh.shape, b.shape]


def test_sigmoid_never_overflows():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        values = sigmoid(np.array([-1000.0, -1.0, 0.0, 1.0, 1000.0]))
    np.testing.assert_allclose(values, [0.0, sig(-1.0), 0.5, sig(1.0), 1.0], rtol=1e-15)
    assert sigmoid(np.zeros(2, dtype=np.float32)).dtype == np.float32


def test_lstm_rejects_weights_without_four_gates(rng):
    x, prev = rng.standard_normal((2, 2)), rng.standard_normal((2, 3))
    with pytest.raises(
        ValueError,
        match=r"lstm_step_forward: Wx has shape \(2, 3\), expected \(2, 12\) \(D, 4H\) for "
        r"D = 2 input features and H = 3 hidden units",
    ):
        lstm_step_forward(x, prev, prev, np.zeros((2, 3)), np.zeros((3, 12)), np.zeros(12))
    with pytest.raises(ValueError, match=r"lstm_step_forward: prev_c has shape \(2, 4\)"):
        lstm_step_forward(
            x, prev, np.zeros((2, 4)), np.zeros((2, 12)), np.zeros((3, 12)), np.zeros(12)
        )
    with pytest.raises(
        ValueError, match=r"lstm_gates_forward: a has shape \(2, 8\), expected \(2, 12\)"
    ):
        lstm_gates_forward(np.zeros((2, 8)), prev)


def test_lstm_backward_rejects_a_mismatched_upstream_gradient(rng):
    _, cache = lstm_forward(
        rng.standard_normal((2, 3, 4)),
        np.zeros((2, 5)),
        np.ones((4, 20)),
        np.ones((5, 20)),
        np.zeros(20),
    )
    with pytest.raises(
        ValueError, match=r"lstm_backward: dh has shape \(2, 2, 5\), expected \(2, 3, 5\)"
    ):
        lstm_backward(np.zeros((2, 2, 5)), cache)
