"""The highest level: the same two networks as ``nn.Sequential`` stacks of layers.

A stack needs no ``forward`` of its own: data flows through the layers in order. Initialisation
matches the other two levels.
"""

from __future__ import annotations

from torch import nn

from torch_impl.levels.module import kaiming_init


def _initialised(model: nn.Sequential) -> nn.Sequential:
    for layer in model:
        if isinstance(layer, (nn.Linear, nn.Conv2d)):
            kaiming_init(layer)
    return model


def two_layer_fc(input_dim: int, hidden_dim: int, num_classes: int) -> nn.Sequential:
    """Flatten - Linear - ReLU - Linear."""
    return _initialised(
        nn.Sequential(
            nn.Flatten(),
            nn.Linear(input_dim, hidden_dim),
            nn.ReLU(),
            nn.Linear(hidden_dim, num_classes),
        )
    )


def three_layer_convnet(
    in_channels: int, image_size: int, channel_1: int, channel_2: int, num_classes: int
) -> nn.Sequential:
    """Conv 5x5 - ReLU - Conv 3x3 - ReLU - Flatten - Linear."""
    return _initialised(
        nn.Sequential(
            nn.Conv2d(in_channels, channel_1, kernel_size=5, padding=2),
            nn.ReLU(),
            nn.Conv2d(channel_1, channel_2, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(channel_2 * image_size * image_size, num_classes),
        )
    )
