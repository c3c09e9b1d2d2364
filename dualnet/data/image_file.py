"""One image file read as pixels: the one reader of every application (``--images``,
``--content``, ``--style``).

:func:`read_image` reads whatever Pillow reads (PNG, JPEG, TIFF, ...; RGB, RGBA, palette,
grayscale, any size) as ``(3, H, W)`` float32 pixels in [0, 1]. An 8-bit image is divided by
255. A 16-bit grayscale image (Pillow's modes ``I;16`` and ``I``, a 16-bit PNG) is divided by
65535: converting it to 8-bit RGB, as Pillow's ``convert("RGB")`` does, would clip every value
above 255 to white. A grayscale image is repeated over the three channels; an alpha channel is
dropped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")
"""Pillow's modes of a one-channel image with more than 8 bits (``I`` is 32-bit, which is how
older Pillows open a 16-bit PNG); their values are read on a 16-bit scale."""


def read_image(path: str | Path, flag: str) -> torch.Tensor:
    """The image file at ``path`` as ``(3, H, W)`` float32 pixels in [0, 1].

    Raises:
        ValueError: naming ``flag`` when there is no file at ``path``, or Pillow cannot read
            it as an image.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{flag}: no file at {path}")
    try:
        with Image.open(path) as image:
            if image.mode in SIXTEEN_BIT_MODES:
                gray = np.asarray(image, dtype=np.float32) / 65535
                rgb = np.repeat(np.clip(gray, 0, 1)[:, :, None], 3, axis=2)
            else:
                rgb = np.asarray(image.convert("RGB"), dtype=np.float32) / 255
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise ValueError(f"{flag}: cannot read {path} as an image ({error})") from None
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).contiguous()
