r"""Convolution, max pooling and spatial batch normalization on ``(N, C, H, W)`` images.

Each layer comes twice where it matters:

* ``*_naive`` versions are plain loops over output positions, written to be read next to
  the derivation;
* ``*_fast`` versions compute the same numbers with a few large array operations: the
  convolution is one matrix product per kernel tap, on shifted views of the input, so its
  extra memory stays a small multiple of the input and output sizes.

Output sizes floor as in PyTorch: with padding :math:`P`, stride :math:`S` and a window of
:math:`K` rows, :math:`H' = 1 + \lfloor (H + 2P - K) / S \rfloor`. Input rows and columns past
the last window are ignored by the forward pass and get zero gradient.

``torch_impl/conv.py`` holds the PyTorch twins (``F.conv2d``, ``F.max_pool2d``,
``F.batch_norm``).
"""

from __future__ import annotations

import numbers

import numpy as np

from reference_numpy.layers import batchnorm_backward_alt, check_scale_shift, normalize_rows
from reference_numpy.validation import check_batch, check_ndim, check_shape

BLOCK_ROWS = 4096
"""Output rows the fast convolution accumulates at a time: small enough for the running sum to
stay in the processor's cache, large enough for efficient matrix products."""


# --------------------------------------------------------------------------------------------
# Shapes and parameters
# --------------------------------------------------------------------------------------------


def _int_param(func: str, params: dict, params_name: str, key: str, minimum: int) -> int:
    if not isinstance(params, dict):
        raise ValueError(f"{func}: {params_name} must be a dict, got {type(params).__name__}")
    if key not in params:
        raise ValueError(f"{func}: {params_name} needs {key!r}")
    value = params[key]
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{func}: {params_name}[{key!r}] must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{func}: {params_name}[{key!r}] must be at least {minimum}, got {value}")
    return int(value)


def conv_settings(func: str, conv_param: dict) -> tuple[int, int]:
    """``(stride, pad)`` from ``conv_param``, checked: stride >= 1, pad >= 0."""
    stride = _int_param(func, conv_param, "conv_param", "stride", 1)
    pad = _int_param(func, conv_param, "conv_param", "pad", 0)
    return stride, pad


def pool_settings(func: str, pool_param: dict) -> tuple[int, int, int]:
    """``(pool_height, pool_width, stride)`` from ``pool_param``, each at least 1."""
    height = _int_param(func, pool_param, "pool_param", "pool_height", 1)
    width = _int_param(func, pool_param, "pool_param", "pool_width", 1)
    stride = _int_param(func, pool_param, "pool_param", "stride", 1)
    return height, width, stride


def output_size(func: str, size: int, window: int, stride: int, pad: int, axis: str) -> int:
    """Number of window positions along one axis: ``1 + (size + 2 pad - window) // stride``."""
    if window > size + 2 * pad:
        raise ValueError(
            f"{func}: the window is {window} {axis} but the padded input is only "
            f"{size + 2 * pad} {axis} ({size} + 2 * pad {pad})"
        )
    return 1 + (size + 2 * pad - window) // stride


def _check_conv_inputs(func: str, x, w, b) -> None:
    check_ndim(func, "x", x, 4, "(N, C, H, W)")
    check_batch(func, "x", x)
    check_ndim(func, "w", w, 4, "(F, C, HH, WW)")
    if w.shape[1] != x.shape[1]:
        raise ValueError(
            f"{func}: w has shape {w.shape}, whose {w.shape[1]} input channels do not match "
            f"the {x.shape[1]} channels of x {x.shape}"
        )
    check_shape(func, "b", b, (w.shape[0],), f"(one bias per filter of w {w.shape})")


def _pad(x: np.ndarray, pad: int) -> np.ndarray:
    return np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x


# --------------------------------------------------------------------------------------------
# Convolution, naive
# --------------------------------------------------------------------------------------------


