r"""Scaled dot-product attention over a grid of image features, and the attention LSTM.

The image is a grid of feature vectors ``A`` of shape ``(N, H, 4, 4)``: 16 cells of
``H`` numbers each. At every step the hidden state :math:`h` asks which cells matter:

.. math::

    s_\ell = \frac{h \cdot A_\ell}{\sqrt{H}}, \qquad
    w = \mathrm{softmax}(s), \qquad
    \mathrm{attn} = \sum_\ell w_\ell A_\ell ,

and the LSTM step adds :math:`\mathrm{attn}\, W_{attn}` to its activations.

* ``dot_product_attention_forward`` / ``dot_product_attention_backward``.
* ``attention_lstm_step_forward`` / ``attention_lstm_step_backward``: one step.
* ``attention_lstm_forward`` / ``attention_lstm_backward``: a whole sequence, starting from
  :math:`h_0 = c_0 =` the grid average of ``A``.

Any grid size ``(P, Q)`` works; the classic captioning model uses 4 x 4. The derivations are
in ``docs/derivations/attention.md`` and ``attention_lstm.md``; ``torch_impl/attention.py``
holds the PyTorch twins.
"""

from __future__ import annotations

import math

import numpy as np

from reference_numpy.lstm import lstm_gates_backward, lstm_gates_forward
from reference_numpy.validation import (
    check_batch,
    check_ndim,
    check_recurrent_weights,
    check_shape,
    check_steps,
)

# --------------------------------------------------------------------------------------------
# Scaled dot-product attention
# --------------------------------------------------------------------------------------------


def dot_product_attention_forward(prev_h: np.ndarray, A: np.ndarray):
    r"""Scaled dot-product attention of a hidden state over a grid of features.

    With the grid flattened to :math:`L = P Q` cells, :math:`A_\ell \in \mathbb{R}^H`:

    .. math::

        s_{n\ell} = \frac{1}{\sqrt{H}} \sum_{k} h_{nk} A_{nk\ell}, \qquad
        w_{n\ell} = \frac{e^{s_{n\ell}}}{\sum_{\ell'} e^{s_{n\ell'}}}, \qquad
        \mathrm{attn}_{nk} = \sum_\ell A_{nk\ell}\, w_{n\ell} .

    Args:
        prev_h: Hidden states (the queries), shape ``(N, H)``.
        A: Feature grids (keys and values), shape ``(N, H, 4, 4)``; any ``(N, H, P, Q)``.

    Returns:
        ``(attn, attn_weights, cache)``: ``attn`` of shape ``(N, H)``; ``attn_weights``, the
        softmax weights on the grid, shape ``(N, 4, 4)`` (``(N, P, Q)``), each summing to 1;
        ``cache = (prev_h, A, weights)`` with ``weights`` of shape ``(N, L)``.
    """
    func = "dot_product_attention_forward"
    check_ndim(func, "A", A, 4, "(N, H, 4, 4): an H-vector in every cell of the grid")
    check_batch(func, "A", A)
    n, h, p, q = A.shape
    check_shape(func, "prev_h", prev_h, (n, h), f"(N, H) for A of shape {A.shape}")
    cells = A.reshape(n, h, p * q)
    scores = (prev_h[:, np.newaxis, :] @ cells)[:, 0, :] * (1 / math.sqrt(h))
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    weights = shifted / shifted.sum(axis=1, keepdims=True)
    attn = (cells @ weights[:, :, np.newaxis])[:, :, 0]
    return attn, weights.reshape(n, p, q), (prev_h, A, weights)


