"""CIFAR-10 from the python-pickle batches, downloaded through torchvision when missing.

The dataset lives in ``DATA_ROOT/cifar-10-batches-py/`` in the layout of the official archive
https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz: ``data_batch_1`` ... ``data_batch_5``,
``test_batch`` and ``batches.meta``. Each batch is a pickled dict whose ``b"data"`` holds one
image per row as 3072 ``uint8`` values (the 1024 red values, then green, then blue, each row by
row) and whose ``b"labels"`` holds the class indices.

The batches are read by :func:`read_batch`, a small reader of that format, so any files in it
load, whatever their size. torchvision is used only to download the archive (and imported only
then): its own ``CIFAR10`` dataset checks the md5 sum of every file it reads, which files
written by a test cannot pass.

Files from outside are data, never code
---------------------------------------
A pickle can name any function for the unpickler to call, so ``pickle.load`` on a file someone
else wrote runs their code. The files are therefore read under two rules:

1. **Every** batch and ``batches.meta`` goes through :class:`BatchUnpickler`, which admits only
   the four NumPy globals that rebuild a ``uint8`` array (:data:`NUMPY_GLOBALS`) and refuses any
   other global before it is loaded. A real batch, a dict of byte strings, integer lists and
   one array written by Python 2's cPickle, needs nothing more; a crafted file is refused
   with a :class:`ValueError` that names the file and the global it asked for, and no code runs.
2. A file with the exact byte size of a published file (:data:`PUBLISHED`) claims to be that
   file, so it must also have its published MD5 sum, checked **before** it is unpickled or, for
   the archive, extracted. Files of any other size (a subset, the small files of the tests)
   are held to rule 1 alone.

The archive is unpacked member by member: only the regular files of the dataset are written,
each into ``cifar-10-batches-py/`` under its own name, so an archive cannot place a file
anywhere else.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import socket
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dualnet.data.images import ImageSplits, channel_stats
from dualnet.data.paths import DatasetNotFoundError
from dualnet.files import atomic_write

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
PUBLISHED = {
    ARCHIVE: (170_498_071, ARCHIVE_MD5),
    "data_batch_1": (31_035_704, "c99cafc152244af753f735de768cd75f"),
    "data_batch_2": (31_035_320, "d4bba439e000b95fd0a9bffe97cbabec"),
    "data_batch_3": (31_035_999, "54ebc095f3ab1f0389bbae665268c751"),
    "data_batch_4": (31_035_696, "634d18415352ddfa80567beed471001a"),
    "data_batch_5": (31_035_623, "482c414d41f54cd18b22e5b47cb7c3cb"),
    TEST_BATCH: (31_035_526, "40351d587109b95175f43aff81a1287e"),
    META: (158, "5ff9c542aee3614f3951f8cda6e48888"),
}
"""``name: (size in bytes, MD5 sum)`` of the published files (the sums torchvision lists)."""


def _reconstruct_function() -> Any:
    """NumPy's ``_reconstruct``, the function an array's pickle calls to rebuild it."""
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # NumPy 1.x, which names it numpy.core.multiarray._reconstruct
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


NUMPY_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct_function(),
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct_function(),
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}
"""The only globals a batch may load: what a pickled NumPy array names (NumPy 1 and 2 names)."""


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
    ``root/cifar-10-python.tar.gz`` if it is there; else, if ``download`` is true, downloads the
    archive with torchvision, giving up after ``timeout`` seconds without progress, and
    unpacks it.

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
        ValueError: If an archive of the published size lacks the published MD5 sum.
    """
    folder = batches_folder(root)
    if folder is not None:
        return folder
    if not (root / ARCHIVE).is_file():
        if not download:
            raise DatasetNotFoundError(missing_message(root, "downloading is switched off"))
        download_archive(root, DOWNLOAD_TIMEOUT if timeout is None else timeout)
    extract(root)
    folder = batches_folder(root)
    if folder is None:
        reason = f"{root / ARCHIVE} does not hold the CIFAR-10 batches"
        raise DatasetNotFoundError(missing_message(root, reason))
    return folder


def download_archive(root: Path, timeout: float) -> None:
    """Download the archive into ``root`` with torchvision, which checks its MD5 sum."""
    from torchvision.datasets.utils import download_url

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)
    try:
        download_url(URL, str(root), filename=ARCHIVE, md5=ARCHIVE_MD5)
    except (OSError, RuntimeError) as error:
        reason = f"the download failed ({type(error).__name__}: {error})"
        raise DatasetNotFoundError(missing_message(root, reason)) from error
    finally:
        socket.setdefaulttimeout(previous)


