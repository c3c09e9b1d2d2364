"""Figures for runs: learning curves, confusion matrices, image grids.

Every function builds a :class:`matplotlib.figure.Figure` directly, without pyplot, so
importing or using dualnet never changes matplotlib's global backend or opens a window;
:func:`save` writes a figure to a PNG file. In a notebook, display a figure by leaving it as
the last expression of a cell.

Every figure starts with :func:`new_figure`, which imports matplotlib on the first figure
drawn, not when a module is imported: a command that draws nothing, such as ``dualnet
check`` or a run with ``--no-figures``, does not pay the half second its import takes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dualnet.files import atomic_write

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def new_figure(**options) -> Figure:
    """``matplotlib.figure.Figure(**options)``, matplotlib imported here, on the first figure
    drawn (see the module docstring)."""
    from matplotlib.figure import Figure

    return Figure(**options)


def learning_curves(history: list[dict], title: str = "") -> Figure:
    """Loss and accuracy per epoch from a list of metric records.

    Each record holds ``epoch`` and may hold ``train_loss``, ``val_loss``, ``train_acc`` and
    ``val_acc``; a series whose key no record holds is not drawn.
    """
    figure = new_figure(figsize=(9, 3.4), layout="constrained")
    loss_axis, acc_axis = figure.subplots(1, 2)
    epochs = [record["epoch"] for record in history]
    for axis, prefix, scale in ((loss_axis, "loss", 1), (acc_axis, "acc", 100)):
        for split, label in (("train", "train"), ("val", "validation")):
            values = [record.get(f"{split}_{prefix}") for record in history]
            if any(v is not None for v in values):
                scaled = [None if v is None else scale * v for v in values]
                axis.plot(epochs, scaled, marker="o", label=label)
        axis.grid(alpha=0.3)
        if axis.lines:
            axis.legend()
    loss_axis.set(xlabel="epoch", ylabel="loss", title="loss")
    acc_axis.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    if title:
        figure.suptitle(title)
    return figure


def confusion(counts: np.ndarray, classes: list[str] | tuple[str, ...], title: str = "") -> Figure:
    """A confusion matrix as an image, rows = true class, columns = predicted, with counts."""
    counts = np.asarray(counts)
    figure = new_figure(figsize=(6.2, 5.4), layout="constrained")
    axis = figure.subplots()
    fractions = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    image = axis.imshow(fractions, cmap="Blues", vmin=0, vmax=1)
    for (i, j), count in np.ndenumerate(counts):
        if count:
            colour = "white" if fractions[i, j] > 0.6 else "black"
            axis.text(j, i, str(count), ha="center", va="center", fontsize=7, color=colour)
    axis.set_xticks(range(len(classes)), classes, rotation=60, ha="right", fontsize=8)
    axis.set_yticks(range(len(classes)), classes, fontsize=8)
    axis.set(xlabel="predicted class", ylabel="true class", title=title or "confusion matrix")
    figure.colorbar(image, ax=axis, label="fraction of the true class")
    return figure


def image_grid(
    images: np.ndarray, captions: list[str], columns: int = 8, title: str = ""
) -> Figure:
    """Images ``(N, 3, H, W)`` (uint8, or floats in [0, 1]) in a grid, one caption under each."""
    images = np.asarray(images)
    if images.dtype != np.uint8:
        images = np.clip(images, 0, 1)
    rows = max(1, -(-len(images) // columns))
    figure = new_figure(figsize=(1.3 * columns, 1.55 * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False)
    for index, axis in enumerate(axes.ravel()):
        axis.axis("off")
        if index < len(images):
            axis.imshow(images[index].transpose(1, 2, 0), interpolation="nearest")
            axis.set_title(captions[index], fontsize=7)
    if title:
        figure.suptitle(title)
    return figure


def save(figure: Figure, path: str | Path, dpi: int = 110) -> Path:
    """Write ``figure`` to ``path`` as a PNG (atomically)."""
    return atomic_write(path, lambda file: figure.savefig(file, format="png", dpi=dpi))
