"""Training a PyTorch captioning model (``torch_impl.models.CaptioningRNN``) on the run
machinery.

:func:`train` reads as the story of a run: **set up** (data, image features, model, Adam,
run directory), **resume** if asked, **the loop** (:func:`loop`, one Adam step per batch,
written out, with :func:`end_of_epoch` at each epoch's end) and **finish**
(``summary.json``). As in the classification loop:

* an epoch is a permutation of the training captions drawn from a generator seeded by
  ``(seed, epoch)``, and the learning rate ``lr * lr_decay ** epoch`` is a pure function of the
  step, so a run resumed from ``last.pt`` computes the same steps as one that never stopped;
* Ctrl-C stops at the end of a step with a checkpoint; the first non-finite loss stops the
  run with an error naming the step;
* launched by ``torchrun``, each process takes its share of every batch and
  ``DistributedDataParallel`` averages the gradients; rank 0 writes the files.

``blind`` replaces every training image's features by another image's (a fixed random
permutation): the model can then learn only the language, the image-blind baseline.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from dualnet.apps import figures, runs, runtime
from dualnet.apps.caption import encoders
from dualnet.apps.caption.config import CHECKPOINT_FORMAT, CaptionConfig, defaults
from dualnet.apps.caption.data import CaptionData, load_data
from dualnet.apps.loop import (
    NonFiniteGuard,
    Timer,
    TrainResult,
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
from torch_impl.models.captioning import CaptioningRNN
from torch_impl.validation import NonFiniteError

TORCH_DTYPES = {"float32": torch.float32, "float64": torch.float64}
DEFAULT_LR = defaults()["lr"]
VAL_CAPTIONS = 2500
"""Validation captions whose loss is measured after every epoch."""


@dataclass
class Prepared:
    """A dataset with the decoder's input for every split (see
    :func:`~dualnet.apps.caption.encoders.model_inputs`)."""

    data: CaptionData
    inputs: dict[str, np.ndarray]

    @property
    def input_dim(self) -> int:
        return int(self.inputs["train"].shape[1])


def prepare(config: CaptionConfig, data: CaptionData | None = None) -> Prepared:
    """Load ``config.data`` (unless given) and the features ``config.cell`` reads."""
    if data is None:
        data = load_data(config.data, config.data_path, config.data_root)
    encoder = None
    if data.has_images:
        encoder = encoders.load_encoder(config.encoder, config.weights, config.data_root)
    inputs = encoders.model_inputs(data, config.cell, encoder, config.data_root, config.progress)
    return Prepared(data, inputs)


def training_rows(config: CaptionConfig, prepared: Prepared) -> tuple[np.ndarray, np.ndarray]:
    """The training captions and the image of each (shuffled images when ``blind``)."""
    split = prepared.data.splits["train"]
    captions, idxs = split.captions, split.image_idxs
    if config.train_subset is not None:
        keep = idxs < config.train_subset
        captions, idxs = captions[keep], idxs[keep]
    if config.blind:
        shuffle = np.random.default_rng(runtime.derived_seed(config.seed, 7)).permutation(
            len(prepared.inputs["train"])
        )
        idxs = shuffle[idxs]
    return captions, idxs


def batch_inputs(inputs: np.ndarray, idxs: np.ndarray, device, dtype) -> torch.Tensor:
    """The features of images ``idxs`` as a tensor of ``dtype`` on ``device``."""
    return torch.from_numpy(np.ascontiguousarray(inputs[idxs])).to(device=device, dtype=dtype)


def build_model(config: CaptionConfig, word_to_idx: dict, input_dim: int) -> CaptioningRNN:
    """The torch model of ``config``, its initial weights drawn from ``config.seed`` exactly as
    the NumPy model draws them."""
    return CaptioningRNN(
        word_to_idx,
        input_dim=input_dim,
        wordvec_dim=config.wordvec_dim,
        hidden_dim=config.hidden_dim,
        cell_type=config.cell,
        dtype=TORCH_DTYPES[config.dtype],
        seed=config.seed,
    )


@dataclass
class Run:
    config: CaptionConfig
    context: runtime.DistributedContext
    device: torch.device
    prepared: Prepared
    captions: np.ndarray
    idxs: np.ndarray
    steps_per_epoch: int
    raw_model: CaptioningRNN
    model: object
    optimizer: torch.optim.Optimizer
    out_dir: Path
    log: runs.MetricsLog

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.config.epochs


@dataclass
class State:
    """Where a run is besides the weights: ``epoch_loss`` sums the epoch's losses on the
    device (float64, without waiting for a GPU); ``timer`` counts training time."""

    step: int = 0
    history: list[dict] = field(default_factory=list)
    best_val_loss: float = float("inf")
    epoch_loss: torch.Tensor | float = 0.0
    epoch_steps: int = 0
    timer: Timer = field(default_factory=Timer)
    saved_step: int = -1
    guard: NonFiniteGuard | None = None


def train(config: CaptionConfig, prepared: Prepared | None = None) -> TrainResult:
    """Train ``config.cell`` with the torch backend; see the module docstring."""
    config.check()
    if config.backend != "torch":
        raise ConfigError("train() runs the torch backend; use train_numpy() for --backend numpy")
    with runtime.distributed(config.device) as context, runs.writing(config.out_dir):
        run = setup(config, prepared, context)
        state = restore(run) if config.resume else start(run)
        with runtime.stop_on_interrupt() as stop:
            interrupted = loop(run, state, stop)
        return finish(run, state, interrupted)


# --------------------------------------------------------------------------------------------
# Set up, checkpoints, resume
# --------------------------------------------------------------------------------------------


def setup(config: CaptionConfig, prepared, context: runtime.DistributedContext) -> Run:
    device = runtime.training_device(config.device, context)
    check_batch_split(config.batch_size, context)
    prepared = prepare(config) if prepared is None else prepared
    captions, idxs = training_rows(config, prepared)
    steps_per_epoch = len(captions) // config.batch_size
    if steps_per_epoch == 0:
        raise ConfigError(
            f"batch_size {config.batch_size} is larger than the {len(captions)} training captions"
        )
    raw_model = build_model(config, prepared.data.word_to_idx, prepared.input_dim).to(device)
    model = raw_model
    if context.active:
        device_ids = [device.index] if device.type == "cuda" else None
        model = DistributedDataParallel(raw_model, device_ids=device_ids)
    out_dir = Path(config.out_dir)
    if context.is_main:
        runs.open_training_dir(out_dir, resuming=bool(config.resume))
    return Run(
        config=config,
        context=context,
        device=device,
        prepared=prepared,
        captions=captions,
        idxs=idxs,
        steps_per_epoch=steps_per_epoch,
        raw_model=raw_model,
        model=model,
        optimizer=torch.optim.Adam(raw_model.parameters(), lr=config.lr),
        out_dir=out_dir,
        log=runs.MetricsLog(out_dir / "metrics.jsonl"),
    )


def start(run: Run) -> State:
    """The state of a new run; its configuration is stored beside it as ``config.json``."""
    if run.context.is_main:
        runs.write_json(run.out_dir / "config.json", asdict(run.config))
    return State(epoch_loss=epoch_sum(0.0, run.device))


def epoch_sum(value: float, device: torch.device) -> torch.Tensor:
    """A float64 sum of losses on the device (adding float32 losses to it in float64 gives
    what adding them as Python numbers gives)."""
    return torch.tensor(value, dtype=torch.float64, device=device)


def checkpoint_payload(run: Run, state: State) -> dict:
    return checkpoint_of(
        CHECKPOINT_FORMAT,
        run.config,
        state.step,
        {"model": run.raw_model, "optimizer": run.optimizer},
        history=state.history,
        best_val_loss=state.best_val_loss,
        seconds=state.timer.total,
        epoch={"loss": float(state.epoch_loss), "steps": state.epoch_steps},
        idx_to_word=list(run.prepared.data.idx_to_word),
        input_dim=run.prepared.input_dim,
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
    """The state of the checkpoint ``run.config.resume``, loaded into the run."""
    trained = {"model": run.raw_model, "optimizer": run.optimizer}
    checkpoint = resume_from(run.config, CHECKPOINT_FORMAT, trained, run.device)
    state = State(
        step=checkpoint["step"],
        history=checkpoint["history"],
        best_val_loss=checkpoint["best_val_loss"],
        epoch_loss=epoch_sum(checkpoint["epoch"]["loss"], run.device),
        epoch_steps=checkpoint["epoch"]["steps"],
        timer=Timer(total=checkpoint["seconds"]),
        saved_step=checkpoint["step"],
    )
    if run.context.is_main:
        run.log.rewrite(state.history)
    return state


# --------------------------------------------------------------------------------------------
# The loop
# --------------------------------------------------------------------------------------------


def learning_rate(config: CaptionConfig, step: int, steps_per_epoch: int) -> float:
    """``lr * lr_decay ** epoch``, the course's per-epoch decay, as a function of the step."""
    return config.lr * config.lr_decay ** (step // steps_per_epoch)


def batch_for_step(run: Run, step: int) -> tuple[torch.Tensor, torch.Tensor]:
    """This process's share of the batch of ``step``: features and captions."""
    config, context = run.config, run.context
    epoch, index = divmod(step, run.steps_per_epoch)
    order = np.random.default_rng(runtime.derived_seed(config.seed, epoch))
    rows = order.permutation(len(run.captions))[
        index * config.batch_size : (index + 1) * config.batch_size
    ]
    rows = shard(rows, context)
    dtype = TORCH_DTYPES[config.dtype]
    features = batch_inputs(run.prepared.inputs["train"], run.idxs[rows], run.device, dtype)
    return features, torch.from_numpy(run.captions[rows]).to(run.device)


def loop(run: Run, state: State, stop: runtime.StopRequest) -> bool:
    """Train until the last step, ``stop_after_steps`` or Ctrl-C; return whether Ctrl-C
    stopped it. Each step is one Adam step on the batch of the step."""
    config = run.config
    stop_at = last_step(run.total_steps, config.stop_after_steps)
    show = config.progress and run.context.is_main
    bar = step_bar(run.total_steps, state.step, f"caption {config.cell}", show)
    state.guard = NonFiniteGuard(run.device)
    state.timer.start()
    while state.step < stop_at and not stop_agreed(stop, run.context, run.device):
        for group in run.optimizer.param_groups:
            group["lr"] = learning_rate(config, state.step, run.steps_per_epoch)
        features, captions = batch_for_step(run, state.step)  # (B/W, D[, 4, 4]), (B/W, T)
        loss = batch_loss(run, state, features, captions)
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()  # with DDP, the gradients are averaged over the processes here
        run.optimizer.step()
        add_to_epoch(state, loss.detach())
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


def add_to_epoch(state: State, loss: torch.Tensor) -> None:
    """Add a step's loss to the epoch's sum (on the device), note a non-finite one, and
    count the step."""
    state.guard.note(loss, state.step)
    state.step += 1
    state.epoch_loss += loss.double()
    state.epoch_steps += 1


def batch_loss(run: Run, state: State, features, captions) -> torch.Tensor:
    """The model's loss on a batch, summed over time and averaged over the batch. Scores
    that overflowed stop the run as a non-finite loss does (the loss refuses them)."""
    try:
        return run.model(features, captions)
    except NonFiniteError as error:
        raise FloatingPointError(non_finite(state.step, run.config, str(error))) from None


def raise_if_non_finite(run: Run, state: State) -> None:
    """Stop the run if a loss so far was not finite, naming the first such step."""
    step = None if state.guard is None else state.guard.bad_step()
    if step is None:
        return
    raise FloatingPointError(non_finite(step, run.config))


def non_finite(step: int, config: CaptionConfig, detail: str = "") -> str:
    """What stops a run whose loss was not finite at ``step`` (0-based), in one line."""
    detail = f" ({detail})" if detail else ""
    return (
        f"the training loss became non-finite at step {step + 1}{detail}; nothing was saved "
        f"after it. Try a smaller --lr (now {config.lr:g}, default {DEFAULT_LR:g})."
    )


@torch.no_grad()
def split_loss(model: CaptioningRNN, prepared: Prepared, split: str, device, limit: int) -> float:
    """The mean loss over (up to ``limit`` of) the captions of ``split``."""
    part = prepared.data.splits[split]
    losses, count = [], 0
    dtype = model.W_embed.dtype
    for start in range(0, min(limit, len(part.captions)), 500):
        rows = slice(start, min(start + 500, limit))
        features = batch_inputs(prepared.inputs[split], part.image_idxs[rows], device, dtype)
        captions = torch.from_numpy(part.captions[rows]).to(device)
        losses.append(float(model.loss(features, captions)) * len(captions))
        count += len(captions)
    return sum(losses) / max(count, 1)


def end_of_epoch(run: Run, state: State, bar) -> None:
    """Record the epoch with the validation loss, checkpoint, report."""
    state.timer.lap()
    raise_if_non_finite(run, state)
    record = {
        "epoch": state.step // run.steps_per_epoch,
        "step": state.step,
        "lr": run.optimizer.param_groups[0]["lr"],
        "train_loss": float(state.epoch_loss) / max(state.epoch_steps, 1),
        "seconds": state.timer.total,
    }
    state.epoch_loss, state.epoch_steps = epoch_sum(0.0, run.device), 0
    if run.context.is_main:
        record["val_loss"] = split_loss(
            run.raw_model, run.prepared, "val", run.device, VAL_CAPTIONS
        )
        state.history.append(record)
        run.log.append(record)
        if run.config.progress:
            print(
                f"epoch {record['epoch']}/{run.config.epochs}: train loss "
                f"{record['train_loss']:.4f}, val loss {record['val_loss']:.4f}",
                file=sys.stdout if bar.disable else sys.stderr,
                flush=True,
            )
        if run.config.figures:
            curves = figures.learning_curves(state.history, title=f"caption {run.config.cell}")
            figures.save(curves, run.out_dir / "curves.png")
        if record["val_loss"] < state.best_val_loss:
            state.best_val_loss = record["val_loss"]
            save(run, state, "best.pt")
    save(run, state, "last.pt")
    state.timer.start()


def finish(run: Run, state: State, interrupted: bool) -> TrainResult:
    finished = state.step == run.total_steps
    last = state.history[-1] if state.history else {}
    summary = {
        "finished": finished,
        "steps": state.step,
        "cell": run.config.cell,
        "backend": "torch",
        **{key: last[key] for key in ("train_loss", "val_loss") if key in last},
        "seconds": state.timer.total,
        "steps_per_second": state.step / max(state.timer.total, 1e-9),
    }
    if run.context.is_main:
        runs.write_json(run.out_dir / "summary.json", summary)
    return end_of_run(run, state, summary, finished, interrupted)
