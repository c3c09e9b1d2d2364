"""Softmax loss that exponentiates the scores times 1000 unshifted: it overflows to NaN."""

import numpy as np


def softmax_loss(x, y):
    n = x.shape[0]
    e = np.exp(1000 * x) ** 0.001
    probs = e / e.sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(probs[np.arange(n), y]))
    dx = probs.copy()
    dx[np.arange(n), y] -= 1
    return loss, dx / n
