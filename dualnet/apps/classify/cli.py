"""``dualnet classify train|eval|models``: the command line of image classification.

Every setting of :class:`~dualnet.apps.classify.config.TrainConfig` is a flag whose
default is "not given"; the configuration then comes from
:func:`~dualnet.apps.classify.config.make_config` (the model's defaults plus the flags)
or, with ``--resume RUN``, from the run's checkpoint (plus the flags that may change).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dualnet.apps import resume, runs
from dualnet.apps.classify import config as cfg
from dualnet.apps.classify.models import LEVELS, MODELS
from dualnet.apps.options import ConfigError, add_setting_flags
from dualnet.apps.output import fail, report_training, table

CHOICES = {
    # flag: (setting, choices, help)
    "--model": ("model", tuple(MODELS), f"see `dualnet classify models` ({cfg.DEFAULT_MODEL})"),
    "--level": ("level", LEVELS, "PyTorch abstraction level of fc2 and convnet3 (module)"),
    "--backend": ("backend", cfg.BACKENDS, "numpy trains the NumPy reference with the Solver"),
    "--data": ("data", cfg.DATASETS, "embedded needs no download (embedded)"),
    "--device": ("device", ("auto", "cpu", "cuda"), "auto: CUDA when available (auto)"),
    "--optimizer": ("optimizer", cfg.OPTIMIZERS, "see the defaults below"),
    "--schedule": ("schedule", cfg.SCHEDULES, "learning-rate schedule (see below)"),
}
NUMBERS = {
    # flag: (setting, help)
    "--epochs": ("epochs", "epochs to train (5)"),
    "--batch-size": ("batch_size", "global batch size (see below)"),
    "--lr": ("lr", "peak learning rate (see below)"),
    "--momentum": ("momentum", "SGD momentum (see below)"),
    "--weight-decay": ("weight_decay", "L2 weight decay (see below)"),
    "--warmup-epochs": ("warmup_epochs", "linear warm-up length in epochs (see below)"),
    "--label-smoothing": ("label_smoothing", "label smoothing (0)"),
    "--train-subset": ("train_subset", "train on the first N training images only"),
    "--image-size": ("image_size", "embedded images drawn at N x N pixels (the model's: 32 or 64)"),
    "--seed": ("seed", "seed of initialisation, order and augmentation (0)"),
    "--checkpoint-every": ("checkpoint_every", "also write last.pt every N steps (0: per epoch)"),
    "--stop-after-steps": ("stop_after_steps", "stop with a checkpoint after N steps"),
}
SWITCHES = {
    "--augment": ("augment", "random crops and flips (see below)"),
    "--compile": ("compile", "wrap the model in torch.compile (off)"),
    "--progress": ("progress", "progress bar, or one line per epoch off a terminal (on)"),
    "--figures": ("figures", "draw curves.png and confusion.png (on)"),
}
FLAGS = {
    **{setting: flag for flag, (setting, *_) in {**CHOICES, **NUMBERS, **SWITCHES}.items()},
    "data_root": "--data-root",
    "out_dir": "--out",
}
"""The flag of every setting, for messages."""


def add_commands(commands) -> None:
    """Add ``classify`` with its actions to the ``dualnet`` subcommands."""
    classify = commands.add_parser("classify", help="image classification: train, evaluate")
    actions = classify.add_subparsers(dest="action", required=True, metavar="ACTION")
    add_train(actions)
    add_eval(actions)
    models = actions.add_parser("models", help="list the models and who builds them")
    models.set_defaults(run=run_models, parser=models)


def defaults_text() -> str:
    """The epilog of ``--help``: the defaults each kind of model and backend really uses."""
    rows = [
        ("ResNets (torch)", cfg.defaults(cfg.DEFAULT_MODEL)),
        ("fc2, convnet3, convpool3 (torch)", cfg.defaults("fc2")),
        ("fc2, convnet3 --level barebones", cfg.defaults("fc2", "barebones")),
        ("fc2, convpool3 (--backend numpy)", cfg.defaults("fc2", backend="numpy")),
    ]
    keys = ("optimizer", "lr", "momentum", "weight_decay", "schedule", "warmup_epochs")
    lines = ["defaults:"]
    for name, values in rows:
        settings = ", ".join(f"{FLAGS[k]} {values[k]}" for k in keys)
        augment = "--augment" if values["augment"] else "--no-augment"
        lines.append(f"  {name}: {settings}, --batch-size {values['batch_size']}, {augment}")
    return "\n".join(lines)


def add_train(actions) -> None:
    train = actions.add_parser(
        "train",
        help="train a classifier",
        description="Train an image classifier on the embedded data (no download) or CIFAR-10. "
        "Writes config.json, metrics.jsonl, curves.png, confusion.png, summary.json, last.pt and "
        "best.pt to the run directory. Launch with torchrun for data-parallel training.",
        epilog=defaults_text(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_setting_flags(train, CHOICES, NUMBERS, SWITCHES, cfg.RANGES)
    train.add_argument("--data-root", help="CIFAR-10: the folder holding cifar-10-batches-py/")
    train.add_argument("--out", dest="out_dir", help="run directory (runs/classify/<run name>)")
    train.add_argument("--resume", metavar="RUN", help="continue a run (its directory or a .pt)")
    train.set_defaults(run=run_train, parser=train)


def given_settings(args: argparse.Namespace) -> dict:
    """The settings given on the command line (``None`` for the ones not given)."""
    names = [setting for setting in FLAGS if hasattr(args, setting)]
    return {name: getattr(args, name) for name in names}


def run_name(config: cfg.TrainConfig) -> str:
    """``runs/classify/<model>[-<level>]-<data>-<backend>-seed<seed>``."""
    level = f"-{config.level}" if len(MODELS[config.model].levels) > 1 else ""
    if config.backend == "numpy":
        level = ""
    return f"runs/classify/{config.model}{level}-{config.data}-{config.backend}-seed{config.seed}"


def config_for_new_run(settings: dict) -> cfg.TrainConfig:
    config = cfg.make_config(**{k: v for k, v in settings.items() if k != "out_dir"})
    config.out_dir = settings["out_dir"] or run_name(config)
    return config


def config_for_resume(resume_from: str, settings: dict, parser) -> cfg.TrainConfig:
    """The stored configuration of the run ``resume_from``; a flag that contradicts it is a
    usage error naming the flag."""
    path = runs.last_checkpoint(resume_from)
    checkpoint = runs.load_checkpoint(path, cfg.CHECKPOINT_FORMAT)
    previous = cfg.config_from_checkpoint(checkpoint)
    resume.refuse_contradicting_flags(previous, settings, cfg.MAY_CHANGE_ON_RESUME, FLAGS, parser)
    changes = {**settings, "resume": str(path), "out_dir": str(path.parent)}
    return cfg.resumed_config(checkpoint, changes)


def run_train(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from dualnet.apps.classify.train import train
    from dualnet.apps.classify.train_numpy import train_numpy
    from dualnet.data import DatasetNotFoundError

    settings = given_settings(args)
    try:
        if args.resume:
            config = config_for_resume(args.resume, settings, parser)
        else:
            config = config_for_new_run(settings)
        trainer = train_numpy if config.backend == "numpy" else train
        result = trainer(config)
    except ConfigError as error:
        parser.error(str(error))
    except (runs.CheckpointError, DatasetNotFoundError) as error:
        return fail("classify train", str(error))
    except FloatingPointError as error:
        return fail("classify train", f"training stopped: {error}")
    except KeyboardInterrupt:
        return fail("classify train", "interrupted", status=130)
    if not result.is_main:
        return 0
    return report_training("classify", result)


def add_eval(actions) -> None:
    evaluate = actions.add_parser(
        "eval",
        help="evaluate a checkpoint",
        description="Accuracy of a saved model, overall and per class, with the confusion "
        "matrix and misclassified images; reads runs of both backends.",
    )
    evaluate.add_argument("checkpoint", help="a run directory (its best.pt) or a .pt checkpoint")
    evaluate.add_argument("--split", default="test", choices=("val", "test"))
    evaluate.add_argument("--data-root", help="where the dataset lives, if not where it was")
    evaluate.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    evaluate.add_argument(
        "--out", help="where to write summary.json and the figures (default: RUN/eval-<split>)"
    )
    evaluate.add_argument("--json", action="store_true", help="print the results as JSON")
    evaluate.set_defaults(run=run_eval, parser=evaluate)


def run_eval(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from dualnet.apps.classify.evaluate import evaluate_checkpoint
    from dualnet.data import DatasetNotFoundError

    path = Path(args.checkpoint)
    if path.is_dir():
        path = path / "best.pt" if (path / "best.pt").exists() else path / "last.pt"
    out = Path(args.out) if args.out else path.parent / f"eval-{args.split}"
    try:
        summary = evaluate_checkpoint(
            path, split=args.split, data_root=args.data_root, device=args.device, out_dir=out
        )
    except (runs.CheckpointError, DatasetNotFoundError) as error:
        return fail("classify eval", str(error))
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(
        f"{summary['model']} ({summary['backend']}, {summary['data']}, {summary['split']}, "
        f"{summary['images']} images, step {summary['step']}): accuracy {summary['acc']:.4f}, "
        f"loss {summary['loss']:.4f}"
    )
    rows = [[name, f"{acc:.3f}"] for name, acc in summary["per_class_acc"].items()]
    print(table(rows, ["class", "accuracy"]))
    for name in summary["files"]:
        print(f"wrote {name}")
    return 0


def run_models(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    rows = []
    for name, spec in MODELS.items():
        backends = "torch" + (", numpy" if spec.build_numpy else "")
        levels = ", ".join(spec.levels)
        rows.append([name, spec.description, backends, levels])
    print(table(rows, ["model", "network", "backends", "levels (torch)"]))
    print(f"\ndefault model: {cfg.DEFAULT_MODEL}\n{defaults_text()}")
    return 0
