"""Word embedding whose backward assigns instead of adding: a word that occurs twice keeps
only one of its gradients."""

import numpy as np


def word_embedding_forward(x, W):
    return W[x], (x, W)


def word_embedding_backward(dout, cache):
    x, W = cache
    dW = np.zeros_like(W)
    dW[x] = dout
    return dW