def extract(root: Path) -> None:
    """Unpack the dataset's files from ``root/cifar-10-python.tar.gz``, and nothing else.

    Only regular files named ``cifar-10-batches-py/NAME``, with ``NAME`` a batch or
    ``batches.meta``, are written, each to ``root/cifar-10-batches-py/NAME`` (through a
    temporary file, so an interrupted unpacking leaves no cut-off batch): no member of the
    archive can choose where it lands, become a link or leave the folder.
    """
    archive, folder = root / ARCHIVE, root / FOLDER
    check_published_md5(archive)
    wanted = {f"{FOLDER}/{name}": name for name in (*TRAIN_BATCHES, TEST_BATCH, META)}
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                name = wanted.get(member.name.removeprefix("./"))
                if name is not None and member.isfile():
                    data = tar.extractfile(member).read()
                    atomic_write(folder / name, lambda file, data=data: file.write(data))
    except (tarfile.TarError, OSError, EOFError) as error:
        reason = f"{archive} is not a readable tar.gz archive ({type(error).__name__}: {error})"
        raise DatasetNotFoundError(missing_message(root, reason)) from error


def md5_of(path: Path) -> str:
    """The MD5 sum of a file, read a megabyte at a time."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def check_published_md5(path: Path) -> None:
    """Hold a file of a published file's name and size to that file's published MD5 sum.

    Raises:
        ValueError: If the file has the published size but another MD5 sum: it is a damaged
            or altered copy, and is neither unpickled nor extracted.
    """
    size, md5 = PUBLISHED.get(path.name, (None, None))
    if size is None or path.stat().st_size != size:
        return
    found = md5_of(path)
    if found != md5:
        raise ValueError(
            f"{path} has the size of the published {path.name} ({size:,} bytes) but the MD5 "
            f"sum {found}, not the published {md5}: the file is damaged or altered; "
            f"download {URL} again"
        )


class RefusedGlobal(ValueError):
    """A pickle asked to load a global that a CIFAR-10 file never holds."""


class BatchUnpickler(pickle.Unpickler):
    """An unpickler that loads only what a CIFAR-10 python file holds.

    Byte strings, integers, lists, tuples and dicts need no global; the one array of a batch
    needs the four of :data:`NUMPY_GLOBALS`. Any other global, the way a pickle runs code, is
    refused before it is imported, so nothing in the file is ever called but NumPy's own
    array reconstruction.
    """

    def __init__(self, file, path: Path, kind: str):
        super().__init__(file, encoding="bytes")  # the files are Python 2 pickles
        self.path, self.kind = path, kind

    def find_class(self, module: str, name: str) -> Any:
        allowed = NUMPY_GLOBALS.get((module, name))
        if allowed is None:
            raise RefusedGlobal(
                f"{self.path} is not a CIFAR-10 {self.kind}: it asks to load the global "
                f"'{module}.{name}', which a {self.kind} never holds; refusing to unpickle it"
            )
        return allowed


def unpickle(path: Path, kind: str) -> Any:
    """Load a CIFAR-10 python file under the two rules of the module docstring.

    Args:
        path: The file.
        kind: What it should be, for the messages: ``"batch"`` or ``"batches.meta file"``.

    Raises:
        ValueError: If the file fails its MD5 check, asks for a global that is not admitted, or
            is not a pickle at all (cut off, random bytes, text).
    """
    check_published_md5(path)
    with open(path, "rb") as file:
        try:
            return BatchUnpickler(file, path, kind).load()
        except RefusedGlobal:
            raise
        except Exception as error:  # damaged bytes raise anything from EOFError to KeyError
            raise ValueError(
                f"{path} is not a CIFAR-10 {kind}: it is not a readable pickle "
                f"({type(error).__name__}: {error})"
            ) from error


def read_batch(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read one CIFAR-10 python batch file, without running any code it may hold.

    Args:
        path: A pickled dict with ``b"data"``, ``uint8`` of shape ``(n, 3072)`` in channel-major
            order, and ``b"labels"``, ``n`` integers.

    Returns:
        ``(images, labels)``: ``uint8`` array of shape ``(n, 3, 32, 32)`` and ``int64`` array of
        shape ``(n,)``.

    Raises:
        ValueError: If the file does not hold a batch in that format, asks to load anything but
            a NumPy array, or has the size of a published batch but not its MD5 sum.
    """
    path = Path(path)
    try:
        batch = unpickle(path, "batch")
    except ValueError as error:
        raise ValueError(f"read_batch: {error}") from None
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
    """The class names from ``batches.meta``, or the standard ten if the file is absent.

    Raises:
        ValueError: If ``batches.meta`` is not a pickled dict with ``b"label_names"``, or asks
            to load anything, or has the published size but not the published MD5 sum.
    """
    path = folder / META
    if not path.is_file():
        return CLASSES
    try:
        meta = unpickle(path, "batches.meta file")
    except ValueError as error:
        raise ValueError(f"read_classes: {error}") from None
    names = meta.get(b"label_names") if isinstance(meta, dict) else None
    if not isinstance(names, list) or not all(isinstance(n, (bytes, str)) for n in names):
        raise ValueError(
            f"read_classes: {path} is not a CIFAR-10 batches.meta file "
            "(no b'label_names' list of names)"
        )
    return tuple(n.decode() if isinstance(n, bytes) else n for n in names)


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
