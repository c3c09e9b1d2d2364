"""The middle level: the same two networks as ``nn.Module`` subclasses.

Parameters are registered by assigning layers in ``__init__``; ``forward`` says how they are
used; ``torch.optim`` does the update. Initialisation matches the barebones level (Kaiming
normal weights, zero biases).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def kaiming_init(layer: nn.Module) -> None:
    """Kaiming-normal weights (fan in, ReLU gain) and zero biases, as in the barebones level."""
    nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
    nn.init.zeros_(layer.bias)


class TwoLayerFC(nn.Module):
    """``scores = fc2(relu(fc1(flatten(x))))``; ``(N, ...)`` to ``(N, num_classes)``."""

    def __init__(self, input_dim: int, hidden_dim: int, num_classes: int):
        super().__init__()
        self.fc1 = nn.Linear(input_dim, hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, num_classes)
        kaiming_init(self.fc1)
        kaiming_init(self.fc2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


class ThreeLayerConvNet(nn.Module):
    """conv 5x5 (padding 2) - ReLU - conv 3x3 (padding 1) - ReLU - fully connected.

    ``(N, in_channels, S, S)`` images to ``(N, num_classes)`` scores.
    """

    def __init__(
        self, in_channels: int, image_size: int, channel_1: int, channel_2: int, num_classes: int
    ):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channel_1, kernel_size=5, padding=2)
        self.conv2 = nn.Conv2d(channel_1, channel_2, kernel_size=3, padding=1)
        self.fc = nn.Linear(channel_2 * image_size * image_size, num_classes)
        for layer in (self.conv1, self.conv2, self.fc):
            kaiming_init(layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.conv1(x))
        h = F.relu(self.conv2(h))
        return self.fc(h.flatten(1))
