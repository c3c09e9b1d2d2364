"""The ``dualnet`` command line (also ``python -m dualnet``).

``dualnet check [NAME ...] [--dtype float32|float64|all] [--json] [--seed N]``
    Cross-check every registered component (or the ones named): NumPy forward vs PyTorch
    forward, NumPy backward vs autograd, and in float64 NumPy backward vs finite differences.
    Prints one row per component and dtype, exits 1 when anything disagrees.

``dualnet list``
    The registered components, their topic and the functions that implement them.

``dualnet classify train|eval|models``
    Image classification: train a model (PyTorch at three levels, the ResNets, or the NumPy
    reference with ``--backend numpy``), evaluate a checkpoint, list the models.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tqdm import tqdm

from dualnet import crosscheck, registry
from dualnet.crosscheck_report import format_table, report


def run_check(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    try:
        components = registry.select(args.names)
    except ValueError as error:
        parser.error(str(error))
    dtypes = crosscheck.DTYPES if args.dtype == "all" else (args.dtype,)
    jobs = [(c, d) for c in components for d in dtypes]
    results = [
        crosscheck.check_component(c, d, args.seed)
        for c, d in tqdm(jobs, desc="checking", unit="check", leave=False, disable=None)
    ]
    agrees = all(r.agrees for r in results)
    if args.json:
        bounds = {d: vars(b) for d, b in crosscheck.BOUNDS.items()}
        payload = {
            "seed": args.seed,
            "bounds": bounds,
            "results": [r.to_dict() for r in results],
            "agrees": agrees,
        }
        print(json.dumps(payload, indent=2))
    else:
        print(report(results, args.seed))
    return 0 if agrees else 1


def run_list(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    rows = [
        [c.key, c.topic, c.summary, ", ".join(c.implementations)]
        for c in registry.COMPONENTS.values()
    ]
    print(format_table(rows, ["component", "topic", "computes", "implemented by"]))
    return 0


# --------------------------------------------------------------------------------------------
# dualnet classify
# --------------------------------------------------------------------------------------------

TRAIN_FLAGS = {
    # flag: (config field, type, help); None defaults come from the model's recipe
    "--epochs": ("epochs", int, "epochs to train (default 5)"),
    "--batch-size": ("batch_size", int, "global batch size (default 128)"),
    "--optimizer": ("optimizer", str, "sgd, adam or adamw (default: the model's recipe)"),
    "--lr": ("lr", float, "peak learning rate (default: the model's recipe)"),
    "--momentum": ("momentum", float, "SGD momentum (default: the model's recipe)"),
    "--weight-decay": ("weight_decay", float, "L2 weight decay (default: the model's recipe)"),
    "--schedule": ("schedule", str, "cosine, step or constant (default: the model's recipe)"),
    "--warmup-epochs": ("warmup_epochs", float, "linear warm-up length (default: recipe)"),
    "--label-smoothing": ("label_smoothing", float, "label smoothing (default 0)"),
    "--train-subset": ("train_subset", int, "train on the first N training images only"),
    "--seed": ("seed", int, "seed of initialisation, order and augmentation (default 0)"),
    "--checkpoint-every": (
        "checkpoint_every",
        int,
        "also checkpoint every N steps (default: per epoch)",
    ),
    "--stop-after-steps": ("stop_after_steps", int, "stop (with a checkpoint) after N steps"),
}


def run_classify_train(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from dualnet.experiments import classify

    overrides = {field: getattr(args, field) for field, _, _ in TRAIN_FLAGS.values()}
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if args.no_augment:
        overrides["augment"] = False
    resume = args.resume
    if resume and Path(resume).is_dir():
        resume = str(Path(resume) / "last.pt")
    out = args.out or (str(Path(resume).parent) if resume else None)
    if out is None:
        level = f"-{args.level}" if args.model in classify.SMALL_MODELS else ""
        seed = overrides.get("seed", 0)
        out = f"runs/classify/{args.model}{level}-{args.data}-{args.backend}-seed{seed}"
    defaults = (
        classify.numpy_recipe(args.model)
        if args.backend == "numpy"
        else classify.recipe(args.model, args.level)
    )
    settings = {**defaults, **overrides}
    config = classify.TrainConfig(
        model=args.model,
        level=args.level,
        data=args.data,
        data_root=args.data_root,
        device=args.device,
        compile=args.compile,
        out_dir=out,
        resume=resume,
        **settings,
    )
    try:
        if args.backend == "numpy":
            result = classify.train_numpy(config)
        else:
            result = classify.train(config)
    except (ValueError, FileNotFoundError) as error:
        parser.error(str(error))
    if result is None:  # a process other than rank 0
        return 0
    lines = [f"run directory: {result.out_dir}", f"steps: {result.steps}"]
    if result.history:
        last = result.history[-1]
        lines.append(
            f"last epoch: train accuracy {last['train_acc']:.3f}, validation accuracy "
            f"{last.get('val_acc', float('nan')):.3f}"
        )
    if result.test_acc is not None:
        lines.append(
            f"test accuracy: {result.test_acc:.4f} (best validation {result.best_val_acc:.4f})"
        )
    if not result.finished:
        lines.append(f"stopped early; continue with --resume {Path(result.out_dir) / 'last.pt'}")
    lines.append(f"training time: {result.seconds:.1f} s")
    print("\n".join(lines))
    return 0


def run_classify_eval(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from dualnet.experiments import classify

    try:
        summary = classify.evaluate_checkpoint(
            args.checkpoint,
            split=args.split,
            data_root=args.data_root,
            device=args.device,
            figures_dir=args.figures,
        )
    except (ValueError, FileNotFoundError) as error:
        parser.error(str(error))
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(
        f"{summary['model']} ({summary['data']}, {summary['split']}, {summary['images']} images, "
        f"step {summary['step']}): accuracy {summary['acc']:.4f}, loss {summary['loss']:.4f}"
    )
    rows = [[name, f"{acc:.3f}"] for name, acc in summary["per_class_acc"].items()]
    print(format_table(rows, ["class", "accuracy"]))
    for figure in summary.get("figures", []):
        print(f"wrote {figure}")
    return 0


def run_classify_models(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from dualnet.experiments import classify
    from torch_impl.models.resnet import RESNETS

    rows = [
        ["fc2", "two-layer fully connected (levels: barebones, module, sequential)"],
        ["convnet3", "three-layer ConvNet (levels: barebones, module, sequential)"],
    ]
    for name, spec in RESNETS.items():
        kind = "plain" if not spec.residual else spec.block
        rows.append([name, f"ResNet, {spec.depth} layers, {kind} blocks"])
    print(format_table(rows, ["model", "description"]))
    print(f"\nNumPy backend (--backend numpy): {', '.join(classify.NUMPY_MODELS)}")
    return 0


def add_classify_commands(commands) -> None:
    from dualnet.experiments.classify import LEVELS, MODELS

    classify = commands.add_parser("classify", help="image classification: train, evaluate")
    actions = classify.add_subparsers(dest="action", required=True, metavar="ACTION")

    train = actions.add_parser(
        "train",
        help="train a classifier",
        description="Train an image classifier on the embedded data (default, no download) or "
        "CIFAR-10. Writes metrics.jsonl, curves.png, confusion.png, last.pt and best.pt to "
        "the run directory. Launch with torchrun for data-parallel training.",
    )
    train.add_argument(
        "--model",
        default="resnet-preact20",
        choices=MODELS,
        metavar="MODEL",
        help="fc2, convnet3 or a ResNet (see `dualnet classify models`)",
    )
    train.add_argument(
        "--level",
        default="module",
        choices=LEVELS,
        help="for fc2 and convnet3: the level of PyTorch abstraction",
    )
    train.add_argument(
        "--backend",
        default="torch",
        choices=("torch", "numpy"),
        help="numpy trains the NumPy reference model with the Solver",
    )
    train.add_argument("--data", default="embedded", choices=("embedded", "cifar10"))
    train.add_argument(
        "--data-root",
        help="where the dataset lives (CIFAR-10: the folder holding cifar-10-batches-py/)",
    )
    train.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    train.add_argument("--compile", action="store_true", help="wrap the model in torch.compile")
    train.add_argument("--no-augment", action="store_true", help="no random crops and flips")
    train.add_argument("--out", help="run directory (default: runs/classify/<model>-...)")
    train.add_argument("--resume", help="a last.pt checkpoint (or its directory) to continue")
    for flag, (field, kind, text) in TRAIN_FLAGS.items():
        train.add_argument(flag, dest=field, type=kind, default=None, help=text)
    train.set_defaults(run=run_classify_train)

    evaluate = actions.add_parser("eval", help="evaluate a checkpoint")
    evaluate.add_argument("checkpoint", help="a .pt checkpoint written by classify train")
    evaluate.add_argument("--split", default="test", choices=("val", "test"))
    evaluate.add_argument("--data-root", help="where the dataset lives, if not where it was")
    evaluate.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    evaluate.add_argument("--figures", help="write confusion.png and misclassified.png here")
    evaluate.add_argument("--json", action="store_true", help="print the results as JSON")
    evaluate.set_defaults(run=run_classify_eval)

    models = actions.add_parser("models", help="list the models")
    models.set_defaults(run=run_classify_models)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dualnet",
        description="Deep learning for computer vision, built twice: NumPy and PyTorch.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = commands.add_parser(
        "check",
        help="cross-check the NumPy reference against PyTorch and finite differences",
        description="Cross-check every component (or the ones named) in each dtype: NumPy "
        "forward vs PyTorch, NumPy backward vs autograd, and in float64 NumPy backward vs "
        "centred finite differences. Exits 1 when anything disagrees.",
    )
    check.add_argument(
        "names", nargs="*", metavar="NAME", help="components to check (default: all)"
    )
    check.add_argument(
        "--dtype", choices=[*crosscheck.DTYPES, "all"], default="all", help="default: all"
    )
    check.add_argument("--json", action="store_true", help="print the results as JSON")
    check.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    check.set_defaults(run=run_check)

    listing = commands.add_parser("list", help="list the registered components")
    listing.set_defaults(run=run_list)

    add_classify_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return args.run(args, parser)


if __name__ == "__main__":
    sys.exit(main())
