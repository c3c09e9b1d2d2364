"""What every run needs besides its model and its files: the device, the processes of a
data-parallel run, and seeds. (Files are :mod:`dualnet.apps.runs`.)

* :func:`resolve_device` turns ``auto|cpu|cuda`` into a ``torch.device``.
* :func:`distributed` reads the variables ``torchrun`` sets (``RANK``, ``WORLD_SIZE``,
  ``LOCAL_RANK``), joins the process group (NCCL on GPUs, gloo on the CPU) and leaves it when
  the run ends, however it ends.
* :func:`seed_everything` and :func:`derived_seed` make runs reproducible.
* :func:`training_device`, :func:`autocast` and :func:`stop_on_interrupt`: the device a
  training loop runs on and how, and Ctrl-C turned into a request to stop between steps (the
  rest of what a loop needs is :mod:`dualnet.apps.loop`).
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass

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


@contextlib.contextmanager
def distributed(device_name: str) -> Iterator[DistributedContext]:
    """This process's :class:`DistributedContext`, inside the process group while the block
    runs when launched by ``torchrun`` with more than one process.

    A group this function joined is destroyed when the block ends, also on an error or
    Ctrl-C; a group someone else created is left alone.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        yield DistributedContext()
        return
    context = DistributedContext(
        rank=int(os.environ["RANK"]),
        world_size=world_size,
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
    )
    joined = not dist.is_initialized()
    if joined:
        use_nccl = device_name != "cpu" and torch.cuda.is_available()
        dist.init_process_group(backend="nccl" if use_nccl else "gloo")
    try:
        yield context
    finally:
        if joined and dist.is_initialized():
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


def autocast(device: torch.device):
    """bf16 autocast on CUDA; nothing on the CPU."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@dataclass
class StopRequest:
    """Set by the first Ctrl-C while :func:`stop_on_interrupt` is active."""

    requested: bool = False


@contextlib.contextmanager
def stop_on_interrupt() -> Iterator[StopRequest]:
    """Turn the first Ctrl-C (SIGINT) into a request that the loop checks between steps, so a
    run stops at a step boundary with a consistent checkpoint; a second Ctrl-C interrupts at
    once. Outside the main thread (where no handler can be installed) Ctrl-C acts as usual."""
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return

    def handler(signum, frame):
        if request.requested:
            raise KeyboardInterrupt
        request.requested = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield request
    finally:
        signal.signal(signal.SIGINT, previous)


# --------------------------------------------------------------------------------------------
# What every training loop starts and runs with
# --------------------------------------------------------------------------------------------


def training_device(name: str, context: DistributedContext) -> torch.device:
    """The device this process trains on; on the CPU, PyTorch's deterministic algorithms too,
    so that a run and a resumed run end with the same weights.

    ``set_deterministic_debug_mode("warn")`` is ``use_deterministic_algorithms(True,
    warn_only=True)`` without the latter's import of TorchInductor's configuration (about a
    second at every start; it only tunes what ``torch.compile`` benchmarks on a GPU)."""
    device = resolve_device(name, context.local_rank)
    if device.type == "cpu":
        torch.set_deterministic_debug_mode("warn")
    return device
