"""
Looking into a network
======================

Saliency maps, a fooling image, adversarial attacks and class visualization on the offline
stand-in: a SqueezeNet 1.1 trained by the classification application on the embedded shapes
at 64x64 (built once on first use and cached). Every method is the gradient of a class score
with respect to the **pixels**: the backward pass of training, carried one step further.
"""

# %%
# The network and the images
# --------------------------
# ``load_network`` returns the network wrapped so that it takes pixels in [0, 1];
# ``load_inputs`` gives embedded test images with the masks of their objects.

import time

import torch

from dualnet.experiments.networks import load_network
from dualnet.experiments.visualize import attacks, class_visualization, fooling, saliency
from dualnet.experiments.visualize.images import load_inputs

started = time.perf_counter()
network = load_network("embedded", device="cpu", progress=False)
inputs = load_inputs(None, network, count=40)
generator = torch.Generator().manual_seed(0)
print(f"{network.name}: {len(network.classes)} classes, {network.image_size}x{network.image_size}")

# %%
# Saliency
# --------
# Each column: an image, then three explanations of its class score. The summary scores each
# map: how often its largest value lies on the object, against the share of the image the
# objects cover (the score of a map that points at random), and how much the maps change when
# the network's weights are replaced by random ones (they should).

summary, saliency_figure = saliency.run_saliency(network, inputs, generator)
print({k: round(v, 3) for k, v in summary.items()})

# %%
# Fooling images
# --------------
# Normalised-gradient ascent on a wrong class's log-probability until that class wins. The
# difference, magnified ten times, is structure shaped like the target class.

few = load_inputs(None, network, count=12)
summary, fooling_figure = fooling.run_fooling(network, few, None, 1.0, 100, generator)
print({k: v if not isinstance(v, float) else round(v, 4) for k, v in summary.items()})

# %%
# Attacks
# -------
# Accuracy under FGSM (one signed-gradient step) and PGD (ten projected steps) for growing
# budgets in pixel units; PGD is the stronger attack. The red curve is PGD aimed at a chosen
# wrong class: how large a change the network needs before it names that class.

summary, attack_figure = attacks.run_attack(network, inputs, 8 / 255, generator)
print({k: round(v, 3) if isinstance(v, float) else v for k, v in summary.items()})

# %%
# Class visualization
# -------------------
# Gradient ascent from gray noise, with an L2 penalty, jitter, blur and clamping.

summary, classes_figure = class_visualization.run_classes(
    network, list(range(len(network.classes))), 100, 5.0, generator
)
print(dict(zip(summary["classes"], summary["target_confidence"], strict=True)))
print(f"this page ran in {time.perf_counter() - started:.0f} s")
