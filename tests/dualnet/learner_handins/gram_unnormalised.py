"""Gram matrix that is never divided by C*H*W, whatever normalize says."""


def gram_matrix_forward(features, normalize=True):
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w)
    return flat @ flat.transpose(0, 2, 1), (flat, features.shape)


def gram_matrix_backward(dout, cache):
    flat, shape = cache
    return ((dout + dout.transpose(0, 2, 1)) @ flat).reshape(shape)
