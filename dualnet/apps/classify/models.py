"""The classification models by name: one :class:`ModelSpec` per name in :data:`MODELS`.

A name means one network, whichever backend or level builds it:

=============  =======================================================  ====================
name           network                                                  built by
=============  =======================================================  ====================
``fc2``        affine - ReLU - affine (512 hidden units)                torch at three levels,
                                                                        NumPy
``convnet3``   conv 5x5 - ReLU - conv 3x3 - ReLU - affine               torch at three levels
``convpool3``  conv 7x7 - ReLU - 2x2 max pool - affine - ReLU - affine  torch (nn.Module),
               (the classic ``ThreeLayerConvNet``)                      NumPy
ResNets        see ``dualnet classify models``                          torch (nn.Module)
=============  =======================================================  ====================

``mobilenet_v2`` is torchvision's MobileNetV2 (torch only); trained on the embedded shapes, it
is the captioning encoder's offline stand-in (:mod:`dualnet.apps.caption.encoders`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from dualnet.apps.settings import ConfigError
from torch_impl.levels import barebones, module, sequential
from torch_impl.models.resnet import RESNETS, resnet

LEVELS = ("barebones", "module", "sequential")


@dataclass(frozen=True)
class ModelSpec:
    """What a model name stands for and which backends and levels build it.

    ``build_torch(config, num_classes, image_shape)`` returns the PyTorch model (an
    ``nn.Module``, or a barebones model at that level); ``build_numpy`` the
    ``reference_numpy`` model, or is ``None`` when the NumPy backend lacks it. ``family``
    chooses the default hyperparameters (:func:`~dualnet.apps.classify.config.defaults`)
    and ``image_size`` the default resolution of the embedded images it trains on.
    """

    name: str
    description: str
    family: str
    levels: tuple[str, ...]
    build_torch: Callable
    build_numpy: Callable | None = None
    image_size: int = 32

    def check(self, backend: str, level: str) -> None:
        if backend == "numpy" and self.build_numpy is None:
            numpy_models = [name for name, spec in MODELS.items() if spec.build_numpy]
            raise ConfigError(
                f"the NumPy backend has no {self.name}; it trains {', '.join(numpy_models)}"
            )
        if backend == "torch" and level not in self.levels:
            small = [name for name, spec in MODELS.items() if len(spec.levels) > 1]
            raise ConfigError(
                f"level {level!r} exists for {' and '.join(small)} only; "
                f"{self.name} is an nn.Module"
            )


def _fc2_torch(config, num_classes: int, image_shape) -> torch.nn.Module:
    dims = (int(np.prod(image_shape)), 512, num_classes)
    if config.level == "barebones":
        generator = torch.Generator().manual_seed(config.seed)
        params = barebones.init_two_layer_fc(*dims, generator=generator)
        return barebones.BarebonesModel(barebones.two_layer_fc, params)
    builder = {"module": module.TwoLayerFC, "sequential": sequential.two_layer_fc}[config.level]
    return builder(*dims)


def _convnet3_torch(config, num_classes: int, image_shape) -> torch.nn.Module:
    channels, size, _ = image_shape
    dims = (channels, size, 32, 16, num_classes)
    if config.level == "barebones":
        generator = torch.Generator().manual_seed(config.seed)
        params = barebones.init_three_layer_convnet(*dims, generator=generator)
        return barebones.BarebonesModel(barebones.three_layer_convnet, params)
    builder = {
        "module": module.ThreeLayerConvNet,
        "sequential": sequential.three_layer_convnet,
    }[config.level]
    return builder(*dims)


CONVPOOL3 = {"num_filters": 32, "filter_size": 7, "hidden_dim": 100, "weight_scale": 1e-2}
"""The sizes of ``convpool3`` in both backends."""


def _convpool3_torch(config, num_classes: int, image_shape) -> torch.nn.Module:
    from torch_impl.models import ThreeLayerConvNet

    return ThreeLayerConvNet(
        tuple(image_shape), num_classes=num_classes, seed=config.seed, **CONVPOOL3
    )


def _fc2_numpy(config, num_classes: int, image_shape):
    from reference_numpy.models import FullyConnectedNet

    input_dim = int(np.prod(image_shape))
    return FullyConnectedNet(
        [512],
        input_dim=input_dim,
        num_classes=num_classes,
        reg=config.weight_decay,
        weight_scale=np.sqrt(2 / input_dim),
        dtype=np.float32,
        seed=config.seed,
    )


def _convpool3_numpy(config, num_classes: int, image_shape):
    from reference_numpy.models import ThreeLayerConvNet

    return ThreeLayerConvNet(
        input_dim=tuple(image_shape),
        num_classes=num_classes,
        reg=config.weight_decay,
        dtype=np.float32,
        seed=config.seed,
        **CONVPOOL3,
    )


def _mobilenet_v2_torch(config, num_classes: int, image_shape) -> torch.nn.Module:
    import torchvision

    return torchvision.models.mobilenet_v2(num_classes=num_classes)


def _resnet_spec(name: str) -> ModelSpec:
    spec = RESNETS[name]
    kind = "plain" if not spec.residual else spec.block

    def build(config, num_classes: int, image_shape) -> torch.nn.Module:
        return resnet(name, num_classes=num_classes, in_channels=image_shape[0])

    return ModelSpec(
        name, f"ResNet, {spec.depth} layers, {kind} blocks", "resnet", ("module",), build
    )


SQUEEZENET_SCORE_BIAS = 5.0
"""The starting bias of SqueezeNet's last convolution when it is trained from scratch."""


