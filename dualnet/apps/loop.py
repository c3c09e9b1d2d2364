"""What every training loop needs, as plain helpers; each application's ``train()`` reads top
to bottom with its own step inline (classification, GANs, captioning).

* :class:`TrainResult`: what a finished, stopped or interrupted run leaves behind, the one
  result type of every ``train()`` of both backends;
* :class:`Timer`: training time, the whole run's and the interval's (an epoch, a log
  interval), earlier pieces of a resumed run included;
* :class:`NonFiniteGuard`: the first step whose loss was not finite, remembered on the device
  so that a step never waits for the GPU; checked where the loop waits anyway (the end of an
  interval, a checkpoint);
* :func:`checkpoint_of` and :func:`resume_from`: a checkpoint as a dict of state dicts (the
  networks and optimizers, by name) with the configuration and the loop state, and the
  state dicts loaded back from the checkpoint a run resumes from, once it is known to be the
  same run;
* :func:`batch_rows` and :func:`shard`: the rows of a global batch, a fresh permutation of the
  data every epoch drawn from ``(seed, epoch)``, and this process's share of it;
* :func:`check_batch_split`, :func:`last_step`, :func:`step_bar` and :func:`stop_agreed`: the
  split of a batch among processes, where a run stops, the progress bar, and an agreed Ctrl-C.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
from tqdm import tqdm

from dualnet.apps import runs
from dualnet.apps.runtime import DistributedContext, StopRequest, derived_seed
from dualnet.apps.settings import ConfigError, check_same_run, stored_config


@dataclass
class TrainResult:
    """What a finished, stopped or interrupted run leaves behind. ``summary`` is what
    ``summary.json`` holds; ``is_main`` is false on the other processes of a data-parallel
    run, which report nothing."""

    out_dir: Path
    history: list[dict]
    steps: int
    finished: bool
    seconds: float
    interrupted: bool = False
    is_main: bool = True
    summary: dict = field(default_factory=dict)

    @property
    def accuracy(self) -> float | None:
        """The test accuracy of a finished classification run, else ``None``."""
        return self.summary.get("accuracy")


@dataclass
class Timer:
    """Training time in seconds: ``total`` over the run, ``interval`` over the epoch or log
    interval in progress. :meth:`lap` adds the time since the last lap (or :meth:`start`);
    what happens between a lap and the next :meth:`start` (validation, samples, checkpoints)
    is not training time."""

    total: float = 0.0
    interval: float = 0.0
    clock: float = 0.0

    def start(self) -> None:
        self.clock = time.perf_counter()

    def lap(self) -> None:
        now = time.perf_counter()
        self.total += now - self.clock
        self.interval += now - self.clock
        self.clock = now


class NonFiniteGuard:
    """The first step whose loss was not finite, or -1, as a tensor on the device."""

    def __init__(self, device: torch.device):
        self.first = torch.full((), -1, dtype=torch.long, device=device)

    def note(self, loss: torch.Tensor, step: int) -> None:
        """Remember ``step`` if ``loss`` is not finite and no step was before it; no wait."""
        bad = (self.first < 0) & ~torch.isfinite(loss.detach())
        self.first = torch.where(bad, step, self.first)

    def bad_step(self) -> int | None:
        """The first bad step (waits for the device), or ``None``."""
        step = int(self.first)
        return None if step < 0 else step


def end_of_run(run, state, summary: dict, finished: bool, interrupted: bool) -> TrainResult:
    """What the run ``run`` at ``state`` leaves behind, once every process of a data-parallel
    run got here (rank 0 has written its files). ``run`` has ``out_dir`` and ``context``;
    ``state`` has ``history``, ``step`` and ``timer``."""
    if run.context.active:
        dist.barrier()
    return TrainResult(
        out_dir=run.out_dir,
        history=state.history,
        steps=state.step,
        finished=finished,
        seconds=state.timer.total,
        interrupted=interrupted,
        is_main=run.context.is_main,
        summary=summary,
    )


def checkpoint_of(checkpoint_format: str, config, step: int, modules: dict, **loop_state):
    """What a checkpoint holds: its ``format``, the whole ``config``, the ``step``, the state
    dict of every network and optimizer of ``modules`` under its name, and ``loop_state``
    (plain values and tensors: the history, the sums of the interval in progress, ...)."""
    states = {name: module.state_dict() for name, module in modules.items()}
    return {
        "format": checkpoint_format,
        "config": asdict(config),
        "step": step,
        **states,
        **loop_state,
    }


def resume_from(config, checkpoint_format: str, modules: dict, device: torch.device) -> dict:
    """Read the checkpoint ``config.resume``, refuse it unless it was made by the same run
    (:func:`~dualnet.apps.settings.check_same_run`), load its state dicts into ``modules``
    (by name) and return it, for the loop state it holds.

    Raises:
        CheckpointError: the checkpoint lacks a state dict of ``modules``, or one does not
            fit (:func:`~dualnet.apps.runs.load_state`).
    """
    holds = tuple(modules)
    checkpoint = runs.load_checkpoint(
        config.resume, checkpoint_format, device, holds=holds, config=type(config)
    )
    check_same_run(stored_config(type(config), checkpoint), asdict(config))
    for name, module in modules.items():
        load_module_state(module, checkpoint[name], config.resume, name)
    return checkpoint


def load_module_state(module, state, path: str, name: str) -> None:
    """Load a network's (:func:`~dualnet.apps.runs.load_state`) or an optimizer's state
    dict, refusing one that does not fit in one line naming the checkpoint and the entry."""
    if isinstance(module, torch.nn.Module):
        runs.load_state(module, state, path, f"the {name} of its configuration")
        return
    try:
        module.load_state_dict(state)
    except (KeyError, TypeError, ValueError) as error:
        problem = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        raise runs.CheckpointError(f"{path}: its {name!r} does not fit ({problem})") from None


def batch_rows(seed: int, step: int, steps_per_epoch: int, batch_size: int, n: int):
    """The rows ``(batch_size,)`` of the global batch of ``step`` (a CPU tensor): batch
    ``step % steps_per_epoch`` of a permutation of ``range(n)`` drawn from ``(seed, epoch)``,
    ``epoch = step // steps_per_epoch``."""
    epoch, index = divmod(step, steps_per_epoch)
    order = torch.Generator().manual_seed(derived_seed(seed, epoch))
    permutation = torch.randperm(n, generator=order)
    return permutation[index * batch_size : (index + 1) * batch_size]


