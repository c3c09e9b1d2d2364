r"""The vanilla RNN and the shared sequence layers in PyTorch; gradients come from autograd.

The twins of ``reference_numpy/rnn.py``, under the same names without ``_forward``:
``rnn_step``, ``rnn``, ``word_embedding``, ``temporal_affine``, ``temporal_softmax_loss``;
and the ``nn.Module`` versions :class:`RNN` and :class:`WordEmbedding`, each with ``forward``
over a whole sequence and ``step_forward`` for one step.

PyTorch's own ``nn.RNNCell`` stores its weights transposed (``weight_ih`` is ``(H, D)``) and
has two biases; with ``weight_ih = Wx.T``, ``weight_hh = Wh.T``, ``bias_ih = b`` and
``bias_hh = 0`` it computes exactly :func:`rnn_step`, which the tests use as an independent
oracle.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from torch_impl.validation import (
    check_batch,
    check_finite,
    check_indices,
    check_mask,
    check_ndim,
    check_recurrent_weights,
    check_shape,
    check_steps,
)


def rnn_step(
    x: torch.Tensor, prev_h: torch.Tensor, Wx: torch.Tensor, Wh: torch.Tensor, b: torch.Tensor
) -> torch.Tensor:
    r"""One RNN step, :math:`h_t = \tanh(x_t W_x + h_{t-1} W_h + b)`.

    Args:
        x: Inputs, shape ``(N, D)``.
        prev_h: Previous hidden state, shape ``(N, H)``.
        Wx: Shape ``(D, H)``.
        Wh: Shape ``(H, H)``.
        b: Shape ``(H,)``.

    Returns:
        ``next_h`` of shape ``(N, H)``.
    """
    func = "rnn_step"
    check_ndim(func, "x", x, 2, "(N, D)")
    check_batch(func, "x", x)
    check_ndim(func, "prev_h", prev_h, 2, "(N, H)")
    n, d = x.shape
    check_shape(func, "prev_h", prev_h, (n, prev_h.shape[1]), f"(N, H) with N = {n} as in x")
    check_recurrent_weights(func, Wx, Wh, b, d, prev_h.shape[1], 1)
    return torch.tanh(x @ Wx + prev_h @ Wh + b)


def rnn(
    x: torch.Tensor, h0: torch.Tensor, Wx: torch.Tensor, Wh: torch.Tensor, b: torch.Tensor
) -> torch.Tensor:
    r""":func:`rnn_step` unrolled over whole sequences, from the initial state ``h0``.

    Args:
        x: Input sequences, shape ``(N, T, D)``.
        h0: Initial hidden states, shape ``(N, H)``.
        Wx: Shape ``(D, H)``.
        Wh: Shape ``(H, H)``.
        b: Shape ``(H,)``.

    Returns:
        ``h``, the hidden states of every step, shape ``(N, T, H)``.
    """
    func = "rnn"
    check_steps(func, "x", x)
    check_ndim(func, "h0", h0, 2, "(N, H)")
    n = x.shape[0]
    check_shape(func, "h0", h0, (n, h0.shape[1]), f"(N, H) with N = {n} as in x")
    states = []
    prev_h = h0
    for t in range(x.shape[1]):
        prev_h = rnn_step(x[:, t], prev_h, Wx, Wh, b)
        states.append(prev_h)
    return torch.stack(states, dim=1)


def word_embedding(x: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    r"""Word embedding, :math:`\mathrm{out}_{nt} = W_{x_{nt}}`: ``F.embedding``.

    Args:
        x: Word indices, shape ``(N, T)`` (any shape), integers in ``[0, V)``.
        W: Word vectors, shape ``(V, D)``.

    Returns:
        ``out`` of shape ``(N, T, D)``.
    """
    func = "word_embedding"
    check_ndim(func, "W", W, 2, "(V, D): one row per word")
    check_indices(func, "x", x, W.shape[0], f"the {W.shape[0]} rows of W")
    check_batch(func, "x", x)
    return F.embedding(x, W)


def temporal_affine(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    r"""One affine layer at every time step, :math:`\mathrm{out}_{nt} = x_{nt} W + b`.

    Args:
        x: Inputs, shape ``(N, T, D)``.
        w: Weights, shape ``(D, M)``.
        b: Biases, shape ``(M,)``.

    Returns:
        ``out`` of shape ``(N, T, M)``.
    """
    func = "temporal_affine"
    check_ndim(func, "x", x, 3, "(N, T, D)")
    check_batch(func, "x", x)
    check_ndim(func, "w", w, 2, "(D, M)")
    d = x.shape[2]
    check_shape(func, "w", w, (d, w.shape[1]), f"(D, M) with D = {d} as in x")
    check_shape(func, "b", b, (w.shape[1],), f"(one bias per column of w {tuple(w.shape)})")
    return x @ w + b


def temporal_softmax_loss(x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    r"""Masked softmax loss over time,
    :math:`-\frac1N \sum_{n,t} m_{nt} \log p_{n t y_{nt}}`.

    ``F.cross_entropy`` with ``reduction="none"`` gives every step's loss; the mask weights
    them and the sum is divided by the batch size.

    Args:
        x: Scores, shape ``(N, T, V)``.
        y: Targets, shape ``(N, T)``, integers in ``[0, V)``.
        mask: Which steps count, shape ``(N, T)``, booleans or 0/1.

    Returns:
        The loss, a 0-dimensional tensor.
    """
    func = "temporal_softmax_loss"
    check_ndim(func, "x", x, 3, "(N, T, V)")
    check_batch(func, "x", x)
    check_finite(func, "x", x)
    n, t, v = x.shape
    check_shape(func, "y", y, (n, t), "(N, T), one target per step of x")
    check_indices(func, "y", y, v, f"the {v} scores of each step of x")
    check_mask(func, "mask", mask, (n, t), "(N, T), one flag per step of x")
    losses = F.cross_entropy(x.reshape(n * t, v), y.reshape(n * t).long(), reduction="none")
    return (losses * mask.reshape(n * t).to(x.dtype)).sum() / n


def normal_weight(
    shape: tuple[int, ...],
    scale: float,
    *,
    generator: torch.Generator,
    dtype: torch.dtype,
    device: torch.device | str | None,
) -> nn.Parameter:
    """A parameter of standard normal entries times ``scale``, drawn on the CPU from
    ``generator`` (so a seed gives the same weights on every device) and then moved."""
    values = torch.randn(shape, generator=generator, dtype=torch.float64) * scale
    return nn.Parameter(values.to(dtype=dtype, device=device))


def zero_bias(size: int, *, dtype: torch.dtype, device: torch.device | str | None) -> nn.Parameter:
    """A parameter of ``size`` zeros."""
    return nn.Parameter(torch.zeros(size, dtype=dtype, device=device))


def seeded_generator(seed: int | None) -> torch.Generator:
    """A CPU generator seeded with ``seed``, or from fresh entropy when ``seed`` is ``None``."""
    generator = torch.Generator()
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(int(seed))
    return generator


class RNN(nn.Module):
    r"""A vanilla RNN layer holding ``Wx (D, H)``, ``Wh (H, H)`` and ``b (H,)``.

    ``Wx`` and ``Wh`` start as standard normal entries divided by the square root of their
    fan-in (:math:`\sqrt{D}`, :math:`\sqrt{H}`); ``b`` starts at zero.

    Args:
        input_dim: ``D``.
        hidden_dim: ``H``.
        dtype: Parameter dtype.
        device: Parameter device.
        seed: Seed of the initial weights; ``None`` draws fresh ones.
    """

    def __init__(
        self,
        input_dim: int,
        hidden_dim: int,
        *,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        generator = seeded_generator(seed)
        where = {"generator": generator, "dtype": dtype, "device": device}
        self.Wx = normal_weight((input_dim, hidden_dim), 1 / math.sqrt(input_dim), **where)
        self.Wh = normal_weight((hidden_dim, hidden_dim), 1 / math.sqrt(hidden_dim), **where)
        self.b = zero_bias(hidden_dim, dtype=dtype, device=device)

    def forward(self, x: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
        """Hidden states ``(N, T, H)`` for inputs ``x (N, T, D)`` from ``h0 (N, H)``."""
        return rnn(x, h0, self.Wx, self.Wh, self.b)

    def step_forward(self, x: torch.Tensor, prev_h: torch.Tensor) -> torch.Tensor:
        """One step: ``next_h (N, H)`` for ``x (N, D)`` and ``prev_h (N, H)``."""
        return rnn_step(x, prev_h, self.Wx, self.Wh, self.b)


class WordEmbedding(nn.Module):
    """A word embedding holding ``W (V, D)``, whose entries start as standard normal values
    divided by 100, as in the classic captioning model.

    Args:
        vocab_size: ``V``.
        embed_dim: ``D``.
        dtype: Parameter dtype.
        device: Parameter device.
        seed: Seed of the initial weights; ``None`` draws fresh ones.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        *,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        self.W = normal_weight(
            (vocab_size, embed_dim),
            0.01,
            generator=seeded_generator(seed),
            dtype=dtype,
            device=device,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Word vectors ``(N, T, D)`` for the word indices ``x (N, T)``."""
        return word_embedding(x, self.W)

    def step_forward(self, x: torch.Tensor) -> torch.Tensor:
        """Word vectors ``(N, D)`` for one word per sequence, ``x (N,)``."""
        check_ndim("WordEmbedding.step_forward", "x", x, 1, "(N,): one word per sequence")
        return word_embedding(x, self.W)
