r"""The vanilla RNN and the layers every sequence model shares, forward and hand-derived backward.

* ``rnn_step_forward`` / ``rnn_step_backward``: one step,
  :math:`h_t = \tanh(x_t W_x + h_{t-1} W_h + b)`.
* ``rnn_forward`` / ``rnn_backward``: the step unrolled over a whole sequence; the backward
  pass is backpropagation through time.
* ``word_embedding_forward`` / ``word_embedding_backward``: look up one row of ``W`` per word.
* ``temporal_affine_forward`` / ``temporal_affine_backward``: one affine layer applied at every
  time step.
* ``temporal_softmax_loss``: softmax loss at every time step, with a mask of the steps that count.

Sequences are ``(N, T, D)``: ``N`` sequences of ``T`` steps, ``D`` numbers per step. The
derivations are in ``docs/derivations/rnn.md``, ``temporal_layers.md`` and
``temporal_softmax_loss.md``; ``torch_impl/rnn.py`` holds the PyTorch twins.
"""

from __future__ import annotations

import numpy as np

from reference_numpy.validation import (
    check_batch,
    check_finite,
    check_indices,
    check_mask,
    check_ndim,
    check_recurrent_weights,
    check_shape,
    check_steps,
)

# --------------------------------------------------------------------------------------------
# One RNN step
# --------------------------------------------------------------------------------------------


def rnn_step_forward(
    x: np.ndarray, prev_h: np.ndarray, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray
):
    r"""One step of a vanilla RNN with a tanh nonlinearity.

    .. math::

        h_t = \tanh(a_t), \qquad a_t = x_t W_x + h_{t-1} W_h + b .

    Args:
        x: Inputs of this step, shape ``(N, D)``.
        prev_h: Hidden state of the previous step, shape ``(N, H)``.
        Wx: Input-to-hidden weights, shape ``(D, H)``.
        Wh: Hidden-to-hidden weights, shape ``(H, H)``.
        b: Biases, shape ``(H,)``.

    Returns:
        ``(next_h, cache)``: ``next_h`` of shape ``(N, H)``;
        ``cache = (x, prev_h, Wx, Wh, next_h)``.
    """
    func = "rnn_step_forward"
    check_ndim(func, "x", x, 2, "(N, D)")
    check_batch(func, "x", x)
    check_ndim(func, "prev_h", prev_h, 2, "(N, H)")
    n, d = x.shape
    check_shape(func, "prev_h", prev_h, (n, prev_h.shape[1]), f"(N, H) with N = {n} as in x")
    check_recurrent_weights(func, Wx, Wh, b, d, prev_h.shape[1], 1)
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    return next_h, (x, prev_h, Wx, Wh, next_h)


def rnn_step_backward(dnext_h: np.ndarray, cache):
    r"""Backward pass of :func:`rnn_step_forward`.

    With :math:`\overline{a} = \overline{h_t} \odot (1 - h_t^2)`, since
    :math:`\tanh' = 1 - \tanh^2`:

    .. math::

        \overline{x_t} = \overline{a}\, W_x^\top, \quad
        \overline{h_{t-1}} = \overline{a}\, W_h^\top, \quad
        \overline{W_x} = x_t^\top \overline{a}, \quad
        \overline{W_h} = h_{t-1}^\top \overline{a}, \quad
        \overline{b} = \textstyle\sum_n \overline{a}_{n\cdot} .

    Args:
        dnext_h: Upstream gradient, shape ``(N, H)``.
        cache: ``(x, prev_h, Wx, Wh, next_h)`` from :func:`rnn_step_forward`.

    Returns:
        ``(dx, dprev_h, dWx, dWh, db)`` with the shapes of ``x``, ``prev_h``, ``Wx``, ``Wh``
        and ``b``.
    """
    x, prev_h, Wx, Wh, next_h = cache
    check_shape("rnn_step_backward", "dnext_h", dnext_h, next_h.shape, "(N, H), like next_h")
    da = dnext_h * (1 - next_h**2)
    dx = da @ Wx.T
    dprev_h = da @ Wh.T
    dWx = x.T @ da
    dWh = prev_h.T @ da
    db = da.sum(axis=0)
    return dx, dprev_h, dWx, dWh, db


# --------------------------------------------------------------------------------------------
# A whole sequence: backpropagation through time
# --------------------------------------------------------------------------------------------


