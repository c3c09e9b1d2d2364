"""A process that holds the lock of a run directory, for the tests of one writer per run."""

import subprocess
import sys
from pathlib import Path

HOLD_THE_RUN = """
import sys
from dualnet.apps import runs
runs.lock_run(sys.argv[1])
print("holding", flush=True)
sys.stdin.readline()
"""


def another_writer(folder: Path) -> subprocess.Popen:
    """A process that holds the lock of the run ``folder`` until its stdin is closed."""
    folder.mkdir(parents=True, exist_ok=True)
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_RUN, str(folder)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert child.stdout.readline() == "holding\n"
    return child
