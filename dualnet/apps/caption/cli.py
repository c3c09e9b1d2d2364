"""``dualnet caption train|sample|eval``: the command line of image captioning.

Every setting of :class:`~dualnet.apps.caption.config.CaptionConfig` is a flag whose
default is "not given"; the configuration comes from
:func:`~dualnet.apps.caption.config.make_config` or, with ``--resume RUN``, from the
run's checkpoint.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dualnet.apps import networks, pretrained, resume, runs
from dualnet.apps.caption import config as cfg
from dualnet.apps.caption.data import CaptionDataError
from dualnet.apps.options import ConfigError, Range, add_setting_flags
from dualnet.apps.output import fail, print_summary, report_training
from dualnet.data import DatasetNotFoundError

CHOICES = {
    "--cell": ("cell", cfg.CELLS, "rnn, lstm or attention (attention)"),
    "--backend": (
        "backend",
        cfg.BACKENDS,
        "numpy trains the NumPy model with the CaptioningSolver",
    ),
    "--encoder": (
        "encoder",
        cfg.ENCODERS,
        "lite0 (EfficientNet-Lite0), imagenet (MobileNetV2), standin or random (auto: lite0)",
    ),
    "--dtype": ("dtype", cfg.DTYPES, "float32 or float64 (float32)"),
    "--device": ("device", ("auto", "cpu", "cuda"), "auto: CUDA when available (auto)"),
}
NUMBERS = {
    "--epochs": ("epochs", "epochs to train (torch 3, numpy 2)"),
    "--batch-size": ("batch_size", "captions per step (128)"),
    "--lr": ("lr", "Adam learning rate (2e-3)"),
    "--lr-decay": ("lr_decay", "learning rate factor per epoch (0.9)"),
    "--wordvec-dim": ("wordvec_dim", "word vector size (128)"),
    "--hidden-dim": ("hidden_dim", "hidden state size (torch 256, numpy 128)"),
    "--train-subset": ("train_subset", "train on the captions of the first N images only"),
    "--seed": ("seed", "seed of the initial weights and the batch order (0)"),
    "--checkpoint-every": ("checkpoint_every", "also write last.pt every N steps"),
    "--stop-after-steps": ("stop_after_steps", "stop with a checkpoint after N steps"),
}
SWITCHES = {
    "--blind": ("blind", "train on shuffled features: the image-blind baseline (off)"),
    "--progress": ("progress", "progress bar, or one line per epoch off a terminal (on)"),
    "--figures": ("figures", "draw curves.png (on)"),
}
FLAGS = {
    **{setting: flag for flag, (setting, *_) in {**CHOICES, **NUMBERS, **SWITCHES}.items()},
    "data": "--data",
    "data_path": "--data",
    "weights": "--weights",
    "data_root": "--data-root",
    "out_dir": "--out",
}
ERRORS = (
    networks.BuildStopped,
    runs.CheckpointError,
    DatasetNotFoundError,
    CaptionDataError,
    pretrained.WeightsNotFoundError,
)


def add_commands(commands) -> None:
    """Add ``caption`` with its actions to the ``dualnet`` subcommands."""
    caption = commands.add_parser("caption", help="image captioning: train, sample, evaluate")
    actions = caption.add_subparsers(dest="action", required=True, metavar="ACTION")
    add_train(actions)
    add_sample(actions)
    add_eval(actions)


def add_train(actions) -> None:
    train = actions.add_parser(
        "train",
        help="train a captioning model",
        description="Train an RNN, LSTM or attention LSTM captioning model on the image "
        "features of the embedded scenes (no download), EECS 498's coco.pt, or the cs231n "
        "HDF5 files. Writes config.json, metrics.jsonl, curves.png, summary.json, last.pt and "
        "best.pt to the run directory.",
    )
    add_setting_flags(train, CHOICES, NUMBERS, SWITCHES, cfg.RANGES)
    train.add_argument(
        "--data",
        nargs="+",
        metavar="KIND [PATH]",
        help="embedded (default), coco.pt FILE, or cs231n DIR",
    )
    train.add_argument(
        "--weights",
        metavar="FILE",
        help="ImageNet weights file: Lite0's with --encoder lite0, else MobileNetV2's",
    )
    train.add_argument("--data-root", help="cache folder ($DUALNET_CACHE or ~/.cache/dualnet)")
    train.add_argument("--out", dest="out_dir", help="run directory (runs/caption/<run name>)")
    train.add_argument("--resume", metavar="RUN", help="continue a run (its directory or a .pt)")
    train.set_defaults(run=run_train, parser=train)


def parse_data(values: list[str] | None, parser) -> tuple[str | None, str | None]:
    """``--data embedded | coco.pt FILE | cs231n DIR`` (a lone FILE.pt or DIR also works)."""
    if not values:
        return None, None
    kind, *rest = values
    if kind in cfg.DATA_KINDS and len(rest) <= 1:
        return kind, (rest[0] if rest else None)
    if len(values) == 1:
        return ("cs231n" if Path(kind).is_dir() else "coco.pt"), kind
    parser.error(f"--data takes embedded, coco.pt FILE or cs231n DIR, got {' '.join(values)}")
    return None, None


def given_settings(args: argparse.Namespace, parser) -> dict:
    names = [s for s in FLAGS if hasattr(args, s) and s not in ("data", "data_path")]
    settings = {name: getattr(args, name) for name in names}
    settings["data"], settings["data_path"] = parse_data(args.data, parser)
    return settings


def run_name(config: cfg.CaptionConfig) -> str:
    blind = "-blind" if config.blind else ""
    data = config.data.replace(".", "")
    return f"runs/caption/{config.cell}{blind}-{data}-{config.backend}-seed{config.seed}"


def configure(args, parser) -> cfg.CaptionConfig:
    settings = given_settings(args, parser)
    if args.resume:
        path = runs.last_checkpoint(args.resume)
        checkpoint = runs.load_checkpoint(path, cfg.CHECKPOINT_FORMAT)
        previous = cfg.config_from_checkpoint(checkpoint)
        may_change = cfg.MAY_CHANGE_ON_RESUME
        resume.refuse_contradicting_flags(previous, settings, may_change, FLAGS, parser)
        changes = {**settings, "resume": str(path), "out_dir": str(path.parent)}
        return cfg.resumed_config(checkpoint, changes)
    config = cfg.make_config(**{k: v for k, v in settings.items() if k != "out_dir"})
    config.out_dir = settings["out_dir"] or run_name(config)
    return config


def run_train(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from dualnet.apps.caption.train import train
    from dualnet.apps.caption.train_numpy import train_numpy

    try:
        config = configure(args, parser)
        trainer = train_numpy if config.backend == "numpy" else train
        result = trainer(config)
    except ConfigError as error:
        parser.error(str(error))
    except ERRORS as error:
        return fail("caption train", str(error))
    except FloatingPointError as error:
        return fail("caption train", f"training stopped: {error}")
    except KeyboardInterrupt:
        return fail("caption train", "interrupted", status=130)
    if not result.is_main:
        return 0
    return report_training("caption", result)


def add_sample(actions) -> None:
    sample = actions.add_parser(
        "sample",
        help="caption some images and draw them",
        description="Caption images of the evaluation split with a trained run; draws the "
        "images with generated and reference captions (captions.png) and, for the attention "
        "model, the attention map of every word (attention-I.png).",
    )
    sample.add_argument("run_path", metavar="RUN", help="a run directory or a .pt checkpoint")
    sample.add_argument("--images", type=Range(int, 0).parser(), nargs="+", metavar="I")
    sample.add_argument("--beam", type=Range(int, 1).parser(), metavar="K", help="beam width")
    sample.add_argument("--out", help="where to write the figures (default: RUN/samples)")
    sample.set_defaults(run=run_sample, parser=sample)


def run_sample(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from dualnet.apps.caption.evaluate import checkpoint_path, sample_run

    out = Path(args.out) if args.out else checkpoint_path(args.run_path).parent / "samples"
    try:
        pairs, drawn = sample_run(args.run_path, args.images, args.beam, out)
    except ValueError as error:
        if isinstance(error, ERRORS):
            return fail("caption sample", str(error))
        parser.error(str(error))
    except ERRORS as error:
        return fail("caption sample", str(error))
    for generated, reference in pairs:
        print(f"{generated}   (reference: {reference})")
    for name in drawn:
        print(f"wrote {out / name}")
    return 0


def add_eval(actions) -> None:
    evaluate = actions.add_parser(
        "eval",
        help="score a run with BLEU",
        description="Caption every evaluation image and score against all references: corpus "
        "BLEU-1..4 (0-1 scale), the cs231n mean sentence BLEU-1, attention_pointing (attention "
        "runs on the embedded scenes) and blind_bleu4 (the same model on shuffled features).",
    )
    evaluate.add_argument("run_path", metavar="RUN", help="a run directory or a .pt checkpoint")
    evaluate.add_argument("--beam", type=Range(int, 1).parser(), metavar="K", help="beam width")
    evaluate.add_argument(
        "--limit", type=Range(int, 1).parser(), metavar="N", help="first N images"
    )
    evaluate.add_argument("--out", help="where to write summary.json (default: RUN/eval-greedy)")
    evaluate.add_argument("--json", action="store_true", help="print the results as JSON")
    evaluate.set_defaults(run=run_eval, parser=evaluate)


def run_eval(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from dualnet.apps.caption.evaluate import checkpoint_path, evaluate_run

    name = f"eval-beam{args.beam}" if args.beam else "eval-greedy"
    out = Path(args.out) if args.out else checkpoint_path(args.run_path).parent / name
    try:
        summary = evaluate_run(args.run_path, beam=args.beam, limit=args.limit, out_dir=out)
    except ERRORS as error:
        return fail("caption eval", str(error))
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print_summary(summary, out / "summary.json")
    return 0
