"""
Looking into a network
======================

Saliency maps, fooling images, adversarial attacks and class visualization on a real ImageNet
network, EfficientNet-Lite0, whose weights come with dualnet (no download), looking at
photographs that come with scikit-image, scikit-learn and matplotlib. Every method is the
gradient of a class score with respect to the **pixels**: the backward pass of training,
carried one step further.
"""

# %%
# The network and the photographs
# -------------------------------
# ``load_network`` returns the network wrapped so that it takes pixels in [0, 1];
# ``load_inputs`` gives the bundled photographs with their ImageNet labels and the boxes
# around their objects, annotated by hand.

import time

import torch

from dualnet.apps.networks import load_network
from dualnet.apps.visualize import attacks, class_visualization, fooling, saliency
from dualnet.apps.visualize.data import load_inputs

started = time.perf_counter()
network = load_network("efficientnet-lite0", device="cpu")
photos = load_inputs(None, network, count=7)
generator = torch.Generator().manual_seed(0)
with torch.no_grad():
    top = network.model(photos.images).softmax(dim=1).max(dim=1)
for name, k, p in zip(photos.names, top.indices.tolist(), top.values.tolist(), strict=True):
    print(f"{name:>13}: {network.classes[k]} ({p:.2f})")

# %%
# Saliency
# --------
# Each column: a photograph, then three explanations of its class score; the cyan outline is
# the object's box, the cross each map's largest value. The summary counts how often that
# largest value lies in the box, against the box's share of the image (the score of a map
# that points at random), and how much the maps change when the network's weights are
# replaced by random ones (they should change: a low rank correlation).

summary, saliency_figure = saliency.run_saliency(network, load_inputs(None, network, 4), generator)
print({k: round(v, 3) for k, v in summary.items()})

# %%
# Fooling images
# --------------
# Normalised-gradient ascent on a wrong class's log-probability until that class wins. A
# few steps suffice, and the change is about one grey level per pixel: magnified ten times,
# it is structure spread over the whole image.

summary, fooling_figure = fooling.run_fooling(network, photos, None, 1.0, 100, generator)
print({k: v if not isinstance(v, float) else round(v, 4) for k, v in summary.items()})

# %%
# Attacks
# -------
# Accuracy under FGSM (one signed-gradient step) and PGD (ten projected steps) for growing
# budgets in pixel units; PGD is the stronger attack, and half a grey level already fools
# the network. The red curve is PGD aimed at a chosen wrong class.

summary, attack_figure = attacks.run_attack(network, load_inputs(None, network, 3), 2 / 255,
                                            generator)  # fmt: skip
print({k: round(v, 3) if isinstance(v, float) else v for k, v in summary.items()})

# %%
# Class visualization
# -------------------
# Gradient ascent from gray noise, with an L2 penalty, jitter, blur and clamping, for five of
# the course's classes.

targets = class_visualization.default_classes(network, 5)
summary, classes_figure = class_visualization.run_classes(network, targets, 100, 5.0, generator)
print(dict(zip(summary["classes"], summary["target_confidence"], strict=True)))
print(f"this page ran in {time.perf_counter() - started:.0f} s")
