"""The one image reader (``dualnet.data.image_file``): every mode Pillow reads as ``(3, H, W)``
pixels in [0, 1], 16-bit images scaled rather than clipped, and errors naming the flag."""

import numpy as np
import pytest
import torch
from PIL import Image

from dualnet.data.image_file import read_image


def test_eight_bit_images_of_every_mode_are_divided_by_255(tmp_path):
    rgb = np.array([[[0, 128, 255], [10, 20, 30]]], dtype=np.uint8)  # (1, 2, 3)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    image = read_image(tmp_path / "rgb.png", "--images")
    assert image.shape == (3, 1, 2) and image.dtype == torch.float32
    np.testing.assert_allclose(image.permute(1, 2, 0).numpy(), rgb / 255, rtol=1e-6)
    Image.fromarray(np.full((2, 3), 51, dtype=np.uint8), "L").save(tmp_path / "gray.png")
    gray = read_image(tmp_path / "gray.png", "--images")
    assert gray.shape == (3, 2, 3) and torch.allclose(gray, torch.full((3, 2, 3), 0.2))
    Image.new("RGBA", (4, 2), (255, 0, 0, 10)).save(tmp_path / "rgba.png")
    assert read_image(tmp_path / "rgba.png", "--images")[:, 0, 0].tolist() == [1.0, 0.0, 0.0]


def test_sixteen_bit_images_are_scaled_not_clipped(tmp_path):
    values = np.array([[0, 257, 32768, 65535]], dtype=np.uint16)  # (1, 4)
    Image.fromarray(values).save(tmp_path / "deep.png")  # a 16-bit grayscale PNG
    image = read_image(tmp_path / "deep.png", "--content")
    expected = values.astype(np.float64) / 65535  # 0, 1/255, about 0.5, 1
    for channel in image:
        np.testing.assert_allclose(channel.numpy(), expected, rtol=1e-6)
    assert len(set(image[0, 0].tolist())) == 4  # clipping at 255 would leave 0, 1/255... 1, 1


def test_what_is_not_an_image_is_refused_naming_the_flag(tmp_path):
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(ValueError, match="--style: cannot read .*notes.png as an image"):
        read_image(tmp_path / "notes.png", "--style")
    with pytest.raises(ValueError, match="--images: no file at .*missing.jpg"):
        read_image(tmp_path / "missing.jpg", "--images")
