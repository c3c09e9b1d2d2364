"""What a style-transfer run reports: ``summary.json`` and the files beside it.

Every mode reports the losses of the final image (``content_loss``, ``style_loss_final``,
``tv_loss``, ``total_loss``), the style loss of the start image and its relative reduction,
``style_loss_reduction = 1 - final / initial`` (absent when there is no style loss), the
loop's ``seconds`` and ``steps_per_second`` (``build_seconds`` apart: the time a stand-in
network took to build on first use) and the settings that shaped them. Each mode adds its
own measure (:mod:`~dualnet.apps.style.evaluate`):

* ``transfer``: ``gram_distance_result`` and ``gram_distance_content``, the distance of the
  result's and of the content image's Gram statistics to the style image's in an
  independent random network;
* ``invert``: ``psnr`` of the result against the content image, and ``psnr_luma`` of their
  brightness alone;
* ``texture``: ``style_orientation``, ``result_orientation`` and their
  ``orientation_difference`` (degrees); ``spectrum_correlation``, the correlation of the log
  power spectra of the result and the style, beside ``spectrum_correlation_start`` (the noise
  it started from); and ``gram_distance_result`` beside ``gram_distance_start``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dualnet.apps import runs
from dualnet.apps.style import evaluate, plots
from dualnet.apps.style.config import StyleConfig, to_json
from dualnet.apps.style.data import save_image
from dualnet.apps.style.transfer import Problem, Result
from dualnet.apps.style.transfer import pixels_of as pixels


def summarise(config: StyleConfig, problem: Problem, result: Result) -> dict:
    """The headline numbers of a run (see the module docstring)."""
    initial, final = result.initial["style"], result.final["style"]
    summary = {
        "mode": config.mode,
        "content_loss": result.final["content"],
        "style_loss_initial": initial,
        "style_loss_final": final,
        **({"style_loss_reduction": 1 - final / initial} if initial > 0 else {}),
        "tv_loss": result.final["tv"],
        "total_loss": result.final["total"],
        "steps": config.steps,
        "seconds": result.seconds,
        "steps_per_second": config.steps / max(result.seconds, 1e-9),
        "build_seconds": problem.net.build_seconds,
        "image_size": config.image_size,
        "style_size": config.style_size,
        "loss_backend": config.loss_backend,
        "optimizer": config.optimizer,
        "model": problem.net.name,
        "content": problem.content_name,
        "style": problem.style_name,
        "evaluations": result.evaluations,
    }
    summary.update(mode_measures(config.mode, problem, result))
    return summary


def mode_measures(mode: str, problem: Problem, result: Result) -> dict:
    """The measure of each mode (see the module docstring)."""
    content, style = pixels(problem, problem.content), pixels(problem, problem.style)
    if mode == "invert":
        return {
            "psnr": evaluate.psnr(result.image, content),
            "psnr_luma": evaluate.psnr(evaluate.luma(result.image), evaluate.luma(content)),
        }
    independent = evaluate.independent_features()
    distance = {"gram_distance_result": evaluate.gram_distance(independent, result.image, style)}
    if mode == "transfer":
        distance["gram_distance_content"] = evaluate.gram_distance(independent, content, style)
        return distance
    start = pixels(problem, problem.start)
    distance["gram_distance_start"] = evaluate.gram_distance(independent, start, style)
    style_angle = evaluate.dominant_orientation(style)
    result_angle = evaluate.dominant_orientation(result.image)
    return {
        "style_orientation": style_angle,
        "result_orientation": result_angle,
        "orientation_difference": evaluate.orientation_difference(style_angle, result_angle),
        "spectrum_correlation": evaluate.spectrum_correlation(result.image, style),
        "spectrum_correlation_start": evaluate.spectrum_correlation(start, style),
        **distance,
    }


def write_outputs(out: Path, config: StyleConfig, problem: Problem, result: Result) -> dict:
    """Write into ``out``: the images ``result.png``, ``content.png`` and ``style.png`` (as
    the network saw them), ``snapshots.npz`` (``steps`` and ``images``, uint8
    ``(K, 3, H, W)``), the figures ``steps.png``, ``losses.png`` and ``overview.png``, and
    ``metrics.jsonl``, ``config.json`` and ``summary.json``. Returns the summary."""
    summary = summarise(config, problem, result)
    title = f"{config.mode}: {problem.content_name} + {problem.style_name} ({problem.net.name})"
    save_image(result.image, out / "result.png")
    save_image(pixels(problem, problem.content), out / "content.png")
    save_image(pixels(problem, problem.style), out / "style.png")
    steps = np.array([step for step, _ in result.snapshots])
    frames = torch.stack([image for _, image in result.snapshots])
    frames = (frames * 255).round().to(torch.uint8).numpy()
    runs.save_npz(out / "snapshots.npz", {"steps": steps, "images": frames})
    plots.save(plots.strip(result.snapshots, title=title), out / "steps.png")
    plots.save(plots.loss_curves(result.history, title=title), out / "losses.png")
    panels = [("content", pixels(problem, problem.content))]
    if config.mode != "invert":
        panels.append(("style", pixels(problem, problem.style)))
    panels.append((config.mode, result.image))
    plots.save(plots.overview(panels, title=title), out / "overview.png")
    runs.MetricsLog(out / "metrics.jsonl").rewrite(result.history)
    runs.write_json(out / "config.json", to_json(config))
    runs.write_json(out / "summary.json", summary)
    return summary
