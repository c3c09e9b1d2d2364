r"""``dualnet visualize attack``: accuracy under FGSM and PGD attacks of growing strength.

For every budget :math:`\epsilon` (pixel units, :math:`L_\infty`), the accuracy on the clean
images, after one FGSM step of size :math:`\epsilon`, and after PGD (``steps`` steps of
:math:`2.5\,\epsilon / \text{steps}` from a random start, projected on the ball). The summary
reports the budget ``eps`` (8/255 by default); the figure, accuracy against :math:`\epsilon`.
PGD is the stronger attack: its accuracy is at most FGSM's.
"""

from __future__ import annotations

import torch
from matplotlib.figure import Figure

from dualnet.experiments.visualize.methods import methods_for

EPSILONS = (0.0, 1 / 255, 2 / 255, 4 / 255, 8 / 255, 16 / 255)
PGD_STEPS = 10


def accuracy(methods, X, labels) -> float:
    return float((methods.scores(X).argmax(dim=1) == labels).float().mean())


def attack_accuracies(methods, X, labels, eps: float, clean: float, generator) -> dict:
    """Clean (given), FGSM and PGD accuracy at budget ``eps``."""
    if eps == 0:
        return {"clean_accuracy": clean, "fgsm_accuracy": clean, "pgd_accuracy": clean}
    start = 2 * torch.rand(X.shape, generator=generator) - 1
    step = 2.5 * eps / PGD_STEPS
    return {
        "clean_accuracy": clean,
        "fgsm_accuracy": accuracy(methods, methods.fgsm(X, labels, eps), labels),
        "pgd_accuracy": accuracy(
            methods, methods.pgd(X, labels, eps, step, PGD_STEPS, start), labels
        ),
    }


def run_attack(network, inputs, eps: float, generator):
    if inputs.labels is None:
        raise ValueError(
            "attack needs images whose true classes the network knows: use the embedded test "
            "images (no --images) with an embedded network, or imagenet_val_25.npz with squeezenet"
        )
    methods = methods_for(network)
    X, labels = inputs.images, inputs.labels
    clean = accuracy(methods, X, labels)
    curve = {
        e: attack_accuracies(methods, X, labels, e, clean, generator)
        for e in sorted({*EPSILONS, eps})
    }
    summary = {"eps": eps, **curve[eps], "pgd_steps": PGD_STEPS, "n_images": len(inputs.images)}
    return summary, attack_figure(curve, eps)


def attack_figure(curve: dict, eps: float) -> Figure:
    figure = Figure(figsize=(5.2, 3.6), layout="constrained")
    axis = figure.subplots()
    budgets = [255 * e for e in curve]
    for key, label in (
        ("clean_accuracy", "clean"),
        ("fgsm_accuracy", "FGSM"),
        ("pgd_accuracy", "PGD"),
    ):
        axis.plot(budgets, [100 * r[key] for r in curve.values()], marker="o", label=label)
    axis.axvline(255 * eps, color="gray", linestyle=":", label=f"eps = {255 * eps:g}/255")
    axis.set(xlabel="budget eps (x 1/255, L-infinity)", ylabel="accuracy (%)", ylim=(0, 101))
    axis.grid(alpha=0.3)
    axis.legend()
    return figure
