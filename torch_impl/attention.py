r"""Scaled dot-product attention over a feature grid, and the attention LSTM, in PyTorch.

The twins of ``reference_numpy/attention.py``: ``dot_product_attention``,
``attention_lstm_step``, ``attention_lstm`` and the ``nn.Module`` :class:`AttentionLSTM`.
The attention output is PyTorch's own ``F.scaled_dot_product_attention`` with the hidden state
as the one query and the grid cells as keys and values, so the cross-check holds the
hand-derived NumPy backward pass against PyTorch's kernel.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from torch_impl.lstm import lstm_gates
from torch_impl.rnn import normal_weight, seeded_generator, zero_bias
from torch_impl.validation import (
    check_batch,
    check_ndim,
    check_recurrent_weights,
    check_shape,
    check_steps,
)


def dot_product_attention(
    prev_h: torch.Tensor, A: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Scaled dot-product attention of ``prev_h`` over the grid ``A``:
    :math:`w = \mathrm{softmax}(h \cdot A_\ell / \sqrt{H})` over the cells :math:`\ell`,
    :math:`\mathrm{attn} = \sum_\ell w_\ell A_\ell`.

    ``attn`` is ``F.scaled_dot_product_attention(query, cells, cells)`` with the one query
    ``prev_h``. That kernel does not return its weights, so ``attn_weights`` is the softmax of
    the same scores, computed here.

    Args:
        prev_h: Hidden states, shape ``(N, H)``.
        A: Feature grids, shape ``(N, H, 4, 4)`` (any ``(N, H, P, Q)``).

    Returns:
        ``(attn, attn_weights)`` of shapes ``(N, H)`` and ``(N, 4, 4)`` (``(N, P, Q)``).
    """
    func = "dot_product_attention"
    check_ndim(func, "A", A, 4, "(N, H, 4, 4): an H-vector in every cell of the grid")
    check_batch(func, "A", A)
    n, h, p, q = A.shape
    check_shape(func, "prev_h", prev_h, (n, h), f"(N, H) for A of shape {tuple(A.shape)}")
    cells = A.reshape(n, h, p * q).transpose(1, 2)  # (N, L, H): one row per cell
    query = prev_h.unsqueeze(1)  # (N, 1, H)
    attn = F.scaled_dot_product_attention(query, cells, cells).squeeze(1)
    scores = (query @ cells.transpose(1, 2)).squeeze(1) / math.sqrt(h)
    attn_weights = torch.softmax(scores, dim=1).reshape(n, p, q)
    return attn, attn_weights


def attention_lstm_step(
    x: torch.Tensor,
    prev_h: torch.Tensor,
    prev_c: torch.Tensor,
    attn: torch.Tensor,
    Wx: torch.Tensor,
    Wh: torch.Tensor,
    Wattn: torch.Tensor,
    b: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""One attention LSTM step,
    :math:`a = x W_x + h_{t-1} W_h + \mathrm{attn}\, W_{attn} + b`, then the gates i, f, o, g.

    Args:
        x: Inputs, shape ``(N, D)``.
        prev_h: Previous hidden state, shape ``(N, H)``.
        prev_c: Previous cell state, shape ``(N, H)``.
        attn: Attention output, shape ``(N, H)``.
        Wx: Shape ``(D, 4H)``.
        Wh: Shape ``(H, 4H)``.
        Wattn: Shape ``(H, 4H)``.
        b: Shape ``(4H,)``.

    Returns:
        ``(next_h, next_c)``, both of shape ``(N, H)``.
    """
    func = "attention_lstm_step"
    check_ndim(func, "x", x, 2, "(N, D)")
    check_batch(func, "x", x)
    check_ndim(func, "prev_h", prev_h, 2, "(N, H)")
    n, d = x.shape
    h = prev_h.shape[1]
    check_shape(func, "prev_h", prev_h, (n, h), f"(N, H) with N = {n} as in x")
    check_shape(func, "prev_c", prev_c, (n, h), "(N, H), like prev_h")
    check_shape(func, "attn", attn, (n, h), "(N, H), like prev_h")
    check_recurrent_weights(func, Wx, Wh, b, d, h, 4)
    check_shape(func, "Wattn", Wattn, (h, 4 * h), f"(H, 4H) for H = {h} hidden units")
    return lstm_gates(x @ Wx + prev_h @ Wh + attn @ Wattn + b, prev_c)


def attention_lstm(
    x: torch.Tensor,
    A: torch.Tensor,
    Wx: torch.Tensor,
    Wh: torch.Tensor,
    Wattn: torch.Tensor,
    b: torch.Tensor,
) -> torch.Tensor:
    r"""The attention LSTM over whole sequences, from :math:`h_0 = c_0 =` the grid average of
    ``A``; each step attends with the previous hidden state.

    Args:
        x: Input sequences, shape ``(N, T, D)``.
        A: Feature grids, shape ``(N, H, 4, 4)`` (any ``(N, H, P, Q)``).
        Wx: Shape ``(D, 4H)``.
        Wh: Shape ``(H, 4H)``.
        Wattn: Shape ``(H, 4H)``.
        b: Shape ``(4H,)``.

    Returns:
        ``h``, the hidden states of every step, shape ``(N, T, H)``.
    """
    func = "attention_lstm"
    check_steps(func, "x", x)
    check_ndim(func, "A", A, 4, "(N, H, 4, 4): an H-vector in every cell of the grid")
    n = x.shape[0]
    check_shape(func, "A", A, (n, *A.shape[1:]), f"(N, H, P, Q) with N = {n} as in x")
    prev_h = A.mean(dim=(2, 3))
    prev_c = prev_h
    states = []
    for t in range(x.shape[1]):
        attn, _ = dot_product_attention(prev_h, A)
        prev_h, prev_c = attention_lstm_step(x[:, t], prev_h, prev_c, attn, Wx, Wh, Wattn, b)
        states.append(prev_h)
    return torch.stack(states, dim=1)


class AttentionLSTM(nn.Module):
    r"""An attention LSTM layer holding ``Wx (D, 4H)``, ``Wh (H, 4H)``, ``Wattn (H, 4H)`` and
    ``b (4H,)``, gates in the order i, f, o, g.

    The weights start as standard normal entries divided by the square root of their fan-in
    (:math:`\sqrt{D}`, :math:`\sqrt{H}`, :math:`\sqrt{H}`); ``b`` starts at zero.

    Args:
        input_dim: ``D``.
        hidden_dim: ``H``, also the number of channels of the feature grid.
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
        h = hidden_dim
        self.Wx = normal_weight((input_dim, 4 * h), 1 / math.sqrt(input_dim), **where)
        self.Wh = normal_weight((h, 4 * h), 1 / math.sqrt(h), **where)
        self.Wattn = normal_weight((h, 4 * h), 1 / math.sqrt(h), **where)
        self.b = zero_bias(4 * h, dtype=dtype, device=device)

    def forward(self, x: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
        """Hidden states ``(N, T, H)`` for inputs ``x (N, T, D)`` attending over ``A``
        ``(N, H, 4, 4)``."""
        return attention_lstm(x, A, self.Wx, self.Wh, self.Wattn, self.b)

    def step_forward(
        self, x: torch.Tensor, prev_h: torch.Tensor, prev_c: torch.Tensor, attn: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One step given this step's attention output ``attn (N, H)`` (from
        :func:`dot_product_attention`): ``(next_h, next_c)``, each ``(N, H)``."""
        return attention_lstm_step(x, prev_h, prev_c, attn, self.Wx, self.Wh, self.Wattn, self.b)