def dot_product_attention_backward(
    dattn: np.ndarray, cache, dattn_weights: np.ndarray | None = None
):
    r"""Backward pass of :func:`dot_product_attention_forward`.

    The attention output is linear in ``A`` for fixed weights, and in the weights for fixed
    ``A``; the softmax Jacobian :math:`\partial w_\ell / \partial s_j = w_\ell([\ell = j] -
    w_j)` turns the weights' gradient into the scores' gradient:

    .. math::

        \overline{w}_{n\ell} = \sum_k \overline{\mathrm{attn}}_{nk} A_{nk\ell}, \qquad
        \overline{s}_{n\ell} = w_{n\ell}\Big(\overline{w}_{n\ell}
            - \sum_{j} w_{nj} \overline{w}_{nj}\Big),

    .. math::

        \overline{h}_{nk} = \frac{1}{\sqrt H} \sum_\ell \overline{s}_{n\ell} A_{nk\ell}, \qquad
        \overline{A}_{nk\ell} = \overline{\mathrm{attn}}_{nk}\, w_{n\ell}
            + \frac{1}{\sqrt H} h_{nk}\, \overline{s}_{n\ell} .

    Only ``attn`` feeds the attention LSTM, so the classic form takes ``dattn`` alone. A loss
    that also uses the weights themselves (a penalty on where the model looks) passes their
    gradient as ``dattn_weights``; it adds to :math:`\overline{w}`.

    Args:
        dattn: Upstream gradient of ``attn``, shape ``(N, H)``.
        cache: ``(prev_h, A, weights)`` from :func:`dot_product_attention_forward`.
        dattn_weights: Optional upstream gradient of ``attn_weights``, shape ``(N, P, Q)``;
            ``None`` means zero.

    Returns:
        ``(dprev_h, dA)`` with the shapes of ``prev_h`` and ``A``.
    """
    prev_h, A, weights = cache
    func = "dot_product_attention_backward"
    n, h, p, q = A.shape
    check_shape(func, "dattn", dattn, (n, h), "(N, H), like attn")
    cells = A.reshape(n, h, p * q)
    dweights = (dattn[:, np.newaxis, :] @ cells)[:, 0, :]
    if dattn_weights is not None:
        check_shape(func, "dattn_weights", dattn_weights, (n, p, q), "(N, P, Q), like the weights")
        dweights = dweights + dattn_weights.reshape(n, p * q)
    dscores = weights * (dweights - (weights * dweights).sum(axis=1, keepdims=True))
    scale = 1 / math.sqrt(h)
    dprev_h = (cells @ dscores[:, :, np.newaxis])[:, :, 0] * scale
    dcells = dattn[:, :, np.newaxis] * weights[:, np.newaxis, :]
    dcells += prev_h[:, :, np.newaxis] * dscores[:, np.newaxis, :] * scale
    return dprev_h, dcells.reshape(A.shape)


# --------------------------------------------------------------------------------------------
# One attention LSTM step
# --------------------------------------------------------------------------------------------


def attention_lstm_step_forward(
    x: np.ndarray,
    prev_h: np.ndarray,
    prev_c: np.ndarray,
    attn: np.ndarray,
    Wx: np.ndarray,
    Wh: np.ndarray,
    Wattn: np.ndarray,
    b: np.ndarray,
):
    r"""One attention LSTM step: the LSTM step with the attention output as a third input,

    .. math::

        a = x W_x + h_{t-1} W_h + \mathrm{attn}\, W_{attn} + b,

    then the gates i, f, o, g of :func:`~reference_numpy.lstm.lstm_gates_forward`.

    Args:
        x: Inputs of this step, shape ``(N, D)``.
        prev_h: Hidden state of the previous step, shape ``(N, H)``.
        prev_c: Cell state of the previous step, shape ``(N, H)``.
        attn: Attention output for this step, shape ``(N, H)``.
        Wx: Input-to-hidden weights, shape ``(D, 4H)``.
        Wh: Hidden-to-hidden weights, shape ``(H, 4H)``.
        Wattn: Attention-to-hidden weights, shape ``(H, 4H)``.
        b: Biases, shape ``(4H,)``.

    Returns:
        ``(next_h, next_c, cache)``: both of shape ``(N, H)``;
        ``cache = (x, prev_h, attn, Wx, Wh, Wattn, gates_cache)``.
    """
    func = "attention_lstm_step_forward"
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
    a = x @ Wx + prev_h @ Wh + attn @ Wattn + b
    next_h, next_c, gates_cache = lstm_gates_forward(a, prev_c)
    return next_h, next_c, (x, prev_h, attn, Wx, Wh, Wattn, gates_cache)


def attention_lstm_step_backward(dnext_h: np.ndarray, dnext_c: np.ndarray, cache):
    r"""Backward pass of :func:`attention_lstm_step_forward`: the LSTM step's backward pass,
    plus :math:`\overline{\mathrm{attn}} = \overline{a}\, W_{attn}^\top` and
    :math:`\overline{W_{attn}} = \mathrm{attn}^\top \overline{a}`.

    Args:
        dnext_h: Upstream gradient of ``next_h``, shape ``(N, H)``.
        dnext_c: Upstream gradient of ``next_c``, shape ``(N, H)``.
        cache: From :func:`attention_lstm_step_forward`.

    Returns:
        ``(dx, dprev_h, dprev_c, dattn, dWx, dWh, dWattn, db)``, each with the shape of the
        matching input.
    """
    x, prev_h, attn, Wx, Wh, Wattn, gates_cache = cache
    da, dprev_c = lstm_gates_backward(dnext_h, dnext_c, gates_cache)
    dx = da @ Wx.T
    dprev_h = da @ Wh.T
    dattn = da @ Wattn.T
    dWx = x.T @ da
    dWh = prev_h.T @ da
    dWattn = attn.T @ da
    db = da.sum(axis=0)
    return dx, dprev_h, dprev_c, dattn, dWx, dWh, dWattn, db


# --------------------------------------------------------------------------------------------
# A whole sequence
# --------------------------------------------------------------------------------------------


