r"""The embedded dataset: ten classes of procedurally drawn shapes, no download needed.

Every image is a 32x32 RGB picture of one shape: its class is the shape's geometry, and
everything else is random nuisance that carries no class information.

1. **Background**: a linear gradient between two random colours in a random direction, plus a
   smooth random colour texture (a 5x5 grid of Gaussian values, bilinearly upsampled).
2. **Clutter**: up to three dots or short bars of random colour anywhere in the image.
3. **Shape**: the class's signed distance function :math:`d(u, v)` (negative inside), written
   in the shape's own frame of radius about one, is evaluated at every pixel centre mapped into
   that frame: centre near the middle of the image, random scale, random rotation. The pixel is
   covered with weight :math:`\alpha = \operatorname{clip}(1/2 - d / \delta, 0, 1)`, where
   :math:`\delta` is the pixel size in the shape's frame: edges are anti-aliased. The shape is
   painted in a random colour at least :data:`MIN_CONTRAST` brighter (in luma) than the
   background colour; hue and brightness vary freely, so colour does not tell the classes
   apart. The shapes are sized to cover about the same area, so neither does the amount of
   foreground.
4. **Noise**: independent Gaussian noise on every pixel and channel, with a standard deviation
   drawn per image from :data:`NOISE`.

All of it is vectorized over chunks of images with NumPy, so the whole set is drawn in seconds.
The result depends only on the sizes, the seed and :data:`VERSION` (for a given NumPy build:
another libm may round a few pixels differently): each split has its own random stream, so the
test set does not change when the training set grows. It is cached in
``embedded-v{VERSION}-seed{seed}-{train}-{val}-{test}.npz``; bump :data:`VERSION` whenever
the drawing changes so that stale caches are not read.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from dualnet.data import paths
from dualnet.data.images import ImageSplits, channel_stats
from dualnet.files import atomic_write

VERSION = 1
"""Version of the drawing code, part of the cache file name: raise it whenever the images change."""
SIZE = 32
SIZES = (15_000, 1_000, 2_000)
"""Default numbers of train, validation and test images."""
SEED = 0
SPLITS = ("train", "val", "test")
CHUNK = 1_000
"""Images drawn at once; bounds the memory the drawing needs."""

CENTER = 0.1
"""Largest offset of the shape's centre from the image centre, in half-image units."""
SCALE = (0.4, 0.7)
"""Range of the shape's radius, in half-image units (0.5 is 8 pixels)."""
MIN_CONTRAST = 0.25
"""Least luma difference between the shape's colour and the background colour."""
TEXTURE = 0.25
"""Largest standard deviation of the smooth background texture."""
CLUTTER = 3
"""Most dots or bars of clutter per image."""
NOISE = (0.2, 0.4)
"""Range of the per-image standard deviation of the pixel noise (values in [0, 1])."""

LUMA = np.array([0.299, 0.587, 0.114])

Array = np.ndarray
Shape = Callable[[Array, Array, np.random.Generator], Array]


def _box(u: Array, v: Array, half_u: Array | float, half_v: Array | float) -> Array:
    """Signed distance to an axis-aligned rectangle with the given half sides."""
    qu = np.abs(u) - half_u
    qv = np.abs(v) - half_v
    outside = np.hypot(np.maximum(qu, 0), np.maximum(qv, 0))
    return outside + np.minimum(np.maximum(qu, qv), 0)


def _polygon(u: Array, v: Array, corners: int, apothem: float) -> Array:
    """Signed distance (exact inside, a lower bound outside) to a regular polygon."""
    normals = np.pi / 2 + 2 * np.pi * np.arange(corners) / corners + np.pi / corners
    edges = [u * np.cos(a) + v * np.sin(a) for a in normals]
    return np.maximum.reduce(edges) - apothem


def _uniform(rng: np.random.Generator, low: float, high: float, like: Array) -> Array:
    """One value per image, shaped to broadcast against ``like`` of shape ``(n, S, S)``."""
    return rng.uniform(low, high, (like.shape[0], 1, 1)).astype(np.float32)


