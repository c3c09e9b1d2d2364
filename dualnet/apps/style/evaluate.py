r"""Measuring what style transfer did, without looking: PSNR, spectral orientation, and Gram
statistics in a network the optimisation never saw.

* :func:`psnr`: :math:`10 \log_{10}(1 / \mathrm{MSE})` between two images of pixels in [0, 1];
  what feature inversion recovers of the content image; :func:`luma` gives the brightness
  alone, so that a network blind to colour can be told from one blind to shapes.
* :func:`dominant_orientation`: the direction in which an image's power spectrum is
  concentrated, in degrees modulo 180; stripes at angle :math:`\theta` put their power along
  :math:`\theta + 90°`. Texture synthesis from a striped style should keep it.
* :func:`spectrum_correlation`: how alike the log power spectra of two images are (the
  frequencies and orientations a texture is made of).
* :func:`gram_distance` in :func:`independent_features`: a small convolutional network with
  random weights, of another architecture than SqueezeNet. If the result's Gram matrices
  there are closer to the style image's than the content image's are, the style moved into
  the image in a sense the optimised network cannot have faked.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from torch_impl.style import gram_matrix

INDEPENDENT_SEED = 2024
"""Seed of the independent network's random weights."""


def psnr(image: torch.Tensor, reference: torch.Tensor) -> float:
    r"""Peak signal-to-noise ratio in dB of ``image`` against ``reference``, both
    ``(C, H, W)`` pixels in [0, 1]: :math:`10 \log_{10} (1 / \mathrm{MSE})`."""
    if image.shape != reference.shape:
        raise ValueError(
            f"psnr: image has shape {tuple(image.shape)}, reference {tuple(reference.shape)}"
        )
    mse = float(torch.mean((image.double() - reference.double()) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(1 / mse)


LUMA_WEIGHTS = (0.299, 0.587, 0.114)
"""ITU-R BT.601's weights of red, green and blue in the brightness (luma)."""


def luma(image: torch.Tensor) -> torch.Tensor:
    r"""The brightness ``(1, H, W)`` of an RGB image ``(3, H, W)``:
    :math:`Y = 0.299 R + 0.587 G + 0.114 B`, in [0, 1] like the pixels."""
    weights = torch.tensor(LUMA_WEIGHTS, dtype=image.dtype, device=image.device)
    return (image * weights.view(3, 1, 1)).sum(dim=0, keepdim=True)


def dominant_orientation(image: torch.Tensor) -> float:
    r"""The dominant orientation of the power spectrum of ``image`` ``(3, H, W)``, in degrees
    in [0, 180), counter-clockwise from the x axis with y upwards.

    The gray image, minus its mean and under a Hann window (so the borders add no power along
    the axes), gives the power :math:`P(k)` at every frequency :math:`k` with angle
    :math:`\phi_k`; the orientation is the power-weighted mean of the doubled angles,
    :math:`\tfrac12 \operatorname{atan2}\big(\sum P \sin 2\phi, \sum P \cos 2\phi\big)`.
    Doubling makes :math:`\phi` and :math:`\phi + 180°` (the same orientation) agree.
    """
    gray = image.double().mean(dim=0).numpy()
    height, width = gray.shape
    window = np.outer(np.hanning(height), np.hanning(width))
    power = np.abs(np.fft.fft2((gray - gray.mean()) * window)) ** 2
    ky = np.fft.fftfreq(height)[:, None] * np.ones((1, width))
    kx = np.fft.fftfreq(width)[None, :] * np.ones((height, 1))
    phi = np.arctan2(-ky, kx)  # rows grow downwards: flip y to measure counter-clockwise
    power[0, 0] = 0.0
    angle = 0.5 * np.arctan2(np.sum(power * np.sin(2 * phi)), np.sum(power * np.cos(2 * phi)))
    return float(np.degrees(angle) % 180.0)


SPECTRUM_PATCH = 64
"""The side of the patches whose power spectra :func:`log_power_spectrum` averages."""
SPECTRUM_FLOOR = 1e-4
"""Power below this share of the largest counts as this share: 40 dB of range, below which a
drawn image's spectrum holds only rounding and the edges' anti-aliasing."""


def log_power_spectrum(image: torch.Tensor, patch: int = SPECTRUM_PATCH) -> np.ndarray:
    r"""Welch's estimate of the log power spectrum ``(patch, patch)`` of ``image``
    ``(3, H, W)``: the power spectra of its gray version's ``patch x patch`` squares (every
    ``patch / 2`` pixels, each minus its mean, under a Hann window) averaged, then
    :math:`\log_{10}`, zero frequency in the middle. Averaging over patches makes the estimate
    steady and the same size for images of any size."""
    gray = image.double().mean(dim=0).numpy()
    window = np.outer(np.hanning(patch), np.hanning(patch))
    step = patch // 2
    total, count = np.zeros((patch, patch)), 0
    for top in range(0, gray.shape[0] - patch + 1, step):
        for left in range(0, gray.shape[1] - patch + 1, step):
            square = gray[top : top + patch, left : left + patch]
            total += np.abs(np.fft.fft2((square - square.mean()) * window)) ** 2
            count += 1
    power = total / count
    return np.fft.fftshift(np.log10(power + SPECTRUM_FLOOR * power.max() + 1e-30))


def spectrum_correlation(image: torch.Tensor, reference: torch.Tensor) -> float:
    """The Pearson correlation of the log power spectra (:func:`log_power_spectrum`) of two
    images ``(3, H, W)`` (patches of :data:`SPECTRUM_PATCH` pixels, or the smallest side when
    that is shorter), zero frequency left out: near 1 when the result has the reference's
    frequencies and orientations (a striped style's peaks, say)."""
    patch = min(SPECTRUM_PATCH, *image.shape[-2:], *reference.shape[-2:])
    a, b = log_power_spectrum(image, patch), log_power_spectrum(reference, patch)
    keep = np.ones(a.shape, dtype=bool)
    keep[a.shape[0] // 2, a.shape[1] // 2] = False
    return float(np.corrcoef(a[keep], b[keep])[0, 1])


def orientation_difference(a: float, b: float) -> float:
    """The angle between two orientations in degrees, in [0, 90]."""
    difference = abs(a - b) % 180.0
    return min(difference, 180.0 - difference)


def independent_features(seed: int = INDEPENDENT_SEED) -> nn.Sequential:
    """Four random 3x3 convolutions with ReLUs (3 -> 32 -> 64 -> 128 -> 128 channels, the last
    three with stride 2), default PyTorch initialisation, seeded; frozen."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layers = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(64, 128, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(128, 128, 3, stride=2, padding=1), nn.ReLU(),
        )  # fmt: skip
    for parameter in layers.parameters():
        parameter.requires_grad_(False)
    return layers.eval()


def grams(layers: nn.Sequential, image: torch.Tensor) -> list[torch.Tensor]:
    """The Gram matrices after every ReLU of ``layers`` for pixels ``(3, H, W)`` centred at 0."""
    found, x = [], (image[None].float() - 0.5) / 0.25
    with torch.no_grad():
        for layer in layers:
            x = layer(x)
            if isinstance(layer, nn.ReLU):
                found.append(gram_matrix(x)[0])
    return found


def gram_distance(layers: nn.Sequential, image: torch.Tensor, style: torch.Tensor) -> float:
    r"""The mean over the ReLUs of ``layers`` of :math:`\lVert G(x) - G(s) \rVert_F^2 /
    \lVert G(s) \rVert_F^2`: how far ``image``'s style statistics are from ``style``'s,
    relative to their size, for images of any size."""
    pairs = zip(grams(layers, image), grams(layers, style), strict=True)
    return float(np.mean([float(((g - a) ** 2).sum() / (a**2).sum()) for g, a in pairs]))
