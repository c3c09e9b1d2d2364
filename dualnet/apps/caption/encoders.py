"""Image features for captioning: a ``(1280, 4, 4)`` feature map of every scene.

Every encoder is the convolutional part of an ImageNet-sized network, without its classifier,
whose five stride-2 layers give a total stride of 32: a scene becomes a ``(1280, 4, 4)``
feature map for the attention model, and its average over the grid, a 1280-d vector, for the
RNN and the LSTM.

``lite0``
    EfficientNet-Lite0 (:func:`dualnet.apps.networks.efficientnet_lite0`): all 18
    layers of its ``features``, with the ImageNet weights that a pip package ships (or
    ``--weights FILE``): a real ImageNet network with no download and nothing to build.
    Images are normalised as its weights expect, ``(x - 0.5) / 0.5``, and read at 112 px
    (:data:`LITE0_INPUT_SIZE`, see below).
``imagenet``
    torchvision's MobileNetV2 with ``MobileNet_V2_Weights.IMAGENET1K_V1``, as in EECS 498
    (from torch.hub's cache or ``--weights FILE``; offline, the error says what to fetch and
    where, see :mod:`dualnet.apps.pretrained`). Images are normalised with the ImageNet
    statistics and read at 112 px.
``standin``
    MobileNetV2 pre-trained by the classification application's training loop
    (:func:`dualnet.apps.classify.train`) on single labelled objects cut out of scenes
    drawn like the captioning scenes (:func:`~dualnet.apps.caption.scenes.object_cells`:
    ``small red disk``, ..., ``empty``), **without captions**: the offline analogue of
    ImageNet pre-training. Trained once (minutes) and cached in the data root.
``random``
    The untrained MobileNetV2 (seeded): features that carry little meaning, for quick checks.

``auto`` (the default) takes :data:`AUTO_ENCODER`; given a weights file, MobileNetV2's
ImageNet weights. Features are extracted once per dataset and encoder, with progress, and
cached as float16.

**Where a feature cell looks.** The stand-in learned on 32-pixel pictures, one scene cell
each, so one of its 4x4 feature cells covers 32 input pixels: read at 112 px, its cell ``j``
would look at pixels ``32j ... 32j + 31``, not at scene cell ``j`` (pixels
``28j ... 28j + 27``), and the objects of the last row and column would land in the cells
before them. So it reads the scenes scaled to 128 px (:data:`STANDIN_INPUT_SIZE`): every
28-pixel scene cell becomes exactly the 32-pixel picture the network was trained on, and
feature cell ``j`` is scene cell ``j``.

Lite0 learned on whole 224-pixel photographs, and it pads as TensorFlow does: a stride-2
layer whose padding is odd puts the extra pixel below and to the right, which moves the
centres of its cells half an input pixel down and right. At 128 px every stride-2 layer
reads an even length and pads oddly, so feature cell ``j`` is centred on pixel
``32j + 31.5``: the last pixel of scene cell ``j``, on the corner it shares with three other
cells. At 112 px the last stride-2 layer reads 7 cells and pads them by 2 on both sides, so
feature cell ``j`` is centred on pixel ``32j + 15.5`` (15.5, 47.5, 79.5, 111.5): inside scene
cell ``j``, 1.5 to 13.5 pixels past its centre instead of 13.6 (in scene pixels) for every
cell at 128 px. Measured with the attention model's default recipe on the two: BLEU-4 0.781
and object recall 0.766 at 112 px, 0.749 and 0.727 at 128 px. So Lite0 reads the scenes at
112 px. Its receptive field covers the whole scene, and its cells carry what is around them:
the attention's largest cell is the named object's less often than with the stand-in, whose
pictures were single cells.

The pooled vectors are **standardised** before the RNN and the LSTM read them
(:func:`standardised`): each of the 1280 numbers has the mean and standard deviation of the
training images taken out. A pooled vector averages 16 cells, most of them empty background,
so the part that tells two images apart is a small variation on a large common part; removing
the common part is what the PCA of the cs231n features does too. The attention model reads the
raw map.
"""

from __future__ import annotations

import hashlib
import os
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from dualnet.apps import networks, runs
from dualnet.apps.caption import scenes
from dualnet.data import paths

