"""The PyTorch RNN and sequence layers: the RNN against PyTorch's own ``nn.RNNCell`` and
``nn.RNN`` (an oracle independent of the NumPy reference), the modules, and errors.

Agreement with the NumPy reference is tested by ``tests/dualnet/test_crosscheck.py``.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from torch_impl.rnn import (
    RNN,
    WordEmbedding,
    rnn,
    rnn_step,
    temporal_affine,
    temporal_softmax_loss,
    word_embedding,
)

pytestmark = pytest.mark.rnn

F64 = torch.float64


def random_rnn(d: int = 4, h: int = 5, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    Wx = torch.randn(d, h, generator=g, dtype=F64) / math.sqrt(d)
    Wh = torch.randn(h, h, generator=g, dtype=F64) / math.sqrt(h)
    b = torch.randn(h, generator=g, dtype=F64)
    return Wx, Wh, b


def torch_cell(Wx: torch.Tensor, Wh: torch.Tensor, b: torch.Tensor) -> nn.RNNCell:
    """``nn.RNNCell`` computing the same step: weights transposed, the bias in bias_ih."""
    cell = nn.RNNCell(Wx.shape[0], Wx.shape[1], nonlinearity="tanh", dtype=F64)
    with torch.no_grad():
        cell.weight_ih.copy_(Wx.T)
        cell.weight_hh.copy_(Wh.T)
        cell.bias_ih.copy_(b)
        cell.bias_hh.zero_()
    return cell


def test_rnn_step_agrees_with_nn_rnn_cell():
    Wx, Wh, b = (p.requires_grad_() for p in random_rnn())
    x = torch.randn(3, 4, dtype=F64, requires_grad=True)
    prev_h = torch.randn(3, 5, dtype=F64, requires_grad=True)
    cell = torch_cell(Wx.detach(), Wh.detach(), b.detach())
    ours, theirs = rnn_step(x, prev_h, Wx, Wh, b), cell(x, prev_h)
    torch.testing.assert_close(ours, theirs, rtol=1e-14, atol=1e-15)

    dout = torch.randn(3, 5, dtype=F64)
    grads = torch.autograd.grad(ours, [x, prev_h, Wx, Wh, b], dout)
    oracle = torch.autograd.grad(
        theirs, [x, prev_h, cell.weight_ih, cell.weight_hh, cell.bias_ih], dout
    )
    expected = [oracle[0], oracle[1], oracle[2].T, oracle[3].T, oracle[4]]
    for got, want in zip(grads, expected, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-13, atol=1e-15)


def test_rnn_agrees_with_nn_rnn_over_a_sequence():
    Wx, Wh, b = random_rnn(seed=1)
    x, h0 = torch.randn(2, 6, 4, dtype=F64), torch.randn(2, 5, dtype=F64)
    oracle = nn.RNN(4, 5, batch_first=True, dtype=F64)
    with torch.no_grad():
        oracle.weight_ih_l0.copy_(Wx.T)
        oracle.weight_hh_l0.copy_(Wh.T)
        oracle.bias_ih_l0.copy_(b)
        oracle.bias_hh_l0.zero_()
    expected, last = oracle(x, h0.unsqueeze(0))
    h = rnn(x, h0, Wx, Wh, b)
    torch.testing.assert_close(h, expected, rtol=1e-13, atol=1e-15)
    torch.testing.assert_close(h[:, -1], last[0], rtol=1e-13, atol=1e-15)


def test_rnn_module_forward_is_its_step_unrolled():
    module = RNN(3, 4, dtype=F64, seed=0)
    assert [(n, tuple(p.shape)) for n, p in module.named_parameters()] == [
        ("Wx", (3, 4)),
        ("Wh", (4, 4)),
        ("b", (4,)),
    ]
    x, h0 = torch.randn(2, 5, 3, dtype=F64), torch.randn(2, 4, dtype=F64)
    h = module(x, h0)
    prev = h0
    for t in range(5):
        prev = module.step_forward(x[:, t], prev)
        torch.testing.assert_close(h[:, t], prev, rtol=0, atol=0)


def test_modules_are_seeded_and_scaled_by_the_fan_in():
    a, b = RNN(400, 300, seed=7), RNN(400, 300, seed=7)
    torch.testing.assert_close(a.Wx, b.Wx, rtol=0, atol=0)
    assert float(a.Wx.detach().std()) * math.sqrt(400) == pytest.approx(1.0, rel=0.02)
    assert float(a.Wh.detach().std()) * math.sqrt(300) == pytest.approx(1.0, rel=0.02)
    assert not a.b.any()
    assert a.Wx.dtype == torch.float32
    assert not torch.equal(RNN(400, 300, seed=8).Wx, a.Wx)


def test_word_embedding_module_and_its_gradient_for_repeated_words():
    module = WordEmbedding(4, 2, dtype=F64, seed=0)
    x = torch.tensor([[1, 1, 2], [2, 0, 1]])
    out = module(x)
    torch.testing.assert_close(out, module.W.detach()[x], rtol=0, atol=0)
    (dW,) = torch.autograd.grad(out, module.W, torch.ones_like(out))
    torch.testing.assert_close(
        dW, torch.tensor([[1.0] * 2, [3.0] * 2, [2.0] * 2, [0.0] * 2], dtype=F64)
    )
    torch.testing.assert_close(module.step_forward(x[:, 0]), out[:, 0], rtol=0, atol=0)
    with pytest.raises(ValueError, match=r"WordEmbedding.step_forward: x has shape \(2, 3\)"):
        module.step_forward(x)


def test_word_embedding_rejects_bad_indices():
    with pytest.raises(
        ValueError, match=r"word_embedding: x\[0, 1\] = 9 lies outside \[0, 4\), expected indices"
    ):
        word_embedding(torch.tensor([[0, 9]]), torch.zeros(4, 2))
    with pytest.raises(ValueError, match="x must hold integer indices, got dtype torch.float32"):
        word_embedding(torch.zeros(1, 2), torch.zeros(4, 2))


def test_temporal_affine_by_hand():
    x = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])
    w = torch.tensor([[1.0, -1.0, 0.0], [0.5, 0.0, 2.0]])
    b = torch.tensor([0.0, 1.0, -1.0])
    torch.testing.assert_close(
        temporal_affine(x, w, b), torch.tensor([[[2.0, 0.0, 3.0], [5.0, -2.0, 7.0]]])
    )
    with pytest.raises(ValueError, match=r"temporal_affine: b has shape \(1,\), expected \(3,\)"):
        temporal_affine(x, w, torch.zeros(1))


def test_temporal_softmax_loss_is_the_masked_sum_of_log_softmax():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 4, 5, generator=g, dtype=F64, requires_grad=True)
    y = torch.randint(0, 5, (3, 4), generator=g)
    mask = torch.rand(3, 4, generator=g) < 0.6
    loss = temporal_softmax_loss(x, y, mask)
    log_probs = F.log_softmax(x, dim=2).gather(2, y.unsqueeze(2)).squeeze(2)
    torch.testing.assert_close(loss, -(log_probs * mask).sum() / 3, rtol=1e-14, atol=0)
    (dx,) = torch.autograd.grad(loss, x)
    assert bool((dx[~mask] == 0).all())
    torch.testing.assert_close(temporal_softmax_loss(x, y, mask.long()), loss, rtol=0, atol=0)


def test_temporal_softmax_loss_rejects_bad_targets_and_masks():
    x, y, mask = torch.zeros(2, 3, 4), torch.zeros(2, 3, dtype=torch.long), torch.ones(2, 3)
    with pytest.raises(ValueError, match=r"temporal_softmax_loss: y\[1, 0\] = 4 lies outside"):
        temporal_softmax_loss(x, torch.tensor([[0, 0, 0], [4, 0, 0]]), mask)
    with pytest.raises(ValueError, match="mask must hold only 0 and 1"):
        temporal_softmax_loss(x, y, torch.full((2, 3), 0.5))
    with pytest.raises(ValueError, match=r"x has shape \(2, 12\), expected 3 dimensions"):
        temporal_softmax_loss(x.reshape(2, 12), y, mask)


def test_rnn_rejects_bad_shapes():
    Wx, Wh, b = random_rnn()
    with pytest.raises(ValueError, match=r"rnn_step: Wh has shape \(4, 5\), expected \(5, 5\)"):
        rnn_step(torch.zeros(2, 4, dtype=F64), torch.zeros(2, 5, dtype=F64), Wx, Wh[:4], b)
    with pytest.raises(ValueError, match=r"rnn: h0 has shape \(3, 5\), expected \(2, 5\)"):
        rnn(torch.zeros(2, 3, 4, dtype=F64), torch.zeros(3, 5, dtype=F64), Wx, Wh, b)
    with pytest.raises(ValueError, match=r"rnn: x has shape \(2, 0, 4\).*T >= 1"):
        rnn(torch.zeros(2, 0, 4, dtype=F64), torch.zeros(2, 5, dtype=F64), Wx, Wh, b)
