r"""The fixed feature extractor of style transfer: a network's feature layers, frozen.

:func:`load_features` gives a :class:`FeatureNet` for ``--model``:

``efficientnet-lite0`` (the default), ``squeezenet``, ``embedded``, or a classification run
    The network of :func:`dualnet.apps.networks.load_network` (EfficientNet-Lite0 with
    its shipped ImageNet weights, the course's SqueezeNet, the offline stand-in, or any
    PyTorch SqueezeNet run); its ``features`` and its own mean and standard deviation.
``random``
    torchvision's SqueezeNet 1.1 with seeded random weights (its default initialisation) and
    ImageNet's mean and standard deviation: no training, no download. Random convolutional
    features already capture much of a texture (Ustyuzhaninov et al. 2017).

**The image lives in normalised space.** Like the course, the optimiser moves
:math:`z = (x - \mu) / \sigma` (per channel), the network's own input, so the course's learning
rate of 3.0 keeps its meaning. After every step :math:`z` is clamped to
:math:`[(0 - \mu)/\sigma, (1 - \mu)/\sigma]`, the image of the valid pixels: the course clamps to
:math:`[-1.5, 1.5]` instead, a box that cuts off the darkest and brightest pixels and lets
others leave [0, 1], which its display then rescales. Here every iterate is a real image and
:meth:`FeatureNet.pixels` needs no rescaling.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from dualnet.apps import networks
from dualnet.apps.settings import ConfigError
from torch_impl.style_transfer import extract_features

RANDOM_SEED = 0
"""Seed of the ``random`` network's weights."""


@dataclass
class FeatureNet:
    """Frozen feature layers on normalised images, with the normalisation.

    ``layers`` maps ``(N, 3, H, W)`` normalised images through its modules in order;
    ``mean`` and ``std`` are ``(1, 3, 1, 1)`` tensors on ``device``.
    """

    name: str
    layers: nn.Sequential
    mean: torch.Tensor
    std: torch.Tensor
    device: torch.device
    build_seconds: float = 0.0
    """The time spent building the network in this call (a stand-in; 0 when cached)."""

    def normalise(self, pixels: torch.Tensor) -> torch.Tensor:
        r""":math:`z = (x - \mu) / \sigma`, pixels ``(N, 3, H, W)`` in [0, 1]."""
        return (pixels.to(self.device, self.mean.dtype) - self.mean) / self.std

    def pixels(self, z: torch.Tensor) -> torch.Tensor:
        r""":math:`x = \sigma z + \mu`, back to pixels."""
        return z * self.std + self.mean

    def bounds(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The normalised images of pixel values 0 and 1, ``(1, 3, 1, 1)`` each."""
        return -self.mean / self.std, (1 - self.mean) / self.std

    def __call__(self, z: torch.Tensor, last: int) -> list[torch.Tensor]:
        """The activations of layers ``0 .. last`` for normalised images ``z``, one pass."""
        return extract_features(z, self.layers, last)

    def to(self, dtype: torch.dtype) -> FeatureNet:
        """A copy computing in ``dtype`` (float64 for the agreement tests)."""
        layers = copy.deepcopy(self.layers).to(dtype)
        return FeatureNet(self.name, layers, self.mean.to(dtype), self.std.to(dtype), self.device)


def frozen(layers: nn.Sequential, device: torch.device) -> nn.Sequential:
    """``layers`` in evaluation mode on ``device``, its weights not requiring gradients."""
    layers = layers.to(device).eval()
    for parameter in layers.parameters():
        parameter.requires_grad_(False)
    return layers


def feature_net(name: str, layers: nn.Sequential, mean, std, device) -> FeatureNet:
    """A :class:`FeatureNet` from feature layers and the normalisation of their network."""
    mean = torch.as_tensor(mean, dtype=torch.float32, device=device).view(1, -1, 1, 1)
    std = torch.as_tensor(std, dtype=torch.float32, device=device).view(1, -1, 1, 1)
    return FeatureNet(name, frozen(layers, device), mean, std, device)


def random_squeezenet(device: torch.device, seed: int = RANDOM_SEED) -> FeatureNet:
    """SqueezeNet 1.1's features with torchvision's initialisation, seeded."""
    import torchvision

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = torchvision.models.squeezenet1_1()
    mean, std = networks.IMAGENET_MEAN, networks.IMAGENET_STD
    return feature_net("random", model.features, mean, std, device)


def from_network(network) -> FeatureNet:
    """The ``features`` of a network of :mod:`dualnet.apps.networks`: a PyTorch network
    with a ``features`` sequence of layers (Lite0, SqueezeNet)."""
    model = getattr(network.model, "model", None)
    layers = getattr(model, "features", None)
    if network.backend != "torch" or not isinstance(layers, nn.Sequential):
        raise ConfigError(
            f"--model {network.name}: style transfer needs a PyTorch network with a `features` "
            f"sequence of layers (EfficientNet-Lite0, SqueezeNet), got a {network.backend} "
            f"{type(model).__name__}; train one with "
            "`dualnet classify train --model squeezenet1_1`, or use --model random"
        )
    net = feature_net(network.name, layers, network.mean, network.std, network.device)
    net.build_seconds = network.build_seconds
    return net


def load_features(model: str, weights: str | None = None, device: str = "auto") -> FeatureNet:
    """The frozen features for ``--model`` (see the module docstring)."""
    from dualnet.apps import runtime

    if model == "random":
        return random_squeezenet(runtime.resolve_device(device))
    return from_network(networks.load_network(model, weights, device))


# --------------------------------------------------------------------------------------------
# What the network can take
# --------------------------------------------------------------------------------------------


def check_layers(net: FeatureNet, content_layer: int, style_layers) -> None:
    """Every chosen layer must be one of the network's feature layers.

    Raises:
        ConfigError: naming the flag and the layers the network has.
    """
    count = len(net.layers)
    chosen = [("--content-layer", content_layer)] + [("--style-layers", i) for i in style_layers]
    for flag, index in chosen:
        if index >= count:
            raise ConfigError(
                f"{flag}: layer {index} is outside the network; the features of --model "
                f"{net.name} have {count} layers, indices 0 to {count - 1}"
            )


def runs_at(net: FeatureNet, height: int, width: int, last: int) -> bool:
    """Whether layers ``0 .. last`` take an image of ``height`` x ``width`` pixels."""
    probe = torch.zeros(1, 3, height, width, device=net.device, dtype=net.mean.dtype)
    try:
        with torch.no_grad():
            feats = net(probe, last)
    except RuntimeError:  # a pooling or convolution window larger than its input
        return False
    return all(f.shape[-1] > 0 and f.shape[-2] > 0 for f in feats)


def smallest_size(net: FeatureNet, last: int, largest: int = 1024) -> int:
    """The smallest square image that layers ``0 .. last`` take (bisection)."""
    low, high = 1, largest
    while low < high:
        middle = (low + high) // 2
        low, high = (low, middle) if runs_at(net, middle, middle, last) else (middle + 1, high)
    return low


def check_size(net: FeatureNet, image: torch.Tensor, last: int, flag: str, size: int) -> None:
    """The image ``(3, H, W)`` must be large enough for layers ``0 .. last``.

    Raises:
        ConfigError: naming ``flag`` and the smallest size that works.
    """
    height, width = image.shape[-2:]
    if not runs_at(net, height, width, last):
        raise ConfigError(
            f"{flag} {size}: an image of {height}x{width} pixels is too small for layer {last} "
            f"of --model {net.name}; its shorter side must be at least "
            f"{smallest_size(net, last)} pixels"
        )
