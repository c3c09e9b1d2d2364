"""Numeric settings with a range, checked the same way in a configuration and on the command
line.

A :class:`Range` says which values a setting takes (``Range(float, 0, 1, high_open=True)`` is
``[0, 1)``). :meth:`Range.problem` tells why a value is outside it; :meth:`Range.parser` makes
an ``argparse`` ``type=`` that refuses such a value while the command line is parsed, so the
error names the flag as typed and comes under the subcommand's usage line.
:func:`add_setting_flags` adds an application's setting flags from its tables.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass


class ConfigError(ValueError):
    """A configuration that cannot run: the command line reports it as a usage error."""


@dataclass(frozen=True)
class Range:
    """Values of ``kind`` between ``low`` and ``high`` (either may be ``None``: unbounded)."""

    kind: type = float
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def describe(self) -> str:
        if self.high is None:
            word = "greater than" if self.low_open else "at least"
            return f"{word} {self.low}"
        left = "(" if self.low_open else "["
        right = ")" if self.high_open else "]"
        return f"in {left}{self.low}, {self.high}{right}"

    def problem(self, value) -> str | None:
        """``None`` if ``value`` is in the range, else what is wrong with it."""
        is_int = isinstance(value, int) and not isinstance(value, bool)
        is_number = is_int or (isinstance(value, float) and self.kind is float)
        if not is_number or (isinstance(value, float) and not math.isfinite(value)):
            return f"must be a finite {self.kind.__name__} {self.describe()}, got {value!r}"
        too_low = self.low is not None and (
            value < self.low or (self.low_open and value == self.low)
        )
        too_high = self.high is not None and (
            value > self.high or (self.high_open and value == self.high)
        )
        if too_low or too_high:
            return f"must be {self.describe()}, got {value!r}"
        return None

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


def check_ranges(config, ranges: dict[str, Range]) -> None:
    """Raise :class:`ConfigError` for the first field of ``config`` outside its range (``None``
    values are skipped: they mean "not set")."""
    for name, allowed in ranges.items():
        value = getattr(config, name)
        if value is not None:
            problem = allowed.problem(value)
            if problem:
                raise ConfigError(f"{name} {problem}")


def add_setting_flags(
    parser: argparse.ArgumentParser,
    choices: dict,
    numbers: dict,
    switches: dict,
    ranges: dict[str, Range],
) -> None:
    """Add an application's setting flags to ``parser``, from its three tables.

    ``choices`` maps a flag to ``(setting, allowed values, help)``; ``numbers`` maps a flag to
    ``(setting, help)``, the value checked by ``ranges[setting]`` as it is parsed; ``switches``
    maps a flag to ``(setting, help)``, given as ``--flag`` or ``--no-flag``. Every default is
    ``None`` ("not given"), so that the configuration's defaults and a resumed run's stored
    settings apply.
    """
    for flag, (setting, allowed, text) in choices.items():
        parser.add_argument(flag, dest=setting, choices=allowed, help=text)
    for flag, (setting, text) in numbers.items():
        kind = ranges[setting]
        metavar = "N" if kind.kind is int else "X"
        parser.add_argument(flag, dest=setting, type=kind.parser(), metavar=metavar, help=text)
    for flag, (setting, text) in switches.items():
        parser.add_argument(flag, dest=setting, action=argparse.BooleanOptionalAction, help=text)
