"""Training a PyTorch classifier: one loop for every model, from the barebones two-layer net to
the ResNets.

:func:`train` reads as the story of a run: **set up** (device, data, model, optimizer, run
directory), **resume** from a checkpoint if asked, **the loop** (one :func:`train_step` after
another, with :func:`end_of_epoch` at each epoch's end), and **finish** (test accuracy,
``summary.json``, figures). What it guarantees:

* data stays in memory as uint8 tensors (on the GPU when there is one); every epoch draws a
  permutation and every step its augmentation from generators seeded by ``(seed, epoch)`` and
  ``(seed, epoch, step)``, and the learning rate is a pure function of the step, so any step
  can be recomputed: that is what makes **exact resume** possible. The checkpoint also holds
  the running sums of the epoch in progress and the training time so far, so a run stopped in
  the middle of an epoch and resumed writes the same ``metrics.jsonl`` as one that never
  stopped (apart from the timings), and its time adds up across the pieces;
* Ctrl-C stops the run at the end of the current step, writes ``last.pt`` and returns with
  ``interrupted`` set (a second Ctrl-C interrupts at once);
* the first non-finite loss stops the run with an error naming the step;
* on CUDA the forward pass runs under bf16 autocast with channels-last tensors; ``compile``
  wraps the model in ``torch.compile``;
* launched by ``torchrun`` with several processes, each process takes its share of every
  global batch and ``DistributedDataParallel`` averages the gradients, so the run computes
  the same updates as one process with the whole batch (tested with two gloo processes);
  rank 0 alone writes files and reports.
"""

from __future__ import annotations

import math
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from dualnet import metrics
from dualnet.apps import figures, runs, runtime
from dualnet.apps.classify.config import (
    CHECKPOINT_FORMAT,
    ClassifyConfig,
)
from dualnet.apps.classify.evaluate import evaluate, prepare
from dualnet.apps.classify.models import build_model
from dualnet.apps.loop import (
    NonFiniteGuard,
    Timer,
    TrainResult,
    batch_rows,
    check_batch_split,
    checkpoint_of,
    end_of_run,
    last_step,
    resume_from,
    shard,
    step_bar,
    stop_agreed,
)
from dualnet.apps.settings import ConfigError
from torch_impl.levels import barebones

if TYPE_CHECKING:
    from dualnet.data import ImageSplits

TIMINGS = ("seconds", "images_per_second")
"""Record fields that measure time: the only ones that differ between two runs of a config."""


@dataclass
class Run:
    """What the loop works with, built once by :func:`setup`."""

    config: ClassifyConfig
    context: runtime.DistributedContext
    device: torch.device
    splits: ImageSplits
    images: torch.Tensor
    labels: torch.Tensor
    steps_per_epoch: int
    raw_model: object
    model: object
    optimizer: object
    out_dir: Path
    log: runs.MetricsLog

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.config.epochs


@dataclass
class State:
    """Where a run is: everything besides the weights that a checkpoint must hold to go on
    exactly. ``epoch_loss`` and ``epoch_correct`` are device tensors (summed without waiting
    for the GPU); ``timer`` counts training time, the run's and the epoch's, earlier pieces
    included."""

    step: int = 0
    history: list[dict] = field(default_factory=list)
    best_val_acc: float = -1.0
    epoch_loss: torch.Tensor | float = 0.0
    epoch_correct: torch.Tensor | int = 0
    epoch_seen: int = 0
    timer: Timer = field(default_factory=Timer)
    saved_step: int = -1
    guard: NonFiniteGuard | None = None


def train(config: ClassifyConfig, splits: ImageSplits | None = None) -> TrainResult:
    """Train ``config.model`` on ``config.data`` (or on ``splits`` when given); see the module
    docstring for what the loop guarantees."""
    config.check()
    if config.backend != "torch":
        raise ConfigError("train() runs the torch backend; use train_numpy() for --backend numpy")
    with runtime.distributed(config.device) as context, runs.writing(config.out_dir):
        run = setup(config, splits, context)
        state = restore(run) if config.resume else start(run)
        with runtime.stop_on_interrupt() as stop:
            interrupted = loop(run, state, stop)
        return finish(run, state, interrupted)


# --------------------------------------------------------------------------------------------
# Set up
# --------------------------------------------------------------------------------------------


