"""A ReLU with its forward written and no backward yet."""

import numpy as np


def relu_forward(x):
    return np.maximum(0, x), x
