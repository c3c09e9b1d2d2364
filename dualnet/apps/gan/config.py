"""The configuration of a GAN run, and the one place its defaults come from.

:func:`make_config` is how the command line, the tutorial and the tests get a configuration:
:func:`defaults` for the loss and model, overridden by the settings given. A checkpoint stores
the whole :class:`GanConfig`; :func:`resumed_config` rebuilds it for ``--resume`` and refuses
settings that would make the resumed run a different run.

The defaults are the course's (batch 128, noise of dimension 96 uniform in [-1, 1], Adam at
1e-3 with betas (0.5, 0.999), one discriminator step per generator step) and, for WGAN-GP,
the paper's (Gulrajani et al. 2017: lambda = 10, five critic steps per generator step, Adam at
1e-4 with betas (0, 0.9)).
"""

from __future__ import annotations

from dataclasses import dataclass

from dualnet.apps import resume, runtime
from dualnet.apps.gan.data import DATASETS
from dualnet.apps.gan.models import LOSSES, MODELS
from dualnet.apps.options import ConfigError, Range, check_ranges

CHECKPOINT_FORMAT = "dualnet-gan-1"
DEFAULT_MODEL = "dc"
DEFAULT_LOSS = "ls"

STEPS = {"fc": 1200, "dc": 300}
"""Default generator steps with the vanilla and least-squares losses: about five minutes of
training on a shared 2-core CPU (see the measured table in the docs)."""
WGAN_STEPS = {"fc": 400, "dc": 90}
"""Default generator steps with WGAN-GP, whose every step holds five critic steps, each with
the gradient penalty's double backward: the same five minutes."""

RANGES = {
    "steps": Range(int, 1),
    "batch_size": Range(int, 1),
    "noise_dim": Range(int, 1),
    "lr": Range(float, 0, low_open=True),
    "beta1": Range(float, 0, 1, high_open=True),
    "beta2": Range(float, 0, 1, high_open=True),
    "critic_steps": Range(int, 1),
    "lambda_gp": Range(float, 0),
    "seed": Range(int, 0),
    "log_every": Range(int, 1),
    "sample_every": Range(int, 1),
    "checkpoint_every": Range(int, 0),
    "stop_after_steps": Range(int, 1),
}
"""The allowed values of every numeric setting (also checked by the command line)."""

MAY_CHANGE_ON_RESUME = (
    "device",
    "data_root",
    "checkpoint_every",
    "stop_after_steps",
    "progress",
    "figures",
    "resume",
    "out_dir",
)
"""Settings that do not change what a run computes; every other one comes from the
checkpoint when a run is resumed."""


@dataclass(kw_only=True)
class GanConfig:
    """Everything that defines a GAN run; stored in every checkpoint.

    ``steps`` counts generator steps; each is preceded by ``critic_steps`` discriminator
    steps, and each of those takes its own batch of ``batch_size`` real digits (the global
    batch: with ``W`` processes each takes ``batch_size / W``). ``lambda_gp`` weighs the
    gradient penalty of ``loss="wgan-gp"`` (unused by the other losses). Every
    ``log_every`` steps a record goes to ``metrics.jsonl``; every ``sample_every`` steps the
    generator draws the run's fixed noise into ``samples/`` and ``last.pt`` is written (also
    every ``checkpoint_every`` steps when that is not 0). ``stop_after_steps`` ends the run
    early with a checkpoint, to be continued with ``resume``.
    """

    model: str = DEFAULT_MODEL
    loss: str = DEFAULT_LOSS
    steps: int
    batch_size: int
    noise_dim: int
    lr: float
    beta1: float
    beta2: float
    critic_steps: int
    lambda_gp: float
    data: str = "embedded"
    data_root: str | None = None
    device: str = "auto"
    seed: int = 0
    log_every: int = 25
    sample_every: int = 100
    out_dir: str = "runs/gan"
    checkpoint_every: int = 0
    stop_after_steps: int | None = None
    resume: str | None = None
    progress: bool = True
    figures: bool = True

    def check(self) -> None:
        """Raise :class:`ConfigError` for an impossible configuration, naming the setting."""
        choices = {
            "model": tuple(MODELS),
            "loss": LOSSES,
            "data": DATASETS,
            "device": runtime.DEVICES,
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(
                    f"{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}"
                )
        check_ranges(self, RANGES)


def defaults(model: str = DEFAULT_MODEL, loss: str = DEFAULT_LOSS) -> dict:
    """The default hyperparameters of ``model`` trained with ``loss``."""
    if model not in MODELS:
        raise ConfigError(f"model must be one of {', '.join(MODELS)}, got {model!r}")
    if loss not in LOSSES:
        raise ConfigError(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}")
    common = {"batch_size": 128, "noise_dim": 96}
    if loss == "wgan-gp":
        return {**common, "steps": WGAN_STEPS[model], "lr": 1e-4, "beta1": 0.0, "beta2": 0.9,
                "critic_steps": 5, "lambda_gp": 10.0}  # fmt: skip
    return {**common, "steps": STEPS[model], "lr": 1e-3, "beta1": 0.5, "beta2": 0.999,
            "critic_steps": 1, "lambda_gp": 0.0}  # fmt: skip


def make_config(model: str | None = None, loss: str | None = None, **settings) -> GanConfig:
    """A :class:`GanConfig` with :func:`defaults` for ``model`` and ``loss``, overridden by
    ``settings``; ``None`` means "not given". The result is checked."""
    model, loss = model or DEFAULT_MODEL, loss or DEFAULT_LOSS
    chosen = {k: v for k, v in settings.items() if v is not None}
    config = GanConfig(model=model, loss=loss, **{**defaults(model, loss), **chosen})
    config.check()
    return config


def config_from_checkpoint(checkpoint: dict) -> GanConfig:
    """The configuration a checkpoint was made with."""
    return resume.stored_config(GanConfig, checkpoint)


def contradictions(previous: GanConfig, settings: dict) -> list[str]:
    """The names of ``settings`` (not ``None``) that differ from ``previous`` and may not
    change on a resume."""
    return resume.contradictions(previous, settings, MAY_CHANGE_ON_RESUME)


def resumed_config(checkpoint: dict, settings: dict) -> GanConfig:
    """The configuration of the run ``checkpoint`` belongs to, with the ``settings`` that may
    change on a resume applied (:func:`dualnet.apps.resume.resumed_config`).

    Raises:
        ConfigError: if a setting contradicts the checkpoint, naming it.
    """
    return resume.resumed_config(GanConfig, checkpoint, settings, MAY_CHANGE_ON_RESUME)
