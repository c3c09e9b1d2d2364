"""CIFAR-10 from the python-pickle batches, downloaded through torchvision when missing.

The dataset lives in ``DATA_ROOT/cifar-10-batches-py/`` in the layout of the official archive
https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz: ``data_batch_1`` ... ``data_batch_5``,
``test_batch`` and ``batches.meta``. Each batch is a pickled dict whose ``b"data"`` holds one
image per row as 3072 ``uint8`` values (the 1024 red values, then green, then blue, each row by
row) and whose ``b"labels"`` holds the class indices.

The batches are read by :func:`read_batch`, a small reader of that format, so any files in it
load, whatever their size. torchvision is used only to fetch and unpack the archive (and
imported only then): its own ``CIFAR10`` dataset checks the md5 sum of every file it reads,
which files written by a test cannot pass.
"""

from __future__ import annotations

import os
import pickle
import socket
from pathlib import Path

import numpy as np
import torch

from dualnet.data.images import ImageSplits, channel_stats
from dualnet.data.paths import DatasetNotFoundError

# the values of torchvision.datasets.CIFAR10 (torchvision itself is imported only to download)
URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
ARCHIVE = "cifar-10-python.tar.gz"
ARCHIVE_MD5 = "c58f30108f718f92721af3b95e74349a"
FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
META = "batches.meta"
CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
"""The class names, used when ``batches.meta`` is absent."""
VAL_FRACTION = 1 / 50
"""The last ``1/50`` of the training batches is the validation split: 1,000 of 50,000."""
DOWNLOAD_TIMEOUT = 15.0
"""Seconds any one network operation may wait before the download gives up."""


def missing_message(root: Path, reason: str) -> str:
    """The instructions printed when CIFAR-10 cannot be found or downloaded."""
    return (
        f"CIFAR-10 is not in {root / FOLDER} and {reason}.\n"
        f"Download {URL}\n"
        f"and extract it into {root}, so that {root / FOLDER / 'data_batch_1'} exists "
        f"(tar -xzf {ARCHIVE} -C {root}); or place the archive itself at {root / ARCHIVE}.\n"
        f"To keep the data elsewhere, extract it into DIR and pass --data-root DIR to "
        f"`dualnet classify train` (data_root=DIR in Python), giving DIR/{FOLDER}/."
    )


def batches_folder(root: Path) -> Path | None:
    """The folder holding the batches: ``root/cifar-10-batches-py`` or ``root`` itself."""
    for folder in (root / FOLDER, root):
        if all((folder / name).is_file() for name in (*TRAIN_BATCHES, TEST_BATCH)):
            return folder
    return None


def fetch(root: Path, download: bool = True, timeout: float | None = None) -> Path:
    """Make sure the batches are on disk and return their folder.

    Looks in ``root/cifar-10-batches-py`` (or ``root`` itself); else unpacks
    ``root/cifar-10-python.tar.gz`` if it is there; else, if ``download`` is true, downloads and
    unpacks the archive with torchvision, giving up after ``timeout`` seconds without progress.

    Args:
        root: The data root.
        download: Whether the network may be used.
        timeout: Socket timeout in seconds for each network operation of the download;
            by default :data:`DOWNLOAD_TIMEOUT`.

    Returns:
        The folder that holds ``data_batch_1`` ... ``data_batch_5`` and ``test_batch``.

    Raises:
        DatasetNotFoundError: If the batches are missing and cannot be downloaded; the message
            says what to download, where to extract it and which flag points at it.
    """
    folder = batches_folder(root)
    if folder is not None:
        return folder
    from torchvision.datasets.utils import download_and_extract_archive, extract_archive

    if (root / ARCHIVE).is_file():
        extract_archive(str(root / ARCHIVE), str(root))
        folder = batches_folder(root)
        if folder is not None:
            return folder
        raise DatasetNotFoundError(
            missing_message(root, f"{root / ARCHIVE} does not hold the CIFAR-10 batches")
        )
    if not download:
        raise DatasetNotFoundError(missing_message(root, "downloading is switched off"))
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT if timeout is None else timeout)
    try:
        download_and_extract_archive(URL, str(root), filename=ARCHIVE, md5=ARCHIVE_MD5)
    except (OSError, RuntimeError) as error:
        reason = f"the download failed ({type(error).__name__}: {error})"
        raise DatasetNotFoundError(missing_message(root, reason)) from error
    finally:
        socket.setdefaulttimeout(previous)
    folder = batches_folder(root)
    if folder is None:
        raise DatasetNotFoundError(missing_message(root, "the downloaded archive lacks them"))
    return folder


