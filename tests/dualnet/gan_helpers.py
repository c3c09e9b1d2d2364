"""Files in the formats the GAN application reads, written by the tests."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
from cache_helpers import data_cache

IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049
"""The IDX magic numbers of MNIST: 0x00000803 (uint8, 3 dimensions), 0x00000801 (1)."""


def write_idx_images(path: Path, images: np.ndarray) -> None:
    """``uint8`` images ``(N, H, W)`` as an IDX file: big-endian magic, N, H, W, then pixels."""
    count, height, width = images.shape
    header = struct.pack(">IIII", IMAGES_MAGIC, count, height, width)
    path.write_bytes(header + images.astype(np.uint8).tobytes())


def write_idx_labels(path: Path, labels: np.ndarray) -> None:
    """Labels ``(N,)`` as an IDX file: big-endian magic, N, then one byte per label."""
    path.write_bytes(
        struct.pack(">II", LABELS_MAGIC, len(labels)) + labels.astype(np.uint8).tobytes()
    )


def write_mnist(root: Path, train: int = 30, test: int = 10, size: int = 28, seed: int = 0):
    """Small MNIST files where torchvision looks for them, ``root/MNIST/raw/``; returns the
    arrays written: ``{"train": (images, labels), "test": (images, labels)}``."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    written = {}
    for split, count, prefix in (("train", train, "train"), ("test", test, "t10k")):
        images = rng.integers(0, 256, (count, size, size), dtype=np.uint8)
        labels = rng.integers(0, 10, count, dtype=np.uint8)
        write_idx_images(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx_labels(raw / f"{prefix}-labels-idx1-ubyte", labels)
        written[split] = (images, labels)
    return written


def shared_cache(tmp_path_factory) -> Path:
    """The run's data cache (:func:`data_cache`, the ``session_cache`` fixture's folder), for
    the GAN tests: the embedded digits are converted and the digit classifier trained once."""
    return data_cache(tmp_path_factory)
