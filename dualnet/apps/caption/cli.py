"""``dualnet caption train|sample|eval``: the command line of image captioning.

Every setting of :class:`~dualnet.apps.caption.config.CaptionConfig` is a flag, declared on
its field (:mod:`dualnet.apps.settings`), whose default is "not given"; the configuration
comes from
:func:`~dualnet.apps.caption.config.make_config` or, with ``--resume RUN``, from the
run's checkpoint.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dualnet.apps import flags, networks, pretrained, runs, runtime
from dualnet.apps.caption import config as cfg
from dualnet.apps.caption.data import CaptionDataError
from dualnet.apps.output import fail, print_json, print_summary, run_training
from dualnet.apps.settings import (
    Range,
    add_setting_flags,
    defaults_line,
    given_settings,
)
from dualnet.data import DatasetNotFoundError

ERRORS = (
    networks.BuildStopped,
    runs.CheckpointError,
    DatasetNotFoundError,
    CaptionDataError,
    pretrained.WeightsNotFoundError,
)
BEAM = Range(int, 1, 100)
"""``--beam K``: the beam width (10 is already wide for these vocabularies)."""


def add_commands(commands) -> None:
    """Add ``caption`` with its actions to the ``dualnet`` subcommands."""
    caption = commands.add_parser("caption", help="image captioning: train, sample, evaluate")
    actions = caption.add_subparsers(dest="action", required=True, metavar="ACTION")
    add_train(actions)
    add_sample(actions)
    add_eval(actions)


def defaults_text() -> str:
    """The epilog of ``train --help``: the defaults of each backend."""
    lines = ["defaults:"]
    for backend in cfg.BACKENDS:
        values = defaults_line(cfg.CaptionConfig, cfg.defaults(backend=backend))
        lines.append(f"  --backend {backend}: {values}")
    return "\n".join(lines)


def add_train(actions) -> None:
    train = actions.add_parser(
        "train",
        help="train a captioning model",
        description="Train an RNN, LSTM or attention LSTM captioning model on the image "
        "features of the embedded scenes (no download), EECS 498's coco.pt, or the cs231n "
        "HDF5 files. Writes config.json, metrics.jsonl, curves.png, summary.json, last.pt and "
        "best.pt to the run directory.",
        epilog=defaults_text(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_setting_flags(train, cfg.CaptionConfig, skip=("data", "data_path"))
    train.add_argument(
        "--data",
        nargs="+",
        metavar="KIND [PATH]",
        help="embedded, coco.pt FILE, or cs231n DIR (embedded)",
    )
    train.add_argument("--resume", metavar="RUN", help="continue a run (its directory or a .pt)")
    flags.add_json(train)
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


def settings_of(args: argparse.Namespace, parser) -> dict:
    """The settings given on the command line (``None`` for those not given), ``--data``
    parsed into ``data`` and ``data_path``."""
    settings = given_settings(args, cfg.CaptionConfig)
    settings["data"], settings["data_path"] = parse_data(args.data, parser)
    return settings


def run_name(config: cfg.CaptionConfig) -> str:
    blind = "-blind" if config.blind else ""
    data = config.data.replace(".", "")
    return f"runs/caption/{config.cell}{blind}-{data}-{config.backend}-seed{config.seed}"


def configure(args, parser) -> cfg.CaptionConfig:
    settings = settings_of(args, parser)
    if args.resume:
        kind, checkpoint_format = cfg.CaptionConfig, cfg.CHECKPOINT_FORMAT
        return runs.config_for_resume(kind, checkpoint_format, args.resume, settings, parser)
    config = cfg.make_config(**{k: v for k, v in settings.items() if k != "out_dir"})
    config.out_dir = settings["out_dir"] or run_name(config)
    return config


def run_train(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from dualnet.apps.caption.train import train
    from dualnet.apps.caption.train_numpy import train_numpy

    def start():
        config = configure(args, parser)
        trainer = train_numpy if config.backend == "numpy" else train
        return trainer(config)

    return run_training("caption", start, parser, ERRORS, as_json=args.json)


def add_sample(actions) -> None:
    sample = actions.add_parser(
        "sample",
        help="caption some images and draw them",
        description="Caption images of the evaluation split with a trained run; draws the "
        "images with generated and reference captions (captions.png) and, for the attention "
        "model, the attention map of every word (attention-I.png); writes summary.json.",
    )
    flags.add_run(sample, reads="its best checkpoint")
    sample.add_argument(
        "--rows",
        type=Range(int, 0).parser(),
        nargs="+",
        metavar="I",
        help="row indices of the evaluation split (the first few)",
    )
    sample.add_argument("--beam", type=BEAM.parser(), metavar="K", help="beam width")
    flags.add_device(sample)
    flags.add_seed(sample, "PyTorch's generators (decoding draws nothing)")
    sample.add_argument("--out", help="where to write the figures (default: RUN/sample)")
    flags.add_json(sample)
    sample.set_defaults(run=run_sample, parser=sample)


def run_sample(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from dualnet.apps.caption.evaluate import sample_run

    out = Path(args.out) if args.out else runs.best_checkpoint(args.run_path).parent / "sample"
    runtime.seed_everything(args.seed)
    try:
        summary = sample_run(args.run_path, args.rows, args.beam, out, device=args.device)
    except ValueError as error:
        if isinstance(error, ERRORS):
            return fail("caption sample", str(error))
        parser.error(str(error))
    except ERRORS as error:
        return fail("caption sample", str(error))
    if args.json:
        print_json(summary)
        return 0
    for generated, reference in zip(summary["captions"], summary["references"], strict=True):
        print(f"{generated}   (reference: {reference})")
    for name in summary["files"]:
        print(f"wrote {name}")
    return 0


def add_eval(actions) -> None:
    evaluate = actions.add_parser(
        "eval",
        help="score a run with BLEU",
        description="Caption every evaluation image and score against all references: corpus "
        "BLEU-1..4 (0-1 scale), the cs231n mean sentence BLEU-1, attention_pointing (attention "
        "runs on the embedded scenes) and blind_bleu4 (the same model on shuffled features).",
    )
    flags.add_run(evaluate, reads="its best checkpoint")
    evaluate.add_argument("--beam", type=BEAM.parser(), metavar="K", help="beam width")
    flags.add_n_images(evaluate, None, "score the first N images only")
    flags.add_device(evaluate)
    flags.add_seed(evaluate, "PyTorch's generators (decoding draws nothing)")
    evaluate.add_argument("--out", help="where to write summary.json (default: RUN/eval-greedy)")
    flags.add_json(evaluate)
    evaluate.set_defaults(run=run_eval, parser=evaluate)


def run_eval(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from dualnet.apps.caption.evaluate import evaluate_run

    name = f"eval-beam{args.beam}" if args.beam else "eval-greedy"
    out = Path(args.out) if args.out else runs.best_checkpoint(args.run_path).parent / name
    runtime.seed_everything(args.seed)
    try:
        summary = evaluate_run(
            args.run_path, beam=args.beam, n_images=args.n_images, out_dir=out, device=args.device
        )
    except ERRORS as error:
        return fail("caption eval", str(error))
    if args.json:
        print_json(summary)
    else:
        print_summary(summary, out / "summary.json")
    return 0
