"""Small captioning files in the exact layouts of EECS 498's ``coco.pt`` and the cs231n HDF5
folder, and a tiny embedded set with features from the untrained MobileNetV2, built once per
test session."""

from __future__ import annotations

import functools
import json
import tempfile
from pathlib import Path

import h5py
import numpy as np
import torch

from dualnet.apps.caption import data as caption_data
from dualnet.apps.caption import encoders

WORDS = ["<NULL>", "<START>", "<END>", "<UNK>", "a", "cat", "dog", "on", "the", "mat"]


def random_captions(rng: np.random.Generator, n: int, columns: int = 17) -> np.ndarray:
    """``<START>``, 2-6 words, ``<END>``, then ``<NULL>`` padding."""
    captions = np.zeros((n, columns), np.int64)
    for row in captions:
        length = rng.integers(2, 7)
        row[0] = 1
        row[1 : length + 1] = rng.integers(4, len(WORDS), length)
        row[length + 1] = 2
    return captions


def coco_pt_payload(n_train: int = 12, n_val: int = 4, seed: int = 0) -> dict:
    """A ``coco.pt`` dict: uint8 images (N, 3, 112, 112), int64 captions (N, 17), vocab."""
    rng = np.random.default_rng(seed)
    payload = {}
    for split, n in (("train", n_train), ("val", n_val)):
        images = rng.integers(0, 256, (n, 3, 112, 112), dtype=np.uint8)
        payload[f"{split}_images"] = torch.from_numpy(images)
        payload[f"{split}_captions"] = torch.from_numpy(random_captions(rng, n))
    payload["vocab"] = {
        "idx_to_token": list(WORDS),
        "token_to_idx": {w: i for i, w in enumerate(WORDS)},
    }
    return payload


def write_coco_pt(path: Path, payload: dict | None = None) -> Path:
    torch.save(coco_pt_payload() if payload is None else payload, path)
    return path


def write_cs231n(root: Path, n_images=(10, 4), per_image: int = 3, dim: int = 16, seed=0):
    """The cs231n folder: captions and image indices, PCA features, vocabulary, URLs."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    with h5py.File(root / "coco2014_captions.h5", "w") as file:
        for split, n in zip(("train", "val"), n_images, strict=True):
            file[f"{split}_captions"] = random_captions(rng, n * per_image).astype(np.int32)
            file[f"{split}_image_idxs"] = np.repeat(np.arange(n), per_image).astype(np.int32)
    for split, n in zip(("train", "val"), n_images, strict=True):
        with h5py.File(root / f"{split}2014_vgg16_fc7_pca.h5", "w") as file:
            file["features"] = rng.standard_normal((n, dim)).astype(np.float32)
        urls = [f"http://images.cocodataset.org/{split}2014/{i:06d}.jpg" for i in range(n)]
        (root / f"{split}2014_urls.txt").write_text("\n".join(urls) + "\n")
    vocab = {"idx_to_word": WORDS, "word_to_idx": {w: i for i, w in enumerate(WORDS)}}
    (root / "coco2014_vocab.json").write_text(json.dumps(vocab))
    return root


@functools.cache
def tiny_root() -> Path:
    return Path(tempfile.mkdtemp(prefix="dualnet-caption-tests-"))


@functools.cache
def tiny_embedded(sizes=(60, 10, 10)):
    """A tiny embedded set (cached in a session folder)."""
    return caption_data.load_embedded_captions(tiny_root(), sizes=sizes)


@functools.cache
def tiny_maps(sizes=(60, 10, 10)) -> dict:
    """Feature maps of :func:`tiny_embedded` from the untrained, seeded MobileNetV2."""
    encoder = encoders.random_encoder()
    return encoders.feature_maps(tiny_embedded(sizes), encoder, tiny_root(), progress=False)


def tiny_prepared(cell: str):
    from dualnet.apps.caption.train import Prepared

    maps = tiny_maps()
    if cell == "attention":
        return Prepared(tiny_embedded(), maps)
    return Prepared(tiny_embedded(), {k: encoders.pooled(v) for k, v in maps.items()})
