"""``dualnet visualize saliency``: explain each decision, and score the explanations.

For every image the class to explain is its true class when known, else the predicted one.
Three maps are computed (saliency, SmoothGrad, integrated gradients) and each is scored; the
keys without a prefix score the plain saliency map, ``smoothgrad_`` and ``ig_`` the others:

* ``pointing_accuracy``: the share of images whose map is largest on a pixel of the object
  (a photograph's hand-annotated box; on an embedded image, the pixels the shape covers at
  least half);
  ``pointing_chance`` is the mean mask area, the score of a map that points at random;
* ``pointing_game_accuracy``: the same with the tolerance of the published pointing game
  (Zhang et al. 2016: a hit within 15 pixels of the object in a 224-pixel image, here
  :data:`POINTING_GAME_TOLERANCE` of the image side). A gradient is largest on edges, and the
  pixel just outside an object's outline counts as a miss without it;
  ``pointing_game_chance`` is the mean area of the masks so widened;
* ``randomization_rank_correlation``: the mean Spearman correlation between the maps of the
  trained network and of the same architecture re-initialised. An explanation that still
  looks the same after the weights are destroyed explains the image, not the network
  (Adebayo et al. 2018): it should be low;
* ``ig_completeness_error``: the largest gap between the integrated-gradient attributions'
  sum and :math:`s_y(x) - s_y(0)`, relative to the largest such score difference.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from dualnet.apps import figures
from dualnet.apps.networks import random_copy
from dualnet.apps.visualize.methods import call, scores

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FIGURE_IMAGES = 8
SMOOTHGRAD_SAMPLES = 12
SMOOTHGRAD_NOISE = 0.1
IG_STEPS = 64
"""Midpoint-rule points of integrated gradients: with 32, the attributions of Lite0 on the
photographs add up to their score difference only within 74 % (64: 15 %, 128: 13 %)."""
POINTING_GAME_TOLERANCE = 15 / 224
"""The pointing game's tolerance as a share of the image side (15 pixels at 224)."""


def explained_classes(network, inputs) -> torch.Tensor:
    if inputs.labels is not None:
        return inputs.labels
    return scores(network, inputs.images).argmax(dim=1)


def pointing(maps: torch.Tensor, masks: torch.Tensor) -> tuple[float, float]:
    """The share of maps whose largest value lies on the mask, and the mean mask area."""
    flat = maps.flatten(1).argmax(dim=1)
    hits = masks.flatten(1).gather(1, flat.view(-1, 1)).squeeze(1)
    return float(hits.float().mean()), float(masks.float().mean())


def widened(masks: torch.Tensor, radius: float) -> torch.Tensor:
    """The masks ``(N, H, W)`` grown by every pixel within ``radius`` pixels (Euclidean) of
    them."""
    reach = int(radius)
    offsets = torch.arange(-reach, reach + 1, dtype=torch.float64)
    disk = (offsets.view(-1, 1) ** 2 + offsets.view(1, -1) ** 2 <= radius**2).double()
    grown = torch.nn.functional.conv2d(masks[:, None].double(), disk[None, None], padding=reach)
    return grown[:, 0] > 0


def pointing_game(maps: torch.Tensor, masks: torch.Tensor) -> tuple[float, float]:
    """:func:`pointing` with the pointing game's tolerance: the masks widened by
    :data:`POINTING_GAME_TOLERANCE` of the image side."""
    return pointing(maps, widened(masks, POINTING_GAME_TOLERANCE * masks.shape[-1]))


def spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    """The Spearman rank correlation of two maps (Pearson correlation of their ranks)."""
    ranks = [torch.argsort(torch.argsort(m.flatten())).double() for m in (a, b)]
    x, y = (r - r.mean() for r in ranks)
    return float((x * y).sum() / (x.norm() * y.norm()).clamp_min(1e-12))