def attention_lstm_forward(
    x: np.ndarray, A: np.ndarray, Wx: np.ndarray, Wh: np.ndarray, Wattn: np.ndarray, b: np.ndarray
):
    r"""An attention LSTM run over whole sequences.

    Both initial states are the average feature vector of the grid,
    :math:`h_0 = c_0 = \frac{1}{L} \sum_\ell A_\ell`; then for :math:`t = 1, \dots, T`

    .. math::

        \mathrm{attn}_t = \mathrm{attention}(h_{t-1}, A), \qquad
        (h_t, c_t) = \mathrm{step}(x_t, h_{t-1}, c_{t-1}, \mathrm{attn}_t).

    Args:
        x: Input sequences, shape ``(N, T, D)``.
        A: Feature grids, shape ``(N, H, 4, 4)`` (any ``(N, H, P, Q)``).
        Wx: Input-to-hidden weights, shape ``(D, 4H)``.
        Wh: Hidden-to-hidden weights, shape ``(H, 4H)``.
        Wattn: Attention-to-hidden weights, shape ``(H, 4H)``.
        b: Biases, shape ``(4H,)``.

    Returns:
        ``(h, cache)``: the hidden states of every step, shape ``(N, T, H)``;
        ``cache = (A.shape, attention_caches, step_caches)``.
    """
    func = "attention_lstm_forward"
    check_steps(func, "x", x)
    check_ndim(func, "A", A, 4, "(N, H, 4, 4): an H-vector in every cell of the grid")
    n, t_steps, d = x.shape
    check_shape(func, "A", A, (n, *A.shape[1:]), f"(N, H, P, Q) with N = {n} as in x")
    h = A.shape[1]
    check_recurrent_weights(func, Wx, Wh, b, d, h, 4)
    check_shape(func, "Wattn", Wattn, (h, 4 * h), f"(H, 4H) for H = {h} channels of A")
    prev_h = A.mean(axis=(2, 3))
    prev_c = prev_h
    states, attention_caches, step_caches = [], [], []
    for t in range(t_steps):
        attn, _, attention_cache = dot_product_attention_forward(prev_h, A)
        prev_h, prev_c, step_cache = attention_lstm_step_forward(
            x[:, t], prev_h, prev_c, attn, Wx, Wh, Wattn, b
        )
        states.append(prev_h)
        attention_caches.append(attention_cache)
        step_caches.append(step_cache)
    return np.stack(states, axis=1), (A.shape, attention_caches, step_caches)


def attention_lstm_backward(dh: np.ndarray, cache):
    r"""Backpropagation through time for :func:`attention_lstm_forward`.

    ``A`` reaches the loss along three kinds of path, and its gradient is their sum: through
    the attention of every step, and through :math:`h_0` and :math:`c_0`, whose gradients
    are spread evenly over the :math:`L` cells by the average:

    .. math::

        \overline{A} = \sum_{t=1}^{T} \overline{A}^{\,(t)}
        + \frac{1}{L}\left(\overline{h_0} + \overline{c_0}\right) \text{ in every cell.}

    Args:
        dh: Upstream gradients of all hidden states, shape ``(N, T, H)``.
        cache: From :func:`attention_lstm_forward`.

    Returns:
        ``(dx, dA, dWx, dWh, dWattn, db)`` with the shapes of ``x``, ``A``, ``Wx``, ``Wh``,
        ``Wattn`` and ``b``.
    """
    a_shape, attention_caches, step_caches = cache
    n, h, p, q = a_shape
    t_steps = len(step_caches)
    x0, _, _, Wx, Wh, Wattn, _ = step_caches[0]
    check_shape("attention_lstm_backward", "dh", dh, (n, t_steps, h), "(N, T, H), the shape of h")
    dtype = np.result_type(dh, Wx)
    dx = np.empty((n, t_steps, x0.shape[1]), dtype=dtype)
    dA = np.zeros(a_shape, dtype=dtype)
    dprev_h = np.zeros((n, h), dtype=dtype)
    dprev_c = np.zeros((n, h), dtype=dtype)
    dWx = np.zeros(Wx.shape, dtype=dtype)
    dWh = np.zeros(Wh.shape, dtype=dtype)
    dWattn = np.zeros(Wattn.shape, dtype=dtype)
    db = np.zeros(4 * h, dtype=dtype)
    for t in reversed(range(t_steps)):
        dx[:, t], dprev_h, dprev_c, dattn, dWx_t, dWh_t, dWattn_t, db_t = (
            attention_lstm_step_backward(dh[:, t] + dprev_h, dprev_c, step_caches[t])
        )
        dh_attention, dA_t = dot_product_attention_backward(dattn, attention_caches[t])
        dprev_h = dprev_h + dh_attention
        dA += dA_t
        dWx += dWx_t
        dWh += dWh_t
        dWattn += dWattn_t
        db += db_t
    dA += ((dprev_h + dprev_c) / (p * q))[:, :, np.newaxis, np.newaxis]
    return dx, dA, dWx, dWh, dWattn, db
