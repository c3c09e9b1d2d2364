r"""Classification losses in PyTorch: the twins of ``reference_numpy/losses.py``.

Each takes class scores ``x`` of shape ``(N, C)`` and integer labels ``y`` of shape ``(N,)``
and returns the mean loss as a 0-dimensional tensor; autograd supplies the gradient. Both are
PyTorch's own kernels, so the cross-check compares the hand-derived NumPy gradient with them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from torch_impl.validation import check_batch, check_finite, check_labels, check_ndim


def _check_scores_and_labels(func: str, x: torch.Tensor, y: torch.Tensor) -> None:
    check_ndim(func, "x", x, 2, "(N, C): one row of class scores per example")
    check_batch(func, "x", x)
    check_finite(func, "x", x)
    check_labels(func, "y", y, x.shape[0], x.shape[1])


def softmax_loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r"""Softmax loss, :math:`-\frac1N \sum_n \log p_{n y_n}`: ``F.cross_entropy``."""
    _check_scores_and_labels("softmax_loss", x, y)
    return F.cross_entropy(x, y.long())


def svm_loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r"""Multiclass SVM loss, :math:`\frac1N \sum_n \sum_{c \ne y_n} \max(0, x_{nc} - x_{ny_n} + 1)`.

    ``F.multi_margin_loss`` computes the same sum but divides each example's sum by the number
    of classes ``C``; multiplying by ``C`` gives the classic loss.
    """
    _check_scores_and_labels("svm_loss", x, y)
    return F.multi_margin_loss(x, y.long(), p=1, margin=1.0) * x.shape[1]
