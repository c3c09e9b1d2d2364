"""Where the time of one GAN training step goes, on the trainer's own pieces.

    python benchmarks/gan_step.py [--model dc] [--loss ls] [--steps 20] [--device cpu]

Builds the run ``dualnet gan train`` builds (digits, generator, critic, optimizers) in a
temporary folder and times, step by step, each part of the loop of
``dualnet/apps/gan/train.py``: the real batch, the noise, the generator's fakes for the
discriminator, the discriminator's forward and backward passes, the two Adam updates, the
generator's forward and backward passes (through the frozen critic), and, once per
``--sample-every`` steps, the sample grid of the fixed noise and the checkpoint. The first
steps (warm-up) are not timed. The last line compares Adam's fused update with its plain loop
on the generator's parameters, in the same run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import print_table  # noqa: E402

from dualnet.apps import runs, runtime  # noqa: E402
from dualnet.apps.gan.config import make_config  # noqa: E402
from dualnet.apps.gan.models import critic_loss, generator_loss  # noqa: E402
from dualnet.apps.gan.train import noise, real_batch, save, setup, start, take_snapshot  # noqa: E402


class Stopwatch:
    """Adds the time since the last :meth:`lap` to the named part (waits for a GPU first)."""

    def __init__(self, device: torch.device):
        self.device, self.parts, self.last = device, defaultdict(float), time.perf_counter()

    def lap(self, part: str | None) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        now = time.perf_counter()
        if part is not None:
            self.parts[part] += now - self.last
        self.last = now


def one_step(run, step: int, watch: Stopwatch) -> None:
    """The loop body of ``train.loop`` for a loss without the gradient penalty, timed."""
    config, G, D = run.config, run.generator, run.critic
    watch.lap(None)
    for k in range(config.critic_steps):
        real = real_batch(run, step * config.critic_steps + k)
        watch.lap("data: real batch")
        z = noise(run, step, k)
        watch.lap("data: noise")
        with torch.no_grad():
            fake = G(z)
        watch.lap("generator: fakes for D")
        d_loss = critic_loss(config.loss, D(real), D(fake))
        watch.lap("discriminator: forward")
        run.d_optimizer.zero_grad(set_to_none=True)
        d_loss.backward()
        watch.lap("discriminator: backward")
        run.d_optimizer.step()
        watch.lap("discriminator: Adam")
    z = noise(run, step, config.critic_steps)
    watch.lap("data: noise")
    D.requires_grad_(False)
    scores = D(G(z))
    watch.lap("generator: forward (G, then D)")
    run.g_optimizer.zero_grad(set_to_none=True)
    generator_loss(config.loss, scores).backward()
    watch.lap("generator: backward (D, then G)")
    run.g_optimizer.step()
    D.requires_grad_(True)
    watch.lap("generator: Adam")


def adam_seconds(parameters: list[torch.nn.Parameter], fused: bool, repeats: int = 20) -> float:
    """Best time of one Adam update of ``parameters`` (gradients of ones)."""
    optimizer = torch.optim.Adam(parameters, lr=1e-3, betas=(0.5, 0.999), fused=fused)
    for p in parameters:
        p.grad = torch.ones_like(p)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        optimizer.step()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="dc", choices=("fc", "dc"))
    parser.add_argument("--loss", default="ls", choices=("vanilla", "ls"))
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, runtime.distributed(args.device) as context:
        config = make_config(args.model, args.loss, out_dir=folder, device=args.device)
        with runs.writing(folder):
            run = setup(config, None, context)
            state = start(run)
            watch = Stopwatch(run.device)
            for step in range(args.warmup):
                one_step(run, step, watch)
            watch.parts.clear()
            for step in range(args.warmup, args.warmup + args.steps):
                one_step(run, step, watch)
            per_step = {part: seconds / args.steps for part, seconds in watch.parts.items()}
            state.step = args.warmup + args.steps
            watch.lap(None)
            take_snapshot(run, state)
            watch.lap("sample grid (figures included)")
            save(run, state)
            watch.lap("checkpoint last.pt")
    step_total = sum(per_step.values())
    every = config.sample_every
    rows = [[part, f"{1000 * s:.1f}", f"{s / step_total:.1%}"] for part, s in per_step.items()]
    for part in ("sample grid (figures included)", "checkpoint last.pt"):
        seconds = watch.parts[part]
        rows.append([f"{part}, once per {every} steps", f"{1000 * seconds / every:.1f}",
                     f"{seconds / every / step_total:.1%}"])  # fmt: skip
    rows.append(["one training step", f"{1000 * step_total:.1f}", "100%"])
    print(f"{config.model} {config.loss}, batch {config.batch_size}, {run.device}, "
          f"{torch.get_num_threads()} threads, {args.steps} steps timed")  # fmt: skip
    print_table(["part", "ms per step", "share of a step"], rows)
    parameters = [p.detach().clone() for p in run.generator.parameters()]
    plain, fused = adam_seconds(parameters, False), adam_seconds(parameters, True)
    print(f"Adam on the generator's {sum(p.numel() for p in parameters):,} parameters: "
          f"loop {1000 * plain:.1f} ms, fused {1000 * fused:.1f} ms "
          f"({plain / fused:.1f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
