"""Datasets for the applications, held in memory as tensors.

:func:`load_images` returns an image-classification dataset as an
:class:`~dualnet.data.images.ImageSplits`:

``"embedded"``
    Ten classes of procedurally drawn shapes (:mod:`dualnet.data.embedded`), generated on first
    use and cached: no download, works offline.
``"cifar10"``
    CIFAR-10 (:mod:`dualnet.data.cifar10`), read from the python batches, downloaded through
    torchvision when they are missing and the network is reachable.

:func:`~dualnet.data.images.normalize` and :func:`~dualnet.data.images.augment` turn ``uint8``
batches into network inputs.
"""

from __future__ import annotations

import os

from dualnet.data import paths
from dualnet.data.cifar10 import load_cifar10
from dualnet.data.embedded import load_embedded
from dualnet.data.images import ImageSplits, augment, channel_stats, normalize, plot_examples
from dualnet.data.paths import DatasetNotFoundError, data_root

DATASETS = ("embedded", "cifar10")
"""The names :func:`load_images` knows."""

__all__ = [
    "DATASETS",
    "DatasetNotFoundError",
    "ImageSplits",
    "augment",
    "channel_stats",
    "data_root",
    "load_images",
    "normalize",
    "plot_examples",
]


def load_images(
    name: str,
    data_root: str | os.PathLike | None = None,
    download: bool = True,
    image_size: int = 32,
) -> ImageSplits:
    """Load an image-classification dataset into memory.

    Args:
        name: ``"embedded"`` or ``"cifar10"``.
        data_root: Folder the dataset is read from and cached in; by default ``$DUALNET_CACHE``
            or ``~/.cache/dualnet`` (see :func:`dualnet.data.paths.data_root`).
        download: For ``"cifar10"``: download the files through torchvision when they are
            missing. The embedded dataset never needs the network.
        image_size: Height and width of the images: any size for the embedded set (its shapes
            are drawn at that resolution), 32 for CIFAR-10.

    Returns:
        The :class:`~dualnet.data.images.ImageSplits`: ``uint8`` images ``(N, 3, 32, 32)`` and
        ``int64`` labels ``(N,)`` per split, with the training images' channel statistics.

    Raises:
        ValueError: If ``name`` is not one of :data:`DATASETS`.
        DatasetNotFoundError: If CIFAR-10 is missing and cannot be downloaded; the message says
            what to download and where to put it.
    """
    if name == "embedded":
        return load_embedded(paths.data_root(data_root), size=image_size)
    if name == "cifar10":
        if image_size != 32:
            raise ValueError(f"load_images: CIFAR-10 images are 32x32, got image_size {image_size}")
        return load_cifar10(paths.data_root(data_root), download=download)
    known = ", ".join(repr(n) for n in DATASETS)
    raise ValueError(f"load_images: unknown dataset name {name!r}, expected one of {known}")
