"""The images of style transfer: files, a procedural content scene, and procedural styles.

Every image here is a float tensor of pixels in [0, 1], shape ``(3, H, W)``.

* :func:`~dualnet.data.image_file.read_image` (the one reader) reads any file Pillow reads;
* :func:`resize_shorter` resizes so that the shorter side has a given length, keeping the
  aspect ratio (as the course's ``T.Resize(size)`` does);
* :func:`content_scene` draws the offline content image: shapes of the embedded data set
  (their signed distance functions, anti-aliased) on a sky and a meadow;
* :data:`STYLES` names the offline style images, drawn deterministically at any size:
  ``stripes`` (diagonal bands at :data:`STRIPES_ANGLE`), ``mosaic`` (Voronoi tiles with dark
  grout) and ``strokes`` (short brush strokes following a swirling flow).

:func:`load_content` and :func:`load_style` choose between them and the bundled photographs
and textures (:mod:`dualnet.data.photos`) for the command line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from dualnet.data import embedded, photos
from dualnet.data.image_file import read_image

SCENE_SIZE = 192
STRIPES_ANGLE = 30.0
"""Angle of the ``stripes`` style's bands, in degrees counter-clockwise from the x axis (the
bands run along this direction; the image's rows grow downwards, so it is drawn mirrored)."""


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------


def resize_shorter(image: torch.Tensor, size: int) -> torch.Tensor:
    """``(3, H, W)`` resized (bilinear, antialiased) so that ``min(H, W) = size``."""
    height, width = image.shape[1:]
    scale = size / min(height, width)
    shape = (max(size, round(height * scale)), max(size, round(width * scale)))
    if shape == (height, width):
        return image.clone()
    resized = F.interpolate(image[None], size=shape, mode="bilinear", antialias=True)[0]
    return resized.clamp(0, 1)


def save_image(image: torch.Tensor, path: str | Path) -> Path:
    """Write ``(3, H, W)`` pixels in [0, 1] as an 8-bit PNG (atomically)."""
    from PIL import Image

    from dualnet.files import atomic_write

    array = (image.detach().cpu().clamp(0, 1).permute(1, 2, 0).numpy() * 255).round()
    picture = Image.fromarray(array.astype(np.uint8))
    return atomic_write(path, lambda file: picture.save(file, format="PNG"))


# --------------------------------------------------------------------------------------------
# The procedural content scene
# --------------------------------------------------------------------------------------------

SCENE_OBJECTS = (
    # shape, centre (x, y) and radius as fractions of the size, angle (degrees), colour
    ("disk", (0.78, 0.2), 0.11, 0.0, (0.98, 0.8, 0.25)),
    ("triangle", (0.3, 0.5), 0.2, 180.0, (0.75, 0.22, 0.2)),
    ("square", (0.3, 0.74), 0.14, 0.0, (0.9, 0.88, 0.8)),
    ("star", (0.72, 0.66), 0.16, 10.0, (0.3, 0.35, 0.85)),
    ("ring", (0.52, 0.86), 0.08, 0.0, (0.95, 0.95, 0.95)),
)


def paint_shape(image: np.ndarray, name: str, centre, radius: float, angle: float, colour):
    """Blend one shape of the embedded set over ``image`` ``(3, S, S)``, anti-aliased."""
    size = image.shape[-1]
    pixels = np.arange(size, dtype=np.float32) + 0.5
    x, y = np.meshgrid(pixels, pixels, indexing="xy")
    cx, cy, r = centre[0] * size, centre[1] * size, radius * size
    cos, sin = np.cos(np.radians(angle)), np.sin(np.radians(angle))
    u = (((x - cx) * cos + (y - cy) * sin) / r)[None]
    v = (((cx - x) * sin + (y - cy) * cos) / r)[None]
    distance = embedded.SHAPES[name](u, v, np.random.default_rng(0))[0]
    alpha = np.clip(0.5 - distance * r, 0, 1)  # distance in pixels, half a pixel of blur
    return image * (1 - alpha) + np.asarray(colour, np.float32)[:, None, None] * alpha


