"""Figures for training runs: learning curves, confusion matrices, misclassified examples.

Each function returns a ``matplotlib.figure.Figure`` and never opens a window (the Agg backend
is used when no display is configured); :func:`save` writes one to disk.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

if matplotlib.get_backend().lower() not in {"agg", "module://matplotlib_inline.backend_inline"}:
    matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


def learning_curves(history: list[dict], title: str = "") -> Figure:
    """Loss and accuracy per epoch from a list of metric records.

    Each record may hold ``epoch``, ``train_loss``, ``val_loss``, ``train_acc``, ``val_acc``;
    missing keys are skipped.
    """
    figure, (loss_axis, acc_axis) = plt.subplots(1, 2, figsize=(9, 3.4), layout="constrained")
    epochs = [record["epoch"] for record in history]
    for key, label in (("train_loss", "train"), ("val_loss", "validation")):
        values = [record.get(key) for record in history]
        if any(v is not None for v in values):
            loss_axis.plot(epochs, values, marker="o", label=label)
    for key, label in (("train_acc", "train"), ("val_acc", "validation")):
        values = [record.get(key) for record in history]
        if any(v is not None for v in values):
            acc_axis.plot(epochs, [100 * v for v in values], marker="o", label=label)
    loss_axis.set(xlabel="epoch", ylabel="loss", title="loss")
    acc_axis.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    for axis in (loss_axis, acc_axis):
        axis.grid(alpha=0.3)
        axis.legend()
    if title:
        figure.suptitle(title)
    return figure


def confusion(counts: np.ndarray, classes: list[str] | tuple[str, ...], title: str = "") -> Figure:
    """A confusion matrix as an image, rows = true class, columns = predicted, with counts."""
    counts = np.asarray(counts)
    figure, axis = plt.subplots(figsize=(6.2, 5.4), layout="constrained")
    row_totals = counts.sum(axis=1, keepdims=True)
    fractions = counts / np.maximum(row_totals, 1)
    image = axis.imshow(fractions, cmap="Blues", vmin=0, vmax=1)
    for i in range(counts.shape[0]):
        for j in range(counts.shape[1]):
            if counts[i, j]:
                colour = "white" if fractions[i, j] > 0.6 else "black"
                axis.text(
                    j, i, str(counts[i, j]), ha="center", va="center", fontsize=7, color=colour
                )
    axis.set_xticks(range(len(classes)), classes, rotation=60, ha="right", fontsize=8)
    axis.set_yticks(range(len(classes)), classes, fontsize=8)
    axis.set(xlabel="predicted class", ylabel="true class", title=title or "confusion matrix")
    figure.colorbar(image, ax=axis, label="fraction of the true class")
    return figure


def image_grid(
    images: np.ndarray,
    captions: list[str],
    columns: int = 8,
    title: str = "",
) -> Figure:
    """Images ``(N, 3, H, W)`` (uint8, or floats in [0, 1]) in a grid, one caption under each."""
    images = np.asarray(images)
    if images.dtype != np.uint8:
        images = np.clip(images, 0, 1)
    count = len(images)
    rows = max(1, -(-count // columns))
    figure, axes = plt.subplots(rows, columns, figsize=(1.3 * columns, 1.55 * rows), squeeze=False)
    for index, axis in enumerate(axes.ravel()):
        axis.axis("off")
        if index < count:
            axis.imshow(images[index].transpose(1, 2, 0), interpolation="nearest")
            axis.set_title(captions[index], fontsize=7)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


def save(figure: Figure, path: str | Path, dpi: int = 110) -> Path:
    """Write ``figure`` to ``path`` (PNG) and close it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=dpi)
    plt.close(figure)
    return path
