"""The configuration of a classification run, and the one place its defaults come from.

:func:`make_config` is how the command line, the tutorials and the tests get a configuration:
it starts from :func:`defaults` for the model, level and backend, then applies the settings
given. A checkpoint stores the whole :class:`ClassifyConfig`; each setting is declared once, on its
field (:mod:`dualnet.apps.settings`).
"""

from __future__ import annotations

from dataclasses import dataclass

from dualnet.apps import runtime
from dualnet.apps.classify.models import LEVELS, MODELS
from dualnet.apps.settings import (
    MAX_BATCH,
    MAX_EPOCHS,
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

CHECKPOINT_FORMAT = "dualnet-classify-1"
DEFAULT_MODEL = "resnet-preact20"
BACKENDS = ("torch", "numpy")
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("cosine", "step", "constant")
DATASETS = ("embedded", "cifar10")
MAX_IMAGE_SIZE = 512
"""The largest embedded images drawn (the models take 32 or 64 pixels)."""


@dataclass(kw_only=True)
class ClassifyConfig:
    """Everything that defines a classification run; stored in every checkpoint.

    The training hyperparameters (``epochs`` ... ``augment``) have no defaults here: they
    depend on the model, and :func:`defaults` is their one source. ``batch_size`` is the
    global batch: with ``W`` processes each takes ``batch_size / W``. ``stop_after_steps``
    ends the run after that many steps (with a checkpoint), to be continued with ``resume``.
    ``progress`` shows a progress bar on a terminal and one line per epoch elsewhere;
    ``figures`` draws ``curves.png`` after every epoch and ``confusion.png`` at the end.
    """

    model: str = setting(DEFAULT_MODEL, help="see `dualnet classify models`", choices=tuple(MODELS))
    epochs: int = setting(help="epochs to train", range=Range(int, 1, MAX_EPOCHS))
    batch_size: int = setting(help="global batch size", range=Range(int, 1, MAX_BATCH))
    optimizer: str = setting(help="optimizer", choices=OPTIMIZERS)
    lr: float = setting(help="peak learning rate", range=Range(float, 0, low_open=True))
    momentum: float = setting(help="SGD momentum", range=Range(float, 0, 1, high_open=True))
    weight_decay: float = setting(help="L2 weight decay", range=Range(float, 0))
    schedule: str = setting(help="learning-rate schedule", choices=SCHEDULES)
    warmup_epochs: float = setting(help="linear warm-up length in epochs", range=Range(float, 0))
    augment: bool = setting(help="random crops and flips")
    level: str = setting(
        "module", help="PyTorch abstraction level of fc2 and convnet3", choices=LEVELS
    )
    backend: str = setting(
        "torch", help="numpy trains the NumPy reference with the Solver", choices=BACKENDS
    )
    data: str = setting("embedded", help="embedded needs no download", choices=DATASETS, open=True)
    data_root: str | None = setting(
        None, help="CIFAR-10: the folder holding cifar-10-batches-py/", may_change=True
    )
    image_size: int = setting(
        32,
        help="embedded images drawn at N x N pixels (the model's)",
        range=Range(int, 8, MAX_IMAGE_SIZE),
    )
    label_smoothing: float = setting(
        0.0, help="label smoothing", range=Range(float, 0, 1, high_open=True)
    )
    train_subset: int | None = setting(
        None, help="train on the first N training images only", range=Range(int, 1)
    )
    device: str = setting(
        "auto", help="auto: CUDA when available", choices=runtime.DEVICES, may_change=True
    )
    compile: bool = setting(False, help="wrap the model in torch.compile", may_change=True)
    seed: int = setting(0, help="seed of initialisation, order and augmentation", range=SEED)
    out_dir: str = setting("runs/classify", help="run directory", flag="--out", may_change=True)
    checkpoint_every: int = checkpoint_every_setting("per epoch")
    stop_after_steps: int | None = stop_after_steps_setting()
    resume: str | None = resume_setting()
    progress: bool = setting(
        True, help="progress bar, or one line per epoch off a terminal", may_change=True
    )
    figures: bool = setting(True, help="draw curves.png and confusion.png", may_change=True)

    def check(self) -> None:
        """Raise :class:`ConfigError` for an impossible configuration, naming the setting."""
        check_settings(self)
        MODELS[self.model].check(self.backend, self.level)
        if self.level == "barebones" and (
            self.optimizer != "sgd" or self.momentum or self.weight_decay
        ):
            raise ConfigError(
                "the barebones level trains with its hand-written SGD step: use --optimizer sgd "
                "--momentum 0 --weight-decay 0"
            )
        if self.backend == "numpy":
            check_numpy_settings(self)
        if self.data == "cifar10" and self.image_size != 32:
            raise ConfigError(f"CIFAR-10 images are 32x32, got image_size {self.image_size}")


def check_numpy_settings(config: ClassifyConfig) -> None:
    """The NumPy backend trains with the ``Solver``: constant rate, no augmentation."""
    if config.optimizer not in ("sgd", "adam") or config.schedule != "constant":
        raise ConfigError(
            "the NumPy backend trains with --optimizer sgd or adam and --schedule constant, "
            f"got --optimizer {config.optimizer} --schedule {config.schedule}"
        )
    if config.augment or config.label_smoothing or config.warmup_epochs:
        raise ConfigError(
            "the NumPy backend has no augmentation, label smoothing or warm-up: use "
            "--no-augment, --label-smoothing 0 and --warmup-epochs 0"
        )
    if config.resume:
        raise ConfigError(
            "the NumPy backend cannot resume a run (its Solver keeps no state between runs); "
            "start a new run"
        )


def defaults(model: str = DEFAULT_MODEL, level: str = "module", backend: str = "torch") -> dict:
    """The default training hyperparameters of ``model`` at ``level`` with ``backend``.

    * The ResNets: SGD with Nesterov momentum, weight decay, half an epoch of warm-up, a cosine
      schedule, random crops and flips.
    * The small networks in PyTorch: Adam at a constant rate, no augmentation (their last
      layer sees every position separately, and on short runs random crops cost them more
      than they help); at the barebones level, plain SGD, the update written by hand.
    * The NumPy backend: Adam at a constant rate, batches of 64, L2 regularisation.
    """
    if model not in MODELS:
        raise ConfigError(f"model must be one of {', '.join(MODELS)}, got {model!r}")
    common = {"epochs": 5, "batch_size": 128, "warmup_epochs": 0.0, "augment": False}
    adam = {"optimizer": "adam", "lr": 1e-3, "momentum": 0.0, "schedule": "constant"}
    if backend == "numpy":
        return {**common, **adam, "batch_size": 64, "weight_decay": 1e-3}
    if MODELS[model].family == "squeezenet":
        return {
            **common,
            "epochs": 12,
            "optimizer": "adamw",
            "lr": 2e-3,
            "momentum": 0.0,
            "weight_decay": 5e-4,
            "schedule": "cosine",
            "warmup_epochs": 1.0,
            "augment": True,
        }
    if MODELS[model].family == "resnet":
        return {
            **common,
            "optimizer": "sgd",
            "lr": 0.1,
            "momentum": 0.9,
            "weight_decay": 5e-4,
            "schedule": "cosine",
            "warmup_epochs": 0.5,
            "augment": True,
        }
    if level == "barebones":
        return {**common, **adam, "optimizer": "sgd", "lr": 0.01, "weight_decay": 0.0}
    return {**common, **adam, "weight_decay": 0.0}


def make_config(
    model: str | None = None, level: str | None = None, backend: str | None = None, **settings
) -> ClassifyConfig:
    """A :class:`ClassifyConfig` with :func:`defaults` for the model, overridden by ``settings``.

    ``None`` means "not given": the model is then :data:`DEFAULT_MODEL`, the level
    ``module``, the backend ``torch``, and any other setting its default. The result is
    checked.
    """
    model, level, backend = model or DEFAULT_MODEL, level or "module", backend or "torch"
    chosen = {"image_size": MODELS[model].image_size if model in MODELS else 32}
    chosen.update({k: v for k, v in settings.items() if v is not None})
    config = ClassifyConfig(
        model=model, level=level, backend=backend, **{**defaults(model, level, backend), **chosen}
    )
    config.check()
    return config


def config_from_checkpoint(checkpoint: dict) -> ClassifyConfig:
    """The configuration a checkpoint was made with."""
    return stored_config(ClassifyConfig, checkpoint)