def setup(config: ClassifyConfig, splits, context: runtime.DistributedContext) -> Run:
    """Device, data, model, optimizer and run directory."""
    from dualnet.data import load_images

    device = runtime.training_device(config.device, context)
    check_batch_split(config.batch_size, context)
    if splits is None:
        splits = load_images(config.data, config.data_root, image_size=config.image_size)
    images, labels = splits.train
    if config.train_subset is not None:
        images, labels = images[: config.train_subset], labels[: config.train_subset]
    steps_per_epoch = len(labels) // config.batch_size
    if steps_per_epoch == 0:
        raise ConfigError(
            f"batch_size {config.batch_size} is larger than the {len(labels)} training images"
        )
    raw_model = build_model(config, len(splits.classes), tuple(images.shape[1:]))
    raw_model.to(device)
    if device.type == "cuda" and isinstance(raw_model, torch.nn.Module):
        raw_model.to(memory_format=torch.channels_last)
    out_dir = Path(config.out_dir)
    if context.is_main:
        runs.open_training_dir(out_dir, resuming=bool(config.resume))
    return Run(
        config=config,
        context=context,
        device=device,
        splits=splits,
        images=images.to(device),
        labels=labels.to(device),
        steps_per_epoch=steps_per_epoch,
        raw_model=raw_model,
        model=wrap_model(config, raw_model, context, device),
        optimizer=build_optimizer(config, raw_model),
        out_dir=out_dir,
        log=runs.MetricsLog(out_dir / "metrics.jsonl"),
    )


def wrap_model(config: ClassifyConfig, raw_model, context, device: torch.device):
    """``raw_model`` compiled and/or wrapped for data-parallel training, as configured."""
    model = raw_model
    if config.compile and isinstance(raw_model, torch.nn.Module):
        model = torch.compile(raw_model)
    if context.active:
        if not isinstance(raw_model, torch.nn.Module):
            raise ConfigError(
                "data-parallel training needs an nn.Module: use level module or sequential"
            )
        device_ids = [device.index] if device.type == "cuda" else None
        model = DistributedDataParallel(model, device_ids=device_ids)
    return model


def build_optimizer(config: ClassifyConfig, model):
    if config.level == "barebones":
        return barebones.HandWrittenSGD(model.parameters(), lr=config.lr)
    params = list(model.parameters())
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            params,
            lr=config.lr,
            momentum=config.momentum,
            weight_decay=config.weight_decay,
            nesterov=config.momentum > 0,
        )
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)


def start(run: Run) -> State:
    """The state of a new run; its configuration is stored beside it as ``config.json``."""
    if run.context.is_main:
        runs.write_json(run.out_dir / "config.json", asdict(run.config))
    return new_epoch(State(), run)


def new_epoch(state: State, run: Run) -> State:
    state.epoch_loss = torch.zeros((), device=run.device)
    state.epoch_correct = torch.zeros((), dtype=torch.long, device=run.device)
    state.epoch_seen, state.timer.interval = 0, 0.0
    return state


# --------------------------------------------------------------------------------------------
# Checkpoints and resume
# --------------------------------------------------------------------------------------------


def checkpoint_payload(run: Run, state: State) -> dict:
    return checkpoint_of(
        CHECKPOINT_FORMAT,
        run.config,
        state.step,
        {"model": run.raw_model, "optimizer": run.optimizer},
        history=state.history,
        best_val_acc=state.best_val_acc,
        seconds=state.timer.total,
        epoch={
            "loss": state.epoch_loss.cpu(),
            "correct": state.epoch_correct.cpu(),
            "seen": state.epoch_seen,
            "seconds": state.timer.interval,
        },
        classes=list(run.splits.classes),
        mean=list(run.splits.mean),
        std=list(run.splits.std),
    )


def save(run: Run, state: State, name: str) -> None:
    """Write checkpoint ``name`` for the current step (rank 0 writes; a run whose loss went
    non-finite writes nothing)."""
    raise_if_non_finite(run, state)
    if name == "last.pt":
        state.saved_step = state.step
    if run.context.is_main:
        runs.save_checkpoint(checkpoint_payload(run, state), run.out_dir / name)


