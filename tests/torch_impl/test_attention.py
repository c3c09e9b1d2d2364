"""The PyTorch attention and attention LSTM: PyTorch's attention kernel against the weights the
function returns, hand calculations, the module, and errors.

Agreement with the NumPy reference is tested by ``tests/dualnet/test_crosscheck.py``.
"""

import math

import pytest
import torch

from torch_impl.attention import (
    AttentionLSTM,
    attention_lstm,
    attention_lstm_step,
    dot_product_attention,
)

pytestmark = pytest.mark.attention

F64 = torch.float64


def test_the_kernel_output_is_the_weighted_sum_of_the_cells():
    g = torch.Generator().manual_seed(0)
    prev_h = torch.randn(3, 5, generator=g, dtype=F64)
    A = torch.randn(3, 5, 4, 4, generator=g, dtype=F64)
    attn, weights = dot_product_attention(prev_h, A)
    assert attn.shape == (3, 5) and weights.shape == (3, 4, 4)
    torch.testing.assert_close(weights.sum(dim=(1, 2)), torch.ones(3, dtype=F64))
    expected = (A * weights.unsqueeze(1)).sum(dim=(2, 3))
    torch.testing.assert_close(attn, expected, rtol=1e-14, atol=1e-15)


def test_attention_by_hand_with_the_square_root_scaling():
    c = 1.5
    A = torch.zeros(1, 4, 4, 4, dtype=F64)
    A[0, 0, 1, 2] = c  # one cell scores 2c / sqrt(4) = c, the 15 others 0
    attn, weights = dot_product_attention(torch.tensor([[2.0, 0.0, 0.0, 0.0]], dtype=F64), A)
    w_cell = math.exp(c) / (math.exp(c) + 15)
    assert float(weights[0, 1, 2]) == pytest.approx(w_cell, rel=1e-14)
    assert float(weights[0, 0, 0]) == pytest.approx(1 / (math.exp(c) + 15), rel=1e-14)
    torch.testing.assert_close(attn, torch.tensor([[c * w_cell, 0.0, 0.0, 0.0]], dtype=F64))


def test_attention_lstm_module_forward_is_its_step_unrolled():
    module = AttentionLSTM(3, 4, dtype=F64, seed=0)
    assert [(n, tuple(p.shape)) for n, p in module.named_parameters()] == [
        ("Wx", (3, 16)),
        ("Wh", (4, 16)),
        ("Wattn", (4, 16)),
        ("b", (16,)),
    ]
    x, A = torch.randn(2, 5, 3, dtype=F64), torch.randn(2, 4, 4, 4, dtype=F64)
    h = module(x, A)
    prev_h = prev_c = A.mean(dim=(2, 3))  # h0 = c0 = the grid average
    for t in range(5):
        attn, _ = dot_product_attention(prev_h, A)
        prev_h, prev_c = module.step_forward(x[:, t], prev_h, prev_c, attn)
        torch.testing.assert_close(h[:, t], prev_h, rtol=0, atol=0)


def test_attention_rejects_bad_shapes():
    with pytest.raises(
        ValueError, match=r"dot_product_attention: A has shape \(2, 3, 16\), expected 4 dim"
    ):
        dot_product_attention(torch.zeros(2, 3), torch.zeros(2, 3, 16))
    with pytest.raises(
        ValueError, match=r"dot_product_attention: prev_h has shape \(2, 5\), expected \(2, 3\)"
    ):
        dot_product_attention(torch.zeros(2, 5), torch.zeros(2, 3, 4, 4))
    x, A = torch.zeros(2, 3, 5), torch.zeros(2, 4, 4, 4)
    weights = (torch.zeros(5, 16), torch.zeros(4, 16), torch.zeros(4, 4), torch.zeros(16))
    with pytest.raises(
        ValueError, match=r"attention_lstm_step: Wattn has shape \(4, 4\), expected \(4, 16\)"
    ):
        attention_lstm(x, A, *weights)
    with pytest.raises(ValueError, match=r"attention_lstm_step: attn has shape \(2, 3\)"):
        attention_lstm_step(
            x[:, 0], A.mean(dim=(2, 3)), A.mean(dim=(2, 3)), torch.zeros(2, 3), *weights
        )
