"""Softmax loss whose gradient is not divided by the batch size (the loss is)."""

import numpy as np


def softmax_loss(x, y):
    n = x.shape[0]
    scores = x - np.max(x, axis=1, keepdims=True)
    probs = np.exp(scores) / np.sum(np.exp(scores), axis=1, keepdims=True)
    loss = -np.mean(np.log(probs[np.arange(n), y]))
    dx = probs.copy()
    dx[np.arange(n), y] -= 1
    return loss, dx