def restore(run: Run) -> State:
    """The state stored in the checkpoint ``run.config.resume``; weights and optimizer state
    are loaded into the run, and ``metrics.jsonl`` is cut back to the checkpoint's history."""
    trained = {"model": run.raw_model, "optimizer": run.optimizer}
    checkpoint = resume_from(run.config, CHECKPOINT_FORMAT, trained, run.device)
    epoch = checkpoint["epoch"]
    state = State(
        step=checkpoint["step"],
        history=checkpoint["history"],
        best_val_acc=checkpoint["best_val_acc"],
        epoch_loss=epoch["loss"].to(run.device),
        epoch_correct=epoch["correct"].to(run.device),
        epoch_seen=epoch["seen"],
        timer=Timer(total=checkpoint["seconds"], interval=epoch["seconds"]),
        saved_step=checkpoint["step"],
    )
    if run.context.is_main:
        run.log.rewrite(state.history)
    return state


# --------------------------------------------------------------------------------------------
# The loop
# --------------------------------------------------------------------------------------------


def loop(run: Run, state: State, stop: runtime.StopRequest) -> bool:
    """Train until the last step, ``stop_after_steps``, or Ctrl-C; return whether Ctrl-C
    stopped it. Each step is one optimizer step on the batch of the step."""
    config, mean, std = run.config, run.splits.mean, run.splits.std
    stop_at = last_step(run.total_steps, config.stop_after_steps)
    show = config.progress and run.context.is_main
    bar = step_bar(run.total_steps, state.step, config.model, show)
    state.guard = NonFiniteGuard(run.device)
    state.timer.start()
    while state.step < stop_at and not stop_agreed(stop, run.context, run.device):
        images, labels = batch_for_step(run, state.step)  # (B/W, C, H, W) uint8, (B/W,)
        torch.manual_seed(runtime.derived_seed(config.seed, state.step, run.context.rank))
        for group in run.optimizer.param_groups:
            group["lr"] = learning_rate(config, state.step, run.total_steps, run.steps_per_epoch)
        with runtime.autocast(run.device):
            scores = run.model(prepare(images, mean, std, run.device))  # (B/W, classes)
        loss = F.cross_entropy(scores.float(), labels, label_smoothing=config.label_smoothing)
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()  # with DDP, the gradients are averaged over the processes here
        run.optimizer.step()
        add_to_epoch(state, loss.detach(), scores.detach(), labels)
        bar.update(1)
        if run.device.type == "cpu":  # free on the CPU; on a GPU it would wait for the step
            raise_if_non_finite(run, state)
        if config.checkpoint_every and state.step % config.checkpoint_every == 0:
            state.timer.lap()
            save(run, state, "last.pt")
        if state.step % run.steps_per_epoch == 0:
            end_of_epoch(run, state, bar)
    bar.close()
    if state.saved_step != state.step:
        state.timer.lap()
        save(run, state, "last.pt")
    return stop.requested


def batch_for_step(run: Run, step: int) -> tuple[torch.Tensor, torch.Tensor]:
    """This process's share of the global batch of ``step``: images (augmented) and labels."""
    from dualnet.data import augment

    config = run.config
    rows = batch_rows(config.seed, step, run.steps_per_epoch, config.batch_size, len(run.labels))
    rows = rows.to(run.device)
    images, labels = run.images[rows], run.labels[rows]
    if config.augment:
        epoch, index = divmod(step, run.steps_per_epoch)
        seed = runtime.derived_seed(config.seed, epoch, index)
        images = augment(images, torch.Generator(device=run.device).manual_seed(seed))
    return shard(images, run.context), shard(labels, run.context)


def learning_rate(
    config: ClassifyConfig, step: int, total_steps: int, steps_per_epoch: int
) -> float:
    """The learning rate at ``step``: linear warm-up, then cosine decay to 0, steps of 0.1 at
    50 % and 75 % of training, or constant."""
    warmup = int(config.warmup_epochs * steps_per_epoch)
    if step < warmup:
        return config.lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, total_steps - warmup)
    if config.schedule == "cosine":
        return config.lr * 0.5 * (1 + math.cos(math.pi * progress))
    if config.schedule == "step":
        return config.lr * (0.1 ** ((progress >= 0.5) + (progress >= 0.75)))
    return config.lr


def add_to_epoch(state: State, loss: torch.Tensor, scores: torch.Tensor, labels) -> None:
    """Add a step's loss and correct answers to the epoch's sums (on the device), note a
    non-finite loss, and count the step."""
    state.guard.note(loss, state.step)
    state.step += 1
    state.epoch_loss += loss * len(labels)
    state.epoch_correct += (scores.argmax(dim=1) == labels).sum()
    state.epoch_seen += len(labels)


