"""ReLU whose backward passes the upstream gradient through everywhere."""

import numpy as np


def relu_forward(x):
    return np.maximum(0, x), x


def relu_backward(dout, cache):
    return dout.copy()
