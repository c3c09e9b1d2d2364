r"""``dualnet visualize attack``: accuracy under FGSM and PGD attacks of growing strength.

For every budget :math:`\epsilon` (pixel units, :math:`L_\infty`), the accuracy on the clean
images, after one FGSM step of size :math:`\epsilon`, and after PGD (``steps`` steps of
:math:`2.5\,\epsilon / \text{steps}` from a random start, projected on the ball). PGD is the
stronger attack: its accuracy is at most FGSM's.

Also ``targeted_pgd_success``: the share of images that targeted PGD (the same steps,
descending the target's loss) moves to a random wrong class, drawn as ``fool`` draws them.
PGD spends the whole budget on every pixel, so its success says how large a change the network
needs before it names a chosen class: the figure to hold a fooling image's largest change
against.

The summary reports the budget ``eps`` (2/255 by default: an ImageNet network at 224 pixels
falls at budgets far below a grey level's few steps); the figure, accuracy and targeted
success against :math:`\epsilon`. An image counts as correctly classified when the network
names its label or a class its photograph accepts (a tabby cat is also ImageNet's 'tiger
cat').
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from dualnet.apps import figures
from dualnet.apps.visualize.fooling import random_wrong_targets
from dualnet.apps.visualize.methods import call, scores

if TYPE_CHECKING:
    from matplotlib.figure import Figure

EPSILONS = (0.0, 0.5 / 255, 1 / 255, 2 / 255, 4 / 255, 8 / 255)
PGD_STEPS = 10


def accuracy(network, X, inputs) -> float:
    """The share of ``X`` (the images of ``inputs``, perhaps attacked) classified right."""
    return float(inputs.correct(scores(network, X).argmax(dim=1)).float().mean())


def success(network, X, targets) -> float:
    """The share of ``X`` classified as its target."""
    return float((scores(network, X).argmax(dim=1) == targets).float().mean())


def attack_accuracies(network, inputs, right, targets, eps: float, clean: float, generator):
    """Clean (given), FGSM and PGD accuracy at budget ``eps``, and targeted PGD's success (the
    share of images classified as their ``targets``). The untargeted attacks move away from
    ``right``, the labels or the mask of the classes that count as right."""
    X = inputs.images
    if eps == 0:
        return {
            "accuracy": clean,
            "fgsm_accuracy": clean,
            "pgd_accuracy": clean,
            "targeted_pgd_success": success(network, X, targets),
        }
    start = 2 * torch.rand(X.shape, generator=generator) - 1
    step = 2.5 * eps / PGD_STEPS
    towards = call(network, "pgd", X, targets, eps, step, PGD_STEPS, True, start).float()
    away = call(network, "pgd", X, right, eps, step, PGD_STEPS, False, start).float()
    fooled = call(network, "fgsm", X, right, eps).float()
    return {
        "accuracy": clean,
        "fgsm_accuracy": accuracy(network, fooled, inputs),
        "pgd_accuracy": accuracy(network, away, inputs),
        "targeted_pgd_success": success(network, towards, targets),
    }


def run_attack(network, inputs, eps: float, generator):
    if inputs.labels is None:
        raise ValueError(
            "attack needs images whose true classes the network knows: leave --images out (the "
            "photographs for an ImageNet network, the embedded test images for an embedded "
            "one), or give imagenet_val_25.npz to an ImageNet network"
        )
    clean = accuracy(network, inputs.images, inputs)
    targets = random_wrong_targets(inputs.labels, len(network.classes), generator)
    right = inputs.right_classes(len(network.classes))
    curve = {
        e: attack_accuracies(network, inputs, right, targets, e, clean, generator)
        for e in sorted({*EPSILONS, eps})
    }
    summary = {"eps": eps, **curve[eps], "pgd_steps": PGD_STEPS, "n_images": len(inputs.images)}
    return summary, attack_figure(curve, eps)


def attack_figure(curve: dict, eps: float) -> Figure:
    figure = figures.new_figure(figsize=(5.6, 4.2), layout="constrained")
    axis = figure.subplots()
    budgets = [255 * e for e in curve]
    for key, label in (
        ("accuracy", "clean"),
        ("fgsm_accuracy", "FGSM"),
        ("pgd_accuracy", "PGD"),
        ("targeted_pgd_success", "PGD to a chosen class: success"),
    ):
        axis.plot(budgets, [100 * r[key] for r in curve.values()], marker="o", label=label)
    axis.axvline(255 * eps, color="gray", linestyle=":", label=f"eps = {255 * eps:g}/255")
    axis.set(
        xlabel="budget eps (x 1/255, L-infinity)", ylabel="accuracy, success (%)", ylim=(0, 101)
    )
    axis.grid(alpha=0.3)
    figure.legend(loc="outside lower center", ncols=3, fontsize=8)
    return figure
