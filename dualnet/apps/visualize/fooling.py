"""``dualnet visualize fool``: change each decision to a chosen wrong class, imperceptibly.

The course algorithm (normalised-gradient ascent until the target wins, at most 100
iterations) on each image, towards a random wrong class or the class given with ``--target``.
It climbs the target's log-probability by default rather than the course's raw score: in
SqueezeNet the scores leave a ReLU, and a class whose score map is below zero everywhere has
a score gradient of zero, so the course's ascent never starts for it. The log-probability's
gradient also pushes the winning class down. ``--objective score`` gives the course's.

The summary: ``success_rate``, ``mean_steps`` (of the fooled images; absent when none was fooled),
``mean_abs_change`` (the mean absolute change of a pixel value, over all images) and
``mean_linf`` (the mean of each image's largest change), in pixel units: 1 is black to
white, 1/255 one grey level of an 8-bit image.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from dualnet.apps import figures
from dualnet.apps.visualize.methods import call, scores

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FIGURE_IMAGES = 6


def random_wrong_targets(labels: torch.Tensor, num_classes: int, generator) -> torch.Tensor:
    """For each label, a class drawn uniformly among the other ``num_classes - 1``."""
    offsets = torch.randint(1, num_classes, labels.shape, generator=generator)
    return (labels + offsets) % num_classes


def run_fooling(
    network, inputs, target, learning_rate, max_iter, generator, objective="log_probability"
):
    X = inputs.images
    labels = inputs.labels if inputs.labels is not None else scores(network, X).argmax(dim=1)
    if target is None:
        targets = random_wrong_targets(labels, len(network.classes), generator)
    else:
        same = (labels == target).nonzero().flatten().tolist()
        if same:
            raise ValueError(
                f"--target {network.classes[target]} is the class of image {same[0]} "
                f"({inputs.names[same[0]]}): choose another class, or leave --target out"
            )
        targets = torch.full_like(labels, target)
    fooled, iterations = call(
        network,
        "make_fooling_image",
        X,
        targets,
        learning_rate=learning_rate,
        max_iter=max_iter,
        objective=objective,
    )
    fooled = fooled.float()
    success = iterations <= max_iter
    change = (fooled - X).flatten(1).abs()
    linf = change.amax(dim=1)
    summary = {"success_rate": float(success.float().mean())}
    if success.any():  # the steps a fooled image took; none was fooled: no such number
        summary["mean_steps"] = float(iterations[success].float().mean())
    summary.update(
        mean_abs_change=float(change.mean()),
        mean_linf=float(linf.mean()),
        max_linf=float(linf.max()),
        lr=learning_rate,
        objective=objective,
        n_images=len(X),
    )
    after = scores(network, fooled).argmax(dim=1)
    names = network.classes
    captions = [(names[a], names[b]) for a, b in zip(labels.tolist(), after.tolist(), strict=True)]
    return summary, fooling_figure(X, fooled, captions)


def magnification(change: torch.Tensor) -> int:
    """How many times to magnify a difference so that its largest value shows as about half
    the grey range: 10 as in the course, more for smaller changes."""
    largest = float(change.abs().max())
    return max(10, int(0.5 / largest)) if largest > 0 else 10


def fooling_figure(original, fooled, captions) -> Figure:
    """Original, fooled, and their difference magnified (x10 or more, the same for every
    row), with the predictions."""
    count = min(FIGURE_IMAGES, len(original))
    times = magnification(fooled[:count] - original[:count])
    figure = figures.new_figure(figsize=(6.4, 2.1 * count), layout="constrained")
    axes = figure.subplots(count, 3, squeeze=False)
    for i in range(count):
        difference = (times * (fooled[i] - original[i]) + 0.5).clamp(0, 1)
        panels = (original[i], fooled[i], difference)
        titles = (f"original: {captions[i][0]}", f"fooled: {captions[i][1]}",
                  f"difference x{times}")  # fmt: skip
        for axis, panel, title in zip(axes[i], panels, titles, strict=True):
            axis.imshow(panel.permute(1, 2, 0).numpy())
            axis.set_title(title, fontsize=8)
            axis.axis("off")
    return figure