def content_scene(size: int = SCENE_SIZE, seed: int = 0) -> torch.Tensor:
    """The offline content image ``(3, size, size)``: a sky, a meadow, a sun, a roof, a wall,
    a star and a ring, drawn with the embedded shapes' signed distance functions, plus a
    little texture and noise (seeded)."""
    rng = np.random.default_rng(seed)
    rows = (np.arange(size, dtype=np.float32) + 0.5) / size
    sky = np.array([0.35, 0.6, 0.9], np.float32)[:, None] * (1 - 0.5 * rows) + 0.35 * rows
    meadow = np.array([0.25, 0.55, 0.2], np.float32)[:, None] * (1.1 - 0.4 * rows)
    column = np.where(rows < 0.62, sky, meadow)
    image = np.repeat(column[:, :, None], size, axis=2)
    for name, centre, radius, angle, colour in SCENE_OBJECTS:
        image = paint_shape(image, name, centre, radius, angle, colour)
    image = image + rng.normal(0, 0.02, image.shape).astype(np.float32)
    return torch.from_numpy(np.clip(image, 0, 1).astype(np.float32))


# --------------------------------------------------------------------------------------------
# Procedural styles
# --------------------------------------------------------------------------------------------


def stripes(size: int, seed: int = 0) -> torch.Tensor:
    r"""Diagonal bands of three colours along :data:`STRIPES_ANGLE`, each ``size / 32`` wide,
    with anti-aliased edges. The band index of a pixel is
    :math:`\lfloor n / w \rfloor \bmod 3` with :math:`n = -x \sin\theta + y \cos\theta`
    (:math:`y` upwards)."""
    palette = np.array([[0.9, 0.75, 0.2], [0.15, 0.3, 0.6], [0.85, 0.35, 0.25]], np.float32)
    width = size / 32
    pixels = np.arange(size, dtype=np.float32) + 0.5
    x, y = np.meshgrid(pixels, size - pixels, indexing="xy")
    theta = np.radians(STRIPES_ANGLE)
    phase = (-x * np.sin(theta) + y * np.cos(theta)) / width
    band = np.floor(phase).astype(int)
    blend = np.clip((phase - band) * width + 0.5, 0, 1)[None]  # one pixel of edge
    current, previous = palette[band % 3].transpose(2, 0, 1), palette[(band - 1) % 3]
    image = previous.transpose(2, 0, 1) * (1 - blend) + current * blend
    return torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))


def mosaic(size: int, seed: int = 0) -> torch.Tensor:
    """Voronoi tiles around one jittered point per cell of an 8x8 grid, each in a colour of
    a warm and cool palette, separated by dark grout where the nearest two points are about
    equally near."""
    rng = np.random.default_rng(seed)
    cells = 8
    cell = size / cells
    rows, cols = np.indices((cells, cells))
    grid = np.stack([cols, rows], axis=-1)  # (x, y) of every cell's corner, in cells
    points = (grid + rng.uniform(0.15, 0.85, (cells, cells, 2))) * cell
    palette = np.array(
        [[0.8, 0.3, 0.2], [0.95, 0.7, 0.3], [0.2, 0.45, 0.7], [0.3, 0.6, 0.5], [0.9, 0.9, 0.8]],
        np.float32,
    )
    colours = palette[rng.integers(0, len(palette), (cells, cells))]
    colours = np.clip(colours + rng.normal(0, 0.06, colours.shape), 0, 1)
    pixels = np.arange(size, dtype=np.float32) + 0.5
    x, y = np.meshgrid(pixels, pixels, indexing="xy")
    flat = points.reshape(-1, 2).astype(np.float32)
    nearest = np.full((2, size, size), np.inf, np.float32)  # nearest and second distance
    owner = np.zeros((size, size), int)
    for index, (px, py) in enumerate(flat):
        distance = np.hypot(x - px, y - py)
        closer = distance < nearest[0]
        nearest[1] = np.where(closer, nearest[0], np.minimum(nearest[1], distance))
        owner = np.where(closer, index, owner)
        nearest[0] = np.where(closer, distance, nearest[0])
    image = colours.reshape(-1, 3)[owner].transpose(2, 0, 1)
    grout = np.clip((nearest[1] - nearest[0]) - 0.02 * size, 0, 1)[None]
    image = image * grout + 0.12 * (1 - grout)
    return torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))


def flow_angle(x: np.ndarray, y: np.ndarray, size: int) -> np.ndarray:
    """The direction of the brush at ``(x, y)``: a smooth swirl of a few sinusoids."""
    u, v = x / size * 2 * np.pi, y / size * 2 * np.pi
    return 0.9 * np.sin(1.3 * u + 0.4) + 0.8 * np.cos(1.1 * v - 0.7) + 0.5 * np.sin(u + v)