def shard(batch, context: DistributedContext):
    """This process's share of a global batch (rows ``rank * B/W`` to ``(rank + 1) * B/W``)."""
    per_rank = len(batch) // context.world_size
    return batch[context.rank * per_rank : (context.rank + 1) * per_rank]


def check_batch_split(batch_size: int, context: DistributedContext) -> None:
    """Refuse a global batch that the processes of a data-parallel run cannot share evenly."""
    if batch_size % context.world_size:
        raise ConfigError(
            f"batch_size {batch_size} must divide evenly among {context.world_size} processes"
        )


def last_step(total: int, stop_after_steps: int | None) -> int:
    """The step a run stops at: the last one, or ``stop_after_steps`` if that comes first."""
    return total if stop_after_steps is None else min(total, stop_after_steps)


def step_bar(total: int, initial: int, description: str, show: bool):
    """A progress bar over the steps, from ``initial``; ``show`` false hides it, and off a
    terminal tqdm decides (``disable=None``)."""
    return tqdm(
        total=total,
        initial=initial,
        unit="step",
        desc=description,
        disable=None if show else True,
        leave=False,
    )


def stop_agreed(stop: StopRequest, context: DistributedContext, device: torch.device) -> bool:
    """Whether Ctrl-C was pressed, agreed among all processes of a data-parallel run (they must
    stop at the same step)."""
    if not context.active:
        return stop.requested
    flag = torch.tensor(float(stop.requested), device=device)
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return bool(flag)
