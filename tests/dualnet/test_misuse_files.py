"""Misuse of the image inputs of ``visualize`` and ``style``, from the user's side: every
image is bounded before it is decoded, a bad file or name is one line before any slow work,
and a failed run leaves no empty ``--out`` folder."""

import numpy as np
import pytest
from PIL import Image

from dualnet import cli
from dualnet.data import image_file


def usage_error(argv: list[str], capsys) -> str:
    """Run ``dualnet argv``, expect exit status 2, and return its one line of error."""
    with pytest.raises(SystemExit) as stopped:
        cli.main(argv)
    assert stopped.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert "Traceback" not in "\n".join(lines)
    assert lines[-1].startswith(f"dualnet {argv[0]} {argv[1]}: error: ")
    return lines[-1]


def never_load_a_network(monkeypatch):
    """Make loading any network fail the test: the error must come before it."""
    from dualnet.apps import networks
    from dualnet.apps.style import network

    def slow_work(*args, **kwargs):
        raise AssertionError("the network was loaded before the bad input was reported")

    monkeypatch.setattr(network, "load_features", slow_work)
    monkeypatch.setattr(networks, "load_network", slow_work)


def write_png(path, height: int, width: int):
    Image.fromarray(np.full((height, width, 3), 128, dtype=np.uint8)).save(path)
    return path


def test_a_strip_of_an_image_is_refused_before_it_is_scaled(tmp_path, capsys, monkeypatch):
    never_load_a_network(monkeypatch)
    strip = write_png(tmp_path / "strip.png", 1, 1000)
    out = tmp_path / "out"
    argv = ["style", "transfer", "--content", str(strip), "--out", str(out)]
    line = usage_error(argv, capsys)
    assert "--content: " in line and "strip.png is 1000 x 1 pixels" in line
    assert "aspect ratio of at most 8:1" in line
    assert not out.exists()


def test_images_over_the_pixel_limit_are_refused_naming_it(tmp_path, capsys, monkeypatch):
    never_load_a_network(monkeypatch)
    monkeypatch.setattr(image_file, "MAX_PIXELS", 99)
    large = write_png(tmp_path / "large.png", 10, 10)
    line = usage_error(["visualize", "saliency", "--images", str(large)], capsys)
    assert "--images: " in line and "large.png is 10 x 10 pixels, more than the 99" in line


@pytest.mark.parametrize("pixels", [150, 400])  # over Pillow's limit: a warning, then an error
def test_a_decompression_bomb_is_an_error_of_the_flag(tmp_path, capsys, monkeypatch, pixels):
    never_load_a_network(monkeypatch)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    bomb = write_png(tmp_path / "bomb.png", 10, pixels // 10)
    out = tmp_path / "out"
    argv = ["style", "texture", "--style", str(bomb), "--content", "scene", "--out", str(out)]
    line = usage_error(argv, capsys)
    assert f"--style: cannot read {bomb} as an image" in line and "decompression bomb" in line
    assert not out.exists()


def test_a_misspelt_style_lists_the_built_in_ones(tmp_path, capsys, monkeypatch):
    never_load_a_network(monkeypatch)
    line = usage_error(["style", "texture", "--style", "starry", "--out", str(tmp_path)], capsys)
    assert line.endswith(
        "--style starry: neither a built-in image (stripes, mosaic, strokes, brick, grass, "
        "gravel) nor a file"
    )


def test_a_missing_content_file_is_reported_before_the_network_loads(tmp_path, capsys, monkeypatch):
    never_load_a_network(monkeypatch)
    out = tmp_path / "out"
    argv = ["style", "transfer", "--content", "holiday.jpg", "--out", str(out)]
    line = usage_error(argv, capsys)
    assert "--content holiday.jpg: neither a built-in image (chelsea, " in line
    assert not out.exists()


def test_a_missing_image_file_is_reported_before_the_network_loads(tmp_path, capsys, monkeypatch):
    never_load_a_network(monkeypatch)
    out = tmp_path / "out"
    argv = ["visualize", "saliency", "--images", "cat.jpg", "--out", str(out)]
    assert usage_error(argv, capsys).endswith("--images: no file at cat.jpg")
    assert not out.exists()


def test_a_failed_visualize_run_leaves_no_empty_out_folder(tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["visualize", "fool", "--target", "not-a-class", "--n-images", "1", "--out", str(out)]
    assert "--target 'not-a-class' is not a class of" in usage_error(argv, capsys)
    assert not out.exists()
    kept = tmp_path / "kept"  # a folder the user made stays, empty as it was
    kept.mkdir()
    usage_error([*argv[:-1], str(kept)], capsys)
    assert kept.is_dir() and list(kept.iterdir()) in ([], [kept / ".writer.lock"])