def conv_forward_naive(x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict):
    r"""Convolution (strictly, cross-correlation) with plain loops.

    With :math:`x_p` the input zero-padded by :math:`P` on every side,

    .. math::

        \mathrm{out}_{n f i j} = b_f + \sum_{c=1}^{C} \sum_{k=1}^{HH} \sum_{l=1}^{WW}
            x_{p,\, n,\, c,\, S i + k,\, S j + l}\; w_{f c k l}.

    Args:
        x: Images, shape ``(N, C, H, W)``.
        w: Filters, shape ``(F, C, HH, WW)``.
        b: Biases, shape ``(F,)``.
        conv_param: ``{'stride': S >= 1, 'pad': P >= 0}``.

    Returns:
        ``(out, cache)``: ``out`` of shape ``(N, F, H', W')`` with
        ``H' = 1 + (H + 2P - HH) // S`` and ``W' = 1 + (W + 2P - WW) // S``;
        ``cache = (x, w, conv_param)``.
    """
    func = "conv_forward_naive"
    _check_conv_inputs(func, x, w, b)
    stride, pad = conv_settings(func, conv_param)
    n, _, height, width = x.shape
    filters, _, kh, kw = w.shape
    out_h = output_size(func, height, kh, stride, pad, "rows")
    out_w = output_size(func, width, kw, stride, pad, "columns")

    padded = _pad(x, pad)
    out = np.empty((n, filters, out_h, out_w), dtype=np.result_type(x, w, b))
    for i_n in range(n):
        for f in range(filters):
            for i in range(out_h):
                for j in range(out_w):
                    field = padded[
                        i_n, :, i * stride : i * stride + kh, j * stride : j * stride + kw
                    ]
                    out[i_n, f, i, j] = np.sum(field * w[f]) + b[f]
    return out, (x, w, conv_param)


def conv_backward_naive(dout: np.ndarray, cache):
    r"""Backward pass of :func:`conv_forward_naive`, with the same loops.

    Each output entry :math:`\mathrm{out}_{nfij}` sends :math:`\overline{\mathrm{out}}_{nfij}`
    back to everything it was computed from:

    .. math::

        \overline{x_p}[n, :, Si{+}k, Sj{+}l] \mathrel{+}=
            \overline{\mathrm{out}}_{nfij}\, w_{f,:,k,l},
        \qquad
        \overline{w}_{f} \mathrel{+}= \overline{\mathrm{out}}_{nfij}\,
            x_p[n, :, Si : Si{+}HH, Sj : Sj{+}WW],
        \qquad
        \overline{b}_f \mathrel{+}= \overline{\mathrm{out}}_{nfij}.

    :math:`\overline{x}` is :math:`\overline{x_p}` with the padding cut off.

    Args:
        dout: Upstream gradient, shape ``(N, F, H', W')``.
        cache: ``(x, w, conv_param)`` from :func:`conv_forward_naive`.

    Returns:
        ``(dx, dw, db)`` with the shapes of ``x``, ``w`` and ``b``.
    """
    x, w, conv_param = cache
    stride, pad = conv_settings("conv_backward_naive", conv_param)
    n, _, height, width = x.shape
    filters, _, kh, kw = w.shape
    out_h = 1 + (height + 2 * pad - kh) // stride
    out_w = 1 + (width + 2 * pad - kw) // stride
    check_shape("conv_backward_naive", "dout", dout, (n, filters, out_h, out_w), "(N, F, H', W')")

    padded = _pad(x, pad)
    dpadded = np.zeros(padded.shape, dtype=np.result_type(x, dout))
    dw = np.zeros(w.shape, dtype=np.result_type(w, dout))
    for i_n in range(n):
        for f in range(filters):
            for i in range(out_h):
                for j in range(out_w):
                    rows = slice(i * stride, i * stride + kh)
                    cols = slice(j * stride, j * stride + kw)
                    g = dout[i_n, f, i, j]
                    dpadded[i_n, :, rows, cols] += g * w[f]
                    dw[f] += g * padded[i_n, :, rows, cols]
    dx = dpadded[:, :, pad : pad + height, pad : pad + width]
    db = dout.sum(axis=(0, 2, 3))
    return dx.copy(), dw, db


# --------------------------------------------------------------------------------------------
# Convolution, fast: one matrix product per kernel tap, on shifted views of the input
# --------------------------------------------------------------------------------------------


