"""A run directory and everything written into it.

Every application writes its results into one folder, the *run directory*:

* :func:`open_run_dir` creates it, makes this process its one writer (:func:`lock_run`),
  refuses to start a new run over another one, and removes the temporary files a killed
  process may have left behind;
* :func:`~dualnet.files.atomic_write` is the **one** way a run (and every cache) writes a
  file: a temporary file next to the target, flushed to disk, then renamed over it; a killed
  run leaves at most one temporary file per file, and the next :func:`open_run_dir` removes
  it;
* :func:`save_checkpoint` / :func:`load_checkpoint` store and read a checkpoint, a dict of
  tensors and plain Python values (``torch.load(weights_only=True)``): a file that is not a
  checkpoint of the expected application, or that carries code, is refused with one line
  that says what is wrong; a run resumes from its :func:`last_checkpoint` and is scored by
  its :func:`best_checkpoint`;
* :class:`MetricsLog` keeps ``metrics.jsonl`` (one JSON object per line);
* :func:`write_json` writes ``config.json`` and ``summary.json``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pickletools
import socket
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import MISSING, fields
from pathlib import Path

import numpy as np
import torch

from dualnet.apps.settings import (
    ConfigError,
    check_settings,
    refuse_contradicting_flags,
    resumed_config,
    stored_config,
)
from dualnet.files import atomic_write

RUN_FILES = ("last.pt", "summary.json")
"""Files whose presence means a folder already holds a run: a checkpoint to continue, or the
results of an action. A folder with only ``config.json`` and ``metrics.jsonl`` holds a run that
stopped before its first checkpoint: nothing to continue, so a new run may start there."""
LEFT_BEHIND = ("config.json", "metrics.jsonl")
"""What a run that stopped before its first checkpoint leaves, removed when a new run starts."""
LOCK_FILE = ".writer.lock"
"""The lock file of a run directory: it names the process writing the run."""


class CheckpointError(ValueError):
    """A file given as a checkpoint cannot be used; the message names the file and why."""


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def write_json(path: str | Path, value) -> Path:
    """``value`` as indented JSON, written atomically."""
    text = json.dumps(value, indent=2) + "\n"
    return atomic_write(path, lambda file: file.write(text.encode()))


def save_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> Path:
    """``numpy.savez`` of ``arrays``, written atomically."""
    return atomic_write(path, lambda file: np.savez(file, **arrays))


def save_checkpoint(payload: dict, path: str | Path) -> Path:
    """``torch.save`` of ``payload``, written atomically."""
    return atomic_write(path, lambda file: torch.save(payload, file))


def open_run_dir(path: str | Path, resuming: bool = False, hint: str = "") -> Path:
    """Create the run directory ``path`` (or reuse it when ``resuming``), and make this
    process its one writer (:func:`lock_run`).

    Removes the temporary files of writes that a killed process never finished, and, for a
    new run, what a run that stopped before its first checkpoint left (:data:`LEFT_BEHIND`).

    Raises:
        ConfigError: if ``path`` is a file or cannot be created, if another process is writing
            a run there, or if it already holds a run and this is not a resume; ``hint`` (for
            example the command that continues it) is added to the message.
    """
    path = Path(path)
    make_folder(path)
    lock_run(path)
    if not resuming:
        present = [name for name in RUN_FILES if (path / name).exists()]
        if present:
            raise ConfigError(
                f"{path} already holds a run ({', '.join(present)}); "
                + (hint or "choose another output directory")
            )
        for name in LEFT_BEHIND:
            (path / name).unlink(missing_ok=True)
    for stale in path.glob(".*.tmp"):
        stale.unlink(missing_ok=True)
    return path


def make_folder(path: Path) -> None:
    """Create the folder ``path``, or say in one line why it cannot be one."""
    if path.exists() and not path.is_dir():
        raise ConfigError(f"--out {path}: a file is there, not a folder; choose another --out")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise ConfigError(f"--out {path}: cannot create the folder ({reason})") from None


# --------------------------------------------------------------------------------------------
# One writer per run
# --------------------------------------------------------------------------------------------

_locks: dict[Path, int] = {}
"""The run directories this process writes, and the descriptor of each one's lock file."""


