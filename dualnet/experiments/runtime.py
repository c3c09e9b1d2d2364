"""What every training run needs besides its model: the device, the processes of a
data-parallel run, seeds, checkpoints on disk and a metrics log.

* :func:`resolve_device` turns ``auto|cpu|cuda`` into a ``torch.device``.
* :func:`distributed_context` reads the variables ``torchrun`` sets (``RANK``, ``WORLD_SIZE``,
  ``LOCAL_RANK``) and joins the process group: NCCL on GPUs, gloo on the CPU.
* :func:`save_checkpoint` writes atomically (a temporary file, then a rename), so a run killed
  while saving never leaves a half-written checkpoint; :func:`load_checkpoint` reads with
  ``weights_only=True``, which refuses to run code hidden in a file.
* :class:`MetricsLog` appends one JSON object per line.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto`` is CUDA when available, else the CPU. ``cuda`` without a GPU is an error."""
    if name not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, got {name!r}")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("device 'cuda' was requested but torch.cuda.is_available() is False")
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


@dataclass(frozen=True)
class DistributedContext:
    """This process's place in a data-parallel run; a single process has rank 0 of 1."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1


def distributed_context(device_name: str) -> DistributedContext:
    """Join the process group when launched by ``torchrun`` with more than one process."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return DistributedContext()
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        use_nccl = device_name != "cpu" and torch.cuda.is_available()
        dist.init_process_group(backend="nccl" if use_nccl else "gloo")
    return DistributedContext(rank=rank, world_size=world_size, local_rank=local_rank)


def leave_distributed() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's global generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - code that still uses the global generator
    torch.manual_seed(seed)


def derived_seed(*parts: int) -> int:
    """A 63-bit seed that depends on every part, e.g. ``(run seed, epoch)`` or ``(seed, step)``:
    each epoch and step gets its own reproducible random stream."""
    sequence = np.random.SeedSequence([int(p) for p in parts])
    return int(sequence.generate_state(1, dtype=np.uint64)[0] >> 1)


def save_checkpoint(payload: dict, path: str | Path) -> Path:
    """``torch.save`` to a temporary file in the same folder, then rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            torch.save(payload, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | Path, map_location="cpu") -> dict:
    """Load a checkpoint with ``weights_only=True``: tensors and plain Python values only."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    return torch.load(path, map_location=map_location, weights_only=True)


class MetricsLog:
    """Appends metric records to a JSON-lines file (one JSON object per line)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def append(self, record: dict) -> None:
        with self.path.open("a") as file:
            file.write(json.dumps(record) + "\n")

    def rewrite(self, records: list[dict]) -> None:
        """Replace the file's contents with ``records``, atomically."""
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        with os.fdopen(handle, "w") as file:
            file.writelines(json.dumps(record) + "\n" for record in records)
        os.replace(temporary, self.path)

    def read(self) -> list[dict]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]
