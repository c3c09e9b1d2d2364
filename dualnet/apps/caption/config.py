"""The configuration of a captioning run, and the one place its defaults come from.

:func:`make_config` starts from :func:`defaults` for the cell and backend and applies the
settings given; a checkpoint stores the whole :class:`CaptionConfig`, and
:func:`resumed_config` rebuilds it for ``--resume``.
"""

from __future__ import annotations

from dataclasses import dataclass

from dualnet.apps import resume, runtime
from dualnet.apps.options import ConfigError, Range, check_ranges

CHECKPOINT_FORMAT = "dualnet-caption-1"
CELLS = ("rnn", "lstm", "attention")
BACKENDS = ("torch", "numpy")
DATA_KINDS = ("embedded", "coco.pt", "cs231n")
DTYPES = ("float32", "float64")
ENCODERS = ("auto", "lite0", "imagenet", "standin", "random")

RANGES = {
    "epochs": Range(int, 1),
    "batch_size": Range(int, 1),
    "lr": Range(float, 0, low_open=True),
    "lr_decay": Range(float, 0, 1, low_open=True),
    "wordvec_dim": Range(int, 1),
    "hidden_dim": Range(int, 1),
    "train_subset": Range(int, 1),
    "seed": Range(int, 0),
    "checkpoint_every": Range(int, 0),
    "stop_after_steps": Range(int, 1),
}
"""The allowed values of every numeric setting (also checked by the command line)."""

MAY_CHANGE_ON_RESUME = (
    "device",
    "data_root",
    "checkpoint_every",
    "stop_after_steps",
    "resume",
    "out_dir",
    "progress",
    "figures",
)


@dataclass(kw_only=True)
class CaptionConfig:
    """Everything that defines a captioning run; stored in every checkpoint.

    ``data`` is ``embedded``, ``coco.pt`` (with ``data_path`` the file) or ``cs231n`` (with
    ``data_path`` the folder). ``encoder``/``weights`` choose the image encoder and its
    weights (:mod:`~dualnet.apps.caption.encoders`). ``train_subset`` keeps the
    captions of the first N training images. ``blind`` trains on features shuffled across
    images: the image-blind baseline.
    """

    cell: str
    epochs: int
    batch_size: int
    lr: float
    lr_decay: float
    wordvec_dim: int
    hidden_dim: int
    backend: str = "torch"
    data: str = "embedded"
    data_path: str | None = None
    data_root: str | None = None
    encoder: str = "auto"
    weights: str | None = None
    train_subset: int | None = None
    blind: bool = False
    dtype: str = "float32"
    device: str = "auto"
    seed: int = 0
    out_dir: str = "runs/caption"
    checkpoint_every: int = 0
    stop_after_steps: int | None = None
    resume: str | None = None
    progress: bool = True
    figures: bool = True

    def check(self) -> None:
        """Raise :class:`ConfigError` for an impossible configuration, naming the setting."""
        choices = {
            "cell": CELLS,
            "backend": BACKENDS,
            "data": DATA_KINDS,
            "dtype": DTYPES,
            "encoder": ENCODERS,
            "device": runtime.DEVICES,
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(
                    f"{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}"
                )
        check_ranges(self, RANGES)
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
    return resume.stored_config(CaptionConfig, checkpoint)


def contradictions(previous: CaptionConfig, settings: dict) -> list[str]:
    """The names of ``settings`` (not ``None``) that differ from ``previous`` and may not
    change on a resume."""
    return resume.contradictions(previous, settings, MAY_CHANGE_ON_RESUME)


def resumed_config(checkpoint: dict, settings: dict) -> CaptionConfig:
    """The configuration of the run ``checkpoint`` belongs to, with the ``settings`` that may
    change on a resume applied (:func:`dualnet.apps.resume.resumed_config`).

    Raises:
        ConfigError: if a setting contradicts the checkpoint, naming it.
    """
    return resume.resumed_config(CaptionConfig, checkpoint, settings, MAY_CHANGE_ON_RESUME)