def lock_run(path: str | Path) -> None:
    """Make this process the one writer of the run directory ``path``.

    The lock is an ``flock`` on ``path/.writer.lock``, which holds the writer's process id and
    host. The operating system releases it when the process ends however it ends, so the lock
    of a killed process is taken over by the next one. Taking it again in the same process
    does nothing. (Where ``fcntl`` does not exist, on Windows, nothing is locked.)

    Raises:
        ConfigError: another process holds the lock, naming it.
    """
    path = Path(path).resolve()
    if path in _locks:
        return
    try:
        import fcntl
    except ImportError:
        return
    descriptor = os.open(path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(descriptor, 200, 0).decode(errors="replace").strip() or "a process"
        os.close(descriptor)
        raise ConfigError(
            f"{path} is being written by {holder}; one process writes a run at a time: wait "
            "for it to finish, or stop it"
        ) from None
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, f"process {os.getpid()} on {socket.gethostname()}".encode(), 0)
    _locks[path] = descriptor


@contextlib.contextmanager
def writing(path: str | Path) -> Iterator[None]:
    """Release the run directory ``path`` when the block ends (its lock is taken by
    :func:`open_run_dir` inside the block): a training function leaves the run to whoever
    continues it, even in the same process."""
    try:
        yield
    finally:
        release_run(path)


def release_run(path: str | Path | None = None) -> None:
    """Stop writing the run directory ``path`` (every run of this process when ``None``)."""
    chosen = list(_locks) if path is None else [Path(path).resolve()]
    for folder in chosen:
        descriptor = _locks.pop(folder, None)
        if descriptor is not None:
            os.close(descriptor)  # closing the file releases its flock


@contextlib.contextmanager
def kept_only_if_written(path: str | Path) -> Iterator[None]:
    """Remove the run directory ``path`` when the block ends and the folder holds nothing but
    its lock file, if the block created it: an action that fails leaves no empty ``--out``."""
    path = Path(path)
    existed = path.exists()
    try:
        yield
    finally:
        if not existed and path.is_dir():
            release_run(path)
            if [entry.name for entry in path.iterdir()] in ([], [LOCK_FILE]):
                (path / LOCK_FILE).unlink(missing_ok=True)
                path.rmdir()


def open_training_dir(path: str | Path, resuming: bool) -> Path:
    """:func:`open_run_dir` for a training run, whose refusal says both ways on: continue the
    run that is there, or start a new one elsewhere."""
    hint = f"continue it with --resume {path} or start a new one elsewhere with --out"
    return open_run_dir(path, resuming=resuming, hint=hint)


# --------------------------------------------------------------------------------------------
# Reading a checkpoint
# --------------------------------------------------------------------------------------------


def last_checkpoint(run: str | Path) -> Path:
    """A run directory's ``last.pt`` (where ``--resume RUN`` continues), or the checkpoint file
    itself."""
    path = Path(run)
    return path / "last.pt" if path.is_dir() else path


def config_for_resume(kind: type, checkpoint_format: str, run: str, settings: dict, parser):
    """The configuration with which ``--resume run`` continues: the one stored in the run's
    :func:`last_checkpoint` (read as ``checkpoint_format``, configuration class ``kind``), with
    ``settings``, the flags given, on top. A flag that contradicts the stored configuration is
    a usage error of ``parser`` naming the flag."""
    path = last_checkpoint(run)
    checkpoint = load_checkpoint(path, checkpoint_format, config=kind)
    refuse_contradicting_flags(stored_config(kind, checkpoint), settings, parser)
    changes = {**settings, "resume": str(path), "out_dir": str(path.parent)}
    return resumed_config(kind, checkpoint, changes)


def best_checkpoint(run: str | Path) -> Path:
    """A run directory's ``best.pt`` (the best validation score so far), its ``last.pt`` when
    it has none (a run stopped before its first epoch ended, a GAN), or the checkpoint file
    itself: what ``eval`` and ``sample`` read."""
    path = Path(run)
    if path.is_dir() and (path / "best.pt").exists():
        return path / "best.pt"
    return last_checkpoint(path)