def disk(u: Array, v: Array, rng: np.random.Generator) -> Array:
    """A filled disk of radius 0.72."""
    return np.hypot(u, v) - 0.72


def ring(u: Array, v: Array, rng: np.random.Generator) -> Array:
    """An annulus of outer radius 0.9 and random width 0.28 to 0.48."""
    half_width = _uniform(rng, 0.14, 0.24, u)
    return np.abs(np.hypot(u, v) - (0.9 - half_width)) - half_width


def square(u: Array, v: Array, rng: np.random.Generator) -> Array:
    """A filled square of side 1.28."""
    return _box(u, v, 0.64, 0.64)


def triangle(u: Array, v: Array, rng: np.random.Generator) -> Array:
    """A filled equilateral triangle with its inscribed circle of radius 0.56."""
    return _polygon(u, v, 3, 0.56)


def cross(u: Array, v: Array, rng: np.random.Generator) -> Array:
    """Two perpendicular bars of length 1.9 and random width 0.4 to 0.6."""
    half_width = _uniform(rng, 0.2, 0.3, u)
    return np.minimum(_box(u, v, 0.95, half_width), _box(u, v, half_width, 0.95))


def star(u: Array, v: Array, rng: np.random.Generator) -> Array:
    """A five-pointed star of outer radius 1 and random inner radius 0.35 to 0.5."""
    inner = _uniform(rng, 0.35, 0.5, u)
    # 1 towards the five points, 0 halfway between them
    spoke = np.abs((np.arctan2(v, u) * 5 / (2 * np.pi)) % 1.0 - 0.5) * 2
    return (np.hypot(u, v) - (inner + (1 - inner) * spoke)) * 0.6


def stripes(u: Array, v: Array, rng: np.random.Generator) -> Array:
    """Two or three parallel bars (half of every period) cut out of a disk of radius 1."""
    frequency = rng.integers(2, 4, (u.shape[0], 1, 1)).astype(np.float32) / 2
    bars = (np.abs((u * frequency + 0.25) % 1.0 - 0.5) - 0.25) / frequency
    return np.maximum(np.hypot(u, v) - 1.0, bars)


def checkerboard(u: Array, v: Array, rng: np.random.Generator) -> Array:
    """A square of side 1.8 painted as a checkerboard of cells of side 0.5."""
    cu = u % 1.0 - 0.5
    cv = v % 1.0 - 0.5
    checks = -np.minimum(np.abs(cu), np.abs(cv)) * np.sign(cu * cv)
    return np.maximum(_box(u, v, 0.9, 0.9), checks)


def two_disks(u: Array, v: Array, rng: np.random.Generator) -> Array:
    """Two disks of random radius 0.45 to 0.55, centres 1.24 to 1.44 apart."""
    offset = _uniform(rng, 0.62, 0.72, u)
    radius = _uniform(rng, 0.45, 0.55, u)
    return np.minimum(np.hypot(u - offset, v), np.hypot(u + offset, v)) - radius


def crescent(u: Array, v: Array, rng: np.random.Generator) -> Array:
    """A disk of radius 1 with an off-centre disk of radius 0.8 cut out of it."""
    offset = _uniform(rng, 0.45, 0.6, u)
    return np.maximum(np.hypot(u, v) - 1.0, 0.8 - np.hypot(u - offset, v))


SHAPES: dict[str, Shape] = {
    "disk": disk,
    "ring": ring,
    "square": square,
    "triangle": triangle,
    "cross": cross,
    "star": star,
    "stripes": stripes,
    "checkerboard": checkerboard,
    "two disks": two_disks,
    "crescent": crescent,
}
CLASSES = tuple(SHAPES)
"""The ten class names, in label order."""


def _pixel_grid(size: int = SIZE) -> tuple[Array, Array]:
    """Pixel centres in half-image units, ``(S, S)`` each: x along columns, y along rows."""
    centres = (np.arange(size, dtype=np.float32) + 0.5) / (size / 2) - 1
    return np.meshgrid(centres, centres, indexing="xy")


