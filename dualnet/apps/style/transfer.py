"""Style transfer, feature inversion and texture synthesis: the optimisation, top to bottom.

:func:`run_style` reads like the method:

1. **the images**: the content image (the procedural scene or a file) at ``image_size``, the
   style image (a procedural style or a file) at ``style_size``;
2. **the targets**: one forward pass of each through the frozen features gives the content
   layer's activations and the style layers' Gram matrices (:func:`losses.make_targets`);
3. **the start**: the content image, or uniform random pixels (seeded);
4. **the loop**: ``steps`` optimiser steps on the normalised image, each one forward pass
   up to the last layer any loss reads, the three losses from the chosen backend, one backward
   pass, the step, and the clamp to valid pixels (:func:`adam_steps` or
   :func:`lbfgs_steps`);
5. **the result**: the losses of the final image, the snapshots and the history.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

import torch
from tqdm import tqdm

from dualnet.apps.style import data, network
from dualnet.apps.style.config import StyleConfig
from dualnet.apps.style.losses import Targets, blas_threads, make_targets, objective

LOSS_NAMES = ("content", "style", "tv")
LINE_SEARCH_EVALUATIONS = 20
"""The most loss evaluations of one L-BFGS line search."""


@dataclass
class Problem:
    """Everything the loop needs: the network, the images ``(1, 3, H, W)`` (normalised), the
    targets, and the names of the images."""

    net: network.FeatureNet
    content: torch.Tensor
    style: torch.Tensor
    start: torch.Tensor
    targets: Targets
    content_name: str
    style_name: str


@dataclass
class Result:
    """What a run produced: the final image in pixels ``(3, H, W)``, the losses before the
    first and after the last step, one record per step, snapshots ``(step, (3, H, W))``, and
    the seconds of the loop."""

    image: torch.Tensor
    initial: dict
    final: dict
    history: list[dict] = field(default_factory=list)
    snapshots: list[tuple[int, torch.Tensor]] = field(default_factory=list)
    seconds: float = 0.0
    evaluations: int = 0


@dataclass
class Images:
    """The content and the style image, ``(3, H, W)`` pixels in [0, 1], with their names."""

    content: torch.Tensor
    content_name: str
    style: torch.Tensor
    style_name: str


def load_images(config: StyleConfig) -> Images:
    """Step 1: the content and the style image, read before any slow work so that a missing
    or bad file is reported at once."""
    content, content_name = data.load_content(config.content, config.image_size)
    style, style_name = data.load_style(config.style, config.style_size)
    return Images(content, content_name, style, style_name)


def prepare(config: StyleConfig, net: network.FeatureNet, images: Images | None = None) -> Problem:
    """Steps 1-3: the images (read now unless given), checked against the network, the
    targets and the start."""
    network.check_layers(net, config.content_layer, config.style_layers)
    if images is None:
        images = load_images(config)
    content, content_name = images.content, images.content_name
    style, style_name = images.style, images.style_name
    last = max(config.content_layer, *config.style_layers)
    network.check_size(net, content, last, "--image-size", config.image_size)
    network.check_size(net, style, last, "--style-size", config.style_size)
    content_z, style_z = net.normalise(content[None]), net.normalise(style[None])
    targets = make_targets(net, content_z, style_z, config)
    if config.init == "content":
        start = content_z.clone()
    else:
        generator = torch.Generator().manual_seed(config.seed)
        start = net.normalise(torch.rand(content[None].shape, generator=generator))
    return Problem(net, content_z, style_z, start, targets, content_name, style_name)


def learning_rate(step: int, config: StyleConfig) -> float:
    """The course's schedule: ``lr`` before the decay step, ``decayed_lr`` from it on. (The
    course builds a new Adam at that step, which also forgets its moment estimates; here only
    the rate changes.)"""
    return config.lr if step < config.decay_step else config.decayed_lr


def snapshot_steps(steps: int, count: int) -> list[int]:
    """``count`` steps evenly spaced from 0 (the start) to ``steps`` (the result)."""
    return sorted({round(k * steps / (count - 1)) for k in range(count)})


def evaluate(problem: Problem, z: torch.Tensor, backend: str):
    """The three losses of ``z``, as a tuple of tensors in the graph of ``z``."""
    return objective(problem.net(z, problem.targets.last), z, problem.targets, backend)


def measure(problem: Problem, z: torch.Tensor, backend: str) -> dict:
    """The three losses of ``z`` and their sum as floats, without a gradient."""
    with torch.no_grad():
        values = [float(v) for v in evaluate(problem, z, backend)]
    return {**dict(zip(LOSS_NAMES, values, strict=True)), "total": sum(values)}


def clamp_(z: torch.Tensor, net: network.FeatureNet) -> None:
    """Clamp normalised images in place to the images of valid pixels, [0, 1]."""
    low, high = net.bounds()
    with torch.no_grad():
        z.copy_(torch.maximum(torch.minimum(z, high.to(z.dtype)), low.to(z.dtype)))


def loss_and_gradient(problem: Problem, z: torch.Tensor, backend: str) -> dict:
    """Forward and backward pass at ``z`` (its ``.grad`` set); the losses as floats."""
    z.grad = None
    losses = evaluate(problem, z, backend)
    total = losses[0] + losses[1] + losses[2]
    total.backward()
    values = [float(v.detach()) for v in losses]
    return {**dict(zip(LOSS_NAMES, values, strict=True)), "total": sum(values)}


# --------------------------------------------------------------------------------------------
# The loop
# --------------------------------------------------------------------------------------------


class Progress:
    """A progress bar with the losses on a terminal; off a terminal, one printed line every
    tenth of the run; nothing when ``enabled`` is false."""

    def __init__(self, config: StyleConfig):
        self.enabled, self.steps = config.progress, config.steps
        self.every = max(1, config.steps // 10)
        self.bar = tqdm(
            total=config.steps, unit="step", desc=config.mode, leave=False,
            disable=None if config.progress else True,
        )  # fmt: skip

    def update(self, step: int, record: dict) -> None:
        self.bar.update(1)
        if not self.enabled:
            return
        if not self.bar.disable:
            losses = {name: f"{record[name]:.3g}" for name in LOSS_NAMES}
            self.bar.set_postfix(losses, refresh=False)
        elif (step + 1) % self.every == 0 or step + 1 == self.steps:
            losses = ", ".join(f"{name} {record[name]:.4g}" for name in LOSS_NAMES)
            print(f"step {step + 1}/{self.steps}: {losses}", flush=True, file=sys.stdout)

    def close(self) -> None:
        self.bar.close()


def adam_steps(problem: Problem, config: StyleConfig, z: torch.Tensor, after_step) -> int:
    """The course's recipe: Adam on the normalised image with :func:`learning_rate`, a clamp
    after every step. Returns the number of loss evaluations (one per step)."""
    optimizer = torch.optim.Adam([z], lr=config.lr)
    for step in range(config.steps):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, config)
        record = loss_and_gradient(problem, z, config.loss_backend)
        optimizer.step()
        clamp_(z, problem.net)
        after_step(step, {**record, "lr": optimizer.param_groups[0]["lr"]})
    return config.steps


def lbfgs_steps(problem: Problem, config: StyleConfig, z: torch.Tensor, after_step) -> int:
    """L-BFGS (history 20, strong Wolfe line search): each step is one quasi-Newton
    iteration, whose line search may evaluate the loss up to :data:`LINE_SEARCH_EVALUATIONS`
    times, then the clamp. Clamping after a step makes this *projected* L-BFGS, a heuristic:
    the curvature pairs describe the step before the projection. It works far better than
    optimising unconstrained and clamping once at the end (measured: a total loss of 1.6e3
    against 5.4e4 after 30 steps at 48 px). Returns the number of loss evaluations."""
    optimizer = torch.optim.LBFGS(
        [z],
        lr=1.0,
        max_iter=1,
        max_eval=LINE_SEARCH_EVALUATIONS + 1,
        history_size=20,
        line_search_fn="strong_wolfe",
    )  # max_eval: PyTorch's default, 5/4 of max_iter, would leave the line search no trial
    records = []  # every evaluation of the current step

    def closure():
        records.append(loss_and_gradient(problem, z, config.loss_backend))
        return torch.tensor(records[-1]["total"])

    evaluations = 0
    for step in range(config.steps):
        records.clear()
        optimizer.step(closure)
        clamp_(z, problem.net)
        evaluations += len(records)
        after_step(step, {**records[0], "evaluations": len(records)})
    return evaluations


def optimise(problem: Problem, config: StyleConfig) -> Result:
    """Step 4 and 5: run the optimiser from the start image; snapshots, history, losses."""
    z = problem.start.clone().requires_grad_(True)
    keep = set(snapshot_steps(config.steps, config.snapshots))
    initial = measure(problem, z, config.loss_backend)
    result = Result(image=z, initial=initial, final=initial, snapshots=[(0, pixels_of(problem, z))])
    progress = Progress(config)

    def after_step(step: int, record: dict) -> None:
        result.history.append({"step": step, **record})
        progress.update(step, record)
        if step + 1 in keep and step + 1 < config.steps:
            result.snapshots.append((step + 1, pixels_of(problem, z)))

    started = time.perf_counter()
    step_function = adam_steps if config.optimizer == "adam" else lbfgs_steps
    try:
        with blas_threads(config.loss_backend):
            result.evaluations = step_function(problem, config, z, after_step)
    finally:
        progress.close()
    result.seconds = time.perf_counter() - started
    result.final = measure(problem, z, config.loss_backend)
    result.image = pixels_of(problem, z)
    result.snapshots.append((config.steps, result.image))
    return result


def pixels_of(problem: Problem, z: torch.Tensor) -> torch.Tensor:
    """The image ``(3, H, W)`` in pixels, on the CPU, detached."""
    return problem.net.pixels(z.detach())[0].clamp(0, 1).float().cpu()


def run_style(config: StyleConfig, net: network.FeatureNet | None = None):
    """Load the network (unless given), prepare the problem and optimise: ``(problem,
    result)``."""
    if net is None:
        net = network.load_features(config.model, config.weights, config.device)
    problem = prepare(config, net)
    return problem, optimise(problem, config)
