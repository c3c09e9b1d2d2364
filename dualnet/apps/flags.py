"""The flags every application spells the same way.

One idea, one flag, in every application (``tests/dualnet/test_vocabulary.py`` walks the whole
parser tree and holds every action to it):

=================  ===========================================================================
flag               meaning
=================  ===========================================================================
``RUN``            the positional of an action that reads a run: its directory or a ``.pt``
``--device``       ``auto`` (CUDA when available, the default), ``cpu`` or ``cuda``
``--seed``         the seed of every random draw of the action
``--json``         print the summary as JSON instead of a table
``--out``          where the action writes its ``summary.json`` and figures
``--n-images``     how many images (or digits, or classes) the action uses
``--steps``        optimiser steps of an action that does not sweep a dataset
``--epochs``       sweeps of the training data (classification and captioning)
``--lr``           the learning rate (or step size) of an optimisation
=================  ===========================================================================
"""

from __future__ import annotations

import argparse

from dualnet.apps.runtime import DEVICES
from dualnet.apps.settings import MAX_IMAGES, SEED, Range


def add_run(parser: argparse.ArgumentParser, reads: str = "its last.pt") -> None:
    """The positional ``RUN`` (stored as ``run_path``): a run directory or a checkpoint."""
    parser.add_argument("run_path", metavar="RUN", help=f"a run directory ({reads}) or a .pt")


def add_device(parser: argparse.ArgumentParser, default: str | None = "auto") -> None:
    """``--device auto|cpu|cuda``; ``default`` ``None`` means "not given" (a resumed run keeps
    the stored one only where the flag is absent)."""
    shown = "auto" if default is None else default
    parser.add_argument(
        "--device", choices=DEVICES, default=default, help=f"auto: CUDA when available ({shown})"
    )


def add_seed(parser: argparse.ArgumentParser, what: str, default: int | None = 0) -> None:
    """``--seed N`` (:data:`~dualnet.apps.settings.SEED`) with what it seeds."""
    parser.add_argument(
        "--seed",
        type=SEED.parser(),
        default=default,
        metavar="N",
        help=f"seed of {what} (0)",
    )


def add_json(parser: argparse.ArgumentParser) -> None:
    """``--json``: print the summary as JSON."""
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def add_n_images(parser: argparse.ArgumentParser, default: int | None, what: str, low=1) -> None:
    """``--n-images N`` (from ``low`` to :data:`~dualnet.apps.settings.MAX_IMAGES`): how
    many images the action uses."""
    shown = "" if default is None else f" ({default})"
    parser.add_argument(
        "--n-images",
        type=Range(int, low, MAX_IMAGES).parser(),
        default=default,
        metavar="N",
        help=f"{what}{shown}",
    )
