"""ReLU whose backward zeroes the upstream gradient in place: the values are right, but the
caller's dout is changed."""

import numpy as np


def relu_forward(x):
    return np.maximum(0, x), x


def relu_backward(dout, cache):
    dout[cache <= 0] = 0
    return dout