def _squeezenet_torch(config, num_classes: int, image_shape) -> torch.nn.Module:
    """torchvision's SqueezeNet 1.1, its last convolution's bias started at
    :data:`SQUEEZENET_SCORE_BIAS` instead of 0.

    The class scores pass a ReLU before the average pool. With a zero bias, the first
    updates push the score maps of the nine wrong classes down faster than the right class's
    up, every map falls below zero, no gradient passes the ReLU any more, and the loss stays at
    ln(C). A positive start keeps every map above zero while the network learns; the softmax
    does not see an offset shared by all classes, so it changes nothing else.
    """
    import torchvision

    model = torchvision.models.squeezenet1_1(num_classes=num_classes)
    torch.nn.init.constant_(model.classifier[1].bias, SQUEEZENET_SCORE_BIAS)
    return model


MODELS: dict[str, ModelSpec] = {
    "fc2": ModelSpec(
        "fc2", "two-layer fully connected net", "small", LEVELS, _fc2_torch, _fc2_numpy
    ),
    "convnet3": ModelSpec(
        "convnet3", "three-layer ConvNet: conv-conv-affine", "small", LEVELS, _convnet3_torch
    ),
    "convpool3": ModelSpec(
        "convpool3",
        "the classic ThreeLayerConvNet: conv-pool-affine-affine",
        "small",
        ("module",),
        _convpool3_torch,
        _convpool3_numpy,
    ),
    **{name: _resnet_spec(name) for name in RESNETS},
    "squeezenet1_1": ModelSpec(
        "squeezenet1_1",
        "torchvision's SqueezeNet 1.1 (the network of visualization and style transfer)",
        "squeezenet",
        ("module",),
        _squeezenet_torch,
        image_size=64,
    ),
    "mobilenet_v2": ModelSpec(
        "mobilenet_v2",
        "torchvision's MobileNetV2 (the captioning encoder's stand-in)",
        "small",
        ("module",),
        _mobilenet_v2_torch,
    ),
}
"""Every classification model, by name."""


def build_model(config, num_classes: int, image_shape=(3, 32, 32)):
    """The PyTorch model ``config.model`` at ``config.level``, on the CPU, seeded by
    ``config.seed``."""
    torch.manual_seed(config.seed)
    return MODELS[config.model].build_torch(config, num_classes, tuple(image_shape))


def build_numpy_model(config, num_classes: int, image_shape=(3, 32, 32)):
    """The ``reference_numpy`` model ``config.model``, float32, seeded by ``config.seed``."""
    spec = MODELS[config.model]
    spec.check("numpy", config.level)
    return spec.build_numpy(config, num_classes, tuple(image_shape))
