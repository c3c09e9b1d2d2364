"""``dualnet visualize saliency|fool|attack|classes``: look into a fixed network.

Each action loads the network (``--model``), the images (``--images``, or the bundled
photographs with their boxes for an ImageNet network, the embedded test images with their
object masks for an embedded one), runs its method, and writes its figure and
``summary.json`` to ``--out`` (a new folder: existing results are never overwritten). Every
summary ends with ``model``, ``backend``, ``seconds`` (the command's work, the network's
loading included), ``images_per_second`` and ``build_seconds`` (the time a stand-in took to
build on first use, apart; 0 when it was cached).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from dualnet.apps import figures, flags, runs
from dualnet.apps.output import fail, print_json, print_summary
from dualnet.apps.settings import Range

ACTIONS = {
    "saliency": "saliency maps, SmoothGrad and integrated gradients, scored",
    "fool": "fooling images: each image moved to a wrong class of your choice",
    "attack": "accuracy under FGSM and PGD attacks",
    "classes": "class visualization: an image per class that the network believes in",
}


@dataclass(frozen=True)
class Flag:
    flag: str
    kind: Range
    default: float
    help: str


EXTRA = {
    "saliency": [],
    "fool": [
        Flag("--lr", Range(float, 0, low_open=True), 1.0, "L2 step, pixel units"),
        Flag("--steps", Range(int, 1), 100, "most ascent steps per image"),
    ],
    "attack": [Flag("--eps", Range(float, 0, 1), 2 / 255, "L-infinity budget, pixel units")],
    "classes": [
        Flag("--lr", Range(float, 0, low_open=True), 5.0, "L2 step, pixel units"),
        Flag("--steps", Range(int, 1), 100, "ascent steps"),
    ],
}
DEFAULT_IMAGES = {"saliency": 100, "fool": 20, "attack": 100, "classes": 10}


def add_commands(commands) -> None:
    """Add ``visualize`` with its actions to the ``dualnet`` subcommands."""
    visualize = commands.add_parser("visualize", help="network visualization: explain, fool")
    actions = visualize.add_subparsers(dest="action", required=True, metavar="ACTION")
    for action, text in ACTIONS.items():
        parser = actions.add_parser(action, help=text, description=text)
        add_common_flags(parser, action)
        for extra in EXTRA[action]:
            parser.add_argument(
                extra.flag,
                type=extra.kind.parser(),
                default=extra.default,
                help=f"{extra.help} ({extra.default:g})",
            )
        if action == "fool":
            parser.add_argument(
                "--objective",
                choices=("log-probability", "score"),
                default="log-probability",
                help="what the ascent climbs: the target's log-softmax, or its raw score as "
                "in the course (log-probability)",
            )
        parser.set_defaults(run=run_action, parser=parser)


def add_common_flags(parser, action: str) -> None:
    parser.add_argument(
        "--model",
        default="efficientnet-lite0",
        help="efficientnet-lite0 (ImageNet weights, installed with dualnet), squeezenet (the "
        "course's network: torch.hub's cache, a download or --weights), embedded (the stand-in "
        "trained on the embedded shapes, built on first use), or a classification run "
        "directory or checkpoint (efficientnet-lite0)",
    )
    parser.add_argument(
        "--weights", help="with an ImageNet --model: a weights file to use instead of its own"
    )
    parser.add_argument(
        "--backend",
        choices=("torch", "numpy"),
        help="numpy needs a NumPy classification run as --model (default: the model's)",
    )
    parser.add_argument(
        "--images",
        nargs="+",
        help="image files, or one imagenet_val_25.npz (the bundled photographs for an ImageNet "
        "network, the embedded test images for an embedded one)",
    )
    parser.add_argument(
        "--n-images",
        type=Range(int, 1).parser(),
        default=DEFAULT_IMAGES[action],
        help=f"how many images (or classes) to use ({DEFAULT_IMAGES[action]})",
    )
    target_help = "class names or ids to draw" if action == "classes" else "target class"
    parser.add_argument("--target", nargs="+" if action == "classes" else None, help=target_help)
    flags.add_device(parser)
    flags.add_seed(parser, "noise, random starts and random targets")
    parser.add_argument("--out", help=f"a new folder for the results (runs/visualize/{action})")
    flags.add_json(parser)


def resolve_class(network, text: str) -> int:
    """A class given by id or by name (case-insensitive)."""
    names = [name.lower() for name in network.classes]
    if text.isdigit() and int(text) < len(names):
        return int(text)
    if text.lower() in names:
        return names.index(text.lower())
    listed = ", ".join(network.classes[:12]) + (", ..." if len(names) > 12 else "")
    raise ValueError(
        f"--target {text!r} is not a class of {network.name}: give an id in "
        f"[0, {len(names)}) or a name ({listed})"
    )


def run_action(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Load, compute, report; a run that fails leaves no empty ``--out`` behind."""
    out = Path(args.out or f"runs/visualize/{args.action}")
    with runs.kept_only_if_written(out):
        return run_into(out, args, parser)


