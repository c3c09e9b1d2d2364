"""Real photographs and textures with no download: the ones installed packages ship.

scikit-image, scikit-learn and matplotlib carry a few photographs and textures in their
wheels. ``photos.json`` (beside this file) names them, and gives each photograph its ImageNet
class and a **box around its main object, annotated by hand** on the original pixels, so that
explanations can be scored on real images (a saliency map should peak inside the box).

* :data:`PHOTOS` and :data:`TEXTURES`: the entries of ``photos.json`` by name;
* :func:`read_photo`: a photograph or texture as ``uint8`` pixels ``(H, W, 3)`` (gray images
  repeated over the three channels);
* :func:`resize_and_crop` and :func:`box_mask`: the network's square view of a photo (shorter
  side resized, centre cropped) and where its box lands in that view;
* :func:`photo_set`: every photograph at one size, with labels and box masks.

The licence of every file is in ``photos.json`` and on the docs' data page.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from dualnet.data.paths import DatasetNotFoundError

CATALOGUE = json.loads((Path(__file__).with_name("photos.json")).read_text())
PHOTOS: dict[str, dict] = CATALOGUE["photos"]
"""The photographs by name: ``package``, ``path``, ``what``, ``label`` (ImageNet index),
``accepted`` (indices that name the same object), ``box`` ``[left, top, right, bottom]`` in
original pixels, ``licence``."""
TEXTURES: dict[str, dict] = CATALOGUE["textures"]
"""The textures by name: ``package``, ``path``, ``licence``."""
PIP_NAMES = {"skimage": "scikit-image", "sklearn": "scikit-learn", "matplotlib": "matplotlib"}
"""The name to install each package by."""


def file_of(entry: dict) -> Path:
    """The file of a catalogue entry, inside its installed package (found without importing
    the package)."""
    spec = importlib.util.find_spec(entry["package"])
    if spec is None or not spec.submodule_search_locations:
        raise DatasetNotFoundError(
            f"the photograph {entry['path']} ships with the package {entry['package']}, "
            f"which is not installed: pip install {PIP_NAMES[entry['package']]}"
        )
    path = Path(spec.submodule_search_locations[0]) / entry["path"]
    if not path.is_file():
        raise DatasetNotFoundError(
            f"{path} is missing from the installed {entry['package']}: reinstall it "
            f"(pip install --force-reinstall {PIP_NAMES[entry['package']]})"
        )
    return path


def read_photo(name: str) -> np.ndarray:
    """The photograph or texture ``name`` as ``uint8`` pixels ``(H, W, 3)``."""
    from PIL import Image

    entry = PHOTOS.get(name) or TEXTURES.get(name)
    if entry is None:
        known = ", ".join([*PHOTOS, *TEXTURES])
        raise ValueError(f"no bundled photograph or texture named {name!r}; known: {known}")
    with Image.open(file_of(entry)) as image:
        return np.asarray(image.convert("RGB"), dtype=np.uint8)


def resize_and_crop(image: torch.Tensor, size: int) -> torch.Tensor:
    """``(3, H, W)`` pixels in [0, 1] to ``(3, size, size)``: the shorter side resized to
    ``size`` (bilinear, antialiased), then the centre cropped."""
    scale, (top, left), resized_shape = crop_geometry(image.shape[1:], size)
    resized = F.interpolate(image[None], size=resized_shape, mode="bilinear", antialias=True)[0]
    return resized[:, top : top + size, left : left + size].clamp(0, 1)


def crop_geometry(shape, size: int) -> tuple[float, tuple[int, int], tuple[int, int]]:
    """For an image of ``shape = (H, W)``: the resize factor, the crop's ``(top, left)`` in
    the resized image, and the resized ``(height, width)``."""
    height, width = int(shape[0]), int(shape[1])
    scale = size / min(height, width)
    resized = (max(size, round(height * scale)), max(size, round(width * scale)))
    return scale, ((resized[0] - size) // 2, (resized[1] - size) // 2), resized


def box_mask(box, shape, size: int) -> torch.Tensor:
    """The pixels ``(size, size)`` of :func:`resize_and_crop`'s view whose centres lie inside
    ``box`` ``[left, top, right, bottom]``, given in the original image of ``shape = (H, W)``."""
    scale, (top, left), _ = crop_geometry(shape, size)
    centres = torch.arange(size, dtype=torch.float64) + 0.5
    rows = (centres + top) / scale  # the centre of each view row, in original pixels
    cols = (centres + left) / scale
    inside_rows = (rows >= box[1]) & (rows < box[3])
    inside_cols = (cols >= box[0]) & (cols < box[2])
    return inside_rows[:, None] & inside_cols[None, :]


@dataclass
class PhotoSet:
    """Photographs at one size: ``images`` ``(N, 3, S, S)`` float32 pixels in [0, 1],
    ``labels`` ``(N,)`` ImageNet indices, ``accepted`` (a list of index lists), ``masks``
    ``(N, S, S)`` bool (their boxes), and ``names``."""

    images: torch.Tensor
    labels: torch.Tensor
    accepted: list[list[int]]
    masks: torch.Tensor
    names: list[str]


def photo_set(size: int, names: list[str] | None = None) -> PhotoSet:
    """The photographs ``names`` (all of :data:`PHOTOS` by default) as the network sees them
    at ``size`` pixels, with their labels and box masks."""
    names = list(PHOTOS) if names is None else names
    images, masks = [], []
    for name in names:
        pixels = read_photo(name)
        image = torch.from_numpy(pixels.copy()).permute(2, 0, 1).float() / 255
        images.append(resize_and_crop(image, size))
        masks.append(box_mask(PHOTOS[name]["box"], pixels.shape[:2], size))
    labels = torch.tensor([PHOTOS[name]["label"] for name in names])
    accepted = [list(PHOTOS[name]["accepted"]) for name in names]
    return PhotoSet(torch.stack(images), labels, accepted, torch.stack(masks), names)
