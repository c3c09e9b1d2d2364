"""Each setting declared once: on its configuration's dataclass field.

A configuration (``ClassifyConfig``, ``GanConfig``, ``CaptionConfig``, ``StyleConfig``) is a
dataclass whose fields are made by :func:`setting`: the field's default, its help text, its
flag, the values it takes (a :class:`Range` or a tuple of choices) and whether it may change
when a run is resumed. Everything else is read from that one declaration:

* :func:`add_setting_flags` adds the flags of a configuration to a parser, each checked as it
  is parsed, its default stated in ``--help`` (a default that depends on the model says so,
  and the application's epilog lists it);
* :func:`check_settings` checks a configuration against its declared ranges and choices,
  naming the flag;
* :func:`given_settings` reads the settings given on a command line;
* :func:`resumed_config` and :func:`refuse_contradicting_flags` hold a resumed run to the
  stored configuration: a setting that would make it another run is refused, named, unless it
  is declared ``may_change`` (the device, the output folder, the progress bar: what changes
  where a run happens, not what it computes).

A :class:`Range` says which numbers a setting takes (``Range(float, 0, 1, high_open=True)`` is
``[0, 1)``); :meth:`Range.parser` is an ``argparse`` ``type=`` that refuses a number outside it
while the command line is parsed, so the error names the flag as typed. Every count has an
upper bound: the ranges below (:data:`SEED`, :data:`MAX_STEPS`, ...) give those the
applications share, and an integer range that states no upper bound stops at
:data:`INT_LIMIT`, so that no number reaches a library that cannot hold it.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from dataclasses import MISSING, asdict, dataclass, fields, replace


class ConfigError(ValueError):
    """A configuration that cannot run: the command line reports it as a usage error."""


INT_LIMIT = 2**32 - 1
"""No integer setting is larger, whatever its range says: the largest seed that every random
generator here takes (NumPy's legacy ``np.random.seed`` is the narrowest; PyTorch's take
``2**64 - 1``), and far more than any count of steps, images or layers."""


@dataclass(frozen=True)
class Range:
    """Values of ``kind`` between ``low`` and ``high`` (either may be ``None``: unbounded, but
    an integer stops at :data:`INT_LIMIT`)."""

    kind: type = float
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    @property
    def top(self) -> float | None:
        """The upper bound in force: ``high``, or :data:`INT_LIMIT` for an integer without
        one."""
        if self.high is None and self.kind is int:
            return INT_LIMIT
        return self.high

    def describe(self) -> str:
        """The whole range in words: ``at least 1``, ``from 1 to 100``, ``in [0, 1)``."""
        if self.high is None:
            word = "greater than" if self.low_open else "at least"
            return f"{word} {self.low}"
        if self.kind is int and not (self.low_open or self.high_open):
            return f"from {self.low} to {self.high}"
        left = "(" if self.low_open else "["
        right = ")" if self.high_open else "]"
        return f"in {left}{self.low}, {self.high}{right}"

    def crossed(self, value) -> str | None:
        """The bound that ``value`` crosses, in words (``at least 1``, ``at most 100``), or
        ``None`` when it is in the range."""
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return f"{'greater than' if self.low_open else 'at least'} {self.low}"
        top = self.top
        if top is not None and (value > top or (self.high_open and value == top)):
            return f"{'less than' if self.high_open else 'at most'} {top}"
        return None

    def problem(self, value) -> str | None:
        """``None`` if ``value`` is in the range, else what is wrong with it. An integer (a
        count, an index, a seed) is told the bound it crosses; a real number the whole
        range."""
        is_int = isinstance(value, int) and not isinstance(value, bool)
        is_number = is_int or (isinstance(value, float) and self.kind is float)
        if not is_number or (isinstance(value, float) and not math.isfinite(value)):
            return f"must be a finite {self.kind.__name__} {self.describe()}, got {value!r}"
        bound = self.crossed(value)
        if bound is None:
            return None
        wanted = bound if self.kind is int else self.describe()
        return f"must be {wanted}, got {value!r}"

    def parser(self):
        """An ``argparse`` ``type=`` callable that converts the text and checks the range."""

        def parse(text: str):
            try:
                value = self.kind(text)
            except ValueError:
                raise argparse.ArgumentTypeError(
                    f"must be {'an integer' if self.kind is int else 'a number'} "
                    f"{self.describe()}, got {text!r}"
                ) from None
            problem = self.problem(value)
            if problem:
                raise argparse.ArgumentTypeError(problem)
            return value

        parse.__name__ = self.kind.__name__  # argparse names the type in some messages
        return parse


SEED = Range(int, 0, INT_LIMIT)
"""Every ``--seed``."""
MAX_STEPS = 10_000_000
"""Optimiser steps (and the intervals counted in steps): far beyond any run of this project,
which trains for thousands."""
MAX_EPOCHS = 10_000
"""Sweeps of the training data."""
MAX_BATCH = 65_536
"""Examples in one batch."""
MAX_WIDTH = 16_384
"""Numbers in one vector of a network: noise, word vectors, hidden states."""
MAX_IMAGES = 100_000
"""Images (or digits) that one evaluation or sampling action draws or reads."""


# --------------------------------------------------------------------------------------------
# The declaration
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """What a configuration field declares besides its default.

    ``flag`` is its command-line flag (``""``: the command line does not take it, or takes it
    through a flag of its own, e.g. caption's ``--data KIND [PATH]``); ``range`` or
    ``choices`` the values it takes; ``many`` that the flag takes one or more values;
    ``may_change`` that a resumed run may give it another value; ``open`` that the choices are
    those of the command line only (a configuration made in Python may name its own data).
    """

    help: str
    flag: str | None
    range: Range | None = None
    choices: tuple | None = None
    many: bool = False
    may_change: bool = False
    open: bool = False
    switch: bool = False
    """A ``bool`` field: ``--flag`` / ``--no-flag`` (read from the field's type)."""


def setting(
    default=MISSING,
    *,
    help: str,
    flag: str | None = None,
    range: Range | None = None,
    choices: tuple | None = None,
    many: bool = False,
    may_change: bool = False,
    open: bool = False,
):
    """A dataclass field that declares a setting. ``default`` ``MISSING`` means that the
    default depends on other settings (the model, the loss, the preset) and the
    configuration's ``defaults()`` gives it. ``flag`` ``None`` is ``--`` and the field's name
    with dashes."""
    declaration = Setting(help, flag, range, choices, many, may_change, open)
    return dataclasses.field(default=default, metadata={"setting": declaration})


def checkpoint_every_setting(zero: str = "off"):
    """``--checkpoint-every N`` of every training application; ``zero`` says what 0 means."""
    return setting(
        0,
        help=f"also write last.pt every N steps (0: {zero})",
        range=Range(int, 0, MAX_STEPS),
        may_change=True,
    )


def stop_after_steps_setting():
    """``--stop-after-steps N`` of every training application."""
    return setting(
        None,
        help="stop with a checkpoint after N steps",
        range=Range(int, 1, MAX_STEPS),
        may_change=True,
    )


def resume_setting():
    """``--resume RUN`` of every training application (its parser adds the flag itself)."""
    return setting(None, help="the checkpoint resumed", flag="", may_change=True)


def declared(kind) -> dict[str, tuple[Setting, object]]:
    """``{field name: (its Setting, its default or MISSING)}`` of a configuration class or
    instance, in field order, each flag resolved."""
    result = {}
    for f in fields(kind):
        if "setting" in f.metadata:
            declaration = replace(f.metadata["setting"], switch=f.type in ("bool", bool))
            if declaration.flag is None:
                declaration = replace(declaration, flag="--" + f.name.replace("_", "-"))
            result[f.name] = (declaration, f.default)
    return result


def flags(kind) -> dict[str, str]:
    """``{field name: flag}`` of every setting of ``kind``, for messages."""
    return {name: declared_.flag for name, (declared_, _) in declared(kind).items()}


def may_change(kind) -> tuple[str, ...]:
    """The settings of ``kind`` that a resumed run may change."""
    return tuple(name for name, (s, _) in declared(kind).items() if s.may_change)


def default_text(value) -> str:
    """How ``--help`` states a default: ``on``/``off`` for a switch, a number to four
    significant digits, the values of a tuple separated by spaces."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, tuple | list):
        return " ".join(default_text(v) for v in value)
    return str(value)


def defaults_line(kind, values: dict) -> str:
    """``--flag value, --flag value, ...``: settings of ``kind`` as the epilog of ``--help``
    lists the defaults that depend on other settings (a switch as ``--flag`` or
    ``--no-flag``)."""
    flag_of, parts = flags(kind), []
    for name, value in values.items():
        if isinstance(value, bool):
            parts.append(flag_of[name] if value else "--no-" + flag_of[name][2:])
        else:
            parts.append(f"{flag_of[name]} {default_text(value)}")
    return ", ".join(parts)


def help_text(declaration: Setting, default) -> str:
    """The help of a flag with its default: ``(default)``, or, for a default that depends on
    other settings, ``(see the defaults below)``; a setting whose default is ``None`` (not
    set) states none."""
    text = declaration.help.replace("%", "%%")
    if default is MISSING:
        return f"{text} (see the defaults below)"
    if default is None:
        return text
    return f"{text} ({default_text(default)})"


def add_setting_flags(parser: argparse.ArgumentParser, kind, skip: tuple[str, ...] = ()) -> None:
    """Add a flag to ``parser`` for every setting of the configuration class ``kind`` (but
    those named in ``skip`` and those without a flag). Every flag's default is ``None``, "not
    given", so that the configuration's defaults, or a resumed run's stored settings, apply.
    """
    for name, (declaration, default) in declared(kind).items():
        if not declaration.flag or name in skip:
            continue
        options = {"dest": name, "help": help_text(declaration, default)}
        if declaration.switch:
            options["action"] = argparse.BooleanOptionalAction
        elif declaration.choices is not None:
            options["choices"] = tuple(c for c in declaration.choices if c is not None)
        elif declaration.range is not None:
            options["type"] = declaration.range.parser()
            options["metavar"] = "N" if declaration.range.kind is int else "X"
        if declaration.many:
            options["nargs"] = "+"
        parser.add_argument(declaration.flag, **options)


def given_settings(args: argparse.Namespace, kind) -> dict:
    """The settings of ``kind`` given on the command line (``None`` for those not given).
    With ``--json`` the progress lines are off unless ``--progress`` is given: standard
    output then holds the JSON alone."""
    settings = {name: getattr(args, name) for name in declared(kind) if hasattr(args, name)}
    if getattr(args, "json", False) and settings.get("progress", False) is None:
        settings["progress"] = False
    return settings


def check_settings(config) -> None:
    """Raise :class:`ConfigError` for the first setting of ``config`` outside its declared
    choices or range, naming its flag (``None`` values mean "not set" and pass)."""
    for name, (declaration, _) in declared(config).items():
        value = getattr(config, name)
        label = declaration.flag or name
        closed = declaration.choices is not None and not declaration.open
        if closed and value not in declaration.choices:
            allowed = ", ".join(str(c) for c in declaration.choices)
            raise ConfigError(f"{label} must be one of {allowed}, got {value!r}")
        if declaration.range is not None and value is not None:
            values = value if declaration.many else [value]
            for one in values:
                problem = declaration.range.problem(one)
                if problem:
                    raise ConfigError(f"{label} {problem}")


# --------------------------------------------------------------------------------------------
# Resuming a run
# --------------------------------------------------------------------------------------------


def stored_config(kind: type, checkpoint: dict):
    """The ``kind`` configuration a checkpoint was made with; keys that ``kind`` does not know
    (from another version of the project) are left out."""
    known = {f.name for f in fields(kind)}
    return kind(**{k: v for k, v in checkpoint["config"].items() if k in known})


def contradictions(previous, settings: dict) -> list[str]:
    """The names of ``settings`` (those not ``None``) that differ from the configuration
    ``previous`` and may not change on a resume."""
    stored, free = asdict(previous), may_change(previous)
    return [
        name
        for name, value in settings.items()
        if value is not None and name in stored and name not in free and stored[name] != value
    ]


def check_same_run(previous, settings: dict) -> None:
    """Refuse ``settings`` that would make the run of ``previous`` another run.

    Raises:
        ConfigError: naming the first contradicting setting, its value and the stored one.
    """
    wrong = contradictions(previous, settings)
    if wrong:
        name = wrong[0]
        raise ConfigError(
            f"cannot resume with {name}={settings[name]!r}: the checkpoint was made with "
            f"{name}={getattr(previous, name)!r} (a resumed run keeps every setting except "
            f"{', '.join(may_change(previous))})"
        )


def resumed_config(kind: type, checkpoint: dict, settings: dict):
    """The configuration of ``checkpoint``'s run with ``settings`` (those not ``None``)
    applied, checked; a stop given for the stopped piece does not carry over.

    Raises:
        ConfigError: if a setting contradicts the checkpoint (:func:`check_same_run`) or the
            result is not a valid configuration.
    """
    previous = stored_config(kind, checkpoint)
    check_same_run(previous, settings)
    changes = {k: v for k, v in settings.items() if v is not None}
    config = replace(previous, **{"stop_after_steps": None, **changes})
    config.check()
    return config


def refuse_contradicting_flags(previous, settings: dict, parser) -> None:
    """A usage error (``parser.error``, exit status 2) naming the first command-line flag
    whose value contradicts the run being resumed."""
    wrong = contradictions(previous, settings)
    if wrong:
        name, flag_of = wrong[0], flags(previous)
        kept = ", ".join(flag_of[n] for n in may_change(previous) if flag_of[n])
        parser.error(
            f"{flag_of[name]} {settings[name]} contradicts the run being resumed, which was "
            f"made with {flag_of[name]} {getattr(previous, name)}; a resumed run keeps every "
            f"setting except {kept}"
        )
