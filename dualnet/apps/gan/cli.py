"""``dualnet gan train|sample|eval``: the command line of the GAN application.

Every setting of :class:`~dualnet.apps.gan.config.GanConfig` is a flag, declared on its
field (:mod:`dualnet.apps.settings`), whose default is "not given"; the configuration then
comes from
:func:`~dualnet.apps.gan.config.make_config` (the defaults of the loss plus the flags)
or, with ``--resume RUN``, from the run's checkpoint (plus the flags that may change).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dualnet.apps import flags, runs
from dualnet.apps.gan import config as cfg
from dualnet.apps.gan.data import DigitsError
from dualnet.apps.gan.models import LOSSES, MODELS
from dualnet.apps.output import fail, print_json, print_summary, run_training
from dualnet.apps.settings import (
    ConfigError,
    add_setting_flags,
    defaults_line,
    given_settings,
)
from dualnet.data.paths import DatasetNotFoundError

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
            settings = defaults_line(cfg.GanConfig, cfg.defaults(model, loss))
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
    add_setting_flags(train, cfg.GanConfig)
    train.add_argument("--resume", metavar="RUN", help="continue a run (its directory or a .pt)")
    flags.add_json(train)
    train.set_defaults(run=run_train, parser=train)


def config_for_new_run(settings: dict) -> cfg.GanConfig:
    config = cfg.make_config(**{k: v for k, v in settings.items() if k != "out_dir"})
    name = f"runs/gan/{config.model}-{config.loss}-{config.data}-seed{config.seed}"
    config.out_dir = settings["out_dir"] or name
    return config


def run_train(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from dualnet.apps.gan.train import train

    settings = given_settings(args, cfg.GanConfig)

    def start():
        if args.resume:
            config = runs.config_for_resume(
                cfg.GanConfig, cfg.CHECKPOINT_FORMAT, args.resume, settings, parser
            )
        else:
            config = config_for_new_run(settings)
        return train(config)

    evaluate = "evaluate it with: dualnet gan eval {run}"
    return run_training("gan", start, parser, ERRORS, as_json=args.json, when_finished=evaluate)


def add_sample(actions) -> None:
    sample = actions.add_parser(
        "sample",
        help="draw digits from a trained generator",
        description="Draw N digits from a run's generator into a grid, OUT/samples.png, "
        "with OUT/summary.json.",
    )
    flags.add_run(sample)
    flags.add_n_images(sample, 64, "digits to draw")
    flags.add_seed(sample, "the noise")
    flags.add_device(sample)
    sample.add_argument("--out", help="where to write (default: RUN/sample)")
    flags.add_json(sample)
    sample.set_defaults(run=run_sample, parser=sample)


def run_sample(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from dualnet.apps.gan.evaluate import sample_run

    try:
        summary = sample_run(args.run_path, args.n_images, args.seed, args.device, args.out)
    except ConfigError as error:
        parser.error(str(error))
    except ERRORS as error:
        return fail("gan sample", str(error))
    if args.json:
        print_json(summary)
    else:
        print_summary(summary, Path(summary["files"][0]).parent / "summary.json")
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
    flags.add_run(evaluate)
    flags.add_n_images(
        evaluate, 2000, "generated digits, and real digits in each reference set", low=2
    )
    flags.add_seed(evaluate, "the noise")
    evaluate.add_argument("--data-root", help="where the digits live, if not where they were")
    flags.add_device(evaluate)
    evaluate.add_argument("--out", help="where to write (default: RUN/eval)")
    flags.add_json(evaluate)
    evaluate.set_defaults(run=run_eval, parser=evaluate)


def run_eval(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from dualnet.apps.gan.evaluate import evaluate_run

    out = Path(args.out) if args.out else runs.last_checkpoint(args.run_path).parent / "eval"
    try:
        summary = evaluate_run(
            args.run_path, args.n_images, args.seed, args.data_root, args.device, out_dir=out
        )
    except ConfigError as error:
        parser.error(str(error))
    except ERRORS as error:
        return fail("gan eval", str(error))
    if args.json:
        print_json(summary)
        return 0
    histogram = " ".join(str(count) for count in summary["class_histogram"])
    print_summary({**summary, "class_histogram": histogram}, out / "summary.json")
    return 0