ENCODERS = ("auto", "lite0", "imagenet", "standin", "random")
LITE0_NAME = "efficientnet-lite0"
LITE0_INPUT_SIZE = 112
"""The size Lite0 reads the scenes at: there the centre of each of its 4x4 feature cells lies
inside the scene cell of the same index (see the module docstring)."""
FEATURE_DIM = 1280
CALIBRATION_IMAGES = 500
"""Training images on which the untrained network's batch-norm statistics are re-estimated
before extraction."""
STANDIN_VERSION = 3
STANDIN_EPOCHS = 8
STANDIN_SCENES = (7000, 500, 1000)
"""Scenes whose cells make the stand-in's train, validation and test pictures (about 15,400,
1,100 and 2,200 of them). Eight epochs are 952 steps: about 4 minutes on a quiet 2-core CPU,
once; 96 % test accuracy on the 73 classes."""
STANDIN_IMAGE_SIZE = 32
"""The size of the stand-in's training pictures: one 28-pixel scene cell, scaled."""
STANDIN_INPUT_SIZE = STANDIN_IMAGE_SIZE * scenes.GRID
"""The size the stand-in reads a scene at (128): every scene cell is then one training
picture, and feature cell ``j`` covers scene cell ``j``."""
FEATURE_STRIDE = 32
"""The total stride of MobileNetV2 and of Lite0: one feature cell per 32 input pixels."""
AUTO_ENCODER = "lite0"
"""What ``auto`` loads (without ``weights_file``). Measured with the default recipes against
the stand-in: attention BLEU-4 0.781 against 0.692, object recall 0.766 against 0.668, LSTM
BLEU-4 0.584 against 0.508, and about 2 minutes on first use (extraction) against 8 (building
the stand-in, then extraction); the stand-in's attention points at the named object more
often (0.843 against 0.189)."""


@dataclass
class Encoder:
    """A feature extractor with the statistics its inputs are normalised by and the size it
    reads images at; ``name`` says which (``efficientnet-lite0``, ``imagenet``,
    ``standin-...`` or ``random-...``)."""

    network: torch.nn.Module
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    name: str
    recalibrate: bool = False
    input_size: int = scenes.IMAGE_SIZE
    """The side, in pixels, the images are scaled to before the network reads them."""


def mobilenet_features(num_classes: int = 1000) -> torch.nn.Module:
    import torchvision

    return torchvision.models.mobilenet_v2(num_classes=num_classes)


def imagenet_encoder(file: str | os.PathLike | None = None, download: bool = True) -> Encoder:
    """MobileNetV2 with the ImageNet weights (raises ``WeightsNotFoundError`` offline)."""
    network = networks.mobilenet_v2(file, download=download)
    mean, std = networks.IMAGENET_MEAN, networks.IMAGENET_STD
    return Encoder(network.features.eval(), mean, std, "imagenet")


def lite0_encoder(file: str | os.PathLike | None = None) -> Encoder:
    """EfficientNet-Lite0 with its ImageNet weights (shipped by a pip package, or ``file``):
    all 18 layers of ``features``, a ``(1280, 4, 4)`` map of a scene read at
    :data:`LITE0_INPUT_SIZE` pixels, normalised as the weights expect (pixels to [-1, 1]).
    Its weights are stored channels-last, which makes its depthwise convolutions faster on a
    CPU (1.6x on two cores)."""
    network = networks.efficientnet_lite0(file).features.eval()
    network = network.to(memory_format=torch.channels_last)
    mean, std = networks.lite0_normalisation()
    return Encoder(network, mean, std, LITE0_NAME, input_size=LITE0_INPUT_SIZE)


def scaled(images: torch.Tensor, size: int) -> torch.Tensor:
    """Float images ``(N, 3, H, W)`` scaled to ``size x size`` (bilinear; unchanged when they
    already are)."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)


def standin_split(n_scenes: int, seed: int, split_index: int):
    """The stand-in's pictures of one split: scene cells scaled to 32 px, with labels."""
    cells, labels = scenes.object_cells(n_scenes, seed, split_index)
    pictures = scaled(torch.from_numpy(cells).float(), STANDIN_IMAGE_SIZE)
    return pictures.round().clamp(0, 255).to(torch.uint8), torch.from_numpy(labels)


def standin_splits(seed: int = 0, sizes=STANDIN_SCENES):
    """The stand-in's data set (an ``ImageSplits`` named ``scene-objects``)."""
    from dualnet.data.images import ImageSplits, channel_stats

    train, val, test = (standin_split(n, seed, k) for k, n in enumerate(sizes))
    mean, std = channel_stats(train[0])
    return ImageSplits("scene-objects", scenes.OBJECT_CLASSES, train, val, test, mean, std)


STANDIN_NAME = "mobilenet_v2-scene-objects"
STANDIN_ESTIMATE = "about 7 minutes on two CPU cores"


