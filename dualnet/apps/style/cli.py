"""``dualnet style transfer|invert|texture``: the command line of style transfer.

Every setting of :class:`~dualnet.apps.style.config.StyleConfig` is a flag, declared on its
field (:mod:`dualnet.apps.settings`), whose default is "not given"; the configuration then
comes from
:func:`~dualnet.apps.style.config.make_config` (the preset's weights, what the action
fixes, then the flags). Each action writes its images, figures, ``metrics.jsonl``,
``config.json`` and ``summary.json`` to ``--out`` (a new folder: results already there are
never overwritten) and prints the summary.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dualnet.apps import flags, runs
from dualnet.apps.output import fail, print_json, print_summary
from dualnet.apps.settings import add_setting_flags, defaults_line, given_settings
from dualnet.apps.style import config as cfg

ACTIONS = {
    "transfer": "style transfer: the content of one image in the style of another",
    "invert": "feature inversion: an image from noise whose content features match",
    "texture": "texture synthesis: an image from noise whose style statistics match",
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
            epilog=presets_text(action),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        add_flags(parser, action)
        parser.set_defaults(run=run_action, parser=parser)


def presets_text(action: str) -> str:
    """The epilog of an action's ``--help``: the defaults of each network with each preset
    (the course notebook's settings; starry-night gives the defaults)."""
    lines = ["defaults (--preset starry-night unless another is given):"]
    for model in cfg.NETWORK_LAYERS:
        for name in cfg.PRESETS:
            values = defaults_line(cfg.StyleConfig, cfg.defaults(action, name, model))
            lines.append(f"  --model {model} --preset {name}: {values}")
    return "\n".join(lines)


def add_flags(parser, action: str) -> None:
    """Every setting of :class:`~dualnet.apps.style.config.StyleConfig` (declared on its
    field), then ``--out`` and ``--json``."""
    add_setting_flags(parser, cfg.StyleConfig)
    parser.add_argument("--out", help=f"a new folder for the results (runs/style/{action})")
    flags.add_json(parser)


def settings_of(args: argparse.Namespace) -> dict:
    """The settings given on the command line (``None`` for those not given), but the preset,
    which :func:`~dualnet.apps.style.config.make_config` takes apart."""
    settings = given_settings(args, cfg.StyleConfig)
    settings.pop("preset")
    return settings


def run_action(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Configure, load, optimise, report. A bad setting or image is a usage error naming its
    flag (exit status 2); a network that cannot be loaded is one line (exit status 1). A run
    that fails leaves no empty ``--out`` behind."""
    out = Path(args.out or f"runs/style/{args.action}")
    with runs.kept_only_if_written(out):
        return run_into(out, args, parser)


def run_into(out: Path, args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """The action of :func:`run_action`, writing into the run directory ``out``."""
    from dualnet.apps.networks import BuildStopped
    from dualnet.apps.pretrained import WeightsNotFoundError
    from dualnet.data import DatasetNotFoundError

    try:
        problem, config = prepare(args, out)
    except BuildStopped as error:  # Ctrl-C while a stand-in was built
        return fail(f"style {args.action}", str(error), status=130)
    except (runs.CheckpointError, WeightsNotFoundError, DatasetNotFoundError) as error:
        return fail(f"style {args.action}", str(error))
    except ValueError as error:  # ConfigError, and devices that are not there
        parser.error(str(error))
    return optimise_and_report(problem, config, out, args.json)


def prepare(args: argparse.Namespace, out: Path):
    """The configuration, the images, the run directory ``out`` (refusing one that holds a
    run), the network and the problem: images, targets and start."""
    from dualnet.apps.style import network, transfer

    config = cfg.make_config(args.action, args.preset, **settings_of(args))
    images = transfer.load_images(config)  # a bad file is reported before any slow work
    runs.open_run_dir(out, hint="choose another --out; nothing was overwritten")
    net = network.load_features(config.model, config.weights, config.device)
    return transfer.prepare(config, net, images), config


def optimise_and_report(problem, config: cfg.StyleConfig, out: Path, as_json: bool) -> int:
    from dualnet.apps.style import report, transfer

    try:
        result = transfer.optimise(problem, config)
    except KeyboardInterrupt:
        return fail(f"style {config.mode}", "interrupted; nothing was written", status=130)
    summary = report.write_outputs(out, config, problem, result)
    if as_json:
        print_json(summary)
        return 0
    print_summary(summary, out / "summary.json")
    print(f"wrote {out / 'result.png'}, steps.png, losses.png and overview.png")
    return 0
