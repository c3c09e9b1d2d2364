"""Captioning data: the embedded scenes, EECS 498's ``coco.pt`` and the cs231n HDF5 folder.

Every loader returns a :class:`CaptionData`: a vocabulary (``<NULL>`` 0, ``<START>`` 1,
``<END>`` 2, ``<UNK>`` 3) and, per split, a :class:`CaptionSplit` of captions ``(M, T + 1)``
int64 with the image each belongs to (``image_idxs (M,)``), and either the images (uint8
``(N, 3, 112, 112)``, features still to be extracted) or precomputed features (cs231n).

``load_data("embedded")``
    The scenes of :mod:`~dualnet.apps.caption.scenes`: 10,000 / 500 / 500 images with
    five captions each and their objects' cells; generated once and cached.
``load_data("coco.pt", FILE)``
    The EECS 498 file: a dict of ``train_images`` uint8 ``(N, 3, 112, 112)``,
    ``train_captions`` int64 ``(N, 17)``, ``val_images``, ``val_captions`` and ``vocab`` =
    ``{"idx_to_token": [...], "token_to_idx": {...}}``; read with ``weights_only=True``.
``load_data("cs231n", DIR)``
    The cs231n folder ``coco_captioning/``: ``coco2014_captions.h5`` (captions and image
    indices), ``train2014_vgg16_fc7_pca.h5`` / ``val2014_vgg16_fc7_pca.h5`` (dataset
    ``features``, 512 numbers per image; ``pca=False`` reads the 4096-d ``*_vgg16_fc7.h5``),
    ``coco2014_vocab.json`` and the optional ``*_urls.txt``. Features only: no images, so no
    attention.

Bad files raise :class:`CaptionDataError` naming the file and the key; missing ones
:class:`~dualnet.data.paths.DatasetNotFoundError` saying what to download and which flag
takes it.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from dualnet.apps import runs
from dualnet.apps.caption import scenes
from dualnet.data import paths
from dualnet.data.paths import DatasetNotFoundError

SPECIAL_TOKENS = ("<NULL>", "<START>", "<END>", "<UNK>")
EMBEDDED_SIZES = (10_000, 500, 500)
COCO_PT_URL = "http://web.eecs.umich.edu/~justincj/teaching/eecs498/coco.pt"
CS231N_URL = "http://cs231n.stanford.edu/coco_captioning.zip"


class CaptionDataError(ValueError):
    """A captioning file that cannot be used; the message names the file and the key."""


@dataclass
class CaptionSplit:
    """One split. ``captions (M, T + 1)`` int64 and ``image_idxs (M,)`` int64 (the image of
    each caption); ``images (N, 3, H, W)`` uint8 or ``features (N, D)`` float32; ``objects
    (N, 3, 4)`` (embedded only: shape, colour, size, cell per slot, -1 when empty); ``urls``
    (cs231n only)."""

    captions: np.ndarray
    image_idxs: np.ndarray
    images: np.ndarray | None = None
    features: np.ndarray | None = None
    objects: np.ndarray | None = None
    urls: list[str] | None = None

    @property
    def num_images(self) -> int:
        source = self.images if self.images is not None else self.features
        return 0 if source is None else len(source)

    def references(self) -> list[np.ndarray]:
        """The captions of every image, ``[(k_i, T + 1)]`` in image order."""
        order = np.argsort(self.image_idxs, kind="stable")
        bounds = np.searchsorted(self.image_idxs[order], np.arange(self.num_images + 1))
        return [self.captions[order[a:b]] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


@dataclass
class CaptionData:
    """A captioning dataset: its name, where it came from, the vocabulary and the splits."""

    name: str
    source: str
    idx_to_word: list[str]
    splits: dict[str, CaptionSplit] = field(default_factory=dict)

    @property
    def word_to_idx(self) -> dict[str, int]:
        return {word: index for index, word in enumerate(self.idx_to_word)}

    @property
    def has_images(self) -> bool:
        return self.splits["train"].images is not None

    @property
    def eval_split(self) -> str:
        """``test`` when there is one (embedded), else ``val``."""
        return "test" if "test" in self.splits else "val"


# --------------------------------------------------------------------------------------------
# Classic helpers
# --------------------------------------------------------------------------------------------


def decode_captions(captions: np.ndarray, idx_to_word) -> str | list[str]:
    """Word ids to text, as in the course: ``<START>`` and ``<NULL>`` are dropped and a caption
    ends at its first ``<END>``.

    Args:
        captions: ``(N, T)`` ids (or ``(T,)``, which gives one string).
        idx_to_word: A list (or dict) from id to word.

    Returns:
        A list of ``N`` strings, or one string for a 1-d input.
    """
    captions = np.asarray(captions)
    single = captions.ndim == 1
    decoded = []
    for row in np.atleast_2d(captions):
        words = []
        for index in row:
            word = idx_to_word[int(index)]
            if word == "<END>":
                break
            if word not in ("<NULL>", "<START>"):
                words.append(word)
        decoded.append(" ".join(words))
    return decoded[0] if single else decoded


def sample_minibatch(
    split: CaptionSplit, batch_size: int = 100, rng: np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """A random minibatch of captions with the image of each, as the course samples them
    (with replacement).

    Returns:
        ``(captions (B, T + 1), image_idxs (B,))``.
    """
    rng = np.random.default_rng() if rng is None else rng
    chosen = rng.choice(len(split.captions), batch_size)
    return split.captions[chosen], split.image_idxs[chosen]


# --------------------------------------------------------------------------------------------
# Validation shared by the loaders
# --------------------------------------------------------------------------------------------


def check_vocabulary(path, key: str, idx_to_word) -> list[str]:
    """``idx_to_word`` as a list of strings with the four special tokens first."""
    if not isinstance(idx_to_word, list | tuple) or not all(
        isinstance(w, str) for w in idx_to_word
    ):
        raise CaptionDataError(f"{path}: {key} must be a list of words")
    if tuple(idx_to_word[:4]) != SPECIAL_TOKENS:
        raise CaptionDataError(
            f"{path}: {key} must start with {', '.join(SPECIAL_TOKENS)} (ids 0-3), "
            f"got {list(idx_to_word[:4])}"
        )
    return list(idx_to_word)


def check_captions(path, key: str, captions: np.ndarray, vocab_size: int) -> np.ndarray:
    """Fail unless ``captions`` is ``(M, T + 1)`` ids in the vocabulary, each starting with
    ``<START>``; return it as int64."""
    if captions.ndim != 2 or captions.shape[1] < 2:
        raise CaptionDataError(
            f"{path}: {key} has shape {captions.shape}, expected (M, T + 1) word ids"
        )
    if not np.issubdtype(captions.dtype, np.integer):
        raise CaptionDataError(f"{path}: {key} has dtype {captions.dtype}, expected integer ids")
    if captions.size and (captions.min() < 0 or captions.max() >= vocab_size):
        raise CaptionDataError(
            f"{path}: {key} holds ids from {captions.min()} to {captions.max()}, outside the "
            f"vocabulary of {vocab_size} words"
        )
    bad = np.flatnonzero(captions[:, 0] != 1)
    if bad.size:
        raise CaptionDataError(
            f"{path}: {key}[{bad[0]}] does not start with <START> (id 1); got id "
            f"{captions[bad[0], 0]}"
        )
    return captions.astype(np.int64)


# --------------------------------------------------------------------------------------------
# coco.pt
# --------------------------------------------------------------------------------------------

COCO_PT_KEYS = {
    "train_images": torch.uint8,
    "train_captions": torch.int64,
    "val_images": torch.uint8,
    "val_captions": torch.int64,
}


def read_coco_pt(path: Path) -> dict:
    """The dict in ``coco.pt``, read as data only."""
    if not path.is_file():
        raise DatasetNotFoundError(
            f"no coco.pt at {path}. Download the EECS 498 captioning file from {COCO_PT_URL} "
            "and pass it with --data coco.pt FILE (or use --data embedded, no download)"
        )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        foreign = runs.foreign_globals(path)
        if foreign:
            raise CaptionDataError(runs.refusal(path, foreign)) from None
        raise CaptionDataError(f"{path} is not a readable PyTorch file") from None
    if not isinstance(payload, dict):
        raise CaptionDataError(f"{path} holds a {type(payload).__name__}, expected a dict")
    return payload


def load_coco_pt(path: str | os.PathLike) -> CaptionData:
    """The EECS 498 ``coco.pt`` (see the module docstring); one caption row per image."""
    path = Path(path)
    payload = read_coco_pt(path)
    for key, dtype in (*COCO_PT_KEYS.items(), ("vocab", None)):
        if key not in payload:
            raise CaptionDataError(f"{path} lacks the key {key!r}")
        value = payload[key]
        if dtype is not None and (not torch.is_tensor(value) or value.dtype != dtype):
            got = value.dtype if torch.is_tensor(value) else type(value).__name__
            raise CaptionDataError(f"{path}: {key} has dtype {got}, expected {dtype}")
    vocab = payload["vocab"]
    if not isinstance(vocab, dict) or "idx_to_token" not in vocab:
        raise CaptionDataError(f"{path}: vocab lacks the key 'idx_to_token'")
    words = check_vocabulary(path, "vocab['idx_to_token']", vocab["idx_to_token"])
    data = CaptionData("coco.pt", str(path), words)
    for split in ("train", "val"):
        images = payload[f"{split}_images"].numpy()
        if images.ndim != 4 or images.shape[1] != 3:
            raise CaptionDataError(
                f"{path}: {split}_images has shape {tuple(images.shape)}, expected (N, 3, H, W)"
            )
        key = f"{split}_captions"
        captions = check_captions(path, key, payload[key].numpy(), len(words))
        if len(captions) != len(images):
            raise CaptionDataError(
                f"{path}: {key} has {len(captions)} rows but {split}_images {len(images)} images"
            )
        data.splits[split] = CaptionSplit(captions, np.arange(len(captions)), images=images)
    return data


# --------------------------------------------------------------------------------------------
# The cs231n HDF5 folder
# --------------------------------------------------------------------------------------------


def cs231n_file(root: Path, name: str) -> Path:
    path = root / name
    if not path.is_file():
        raise DatasetNotFoundError(
            f"{path} is missing. Download {CS231N_URL}, unzip it and pass the folder holding "
            f"{name} with --data cs231n DIR"
        )
    return path


def read_h5(path: Path, key: str) -> np.ndarray:
    import h5py

    try:
        with h5py.File(path, "r") as file:
            if key not in file:
                raise CaptionDataError(f"{path} lacks the dataset {key!r}")
            return np.asarray(file[key])
    except OSError as error:
        raise CaptionDataError(f"{path} is not a readable HDF5 file ({error})") from None


def load_cs231n(root: str | os.PathLike, pca: bool = True) -> CaptionData:
    """The cs231n ``coco_captioning`` folder (see the module docstring)."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetNotFoundError(
            f"no folder {root}. Download {CS231N_URL}, unzip it and pass the folder with "
            "--data cs231n DIR"
        )
    vocab_path = cs231n_file(root, "coco2014_vocab.json")
    try:
        vocab = json.loads(vocab_path.read_text())
    except (ValueError, UnicodeDecodeError) as error:
        raise CaptionDataError(f"{vocab_path} is not JSON ({error})") from None
    if not isinstance(vocab, dict) or "idx_to_word" not in vocab:
        raise CaptionDataError(f"{vocab_path} lacks the key 'idx_to_word'")
    words = check_vocabulary(vocab_path, "idx_to_word", vocab["idx_to_word"])
    captions_path = cs231n_file(root, "coco2014_captions.h5")
    data = CaptionData("cs231n", str(root), words)
    suffix = "_pca" if pca else ""
    width = None
    for split in ("train", "val"):
        features_path = cs231n_file(root, f"{split}2014_vgg16_fc7{suffix}.h5")
        features = check_features(features_path, read_h5(features_path, "features"), width)
        width = features.shape[1]
        captions = check_captions(
            captions_path,
            f"{split}_captions",
            read_h5(captions_path, f"{split}_captions"),
            len(words),
        )
        idxs = read_h5(captions_path, f"{split}_image_idxs").astype(np.int64)
        check_image_idxs(captions_path, features_path, split, captions, idxs, len(features))
        urls_path = root / f"{split}2014_urls.txt"
        urls = urls_path.read_text().split() if urls_path.is_file() else None
        split_data = CaptionSplit(captions, idxs, features=features)
        split_data.urls = urls
        data.splits[split] = split_data
    return data


