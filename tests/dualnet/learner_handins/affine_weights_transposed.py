"""Affine layer whose weight gradient comes out transposed, (M, D) instead of (D, M)."""


def affine_forward(x, w, b):
    return x.reshape(x.shape[0], -1) @ w + b, (x, w)


def affine_backward(dout, cache):
    x, w = cache
    dx = (dout @ w.T).reshape(x.shape)
    dw = dout.T @ x.reshape(x.shape[0], -1)
    return dx, dw, dout.sum(axis=0)