def _upsampling(points: int, size: int = SIZE) -> Array:
    """Bilinear interpolation from ``points`` control values to ``size`` pixels,
    ``(size, points)``."""
    position = (np.arange(size) + 0.5) / size * (points - 1)
    low = np.minimum(np.floor(position).astype(int), points - 2)
    weights = np.zeros((size, points), np.float32)
    weights[np.arange(size), low] = 1 - (position - low)
    weights[np.arange(size), low + 1] = position - low
    return weights


def _colours(rng: np.random.Generator, n: int) -> tuple[Array, Array]:
    """Shape and background colours, ``(n, 3)`` each, the shape brighter by ``MIN_CONTRAST``."""
    shape = rng.uniform(0, 1, (n, 3))
    background = rng.uniform(0, 1, (n, 3))
    redraw = (shape - background) @ LUMA < MIN_CONTRAST
    while redraw.any():
        shape[redraw] = rng.uniform(0, 1, (redraw.sum(), 3))
        background[redraw] = rng.uniform(0, 1, (redraw.sum(), 3))
        redraw = (shape - background) @ LUMA < MIN_CONTRAST
    return shape.astype(np.float32), background.astype(np.float32)


def _paint(images: Array, alpha: Array, colour: Array) -> Array:
    """Blend ``colour`` ``(n, 3)`` over ``images`` ``(n, 3, S, S)`` with coverage ``(n, S, S)``."""
    alpha = alpha[:, None]
    return images * (1 - alpha) + colour[:, :, None, None] * alpha


def _background(rng: np.random.Generator, colour: Array, x: Array, y: Array) -> Array:
    """Gradient from ``colour`` to a nearby colour plus smooth texture, ``(n, 3, S, S)``."""
    n = colour.shape[0]
    other = np.clip(colour + rng.normal(0, 0.15, (n, 3)), 0, 1).astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi, (n, 1, 1)).astype(np.float32)
    t = np.clip(0.5 + 0.5 * (x * np.cos(angle) + y * np.sin(angle)), 0, 1)[:, None]
    images = colour[:, :, None, None] * (1 - t) + other[:, :, None, None] * t
    up = _upsampling(5, x.shape[-1])
    texture = np.einsum("ik,nckl,jl->ncij", up, rng.normal(0, 1, (n, 3, 5, 5)), up)
    strength = rng.uniform(0, TEXTURE, (n, 1, 1, 1))
    return images + (texture * strength).astype(np.float32)


def _clutter(rng: np.random.Generator, images: Array, x: Array, y: Array) -> Array:
    """Paint up to ``CLUTTER`` dots and bars of random colour over ``images``."""
    n = images.shape[0]
    pixel = 2 / x.shape[-1]
    count = rng.integers(0, CLUTTER + 1, n)
    for item in range(CLUTTER):
        start = rng.uniform(-1, 1, (n, 2))
        # half of the items are dots (length 0), the others bars
        length = rng.uniform(0, 0.6, n) * (rng.uniform(0, 1, n) < 0.5)
        angle = rng.uniform(0, 2 * np.pi, n)
        half_width = rng.uniform(0.05, 0.12, (n, 1, 1))
        colour = rng.uniform(0, 1, (n, 3)).astype(np.float32)
        ax, ay = start[:, 0, None, None], start[:, 1, None, None]
        dx = (length * np.cos(angle))[:, None, None]
        dy = (length * np.sin(angle))[:, None, None]
        along = np.clip(((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy + 1e-6), 0, 1)
        distance = np.hypot(x - ax - along * dx, y - ay - along * dy) - half_width
        alpha = np.clip(0.5 - distance / pixel, 0, 1) * (item < count)[:, None, None]
        images = _paint(images, alpha.astype(np.float32), colour)
    return images


def _shape_coverage(rng: np.random.Generator, labels: Array, x: Array, y: Array) -> Array:
    """Anti-aliased coverage ``(n, S, S)`` of each image's shape, placed at random."""
    n = len(labels)
    cx, cy = rng.uniform(-CENTER, CENTER, (2, n, 1, 1)).astype(np.float32)
    scale = rng.uniform(*SCALE, (n, 1, 1)).astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi, (n, 1, 1)).astype(np.float32)
    cos, sin = np.cos(angle), np.sin(angle)
    u = ((x - cx) * cos + (y - cy) * sin) / scale
    v = ((cx - x) * sin + (y - cy) * cos) / scale
    size = x.shape[-1]
    distance = np.empty((n, size, size), np.float32)
    for label, shape in enumerate(SHAPES.values()):
        members = labels == label
        if members.any():
            distance[members] = shape(u[members], v[members], rng)
    pixel = (2 / size) / scale
    return np.clip(0.5 - distance / pixel, 0, 1)


