"""Temporal softmax loss that counts every time step, the masked-out ones too."""

import numpy as np


def temporal_softmax_loss(x, y, mask, verbose=False):
    n, t, v = x.shape
    flat_x, flat_y = x.reshape(n * t, v), y.reshape(n * t)
    probs = np.exp(flat_x - flat_x.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    loss = -np.sum(np.log(probs[np.arange(n * t), flat_y])) / n
    dx = probs.copy()
    dx[np.arange(n * t), flat_y] -= 1
    return loss, (dx / n).reshape(n, t, v)