def load_checkpoint(
    path: str | Path,
    expected_format: str | None = None,
    map_location="cpu",
    holds: tuple[str, ...] = (),
    config: type | None = None,
):
    """Read a checkpoint written by :func:`save_checkpoint`.

    Args:
        path: The file.
        expected_format: The ``"format"`` entry the checkpoint must have (each application has
            its own, e.g. ``"dualnet-classify-1"``); ``None`` accepts any dict.
        map_location: Where tensors are loaded.
        holds: The entries the reader needs (``"generator"``, ``"step"``, ...).
        config: The configuration class of the application: the checkpoint's ``"config"``
            must be one that it takes (:func:`config_problem`).

    Raises:
        CheckpointError: the file is missing, empty, truncated, not a PyTorch checkpoint,
            carries code (a pickle that asks to call a function), belongs to another
            application, lacks an entry of ``holds`` or holds a configuration that ``config``
            does not take. The message is one line naming the file.
    """
    path = Path(path)
    if not path.is_file():
        if path.name == "last.pt" and (path.parent / "config.json").is_file():
            raise CheckpointError(
                f"no checkpoint at {path}: the run in {path.parent} stopped before its first "
                "checkpoint, so there is nothing to continue; start it again with the same "
                "command without --resume (the folder is reused)"
            )
        raise CheckpointError(f"no checkpoint at {path}")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path} is empty, not a checkpoint")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about pickle protocols it reads
            payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception:  # torch raises many kinds of error for a damaged or foreign file
        foreign = foreign_globals(path)
        if foreign:
            raise CheckpointError(refusal(path, foreign)) from None
        raise CheckpointError(not_a_checkpoint(path)) from None
    if not isinstance(payload, dict) or "format" not in payload:
        raise CheckpointError(f"{path} is a PyTorch file but not a dualnet checkpoint")
    if expected_format is not None and payload["format"] != expected_format:
        raise CheckpointError(
            f"{path} is a {payload['format']!r} checkpoint, expected {expected_format!r} "
            "(a checkpoint of another application?)"
        )
    check_contents(payload, path, holds, config)
    return payload


def check_contents(payload: dict, path: Path, holds: tuple[str, ...], config) -> None:
    """Refuse a checkpoint that lacks an entry of ``holds`` (or its ``"config"``, when a
    ``config`` class is given), or whose configuration ``config`` does not take."""
    wanted = (*holds, "config") if config is not None else holds
    missing = [repr(key) for key in wanted if key not in payload]
    if missing:
        raise CheckpointError(
            f"{path} is a {payload['format']!r} checkpoint without {', '.join(missing)}: "
            "damaged, or not written by dualnet"
        )
    problem = None if config is None else config_problem(config, payload["config"])
    if problem:
        raise CheckpointError(f"{path} holds a configuration that cannot run: {problem}")


def config_problem(kind: type, stored) -> str | None:
    """What keeps the stored configuration ``stored`` from being a ``kind`` (a setting it
    lacks, a value out of its declared range, a model it does not know), or ``None``."""
    if not isinstance(stored, dict):
        return f"config is a {type(stored).__name__}, expected a dict of settings"
    needed = [f.name for f in fields(kind) if f.default is MISSING and f.default_factory is MISSING]
    absent = [name for name in needed if name not in stored]
    if absent:
        return f"config lacks {', '.join(absent)}"
    try:
        check_settings(stored_config(kind, {"config": stored}))
    except (ConfigError, TypeError) as error:
        return str(error)
    return None


def load_state(module: torch.nn.Module, state, source: str, what: str) -> None:
    """Load the state dict ``state`` into ``module``, or say in one line why it does not fit:
    the keys missing and unexpected, the tensors of another shape (a state dict of another
    architecture, or of another size of the same one).

    Args:
        source: The file, or the flag and the file (``--weights W.pth``), for the message.
        what: What ``module`` is (``"SqueezeNet 1.1"``, ``"the fc generator"``).

    Raises:
        CheckpointError: naming ``source`` and ``what``.
    """
    if not isinstance(state, dict):
        raise CheckpointError(f"{source} holds a {type(state).__name__}, not the weights of {what}")
    problems = state_dict_problems(module.state_dict(), state)
    if not problems:
        try:
            module.load_state_dict(state)
        except (RuntimeError, ValueError, TypeError) as error:
            problems = [str(error).strip().splitlines()[0]]
    if problems:
        raise CheckpointError(
            f"{source} does not hold the weights of {what}: {'; '.join(problems)}"
        )


