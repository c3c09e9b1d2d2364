r"""Convolution, max pooling and spatial batch normalization on ``(N, C, H, W)`` images.

Each layer comes twice where it matters:

* ``*_naive`` versions are plain loops over output positions, written to be read next to
  the derivation;
* ``*_fast`` versions compute the same numbers with a few large array operations: the
  convolution unfolds a block of images at a time (im2col) and does one matrix product per
  image, so its extra memory stays a small multiple of the input and output sizes.

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

BLOCK_ENTRIES = 2**20
"""How many entries the fast convolution unfolds at a time: as many whole images as fit (at
least one). Small enough to stay in the processor's cache, large enough for efficient matrix
products."""

POOL_BLOCK_ENTRIES = 2**16
"""How many input entries the fast max pooling works on at a time (whole images, at least
one): few enough for a block to stay in the processor's cache through all its passes."""


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
# Convolution, fast: unfold a block of images, one matrix product per image
# --------------------------------------------------------------------------------------------


def _inside(tap: int, pad: int, stride: int, size: int, out_size: int) -> tuple[slice, slice]:
    """Along one axis, for the kernel offset ``tap``: the outputs ``i`` whose input pixel
    ``S i + tap - P`` lies inside the image (``0 <= S i + tap - P < size``), and those pixels,
    as two slices of equal length (both empty if there are none). The other outputs read the
    zero padding. ``pad`` may be negative: then the image is cropped instead."""
    first = max(0, -((tap - pad) // stride))  # the smallest i with S i + tap - P >= 0
    stop = max(first, min(out_size, (size - 1 + pad - tap) // stride + 1))
    pixel = stride * first + tap - pad
    return slice(first, stop), slice(pixel, pixel + stride * (stop - first), stride)


def _taps(kh: int, kw: int, stride: int, pads: tuple[int, int], size: tuple, out_size: tuple):
    """For every kernel tap ``(k, l)``: ``(k, l, out_rows, out_cols, rows, cols)``, the outputs
    ``(i, j)`` whose pixel ``(S i + k - P, S j + l - P)`` lies inside an image of
    ``size = (H, W)`` and those pixels, as slices (:func:`_inside`); ``pads = (P_rows, P_cols)``.
    """
    for k in range(kh):
        out_rows, rows = _inside(k, pads[0], stride, size[0], out_size[0])
        for l in range(kw):
            out_cols, cols = _inside(l, pads[1], stride, size[1], out_size[1])
            yield k, l, out_rows, out_cols, rows, cols


def _unfold(x: np.ndarray, stride: int, pads: tuple[int, int], out: np.ndarray) -> np.ndarray:
    r"""Copy every receptive field of a block of images into ``out`` (*im2col*):

    .. math::

        \mathrm{out}[n, c, k, l, i, j] = x_p[n, c, S i + k, S j + l],

    where :math:`x_p` is ``x`` with ``pads = (P_rows, P_cols)`` rows and columns of zeros on
    either side. The padding is never built: the entries that would read it are left alone,
    so ``out`` must hold zeros there (a buffer from ``np.zeros`` that only this function
    writes to does).

    Args:
        x: Images, shape ``(n, C, H, W)``.
        out: Buffer of shape ``(n, C, HH, WW, H', W')``, filled and returned. Reshaped to
            ``(n, C HH WW, H' W')`` it holds the matrix :math:`X_n` of each image.
    """
    *_, kh, kw, out_h, out_w = out.shape
    for k, l, out_rows, out_cols, rows, cols in _taps(
        kh, kw, stride, pads, x.shape[2:], (out_h, out_w)
    ):
        out[:, :, k, l, out_rows, out_cols] = x[:, :, rows, cols]
    return out


def _fold(unfolded: np.ndarray, stride: int, pads: tuple[int, int], dx: np.ndarray) -> None:
    """The adjoint of :func:`_unfold` (*col2im*): add every entry of ``unfolded``, shape
    ``(n, C, HH, WW, H', W')``, onto the pixel of ``dx``, shape ``(n, C, H, W)``, that
    :func:`_unfold` copied it from. Pixels shared by overlapping windows add up; entries that
    came from the padding are dropped."""
    _, _, kh, kw, out_h, out_w = unfolded.shape
    for k, l, out_rows, out_cols, rows, cols in _taps(
        kh, kw, stride, pads, dx.shape[2:], (out_h, out_w)
    ):
        dx[:, :, rows, cols] += unfolded[:, :, k, l, out_rows, out_cols]


def _image_blocks(n: int, entries_per_image: int, entries: int):
    """``(start, stop)`` ranges of ``n`` images, as many in each as fit in ``entries`` (the
    block size, :data:`BLOCK_ENTRIES` or :data:`POOL_BLOCK_ENTRIES`), at least one."""
    step = max(1, entries // entries_per_image)
    for start in range(0, n, step):
        yield start, min(n, start + step)


def _blocks_and_buffer(n: int, channels: int, kernel: tuple, out_size: tuple, dtype):
    """The image blocks of :func:`_image_blocks` and a zeroed buffer for :func:`_unfold` to
    unfold the largest into."""
    per_image = channels * kernel[0] * kernel[1] * out_size[0] * out_size[1]
    blocks = list(_image_blocks(n, per_image, BLOCK_ENTRIES))
    buffer = np.zeros((blocks[0][1], channels, *kernel, *out_size), dtype=dtype)
    return blocks, buffer


def _correlate(x: np.ndarray, w: np.ndarray, stride: int, pads: tuple, out: np.ndarray):
    r"""``out[n] = W_mat X_n``: the correlation of the images ``x`` (shape ``(N, C, H, W)``,
    zero-padded by ``pads = (P_rows, P_cols)``) with the filters ``w`` (shape
    ``(F, C, HH, WW)``, in the dtype of ``out``), one matrix product per image, no bias.
    ``out`` of shape ``(N, F, H', W')`` is filled and returned."""
    filters, channels, kh, kw = w.shape
    n, _, out_h, out_w = out.shape
    w_mat = w.reshape(filters, -1)  # (F, C HH WW)
    blocks, buffer = _blocks_and_buffer(n, channels, (kh, kw), (out_h, out_w), out.dtype)
    for start, stop in blocks:
        cols = _unfold(x[start:stop], stride, pads, buffer[: stop - start])
        x_cols = cols.reshape(stop - start, w_mat.shape[1], out_h * out_w)  # X_n, stacked
        np.matmul(w_mat, x_cols, out=out[start:stop].reshape(stop - start, filters, -1))
    return out


def conv_forward_fast(x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict):
    r"""Convolution as matrix products: unfold a block of images, multiply, move to the next.

    Computes exactly what :func:`conv_forward_naive` computes. Write every receptive field of
    image :math:`n` as a column of :math:`X_n` (*im2col*, :func:`_unfold`) and every filter as
    a row of :math:`W_{\mathrm{mat}}`:

    .. math::

        (X_n)_{(c,k,l),\,(i,j)} = x_{p,\,n,\,c,\,Si+k,\,Sj+l}, \qquad
        (W_{\mathrm{mat}})_{f,\,(c,k,l)} = w_{fckl}, \qquad
        \mathrm{out}_n = W_{\mathrm{mat}} X_n + b .

    Shapes: :math:`X_n` is ``(C HH WW, H' W')``, :math:`W_{\mathrm{mat}}` is ``(F, C HH WW)``
    (``w.reshape(F, -1)``, no copy) and :math:`\mathrm{out}_n` is ``(F, H' W')``, which is
    ``out[n]`` already in ``(F, H', W')`` order. One product with an inner dimension of
    ``C HH WW`` replaces ``HH WW`` products over ``C`` and their sum, which is what lets the
    BLAS run near its peak rate. The unfolded copy holds every pixel up to ``HH WW / S^2``
    times, so only a block of images is unfolded at a time (:data:`BLOCK_ENTRIES`); the
    matrix products stay one per image. The padded image :math:`x_p` is never built: the
    entries of :math:`X_n` that fall on the padding are zeros, written once.

    Args:
        x: Images, shape ``(N, C, H, W)``.
        w: Filters, shape ``(F, C, HH, WW)``.
        b: Biases, shape ``(F,)``.
        conv_param: ``{'stride': S >= 1, 'pad': P >= 0}``.

    Returns:
        ``(out, cache)``: ``out`` of shape ``(N, F, H', W')``, in the dtype of ``x``, ``w`` and
        ``b`` together (float32 stays float32); ``cache = (x, w, conv_param)``.
    """
    func = "conv_forward_fast"
    _check_conv_inputs(func, x, w, b)
    stride, pad = conv_settings(func, conv_param)
    n, _, height, width = x.shape
    filters, _, kh, kw = w.shape
    out_h = output_size(func, height, kh, stride, pad, "rows")
    out_w = output_size(func, width, kw, stride, pad, "columns")

    dtype = np.result_type(x, w, b)
    out = np.empty((n, filters, out_h, out_w), dtype=dtype)
    _correlate(x.astype(dtype, copy=False), w.astype(dtype, copy=False), stride, (pad, pad), out)
    out += b.astype(dtype, copy=False).reshape(-1, 1, 1)
    return out, (x, w, conv_param)


def conv_backward_fast(dout: np.ndarray, cache):
    r"""Backward pass of :func:`conv_forward_fast`: matrix products on unfolded arrays.

    :math:`\overline{b}_f = \sum_{n,i,j} \overline{\mathrm{out}}_{nfij}`. For :math:`\overline{w}`
    and :math:`\overline{x}`, two routes that compute the same numbers:

    * any stride (:func:`_backward_unfolding_x`): the affine layer's backward on the unfolded
      images :math:`X_n` of the forward pass, and a fold;
    * stride 1 with no more filters than channels, ``F <= C``
      (:func:`_backward_unfolding_dout`): the derivation's full correlation of the upstream
      gradient with the flipped kernel, for which it is ``dout`` that is unfolded, once, for
      both gradients, and nothing is folded.

    The unfolded ``dout`` holds ``F HH WW`` rows per pixel, the unfolded ``x`` ``C HH WW``, so
    the second route copies less only where ``F <= C``; on a first layer (``C = 3``, ``F = 32``)
    it would copy ten times as much and multiply by a ``(3, F HH WW)`` matrix, four times
    slower than the first route (``docs/derivations/conv.md``).

    Args:
        dout: Upstream gradient, shape ``(N, F, H', W')``.
        cache: ``(x, w, conv_param)`` from :func:`conv_forward_fast`.

    Returns:
        ``(dx, dw, db)`` with the shapes of ``x``, ``w`` and ``b``.
    """
    func = "conv_backward_fast"
    x, w, conv_param = cache
    stride, pad = conv_settings(func, conv_param)
    n, _, height, width = x.shape
    filters, _, kh, kw = w.shape
    out_h = 1 + (height + 2 * pad - kh) // stride
    out_w = 1 + (width + 2 * pad - kw) // stride
    check_shape(func, "dout", dout, (n, filters, out_h, out_w), "(N, F, H', W')")

    dtype = np.result_type(x, w, dout)
    x, w, dout = (a.astype(dtype, copy=False) for a in (x, w, dout))
    if stride == 1 and filters <= x.shape[1]:
        dx, dw = _backward_unfolding_dout(dout, x, w, pad)
    else:
        dx, dw = _backward_unfolding_x(dout, x, w, stride, pad)
    db = dout.sum(axis=(0, 2, 3))
    return dx, dw, db


def _backward_unfolding_x(dout: np.ndarray, x: np.ndarray, w: np.ndarray, stride: int, pad: int):
    r"""``(dx, dw)`` of a convolution of any stride: the affine layer's backward, per image.

    With :math:`X_n` (``(C HH WW, H' W')``) unfolded again block by block as in
    :func:`conv_forward_fast` and :math:`\overline{O}_n` = ``dout[n]`` as ``(F, H' W')``:

    .. math::

        \overline{W_{\mathrm{mat}}}^\top = \sum_n X_n \overline{O}_n^\top, \qquad
        \overline{X_n} = W_{\mathrm{mat}}^\top\, \overline{O}_n .

    :math:`\overline{W_{\mathrm{mat}}}` (``(F, C HH WW)``) reshapes to ``(F, C, HH, WW)``.
    :math:`\overline{X_n}` (``(C HH WW, H' W')``) is *folded* (:func:`_fold`, col2im): each
    entry is added onto the pixel it was copied from, summing for every pixel the
    contributions of all the windows that contain it; what fell on the padding is dropped.
    """
    n, channels = x.shape[:2]
    filters, _, kh, kw = w.shape
    out_h, out_w = dout.shape[2:]
    w_mat = w.reshape(filters, -1)  # (F, C HH WW)
    fields = w_mat.shape[1]
    dw_mat_t = np.zeros((fields, filters), dtype=x.dtype)  # the gradient of W_mat^T
    dx = np.zeros(x.shape, dtype=x.dtype)
    blocks, buffer = _blocks_and_buffer(n, channels, (kh, kw), (out_h, out_w), x.dtype)
    dcols = np.empty_like(buffer)
    for start, stop in blocks:
        cols = _unfold(x[start:stop], stride, (pad, pad), buffer[: stop - start])
        x_cols = cols.reshape(stop - start, fields, out_h * out_w)  # X_n, stacked
        d_out = dout[start:stop].reshape(stop - start, filters, -1)  # dO_n, stacked
        dw_mat_t += np.matmul(x_cols, d_out.transpose(0, 2, 1)).sum(axis=0)
        d_cols = dcols[: stop - start]
        np.matmul(w_mat.T, d_out, out=d_cols.reshape(stop - start, fields, -1))
        _fold(d_cols, stride, (pad, pad), dx[start:stop])
    return dx, np.ascontiguousarray(dw_mat_t.T).reshape(w.shape)


def _backward_unfolding_dout(dout: np.ndarray, x: np.ndarray, w: np.ndarray, pad: int):
    r"""``(dx, dw)`` of a stride-1 convolution, both from one unfolding of ``dout``.

    Pad :math:`\overline{\mathrm{out}}` by :math:`Q = HH - 1 - P` rows and
    :math:`Q' = WW - 1 - P` columns (crop where that is negative) and unfold it
    (:func:`_unfold`) into :math:`D_n` of shape ``(F HH WW, H W)``, one column per *input*
    pixel :math:`(u, v)`:

    .. math::

        (D_n)_{(f,a,b),\,(u,v)} = \overline{\mathrm{out}}_{n,\,f,\,u+a-Q,\,v+b-Q'}
        = \overline{\mathrm{out}}_{n,\,f,\,u+P-k,\,v+P-l}
        \quad\text{with } k = HH - 1 - a,\ l = WW - 1 - b,

    zero where that output does not exist. Pixel :math:`(u, v)` met filter tap
    :math:`(k, l)` in exactly that output, so the derivation's two sums become products:

    .. math::

        \overline{x}_n = W^{\mathrm{flip}}_{\mathrm{mat}}\, D_n, \qquad
        G = \sum_n D_n\, x_n^\top, \qquad \overline{w}_{fckl} = G_{(f,\,HH-1-k,\,WW-1-l),\,c},

    where :math:`x_n` is ``x[n]`` as ``(C, H W)`` and :math:`W^{\mathrm{flip}}_{\mathrm{mat}}`
    (``(C, F HH WW)``) holds the filters flipped in both spatial axes with their two channel
    axes swapped: :math:`\overline{x}` is the full correlation of the upstream gradient with
    the flipped kernel. Shapes: :math:`\overline{x}_n` ``(C, H W)``, :math:`G`
    ``(F HH WW, C)``.
    """
    n, channels, height, width = x.shape
    filters, _, kh, kw = w.shape
    pads = (kh - 1 - pad, kw - 1 - pad)
    w_flipped = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))  # (C, F, HH, WW)
    w_flipped_mat = w_flipped.reshape(channels, -1)  # (C, F HH WW)
    fields = w_flipped_mat.shape[1]
    g = np.zeros((fields, channels), dtype=x.dtype)
    dx = np.empty(x.shape, dtype=x.dtype)
    blocks, buffer = _blocks_and_buffer(n, filters, (kh, kw), (height, width), x.dtype)
    for start, stop in blocks:
        cols = _unfold(dout[start:stop], 1, pads, buffer[: stop - start])
        d_cols = cols.reshape(stop - start, fields, height * width)  # D_n, stacked
        x_n = x[start:stop].reshape(stop - start, channels, -1)  # x_n, stacked
        np.matmul(w_flipped_mat, d_cols, out=dx[start:stop].reshape(stop - start, channels, -1))
        g += np.matmul(d_cols, x_n.transpose(0, 2, 1)).sum(axis=0)
    dw = g.reshape(filters, kh, kw, channels)[:, ::-1, ::-1].transpose(0, 3, 1, 2)
    return dx, np.ascontiguousarray(dw)


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


def _first_maximum(slices: list, maximum: np.ndarray, first: np.ndarray) -> None:
    """Elementwise over ``slices`` (arrays of one shape): ``maximum`` = their largest value and
    ``first`` = the index in ``slices`` of the first one that holds it. That index is the last
    one at which a slice was *strictly* larger than all before it, so ``first`` is the largest
    of ``index * (slice > maximum so far)``. Both are filled in place."""
    if len(slices) == 1:
        np.copyto(maximum, slices[0])
        first.fill(0)
        return
    np.copyto(first, slices[1] > slices[0])
    np.maximum(slices[0], slices[1], out=maximum)
    for index, candidate in enumerate(slices[2:], start=2):
        better = candidate > maximum
        np.maximum(first, better * first.dtype.type(index), out=first)
        np.maximum(maximum, candidate, out=maximum)


def max_pool_forward_fast(x: np.ndarray, pool_param: dict):
    r"""Max pooling in two passes, along the window's columns and then along its rows, that
    also records which entry of each window was its first maximum.

    .. math::

        c_{n,c,h,j} = \max_l\, x_{n,c,h,Sj+l}, \qquad
        \mathrm{out}_{ncij} = \max_k\, c_{n,c,Si+k,j} .

    For each column offset :math:`l` a strided slice of ``x`` holds column :math:`Sj + l` of
    every window column :math:`j`, shape ``(N, C, H, W')``; their elementwise maximum is
    :math:`c`, and :math:`l^{\mathrm{first}}_{n,c,h,j}` is the first :math:`l` that attains it.
    Then for each row offset :math:`k` a strided slice of :math:`c`, shape
    ``(N, C, H', W')``; their maximum is ``out``, and :math:`k^*` the first :math:`k` that
    attains it: the first row of the window that holds the window's maximum. In that row the
    first column that holds it is :math:`l^* = l^{\mathrm{first}}_{n,c,Si+k^*,j}`, so
    :math:`(k^*, l^*)` is the window's first maximum in row-major order, the entry that
    receives the gradient. Its row-major index ``winner = k* PW + l*`` is kept for the
    backward pass, as PyTorch keeps the position of each maximum. The images are taken a
    block at a time (:data:`POOL_BLOCK_ENTRIES`), so that :math:`c` is still in the cache when
    it is read.

    Args:
        x: Inputs, shape ``(N, C, H, W)``.
        pool_param: ``{'pool_height': PH, 'pool_width': PW, 'stride': S}``, each at least 1.

    Returns:
        ``(out, cache)``: ``out`` of shape ``(N, C, H', W')``;
        ``cache = (x, winner, pool_param)`` with ``winner`` of shape ``(N, C, H', W')``, the
        smallest unsigned integers that hold ``PH PW - 1``.
    """
    func = "max_pool_forward_fast"
    _check_pool_input(func, x)
    ph, pw, stride = pool_settings(func, pool_param)
    n, channels, height, width = x.shape
    out_h = output_size(func, height, ph, stride, 0, "rows")
    out_w = output_size(func, width, pw, stride, 0, "columns")
    span_h, span_w = stride * (out_h - 1) + 1, stride * (out_w - 1) + 1
    used_h = span_h + ph - 1  # the rows that some window covers, and those in between
    index_type = np.min_scalar_type(ph * pw - 1)
    out = np.empty((n, channels, out_h, out_w), dtype=x.dtype)
    winner = np.empty(out.shape, dtype=index_type)
    blocks = list(_image_blocks(n, x[0].size, POOL_BLOCK_ENTRIES))
    c = np.empty((blocks[0][1], channels, used_h, out_w), dtype=x.dtype)
    l_first = np.empty(c.shape, dtype=index_type)
    k_first = np.empty((blocks[0][1], channels, out_h, out_w), dtype=index_type)
    for start, stop in blocks:
        block, size = x[start:stop, :, :used_h], stop - start
        c_b, l_first_b, k_first_b = c[:size], l_first[:size], k_first[:size]
        winner_b = winner[start:stop]
        columns = [block[..., l : l + span_w : stride] for l in range(pw)]  # (n, C, rows, W')
        _first_maximum(columns, c_b, l_first_b)
        rows = [c_b[:, :, k : k + span_h : stride] for k in range(ph)]  # (n, C, H', W')
        _first_maximum(rows, out[start:stop], k_first_b)
        np.multiply(k_first_b, pw, out=winner_b)
        for k in range(ph):  # add l* = l_first at row S i + k*, where k* = k
            l_first_k = l_first_b[:, :, k : k + span_h : stride]
            winner_b += (k_first_b == k).view(np.uint8) * l_first_k
    return out, (x, winner, pool_param)


def max_pool_backward_fast(dout: np.ndarray, cache):
    r"""Backward pass of :func:`max_pool_forward_fast`.

    Each window sends :math:`\overline{\mathrm{out}}` to its first maximum, the entry
    ``winner`` recorded by the forward pass (as PyTorch does when entries tie). For each
    offset :math:`(k, l)` of the window, in turn, the entries at that offset of every window
    are a strided slice of ``dx`` of the output's shape; they receive
    :math:`\overline{\mathrm{out}}` where ``winner == k PW + l`` and zero elsewhere. When
    windows overlap (stride smaller than the window) the contributions are added; otherwise
    each input belongs to at most one window and is written directly. Where the windows tile
    the input (stride = window, sizes divisible) every entry is written once, so ``dx`` is not
    zeroed first (zeroing took a sixth of the float32 pass). The images are taken a block at a
    time (:data:`POOL_BLOCK_ENTRIES`), so that the block's gradient stays in the cache through
    the passes.

    Args:
        dout: Upstream gradient, shape ``(N, C, H', W')``.
        cache: ``(x, winner, pool_param)`` from :func:`max_pool_forward_fast`.

    Returns:
        ``dx`` of shape ``(N, C, H, W)``.
    """
    func = "max_pool_backward_fast"
    x, winner, pool_param = cache
    ph, pw, stride = pool_settings(func, pool_param)
    check_shape(func, "dout", dout, winner.shape, "(N, C, H', W')")
    overlapping = stride < ph or stride < pw
    # windows that tile the input write every entry of dx once: no need to zero it first
    tiled = stride == ph == pw and x.shape[2] % ph == 0 and x.shape[3] % pw == 0
    dx = (np.empty if tiled else np.zeros)(x.shape, dtype=np.result_type(x, dout))
    blocks = list(_image_blocks(x.shape[0], x[0].size, POOL_BLOCK_ENTRIES))
    chosen = np.empty((blocks[0][1], *winner.shape[1:]), dtype=bool)
    for start, stop in blocks:
        dout_b, winner_b, dx_b = dout[start:stop], winner[start:stop], dx[start:stop]
        chosen_b = chosen[: stop - start]
        for offset, view in _window_offsets(ph, pw, stride, *winner.shape[2:]):
            np.equal(winner_b, offset, out=chosen_b)
            if overlapping:  # an input can collect from several windows
                dx_b[view] += dout_b * chosen_b
            else:
                np.multiply(dout_b, chosen_b, out=dx_b[view])
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
