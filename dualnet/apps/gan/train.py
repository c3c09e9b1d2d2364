"""Training a GAN: one loop for both architectures and all three losses.

:func:`train` reads as the story of a run: **set up** (device, digits, generator and critic,
two Adam optimizers, the fixed noise, the run directory), **resume** from a checkpoint if
asked, **the loop** (one :func:`train_step` after another: ``critic_steps`` steps of the
discriminator, then one of the generator), and **finish** (the last sample grid, the figures,
``summary.json``). What it guarantees:

* every random draw is a pure function of the step: the order of the real digits comes from a
  generator seeded by ``(seed, epoch)``, the noise of each step and the interpolation weights
  of the gradient penalty from generators seeded by ``(seed, step, ...)``. On the CPU a run is
  therefore a pure function of its configuration, and a run stopped and resumed ends with
  the same weights, bit for bit, and the same ``metrics.jsonl`` (apart from timings) as one
  that never stopped: the checkpoint also holds the running sums of the log interval in
  progress;
* every ``sample_every`` steps the generator draws the run's **fixed noise** (the same 64
  vectors for the whole run, so the grids can be compared) into ``samples/step-NNNNNN.npz``
  (the digits) and ``samples/step-NNNNNN.png`` (the figure); the grids are figures, so they
  stay out of ``last.pt``, whose size does not grow with the run; ``progress.png`` lines the
  grids up over training and ``losses.png`` draws the losses
  (and, for WGAN-GP, the Wasserstein estimate, the penalty and the critic's gradient norm);
* Ctrl-C stops the run at the end of the current step and writes ``last.pt``; the first
  non-finite loss stops it with an error naming the step;
* launched by ``torchrun`` with several processes, each takes its share of every global batch
  (real digits, noise and interpolation weights are drawn for the whole batch, then split)
  and the gradients are averaged with ``all_reduce`` after every backward pass. That is what
  ``DistributedDataParallel`` does, written out, because DDP allows one forward pass per
  backward pass and a WGAN-GP critic step needs three (real, fake, interpolates) plus a
  double backward. Rank 0 alone writes files.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from dualnet.apps import runs, runtime
from dualnet.apps.gan import plots
from dualnet.apps.gan.config import CHECKPOINT_FORMAT, GanConfig, defaults
from dualnet.apps.gan.data import Digits, load_digits, to_uint8, to_unit_range
from dualnet.apps.gan.models import (
    build_pair,
    check_image_shape,
    critic_loss,
    generator_loss,
    penalty_and_norm,
)
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
from dualnet.apps.settings import ConfigError, flags
from torch_impl.gan import sample_noise

FIXED_NOISE = 64
"""How many fixed noise vectors the sample grids show."""
FIXED_NOISE_STREAM = 1
"""Second part of the seed of the fixed noise, ``(seed, 1)``: apart from every step's noise."""
TIMINGS = ("seconds", "steps_per_second")
"""Record fields that measure time: the only ones that differ between two runs of a config."""


@dataclass
class Run:
    """What the loop works with, built once by :func:`setup`. ``images`` are the training
    digits, ``uint8`` ``(N, 28, 28)`` on the device; ``fixed_noise`` is ``(64, noise_dim)``."""

    config: GanConfig
    context: runtime.DistributedContext
    device: torch.device
    images: torch.Tensor
    batches_per_epoch: int
    generator: torch.nn.Module
    critic: torch.nn.Module
    g_optimizer: torch.optim.Optimizer
    d_optimizer: torch.optim.Optimizer
    fixed_noise: torch.Tensor
    out_dir: Path
    log: runs.MetricsLog


@dataclass
class State:
    """Where a run is, besides the weights. ``sums`` adds up each logged quantity over the
    log interval in progress (device tensors, summed without waiting for a GPU);
    ``snapshots`` are ``(step, uint8 images (64, 28, 28))`` of the fixed noise; ``timer``
    counts training time, the run's and the log interval's."""

    step: int = 0
    history: list[dict] = field(default_factory=list)
    sums: dict[str, torch.Tensor] = field(default_factory=dict)
    interval_steps: int = 0
    timer: Timer = field(default_factory=Timer)
    snapshots: list[tuple[int, torch.Tensor]] = field(default_factory=list)
    saved_step: int = -1
    guard: NonFiniteGuard | None = None


