"""
Style transfer, feature inversion and texture synthesis
=======================================================

A fixed network sees an image through its feature maps. Style transfer (Gatys et al.)
optimises the *pixels* of an image so that, seen through a trained network's features, it
keeps the *content* of one image (the feature maps at one layer) and takes the *style* of
another (the Gram matrices of the feature maps at several layers). This tutorial runs the
three modes of ``dualnet style`` on EfficientNet-Lite0, a real ImageNet network whose weights
come with dualnet, and checks that the hand-derived NumPy losses drive the same optimisation
as PyTorch's autograd.

The command line does the same with ``dualnet style transfer|invert|texture``; see
:doc:`/applications/style_transfer`.
"""

# %%
# The images
# ----------
# Everything runs offline: the content image is a photograph that scikit-image ships (Chelsea
# the cat), and the styles are drawn procedurally, deterministically, at any size, or are the
# real textures scikit-image ships. Any image file works as well (``--content photo.jpg
# --style painting.png``).

import time

import torch

from dualnet.apps import style
from dualnet.apps.style import data, evaluate, plots, transfer
from dualnet.apps.style.config import network_layers
from dualnet.apps.style.losses import make_targets, objective

SIZE = 128
scene, _ = data.load_content("chelsea", SIZE)
panels = [("content: chelsea", scene)]
panels += [(f"style: {name}", draw(SIZE)) for name, draw in data.STYLES.items()]
panels += [(f"texture: {name}", data.load_style(name, SIZE)[0]) for name in data.TEXTURES]
inputs = plots.overview(panels)

# %%
# The network
# -----------
# The features are EfficientNet-Lite0's ``features``, frozen: 18 stages, indexed as in
# ``torch_impl/models/efficientnet.py``. Its layers are chosen by receptive field to match the
# course's SqueezeNet layers: the content at layer 2 (a quarter of the image size), the style
# at the stem and blocks 3, 4 and 5, every activation taken in one forward pass.

net = style.load_features("efficientnet-lite0", device="cpu")
layers = network_layers("efficientnet-lite0")
z = net.normalise(scene[None])
with torch.no_grad():
    feats = net(z, 5)
for index, activation in enumerate(feats):
    role = "content" if index == layers.content_layer else ""
    role += " style" if index in layers.style_layers else ""
    kind = type(net.layers[index]).__name__
    print(f"layer {index}: {kind:<12} {tuple(activation.shape)} {role}")

# %%
# Why Gram matrices capture style
# -------------------------------
# The Gram matrix :math:`G = F F^\top / (CHW)` sums over positions: it keeps which features
# occur together and forgets where. Cutting the strokes into 16-pixel tiles and shuffling
# them destroys the picture's layout but barely changes its Gram matrices; the content scene
# is far away. Distances are measured in an independent random network
# (:func:`~dualnet.apps.style.evaluate.gram_distance`).

strokes = data.strokes(SIZE)
tiles = strokes.unfold(1, 16, 16).unfold(2, 16, 16)  # (3, 8, 8, 16, 16)
order = torch.randperm(64, generator=torch.Generator().manual_seed(0))
shuffled = tiles.reshape(3, 64, 16, 16)[:, order].reshape(3, 8, 8, 16, 16)
shuffled = shuffled.permute(0, 1, 3, 2, 4).reshape(3, SIZE, SIZE)
independent = evaluate.independent_features()
for name, image in (("strokes, tiles shuffled", shuffled), ("the cat", scene[:, :, :SIZE])):
    print(f"{name:>24}: Gram distance {evaluate.gram_distance(independent, image, strokes):.3f}")
shuffle_figure = plots.overview([("strokes", strokes), ("tiles shuffled", shuffled)])

# %%
# Style transfer
# --------------
# :func:`~dualnet.apps.style.make_config` starts from Lite0's weights for the course's
# Starry Night preset and the course's recipe (Adam, decayed for the last tenth, clamping to
# valid pixels in normalised space); here 100 steps at 128 pixels keep the page fast (the
# application's default is 200 steps at 192).

results = {}
for mode, chosen in (("transfer", "strokes"), ("invert", "strokes"), ("texture", "stripes")):
    config = style.make_config(
        mode, image_size=SIZE, style_size=SIZE, style=chosen, steps=100, device="cpu",
        progress=False,
    )  # fmt: skip
    started = time.perf_counter()
    results[mode] = transfer.run_style(config, net)
    problem, result = results[mode]
    print(f"{mode}: {time.perf_counter() - started:.1f} s, losses {result.final}")

problem, result = results["transfer"]
reduction = 1 - result.final["style"] / result.initial["style"]
print(f"style loss reduced by {reduction:.1%}")
transfer_strip = plots.strip(result.snapshots, title="transfer: chelsea + strokes")
transfer_curves = plots.loss_curves(result.history, title="transfer")

# %%
# Feature inversion and texture synthesis
# ---------------------------------------
# With the style weights at zero and a random start, the optimisation reconstructs an image
# from the content layer's features alone (Mahendran and Vedaldi): what layer 2 keeps of the
# photograph. With the content weight at zero, it synthesises a texture from the style's Gram
# matrices: the stripes' orientation and frequencies should survive, their positions not.

problem, result = results["invert"]
content = problem.net.pixels(problem.content)[0]
rgb = evaluate.psnr(result.image, content)
luma = evaluate.psnr(evaluate.luma(result.image), evaluate.luma(content))
print(f"inversion: PSNR {rgb:.1f} dB against the content, {luma:.1f} dB in brightness alone")
inversion_strip = plots.strip(result.snapshots, title="invert: from noise to layer 2's view")

problem, result = results["texture"]
stripes_angle = evaluate.dominant_orientation(problem.net.pixels(problem.style)[0])
texture_angle = evaluate.dominant_orientation(result.image)
print(f"texture: spectrum oriented at {texture_angle:.0f} deg, the style's at {stripes_angle:.0f}")
style_image = problem.net.pixels(problem.style)[0]
print(
    f"log power spectra correlate at {evaluate.spectrum_correlation(result.image, style_image):.2f}"
)
texture_strip = plots.strip(result.snapshots, title="texture: stripes from noise")

# %%
# The hand-derived losses drive the same optimisation
# ---------------------------------------------------
# With ``--loss-backend numpy`` the three losses and their gradients with respect to every
# feature map and the image come from ``reference_numpy.style_transfer``, handed into
# PyTorch's backward pass through the network by a ``torch.autograd.Function``. In float64
# the image gradient is PyTorch's to the last digits:

net64 = net.to(torch.float64)
config = style.make_config(image_size=64, style_size=64, device="cpu")
small = transfer.prepare(config, net64)
targets = make_targets(net64, small.content, small.style, config)
start = small.content + 0.2 * torch.randn(small.content.shape, dtype=torch.float64)
gradients = {}
for backend in ("torch", "numpy"):
    z = start.clone().requires_grad_(True)
    content_loss, style_loss, tv_loss = objective(net64(z, targets.last), z, targets, backend)
    (content_loss + style_loss + tv_loss).backward()
    gradients[backend] = z.grad
error = (gradients["numpy"] - gradients["torch"]).abs().max() / gradients["torch"].abs().max()
print(f"largest difference of the image gradients, relative to the largest entry: {error:.1e}")
