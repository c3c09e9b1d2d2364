"""``dualnet classify train|eval|models``: the command line of image classification.

Every setting of :class:`~dualnet.apps.classify.config.ClassifyConfig` is a flag, declared on
its field (:mod:`dualnet.apps.settings`), whose default is "not given"; the configuration then
comes from
:func:`~dualnet.apps.classify.config.make_config` (the model's defaults plus the flags)
or, with ``--resume RUN``, from the run's checkpoint (plus the flags that may change).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dualnet.apps import flags, runs
from dualnet.apps.classify import config as cfg
from dualnet.apps.classify.models import MODELS
from dualnet.apps.output import fail, print_json, run_training, table
from dualnet.apps.settings import (
    add_setting_flags,
    defaults_line,
    given_settings,
)


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
        ("squeezenet1_1 (torch)", cfg.defaults("squeezenet1_1")),
        ("fc2, convnet3, convpool3, mobilenet_v2 (torch)", cfg.defaults("fc2")),
        ("fc2, convnet3 --level barebones", cfg.defaults("fc2", "barebones")),
        ("fc2, convpool3 (--backend numpy)", cfg.defaults("fc2", backend="numpy")),
    ]
    lines = ["defaults:"]
    for name, values in rows:
        lines.append(f"  {name}: {defaults_line(cfg.ClassifyConfig, values)}")
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
    add_setting_flags(train, cfg.ClassifyConfig)
    train.add_argument("--resume", metavar="RUN", help="continue a run (its directory or a .pt)")
    flags.add_json(train)
    train.set_defaults(run=run_train, parser=train)


def run_name(config: cfg.ClassifyConfig) -> str:
    """``runs/classify/<model>[-<level>]-<data>-<backend>-seed<seed>``."""
    level = f"-{config.level}" if len(MODELS[config.model].levels) > 1 else ""
    if config.backend == "numpy":
        level = ""
    return f"runs/classify/{config.model}{level}-{config.data}-{config.backend}-seed{config.seed}"


def config_for_new_run(settings: dict) -> cfg.ClassifyConfig:
    config = cfg.make_config(**{k: v for k, v in settings.items() if k != "out_dir"})
    config.out_dir = settings["out_dir"] or run_name(config)
    return config


def run_train(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from dualnet.apps.classify.train import train
    from dualnet.apps.classify.train_numpy import train_numpy
    from dualnet.data import DatasetNotFoundError

    settings = given_settings(args, cfg.ClassifyConfig)

    def start():
        if args.resume:
            config = runs.config_for_resume(
                cfg.ClassifyConfig, cfg.CHECKPOINT_FORMAT, args.resume, settings, parser
            )
        else:
            config = config_for_new_run(settings)
        trainer = train_numpy if config.backend == "numpy" else train
        return trainer(config)

    errors = (runs.CheckpointError, DatasetNotFoundError)
    return run_training("classify", start, parser, errors, as_json=args.json)


def add_eval(actions) -> None:
    evaluate = actions.add_parser(
        "eval",
        help="evaluate a checkpoint",
        description="Accuracy of a saved model, overall and per class, with the confusion "
        "matrix and misclassified images; reads runs of both backends.",
    )
    flags.add_run(evaluate, reads="its best checkpoint")
    evaluate.add_argument("--split", default="test", choices=("val", "test"), help="(test)")
    evaluate.add_argument("--data-root", help="where the dataset lives, if not where it was")
    flags.add_device(evaluate)
    flags.add_seed(evaluate, "PyTorch's generators (the evaluation draws nothing)")
    evaluate.add_argument(
        "--out", help="where to write summary.json and the figures (default: RUN/eval-<split>)"
    )
    flags.add_json(evaluate)
    evaluate.set_defaults(run=run_eval, parser=evaluate)


def run_eval(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from dualnet.apps import runtime
    from dualnet.apps.classify.evaluate import evaluate_run
    from dualnet.data import DatasetNotFoundError

    path = runs.best_checkpoint(args.run_path)
    out = Path(args.out) if args.out else path.parent / f"eval-{args.split}"
    runtime.seed_everything(args.seed)
    try:
        summary = evaluate_run(
            path, split=args.split, data_root=args.data_root, device=args.device, out_dir=out
        )
    except (runs.CheckpointError, DatasetNotFoundError) as error:
        return fail("classify eval", str(error))
    if args.json:
        print_json(summary)
        return 0
    print(
        f"{summary['model']} ({summary['backend']}, {summary['data']}, {summary['split']}, "
        f"{summary['n_images']} images, step {summary['step']}): accuracy "
        f"{summary['accuracy']:.4f}, loss {summary['loss']:.4f}"
    )
    rows = [[name, f"{acc:.3f}"] for name, acc in summary["per_class_accuracy"].items()]
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