def train(config: GanConfig, digits: Digits | None = None) -> TrainResult:
    """Train the GAN ``config`` describes on ``config.data`` (or on ``digits`` when given); see
    the module docstring for what the loop guarantees."""
    config.check()
    with runtime.distributed(config.device) as context, runs.writing(config.out_dir):
        run = setup(config, digits, context)
        state = restore(run) if config.resume else start(run)
        with runtime.stop_on_interrupt() as stop:
            interrupted = loop(run, state, stop)
        return finish(run, state, interrupted)


# --------------------------------------------------------------------------------------------
# Set up
# --------------------------------------------------------------------------------------------


def setup(config: GanConfig, digits: Digits | None, context: runtime.DistributedContext) -> Run:
    """Device, digits, the two networks and their optimizers, fixed noise, run directory."""
    device = runtime.training_device(config.device, context)
    check_batch_split(config.batch_size, context)
    if digits is None:
        digits = load_digits(config.data, config.data_root)
    images = digits.train[0]
    check_image_shape(tuple(images.shape[1:]), f"the {digits.name} training split")
    batches_per_epoch = len(images) // config.batch_size
    if batches_per_epoch == 0:
        raise ConfigError(
            f"batch_size {config.batch_size} is larger than the {len(images)} training digits"
        )
    torch.manual_seed(config.seed)  # the initial weights
    generator, critic = build_pair(config.model, config.noise_dim)
    generator.to(device), critic.to(device)
    if context.active:  # every process starts from rank 0's weights, as DDP would make it
        for tensor in [*generator.state_dict().values(), *critic.state_dict().values()]:
            torch.distributed.broadcast(tensor, src=0)
    out_dir = Path(config.out_dir)
    if context.is_main:
        runs.open_training_dir(out_dir, resuming=bool(config.resume))
    return Run(
        config=config,
        context=context,
        device=device,
        images=images.to(device),
        batches_per_epoch=batches_per_epoch,
        generator=generator,
        critic=critic,
        g_optimizer=adam(generator, config),
        d_optimizer=adam(critic, config),
        fixed_noise=fixed_noise(config, device),
        out_dir=out_dir,
        log=runs.MetricsLog(out_dir / "metrics.jsonl"),
    )


def adam(network: torch.nn.Module, config: GanConfig) -> torch.optim.Adam:
    """Adam over ``network``'s parameters with the run's learning rate and betas.

    The fused update does in one pass over each tensor what the plain one does in several:
    the same rule, about a seventh of the time on the DCGAN generator's 6.7 million
    parameters (``benchmarks/gan_step.py``), where the plain update was a tenth of a step.
    """
    betas = (config.beta1, config.beta2)
    return torch.optim.Adam(network.parameters(), lr=config.lr, betas=betas, fused=True)


def fixed_noise(config: GanConfig, device: torch.device) -> torch.Tensor:
    """The 64 noise vectors ``(64, noise_dim)`` every sample grid of the run shows."""
    seed = runtime.derived_seed(config.seed, FIXED_NOISE_STREAM)
    return sample_noise(FIXED_NOISE, config.noise_dim, seed=seed).to(device)


def start(run: Run) -> State:
    """The state of a new run: ``config.json`` and the grid of the untrained generator."""
    state = State()
    if run.context.is_main:
        runs.write_json(run.out_dir / "config.json", asdict(run.config))
        read_snapshots(run.out_dir, -1)  # a run that stopped before its checkpoint drew them
        take_snapshot(run, state)
    return state


# --------------------------------------------------------------------------------------------
# Checkpoints and resume
# --------------------------------------------------------------------------------------------


def modules(run: Run) -> dict:
    """The networks and optimizers a checkpoint holds, by name."""
    return {
        "generator": run.generator,
        "critic": run.critic,
        "g_optimizer": run.g_optimizer,
        "d_optimizer": run.d_optimizer,
    }


