"""The configuration of a captioning run, and the one place its defaults come from.

:func:`make_config` starts from :func:`defaults` for the cell and backend and applies the
settings given; a checkpoint stores the whole :class:`CaptionConfig`. Each setting is
declared once, on its field (:mod:`dualnet.apps.settings`).
"""

from __future__ import annotations

from dataclasses import dataclass

from dualnet.apps import runtime
from dualnet.apps.settings import (
    MAX_BATCH,
    MAX_EPOCHS,
    MAX_WIDTH,
    SEED,
    ConfigError,
    Range,
    check_settings,
    checkpoint_every_setting,
    resume_setting,
    setting,
    stop_after_steps_setting,
    stored_config,
)

CHECKPOINT_FORMAT = "dualnet-caption-1"
CELLS = ("rnn", "lstm", "attention")
BACKENDS = ("torch", "numpy")
DATA_KINDS = ("embedded", "coco.pt", "cs231n")
DTYPES = ("float32", "float64")
ENCODERS = ("auto", "lite0", "imagenet", "standin", "random")


@dataclass(kw_only=True)
class CaptionConfig:
    """Everything that defines a captioning run; stored in every checkpoint.

    ``data`` is ``embedded``, ``coco.pt`` (with ``data_path`` the file) or ``cs231n`` (with
    ``data_path`` the folder): the command line takes both as ``--data KIND [PATH]``.
    ``encoder``/``weights`` choose the image encoder and its weights
    (:mod:`~dualnet.apps.caption.encoders`). ``train_subset`` keeps the captions of the first
    N training images. ``blind`` trains on features shuffled across images: the image-blind
    baseline.
    """

    cell: str = setting("attention", help="rnn, lstm or attention", choices=CELLS)
    epochs: int = setting(help="epochs to train", range=Range(int, 1, MAX_EPOCHS))
    batch_size: int = setting(help="captions per step", range=Range(int, 1, MAX_BATCH))
    lr: float = setting(help="Adam learning rate", range=Range(float, 0, low_open=True))
    lr_decay: float = setting(
        help="learning rate factor per epoch", range=Range(float, 0, 1, low_open=True)
    )
    wordvec_dim: int = setting(help="word vector size", range=Range(int, 1, MAX_WIDTH))
    hidden_dim: int = setting(help="hidden state size", range=Range(int, 1, MAX_WIDTH))
    backend: str = setting(
        "torch", help="numpy trains the NumPy model with the CaptioningSolver", choices=BACKENDS
    )
    data: str = setting(
        "embedded", help="the data: --data KIND [PATH]", flag="--data", choices=DATA_KINDS
    )
    data_path: str | None = setting(None, help="the file or folder of --data", flag="--data")
    data_root: str | None = setting(
        None, help="cache folder ($DUALNET_CACHE or ~/.cache/dualnet)", may_change=True
    )
    encoder: str = setting(
        "auto",
        help="lite0 (EfficientNet-Lite0), imagenet (MobileNetV2), standin or random (auto: lite0)",
        choices=ENCODERS,
    )
    weights: str | None = setting(
        None, help="ImageNet weights file: Lite0's with --encoder lite0, else MobileNetV2's"
    )
    train_subset: int | None = setting(
        None, help="train on the captions of the first N images only", range=Range(int, 1)
    )
    blind: bool = setting(False, help="train on shuffled features: the image-blind baseline")
    dtype: str = setting("float32", help="float32 or float64", choices=DTYPES)
    device: str = setting(
        "auto", help="auto: CUDA when available", choices=runtime.DEVICES, may_change=True
    )
    seed: int = setting(0, help="seed of the initial weights and the batch order", range=SEED)
    out_dir: str = setting("runs/caption", help="run directory", flag="--out", may_change=True)
    checkpoint_every: int = checkpoint_every_setting()
    stop_after_steps: int | None = stop_after_steps_setting()
    resume: str | None = resume_setting()
    progress: bool = setting(
        True, help="progress bar, or one line per epoch off a terminal", may_change=True
    )
    figures: bool = setting(True, help="draw curves.png", may_change=True)

    def check(self) -> None:
        """Raise :class:`ConfigError` for an impossible configuration, naming the setting."""
        check_settings(self)
        if self.data != "embedded" and not self.data_path:
            raise ConfigError(f"--data {self.data} needs a path: --data {self.data} PATH")
        if self.data == "cs231n" and self.cell == "attention":
            raise ConfigError(
                "the cs231n files hold pooled VGG-16 features, no images and no feature map: "
                "--cell attention needs --data embedded or coco.pt FILE"
            )
        if self.weights and self.encoder not in ("auto", "lite0", "imagenet"):
            raise ConfigError(
                f"--weights is a file of ImageNet weights: it takes --encoder lite0 or imagenet, "
                f"not {self.encoder}"
            )
        if self.backend == "numpy" and self.resume:
            raise ConfigError("the NumPy backend cannot resume a run; start a new one")


def defaults(cell: str = "attention", backend: str = "torch") -> dict:
    """The default hyperparameters of ``cell`` with ``backend``: Adam with a per-epoch decay,
    word vectors of 128 and a hidden state of 256 numbers (the NumPy backend: 128)."""
    if cell not in CELLS:
        raise ConfigError(f"cell must be one of {', '.join(CELLS)}, got {cell!r}")
    common = {"batch_size": 128, "lr": 2e-3, "lr_decay": 0.9, "wordvec_dim": 128}
    if backend == "numpy":
        return {**common, "epochs": 2, "hidden_dim": 128}
    return {**common, "epochs": 3, "hidden_dim": 256}


def make_config(cell: str | None = None, backend: str | None = None, **settings) -> CaptionConfig:
    """A checked :class:`CaptionConfig`: :func:`defaults` overridden by ``settings`` (``None``
    values mean "not given")."""
    cell, backend = cell or "attention", backend or "torch"
    chosen = {k: v for k, v in settings.items() if v is not None}
    config = CaptionConfig(cell=cell, backend=backend, **{**defaults(cell, backend), **chosen})
    config.check()
    return config


def config_from_checkpoint(checkpoint: dict) -> CaptionConfig:
    """The configuration a checkpoint was made with."""
    return stored_config(CaptionConfig, checkpoint)
