"""The images to look at: files, the classic ``imagenet_val_25.npz``, the bundled
photographs, or the embedded test set.

Every source gives an :class:`Inputs`: float pixels in [0, 1] of shape ``(N, 3, S, S)`` at the
network's input size ``S``, the true labels when they are known in the network's classes, and,
where known, where the objects are (so that explanations can be scored): the hand-annotated
boxes of the photographs (:mod:`dualnet.data.photos`), the masks of the embedded shapes.

With no ``--images``, an ImageNet network looks at the photographs and an embedded network at
the embedded test images.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dualnet.data import photos
from dualnet.data.image_file import read_image
from dualnet.data.photos import resize_and_crop


@dataclass
class Inputs:
    """Images ``(N, 3, S, S)`` in [0, 1] (float32), labels ``(N,)`` in the network's classes
    (``None`` when unknown), object masks ``(N, S, S)`` (``None`` when unknown), and a name
    per image. ``accepted`` lists, per image, the classes that count as right (a tabby is
    also ImageNet's 'tiger cat'); ``None`` when only the label does."""

    images: torch.Tensor
    labels: torch.Tensor | None
    masks: torch.Tensor | None
    names: list[str]
    accepted: list[list[int]] | None = None

    def correct(self, predictions: torch.Tensor) -> torch.Tensor:
        """Whether each prediction ``(N,)`` is right: the label or an accepted class."""
        if self.accepted is None:
            return predictions == self.labels
        pairs = zip(predictions.tolist(), self.accepted, strict=True)
        return torch.tensor([predicted in accepted for predicted, accepted in pairs])

    def right_classes(self, num_classes: int) -> torch.Tensor:
        """What an untargeted attack moves away from: the labels ``(N,)``, or with accepted
        classes a boolean mask ``(N, num_classes)`` of them."""
        if self.accepted is None:
            return self.labels
        mask = torch.zeros(len(self.accepted), num_classes, dtype=torch.bool)
        for row, accepted in enumerate(self.accepted):
            mask[row, accepted] = True
        return mask


def load_inputs(sources: list[str] | None, network, count: int) -> Inputs:
    """The first ``count`` images of ``sources`` (files Pillow reads, or one ``.npz`` in the
    ``imagenet_val_25`` layout), or of the embedded test set when ``sources`` is empty."""
    if not sources:
        if network.data == "imagenet":
            return photo_inputs(network, count)
        return embedded_inputs(network, count)
    if len(sources) == 1 and sources[0].endswith(".npz"):
        return npz_inputs(Path(sources[0]), network, count)
    images = torch.stack([read_sized(Path(s), network.image_size) for s in sources[:count]])
    return Inputs(images, None, None, [Path(s).name for s in sources[:count]])


def embedded_inputs(network, count: int) -> Inputs:
    """Test images of the embedded set at the network's size, with their objects' masks;
    labels only when the network knows the embedded classes."""
    from dualnet.data import load_images

    splits = load_images("embedded", image_size=network.image_size)
    images, labels = splits.test
    images = images[:count].float() / 255
    known = network.data == "embedded"
    names = [splits.classes[k] for k in labels[:count].tolist()]
    return Inputs(images, labels[:count] if known else None, splits.test_masks[:count], names)


def photo_inputs(network, count: int) -> Inputs:
    """The first ``count`` bundled photographs, with their ImageNet labels and boxes."""
    chosen = photos.photo_set(network.image_size, list(photos.PHOTOS)[:count])
    return Inputs(chosen.images, chosen.labels, chosen.masks, chosen.names, chosen.accepted)


def read_sized(path: Path, size: int) -> torch.Tensor:
    """An image file as ``(3, size, size)`` pixels in [0, 1] (:func:`~dualnet.data.image_file.
    read_image`), its shorter side resized to ``size``, centre-cropped."""
    return resize_and_crop(read_image(path, "--images"), size)


def npz_inputs(path: Path, network, count: int) -> Inputs:
    """``imagenet_val_25.npz``: ``X`` uint8 ``(N, H, W, 3)``, ``y`` labels, ``label_map``."""
    if not path.is_file():
        raise ValueError(f"--images: no file at {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            X, y = data["X"], data["y"]
    except (KeyError, ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        reason = str(error) or type(error).__name__  # an empty file's EOFError says nothing
        raise ValueError(
            f"--images: {path} is not in the imagenet_val_25 layout (X uint8 (N, H, W, 3), y, "
            f"label_map): {reason}"
        ) from None
    if X.dtype != np.uint8 or X.ndim != 4 or X.shape[-1] != 3 or y.shape != (len(X),):
        raise ValueError(
            f"--images: {path} holds X of dtype {X.dtype} and shape {X.shape} with y of shape "
            f"{y.shape}, expected X uint8 (N, H, W, 3) and y (N,)"
        )
    if not np.issubdtype(y.dtype, np.integer) or (len(y) and y.min() < 0):
        raise ValueError(
            f"--images: {path} holds labels y of dtype {y.dtype}, expected class ids: "
            "integers from 0"
        )
    images = torch.from_numpy(X[:count]).permute(0, 3, 1, 2).float() / 255
    images = torch.stack([resize_and_crop(image, network.image_size) for image in images])
    labels = torch.from_numpy(y[:count].astype(np.int64))
    known = network.data == "imagenet" and int(labels.max()) < len(network.classes)
    names = [f"{path.name}[{i}]" for i in range(len(images))]
    return Inputs(images, labels if known else None, None, names)
