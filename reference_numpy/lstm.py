r"""The LSTM, forward and hand-derived backward.

One step computes the activations :math:`a = x W_x + h_{t-1} W_h + b` of shape ``(N, 4H)``
and splits them, in this order, into the input gate :math:`i`, the forget gate :math:`f`, the
output gate :math:`o` and the candidate :math:`g`:

.. math::

    i = \sigma(a_i), \quad f = \sigma(a_f), \quad o = \sigma(a_o), \quad g = \tanh(a_g),
    \qquad c_t = f \odot c_{t-1} + i \odot g, \qquad h_t = o \odot \tanh(c_t).

* ``lstm_gates_forward`` / ``lstm_gates_backward``: the gates and the cell update from
  :math:`a`, shared by the LSTM and the attention LSTM (``attention.py``).
* ``lstm_step_forward`` / ``lstm_step_backward``: one step.
* ``lstm_forward`` / ``lstm_backward``: a whole sequence, with :math:`c_0 = 0`.

The derivation is in ``docs/derivations/lstm.md``; ``torch_impl/lstm.py`` holds the PyTorch
twins.
"""

from __future__ import annotations

import numpy as np

from reference_numpy.validation import (
    check_batch,
    check_ndim,
    check_recurrent_weights,
    check_shape,
    check_steps,
)


def sigmoid(x: np.ndarray) -> np.ndarray:
    r"""The logistic sigmoid :math:`\sigma(x) = 1 / (1 + e^{-x})`, elementwise, computed from
    :math:`e^{-|x|} \le 1` so that no exponential overflows.

    Args:
        x: Array of any shape.

    Returns:
        Array with the shape and dtype of ``x``, entries in :math:`[0, 1]`.
    """
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


# --------------------------------------------------------------------------------------------
# The gates
# --------------------------------------------------------------------------------------------


def lstm_gates_forward(a: np.ndarray, prev_c: np.ndarray):
    r"""The gates and the cell update of an LSTM step, from its activations.

    ``a`` is split along its columns into four blocks of ``H``, in the order i, f, o, g:

    .. math::

        i = \sigma(a_{:, 0:H}), \quad f = \sigma(a_{:, H:2H}), \quad
        o = \sigma(a_{:, 2H:3H}), \quad g = \tanh(a_{:, 3H:4H}),

    .. math::

        c_t = f \odot c_{t-1} + i \odot g, \qquad h_t = o \odot \tanh(c_t) .

    Args:
        a: Activations, shape ``(N, 4H)``.
        prev_c: Cell state of the previous step, shape ``(N, H)``.

    Returns:
        ``(next_h, next_c, cache)``: both of shape ``(N, H)``;
        ``cache = (i, f, o, g, prev_c, tanh(next_c))``.
    """
    func = "lstm_gates_forward"
    check_ndim(func, "prev_c", prev_c, 2, "(N, H)")
    n, h = prev_c.shape
    check_shape(func, "a", a, (n, 4 * h), f"(N, 4H) for the four gates of H = {h} units")
    i = sigmoid(a[:, :h])
    f = sigmoid(a[:, h : 2 * h])
    o = sigmoid(a[:, 2 * h : 3 * h])
    g = np.tanh(a[:, 3 * h :])
    next_c = f * prev_c + i * g
    tanh_c = np.tanh(next_c)
    next_h = o * tanh_c
    return next_h, next_c, (i, f, o, g, prev_c, tanh_c)


