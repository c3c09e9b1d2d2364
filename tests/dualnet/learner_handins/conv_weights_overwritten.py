"""Naive convolution whose weight gradient starts from zero again for every example, so only
the last example's share is returned."""

import numpy as np


def conv_forward_naive(x, w, b, conv_param):
    stride, pad = conv_param["stride"], conv_param["pad"]
    n, _, h, wd = x.shape
    f, _, hh, ww = w.shape
    out_h = 1 + (h + 2 * pad - hh) // stride
    out_w = 1 + (wd + 2 * pad - ww) // stride
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((n, f, out_h, out_w), dtype=x.dtype)
    for i in range(n):
        for k in range(f):
            for r in range(out_h):
                for c in range(out_w):
                    patch = xp[i, :, r * stride : r * stride + hh, c * stride : c * stride + ww]
                    out[i, k, r, c] = np.sum(patch * w[k]) + b[k]
    return out, (x, w, b, conv_param)


def conv_backward_naive(dout, cache):
    x, w, b, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    n, _, h, wd = x.shape
    f, _, hh, ww = w.shape
    _, _, out_h, out_w = dout.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp = np.zeros_like(xp)
    db = dout.sum(axis=(0, 2, 3))
    for i in range(n):
        dw = np.zeros_like(w)
        for k in range(f):
            for r in range(out_h):
                for c in range(out_w):
                    rows = slice(r * stride, r * stride + hh)
                    cols = slice(c * stride, c * stride + ww)
                    dxp[i, :, rows, cols] += dout[i, k, r, c] * w[k]
                    dw[k] += dout[i, k, r, c] * xp[i, :, rows, cols]
    return dxp[:, :, pad : pad + h, pad : pad + wd], dw, db