def draw(labels: Array, rng: np.random.Generator, size: int = SIZE) -> tuple[Array, Array]:
    """Draw one image of each labelled class, with the shape's mask.

    Args:
        labels: Class indices in ``[0, 10)``, shape ``(n,)``.
        rng: The random stream; the images depend only on its state, ``labels`` and ``size``.
        size: Image height and width ``S`` in pixels (the shapes scale with it).

    Returns:
        ``(images, masks)``: ``uint8`` images of shape ``(n, 3, S, S)`` and ``bool`` masks
        ``(n, S, S)``, true where the shape covers at least half of the pixel.

    Raises:
        ValueError: If ``labels`` is not a vector of integers in ``[0, 10)``.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"draw: labels has shape {labels.shape} and dtype {labels.dtype}, "
            "expected a vector of integer class indices"
        )
    if labels.size and not 0 <= labels.min() <= labels.max() < len(CLASSES):
        raise ValueError(
            f"draw: labels range from {labels.min()} to {labels.max()}, "
            f"expected class indices in [0, {len(CLASSES)})"
        )
    x, y = _pixel_grid(size)
    shape_colour, background_colour = _colours(rng, len(labels))
    images = _background(rng, background_colour, x, y)
    images = _clutter(rng, images, x, y)
    coverage = _shape_coverage(rng, labels, x, y)
    images = _paint(images, coverage, shape_colour)
    sigma = rng.uniform(*NOISE, (len(labels), 1, 1, 1))
    images = images + (rng.normal(0, 1, images.shape) * sigma).astype(np.float32)
    return np.clip(np.rint(images * 255), 0, 255).astype(np.uint8), coverage >= 0.5


def generate(
    n: int, seed: int = SEED, split: str = "train", size: int = SIZE, masks: bool = False
) -> tuple[Array, ...]:
    """Generate one split of the embedded dataset.

    The labels are a random permutation of ``0, 1, ..., 9, 0, 1, ...``, so every class has
    ``n // 10`` or ``n // 10 + 1`` images; the images are drawn :data:`CHUNK` at a time.

    Args:
        n: Number of images, ``>= 0``.
        seed: The dataset seed.
        split: ``"train"``, ``"val"`` or ``"test"``: each split has its own random stream.
        size: Image height and width ``S`` (32 for the classic set).
        masks: Also return the shapes' masks.

    Returns:
        ``(images, labels)``: ``uint8`` array ``(n, 3, S, S)`` and ``int64`` array ``(n,)``;
        with ``masks``, also the ``bool`` masks ``(n, S, S)`` of :func:`draw`.

    Raises:
        ValueError: If ``n`` is negative or ``split`` unknown.
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ValueError(f"generate: n must be an int >= 0, got {n!r}")
    if split not in SPLITS:
        raise ValueError(f"generate: split must be one of {SPLITS}, got {split!r}")
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(SPLITS.index(split),)))
    labels = rng.permutation(np.arange(n) % len(CLASSES)).astype(np.int64)
    images = np.empty((n, 3, size, size), np.uint8)
    shape_masks = np.empty((n, size, size), bool)
    for start in range(0, n, CHUNK):
        chunk = slice(start, start + CHUNK)
        images[chunk], shape_masks[chunk] = draw(labels[chunk], rng, size)
    return (images, labels, shape_masks) if masks else (images, labels)


