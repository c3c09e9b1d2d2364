"""Grade a folder of hand-ins (``dualnet grade DIR``).

Every ``*.py`` of the folder is checked by ``dualnet check --impl FILE --json`` in a process
of its own, started in a fresh, empty working folder and stopped after a time limit. This
runs the hand-ins' code with the grader's rights: it is no sandbox, and the docs say so.

The result is one table, a row per hand-in and a column per component, each cell the
verdict over both dtypes: ``agrees``, ``disagrees: db, dw`` (the outputs or gradients
blamed), ``not written``, ``error``, ``changes input`` or ``timeout``.
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from dualnet import registry
from dualnet.crosscheck import DTYPES
from dualnet.crosscheck_report import format_table
from dualnet.learner.check import STATUSES

PROJECT = Path(__file__).resolve().parents[2]
# Seconds a hand-in's process may take beyond its checks' own limits: Python, PyTorch and
# the import of the hand-in.
STARTUP_SECONDS = 30.0

CELLS = {
    "agrees": "agrees",
    "disagrees": "disagrees",
    "error": "error",
    "not_implemented": "not written",
    "changed_input": "changes input",
    "timeout": "timeout",
}


@dataclass
class HandinGrade:
    """The outcome for one hand-in.

    Attributes:
        file: Its file name.
        status: ``"checked"``, or ``"error"`` / ``"timeout"`` when it gave no results.
        message: Why it gave no results; empty when checked.
        results: The results of ``dualnet check --impl --json``, as dicts.
    """

    file: str
    status: str
    message: str = ""
    results: list[dict] = field(default_factory=list)


def checks_possible(path: Path) -> int:
    """How many checks the hand-in can run at most: the entries whose function names its
    text mentions (the whole registry for a ``*`` import), in every dtype."""
    text = path.read_text(errors="replace")
    entries = registry.COMPONENTS.values()
    if "import *" not in text:
        words = set(re.findall(r"\w+", text))
        entries = [c for c in entries if words & set(c.numpy_functions)]
    return max(1, len(entries)) * len(DTYPES)


def time_limit_for(path: Path, timeout: float) -> float:
    """The hand-in's whole time: its checks' limits plus :data:`STARTUP_SECONDS`."""
    return STARTUP_SECONDS + timeout * checks_possible(path)


def run_handin(path: Path, timeout: float) -> HandinGrade:
    """``dualnet check --impl PATH --json`` in its own process and empty working folder."""
    command = [sys.executable, "-m", "dualnet", "check", "--impl", str(path.resolve())]
    command += ["--json", "--timeout", f"{timeout:g}"]
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT), env.get("PYTHONPATH")]))
    limit = time_limit_for(path, timeout)
    with tempfile.TemporaryDirectory(prefix="dualnet-grade-") as workdir:
        process = subprocess.Popen(
            command, cwd=workdir, env=env, text=True, start_new_session=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            out, err = process.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the hand-in's process group only
            process.communicate()
            return HandinGrade(path.name, "timeout", f"no result after {limit:g} s")
    return graded(path, process.returncode, out, err)


def graded(path: Path, returncode: int, out: str, err: str) -> HandinGrade:
    """The hand-in's grade from what its checking process printed."""
    name = path.name
    if returncode in (0, 1):
        try:
            return HandinGrade(name, "checked", results=json.loads(out)["results"])
        except (json.JSONDecodeError, KeyError):
            pass
    lines = [line for line in err.splitlines() if line.strip()]
    message = lines[-1] if lines else f"exit status {returncode}"
    message = message.removeprefix("dualnet check: error: ")
    return HandinGrade(name, "error", message.removeprefix(f"--impl {path.resolve()}: "))


def grade_folder(folder: str | Path, timeout: float) -> list[HandinGrade]:
    """Every ``*.py`` of ``folder``, in name order.

    Raises:
        ValueError: when ``folder`` is no folder or holds no ``.py`` file.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"DIR {folder}: no such folder")
    files = sorted(folder.glob("*.py"))
    if not files:
        raise ValueError(f"DIR {folder}: holds no .py file to grade")
    return [run_handin(path, timeout) for path in files]


# --------------------------------------------------------------------------------------------
# The table, CSV and JSON
# --------------------------------------------------------------------------------------------


def blamed(results: list[dict]) -> list[str]:
    """The outputs and gradients that disagree in any of ``results``, each once."""
    return list(dict.fromkeys(f["name"] for r in results for f in r["findings"]))


def cell(results: list[dict]) -> str:
    """The verdict over the dtypes of one component: the most serious status, with the
    blamed outputs and gradients of a disagreement."""
    if not results:
        return "-"
    status = next(s for s in STATUSES if any(r["status"] == s for r in results))
    if status == "disagrees":
        return "disagrees: " + ", ".join(blamed(results))
    return CELLS[status]


def table(grades: list[HandinGrade]) -> str:
    """One row per hand-in, one column per component any hand-in defines."""
    keys = list(dict.fromkeys(r["key"] for g in grades for r in g.results))
    rows = []
    for g in grades:
        by_key = {k: [r for r in g.results if r["key"] == k] for k in keys}
        note = f"{g.status}: {g.message}" if g.status != "checked" else ""
        rows.append([g.file, *(cell(by_key[k]) for k in keys), note])
    return format_table(rows, ["hand-in", *keys, "note"])


def details(grades: list[HandinGrade]) -> list[str]:
    """One line per result that does not agree: what its check said."""
    return [
        f"  {g.file}  {r['key']} {r['dtype']}: {r['message']}"
        for g in grades
        for r in g.results
        if r["status"] != "agrees"
    ]


def report(grades: list[HandinGrade], folder: str) -> str:
    agreeing = sum(
        g.status == "checked" and all(r["status"] == "agrees" for r in g.results) for g in grades
    )
    lines = [f"dualnet grade {folder}: {len(grades)} hand-ins, {agreeing} agree everywhere", ""]
    lines += [table(grades), ""]
    found = details(grades)
    if found:
        lines += ["What each check said where it does not agree:", *found]
    return "\n".join(lines)


def csv_rows(grades: list[HandinGrade]):
    yield ["hand-in", "component", "dtype", "status", "blamed", "message", "diagnosis"]
    for g in grades:
        if g.status != "checked":
            yield [g.file, "", "", g.status, "", g.message, ""]
        for r in g.results:
            names = " ".join(blamed([r]))
            yield [
                g.file,
                r["key"],
                r["dtype"],
                r["status"],
                names,
                r["message"],
                r["diagnosis"] or "",
            ]


def write_csv(grades: list[HandinGrade], path: str | Path) -> None:
    with open(path, "w", newline="") as file:
        csv.writer(file).writerows(csv_rows(grades))


def to_json(grades: list[HandinGrade], folder: str, timeout: float) -> dict:
    return {
        "folder": folder,
        "timeout": timeout,
        "handins": [vars(g) for g in grades],
    }
