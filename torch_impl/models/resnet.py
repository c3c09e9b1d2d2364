r"""The ResNet family for 32x32 images: plain, residual and bottleneck blocks, original and
pre-activation ordering, built from a list of stages.

A residual block computes :math:`y = F(x) + s(x)`, where :math:`F` is a small stack of
convolutions and :math:`s` is the identity (or a 1x1 convolution when the shape changes). The
gradient reaching :math:`x` is :math:`\overline{y}\,(\partial F / \partial x + \partial s /
\partial x)`, and the identity term carries :math:`\overline{y}` through unchanged: this is why
very deep residual networks train where plain ones of the same depth do not
(He et al. 2016). A *plain* block is the same block without :math:`s`.

* **Original** ("post-activation") blocks end with ``ReLU(F(x) + s(x))``.
* **Pre-activation** blocks (He et al. 2016, "Identity Mappings") move batch norm and ReLU
  in front of each convolution, so the shortcut path is a pure identity from block to block.
* **Bottleneck** blocks replace the two 3x3 convolutions by 1x1 (reduce) - 3x3 - 1x1 (expand
  by 4), which makes deeper networks affordable.

A network is a stem (one 3x3 convolution), stages of blocks, global average pooling and one
fully connected layer. :data:`RESNETS` names the standard configurations: the CIFAR ResNets
of depth :math:`6n + 2` (three stages of 16, 32 and 64 channels) and the ImageNet ResNet-18/34/50
layouts adapted to 32x32 inputs (a 3x3 stem and no initial max pooling).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


def conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)


def conv1x1(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)


def projection(in_channels: int, out_channels: int, stride: int, with_norm: bool) -> nn.Module:
    """The shortcut when the shape changes: a strided 1x1 convolution (and batch norm)."""
    if with_norm:
        return nn.Sequential(
            conv1x1(in_channels, out_channels, stride), nn.BatchNorm2d(out_channels)
        )
    return conv1x1(in_channels, out_channels, stride)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm: ``ReLU(BN(conv(ReLU(BN(conv(x))))) + s(x))``.

    With ``residual=False`` it is a *plain* block: the shortcut is dropped.
    ``(N, in_channels, H, W)`` to ``(N, channels, H / stride, W / stride)``.
    """

    expansion = 1

    def __init__(self, in_channels: int, channels: int, stride: int = 1, residual: bool = True):
        super().__init__()
        self.conv1 = conv3x3(in_channels, channels, stride)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = conv3x3(channels, channels)
        self.bn2 = nn.BatchNorm2d(channels)
        self.residual = residual
        self.shortcut = nn.Identity()
        if residual and (stride != 1 or in_channels != channels):
            self.shortcut = projection(in_channels, channels, stride, with_norm=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.residual:
            out = out + self.shortcut(x)
        return F.relu(out)


class Bottleneck(nn.Module):
    """1x1 reduce - 3x3 - 1x1 expand (by 4), each with batch norm, then add and ReLU.

    ``(N, in_channels, H, W)`` to ``(N, 4 * channels, H / stride, W / stride)``.
    """

    expansion = 4

    def __init__(self, in_channels: int, channels: int, stride: int = 1, residual: bool = True):
        super().__init__()
        out_channels = channels * self.expansion
        self.conv1 = conv1x1(in_channels, channels)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = conv3x3(channels, channels, stride)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv3 = conv1x1(channels, out_channels)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.residual = residual
        self.shortcut = nn.Identity()
        if residual and (stride != 1 or in_channels != out_channels):
            self.shortcut = projection(in_channels, out_channels, stride, with_norm=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.residual:
            out = out + self.shortcut(x)
        return F.relu(out)


class PreActBasicBlock(nn.Module):
    """Pre-activation basic block: ``conv(ReLU(BN(conv(ReLU(BN(x)))))) + s(x)``.

    When the shape changes, the projection shortcut reads the pre-activated input, as in the
    paper. ``(N, in_channels, H, W)`` to ``(N, channels, H / stride, W / stride)``.
    """

    expansion = 1

    def __init__(self, in_channels: int, channels: int, stride: int = 1, residual: bool = True):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = conv3x3(in_channels, channels, stride)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv2 = conv3x3(channels, channels)
        self.residual = residual
        self.projection = None
        if residual and (stride != 1 or in_channels != channels):
            self.projection = projection(in_channels, channels, stride, with_norm=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = F.relu(self.bn1(x))
        out = self.conv1(pre)
        out = self.conv2(F.relu(self.bn2(out)))
        if not self.residual:
            return out
        return out + (self.projection(pre) if self.projection is not None else x)


class PreActBottleneck(nn.Module):
    """Pre-activation bottleneck: BN-ReLU-1x1, BN-ReLU-3x3, BN-ReLU-1x1 (expand by 4), plus
    the shortcut. ``(N, in_channels, H, W)`` to ``(N, 4 * channels, H / stride, W / stride)``."""

    expansion = 4

    def __init__(self, in_channels: int, channels: int, stride: int = 1, residual: bool = True):
        super().__init__()
        out_channels = channels * self.expansion
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = conv1x1(in_channels, channels)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv2 = conv3x3(channels, channels, stride)
        self.bn3 = nn.BatchNorm2d(channels)
        self.conv3 = conv1x1(channels, out_channels)
        self.residual = residual
        self.projection = None
        if residual and (stride != 1 or in_channels != out_channels):
            self.projection = projection(in_channels, out_channels, stride, with_norm=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = F.relu(self.bn1(x))
        out = self.conv1(pre)
        out = self.conv2(F.relu(self.bn2(out)))
        out = self.conv3(F.relu(self.bn3(out)))
        if not self.residual:
            return out
        return out + (self.projection(pre) if self.projection is not None else x)


BLOCKS = {
    "basic": BasicBlock,
    "bottleneck": Bottleneck,
    "preact-basic": PreActBasicBlock,
    "preact-bottleneck": PreActBottleneck,
}


@dataclass(frozen=True)
class ResNetSpec:
    """A ResNet layout.

    Attributes:
        block: A key of :data:`BLOCKS`.
        stages: ``(channels, blocks, stride)`` per stage; a stage's output has
            ``channels * block.expansion`` channels.
        stem_channels: Output channels of the 3x3 stem convolution.
        residual: ``False`` builds the plain network of the same layout.
    """

    block: str
    stages: tuple[tuple[int, int, int], ...]
    stem_channels: int
    residual: bool = True

    @property
    def depth(self) -> int:
        """Weighted layers: the stem, every convolution in the blocks and the classifier."""
        per_block = 3 if "bottleneck" in self.block else 2
        return 2 + per_block * sum(blocks for _, blocks, _ in self.stages)


class ResNet(nn.Module):
    """Stem - stages of blocks - global average pooling - fully connected.

    ``(N, in_channels, H, W)`` images to ``(N, num_classes)`` scores. Convolutions start from
    Kaiming-normal weights (fan out), batch norms from scale 1 and shift 0.
    """

    def __init__(self, spec: ResNetSpec, num_classes: int = 10, in_channels: int = 3):
        super().__init__()
        block = BLOCKS[spec.block]
        self.spec = spec
        self.preact = spec.block.startswith("preact")
        self.stem = conv3x3(in_channels, spec.stem_channels)
        self.stem_bn = None if self.preact else nn.BatchNorm2d(spec.stem_channels)
        layers, channels_in = [], spec.stem_channels
        for channels, blocks, stride in spec.stages:
            for index in range(blocks):
                layers.append(
                    block(channels_in, channels, stride if index == 0 else 1, spec.residual)
                )
                channels_in = channels * block.expansion
        self.blocks = nn.Sequential(*layers)
        # pre-activation blocks end on a convolution: normalise and activate once at the end
        self.final_bn = nn.BatchNorm2d(channels_in) if self.preact else None
        self.fc = nn.Linear(channels_in, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.stem(x)
        if self.stem_bn is not None:
            out = F.relu(self.stem_bn(out))
        out = self.blocks(out)
        if self.final_bn is not None:
            out = F.relu(self.final_bn(out))
        return self.fc(out.mean(dim=(2, 3)))


def cifar_stages(blocks_per_stage: int, widths=(16, 32, 64)) -> tuple[tuple[int, int, int], ...]:
    """Three stages of ``blocks_per_stage`` blocks, the first at full resolution."""
    return tuple((w, blocks_per_stage, 1 if i == 0 else 2) for i, w in enumerate(widths))


def imagenet_stages(blocks: tuple[int, int, int, int]) -> tuple[tuple[int, int, int], ...]:
    """Four stages of 64, 128, 256 and 512 channels (before expansion)."""
    return tuple(
        (w, n, 1 if i == 0 else 2)
        for i, (w, n) in enumerate(zip((64, 128, 256, 512), blocks, strict=False))
    )


RESNETS: dict[str, ResNetSpec] = {
    **{
        f"resnet-plain{6 * n + 2}": ResNetSpec("basic", cifar_stages(n), 16, residual=False)
        for n in (3, 5, 9)
    },
    **{f"resnet{6 * n + 2}": ResNetSpec("basic", cifar_stages(n), 16) for n in (3, 5, 9, 18)},
    **{
        f"resnet-preact{6 * n + 2}": ResNetSpec("preact-basic", cifar_stages(n), 16)
        for n in (3, 5, 9, 18)
    },
    "resnet-preact164": ResNetSpec("preact-bottleneck", cifar_stages(18), 16),
    "resnet18": ResNetSpec("basic", imagenet_stages((2, 2, 2, 2)), 64),
    "resnet34": ResNetSpec("basic", imagenet_stages((3, 4, 6, 3)), 64),
    "resnet50": ResNetSpec("bottleneck", imagenet_stages((3, 4, 6, 3)), 64),
}
"""Named layouts. ``resnetD`` / ``resnet-preactD`` / ``resnet-plainD`` with D = 6n + 2 are the
CIFAR networks of He et al.; ``resnet18/34/50`` are the ImageNet layouts with a 3x3 stem."""


def resnet(name: str, num_classes: int = 10, in_channels: int = 3) -> ResNet:
    """Build a named ResNet from :data:`RESNETS`.

    Raises:
        ValueError: for an unknown name, listing the known ones.
    """
    if name not in RESNETS:
        raise ValueError(f"resnet: unknown name {name!r}; known: {', '.join(RESNETS)}")
    return ResNet(RESNETS[name], num_classes=num_classes, in_channels=in_channels)