def state_dict_problems(expected: dict, given: dict, shown: int = 3) -> list[str]:
    """How the state dict ``given`` differs from ``expected``: its missing keys, its
    unexpected ones and its entries of another shape, at most ``shown`` of each named."""

    def listed(names: list[str]) -> str:
        more = f", ... ({len(names)} in all)" if len(names) > shown else ""
        return ", ".join(names[:shown]) + more

    missing = [key for key in expected if key not in given]
    unexpected = [key for key in given if key not in expected]
    reshaped = [
        f"{key} {tuple(getattr(given[key], 'shape', ()))} in the file, "
        f"{tuple(value.shape)} in the network"
        for key, value in expected.items()
        if key in given and getattr(given[key], "shape", None) != value.shape
    ]
    kinds = {"keys missing": missing, "unexpected keys": unexpected,
             "tensors of another shape": reshaped}  # fmt: skip
    return [f"{len(items)} {kind} ({listed(items)})" for kind, items in kinds.items() if items]


def not_a_checkpoint(path: Path) -> str:
    kind = "an .npz archive" if path.suffix == ".npz" else "truncated, or another kind of file"
    return f"{path} is not a readable PyTorch checkpoint ({kind})"


LEGACY_PICKLES = 4
"""A ``torch.save`` file of the legacy format (not a zip archive, as ``torch.save(...,
_use_new_zipfile_serialization=False)`` writes) is pickles one after another: the magic
number, the protocol, the system's description, then the payload (raw tensor bytes follow)."""


def foreign_globals(path: Path) -> list[str]:
    """The Python objects other than PyTorch's own that the pickles in ``path`` ask to load
    (functions to call, classes to build), read from their opcodes without running any: the
    ``data.pkl`` of a zip archive, or the first :data:`LEGACY_PICKLES` pickles of any other
    file (a plain pickle, a legacy ``torch.save``)."""
    data = path.read_bytes()
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            pickles = [n for n in archive.namelist() if n.endswith("data.pkl")]
            data = archive.read(pickles[0]) if pickles else b""
    stream, names = io.BytesIO(data), []
    for _ in range(LEGACY_PICKLES):
        if stream.tell() >= len(data) or not globals_of_one_pickle(stream, names):
            break
    own = ("torch.", "collections.OrderedDict")
    return [name for name in names if not name.startswith(own)]


def globals_of_one_pickle(stream: io.BytesIO, names: list[str]) -> bool:
    """Add to ``names`` the objects that the pickle at the position of ``stream`` asks to
    load, leaving ``stream`` after its end; ``False`` if it is not a whole pickle."""
    strings = []
    try:
        for opcode, argument, _ in pickletools.genops(stream):
            if opcode.name in ("GLOBAL", "INST"):
                names.append(argument.replace(" ", "."))
            elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                names.append(f"{strings[-2]}.{strings[-1]}")
            if isinstance(argument, str):
                strings.append(argument)
    except Exception:  # not a pickle, or a damaged one: nothing more to learn from it
        return False
    return True


def refusal(path: Path, names: list[str]) -> str:
    """The one-line message for a pickle that asks to load objects a checkpoint never holds."""
    listed = ", ".join(dict.fromkeys(names))
    return (
        f"{path} asks to run code or build objects that a checkpoint never holds ({listed}); "
        "refusing to load it. Only tensors and plain values are read from a checkpoint."
    )


# --------------------------------------------------------------------------------------------
# The metrics log
# --------------------------------------------------------------------------------------------


class MetricsLog:
    """``metrics.jsonl``: one JSON object per line, appended as a run goes on."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def append(self, record: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as file:
            file.write(json.dumps(record) + "\n")

    def rewrite(self, records: list[dict]) -> None:
        """Replace the whole file with ``records`` (atomically)."""
        text = "".join(json.dumps(record) + "\n" for record in records)
        atomic_write(self.path, lambda file: file.write(text.encode()))

    def read(self) -> list[dict]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]