def check_features(path: Path, features: np.ndarray, width: int | None) -> np.ndarray:
    """``features`` of ``path`` as float32 ``(M, D)``, every one a finite number, ``D`` equal
    to ``width`` (the training features') when given.

    Raises:
        CaptionDataError: naming the file and what is wrong.
    """
    if features.ndim != 2:
        raise CaptionDataError(f"{path}: features has shape {features.shape}, expected (M, D)")
    if features.dtype.kind not in "iuf":
        raise CaptionDataError(f"{path}: features has dtype {features.dtype}, expected numbers")
    if width is not None and features.shape[1] != width:
        raise CaptionDataError(
            f"{path}: features are {features.shape[1]}-d, but the training features are "
            f"{width}-d; both splits must come from one encoder"
        )
    with np.errstate(over="ignore"):
        features = features.astype(np.float32)  # a float64 beyond float32's range: infinity
    bad = ~np.isfinite(features)
    if bad.any():
        rows = np.unique(np.nonzero(bad)[0])
        raise CaptionDataError(
            f"{path}: features hold {int(bad.sum())} non-finite value(s) (NaN or infinity) "
            f"in {len(rows)} row(s), the first row {rows[0]}; every feature must be a finite "
            "number"
        )
    return features


def check_image_idxs(captions_path, features_path, split, captions, idxs, num_features) -> None:
    """Fail unless there is one image index per caption, each a row of the features."""
    key = f"{split}_image_idxs"
    if idxs.shape != (len(captions),):
        raise CaptionDataError(
            f"{captions_path}: {key} has shape {idxs.shape}, expected ({len(captions)},): one "
            f"image per row of {split}_captions"
        )
    if idxs.size and (idxs.min() < 0 or idxs.max() >= num_features):
        raise CaptionDataError(
            f"{captions_path}: {key} points at image {idxs.max()}, but {features_path} has "
            f"features for {num_features} images (rows 0-{num_features - 1})"
        )