def checkpoint_payload(run: Run, state: State) -> dict:
    return checkpoint_of(
        CHECKPOINT_FORMAT,
        run.config,
        state.step,
        modules(run),
        history=state.history,
        seconds=state.timer.total,
        interval={
            "sums": {name: value.cpu() for name, value in state.sums.items()},
            "steps": state.interval_steps,
            "seconds": state.timer.interval,
        },
    )


def save(run: Run, state: State) -> None:
    """Write ``last.pt`` for the current step (rank 0 writes; after a non-finite loss nothing
    is written)."""
    raise_if_non_finite(run, state)
    state.saved_step = state.step
    if run.context.is_main:
        runs.save_checkpoint(checkpoint_payload(run, state), run.out_dir / "last.pt")


def restore(run: Run) -> State:
    """The state stored in the checkpoint ``run.config.resume``, whose weights and optimizer
    states are loaded into the run; ``metrics.jsonl`` is cut back to its history."""
    checkpoint = resume_from(run.config, CHECKPOINT_FORMAT, modules(run), run.device)
    interval = checkpoint["interval"]
    state = State(
        step=checkpoint["step"],
        history=checkpoint["history"],
        sums={name: value.to(run.device) for name, value in interval["sums"].items()},
        interval_steps=interval["steps"],
        timer=Timer(total=checkpoint["seconds"], interval=interval["seconds"]),
        snapshots=read_snapshots(run.out_dir, checkpoint["step"]),
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
    stopped it. Each step: ``critic_steps`` discriminator updates, then one generator update."""
    config, G, D = run.config, run.generator, run.critic
    stop_at = last_step(config.steps, config.stop_after_steps)
    show = config.progress and run.context.is_main
    bar = step_bar(config.steps, state.step, f"{config.model} {config.loss}", show)
    state.guard = NonFiniteGuard(run.device)
    state.timer.start()
    while state.step < stop_at and not stop_agreed(stop, run.context, run.device):
        # The discriminator: real digits against fresh fakes, each update on its own batch.
        records = []
        for k in range(config.critic_steps):
            real = real_batch(run, state.step * config.critic_steps + k)  # (B, 784) in [-1, 1]
            with torch.no_grad():
                fake = G(noise(run, state.step, k))  # (B, 784)
            d_loss = critic_loss(config.loss, D(real), D(fake))
            record = {}
            if config.loss == "wgan-gp":  # keeps the critic's gradient norm near 1
                penalty, norm = gradient_penalty(run, state.step, k, real, fake)
                record = {"wasserstein": -d_loss.detach(), "gradient_penalty": penalty.detach()}
                record["grad_norm"] = norm
                d_loss = d_loss + penalty
            run.d_optimizer.zero_grad(set_to_none=True)
            d_loss.backward()
            average_gradients(run, D)
            run.d_optimizer.step()
            records.append({"d_loss": d_loss.detach(), **record})
        # The generator: fresh noise, the critic's weights frozen (their gradients unneeded).
        D.requires_grad_(False)
        g_loss = generator_loss(config.loss, D(G(noise(run, state.step, config.critic_steps))))
        run.g_optimizer.zero_grad(set_to_none=True)
        g_loss.backward()
        average_gradients(run, G)
        run.g_optimizer.step()
        D.requires_grad_(True)
        add_to_interval(state, records, g_loss.detach())
        bar.update(1)
        after_step(run, state, bar)
    bar.close()
    if state.saved_step != state.step:
        state.timer.lap()
        save(run, state)
    return stop.requested


def add_to_interval(state: State, records: list[dict], g_loss: torch.Tensor) -> None:
    """Add a step's losses (the discriminator's averaged over its updates) to the interval's
    sums, note a non-finite one, and count the step."""
    record = {name: torch.stack([r[name] for r in records]).mean() for name in records[0]}
    record["g_loss"] = g_loss
    state.guard.note(record["d_loss"] + record["g_loss"], state.step)
    for name, value in record.items():
        state.sums[name] = state.sums.get(name, 0.0) + value
    state.interval_steps += 1
    state.step += 1


def after_step(run: Run, state: State, bar) -> None:
    """The log record, the sample grid and the checkpoint that fall on this step."""
    config = run.config
    if run.device.type == "cpu":  # free on the CPU; on a GPU it would wait for the step
        raise_if_non_finite(run, state)
    if state.step % config.log_every == 0 or state.step == config.steps:
        end_of_interval(run, state, bar)
    if state.step % config.sample_every == 0 or state.step == config.steps:
        state.timer.lap()
        if run.context.is_main:
            take_snapshot(run, state)
        save(run, state)
        state.timer.start()  # samples and checkpoints are not training time
    elif config.checkpoint_every and state.step % config.checkpoint_every == 0:
        state.timer.lap()
        save(run, state)


def real_batch(run: Run, index: int) -> torch.Tensor:
    """Batch number ``index`` of real digits, ``(B, 784)`` in ``[-1, 1]`` (this process's
    share): batches run through a fresh permutation of the digits every epoch."""
    config = run.config
    rows = batch_rows(config.seed, index, run.batches_per_epoch, config.batch_size, len(run.images))
    return to_unit_range(shard(run.images[rows.to(run.device)], run.context))


def noise(run: Run, *parts: int) -> torch.Tensor:
    """This process's share of the noise ``(B, noise_dim)`` seeded by ``(seed, *parts)``."""
    config = run.config
    seed = runtime.derived_seed(config.seed, *parts)
    z = sample_noise(config.batch_size, config.noise_dim, seed=seed)
    return shard(z, run.context).to(run.device)


