r"""Image datasets as in-memory tensors: the split container, normalisation and augmentation.

Every image dataset is loaded whole into an :class:`ImageSplits`: ``uint8`` images of shape
``(N, 3, 32, 32)`` and ``int64`` labels of shape ``(N,)`` for the train, validation and test
splits, with the per-channel mean and standard deviation of the training images. The training
loop cuts its own batches from these tensors, converts them with :func:`normalize` and, while
training, perturbs them first with :func:`augment`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Split = tuple[torch.Tensor, torch.Tensor]


def _check_images(func: str, name: str, images: torch.Tensor) -> None:
    if not isinstance(images, torch.Tensor):
        raise ValueError(f"{func}: {name} must be a torch.Tensor, got {type(images).__name__}")
    if images.ndim != 4:
        raise ValueError(
            f"{func}: {name} has shape {tuple(images.shape)}, expected 4 dimensions (N, C, H, W)"
        )


def _check_split(name: str, split: Split, image_shape: tuple[int, ...] | None) -> None:
    """Fail unless ``split`` is ``(uint8 images (N, C, H, W), int64 labels (N,))``."""
    if not isinstance(split, tuple) or len(split) != 2:
        raise ValueError(f"ImageSplits: {name} must be a pair (images, labels), got {split!r}")
    images, labels = split
    _check_images("ImageSplits", f"{name} images", images)
    if images.dtype != torch.uint8:
        raise ValueError(
            f"ImageSplits: {name} images have dtype {images.dtype}, expected torch.uint8"
        )
    if image_shape is not None and tuple(images.shape[1:]) != image_shape:
        raise ValueError(
            f"ImageSplits: {name} images have shape {tuple(images.shape)}, expected "
            f"(N, {', '.join(map(str, image_shape))}) like the training images"
        )
    if (
        not isinstance(labels, torch.Tensor)
        or labels.dtype != torch.int64
        or labels.shape != (images.shape[0],)
    ):
        raise ValueError(
            f"ImageSplits: {name} labels have dtype {getattr(labels, 'dtype', type(labels))} "
            f"and shape {tuple(getattr(labels, 'shape', ()))}, expected torch.int64 of shape "
            f"({images.shape[0]},)"
        )


@dataclass(frozen=True, eq=False)
class ImageSplits:
    r"""A labelled image dataset, split three ways, held in memory.

    Attributes:
        name: The dataset, ``"embedded"`` or ``"cifar10"``.
        classes: The ``K`` class names (ten for both datasets); label ``k`` names
            ``classes[k]``.
        train: ``(images, labels)``: ``uint8`` images of shape ``(N_train, C, H, W)``
            (``(N_train, 3, 32, 32)`` for both datasets) and ``int64`` labels of shape
            ``(N_train,)`` in ``[0, K)``.
        val: The validation split, shaped like ``train`` with ``N_val`` images.
        test: The test split, shaped like ``train`` with ``N_test`` images.
        mean: The ``C`` per-channel means :math:`\mu_c` of the training images in
            :math:`[0, 1]` units.
        std: The ``C`` per-channel standard deviations :math:`\sigma_c` of the training images
            (population form, dividing by the number of values) in the same units.
        test_masks: For the embedded set, ``bool`` masks ``(N_test, H, W)`` of the object in
            each test image (true where it covers the pixel), to score explanations; else
            ``None``.

    Raises:
        ValueError: If a split is not ``uint8`` images with one ``int64`` label each, if the
            splits' images differ in ``(C, H, W)``, or if ``mean`` or ``std`` does not hold
            ``C`` values.
    """

    name: str
    classes: tuple[str, ...]
    train: Split
    val: Split
    test: Split
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    test_masks: torch.Tensor | None = None

    def __post_init__(self) -> None:
        _check_split("train", self.train, None)
        image_shape = tuple(self.train[0].shape[1:])
        _check_split("val", self.val, image_shape)
        _check_split("test", self.test, image_shape)
        for name in ("mean", "std"):
            if len(getattr(self, name)) != image_shape[0]:
                raise ValueError(
                    f"ImageSplits: {name} has {len(getattr(self, name))} value(s), expected "
                    f"{image_shape[0]} (one per channel of the images)"
                )

    def __repr__(self) -> str:
        sizes = ", ".join(
            f"{split}={len(getattr(self, split)[1])}" for split in ("train", "val", "test")
        )
        return (
            f"ImageSplits(name={self.name!r}, classes={len(self.classes)}, {sizes}, "
            f"mean={tuple(round(m, 4) for m in self.mean)}, "
            f"std={tuple(round(s, 4) for s in self.std)})"
        )


def channel_stats(
    images_uint8: torch.Tensor,
) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    r"""Exact per-channel mean and standard deviation of ``uint8`` images, in :math:`[0, 1]` units.

    .. math::

        \mu_c = \frac{1}{N H W} \sum_{n,i,j} \frac{x_{ncij}}{255}, \qquad
        \sigma_c = \sqrt{\frac{1}{N H W} \sum_{n,i,j} \Bigl(\frac{x_{ncij}}{255} - \mu_c\Bigr)^2}

    Computed from a histogram of the 256 possible values, so it is exact and needs no float copy
    of the images.

    Args:
        images_uint8: Images of shape ``(N, C, H, W)``, dtype ``torch.uint8``, ``N >= 1``.

    Returns:
        ``(mean, std)``, two tuples of ``C`` floats.

    Raises:
        ValueError: If ``images_uint8`` is not a non-empty 4-D ``uint8`` tensor.
    """
    _check_images("channel_stats", "images_uint8", images_uint8)
    if images_uint8.dtype != torch.uint8 or images_uint8.shape[0] == 0:
        raise ValueError(
            f"channel_stats: images_uint8 has dtype {images_uint8.dtype} and shape "
            f"{tuple(images_uint8.shape)}, expected a non-empty torch.uint8 tensor"
        )
    values = np.arange(256, dtype=np.float64) / 255
    means, stds = [], []
    for c in range(images_uint8.shape[1]):
        counts = torch.bincount(images_uint8[:, c].reshape(-1).cpu(), minlength=256)
        counts = counts.to(torch.float64).numpy()
        mean = float(counts @ values / counts.sum())
        var = float(counts @ (values - mean) ** 2 / counts.sum())
        means.append(mean)
        stds.append(var**0.5)
    return tuple(means), tuple(stds)


def normalize(
    images_uint8: torch.Tensor, mean: Sequence[float], std: Sequence[float]
) -> torch.Tensor:
    r"""Scale ``uint8`` images to :math:`[0, 1]` and standardise each channel.

    .. math::

        y_{ncij} = \frac{x_{ncij} / 255 - \mu_c}{\sigma_c}

    Args:
        images_uint8: Images of shape ``(N, C, H, W)``, dtype ``torch.uint8``, on any device.
        mean: The ``C`` channel means :math:`\mu_c` in :math:`[0, 1]` units (a sequence or a
            tensor of shape ``(C,)``), usually :attr:`ImageSplits.mean`.
        std: The ``C`` channel standard deviations :math:`\sigma_c`, all positive.

    Returns:
        ``float32`` tensor of shape ``(N, C, H, W)`` on the device of ``images_uint8``.

    Raises:
        ValueError: If the images are not a 4-D ``uint8`` tensor, if ``mean`` or ``std`` does
            not hold one value per channel, or if a standard deviation is not positive.
    """
    _check_images("normalize", "images_uint8", images_uint8)
    if images_uint8.dtype != torch.uint8:
        raise ValueError(
            f"normalize: images_uint8 has dtype {images_uint8.dtype}, expected torch.uint8"
        )
    channels = images_uint8.shape[1]
    device = images_uint8.device
    mean_t = torch.as_tensor(mean, dtype=torch.float32).reshape(-1).to(device)
    std_t = torch.as_tensor(std, dtype=torch.float32).reshape(-1).to(device)
    for name, value in (("mean", mean_t), ("std", std_t)):
        if value.numel() != channels:
            raise ValueError(
                f"normalize: {name} has {value.numel()} value(s), expected {channels} "
                f"(one per channel of images_uint8 of shape {tuple(images_uint8.shape)})"
            )
    if not bool((std_t > 0).all()):
        raise ValueError(f"normalize: std must be positive, got {std_t.tolist()}")
    scale = 1.0 / (255.0 * std_t)
    shift = mean_t / std_t
    return images_uint8.to(torch.float32) * scale.view(1, -1, 1, 1) - shift.view(1, -1, 1, 1)


def augment(
    images_uint8: torch.Tensor, generator: torch.Generator, padding: int = 4
) -> torch.Tensor:
    r"""Random crop with zero padding and random horizontal flip, drawn per image.

    Each image is padded with ``padding`` zeros on every side, a window of the original size is
    cut at offset :math:`(a_n, b_n)` (rows, columns), and with probability one half the window is
    mirrored left to right:

    .. math::

        y_{ncij} = \tilde{x}_{nc,\,a_n + i,\,b_n + j'}, \qquad
        j' = \begin{cases} W - 1 - j & \text{if } f_n = 1 \\ j & \text{otherwise} \end{cases}

    where :math:`\tilde{x}` is the padded image, :math:`a_n, b_n \in \{0, \dots, 2p\}` and
    :math:`f_n \in \{0, 1\}`. The whole batch is done in one gather, with no loop over images.

    The result depends only on the images and the generator's state: the offsets are drawn first,
    ``torch.randint(0, 2 * padding + 1, (N, 2))``, then the flips, ``torch.randint(0, 2, (N,))``,
    both from ``generator``. Restoring the generator state reproduces the batch exactly.

    Args:
        images_uint8: Images of shape ``(N, C, H, W)``, usually ``torch.uint8`` (any dtype is
            kept), on the CPU or a GPU.
        generator: The source of randomness, on the same device as ``images_uint8``.
        padding: The zero padding :math:`p \ge 0` added on each side; ``0`` only flips.

    Returns:
        Tensor of shape ``(N, C, H, W)``, with the dtype and device of ``images_uint8``.

    Raises:
        ValueError: If ``images_uint8`` is not 4-D, ``padding`` is negative or not an int, or
            ``generator`` lives on another device.
    """
    _check_images("augment", "images_uint8", images_uint8)
    if isinstance(padding, bool) or not isinstance(padding, int) or padding < 0:
        raise ValueError(f"augment: padding must be an int >= 0, got {padding!r}")
    if not isinstance(generator, torch.Generator):
        raise ValueError(
            f"augment: generator must be a torch.Generator, got {type(generator).__name__}"
        )
    device = images_uint8.device
    if torch.device(generator.device).type != device.type:
        raise ValueError(
            f"augment: generator is on {generator.device}, expected the device of "
            f"images_uint8 ({device})"
        )
    n, c, h, w = images_uint8.shape
    offsets = torch.randint(0, 2 * padding + 1, (n, 2), generator=generator, device=device)
    flips = torch.randint(0, 2, (n,), generator=generator, device=device).bool()
    padded = F.pad(images_uint8, (padding, padding, padding, padding)) if padding else images_uint8
    rows = offsets[:, :1] + torch.arange(h, device=device)  # (N, H)
    cols = offsets[:, 1:] + torch.arange(w, device=device)  # (N, W)
    cols = torch.where(flips[:, None], cols.flip(1), cols)
    batch = torch.arange(n, device=device).view(n, 1, 1, 1)
    channel = torch.arange(c, device=device).view(1, c, 1, 1)
    return padded[batch, channel, rows.view(n, 1, h, 1), cols.view(n, 1, 1, w)]


def plot_examples(
    splits: ImageSplits, per_class: int = 8, split: str = "train", seed: int = 0
) -> Figure:
    """A grid of example images, one row per class, labelled with the class names.

    Args:
        splits: The dataset to draw from.
        per_class: Images shown in each row (``>= 1``).
        split: ``"train"``, ``"val"`` or ``"test"``.
        seed: Picks which images of each class are shown.

    Returns:
        A :class:`matplotlib.figure.Figure` with ``K`` rows of ``per_class`` images (made without
        pyplot, so no window opens; save it with ``fig.savefig(path)``).

    Raises:
        ValueError: If ``split`` is unknown or ``per_class`` is below 1.
    """
    if split not in ("train", "val", "test"):
        raise ValueError(f"plot_examples: split must be 'train', 'val' or 'test', got {split!r}")
    if isinstance(per_class, bool) or not isinstance(per_class, int) or per_class < 1:
        raise ValueError(f"plot_examples: per_class must be an int >= 1, got {per_class!r}")
    from matplotlib.figure import Figure

    images, labels = getattr(splits, split)
    rng = np.random.default_rng(seed)
    rows = len(splits.classes)
    fig = Figure(figsize=(0.8 * per_class + 1.6, 0.8 * rows), layout="constrained")
    axes = fig.subplots(rows, per_class, squeeze=False)
    for k, name in enumerate(splits.classes):
        members = np.flatnonzero(labels.numpy() == k)
        chosen = rng.choice(members, size=min(per_class, len(members)), replace=False)
        for j, ax in enumerate(axes[k]):
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if j < len(chosen):
                ax.imshow(images[chosen[j]].permute(1, 2, 0).numpy(), interpolation="nearest")
        axes[k, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
    return fig
