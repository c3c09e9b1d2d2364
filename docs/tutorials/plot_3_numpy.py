"""
Training with the NumPy reference
=================================

The three-layer ConvNet of the classic assignment (conv 7x7 - ReLU - 2x2 max pool - affine -
ReLU - affine - softmax), built entirely from ``reference_numpy`` layers with hand-derived
backward passes, trained by the classic ``Solver`` with Adam. The fast convolution unfolds a
block of images at a time and computes one matrix product per image, which is what makes this
pleasant on a CPU.
"""

# %%
# Training
# --------

import tempfile
import time

import numpy as np
import torch

from dualnet.apps import classify, figures
from dualnet.data import load_images

splits = load_images("embedded")
config = classify.make_config(
    "convpool3",
    backend="numpy",
    epochs=3,
    train_subset=3000,
    device="cpu",
    out_dir=tempfile.mkdtemp(),
    progress=False,
)
started = time.perf_counter()
result = classify.train_numpy(config, splits=splits)
print(f"test accuracy {result.accuracy:.3f} after {time.perf_counter() - started:.0f} s")
curves = figures.learning_curves(result.history, title="NumPy ThreeLayerConvNet")

# %%
# The same network in PyTorch
# ---------------------------
# ``torch_impl.models.ThreeLayerConvNet`` holds the same parameters under the same names.
# Loading the trained NumPy weights into it gives the same scores, up to float32 rounding.

import torch_impl.models as T

params = dict(np.load(f"{config.out_dir}/params.npz"))
numpy_model = classify.build_numpy_model(config, len(splits.classes))
numpy_model.set_params(params)
torch_model = T.ThreeLayerConvNet.from_numpy(numpy_model)

from dualnet.data import normalize

x = normalize(splits.test[0][:100], splits.mean, splits.std)
numpy_scores = numpy_model.loss(x.numpy())
with torch.no_grad():
    torch_scores = torch_model.loss(x).numpy()
difference = np.abs(numpy_scores - torch_scores).max()
print(f"largest difference between the two backends' scores: {difference:.2e}")
