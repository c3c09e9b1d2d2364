"""One vocabulary across the five applications: the whole ``dualnet`` parser tree walked, every
action held to the common flags (``dualnet.apps.flags``), and every ``--help`` default
compared with the configuration dataclass that declares it."""

import argparse
import re
import shlex
from dataclasses import MISSING
from pathlib import Path

import pytest

from dualnet import cli
from dualnet.apps.caption import config as caption
from dualnet.apps.classify import config as classify
from dualnet.apps.gan import config as gan
from dualnet.apps.settings import declared, default_text, flags
from dualnet.apps.style import config as style

pytestmark = pytest.mark.cli

APPLICATIONS = ("classify", "visualize", "style", "caption", "gan")
LISTINGS = {("classify", "models")}
"""Actions that print a listing and compute nothing: no --seed, --json or --device."""
RETIRED = {
    "--learning-rate": "--lr",
    "--max-iter": "--steps",
    "--iterations": "--steps",
    "--n": "--n-images",
    "--n-samples": "--n-images",
    "--limit": "--n-images",
}
"""Flags of other dialects, and the one word for each."""


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def every_action() -> list[tuple[str, str, argparse.ArgumentParser]]:
    commands = subparsers(cli.build_parser())
    return [
        (app, name, parser)
        for app in APPLICATIONS
        for name, parser in subparsers(commands[app]).items()
    ]


def parser_of(app: str, name: str) -> argparse.ArgumentParser:
    return {(a, n): parser for a, n, parser in every_action()}[(app, name)]


def options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {flag: action for action in parser._actions for flag in action.option_strings}


def test_the_tree_holds_every_action_of_the_five_applications():
    found = {(app, name) for app, name, _ in every_action()}
    assert found == {
        ("classify", "train"), ("classify", "eval"), ("classify", "models"),
        ("visualize", "saliency"), ("visualize", "fool"), ("visualize", "attack"),
        ("visualize", "classes"),
        ("style", "transfer"), ("style", "invert"), ("style", "texture"),
        ("caption", "train"), ("caption", "sample"), ("caption", "eval"),
        ("gan", "train"), ("gan", "sample"), ("gan", "eval"),
    }  # fmt: skip


@pytest.mark.parametrize(("app", "name", "parser"), every_action(), ids=lambda v: str(v))
def test_every_action_speaks_the_one_vocabulary(app, name, parser):
    flags_of = options(parser)
    for retired, word in RETIRED.items():
        assert retired not in flags_of, f"{app} {name}: {retired} is spelled {word}"
    assert not {"--steps", "--epochs"} <= set(flags_of), "a run is long in steps or in epochs"
    positionals = [a for a in parser._actions if not a.option_strings and a.dest != "help"]
    assert all(a.metavar == "RUN" and a.dest == "run_path" for a in positionals)
    if (app, name) in LISTINGS:
        return
    for flag in ("--seed", "--json", "--device", "--out"):
        assert flag in flags_of, f"{app} {name} has no {flag}"
    device = flags_of["--device"]
    assert device.choices == ("auto", "cpu", "cuda")
    assert device.default in ("auto", None) and "(auto)" in device.help
    assert flags_of["--seed"].help.endswith("(0)")
    if "--images" in flags_of:  # files to look at; row indices are --rows
        assert app == "visualize"


def test_a_run_is_read_from_the_positional_run_by_every_action_that_reads_one():
    reads_a_run = {
        (app, name)
        for app, name, parser in every_action()
        if any(a.dest == "run_path" and not a.option_strings for a in parser._actions)
    }
    assert reads_a_run == {
        ("classify", "eval"), ("caption", "sample"), ("caption", "eval"),
        ("gan", "sample"), ("gan", "eval"),
    }  # fmt: skip


CONFIGURATIONS = [
    ("classify", "train", classify.ClassifyConfig, classify.defaults()),
    ("gan", "train", gan.GanConfig, gan.defaults()),
    ("caption", "train", caption.CaptionConfig, caption.defaults()),
    *[("style", mode, style.StyleConfig, style.defaults(mode)) for mode in style.MODES],
]


@pytest.mark.parametrize(("app", "name", "kind", "depends"), CONFIGURATIONS, ids=str)
def test_every_help_default_is_the_dataclass_default(app, name, kind, depends):
    parser = parser_of(app, name)
    flags_of, epilog = options(parser), parser.epilog or ""
    shown = 0
    for setting, (declaration, default) in declared(kind).items():
        action = flags_of.get(declaration.flag)
        if action is None or action.dest != setting:
            continue  # a flag of its own (caption's --data KIND [PATH])
        assert action.default is None, f"{declaration.flag}: 'not given' is None"
        switch = isinstance(action, argparse.BooleanOptionalAction)
        assert switch == (kind.__annotations__[setting] == "bool"), declaration.flag
        if default is MISSING:
            assert action.help.endswith("(see the defaults below)"), declaration.flag
            value = depends[setting]
            if isinstance(value, bool):
                stated = declaration.flag if value else "--no-" + declaration.flag[2:]
            else:
                stated = f"{declaration.flag} {default_text(value)}"
            assert stated in epilog, f"{app} {name} --help does not state {stated}"
        elif default is not None:
            assert action.help.endswith(f"({default_text(default)})"), declaration.flag
        shown += 1
    assert shown >= len(flags(kind)) - 4


def test_help_states_the_defaults_that_depend_on_the_model():
    classify_epilog = parser_of("classify", "train").epilog
    assert "squeezenet1_1 (torch): --epochs 12," in classify_epilog
    assert "ResNets (torch): --epochs 5," in classify_epilog
    gan_lines = parser_of("gan", "train").epilog.splitlines()
    penalties = [line.rsplit("--lambda-gp ", 1)[1] for line in gan_lines[1:]]
    assert penalties == ["0", "0", "0", "0", "10", "10"]  # WGAN-GP's alone, on both models


def documented_commands() -> list[str]:
    """Every ``dualnet <app> ...`` command line of the README and the application pages."""
    root = Path(__file__).resolve().parents[2]
    pages = [root / "README.md", *sorted((root / "docs" / "applications").glob("*.md"))]
    found = []
    for page in pages:
        for line in page.read_text().splitlines():
            line = re.split(r"\s#", line)[0].strip().removeprefix("$ ")
            words = line.split()
            if len(words) > 2 and words[0] == "dualnet" and words[1] in APPLICATIONS:
                found.append(line)
    return found


def test_every_documented_command_parses(capsys):
    commands = documented_commands()
    assert len(commands) > 20
    parser = cli.build_parser()
    for command in commands:
        try:
            parser.parse_args(shlex.split(command)[1:])
        except SystemExit:
            pytest.fail(f"{command}: {capsys.readouterr().err.strip()}")