def rnn_forward(x: np.ndarray, h0: np.ndarray, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray):
    r"""A vanilla RNN run over whole sequences: :func:`rnn_step_forward` for
    :math:`t = 1, \dots, T`, each step starting from the hidden state of the step before.

    .. math::

        h_t = \tanh(x_t W_x + h_{t-1} W_h + b), \qquad t = 1, \dots, T,

    with the same weights at every step.

    Args:
        x: Input sequences, shape ``(N, T, D)``.
        h0: Initial hidden states, shape ``(N, H)``.
        Wx: Input-to-hidden weights, shape ``(D, H)``.
        Wh: Hidden-to-hidden weights, shape ``(H, H)``.
        b: Biases, shape ``(H,)``.

    Returns:
        ``(h, cache)``: the hidden states of every step, shape ``(N, T, H)``; ``cache`` is the
        list of the ``T`` step caches.
    """
    func = "rnn_forward"
    check_steps(func, "x", x)
    check_ndim(func, "h0", h0, 2, "(N, H)")
    n, t_steps, d = x.shape
    check_shape(func, "h0", h0, (n, h0.shape[1]), f"(N, H) with N = {n} as in x")
    check_recurrent_weights(func, Wx, Wh, b, d, h0.shape[1], 1)
    states, caches = [], []
    prev_h = h0
    for t in range(t_steps):
        prev_h, cache = rnn_step_forward(x[:, t], prev_h, Wx, Wh, b)
        states.append(prev_h)
        caches.append(cache)
    return np.stack(states, axis=1), caches


def rnn_backward(dh: np.ndarray, cache):
    r"""Backpropagation through time: the backward pass of :func:`rnn_forward`.

    The hidden state :math:`h_t` feeds both the loss (through ``dh[:, t]``) and the next step,
    so its total gradient is the sum of the two, and the steps are visited backwards:

    .. math::

        \overline{h_t} = \mathrm{dh}_t + \overline{h_t}^{\,(t+1)}, \qquad
        \overline{W} = \sum_{t=1}^{T} \overline{W}^{\,(t)} ,

    where :math:`\overline{h_t}^{\,(t+1)}` is ``dprev_h`` of step :math:`t+1` and
    :math:`\overline{W}^{\,(t)}` the weight gradient of step :math:`t` alone: the weights are
    shared by every step, so their gradients add up.

    Args:
        dh: Upstream gradients of all hidden states, shape ``(N, T, H)``.
        cache: The step caches from :func:`rnn_forward`.

    Returns:
        ``(dx, dh0, dWx, dWh, db)`` with the shapes of ``x``, ``h0``, ``Wx``, ``Wh`` and ``b``.
    """
    caches = cache
    x0, h_first, Wx, Wh, _ = caches[0]
    n, h_dim = h_first.shape
    check_shape("rnn_backward", "dh", dh, (n, len(caches), h_dim), "(N, T, H), the shape of h")
    dx = np.empty((n, len(caches), x0.shape[1]), dtype=np.result_type(dh, Wx))
    dprev_h = np.zeros_like(h_first, dtype=dx.dtype)
    dWx = np.zeros_like(Wx, dtype=dx.dtype)
    dWh = np.zeros_like(Wh, dtype=dx.dtype)
    db = np.zeros(h_dim, dtype=dx.dtype)
    for t in reversed(range(len(caches))):
        dx[:, t], dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t] + dprev_h, caches[t])
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dprev_h, dWx, dWh, db


# --------------------------------------------------------------------------------------------
# Word embedding
# --------------------------------------------------------------------------------------------


def word_embedding_forward(x: np.ndarray, W: np.ndarray):
    r"""Word embedding: replace every word index by its row of ``W``,
    :math:`\mathrm{out}_{nt} = W_{x_{nt}}`.

    Args:
        x: Word indices, shape ``(N, T)``, integers in ``[0, V)`` (any shape works: ``out``
            gets one more axis of length ``D``).
        W: Word vectors, one row per word of the vocabulary, shape ``(V, D)``.

    Returns:
        ``(out, cache)``: ``out`` of shape ``(N, T, D)``; ``cache = (x, W.shape)``.
    """
    func = "word_embedding_forward"
    check_ndim(func, "W", W, 2, "(V, D): one row per word")
    check_indices(func, "x", x, W.shape[0], f"the {W.shape[0]} rows of W")
    check_batch(func, "x", x)
    return W[x], (x, W.shape)


def word_embedding_backward(dout: np.ndarray, cache):
    r"""Backward pass of :func:`word_embedding_forward`.

    Row :math:`v` of ``W`` is copied to every position where word :math:`v` occurs, so its
    gradient is the sum of the upstream gradients at those positions:

    .. math::

        \overline{W}_v = \sum_{n, t} [x_{nt} = v]\, \overline{\mathrm{out}}_{nt} .

    A word that occurs twice gets both gradients: ``np.add.at`` accumulates repeated indices,
    where ``dW[x] += dout`` would keep only one of them.

    Args:
        dout: Upstream gradient, shape ``(N, T, D)``.
        cache: ``(x, W.shape)`` from :func:`word_embedding_forward`.

    Returns:
        ``dW`` of shape ``(V, D)``. (The indices ``x`` are not differentiable.)
    """
    x, w_shape = cache
    check_shape(
        "word_embedding_backward", "dout", dout, (*x.shape, w_shape[1]), "(N, T, D), like out"
    )
    dW = np.zeros(w_shape, dtype=dout.dtype)
    np.add.at(dW, x, dout)
    return dW