def gradient_penalty(run: Run, step: int, k: int, real, fake) -> tuple[torch.Tensor, torch.Tensor]:
    """WGAN-GP's penalty at interpolates of ``real`` and ``fake`` (weights drawn from
    ``(seed, step, k, 1)``) and the critic's mean gradient norm there."""
    config = run.config
    draw = torch.Generator().manual_seed(runtime.derived_seed(config.seed, step, k, 1))
    eps = shard(torch.rand(config.batch_size, generator=draw), run.context).to(run.device)
    return penalty_and_norm(run.critic, real, fake, config.lambda_gp, eps)


def average_gradients(run: Run, module: torch.nn.Module) -> None:
    """Average the gradients of ``module`` over the processes of a data-parallel run."""
    if not run.context.active:
        return
    for parameter in module.parameters():
        if parameter.grad is not None:
            torch.distributed.all_reduce(parameter.grad)
            parameter.grad /= run.context.world_size


def raise_if_non_finite(run: Run, state: State) -> None:
    """Stop the run if a loss so far was not finite, naming the first such step."""
    step = None if state.guard is None else state.guard.bad_step()
    if step is None:
        return
    raise FloatingPointError(
        f"a loss became non-finite at step {step + 1}; nothing was saved after it. Try a "
        f"smaller {suspects(run.config)}."
    )


def suspects(config: GanConfig) -> str:
    """The settings that scale the losses or the steps, as they are now, the one furthest
    above its default first: ``--lambda-gp (now 1e+308, default 10) or --lr (now 0.0001,
    default 0.0001)``."""
    default = defaults(config.model, config.loss)
    names = ["lr", "lambda_gp"] if config.loss == "wgan-gp" else ["lr"]
    names.sort(key=lambda name: getattr(config, name) / default[name], reverse=True)
    flag_of = flags(GanConfig)
    return " or ".join(
        f"{flag_of[name]} (now {getattr(config, name):g}, default {default[name]:g})"
        for name in names
    )


# --------------------------------------------------------------------------------------------
# Logging, samples, the end of the run
# --------------------------------------------------------------------------------------------


def end_of_interval(run: Run, state: State, bar) -> None:
    """Log the means over the interval just ended and report them."""
    state.timer.lap()
    raise_if_non_finite(run, state)
    record = {"step": state.step}
    record.update({name: float(total) / state.interval_steps for name, total in state.sums.items()})
    record["seconds"] = state.timer.interval
    record["steps_per_second"] = state.interval_steps / max(state.timer.interval, 1e-9)
    state.sums, state.interval_steps, state.timer.interval = {}, 0, 0.0
    if run.context.is_main:
        state.history.append(record)
        run.log.append(record)
        report(run, record, bar)