def cache_path(
    data_root: str | os.PathLike | None = None,
    sizes: tuple[int, int, int] = SIZES,
    seed: int = SEED,
    size: int = SIZE,
) -> Path:
    """The cache file for the given sizes, seed and image size, under
    :func:`dualnet.data.paths.data_root`."""
    train, val, test = sizes
    pixels = "" if size == SIZE else f"-{size}px"
    name = f"embedded-v{VERSION}-seed{seed}-{train}-{val}-{test}{pixels}.npz"
    return paths.data_root(data_root) / name


def _read_cache(path: Path, sizes: tuple[int, int, int], size: int) -> dict[str, Array] | None:
    """The cached arrays, or ``None`` if the file is missing, damaged or of another version."""
    try:
        with np.load(path, allow_pickle=False) as file:
            arrays = {key: file[key] for key in file.files}
    except (OSError, ValueError, EOFError):
        return None
    if int(arrays.get("version", -1)) != VERSION:
        return None
    for split, n in zip(SPLITS, sizes, strict=True):
        images, labels = arrays.get(f"{split}_images"), arrays.get(f"{split}_labels")
        if images is None or labels is None:
            return None
        if images.shape != (n, 3, size, size) or images.dtype != np.uint8:
            return None
        if labels.shape != (n,) or labels.dtype != np.int64:
            return None
    if arrays.get("test_masks", np.zeros(0)).shape != (sizes[2], size, size):
        return None
    return arrays


def load_embedded(
    data_root: str | os.PathLike | None = None,
    sizes: tuple[int, int, int] | None = None,
    seed: int = SEED,
    cache: bool = True,
    size: int = SIZE,
) -> ImageSplits:
    """Load the embedded dataset, generating and caching it on first use.

    Args:
        data_root: Cache folder; by default ``$DUALNET_CACHE`` or ``~/.cache/dualnet``.
        sizes: Numbers of ``(train, val, test)`` images; by default :data:`SIZES`. Small
            sizes give a quick set for tests; each split's images depend only on its own size.
        seed: The dataset seed.
        cache: Read and write the cache file; ``False`` always generates and writes nothing.
            A cache that cannot be written only gives a warning.
        size: Image height and width (32 for the classic set; the shapes scale with it).

    Returns:
        An :class:`~dualnet.data.images.ImageSplits` named ``"embedded"`` with the class names
        :data:`CLASSES` and the channel statistics of its ``train`` images.

    Raises:
        ValueError: If ``sizes`` is not three ints ``>= 0`` with at least one training image.
    """
    sizes = tuple(SIZES if sizes is None else sizes)
    valid = len(sizes) == 3 and all(
        isinstance(s, int | np.integer) and not isinstance(s, bool) and s >= 0 for s in sizes
    )
    if not valid or sizes[0] < 1:
        raise ValueError(
            f"load_embedded: sizes must be three ints (train, val, test) >= 0 with "
            f"train >= 1, got {sizes!r}"
        )
    sizes = tuple(int(s) for s in sizes)
    path = cache_path(data_root, sizes, seed, size)
    arrays = _read_cache(path, sizes, size) if cache else None
    if arrays is None:
        where = f"; caching it in {path}" if cache else ""
        print(
            f"generating the embedded dataset ({sum(sizes):,} images, once){where}",
            file=sys.stderr,
            flush=True,
        )
        arrays = {"version": np.array(VERSION)}
        for split, n in zip(SPLITS, sizes, strict=True):
            images, labels, masks = generate(n, seed, split, size, masks=True)
            arrays[f"{split}_images"], arrays[f"{split}_labels"] = images, labels
        arrays["test_masks"] = masks
        if cache:
            try:
                atomic_write(path, lambda file: np.savez(file, **arrays))
            except OSError as error:
                warnings.warn(
                    f"load_embedded: could not cache the dataset in {path}: {error}",
                    stacklevel=2,
                )
    splits = {
        split: (
            torch.from_numpy(arrays[f"{split}_images"]),
            torch.from_numpy(arrays[f"{split}_labels"]),
        )
        for split in SPLITS
    }
    mean, std = channel_stats(splits["train"][0])
    test_masks = torch.from_numpy(arrays["test_masks"])
    return ImageSplits("embedded", CLASSES, **splits, mean=mean, std=std, test_masks=test_masks)