def run_into(out: Path, args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """The action of :func:`run_action`, writing into the run directory ``out``."""
    from dualnet.apps.networks import BuildStopped
    from dualnet.apps.pretrained import WeightsNotFoundError
    from dualnet.data import DatasetNotFoundError

    try:
        check_image_files(args.images)  # before any slow work
        runs.open_run_dir(out, hint="choose another --out; nothing was overwritten")
    except ValueError as error:
        parser.error(str(error))
    try:
        summary, figure = compute(args)
    except BuildStopped as error:  # Ctrl-C while a stand-in was built
        return fail(f"visualize {args.action}", str(error), status=130)
    except (runs.CheckpointError, WeightsNotFoundError, DatasetNotFoundError) as error:
        return fail(f"visualize {args.action}", str(error))
    except ValueError as error:  # a bad argument: images, classes, backend
        parser.error(str(error))
    figures.save(figure, out / f"{args.action}.png")
    runs.write_json(out / "summary.json", summary)
    if args.json:
        print_json(summary)
        return 0
    print_summary(summary, out / "summary.json")
    print(f"wrote {out / f'{args.action}.png'}")
    return 0


def check_image_files(sources: list[str] | None) -> None:
    """Refuse an ``--images`` path with no file behind it, or an image file too large or too
    elongated (:func:`~dualnet.data.image_file.check_image`), before the network loads."""
    from dualnet.data.image_file import check_image

    for source in sources or []:
        if Path(source).suffix == ".npz":
            if not Path(source).is_file():
                raise ValueError(f"--images: no file at {source}")
        else:
            check_image(source, "--images")


def compute(args: argparse.Namespace) -> tuple[dict, object]:
    """Load the network and images, run the action; the summary and the figure."""
    from dualnet.apps.networks import load_network
    from dualnet.apps.visualize.data import load_inputs

    started = time.perf_counter()
    network = load_network(args.model, args.weights, args.device)
    if args.backend and args.backend != network.backend:
        raise ValueError(
            f"--backend {args.backend}: --model {args.model} is a {network.backend} network; "
            "the NumPy backend needs a run trained with `dualnet classify train --backend numpy`"
        )
    generator = torch.Generator().manual_seed(args.seed)
    summary, figure = dispatch(args, network, generator, load_inputs)
    seconds = time.perf_counter() - started - network.build_seconds
    summary.update(
        model=network.name,
        backend=network.backend,
        seconds=seconds,
        images_per_second=summary["n_images"] / max(seconds, 1e-9),
        build_seconds=network.build_seconds,
    )
    return summary, figure


def dispatch(args, network, generator, load_inputs):
    from dualnet.apps.visualize import attacks, class_visualization, fooling, saliency

    if args.action == "classes":
        if args.target:
            targets = [resolve_class(network, text) for text in args.target]
        else:
            targets = class_visualization.default_classes(network, args.n_images)
        return class_visualization.run_classes(network, targets, args.steps, args.lr, generator)
    inputs = load_inputs(args.images, network, args.n_images)
    if args.action == "saliency":
        return saliency.run_saliency(network, inputs, generator)
    if args.action == "fool":
        target = None if args.target is None else resolve_class(network, args.target)
        objective = args.objective.replace("-", "_")
        return fooling.run_fooling(
            network, inputs, target, args.lr, args.steps, generator, objective
        )
    return attacks.run_attack(network, inputs, args.eps, generator)
