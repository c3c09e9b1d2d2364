"""
PyTorch at three levels of abstraction
======================================

The same two-layer network, written three ways and trained in the same loop:

* **barebones**: the weights are plain tensors, the network is a function, and the update
  rule is written out by hand; autograd only computes the gradients;
* **nn.Module**: the layers are registered in a class and ``torch.optim`` updates them;
* **nn.Sequential**: the layers are stacked and data flows through them in order.

With the same weights the three compute the same scores (``tests/torch_impl/test_levels.py``
checks it), so what differs is only how much PyTorch does for you.
"""

# %%
# The data
# --------
# The embedded dataset needs no download: ten classes of shapes drawn with random colours,
# positions, sizes, backgrounds and noise. It is generated on first use and cached.

import time

import matplotlib.pyplot as plt
import numpy as np

from dualnet.apps import figures
from dualnet.data import load_images

splits = load_images("embedded")
images, labels = splits.train
print(f"{len(labels)} training images of shape {tuple(images.shape[1:])}")
print("classes:", ", ".join(splits.classes))

first_of_each = [int(np.flatnonzero(labels.numpy() == k)[0]) for k in range(len(splits.classes))]
examples = figures.image_grid(images[first_of_each].numpy(), list(splits.classes), columns=10)

# %%
# The three levels, side by side
# ------------------------------
#
# .. container:: side-by-side
#
#    .. literalinclude:: ../../../torch_impl/levels/barebones.py
#       :caption: barebones: a function of the weights
#       :pyobject: two_layer_fc
#
#    .. literalinclude:: ../../../torch_impl/levels/module.py
#       :caption: nn.Module: layers registered in __init__
#       :pyobject: TwoLayerFC
#
# .. container:: side-by-side
#
#    .. literalinclude:: ../../../torch_impl/levels/barebones.py
#       :caption: barebones: the update, by hand
#       :pyobject: sgd_step
#
#    .. literalinclude:: ../../../torch_impl/levels/sequential.py
#       :caption: nn.Sequential: a stack of layers
#       :pyobject: two_layer_fc
#
# Training
# --------
# ``dualnet.apps.classify.train`` runs the same loop for every level; for the
# barebones level the optimizer is the hand-written step, so all three use plain SGD here.

import tempfile

from dualnet.apps import classify

workdir = tempfile.mkdtemp()
results = {}
for level in classify.LEVELS:
    config = classify.make_config(
        "fc2",
        level,
        optimizer="sgd",  # the same plain SGD at every level, for a fair comparison
        lr=0.02,
        epochs=4,
        batch_size=64,
        train_subset=6000,
        device="cpu",
        out_dir=f"{workdir}/{level}",
        progress=False,
        figures=False,
    )
    started = time.perf_counter()
    results[level] = classify.train(config, splits=splits)
    print(
        f"{level:>10}: test accuracy {results[level].accuracy:.3f} "
        f"({time.perf_counter() - started:.0f} s)"
    )

# %%
# The ``nn.Module`` and ``nn.Sequential`` curves coincide: the same layers, initialised by the
# same calls in the same order, see the same data in the same order. The barebones curve is
# close but not identical, because its weights are drawn by different calls (``torch.randn``
# scaled by hand instead of ``nn.init.kaiming_normal_``); the rule is the same.

figure, axis = plt.subplots(figsize=(6, 3.4), layout="constrained")
for level, result in results.items():
    axis.plot(
        [r["epoch"] for r in result.history],
        [100 * r["val_acc"] for r in result.history],
        marker="o",
        label=level,
    )
axis.set(xlabel="epoch", ylabel="validation accuracy (%)", title="fc2 at three levels")
axis.grid(alpha=0.3)
axis.legend()

# %%
# A convolutional network
# -----------------------
# A fully connected network sees every pixel position as a separate feature, so a shape moved
# by a few pixels looks like a new input. The three-layer ConvNet (conv 5x5 - ReLU - conv 3x3 -
# ReLU - fully connected) shares its filters across positions and does much better on the same
# budget.

config = classify.make_config(
    "convnet3",  # with its default recipe: Adam at a constant rate
    epochs=4,
    batch_size=64,
    train_subset=6000,
    device="cpu",
    out_dir=f"{workdir}/convnet3",
    progress=False,
    figures=False,
)
convnet = classify.train(config, splits=splits)
print(f"convnet3: test accuracy {convnet.accuracy:.3f}")
curves = figures.learning_curves(convnet.history, title="convnet3 (nn.Module)")
