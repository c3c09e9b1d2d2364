"""``dualnet visualize classes``: an image the network believes in, for each class.

Gradient ascent on the class score from gray plus noise, with the regularisers of Yosinski et
al. (2015) as the classic exercise uses them: an L2 penalty, random jitter of up to
``max_jitter`` pixels (16 at 224 pixels, scaled to the image), a Gaussian blur every
``blur_every`` iterations, and clamping to valid pixels. The summary gives the softmax
confidence of each target class in its own image.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from dualnet.apps import figures
from dualnet.apps.visualize.methods import call, scores

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DEFAULTS = {"l2_reg": 1e-3, "learning_rate": 5.0, "blur_every": 10, "blur_sigma": 0.5}
ITERATIONS = 100
IMAGENET_CLASSES = (76, 78, 187, 683, 366, 604, 1, 130, 945, 980)
"""The ImageNet classes drawn by default: the six the course suggests (tarantula, tick,
Yorkshire terrier, oboe, gorilla, hourglass), then goldfish, flamingo, bell pepper and
volcano."""


def default_classes(network, count: int) -> list[int]:
    """The first ``count`` classes to draw: :data:`IMAGENET_CLASSES` for an ImageNet network,
    the first classes otherwise."""
    if network.data == "imagenet":
        return list(IMAGENET_CLASSES[:count])
    return list(range(min(count, len(network.classes))))


def schedule(count: int, size: int, iterations: int, generator):
    """The start images (gray plus noise) and the jitter of every iteration."""
    start = 0.5 + 0.1 * torch.randn((count, 3, size, size), generator=generator)
    max_jitter = max(1, round(16 * size / 224))
    offsets = torch.randint(-max_jitter, max_jitter + 1, (iterations, 2), generator=generator)
    return start.clamp(0, 1), [tuple(pair) for pair in offsets.tolist()]


def run_classes(network, targets: list[int], iterations: int, learning_rate: float, generator):
    start, jitters = schedule(len(targets), network.image_size, iterations, generator)
    target = torch.tensor(targets)
    options = {**DEFAULTS, "learning_rate": learning_rate}
    images = call(network, "class_visualization", target, start, jitters, **options).float()
    probabilities = scores(network, images).softmax(dim=1)
    confidence = probabilities.gather(1, target.view(-1, 1)).squeeze(1)
    summary = {
        "classes": [network.classes[k] for k in targets],
        "target_confidence": [round(float(c), 4) for c in confidence],
        "confident_classes": int((confidence >= 0.9).sum()),
        "steps": iterations,
        "lr": learning_rate,
        "n_images": len(targets),
    }
    return summary, classes_figure(images, summary)


def classes_figure(images, summary) -> Figure:
    columns = min(5, len(images))
    rows = -(-len(images) // columns)
    figure = figures.new_figure(figsize=(2.0 * columns, 2.3 * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False)
    for index, axis in enumerate(axes.ravel()):
        axis.axis("off")
        if index < len(images):
            axis.imshow(images[index].permute(1, 2, 0).numpy())
            name, confidence = summary["classes"][index], summary["target_confidence"][index]
            axis.set_title(f"{name}\n(p = {confidence:.2f})", fontsize=8)
    return figure