def raise_if_non_finite(run: Run, state: State) -> None:
    """Stop the run if a loss so far was not finite, naming the first such step."""
    step = None if state.guard is None else state.guard.bad_step()
    if step is None:
        return
    raise FloatingPointError(
        f"the training loss became non-finite at step {step + 1} (epoch "
        f"{step // run.steps_per_epoch + 1}); nothing was saved after it. Try a smaller --lr "
        f"(now {run.config.lr:g})."
    )


# --------------------------------------------------------------------------------------------
# End of an epoch, end of the run
# --------------------------------------------------------------------------------------------


def end_of_epoch(run: Run, state: State, bar) -> None:
    """Record the epoch, evaluate on the validation split, checkpoint, report."""
    state.timer.lap()
    raise_if_non_finite(run, state)
    world = run.context.world_size
    record = {
        "epoch": state.step // run.steps_per_epoch,
        "step": state.step,
        "lr": run.optimizer.param_groups[0]["lr"],
        "train_loss": float(state.epoch_loss) / state.epoch_seen,
        "train_acc": float(state.epoch_correct) / state.epoch_seen,
        "images_per_second": state.epoch_seen * world / state.timer.interval,
        "seconds": state.timer.interval,
    }
    new_epoch(state, run)
    if run.context.is_main:
        val = evaluate(run.raw_model, run.splits.val, run.splits.mean, run.splits.std, run.device)
        record.update(val_loss=val["loss"], val_acc=val["acc"])
        state.history.append(record)
        run.log.append(record)
        report_epoch(run, record, bar)
        if run.config.figures:
            curves = figures.learning_curves(state.history, title=run.config.model)
            figures.save(curves, run.out_dir / "curves.png")
        if val["acc"] > state.best_val_acc:
            state.best_val_acc = val["acc"]
            save(run, state, "best.pt")
    save(run, state, "last.pt")
    state.timer.start()  # validation and checkpoints are not training time


def report_epoch(run: Run, record: dict, bar) -> None:
    """The progress bar's numbers on a terminal; one printed line per epoch elsewhere."""
    if not run.config.progress:
        return
    if not bar.disable:
        bar.set_postfix(loss=f"{record['train_loss']:.3f}", val=f"{record['val_acc']:.3f}")
        return
    print(
        f"epoch {record['epoch']}/{run.config.epochs}: train loss {record['train_loss']:.4f}, "
        f"train acc {record['train_acc']:.4f}, val acc {record['val_acc']:.4f}, "
        f"{record['images_per_second']:.0f} images/s",
        flush=True,
        file=sys.stdout,
    )


def finish(run: Run, state: State, interrupted: bool) -> TrainResult:
    """Test accuracy, the ``finished`` record, ``summary.json`` and the confusion matrix (a
    run that has not finished has no test scores, ``accuracy`` and ``loss``)."""
    finished = state.step == run.total_steps
    summary = {
        "finished": finished,
        "steps": state.step,
        "best_val_accuracy": state.best_val_acc,
        "seconds": state.timer.total,
        "images_per_second": state.step * run.config.batch_size / max(state.timer.total, 1e-9),
    }
    if run.context.is_main:
        if finished:
            summary.update(test_results(run, state))
        runs.write_json(run.out_dir / "summary.json", summary)
    return end_of_run(run, state, summary, finished, interrupted)


def test_results(run: Run, state: State) -> dict:
    """Evaluate the final model on the test split; log it and draw the confusion matrix."""
    test = evaluate(run.raw_model, run.splits.test, run.splits.mean, run.splits.std, run.device)
    record = {
        "event": "finished",
        "step": state.step,
        "test_loss": test["loss"],
        "test_acc": test["acc"],
        "best_val_acc": state.best_val_acc,
        "seconds": state.timer.total,
    }
    run.log.append(record)
    if run.config.figures:
        classes = run.splits.classes
        labels = run.splits.test[1].numpy()
        counts = metrics.confusion_matrix(test["predictions"].numpy(), labels, len(classes))
        figure = figures.confusion(counts, classes, title=f"{run.config.model}: test")
        figures.save(figure, run.out_dir / "confusion.png")
    return {"accuracy": test["acc"], "loss": test["loss"]}
