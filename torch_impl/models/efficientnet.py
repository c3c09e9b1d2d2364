r"""EfficientNet-Lite0: a small ImageNet network of the MobileNetV2 family, written out.

EfficientNet (Tan and Le 2019) stacks *inverted residual* blocks (MBConv, Sandler et al. 2018).
A block widens its input by a 1x1 convolution (the expansion, ratio :math:`e`), filters each
channel alone with a :math:`k \times k` depthwise convolution (stride 1 or 2), and narrows
back with a 1x1 projection; when the shape is unchanged the input is added back:

.. math::

    y = x + \mathrm{BN}\big(W_p * \mathrm{ReLU6}(\mathrm{BN}(W_d \circledast
        \mathrm{ReLU6}(\mathrm{BN}(W_e * x))))\big).

The *Lite* variants keep what runs well on phones: ReLU6 instead of swish, no
squeeze-and-excitation, and a stem and head of fixed width. Lite0 is the smallest (4.65 M
parameters, 224x224 inputs):

=====  =========================  ======  ======  ==========  ========  =========
index  layer                      kernel  stride  expansion   channels  output
=====  =========================  ======  ======  ==========  ========  =========
0      stem: conv, BN, ReLU6      3       2       --          32        112x112
1      MBConv                     3       1       1           16        112x112
2-3    MBConv x2                  3       2       6           24        56x56
4-5    MBConv x2                  5       2       6           40        28x28
6-8    MBConv x3                  3       2       6           80        14x14
9-11   MBConv x3                  5       1       6           112       14x14
12-15  MBConv x4                  5       2       6           192       7x7
16     MBConv                     3       1       6           320       7x7
17     head: 1x1 conv, BN, ReLU6  1       1       --          1280      7x7
=====  =========================  ======  ======  ==========  ========  =========

then the average over the grid, dropout and a linear layer to the 1000 ImageNet classes.
:attr:`EfficientNetLite0.features` is the ``nn.Sequential`` of rows 0-17, indexed as in the
table, so style transfer can name its layers by index as it does SqueezeNet's.

**Padding as TensorFlow pads.** The weights were trained in TensorFlow, whose ``"same"``
padding makes the output ``ceil(H / s)`` and, when the padding is odd, puts the extra pixel at
the bottom and the right. PyTorch's ``padding=k // 2`` pads both sides alike, which shifts
every stride-2 layer's sampling grid by one pixel. :class:`SameConv2d` pads as TensorFlow does
(``tf_padding=True``, the default); ``tf_padding=False`` gives the symmetric padding, so the
difference can be measured.

**Input**: images normalised as the weights expect, ``(x - 0.5) / 0.5`` for pixels ``x`` in
[0, 1] (:data:`INPUT_MEAN`, :data:`INPUT_STD`). Measured: with it, the variance of what the
stem's batch norm receives matches the variance it stored in training; with ImageNet's mean
and standard deviation it is 4 times larger (``tests/dualnet/test_networks.py``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

INPUT_MEAN = (0.5, 0.5, 0.5)
INPUT_STD = (0.5, 0.5, 0.5)
"""The normalisation the Lite0 weights expect: pixels in [0, 1] mapped to [-1, 1]."""
BN_EPS = 1e-3
"""TensorFlow's batch-norm epsilon, which the weights were trained with."""
STAGES = (
    # (repeats, kernel, stride, expansion, channels)
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
)
"""EfficientNet-B0's stages, which Lite0 keeps: the first block of a stage has its stride."""
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's ``"same"`` padding of one side of length ``size``: ``(before, after)``,
    the output being ``ceil(size / stride)`` long, the odd pixel after."""
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class SameConv2d(nn.Conv2d):
    """A convolution without bias padded as TensorFlow's ``"same"`` (``tf_padding=True``) or
    symmetrically by ``kernel // 2`` (``tf_padding=False``). ``groups=channels`` makes it
    depthwise."""

    def __init__(self, in_channels, out_channels, kernel, stride=1, groups=1, tf_padding=True):
        padding = 0 if tf_padding else kernel // 2
        super().__init__(
            in_channels, out_channels, kernel, stride, padding, groups=groups, bias=False
        )
        self.tf_padding = tf_padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.tf_padding:
            kernel, stride = self.kernel_size[0], self.stride[0]
            top, bottom = same_padding(x.shape[-2], kernel, stride)
            left, right = same_padding(x.shape[-1], kernel, stride)
            x = F.pad(x, (left, right, top, bottom))
        return super().forward(x)


class ConvBNReLU6(nn.Sequential):
    """Convolution, batch norm, and ReLU6 unless ``activation=False``."""

    def __init__(self, in_channels, out_channels, kernel, stride=1, groups=1, activation=True,
                 tf_padding=True):  # fmt: skip
        layers = [
            SameConv2d(in_channels, out_channels, kernel, stride, groups, tf_padding),
            nn.BatchNorm2d(out_channels, eps=BN_EPS),
        ]
        super().__init__(*layers, *([nn.ReLU6()] if activation else []))


class MBConv(nn.Module):
    """The inverted residual block: expand (1x1), depthwise (k x k, stride), project (1x1),
    and the input added back when the shape is unchanged.

    ``(N, in_channels, H, W)`` to ``(N, out_channels, ceil(H / stride), ceil(W / stride))``.
    """

    def __init__(self, in_channels, out_channels, kernel, stride, expansion, tf_padding=True):
        super().__init__()
        wide = in_channels * expansion
        self.expand = (
            ConvBNReLU6(in_channels, wide, 1, tf_padding=tf_padding)
            if expansion != 1
            else nn.Identity()
        )
        self.depthwise = ConvBNReLU6(wide, wide, kernel, stride, wide, tf_padding=tf_padding)
        self.project = ConvBNReLU6(wide, out_channels, 1, activation=False, tf_padding=tf_padding)
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.project(self.depthwise(self.expand(x)))
        return x + out if self.residual else out


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 (see the module docstring): ``(N, 3, H, W)`` normalised images to
    ``(N, num_classes)`` scores; any ``H, W`` of at least 32 pixels.

    Args:
        num_classes: Outputs of the last layer (1000 for ImageNet).
        dropout: Dropout probability before the last layer, active in training only.
        tf_padding: Pad as TensorFlow (what the weights were trained with) or symmetrically.
    """

    def __init__(self, num_classes: int = 1000, dropout: float = 0.2, tf_padding: bool = True):
        super().__init__()
        layers = [ConvBNReLU6(3, STEM_CHANNELS, 3, 2, tf_padding=tf_padding)]
        channels = STEM_CHANNELS
        for repeats, kernel, stride, expansion, out_channels in STAGES:
            for repeat in range(repeats):
                first_stride = stride if repeat == 0 else 1
                layers.append(
                    MBConv(channels, out_channels, kernel, first_stride, expansion, tf_padding)
                )
                channels = out_channels
        layers.append(ConvBNReLU6(channels, HEAD_CHANNELS, 1, tf_padding=tf_padding))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(HEAD_CHANNELS, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).mean(dim=(2, 3)))


def from_efficientnet_pytorch(state: dict) -> dict:
    """A state dict in the naming of the ``efficientnet_pytorch`` package (``_conv_stem``,
    ``_blocks.i._expand_conv``, ``_bn0``, ..., ``_fc``), which the weights file uses, renamed
    to :class:`EfficientNetLite0`'s. Tensors are shared, not copied."""
    head = sum(stage[0] for stage in STAGES) + 1  # the index of the head in `features`
    parts = {
        "_expand_conv": "expand.0",
        "_bn0": "expand.1",
        "_depthwise_conv": "depthwise.0",
        "_bn1": "depthwise.1",
        "_project_conv": "project.0",
        "_bn2": "project.1",
    }
    top = {
        "_conv_stem": "features.0.0",
        "_bn0": "features.0.1",
        "_conv_head": f"features.{head}.0",
        "_bn1": f"features.{head}.1",
        "_fc": "classifier.1",
    }
    renamed = {}
    for key, value in state.items():
        module, _, leaf = key.rpartition(".")
        if module.startswith("_blocks."):
            _, index, part = module.split(".")
            renamed[f"features.{int(index) + 1}.{parts[part]}.{leaf}"] = value
        else:
            renamed[f"{top[module]}.{leaf}"] = value
    return renamed