def standin_config(folder: Path, data_root=None, seed: int = 0, epochs: int = STANDIN_EPOCHS):
    """The stand-in's training configuration, trained into ``folder`` (continuing what a
    stopped build left there)."""
    from dualnet.apps import classify

    checkpoint = folder / "last.pt"
    return classify.make_config(
        "mobilenet_v2",
        data="scene-objects",
        epochs=epochs,
        seed=seed,
        device="cpu",
        out_dir=str(folder),
        data_root=str(paths.data_root(data_root)),
        figures=False,
        resume=str(checkpoint) if checkpoint.is_file() else None,
    )


def standin_recipe(seed: int = 0, epochs: int = STANDIN_EPOCHS) -> dict:
    """Everything that defines the stand-in: its training settings, its data and version."""
    config = standin_config(Path("-"), seed=seed, epochs=epochs)
    return {**networks.recipe_of(config), "scenes": STANDIN_SCENES, "version": STANDIN_VERSION}


def standin_dir(data_root=None, seed: int = 0, epochs: int = STANDIN_EPOCHS) -> Path:
    """Where the finished stand-in is (or will be) cached."""
    return networks.build_path(STANDIN_NAME, standin_recipe(seed, epochs), data_root)


def standin_encoder(data_root=None, seed: int = 0, epochs: int = STANDIN_EPOCHS) -> Encoder:
    """The stand-in: MobileNetV2 trained by the classification application's loop on the
    objects of :func:`standin_splits` (no captions), built once by
    :func:`dualnet.apps.networks.build_once`: cached only when its training finished."""
    from dualnet.apps import classify

    def build(folder: Path) -> bool:
        config = standin_config(folder, data_root, seed, epochs)
        return classify.train(config, standin_splits(seed)).finished

    description = (
        f"the stand-in MobileNetV2, pre-trained on single objects of embedded scenes "
        f"({epochs} epochs, {STANDIN_ESTIMATE})"
    )
    recipe = standin_recipe(seed, epochs)
    built = networks.build_once(STANDIN_NAME, recipe, build, description, data_root)
    checkpoint = runs.load_checkpoint(built.path / "last.pt", classify.CHECKPOINT_FORMAT)
    network = mobilenet_features(len(checkpoint["classes"]))
    network.load_state_dict(checkpoint["model"])
    mean, std = tuple(checkpoint["mean"]), tuple(checkpoint["std"])
    name = f"standin-v{STANDIN_VERSION}-seed{seed}"
    return Encoder(network.features.eval(), mean, std, name, input_size=STANDIN_INPUT_SIZE)


def load_encoder(kind: str = "auto", weights_file=None, data_root=None) -> Encoder:
    """The encoder ``kind`` (one of :data:`ENCODERS`, see the module docstring).

    ``weights_file`` is a weights file of the ImageNet network: Lite0's for ``lite0``,
    MobileNetV2's for ``imagenet`` and for ``auto`` (which it turns into ``imagenet``).
    """
    if kind not in ENCODERS:
        raise ValueError(f"encoder must be one of {', '.join(ENCODERS)}, got {kind!r}")
    if weights_file is not None and kind not in ("auto", "lite0", "imagenet"):
        raise ValueError(f"weights_file is for the lite0 and imagenet encoders, not {kind!r}")
    if kind == "auto":
        kind = "imagenet" if weights_file is not None else AUTO_ENCODER
    if kind == "lite0":
        return lite0_encoder(weights_file)
    if kind == "imagenet":
        return imagenet_encoder(weights_file)
    if kind == "random":
        return random_encoder()
    return standin_encoder(data_root)


def random_encoder(seed: int = 0) -> Encoder:
    """The untrained MobileNetV2, seeded, with the ImageNet statistics."""
    torch.manual_seed(seed)
    network = mobilenet_features().features.eval()
    mean, std = networks.IMAGENET_MEAN, networks.IMAGENET_STD
    return Encoder(network, mean, std, f"random-seed{seed}", recalibrate=True)


def normalised(encoder: Encoder, images: np.ndarray) -> torch.Tensor:
    """uint8 images ``(N, 3, H, W)`` as the encoder's float input: normalised with its
    statistics and scaled to its ``input_size``."""
    mean = torch.tensor(encoder.mean).view(1, 3, 1, 1)
    std = torch.tensor(encoder.std).view(1, 3, 1, 1)
    return scaled((torch.from_numpy(images).float() / 255 - mean) / std, encoder.input_size)