# --------------------------------------------------------------------------------------------
# Temporal affine
# --------------------------------------------------------------------------------------------


def temporal_affine_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray):
    r"""One affine layer applied at every time step,
    :math:`\mathrm{out}_{nt} = x_{nt} W + b`.

    Args:
        x: Inputs, shape ``(N, T, D)``.
        w: Weights, shape ``(D, M)``.
        b: Biases, shape ``(M,)``.

    Returns:
        ``(out, cache)``: ``out`` of shape ``(N, T, M)``; ``cache = (x, w)``.
    """
    func = "temporal_affine_forward"
    check_ndim(func, "x", x, 3, "(N, T, D)")
    check_batch(func, "x", x)
    check_ndim(func, "w", w, 2, "(D, M)")
    n, t, d = x.shape
    check_shape(func, "w", w, (d, w.shape[1]), f"(D, M) with D = {d} as in x")
    check_shape(func, "b", b, (w.shape[1],), f"(one bias per column of w {w.shape})")
    out = (x.reshape(n * t, d) @ w + b).reshape(n, t, w.shape[1])
    return out, (x, w)


def temporal_affine_backward(dout: np.ndarray, cache):
    r"""Backward pass of :func:`temporal_affine_forward`: the affine backward pass with the
    :math:`N T` steps as the rows,

    .. math::

        \overline{x}_{nt} = \overline{\mathrm{out}}_{nt} W^\top, \qquad
        \overline{W} = \sum_{n,t} x_{nt}^\top \overline{\mathrm{out}}_{nt}, \qquad
        \overline{b} = \sum_{n,t} \overline{\mathrm{out}}_{nt} .

    Args:
        dout: Upstream gradient, shape ``(N, T, M)``.
        cache: ``(x, w)`` from :func:`temporal_affine_forward`.

    Returns:
        ``(dx, dw, db)`` with the shapes of ``x``, ``w`` and ``b``.
    """
    x, w = cache
    n, t, d = x.shape
    m = w.shape[1]
    check_shape("temporal_affine_backward", "dout", dout, (n, t, m), "(N, T, M), like out")
    flat = dout.reshape(n * t, m)
    dx = (flat @ w.T).reshape(n, t, d)
    dw = x.reshape(n * t, d).T @ flat
    db = flat.sum(axis=0)
    return dx, dw, db


# --------------------------------------------------------------------------------------------
# Temporal softmax loss
# --------------------------------------------------------------------------------------------


def temporal_softmax_loss(x: np.ndarray, y: np.ndarray, mask: np.ndarray, verbose: bool = False):
    r"""Softmax loss at every time step, summed over the steps the mask keeps and averaged
    over the batch.

    With :math:`p_{ntv} = e^{x_{ntv}} / \sum_u e^{x_{ntu}}`,

    .. math::

        L = -\frac{1}{N} \sum_{n,t} m_{nt} \log p_{n t y_{nt}}, \qquad
        \frac{\partial L}{\partial x_{ntv}} = \frac{m_{nt}}{N}\left(p_{ntv} - [v = y_{nt}]\right).

    A captioning model masks the ``<NULL>`` padding after each caption: those steps add
    nothing to the loss and get a zero gradient.

    Args:
        x: Scores, shape ``(N, T, V)``.
        y: Targets, shape ``(N, T)``, integers in ``[0, V)`` (also where the mask is 0).
        mask: Which steps count, shape ``(N, T)``, booleans or 0/1.
        verbose: As in the classic function, print the shape ``(N T, V)`` of the flattened
            gradient (``dx_flat:  (6, 5)``); it changes nothing else.

    Returns:
        ``(loss, dx)``: the loss (a NumPy scalar of the dtype of ``x``) and its gradient,
        shape ``(N, T, V)``.
    """
    func = "temporal_softmax_loss"
    check_ndim(func, "x", x, 3, "(N, T, V)")
    check_batch(func, "x", x)
    check_finite(func, "x", x)
    n, t, v = x.shape
    check_shape(func, "y", y, (n, t), "(N, T), one target per step of x")
    check_indices(func, "y", y, v, f"the {v} scores of each step of x")
    check_mask(func, "mask", mask, (n, t), "(N, T), one flag per step of x")

    flat = x.reshape(n * t, v)
    targets = y.reshape(n * t)
    keep = mask.reshape(n * t).astype(x.dtype)
    shifted = flat - flat.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(n * t)
    loss = -(keep * log_probs[rows, targets]).sum() / n
    dx = np.exp(log_probs)
    dx[rows, targets] -= 1
    dx *= keep[:, np.newaxis] / n
    if verbose:
        print("dx_flat: ", dx.shape)
    return loss, dx.reshape(n, t, v)