# --------------------------------------------------------------------------------------------
# The embedded scenes
# --------------------------------------------------------------------------------------------


def embedded_cache_path(data_root, sizes, seed: int) -> Path:
    train, val, test = sizes
    name = f"captions-v{scenes.VERSION}-seed{seed}-{train}-{val}-{test}.npz"
    return paths.data_root(data_root) / name


def load_embedded_captions(
    data_root: str | os.PathLike | None = None,
    sizes: tuple[int, int, int] = EMBEDDED_SIZES,
    seed: int = 0,
    cache: bool = True,
) -> CaptionData:
    """The embedded scenes (:mod:`~dualnet.apps.caption.scenes`), generated on first
    use and cached in the data root (``$DUALNET_CACHE`` or ``~/.cache/dualnet``)."""
    sizes = tuple(int(s) for s in sizes)
    if len(sizes) != 3 or min(sizes) < 1:
        raise ValueError(f"sizes must be three positive numbers of images, got {sizes!r}")
    path = embedded_cache_path(data_root, sizes, seed)
    arrays = None
    if cache and path.is_file():
        with np.load(path, allow_pickle=False) as file:
            arrays = {key: file[key] for key in file.files}
    if arrays is None:
        print(f"drawing the embedded captioning scenes ({sum(sizes):,} images, once)",
              file=sys.stderr, flush=True)  # fmt: skip
        arrays = {}
        for index, (split, n) in enumerate(zip(("train", "val", "test"), sizes, strict=True)):
            for key, value in scenes.generate_split(n, seed, index).items():
                arrays[f"{split}_{key}"] = value
        if cache:
            runs.save_npz(path, arrays)
    data = CaptionData("embedded", str(path), list(scenes.WORDS))
    for split in ("train", "val", "test"):
        data.splits[split] = CaptionSplit(
            arrays[f"{split}_captions"],
            arrays[f"{split}_image_idxs"],
            images=arrays[f"{split}_images"],
            objects=arrays[f"{split}_objects"],
        )
    return data


def load_data(kind: str, location: str | None = None, data_root=None, **options) -> CaptionData:
    """``load_data("embedded")``, ``load_data("coco.pt", FILE)`` or
    ``load_data("cs231n", DIR)``."""
    if kind == "embedded":
        return load_embedded_captions(data_root, **options)
    if kind in ("coco.pt", "cs231n") and location is None:
        raise ValueError(f"--data {kind} needs the {'FILE' if kind == 'coco.pt' else 'DIR'}")
    if kind == "coco.pt":
        return load_coco_pt(location)
    if kind == "cs231n":
        return load_cs231n(location, **options)
    raise ValueError(f"data must be embedded, coco.pt FILE or cs231n DIR, got {kind!r}")