@torch.no_grad()
def calibrate_batchnorm(encoder: Encoder, images: np.ndarray, batch_size: int = 100) -> None:
    """Re-estimate the batch-norm statistics of ``encoder`` on ``images`` (no labels used).

    The untrained network's statistics (mean 0, variance 1) shrink the signal layer after
    layer until float16 features are all zeros. Averaging the statistics over a few hundred
    images of the captioning set itself fixes that.
    """
    layers = [m for m in encoder.network.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None  # a cumulative average over all batches
    encoder.network.train()
    for start in range(0, len(images), batch_size):
        encoder.network(normalised(encoder, images[start : start + batch_size]))
    encoder.network.eval()


@torch.no_grad()
def extract(
    encoder: Encoder, images: np.ndarray, batch_size: int = 100, progress: bool = True
) -> np.ndarray:
    """Feature maps of ``images`` ``(N, 3, 112, 112)`` uint8: ``(N, 1280, 4, 4)`` float16
    (read at the encoder's ``input_size``)."""
    maps = []
    starts = range(0, len(images), batch_size)
    for start in tqdm(starts, desc="features", unit="batch", disable=None if progress else True):
        batch = normalised(encoder, images[start : start + batch_size])
        maps.append(encoder.network(batch).to(torch.float16).numpy())
    return np.concatenate(maps) if maps else np.zeros((0, FEATURE_DIM, 4, 4), np.float16)


def fingerprint(source: str) -> str:
    """A short name for a data file: its path, size and modification time, hashed."""
    path = Path(source)
    stat = path.stat()
    text = f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def feature_maps(data, encoder: Encoder, data_root=None, progress: bool = True) -> dict:
    """The feature map of every image of ``data`` (a ``CaptionData`` with images), per split,
    ``(N, 1280, 4, 4)`` float16: read from the cache or extracted once and cached (again, when
    the cache is damaged)."""
    name = f"features-{data.name}-{fingerprint(data.source)}-{encoder.name}.npz"
    path = paths.data_root(data_root) / name
    maps = read_cached_maps(path)
    if maps is not None and set(maps) == set(data.splits):
        return maps
    print(f"extracting the features of {encoder.name} once; caching them in {path}",
          file=sys.stderr, flush=True)  # fmt: skip
    if encoder.recalibrate:
        calibrate_batchnorm(encoder, data.splits["train"].images[:CALIBRATION_IMAGES])
    maps = {
        split: extract(encoder, part.images, progress=progress)
        for split, part in data.splits.items()
    }
    runs.save_npz(path, maps)
    return maps


def read_cached_maps(path: Path) -> dict | None:
    """The arrays of the feature cache ``path``, or ``None`` when it is missing, empty,
    truncated or not an archive of arrays (it is then extracted again)."""
    try:
        with np.load(path, allow_pickle=False) as file:
            return {key: file[key] for key in file.files}
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, AttributeError, TypeError):
        return None


def pooled(maps: np.ndarray) -> np.ndarray:
    """``(N, 1280, 4, 4)`` maps to the ``(N, 1280)`` float32 vectors the networks pool."""
    return maps.astype(np.float32).mean(axis=(2, 3))


def standardised(vectors: dict[str, np.ndarray], reference: str = "train") -> dict:
    """Every split's ``(N, D)`` vectors with the per-column mean of ``vectors[reference]``
    subtracted and divided by its standard deviation (float32; a column that never changes
    is only centred)."""
    base = vectors[reference].astype(np.float64)
    mean, std = base.mean(axis=0), base.std(axis=0)
    std = np.where(std > 1e-6, std, 1.0)
    return {split: ((value - mean) / std).astype(np.float32) for split, value in vectors.items()}


def model_inputs(data, cell: str, encoder: Encoder | None = None, data_root=None,
                 progress: bool = True) -> dict[str, np.ndarray]:  # fmt: skip
    """What the decoder of ``cell`` reads, per split: the ``(N, 1280, 4, 4)`` float16 maps for
    ``attention``, pooled ``(N, 1280)`` float32 vectors, :func:`standardised`, otherwise; for
    the cs231n files, their precomputed ``(N, D)`` features as they are.

    Args:
        data: A ``CaptionData``.
        cell: ``rnn``, ``lstm`` or ``attention``.
        encoder: Extracts the maps of images (loaded with :func:`load_encoder` when needed).
    """
    if not data.has_images:
        if cell == "attention":
            raise ValueError(f"{data.source} holds pooled features only: no attention")
        return {split: part.features for split, part in data.splits.items()}
    maps = feature_maps(data, encoder, data_root, progress)
    if cell == "attention":
        return maps
    return standardised({split: pooled(value) for split, value in maps.items()})
