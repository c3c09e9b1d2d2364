"""Evaluation metrics shared by the applications."""

from __future__ import annotations

import numpy as np
import torch


def accuracy(scores, labels) -> float:
    """Fraction of rows whose largest score is at the label. Works on arrays and tensors.

    Args:
        scores: ``(N, C)`` class scores.
        labels: ``(N,)`` integer labels.
    """
    if isinstance(scores, torch.Tensor):
        return float((scores.argmax(dim=1) == labels).float().mean()) if len(labels) else 0.0
    scores, labels = np.asarray(scores), np.asarray(labels)
    return float(np.mean(scores.argmax(axis=1) == labels)) if len(labels) else 0.0


def confusion_matrix(predictions, labels, num_classes: int) -> np.ndarray:
    """``(num_classes, num_classes)`` counts: row = true class, column = predicted class."""
    predictions = np.asarray(predictions).astype(np.int64).ravel()
    labels = np.asarray(labels).astype(np.int64).ravel()
    if predictions.shape != labels.shape:
        raise ValueError(
            f"confusion_matrix: predictions has shape {predictions.shape} but labels has shape "
            f"{labels.shape}"
        )
    for name, values in (("predictions", predictions), ("labels", labels)):
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            raise ValueError(
                f"confusion_matrix: {name} holds values from {values.min()} to {values.max()}, "
                f"expected classes in [0, {num_classes})"
            )
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(counts, (labels, predictions), 1)
    return counts
