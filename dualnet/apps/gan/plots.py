"""Figures of a GAN run, built as :class:`matplotlib.figure.Figure` objects (never pyplot).

* :func:`digit_grid`: generated digits tiled into one picture;
* :func:`progress_strip`: the first digits of the fixed noise, one row per sampled step, so a
  reader sees the same noise vectors turn into digits over training;
* :func:`losses`: the logged losses over the steps (for WGAN-GP also the Wasserstein
  estimate, the gradient penalty and the critic's gradient norm);
* :func:`class_histogram`: how many confidently classified samples fell in each class.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from dualnet.apps.figures import new_figure, save

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["class_histogram", "digit_grid", "losses", "progress_strip", "save", "tile"]


def tile(images: np.ndarray, columns: int, gap: int = 2) -> np.ndarray:
    """``uint8`` images ``(N, H, W)`` as one ``uint8`` picture of ``ceil(N / columns)`` rows,
    with ``gap`` pixels of grey between them."""
    images = np.asarray(images)
    count, height, width = images.shape
    rows = max(1, -(-count // columns))
    canvas = np.full(
        (rows * (height + gap) - gap, columns * (width + gap) - gap), 128, dtype=np.uint8
    )
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        top, left = row * (height + gap), column * (width + gap)
        canvas[top : top + height, left : left + width] = image
    return canvas


def digit_grid(images: np.ndarray, columns: int = 8, title: str = "") -> Figure:
    """Digits ``(N, 28, 28)`` (``uint8``, white ink on black) in a grid of ``columns``."""
    picture = tile(images, columns)
    scale = 0.03  # inches per pixel
    figure = new_figure(figsize=(picture.shape[1] * scale, picture.shape[0] * scale + 0.4))
    axis = figure.add_axes((0, 0, 1, 1 - 0.4 / figure.get_figheight()))
    axis.imshow(picture, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    axis.axis("off")
    if title:
        figure.suptitle(title, fontsize=9, y=0.99)
    return figure


def progress_strip(
    snapshots: list[tuple[int, torch.Tensor | np.ndarray]], count: int = 10, title: str = ""
) -> Figure:
    """One row of ``count`` digits per ``(step, images (N, 28, 28))`` snapshot, top to bottom."""
    if len(snapshots) > 12:  # keep the figure readable: an even selection, always the last
        keep = np.unique(np.linspace(0, len(snapshots) - 1, 12).round().astype(int))
        snapshots = [snapshots[i] for i in keep]
    rows = np.concatenate([np.asarray(images)[:count] for _, images in snapshots])
    picture = tile(rows, count)
    figure = new_figure(
        figsize=(0.45 * count + 1.0, 0.45 * len(snapshots) + 0.5), layout="constrained"
    )
    axis = figure.subplots()
    axis.imshow(picture, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    axis.set_xticks([])
    axis.set_yticks(
        [i * 30 + 14 for i in range(len(snapshots))], [f"step {s}" for s, _ in snapshots]
    )
    axis.tick_params(length=0, labelsize=8)
    for spine in axis.spines.values():
        spine.set_visible(False)
    if title:
        axis.set_title(title, fontsize=9)
    return figure


def losses(history: list[dict], title: str = "") -> Figure:
    """Discriminator and generator losses per logged step; a second panel for WGAN-GP."""
    wgan = any("grad_norm" in record for record in history)
    figure = new_figure(figsize=(9 if wgan else 5, 3.3), layout="constrained")
    axes = figure.subplots(1, 2 if wgan else 1, squeeze=False)[0]
    steps = [record["step"] for record in history]
    for key, label in (("d_loss", "discriminator (critic) loss"), ("g_loss", "generator loss")):
        axes[0].plot(steps, [record[key] for record in history], label=label)
    axes[0].set(xlabel="generator step", ylabel="loss", title="losses")
    if wgan:
        for key, label in (
            ("wasserstein", "Wasserstein estimate E[D(x)] - E[D(G(z))]"),
            ("grad_norm", "critic gradient norm at interpolates"),
            ("gradient_penalty", "gradient penalty"),
        ):
            axes[1].plot(steps, [record[key] for record in history], label=label)
        axes[1].axhline(1.0, color="grey", linewidth=0.8, linestyle=":")
        axes[1].set(xlabel="generator step", title="the WGAN-GP critic")
    for axis in axes:
        axis.grid(alpha=0.3)
        if axis.lines:
            axis.legend(fontsize=7)
    if title:
        figure.suptitle(title)
    return figure


def class_histogram(counts: list[int], total: int, title: str = "") -> Figure:
    """Bars of the confidently classified samples per digit class, out of ``total``."""
    figure = new_figure(figsize=(5, 3), layout="constrained")
    axis = figure.subplots()
    axis.bar(range(len(counts)), counts, color="tab:blue")
    axis.axhline(total / len(counts), color="grey", linestyle=":", label="uniform over classes")
    axis.set_xticks(range(len(counts)))
    axis.set(xlabel="class (digit)", ylabel="confident samples", title=title or "classes")
    axis.legend(fontsize=7)
    return figure
