r"""The LSTM in PyTorch; gradients come from autograd.

The twins of ``reference_numpy/lstm.py``: ``lstm_gates``, ``lstm_step``, ``lstm`` and the
``nn.Module`` :class:`LSTM`. The activations :math:`a = x W_x + h W_h + b` of shape
``(N, 4H)`` are split in the order **i, f, o, g**.

PyTorch's ``nn.LSTMCell`` orders its gates i, f, **g, o**, stores its weights transposed and
has two biases. With the last two blocks of columns swapped it computes exactly
:func:`lstm_step` (see :func:`to_torch_gate_order`), which the tests use as an independent
oracle.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from torch_impl.rnn import normal_weight, seeded_generator, zero_bias
from torch_impl.validation import (
    check_batch,
    check_ndim,
    check_recurrent_weights,
    check_shape,
    check_steps,
)


def lstm_gates(a: torch.Tensor, prev_c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Gates and cell update from the activations ``a (N, 4H)`` split as i, f, o, g:
    :math:`c_t = \sigma(a_f) \odot c_{t-1} + \sigma(a_i) \odot \tanh(a_g)`,
    :math:`h_t = \sigma(a_o) \odot \tanh(c_t)`.

    Args:
        a: Activations, shape ``(N, 4H)``.
        prev_c: Previous cell state, shape ``(N, H)``.

    Returns:
        ``(next_h, next_c)``, both of shape ``(N, H)``.
    """
    func = "lstm_gates"
    check_ndim(func, "prev_c", prev_c, 2, "(N, H)")
    n, h = prev_c.shape
    check_shape(func, "a", a, (n, 4 * h), f"(N, 4H) for the four gates of H = {h} units")
    a_i, a_f, a_o, a_g = a.chunk(4, dim=1)
    next_c = torch.sigmoid(a_f) * prev_c + torch.sigmoid(a_i) * torch.tanh(a_g)
    next_h = torch.sigmoid(a_o) * torch.tanh(next_c)
    return next_h, next_c


def lstm_step(
    x: torch.Tensor,
    prev_h: torch.Tensor,
    prev_c: torch.Tensor,
    Wx: torch.Tensor,
    Wh: torch.Tensor,
    b: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""One LSTM step: :math:`a = x W_x + h_{t-1} W_h + b`, then :func:`lstm_gates`.

    Args:
        x: Inputs, shape ``(N, D)``.
        prev_h: Previous hidden state, shape ``(N, H)``.
        prev_c: Previous cell state, shape ``(N, H)``.
        Wx: Shape ``(D, 4H)``, columns in gate order i, f, o, g.
        Wh: Shape ``(H, 4H)``.
        b: Shape ``(4H,)``.

    Returns:
        ``(next_h, next_c)``, both of shape ``(N, H)``.
    """
    func = "lstm_step"
    check_ndim(func, "x", x, 2, "(N, D)")
    check_batch(func, "x", x)
    check_ndim(func, "prev_h", prev_h, 2, "(N, H)")
    n, d = x.shape
    h = prev_h.shape[1]
    check_shape(func, "prev_h", prev_h, (n, h), f"(N, H) with N = {n} as in x")
    check_shape(func, "prev_c", prev_c, (n, h), "(N, H), like prev_h")
    check_recurrent_weights(func, Wx, Wh, b, d, h, 4)
    return lstm_gates(x @ Wx + prev_h @ Wh + b, prev_c)


def lstm(
    x: torch.Tensor, h0: torch.Tensor, Wx: torch.Tensor, Wh: torch.Tensor, b: torch.Tensor
) -> torch.Tensor:
    r""":func:`lstm_step` unrolled over whole sequences from ``h0`` and :math:`c_0 = 0`.

    Args:
        x: Input sequences, shape ``(N, T, D)``.
        h0: Initial hidden states, shape ``(N, H)``.
        Wx: Shape ``(D, 4H)``.
        Wh: Shape ``(H, 4H)``.
        b: Shape ``(4H,)``.

    Returns:
        ``h``, the hidden states of every step, shape ``(N, T, H)``.
    """
    func = "lstm"
    check_steps(func, "x", x)
    check_ndim(func, "h0", h0, 2, "(N, H)")
    n = x.shape[0]
    check_shape(func, "h0", h0, (n, h0.shape[1]), f"(N, H) with N = {n} as in x")
    prev_h, prev_c = h0, torch.zeros_like(h0)
    states = []
    for t in range(x.shape[1]):
        prev_h, prev_c = lstm_step(x[:, t], prev_h, prev_c, Wx, Wh, b)
        states.append(prev_h)
    return torch.stack(states, dim=1)


def to_torch_gate_order(weight: torch.Tensor) -> torch.Tensor:
    """Reorder the last axis of a weight or bias from this project's gate order i, f, o, g to
    PyTorch's i, f, g, o (``nn.LSTMCell``, ``nn.LSTM``). ``Wx.T`` reordered this way along its
    rows is ``weight_ih``; use ``to_torch_gate_order(Wx).T``.

    Args:
        weight: Tensor whose last axis has ``4H`` entries in the order i, f, o, g.

    Returns:
        The same entries with the o and g blocks swapped.
    """
    i, f, o, g = weight.chunk(4, dim=-1)
    return torch.cat([i, f, g, o], dim=-1)


class LSTM(nn.Module):
    r"""An LSTM layer holding ``Wx (D, 4H)``, ``Wh (H, 4H)`` and ``b (4H,)``, gates in the
    order i, f, o, g.

    ``Wx`` and ``Wh`` start as standard normal entries divided by :math:`\sqrt{D}` and
    :math:`\sqrt{H}`; ``b`` starts at zero.

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
        where = {"generator": seeded_generator(seed), "dtype": dtype, "device": device}
        self.Wx = normal_weight((input_dim, 4 * hidden_dim), 1 / math.sqrt(input_dim), **where)
        self.Wh = normal_weight((hidden_dim, 4 * hidden_dim), 1 / math.sqrt(hidden_dim), **where)
        self.b = zero_bias(4 * hidden_dim, dtype=dtype, device=device)

    def forward(self, x: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
        """Hidden states ``(N, T, H)`` for inputs ``x (N, T, D)`` from ``h0 (N, H)``, ``c0 = 0``."""
        return lstm(x, h0, self.Wx, self.Wh, self.b)

    def step_forward(
        self, x: torch.Tensor, prev_h: torch.Tensor, prev_c: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One step: ``(next_h, next_c)``, each ``(N, H)``."""
        return lstm_step(x, prev_h, prev_c, self.Wx, self.Wh, self.b)
