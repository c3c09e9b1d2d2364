"""One image file read as pixels: the one reader of every application (``--images``,
``--content``, ``--style``).

:func:`read_image` reads whatever Pillow reads (PNG, JPEG, TIFF, ...; RGB, RGBA, palette,
grayscale, any size) as ``(3, H, W)`` float32 pixels in [0, 1]. An 8-bit image is divided by
255. A 16-bit grayscale image (Pillow's modes ``I;16`` and ``I``, a 16-bit PNG) is divided by
65535: converting it to 8-bit RGB, as Pillow's ``convert("RGB")`` does, would clip every value
above 255 to white. A grayscale image is repeated over the three channels; an alpha channel is
dropped.

Every image is bounded before it is decoded: at most :data:`MAX_PIXELS` pixels (Pillow's own
decompression-bomb limit is about 179 million) and an aspect ratio of at most
:data:`MAX_ASPECT` to 1, so that no file makes an application's work or memory grow without
bound (a 1 x 1000 strip scaled to a 64-pixel short side would be 64 x 64,000).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")
"""Pillow's modes of a one-channel image with more than 8 bits (``I`` is 32-bit, which is how
older Pillows open a 16-bit PNG); their values are read on a 16-bit scale."""

MAX_PIXELS = 40_000_000
"""The most pixels an image file may have (about 6,300 x 6,300; a 40-megapixel photograph)."""
MAX_ASPECT = 8
"""The longest side of an image may be at most this many times its shortest."""


def read_image(path: str | Path, flag: str) -> torch.Tensor:
    """The image file at ``path`` as ``(3, H, W)`` float32 pixels in [0, 1].

    Raises:
        ValueError: naming ``flag`` when there is no file at ``path``, when Pillow cannot read
            it as an image (a decompression bomb included), or when it is larger than
            :data:`MAX_PIXELS` or more elongated than :data:`MAX_ASPECT` to 1.
    """
    with opened(path, flag) as image:
        rgb = pixels_of(image)
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).contiguous()


def check_image(path: str | Path, flag: str) -> None:
    """Raise the errors of :func:`read_image` that its header shows, without decoding it: a
    quick check before any slow work."""
    with opened(path, flag):
        pass


@contextlib.contextmanager
def opened(path: str | Path, flag: str) -> Iterator:
    """The image file at ``path`` opened by Pillow, its size checked (:func:`check_size`);
    every error, in the block too, becomes a ``ValueError`` naming ``flag``."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{flag}: no file at {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                check_size(image.size, path, flag)
                yield image
    except ImageTooLarge as error:
        raise ValueError(str(error)) from None
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as error:  # fmt: skip
        raise ValueError(f"{flag}: cannot read {path} as an image ({error})") from None


class ImageTooLarge(ValueError):
    """An image beyond :data:`MAX_PIXELS` or :data:`MAX_ASPECT`."""


def check_size(size: tuple[int, int], path: Path, flag: str) -> None:
    """Refuse an image of ``size = (width, height)`` beyond the bounds, before decoding it.

    Raises:
        ImageTooLarge: naming ``flag``, the file, its size and the bound it breaks.
    """
    width, height = size
    if width * height > MAX_PIXELS:
        raise ImageTooLarge(
            f"{flag}: {path} is {width} x {height} pixels, more than the {MAX_PIXELS:,} "
            "allowed; scale it down first"
        )
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise ImageTooLarge(
            f"{flag}: {path} is {width} x {height} pixels, its longer side more than "
            f"{MAX_ASPECT} times its shorter; crop it to an aspect ratio of at most {MAX_ASPECT}:1"
        )


def pixels_of(image) -> np.ndarray:
    """The Pillow ``image`` as ``(H, W, 3)`` float32 values in [0, 1]."""
    if image.mode in SIXTEEN_BIT_MODES:
        gray = np.asarray(image, dtype=np.float32) / 65535
        return np.repeat(np.clip(gray, 0, 1)[:, :, None], 3, axis=2)
    return np.asarray(image.convert("RGB"), dtype=np.float32) / 255