def explanation_maps(network, X, y, draws) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """The three maps ``(N, H, W)`` of each image: saliency, SmoothGrad, and the integrated
    gradients' largest absolute attribution over the channels; and those attributions
    ``(N, C, H, W)``."""
    attributions = call(network, "integrated_gradients", X, y, steps=IG_STEPS)
    maps = {
        "saliency": call(network, "saliency_map", X, y),
        "smoothgrad": call(network, "smoothgrad", X, y, draws, noise=SMOOTHGRAD_NOISE),
        "ig": attributions.abs().amax(1),
    }
    return maps, attributions


def run_saliency(network, inputs, generator: torch.Generator) -> tuple[dict, Figure]:
    X, y = inputs.images, explained_classes(network, inputs)
    draws = torch.randn((SMOOTHGRAD_SAMPLES, *X.shape), generator=generator)
    maps, attributions = explanation_maps(network, X, y, draws)
    random_maps, _ = explanation_maps(random_copy(network), X, y, draws)
    summary = {"n_images": len(X)}
    for method, prefix in (("saliency", ""), ("smoothgrad", "smoothgrad_"), ("ig", "ig_")):
        if inputs.masks is not None:
            hits, chance = pointing(maps[method], inputs.masks)
            summary[f"{prefix}pointing_accuracy"] = hits
            summary["pointing_chance"] = chance
            hits, chance = pointing_game(maps[method], inputs.masks)
            summary[f"{prefix}pointing_game_accuracy"] = hits
            summary["pointing_game_chance"] = chance
        pairs = zip(maps[method], random_maps[method], strict=True)
        summary[f"{prefix}randomization_rank_correlation"] = float(
            np.mean([spearman(a, b) for a, b in pairs])
        )
    summary["ig_completeness_error"] = completeness_error(network, X, y, attributions)
    shown = slice(0, FIGURE_IMAGES)
    names = [network.classes[k] for k in y[shown].tolist()]
    masks = None if inputs.masks is None else inputs.masks[shown]
    figure = saliency_figure(X[shown], [m[shown] for m in maps.values()], names, masks)
    return summary, figure


def completeness_error(network, X, y, attributions) -> float:
    score = scores(network, X).gather(1, y.view(-1, 1)).squeeze(1)
    baseline = scores(network, torch.zeros_like(X)).gather(1, y.view(-1, 1)).squeeze(1)
    gap = (attributions.flatten(1).sum(dim=1).float() - (score - baseline)).abs()
    return float(gap.max() / (score - baseline).abs().max().clamp_min(1e-12))


def saliency_figure(images, rows: list[torch.Tensor], names: list[str], masks=None) -> Figure:
    """Images over their saliency, SmoothGrad and integrated-gradient maps; where the objects
    are known, their outlines are drawn on every panel and a cross marks each map's maximum
    (the point the pointing score checks)."""
    titles = ("image", "saliency", "SmoothGrad", "integrated gradients")
    columns = len(images)
    figure = figures.new_figure(figsize=(1.6 * columns, 6.8), layout="constrained")
    axes = figure.subplots(4, columns, squeeze=False)
    for j in range(columns):
        axes[0, j].imshow(images[j].permute(1, 2, 0).numpy())
        axes[0, j].set_title(names[j], fontsize=8)
        for i, row in enumerate(rows, start=1):
            axes[i, j].imshow(row[j].numpy(), cmap="hot")
            peak = divmod(int(row[j].argmax()), row[j].shape[-1])
            axes[i, j].plot(peak[1], peak[0], marker="+", color="cyan", markersize=8)
        if masks is not None:
            for i in range(4):
                axes[i, j].contour(masks[j].float().numpy(), levels=[0.5], colors="cyan",
                                   linewidths=0.8)  # fmt: skip
    for (i, j), axis in np.ndenumerate(axes):
        axis.set_xticks([])
        axis.set_yticks([])
        if j == 0:
            axis.set_ylabel(titles[i], fontsize=8)
    return figure
