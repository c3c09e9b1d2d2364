"""Total-variation loss with absolute differences instead of squared ones."""

import numpy as np


def tv_loss_forward(img, tv_weight):
    down = img[:, :, 1:, :] - img[:, :, :-1, :]
    right = img[:, :, :, 1:] - img[:, :, :, :-1]
    loss = tv_weight * (np.abs(down).sum() + np.abs(right).sum())
    return loss, (img, tv_weight)


def tv_loss_backward(dout, cache):
    img, tv_weight = cache
    down = np.sign(img[:, :, 1:, :] - img[:, :, :-1, :])
    right = np.sign(img[:, :, :, 1:] - img[:, :, :, :-1])
    dimg = np.zeros_like(img)
    dimg[:, :, 1:, :] += down
    dimg[:, :, :-1, :] -= down
    dimg[:, :, :, 1:] += right
    dimg[:, :, :, :-1] -= right
    return dout * tv_weight * dimg