def lstm_gates_backward(dnext_h: np.ndarray, dnext_c: np.ndarray, cache):
    r"""Backward pass of :func:`lstm_gates_forward`.

    The cell state reaches the loss directly (``dnext_c``, from the next step) and through
    :math:`h_t`, so its total gradient is

    .. math::

        \overline{c_t} = \overline{c_t}^{\,\mathrm{direct}}
        + \overline{h_t} \odot o \odot (1 - \tanh^2 c_t) .

    Then :math:`\overline{o} = \overline{h_t} \odot \tanh c_t`,
    :math:`\overline{f} = \overline{c_t} \odot c_{t-1}`,
    :math:`\overline{i} = \overline{c_t} \odot g`,
    :math:`\overline{g} = \overline{c_t} \odot i`,
    :math:`\overline{c_{t-1}} = \overline{c_t} \odot f`, and each gate's activation gets its
    gradient through :math:`\sigma' = \sigma(1 - \sigma)` or :math:`\tanh' = 1 - \tanh^2`.

    Args:
        dnext_h: Upstream gradient of ``next_h``, shape ``(N, H)``.
        dnext_c: Upstream gradient of ``next_c``, shape ``(N, H)``.
        cache: From :func:`lstm_gates_forward`.

    Returns:
        ``(da, dprev_c)`` with the shapes of ``a`` ``(N, 4H)`` and ``prev_c`` ``(N, H)``.
    """
    i, f, o, g, prev_c, tanh_c = cache
    func = "lstm_gates_backward"
    check_shape(func, "dnext_h", dnext_h, prev_c.shape, "(N, H), like next_h")
    check_shape(func, "dnext_c", dnext_c, prev_c.shape, "(N, H), like next_c")
    dc = dnext_c + dnext_h * o * (1 - tanh_c**2)
    di = dc * g
    df = dc * prev_c
    do = dnext_h * tanh_c
    dg = dc * i
    da = np.concatenate(
        [di * i * (1 - i), df * f * (1 - f), do * o * (1 - o), dg * (1 - g**2)], axis=1
    )
    return da, dc * f


# --------------------------------------------------------------------------------------------
# One LSTM step
# --------------------------------------------------------------------------------------------


def lstm_step_forward(
    x: np.ndarray,
    prev_h: np.ndarray,
    prev_c: np.ndarray,
    Wx: np.ndarray,
    Wh: np.ndarray,
    b: np.ndarray,
):
    r"""One LSTM step: :math:`a = x W_x + h_{t-1} W_h + b`, then :func:`lstm_gates_forward`.

    Args:
        x: Inputs of this step, shape ``(N, D)``.
        prev_h: Hidden state of the previous step, shape ``(N, H)``.
        prev_c: Cell state of the previous step, shape ``(N, H)``.
        Wx: Input-to-hidden weights, shape ``(D, 4H)``, columns in gate order i, f, o, g.
        Wh: Hidden-to-hidden weights, shape ``(H, 4H)``.
        b: Biases, shape ``(4H,)``.

    Returns:
        ``(next_h, next_c, cache)``: both of shape ``(N, H)``;
        ``cache = (x, prev_h, Wx, Wh, gates_cache)``.
    """
    func = "lstm_step_forward"
    check_ndim(func, "x", x, 2, "(N, D)")
    check_batch(func, "x", x)
    check_ndim(func, "prev_h", prev_h, 2, "(N, H)")
    n, d = x.shape
    h = prev_h.shape[1]
    check_shape(func, "prev_h", prev_h, (n, h), f"(N, H) with N = {n} as in x")
    check_shape(func, "prev_c", prev_c, (n, h), "(N, H), like prev_h")
    check_recurrent_weights(func, Wx, Wh, b, d, h, 4)
    a = x @ Wx + prev_h @ Wh + b
    next_h, next_c, gates_cache = lstm_gates_forward(a, prev_c)
    return next_h, next_c, (x, prev_h, Wx, Wh, gates_cache)


def lstm_step_backward(dnext_h: np.ndarray, dnext_c: np.ndarray, cache):
    r"""Backward pass of :func:`lstm_step_forward`.

    :func:`lstm_gates_backward` gives :math:`\overline{a}` and :math:`\overline{c_{t-1}}`;
    the affine part then gives

    .. math::

        \overline{x} = \overline{a}\, W_x^\top, \quad
        \overline{h_{t-1}} = \overline{a}\, W_h^\top, \quad
        \overline{W_x} = x^\top \overline{a}, \quad
        \overline{W_h} = h_{t-1}^\top \overline{a}, \quad
        \overline{b} = \textstyle\sum_n \overline{a}_{n\cdot} .

    Args:
        dnext_h: Upstream gradient of ``next_h``, shape ``(N, H)``.
        dnext_c: Upstream gradient of ``next_c``, shape ``(N, H)``.
        cache: From :func:`lstm_step_forward`.

    Returns:
        ``(dx, dprev_h, dprev_c, dWx, dWh, db)`` with the shapes of ``x``, ``prev_h``,
        ``prev_c``, ``Wx``, ``Wh`` and ``b``.
    """
    x, prev_h, Wx, Wh, gates_cache = cache
    da, dprev_c = lstm_gates_backward(dnext_h, dnext_c, gates_cache)
    dx = da @ Wx.T
    dprev_h = da @ Wh.T
    dWx = x.T @ da
    dWh = prev_h.T @ da
    db = da.sum(axis=0)
    return dx, dprev_h, dprev_c, dWx, dWh, db