def strokes(size: int, seed: int = 0) -> torch.Tensor:
    """Short brush strokes (capsules ``size / 16`` long) in blues, yellows and white on a
    dark blue ground, each along a swirling flow field, painted in random order."""
    rng = np.random.default_rng(seed)
    palette = np.array(
        [[0.1, 0.2, 0.5], [0.25, 0.45, 0.8], [0.55, 0.75, 0.95], [0.95, 0.85, 0.3],
         [0.98, 0.97, 0.9], [0.15, 0.35, 0.35]], np.float32,
    )  # fmt: skip
    ground = np.array([0.08, 0.12, 0.3], np.float32)
    image = np.repeat(np.repeat(ground[:, None, None], size, axis=1), size, axis=2)
    half_length, half_width = size / 32, max(1.0, size / 110)
    count = int(1400 * (size / 192) ** 2)
    centres = rng.uniform(0, size, (count, 2))
    colours = palette[rng.integers(0, len(palette), count)]
    colours = np.clip(colours + rng.normal(0, 0.05, (count, 3)), 0, 1)
    reach = int(np.ceil(half_length + half_width + 1))
    for (cx, cy), colour in zip(centres, colours, strict=True):
        top, left = max(0, int(cy) - reach), max(0, int(cx) - reach)
        rows = np.arange(top, min(size, int(cy) + reach + 1)) + 0.5
        cols = np.arange(left, min(size, int(cx) + reach + 1)) + 0.5
        x, y = np.meshgrid(cols, rows, indexing="xy")
        angle = flow_angle(np.array(cx), np.array(cy), size)
        cos, sin = np.cos(angle), np.sin(angle)
        along = np.clip((x - cx) * cos + (y - cy) * sin, -half_length, half_length)
        distance = np.hypot(x - cx - along * cos, y - cy - along * sin)  # to the stroke's axis
        alpha = np.clip(half_width + 0.5 - distance, 0, 1)[None] * 0.9
        window = image[:, top : top + len(rows), left : left + len(cols)]
        window[:] = window * (1 - alpha) + colour[:, None, None] * alpha
    return torch.from_numpy(image)


STYLES = {"stripes": stripes, "mosaic": mosaic, "strokes": strokes}
"""The procedural styles, by name: ``STYLES[name](size, seed=0) -> (3, size, size)``."""
TEXTURES = tuple(photos.TEXTURES)
"""The real textures (``brick``, ``grass``, ``gravel``: photographs scikit-image ships)."""
DEFAULT_CONTENT = "chelsea"
"""The content photograph when ``--content`` is not given (a bundled photograph)."""
SCENE = "scene"
"""The ``--content`` name of the procedural scene."""


def bundled_photo(name: str, size: int) -> torch.Tensor:
    """A bundled photograph or texture (:mod:`dualnet.data.photos`) with its shorter side
    resized to ``size``."""
    pixels = photos.read_photo(name).copy()
    return resize_shorter(torch.from_numpy(pixels).permute(2, 0, 1).float() / 255, size)


def load_style(spec: str, size: int) -> tuple[torch.Tensor, str]:
    """The style image for ``--style``: a procedural style drawn at ``size``, a bundled
    texture, or a file, with its shorter side resized to ``size``; and its name."""
    if spec in STYLES:
        return STYLES[spec](size), spec
    if spec in TEXTURES:
        return bundled_photo(spec, size), spec
    check_file(spec, "--style", [*STYLES, *TEXTURES])
    return resize_shorter(read_image(spec, "--style"), size), Path(spec).name


def load_content(spec: str | None, size: int) -> tuple[torch.Tensor, str]:
    """The content image for ``--content``: a bundled photograph (:data:`DEFAULT_CONTENT`
    when ``None``), the procedural scene (``scene``) drawn at ``size``, or a file with its
    shorter side resized to ``size``; and its name."""
    spec = DEFAULT_CONTENT if spec is None else spec
    if spec == SCENE:
        return content_scene(size), SCENE
    if spec in photos.PHOTOS:
        return bundled_photo(spec, size), spec
    check_file(spec, "--content", [*photos.PHOTOS, SCENE])
    return resize_shorter(read_image(spec, "--content"), size), Path(spec).name


def check_file(spec: str, flag: str, names: list[str]) -> None:
    """Refuse ``spec`` when it is neither one of the built-in ``names`` nor a file, listing
    them: ``--style starry`` is more likely a misspelt name than a missing file."""
    if not Path(spec).is_file():
        raise ValueError(f"{flag} {spec}: neither a built-in image ({', '.join(names)}) nor a file")