def read_batch(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read one CIFAR-10 python batch file.

    Args:
        path: A pickled dict with ``b"data"``, ``uint8`` of shape ``(n, 3072)`` in channel-major
            order, and ``b"labels"``, ``n`` integers.

    Returns:
        ``(images, labels)``: ``uint8`` array of shape ``(n, 3, 32, 32)`` and ``int64`` array of
        shape ``(n,)``.

    Raises:
        ValueError: If the file does not hold a batch in that format.
    """
    with open(path, "rb") as file:
        batch = pickle.load(file, encoding="bytes")
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise ValueError(f"read_batch: {path} is not a CIFAR-10 batch (no b'data'/b'labels')")
    data = np.asarray(batch[b"data"])
    labels = np.asarray(batch[b"labels"], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ValueError(
            f"read_batch: {path} holds data of dtype {data.dtype} and shape {data.shape}, "
            "expected uint8 of shape (n, 3072)"
        )
    if labels.shape != (data.shape[0],) or (
        labels.size and not 0 <= labels.min() <= labels.max() < 10
    ):
        raise ValueError(
            f"read_batch: {path} holds {labels.size} labels for {data.shape[0]} images, "
            "expected one label in [0, 10) per image"
        )
    return data.reshape(-1, 3, 32, 32), labels


def read_classes(folder: Path) -> tuple[str, ...]:
    """The class names from ``batches.meta``, or the standard ten if the file is absent."""
    if not (folder / META).is_file():
        return CLASSES
    with open(folder / META, "rb") as file:
        meta = pickle.load(file, encoding="bytes")
    names = meta.get(b"label_names", meta.get("label_names"))
    return tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)


def load_cifar10(
    data_root: str | os.PathLike,
    download: bool = True,
    num_val: int | None = None,
    timeout: float | None = None,
) -> ImageSplits:
    """Load CIFAR-10 into memory with the classic split.

    The five training batches, in order, give ``train`` (all but the last ``num_val`` images)
    and ``val`` (the last ``num_val``); ``test_batch`` gives ``test``. With the real files that
    is 49,000 / 1,000 / 10,000 images.

    Args:
        data_root: Folder holding ``cifar-10-batches-py/`` (or the batches themselves).
        download: Download the archive through torchvision when the batches are missing.
        num_val: Images held out for validation; by default :data:`VAL_FRACTION` of the
            training images rounded to an integer (1,000 of 50,000; 2 of 100).
        timeout: Socket timeout in seconds for the download; by default
            :data:`DOWNLOAD_TIMEOUT`.

    Returns:
        An :class:`~dualnet.data.images.ImageSplits` named ``"cifar10"``, with ``mean`` and
        ``std`` computed from its ``train`` images.

    Raises:
        DatasetNotFoundError: If the batches are missing and cannot be downloaded.
        ValueError: If ``num_val`` leaves no training image or a file is not a batch.
    """
    root = Path(data_root).expanduser()
    folder = fetch(root, download=download, timeout=timeout)
    parts = [read_batch(folder / name) for name in TRAIN_BATCHES]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    if num_val is None:
        num_val = round(len(labels) * VAL_FRACTION)
    if isinstance(num_val, bool) or not isinstance(num_val, int) or not 0 <= num_val < len(labels):
        raise ValueError(
            f"load_cifar10: num_val must be an int in [0, {len(labels)}) for the "
            f"{len(labels)} training images, got {num_val!r}"
        )
    cut = len(labels) - num_val
    test_images, test_labels = read_batch(folder / TEST_BATCH)
    train = (torch.from_numpy(images[:cut].copy()), torch.from_numpy(labels[:cut].copy()))
    val = (torch.from_numpy(images[cut:].copy()), torch.from_numpy(labels[cut:].copy()))
    test = (torch.from_numpy(test_images.copy()), torch.from_numpy(test_labels))
    mean, std = channel_stats(train[0])
    return ImageSplits("cifar10", read_classes(folder), train, val, test, mean, std)
