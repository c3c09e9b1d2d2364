"""The configuration of a classification run, and the one place its defaults come from.

:func:`make_config` is how the command line, the tutorials and the tests get a configuration:
it starts from :func:`defaults` for the model, level and backend, then applies the settings
given. A checkpoint stores the whole :class:`TrainConfig`; :func:`resumed_config` rebuilds it
for ``--resume`` and refuses settings that would make the resumed run a different run.
"""

from __future__ import annotations

from dataclasses import dataclass

from dualnet.apps import resume, runtime
from dualnet.apps.classify.models import LEVELS, MODELS
from dualnet.apps.options import ConfigError, Range, check_ranges

CHECKPOINT_FORMAT = "dualnet-classify-1"
DEFAULT_MODEL = "resnet-preact20"
BACKENDS = ("torch", "numpy")
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("cosine", "step", "constant")
DATASETS = ("embedded", "cifar10")

RANGES = {
    "epochs": Range(int, 1),
    "batch_size": Range(int, 1),
    "lr": Range(float, 0, low_open=True),
    "momentum": Range(float, 0, 1, high_open=True),
    "weight_decay": Range(float, 0),
    "warmup_epochs": Range(float, 0),
    "label_smoothing": Range(float, 0, 1, high_open=True),
    "train_subset": Range(int, 1),
    "image_size": Range(int, 8),
    "seed": Range(int, 0),
    "checkpoint_every": Range(int, 0),
    "stop_after_steps": Range(int, 1),
}
"""The allowed values of every numeric setting (also checked by the command line)."""

MAY_CHANGE_ON_RESUME = (
    "device",
    "compile",
    "data_root",
    "checkpoint_every",
    "stop_after_steps",
    "resume",
    "out_dir",
    "progress",
    "figures",
)
"""Settings that do not change what a run computes; every other one comes from the
checkpoint when a run is resumed."""


@dataclass(kw_only=True)
class TrainConfig:
    """Everything that defines a classification run; stored in every checkpoint.

    The training hyperparameters (``epochs`` ... ``augment``) have no defaults here: they
    depend on the model, and :func:`defaults` is their one source. ``batch_size`` is the
    global batch: with ``W`` processes each takes ``batch_size / W``. ``stop_after_steps``
    ends the run after that many steps (with a checkpoint), to be continued with ``resume``.
    ``progress`` shows a progress bar on a terminal and one line per epoch elsewhere;
    ``figures`` draws ``curves.png`` after every epoch and ``confusion.png`` at the end.
    """

    model: str
    epochs: int
    batch_size: int
    optimizer: str
    lr: float
    momentum: float
    weight_decay: float
    schedule: str
    warmup_epochs: float
    augment: bool
    level: str = "module"
    backend: str = "torch"
    data: str = "embedded"
    data_root: str | None = None
    image_size: int = 32
    label_smoothing: float = 0.0
    train_subset: int | None = None
    device: str = "auto"
    compile: bool = False
    seed: int = 0
    out_dir: str = "runs/classify"
    checkpoint_every: int = 0
    stop_after_steps: int | None = None
    resume: str | None = None
    progress: bool = True
    figures: bool = True

    def check(self) -> None:
        """Raise :class:`ConfigError` for an impossible configuration, naming the setting."""
        choices = {
            "model": tuple(MODELS),
            "level": LEVELS,
            "backend": BACKENDS,
            "optimizer": OPTIMIZERS,
            "schedule": SCHEDULES,
            "device": runtime.DEVICES,
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(
                    f"{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}"
                )
        check_ranges(self, RANGES)
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


def check_numpy_settings(config: TrainConfig) -> None:
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
) -> TrainConfig:
    """A :class:`TrainConfig` with :func:`defaults` for the model, overridden by ``settings``.

    ``None`` means "not given": the model is then :data:`DEFAULT_MODEL`, the level
    ``module``, the backend ``torch``, and any other setting its default. The result is
    checked.
    """
    model, level, backend = model or DEFAULT_MODEL, level or "module", backend or "torch"
    chosen = {"image_size": MODELS[model].image_size if model in MODELS else 32}
    chosen.update({k: v for k, v in settings.items() if v is not None})
    config = TrainConfig(
        model=model, level=level, backend=backend, **{**defaults(model, level, backend), **chosen}
    )
    config.check()
    return config


def config_from_checkpoint(checkpoint: dict) -> TrainConfig:
    """The configuration a checkpoint was made with."""
    return resume.stored_config(TrainConfig, checkpoint)


def contradictions(previous: TrainConfig, settings: dict) -> list[str]:
    """The names of ``settings`` (not ``None``) that differ from ``previous`` and may not
    change on a resume."""
    return resume.contradictions(previous, settings, MAY_CHANGE_ON_RESUME)


def resumed_config(checkpoint: dict, settings: dict) -> TrainConfig:
    """The configuration of the run ``checkpoint`` belongs to, with the ``settings`` that may
    change on a resume applied (:func:`dualnet.apps.resume.resumed_config`).

    Raises:
        ConfigError: if a setting contradicts the checkpoint, naming it.
    """
    return resume.resumed_config(TrainConfig, checkpoint, settings, MAY_CHANGE_ON_RESUME)