def _phases(x: np.ndarray, kh: int, kw: int, stride: int, pad: int):
    """The padded input, channels last, split into ``stride x stride`` phases of flat rows.

    Phase ``(a, b)`` holds the padded pixels whose row is ``a`` modulo ``stride`` and whose
    column is ``b`` modulo ``stride``. Output ``(i, j)`` reads, for kernel tap ``(k, l)``,
    the padded pixel ``(S i + k, S j + l)``, which is pixel ``(i + k // S, j + l // S)`` of
    phase ``(k % S, l % S)``. In the flattened phase (row index ``(n, i, j)``) that is a
    constant offset from the output's own index, so each tap reads a contiguous block of rows.

    Returns:
        ``(phases, (phase_h, phase_w), (out_h, out_w))``: ``phases[a][b]`` of shape
        ``(N * phase_h * phase_w, C)``.
    """
    n, channels, height, width = x.shape
    out_h = 1 + (height + 2 * pad - kh) // stride
    out_w = 1 + (width + 2 * pad - kw) // stride
    phase_h = out_h + (kh - 1) // stride
    phase_w = out_w + (kw - 1) // stride
    padded = np.zeros((n, stride * phase_h, stride * phase_w, channels), dtype=x.dtype)
    # rows and columns past the last window are never read (the output size floors)
    rows = min(height, stride * phase_h - pad)
    cols = min(width, stride * phase_w - pad)
    padded[:, pad : pad + rows, pad : pad + cols] = x[:, :, :rows, :cols].transpose(0, 2, 3, 1)
    phases = [
        [
            np.ascontiguousarray(padded[:, a::stride, b::stride]).reshape(-1, channels)
            for b in range(stride)
        ]
        for a in range(stride)
    ]
    return phases, (phase_h, phase_w), (out_h, out_w)


