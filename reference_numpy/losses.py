r"""Classification losses in the classic combined form ``loss(x, y) -> (loss, dx)``.

Both losses take class scores ``x`` of shape ``(N, C)`` and integer labels ``y`` of shape
``(N,)``, average over the batch, and return the gradient of that average with respect to
``x``. ``torch_impl/losses.py`` holds the PyTorch twins.
"""

from __future__ import annotations

import numpy as np

from reference_numpy.validation import check_batch, check_finite, check_labels, check_ndim


def _check_scores_and_labels(func: str, x: np.ndarray, y: np.ndarray) -> None:
    check_ndim(func, "x", x, 2, "(N, C): one row of class scores per example")
    check_batch(func, "x", x)
    check_finite(func, "x", x)
    check_labels(func, "y", y, x.shape[0], x.shape[1])


def softmax_loss(x: np.ndarray, y: np.ndarray):
    r"""Softmax (cross-entropy) loss and its gradient.

    With probabilities :math:`p_{nc} = e^{x_{nc}} / \sum_j e^{x_{nj}}`,

    .. math::

        L = -\frac{1}{N} \sum_n \log p_{n y_n}, \qquad
        \frac{\partial L}{\partial x_{nc}} = \frac{1}{N}\left(p_{nc} - [c = y_n]\right).

    The row maximum is subtracted before exponentiating, which changes nothing
    mathematically and keeps :math:`e^{x}` from overflowing.

    Args:
        x: Class scores, shape ``(N, C)``.
        y: Labels, shape ``(N,)``, integers in ``[0, C)``.

    Returns:
        ``(loss, dx)``: the mean loss (a NumPy scalar of the dtype of ``x``) and its
        gradient, shape ``(N, C)``.
    """
    _check_scores_and_labels("softmax_loss", x, y)
    n = x.shape[0]
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(n)
    loss = -log_probs[rows, y].sum() / n
    dx = np.exp(log_probs)
    dx[rows, y] -= 1
    dx /= n
    return loss, dx


def svm_loss(x: np.ndarray, y: np.ndarray):
    r"""Multiclass SVM (hinge) loss with margin 1, and its gradient.

    .. math::

        L = \frac{1}{N} \sum_n \sum_{c \ne y_n} \max(0,\; x_{nc} - x_{n y_n} + 1).

    Each positive margin contributes :math:`+1/N` to :math:`\partial L/\partial x_{nc}` and
    :math:`-1/N` to :math:`\partial L/\partial x_{n y_n}`. At a margin of exactly 0 the
    subgradient 0 is used.

    Args:
        x: Class scores, shape ``(N, C)``.
        y: Labels, shape ``(N,)``, integers in ``[0, C)``.

    Returns:
        ``(loss, dx)``: the mean loss (a NumPy scalar of the dtype of ``x``) and its
        gradient, shape ``(N, C)``.
    """
    _check_scores_and_labels("svm_loss", x, y)
    n = x.shape[0]
    rows = np.arange(n)
    correct = x[rows, y][:, np.newaxis]
    margins = np.maximum(0, x - correct + 1)
    margins[rows, y] = 0
    loss = margins.sum() / n
    positive = (margins > 0).astype(x.dtype)
    positive[rows, y] = -positive.sum(axis=1)
    dx = positive / n
    return loss, dx
