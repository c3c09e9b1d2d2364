"""The PyTorch LSTM against PyTorch's own ``nn.LSTMCell`` and ``nn.LSTM`` (gates permuted from
i, f, o, g to i, f, g, o), an oracle independent of the NumPy reference; the module; errors.

Agreement with the NumPy reference is tested by ``tests/dualnet/test_crosscheck.py``.
"""

import math

import pytest
import torch
from torch import nn

from torch_impl.lstm import LSTM, lstm, lstm_gates, lstm_step, to_torch_gate_order

pytestmark = pytest.mark.lstm

F64 = torch.float64


def random_lstm(d: int = 4, h: int = 3, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    Wx = torch.randn(d, 4 * h, generator=g, dtype=F64) / math.sqrt(d)
    Wh = torch.randn(h, 4 * h, generator=g, dtype=F64) / math.sqrt(h)
    b = torch.randn(4 * h, generator=g, dtype=F64)
    return Wx, Wh, b


def test_gate_order_is_converted_block_by_block():
    labels = torch.tensor([10.0, 11.0, 20.0, 21.0, 30.0, 31.0, 40.0, 41.0])  # i, f, o, g; H = 2
    torch.testing.assert_close(
        to_torch_gate_order(labels), torch.tensor([10.0, 11.0, 20.0, 21.0, 40.0, 41.0, 30.0, 31.0])
    )


def test_lstm_step_agrees_with_nn_lstm_cell():
    Wx, Wh, b = (p.requires_grad_() for p in random_lstm())
    x = torch.randn(2, 4, dtype=F64, requires_grad=True)
    prev_h = torch.randn(2, 3, dtype=F64, requires_grad=True)
    prev_c = torch.randn(2, 3, dtype=F64, requires_grad=True)
    cell = nn.LSTMCell(4, 3, dtype=F64)
    with torch.no_grad():
        cell.weight_ih.copy_(to_torch_gate_order(Wx).T)
        cell.weight_hh.copy_(to_torch_gate_order(Wh).T)
        cell.bias_ih.copy_(to_torch_gate_order(b))
        cell.bias_hh.zero_()
    next_h, next_c = lstm_step(x, prev_h, prev_c, Wx, Wh, b)
    oracle_h, oracle_c = cell(x, (prev_h, prev_c))
    torch.testing.assert_close(next_h, oracle_h, rtol=1e-14, atol=1e-15)
    torch.testing.assert_close(next_c, oracle_c, rtol=1e-14, atol=1e-15)

    dh, dc = torch.randn(2, 3, dtype=F64), torch.randn(2, 3, dtype=F64)
    inputs = [x, prev_h, prev_c]
    ours = torch.autograd.grad((next_h, next_c), [*inputs, Wx, b], (dh, dc))
    theirs = torch.autograd.grad(
        (oracle_h, oracle_c), [*inputs, cell.weight_ih, cell.bias_ih], (dh, dc)
    )
    for got, want in zip(ours[:3], theirs[:3], strict=True):
        torch.testing.assert_close(got, want, rtol=1e-13, atol=1e-15)
    torch.testing.assert_close(to_torch_gate_order(ours[3]).T, theirs[3], rtol=1e-13, atol=1e-15)
    torch.testing.assert_close(to_torch_gate_order(ours[4]), theirs[4], rtol=1e-13, atol=1e-15)


def test_lstm_agrees_with_nn_lstm_from_a_zero_cell_state():
    Wx, Wh, b = random_lstm(seed=1)
    x, h0 = torch.randn(2, 5, 4, dtype=F64), torch.randn(2, 3, dtype=F64)
    oracle = nn.LSTM(4, 3, batch_first=True, dtype=F64)
    with torch.no_grad():
        oracle.weight_ih_l0.copy_(to_torch_gate_order(Wx).T)
        oracle.weight_hh_l0.copy_(to_torch_gate_order(Wh).T)
        oracle.bias_ih_l0.copy_(to_torch_gate_order(b))
        oracle.bias_hh_l0.zero_()
    expected, _ = oracle(x, (h0.unsqueeze(0), torch.zeros(1, 2, 3, dtype=F64)))
    torch.testing.assert_close(lstm(x, h0, Wx, Wh, b), expected, rtol=1e-13, atol=1e-15)


def test_lstm_module_forward_is_its_step_unrolled():
    module = LSTM(4, 3, dtype=F64, seed=0)
    assert [(n, tuple(p.shape)) for n, p in module.named_parameters()] == [
        ("Wx", (4, 12)),
        ("Wh", (3, 12)),
        ("b", (12,)),
    ]
    x, h0 = torch.randn(2, 5, 4, dtype=F64), torch.randn(2, 3, dtype=F64)
    h = module(x, h0)
    prev_h, prev_c = h0, torch.zeros_like(h0)
    for t in range(5):
        prev_h, prev_c = module.step_forward(x[:, t], prev_h, prev_c)
        torch.testing.assert_close(h[:, t], prev_h, rtol=0, atol=0)


def test_lstm_rejects_bad_shapes():
    Wx, Wh, b = random_lstm()
    x, prev = torch.zeros(2, 4, dtype=F64), torch.zeros(2, 3, dtype=F64)
    with pytest.raises(
        ValueError,
        match=r"lstm_step: Wx has shape \(4, 3\), expected \(4, 12\) \(D, 4H\) for D = 4 input "
        r"features and H = 3 hidden units",
    ):
        lstm_step(x, prev, prev, Wx[:, :3], Wh, b)
    with pytest.raises(ValueError, match=r"lstm_step: prev_c has shape \(2, 2\)"):
        lstm_step(x, prev, torch.zeros(2, 2, dtype=F64), Wx, Wh, b)
    with pytest.raises(ValueError, match=r"lstm_gates: a has shape \(2, 3\), expected \(2, 12\)"):
        lstm_gates(prev, prev)
