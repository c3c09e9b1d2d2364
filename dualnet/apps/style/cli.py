"""``dualnet style transfer|invert|texture``: the command line of style transfer.

Every setting of :class:`~dualnet.apps.style.config.StyleConfig` is a flag whose
default is "not given"; the configuration then comes from
:func:`~dualnet.apps.style.config.make_config` (the preset's weights, what the action
fixes, then the flags). Each action writes its images, figures, ``metrics.jsonl``,
``config.json`` and ``summary.json`` to ``--out`` (a new folder: results already there are
never overwritten) and prints the summary.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dualnet.apps import runs
from dualnet.apps.options import Range
from dualnet.apps.output import fail, print_summary
from dualnet.apps.style import config as cfg

ACTIONS = {
    "transfer": "style transfer: the content of one image in the style of another",
    "invert": "feature inversion: an image from noise whose content features match",
    "texture": "texture synthesis: an image from noise whose style statistics match",
}
NUMBERS = {
    # flag: (setting, help)
    "--image-size": ("image_size", "shorter side of the content image and the result"),
    "--style-size": ("style_size", "shorter side of the style image"),
    "--content-layer": ("content_layer", "feature layer of the content loss (Lite0: 2)"),
    "--content-weight": ("content_weight", "weight of the content loss"),
    "--tv-weight": ("tv_weight", "weight of the total-variation loss"),
    "--steps": ("steps", "optimiser steps (200)"),
    "--lr": ("lr", "Adam's learning rate, in normalised image units (Lite0: 0.3)"),
    "--decayed-lr": ("decayed_lr", "Adam's learning rate from --decay-at on (0.1)"),
    "--decay-at": ("decay_at", "first step at --decayed-lr (90%% of the steps: 180 of 200)"),
    "--seed": ("seed", "seed of the random start (0)"),
    "--snapshots": ("snapshots", "images in the strip of intermediate steps (6)"),
}
CHOICES = {
    "--optimizer": ("optimizer", cfg.OPTIMIZERS, "adam (the course's recipe) or lbfgs (adam)"),
    "--init": ("init", cfg.INITS, "start image (transfer: content; invert, texture: random)"),
    "--loss-backend": (
        "loss_backend",
        cfg.LOSS_BACKENDS,
        "losses and their gradients from "
        "torch_impl (autograd) or reference_numpy (hand-derived) (torch)",
    ),
    "--device": ("device", ("auto", "cpu", "cuda"), "auto: CUDA when available (auto)"),
}


def add_commands(commands) -> None:
    """Add ``style`` with its actions to the ``dualnet`` subcommands."""
    style = commands.add_parser(
        "style", help="style transfer, feature inversion and texture synthesis"
    )
    actions = style.add_subparsers(dest="action", required=True, metavar="ACTION")
    for action, text in ACTIONS.items():
        parser = actions.add_parser(
            action,
            help=text,
            description=text,
            epilog=presets_text(),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        add_flags(parser, action)
        parser.set_defaults(run=run_action, parser=parser)


def presets_text() -> str:
    """The epilog of every action's ``--help``: the presets' sizes and weights."""
    lines = ["presets (the course notebook's settings; starry-night gives the defaults):"]
    for model in cfg.NETWORK_LAYERS:
        layers = cfg.network_layers(model)
        style_layers = " ".join(str(i) for i in layers.style_layers)
        lines.append(
            f" --model {model}: --content-layer {layers.content_layer} --style-layers "
            f"{style_layers} --lr {layers.lr:g} --decayed-lr {layers.decayed_lr:g}"
        )
        for name in cfg.PRESETS:
            values = cfg.defaults("transfer", name, model)
            weights = " ".join(f"{w:.3g}" for w in values["style_weights"])
            lines.append(
                f"  {name}: --image-size {values['image_size']} --style-size "
                f"{values['style_size']} --content-weight {values['content_weight']:.3g} "
                f"--style-weights {weights} --tv-weight {values['tv_weight']:.3g}"
            )
    return "\n".join(lines)


def add_flags(parser, action: str) -> None:
    from dualnet.apps.style.data import DEFAULT_CONTENT, STYLES, TEXTURES
    from dualnet.data.photos import PHOTOS

    parser.add_argument(
        "--content",
        metavar="IMG|NAME",
        help=f"content image, a bundled photograph ({', '.join(PHOTOS)}), or scene (the "
        f"procedural scene) ({DEFAULT_CONTENT})",
    )
    parser.add_argument(
        "--style",
        metavar="IMG|NAME",
        help=f"style image, a procedural style ({', '.join(STYLES)}) or a real texture "
        f"({', '.join(TEXTURES)}) (strokes)",
    )
    parser.add_argument("--preset", choices=tuple(cfg.PRESETS), help="sizes and weights (below)")
    for flag, (setting, text) in NUMBERS.items():
        kind = cfg.RANGES[setting]
        metavar = "N" if kind.kind is int else "X"
        parser.add_argument(flag, dest=setting, type=kind.parser(), metavar=metavar, help=text)
    parser.add_argument(
        "--style-layers",
        nargs="+",
        type=Range(int, 0).parser(),
        metavar="N",
        help="feature layers of the style loss (Lite0: 0 3 4 5)",
    )
    parser.add_argument(
        "--style-weights",
        nargs="+",
        type=Range(float, 0).parser(),
        metavar="X",
        help="one weight per style layer" + (" (invert: 0, fixed)" if action == "invert" else ""),
    )
    for flag, (setting, choices, text) in CHOICES.items():
        parser.add_argument(flag, dest=setting, choices=choices, help=text)
    parser.add_argument(
        "--model",
        help="efficientnet-lite0 (ImageNet weights, installed with dualnet), squeezenet (the "
        "course's network: torch.hub's cache, a download or --weights), embedded (the "
        "SqueezeNet stand-in, built on first use), random (SqueezeNet with seeded random "
        "weights), or a SqueezeNet classification run (efficientnet-lite0)",
    )
    parser.add_argument(
        "--weights", metavar="FILE", help="with an ImageNet --model: a weights file to use"
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        help="progress bar with the losses, or a line every tenth of the run off a terminal (on)",
    )
    parser.add_argument("--out", help=f"a new folder for the results (runs/style/{action})")


def settings_of(args: argparse.Namespace) -> dict:
    """The settings given on the command line (``None`` for those not given)."""
    names = [setting for setting, *_ in (*NUMBERS.values(), *CHOICES.values())]
    names += ["content", "style", "style_layers", "style_weights", "model", "weights", "progress"]
    return {name: getattr(args, name) for name in names}


def run_action(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Configure, load, optimise, report. A bad setting or image is a usage error naming its
    flag (exit status 2); a network that cannot be loaded is one line (exit status 1)."""
    from dualnet.apps.networks import BuildStopped
    from dualnet.apps.pretrained import WeightsNotFoundError
    from dualnet.data import DatasetNotFoundError

    try:
        problem, config, out = prepare(args)
    except BuildStopped as error:  # Ctrl-C while a stand-in was built
        return fail(f"style {args.action}", str(error), status=130)
    except (runs.CheckpointError, WeightsNotFoundError, DatasetNotFoundError) as error:
        return fail(f"style {args.action}", str(error))
    except ValueError as error:  # ConfigError, and devices that are not there
        parser.error(str(error))
    return optimise_and_report(problem, config, out)


def prepare(args: argparse.Namespace):
    """The configuration, the run directory (refusing one that holds a run), the network and
    the problem: images, targets and start."""
    from dualnet.apps.style import network, transfer

    config = cfg.make_config(args.action, args.preset, **settings_of(args))
    out = Path(args.out or f"runs/style/{args.action}")
    runs.open_run_dir(out, hint="choose another --out; nothing was overwritten")
    net = network.load_features(config.model, config.weights, config.device)
    return transfer.prepare(config, net), config, out


def optimise_and_report(problem, config: cfg.StyleConfig, out: Path) -> int:
    from dualnet.apps.style import report, transfer

    try:
        result = transfer.optimise(problem, config)
    except KeyboardInterrupt:
        return fail(f"style {config.mode}", "interrupted; nothing was written", status=130)
    summary = report.write_outputs(out, config, problem, result)
    print_summary(summary, out / "summary.json")
    print(f"wrote {out / 'result.png'}, steps.png, losses.png and overview.png")
    return 0