def _taps(kh: int, kw: int, stride: int, phase_w: int):
    """``(k, l, a, b, offset)`` for every kernel tap: its phase and its row offset there."""
    return [
        (k, l, k % stride, l % stride, (k // stride) * phase_w + l // stride)
        for k in range(kh)
        for l in range(kw)
    ]


def conv_forward_fast(x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict):
    r"""Convolution as a sum of matrix products, one per kernel tap, with nothing unfolded.

    Computes exactly what :func:`conv_forward_naive` computes. The unfolded (im2col) view
    writes every receptive field as a row of :math:`X_{\mathrm{col}}`, so that
    :math:`\mathrm{out} = X_{\mathrm{col}} W_{\mathrm{col}} + b`. Splitting that product by
    kernel tap :math:`(k, l)`,

    .. math::

        \mathrm{out}_{(n,i,j),\,f} = b_f + \sum_{k,l} \sum_c
            x_{p,\,n,\,c,\,Si+k,\,Sj+l}\; w_{fckl},

    each tap's term is a matrix product of the channels-last input, *shifted* by the tap,
    with the ``(C, F)`` matrix :math:`w_{\cdot\cdot kl}^\top`. With stride 1 the shifted
    input is a contiguous block of rows of the padded image; with stride :math:`S` it is a
    block of rows of one of the :math:`S^2` phases (:func:`_phases`). Rows that fall between
    images or past the last column are computed and discarded. Nothing of size
    ``HH * WW`` times the input is ever built, and the rows are processed in blocks of
    :data:`BLOCK_ROWS` so that the running sum stays in the processor's cache.

    Args:
        x: Images, shape ``(N, C, H, W)``.
        w: Filters, shape ``(F, C, HH, WW)``.
        b: Biases, shape ``(F,)``.
        conv_param: ``{'stride': S >= 1, 'pad': P >= 0}``.

    Returns:
        ``(out, cache)``: ``out`` of shape ``(N, F, H', W')``; ``cache`` holds the phases, the
        filters and the geometry.
    """
    func = "conv_forward_fast"
    _check_conv_inputs(func, x, w, b)
    stride, pad = conv_settings(func, conv_param)
    n, _, height, width = x.shape
    filters, _, kh, kw = w.shape
    output_size(func, height, kh, stride, pad, "rows")
    output_size(func, width, kw, stride, pad, "columns")

    dtype = np.result_type(x, w, b)
    phases, (phase_h, phase_w), (out_h, out_w) = _phases(
        x.astype(dtype, copy=False), kh, kw, stride, pad
    )
    w_taps = w.transpose(2, 3, 1, 0).astype(dtype)  # (HH, WW, C, F)
    taps = _taps(kh, kw, stride, phase_w)
    total = n * phase_h * phase_w
    valid = total - max(offset for *_, offset in taps)
    rows = np.zeros((total, filters), dtype=dtype)
    product = np.empty((BLOCK_ROWS, filters), dtype=dtype)
    for start in range(0, valid, BLOCK_ROWS):
        stop = min(valid, start + BLOCK_ROWS)
        block, scratch = rows[start:stop], product[: stop - start]
        for k, l, a, b_, offset in taps:
            np.matmul(phases[a][b_][start + offset : stop + offset], w_taps[k, l], out=scratch)
            block += scratch
    out = rows.reshape(n, phase_h, phase_w, filters)[:, :out_h, :out_w].transpose(0, 3, 1, 2)
    out = out + b.reshape(-1, 1, 1)
    return out, (x.shape, phases, w, conv_param)


def conv_backward_fast(dout: np.ndarray, cache):
    r"""Backward pass of :func:`conv_forward_fast`, tap by tap.

    For every tap :math:`(k, l)` with shifted input rows :math:`X_{kl}` (shape
    ``(rows, C)``) and upstream gradient rows :math:`\overline{O}` (shape ``(rows, F)``,
    zero on the discarded rows):

    .. math::

        \overline{w}_{\cdot\cdot kl}^\top = X_{kl}^\top \overline{O}, \qquad
        \overline{X_{kl}} \mathrel{+}= \overline{O}\, w_{\cdot\cdot kl}, \qquad
        \overline{b} = \textstyle\sum_{\mathrm{rows}} \overline{O} .

    Because :math:`X_{kl}` is a view of the input shifted by the tap, adding into
    :math:`\overline{X_{kl}}` adds every contribution to the pixel it came from: this is the
    *full correlation of the upstream gradient with the flipped kernel* that the derivation
    finds, and it needs no fold (col2im).

    Args:
        dout: Upstream gradient, shape ``(N, F, H', W')``.
        cache: From :func:`conv_forward_fast`.

    Returns:
        ``(dx, dw, db)`` with the shapes of ``x``, ``w`` and ``b``.
    """
    func = "conv_backward_fast"
    x_shape, phases, w, conv_param = cache
    stride, pad = conv_settings(func, conv_param)
    n, channels, height, width = x_shape
    filters, _, kh, kw = w.shape
    out_h = 1 + (height + 2 * pad - kh) // stride
    out_w = 1 + (width + 2 * pad - kw) // stride
    check_shape(func, "dout", dout, (n, filters, out_h, out_w), "(N, F, H', W')")

    dtype = np.result_type(phases[0][0], w, dout)
    phase_h = out_h + (kh - 1) // stride
    phase_w = out_w + (kw - 1) // stride
    taps = _taps(kh, kw, stride, phase_w)
    total = n * phase_h * phase_w
    valid = total - max(offset for *_, offset in taps)

    grid = np.zeros((n, phase_h, phase_w, filters), dtype=dtype)
    grid[:, :out_h, :out_w] = dout.transpose(0, 2, 3, 1)
    dout_rows = grid.reshape(total, filters)
    w_taps = w.transpose(2, 3, 0, 1).astype(dtype)  # (HH, WW, F, C)

    dw_taps = np.empty((kh, kw, channels, filters), dtype=dtype)
    for k, l, a, b_, offset in taps:
        np.matmul(phases[a][b_][offset : offset + valid].T, dout_rows[:valid], out=dw_taps[k, l])

    dphases = [
        [np.zeros((total, channels), dtype=dtype) for _ in range(stride)] for _ in range(stride)
    ]
    product = np.empty((BLOCK_ROWS, channels), dtype=dtype)
    for start in range(0, valid, BLOCK_ROWS):
        stop = min(valid, start + BLOCK_ROWS)
        upstream, scratch = dout_rows[start:stop], product[: stop - start]
        for k, l, a, b_, offset in taps:
            np.matmul(upstream, w_taps[k, l], out=scratch)
            dphases[a][b_][start + offset : stop + offset] += scratch

    if stride == 1:  # a single phase: it is the padded image already
        dpadded = dphases[0][0].reshape(n, phase_h, phase_w, channels)
    else:
        dpadded = np.empty((n, stride * phase_h, stride * phase_w, channels), dtype=dtype)
        for a in range(stride):
            for b_ in range(stride):
                phase = dphases[a][b_].reshape(n, phase_h, phase_w, channels)
                dpadded[:, a::stride, b_::stride] = phase
    dx = np.zeros((n, channels, height, width), dtype=dtype)
    rows = min(height, stride * phase_h - pad)
    cols = min(width, stride * phase_w - pad)
    dx[:, :, :rows, :cols] = dpadded[:, pad : pad + rows, pad : pad + cols].transpose(0, 3, 1, 2)
    dw = np.ascontiguousarray(dw_taps.transpose(3, 2, 0, 1))
    db = dout.sum(axis=(0, 2, 3))
    return dx, dw, db


# --------------------------------------------------------------------------------------------
# Max pooling
# --------------------------------------------------------------------------------------------


def _check_pool_input(func: str, x) -> None:
    check_ndim(func, "x", x, 4, "(N, C, H, W)")
    check_batch(func, "x", x)


def max_pool_forward_naive(x: np.ndarray, pool_param: dict):
    r"""Max pooling with plain loops: :math:`\mathrm{out}_{ncij} = \max_{k, l}
    x_{n, c, S i + k, S j + l}` over a ``pool_height`` x ``pool_width`` window.

    Args:
        x: Inputs, shape ``(N, C, H, W)``.
        pool_param: ``{'pool_height': PH, 'pool_width': PW, 'stride': S}``, each at least 1.

    Returns:
        ``(out, cache)``: ``out`` of shape ``(N, C, H', W')`` with ``H' = 1 + (H - PH) // S``
        and ``W' = 1 + (W - PW) // S``; ``cache = (x, pool_param)``.
    """
    func = "max_pool_forward_naive"
    _check_pool_input(func, x)
    ph, pw, stride = pool_settings(func, pool_param)
    n, channels, height, width = x.shape
    out_h = output_size(func, height, ph, stride, 0, "rows")
    out_w = output_size(func, width, pw, stride, 0, "columns")
    out = np.empty((n, channels, out_h, out_w), dtype=x.dtype)
    for i_n in range(n):
        for c in range(channels):
            for i in range(out_h):
                for j in range(out_w):
                    window = x[i_n, c, i * stride : i * stride + ph, j * stride : j * stride + pw]
                    out[i_n, c, i, j] = window.max()
    return out, (x, pool_param)


def max_pool_backward_naive(dout: np.ndarray, cache):
    r"""Backward pass of :func:`max_pool_forward_naive`.

    Each window passes its upstream gradient to the entry that was its maximum; when several
    entries tie, to the first in row-major order (as PyTorch does). Overlapping windows add.

    Args:
        dout: Upstream gradient, shape ``(N, C, H', W')``.
        cache: ``(x, pool_param)`` from :func:`max_pool_forward_naive`.

    Returns:
        ``dx`` with the shape of ``x``.
    """
    func = "max_pool_backward_naive"
    x, pool_param = cache
    ph, pw, stride = pool_settings(func, pool_param)
    n, channels, height, width = x.shape
    out_h, out_w = 1 + (height - ph) // stride, 1 + (width - pw) // stride
    check_shape(func, "dout", dout, (n, channels, out_h, out_w), "(N, C, H', W')")
    dx = np.zeros(x.shape, dtype=np.result_type(x, dout))
    for i_n in range(n):
        for c in range(channels):
            for i in range(out_h):
                for j in range(out_w):
                    window = x[i_n, c, i * stride : i * stride + ph, j * stride : j * stride + pw]
                    k, l = np.unravel_index(np.argmax(window), window.shape)
                    dx[i_n, c, i * stride + k, j * stride + l] += dout[i_n, c, i, j]
    return dx


def _window_offsets(ph: int, pw: int, stride: int, out_h: int, out_w: int):
    """For every offset ``(k, l)`` inside a window, in row-major order: ``(k * pw + l, view)``
    where ``view`` picks, from an ``(N, C, H, W)`` array, the entry at that offset of every
    window, as an ``(N, C, H', W')`` strided slice."""
    span_h, span_w = stride * (out_h - 1) + 1, stride * (out_w - 1) + 1
    for k in range(ph):
        for l in range(pw):
            yield (
                k * pw + l,
                (
                    slice(None),
                    slice(None),
                    slice(k, k + span_h, stride),
                    slice(l, l + span_w, stride),
                ),
            )


def max_pool_forward_fast(x: np.ndarray, pool_param: dict):
    r"""Max pooling with one pass per window offset instead of one per window.

    For each offset :math:`(k, l)` inside the window, a strided slice of ``x`` holds the entry
    at that offset of *every* window, shape ``(N, C, H', W')``; the output is the elementwise
    maximum of these ``PH * PW`` slices.

    Args:
        x: Inputs, shape ``(N, C, H, W)``.
        pool_param: ``{'pool_height': PH, 'pool_width': PW, 'stride': S}``, each at least 1.

    Returns:
        ``(out, cache)``: ``out`` of shape ``(N, C, H', W')``; ``cache = (x, out, pool_param)``.
    """
    func = "max_pool_forward_fast"
    _check_pool_input(func, x)
    ph, pw, stride = pool_settings(func, pool_param)
    _, _, height, width = x.shape
    out_h = output_size(func, height, ph, stride, 0, "rows")
    out_w = output_size(func, width, pw, stride, 0, "columns")
    offsets = list(_window_offsets(ph, pw, stride, out_h, out_w))
    out = x[offsets[0][1]].copy()
    for _, view in offsets[1:]:
        np.maximum(out, x[view], out=out)
    return out, (x, out, pool_param)


def max_pool_backward_fast(dout: np.ndarray, cache):
    r"""Backward pass of :func:`max_pool_forward_fast`.

    The offsets are visited in row-major order. At each, the windows whose entry there equals
    the window's maximum, and whose gradient has not been routed yet, send
    :math:`\overline{\mathrm{out}}` to that entry: every window routes to its *first*
    maximum, as PyTorch does when entries tie. When windows overlap (stride smaller than the
    window) the contributions are added; otherwise each input belongs to at most one window and
    is written directly.

    Args:
        dout: Upstream gradient, shape ``(N, C, H', W')``.
        cache: ``(x, out, pool_param)`` from :func:`max_pool_forward_fast`.

    Returns:
        ``dx`` of shape ``(N, C, H, W)``.
    """
    func = "max_pool_backward_fast"
    x, out, pool_param = cache
    ph, pw, stride = pool_settings(func, pool_param)
    check_shape(func, "dout", dout, out.shape, "(N, C, H', W')")
    overlapping = stride < ph or stride < pw
    dx = np.zeros(x.shape, dtype=np.result_type(x, dout))
    unrouted = np.ones(out.shape, dtype=bool)
    winner = np.empty(out.shape, dtype=bool)
    for _, view in _window_offsets(ph, pw, stride, *out.shape[2:]):
        np.equal(x[view], out, out=winner)
        winner &= unrouted
        if overlapping:
            dx[view] += dout * winner
        else:
            np.multiply(dout, winner, out=dx[view])
        unrouted ^= winner  # the winners were unrouted: this marks them routed
    return dx


# --------------------------------------------------------------------------------------------
# Spatial batch normalization
# --------------------------------------------------------------------------------------------


def spatial_batchnorm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, bn_param: dict):
    r"""Batch normalization of each channel over the batch and all positions.

    Channel :math:`c` is normalized with the mean and variance of all :math:`N H W` values
    :math:`x_{n c h w}`: exactly :func:`~reference_numpy.layers.batchnorm_forward` applied to
    ``x`` reshaped to ``(N H W, C)``.

    Args:
        x: Inputs, shape ``(N, C, H, W)``.
        gamma: Scales, shape ``(C,)``.
        beta: Shifts, shape ``(C,)``.
        bn_param: As for :func:`~reference_numpy.layers.batchnorm_forward`; its running
            statistics have shape ``(C,)`` and are updated in place in training mode.

    Returns:
        ``(out, cache)``: ``out`` of shape ``(N, C, H, W)``; ``cache`` for the backward pass.
    """
    func = "spatial_batchnorm_forward"
    check_ndim(func, "x", x, 4, "(N, C, H, W)")
    check_scale_shift(func, x, gamma, beta, per="channel")
    n, channels, height, width = x.shape
    rows = x.transpose(0, 2, 3, 1).reshape(-1, channels)
    out_rows, cache = normalize_rows(func, rows, gamma, beta, bn_param)
    out = out_rows.reshape(n, height, width, channels).transpose(0, 3, 1, 2)
    return np.ascontiguousarray(out), (x.shape, cache)


def spatial_batchnorm_backward(dout: np.ndarray, cache):
    r"""Backward pass of :func:`spatial_batchnorm_forward`: the batch-norm backward on rows.

    Args:
        dout: Upstream gradient, shape ``(N, C, H, W)``.
        cache: From :func:`spatial_batchnorm_forward`.

    Returns:
        ``(dx, dgamma, dbeta)`` of shapes ``(N, C, H, W)``, ``(C,)`` and ``(C,)``.
    """
    shape, bn_cache = cache
    check_shape("spatial_batchnorm_backward", "dout", dout, shape, "(the shape of x)")
    n, channels, height, width = shape
    drows = dout.transpose(0, 2, 3, 1).reshape(-1, channels)
    dx_rows, dgamma, dbeta = batchnorm_backward_alt(drows, bn_cache)
    dx = dx_rows.reshape(n, height, width, channels).transpose(0, 3, 1, 2)
    return np.ascontiguousarray(dx), dgamma, dbeta