def report(run: Run, record: dict, bar) -> None:
    """The progress bar's numbers on a terminal; one printed line per interval elsewhere."""
    if not run.config.progress:
        return
    if not bar.disable:
        bar.set_postfix(d=f"{record['d_loss']:.3f}", g=f"{record['g_loss']:.3f}")
        return
    print(
        f"step {record['step']}/{run.config.steps}: d_loss {record['d_loss']:.4f}, "
        f"g_loss {record['g_loss']:.4f}, {record['steps_per_second']:.2f} steps/s",
        flush=True,
        file=sys.stdout,
    )


@torch.no_grad()
def generate(generator: torch.nn.Module, z: torch.Tensor) -> torch.Tensor:
    """``uint8`` digits ``(N, 28, 28)`` from noise ``(N, noise_dim)``, the generator in
    evaluation mode (batch normalization uses its running statistics)."""
    was_training = generator.training
    generator.eval()
    images = to_uint8(generator(z))
    generator.train(was_training)
    return images


def take_snapshot(run: Run, state: State) -> None:
    """Draw the fixed noise; keep the grid and write it to ``samples/`` (rank 0 only)."""
    if state.snapshots and state.snapshots[-1][0] == state.step:
        return
    images = generate(run.generator, run.fixed_noise)
    state.snapshots.append((state.step, images))
    runs.save_npz(snapshot_path(run.out_dir, state.step), {"images": images.numpy()})
    if run.config.figures:
        figure = plots.digit_grid(images.numpy(), title=f"step {state.step}")
        plots.save(figure, run.out_dir / "samples" / f"step-{state.step:06d}.png")
        strip = plots.progress_strip(state.snapshots, title=run_title(run.config))
        plots.save(strip, run.out_dir / "progress.png")
        plots.save(plots.losses(state.history, run_title(run.config)), run.out_dir / "losses.png")


def snapshot_path(out_dir: Path, step: int) -> Path:
    """Where the grid of ``step`` is kept: ``samples/step-NNNNNN.npz``."""
    return out_dir / "samples" / f"step-{step:06d}.npz"


def read_snapshots(out_dir: Path, last_step: int) -> list[tuple[int, torch.Tensor]]:
    """The grids kept in ``out_dir/samples`` up to ``last_step``, the step of the checkpoint
    resumed; a grid of a later step (drawn by a run killed before its next checkpoint) is
    removed: the resumed run draws it again."""
    snapshots = []
    for path in sorted((out_dir / "samples").glob("step-*.npz")):
        step = int(path.stem.removeprefix("step-"))
        if step > last_step:
            path.unlink()
            continue
        with np.load(path) as stored:
            snapshots.append((step, torch.from_numpy(stored["images"])))
    return snapshots


def run_title(config: GanConfig) -> str:
    return f"{config.model} generator, {config.loss} loss"


def finish(run: Run, state: State, interrupted: bool) -> TrainResult:
    """``summary.json``, the final sample grid and ``snapshots.npz``."""
    config = run.config
    finished = state.step == config.steps
    last = state.history[-1] if state.history else {}
    summary = {
        "finished": finished,
        "steps": state.step,
        "seconds": state.timer.total,
        "steps_per_second": state.step / max(state.timer.total, 1e-9),
        **{name: last[name] for name in last if name not in ("step", *TIMINGS)},
    }
    if run.context.is_main:
        if finished and config.figures:
            grid = plots.digit_grid(state.snapshots[-1][1].numpy(), title=run_title(config))
            plots.save(grid, run.out_dir / "samples.png")
        steps = np.array([step for step, _ in state.snapshots])
        grids = np.stack([images.numpy() for _, images in state.snapshots])
        runs.save_npz(run.out_dir / "snapshots.npz", {"steps": steps, "images": grids})
        runs.write_json(run.out_dir / "summary.json", summary)
    return end_of_run(run, state, summary, finished, interrupted)