# --------------------------------------------------------------------------------------------
# A whole sequence
# --------------------------------------------------------------------------------------------


def lstm_forward(x: np.ndarray, h0: np.ndarray, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray):
    r"""An LSTM run over whole sequences: :func:`lstm_step_forward` for
    :math:`t = 1, \dots, T`, starting from :math:`h_0` and the cell state :math:`c_0 = 0`.

    Args:
        x: Input sequences, shape ``(N, T, D)``.
        h0: Initial hidden states, shape ``(N, H)``.
        Wx: Input-to-hidden weights, shape ``(D, 4H)``.
        Wh: Hidden-to-hidden weights, shape ``(H, 4H)``.
        b: Biases, shape ``(4H,)``.

    Returns:
        ``(h, cache)``: the hidden states of every step, shape ``(N, T, H)``; ``cache`` is the
        list of the ``T`` step caches. (The cell states are internal.)
    """
    func = "lstm_forward"
    check_steps(func, "x", x)
    check_ndim(func, "h0", h0, 2, "(N, H)")
    n, t_steps, d = x.shape
    check_shape(func, "h0", h0, (n, h0.shape[1]), f"(N, H) with N = {n} as in x")
    check_recurrent_weights(func, Wx, Wh, b, d, h0.shape[1], 4)
    prev_h, prev_c = h0, np.zeros_like(h0)
    states, caches = [], []
    for t in range(t_steps):
        prev_h, prev_c, cache = lstm_step_forward(x[:, t], prev_h, prev_c, Wx, Wh, b)
        states.append(prev_h)
        caches.append(cache)
    return np.stack(states, axis=1), caches


def lstm_backward(dh: np.ndarray, cache):
    r"""Backpropagation through time for :func:`lstm_forward`.

    Both recurrent states carry gradient backwards: step :math:`t` receives
    :math:`\mathrm{dh}_t + \overline{h_t}^{\,(t+1)}` for its hidden state and
    :math:`\overline{c_t}^{\,(t+1)}` for its cell state (zero at the last step), and the
    weight gradients of all steps add up. The gradient of :math:`c_0 = 0`, a constant, is
    dropped.

    Args:
        dh: Upstream gradients of all hidden states, shape ``(N, T, H)``.
        cache: The step caches from :func:`lstm_forward`.

    Returns:
        ``(dx, dh0, dWx, dWh, db)`` with the shapes of ``x``, ``h0``, ``Wx``, ``Wh`` and ``b``.
    """
    caches = cache
    x0, h_first, Wx, Wh, _ = caches[0]
    n, h_dim = h_first.shape
    check_shape("lstm_backward", "dh", dh, (n, len(caches), h_dim), "(N, T, H), the shape of h")
    dtype = np.result_type(dh, Wx)
    dx = np.empty((n, len(caches), x0.shape[1]), dtype=dtype)
    dprev_h = np.zeros((n, h_dim), dtype=dtype)
    dprev_c = np.zeros((n, h_dim), dtype=dtype)
    dWx = np.zeros(Wx.shape, dtype=dtype)
    dWh = np.zeros(Wh.shape, dtype=dtype)
    db = np.zeros(4 * h_dim, dtype=dtype)
    for t in reversed(range(len(caches))):
        dx[:, t], dprev_h, dprev_c, dWx_t, dWh_t, db_t = lstm_step_backward(
            dh[:, t] + dprev_h, dprev_c, caches[t]
        )
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dprev_h, dWx, dWh, db
