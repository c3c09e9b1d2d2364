"""The figures of a style-transfer run, as :class:`matplotlib.figure.Figure` objects (no
pyplot): the inputs beside the result, the strip of intermediate images, the loss curves."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from dualnet.apps import figures

if TYPE_CHECKING:
    from matplotlib.figure import Figure

save = figures.save


def show(axis, image: torch.Tensor, title: str) -> None:
    axis.imshow(image.permute(1, 2, 0).clamp(0, 1).numpy())
    axis.set_title(title, fontsize=9)
    axis.axis("off")


def overview(panels: list[tuple[str, torch.Tensor]], title: str = "") -> Figure:
    """Images ``(3, H, W)`` side by side (of any sizes), each with its caption."""
    figure = figures.new_figure(figsize=(3.0 * len(panels), 3.3), layout="constrained")
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    for axis, (caption, image) in zip(axes, panels, strict=True):
        show(axis, image, caption)
    if title:
        figure.suptitle(title)
    return figure


def strip(snapshots: list[tuple[int, torch.Tensor]], title: str = "") -> Figure:
    """The intermediate images in one row, captioned with their step."""
    images = torch.stack([image for _, image in snapshots]).numpy()
    captions = [f"step {step}" for step, _ in snapshots]
    return figures.image_grid(images, captions, columns=len(snapshots), title=title)


def loss_curves(history: list[dict], title: str = "") -> Figure:
    """The content, style, TV and total loss at every step, on logarithmic axes (a loss that
    is 0 throughout, like the style loss of feature inversion, is left out)."""
    figure = figures.new_figure(figsize=(10, 3.0), layout="constrained")
    axes = figure.subplots(1, 4)
    steps = [record["step"] for record in history]
    for axis, name in zip(axes, ("content", "style", "tv", "total"), strict=True):
        values = [record[name] for record in history]
        if any(v > 0 for v in values):
            axis.plot(steps, values)
            axis.set_yscale("log")
        axis.set(title=f"{name} loss", xlabel="step")
        axis.grid(alpha=0.3)
    if title:
        figure.suptitle(title)
    return figure
