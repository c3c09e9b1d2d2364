"""Small synthetic image splits for the training-loop tests: a class is a bright square in one
of a few positions, so that models can learn something within a handful of steps."""

from __future__ import annotations

import torch

from dualnet.data import ImageSplits


def synthetic_splits(
    train: int = 64, size: int = 8, classes: int = 4, seed: int = 0
) -> ImageSplits:
    generator = torch.Generator().manual_seed(seed)

    def make(count: int):
        labels = torch.arange(count) % classes
        images = torch.randint(
            0, 60, (count, 3, size, size), generator=generator, dtype=torch.uint8
        )
        for i, label in enumerate(labels.tolist()):
            row, col = divmod(label, 2)
            half = size // 2
            images[i, :, row * half : (row + 1) * half, col * half : (col + 1) * half] += 150
        order = torch.randperm(count, generator=generator)
        return images[order], labels[order].long()

    return ImageSplits(
        name="synthetic",
        classes=tuple(f"class {i}" for i in range(classes)),
        train=make(train),
        val=make(16),
        test=make(16),
        mean=(0.3, 0.3, 0.3),
        std=(0.25, 0.25, 0.25),
    )
