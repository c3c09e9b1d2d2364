r"""Measuring generated digits without Inception: Fréchet distance and mode coverage.

Both measures look at digits through the eyes of the :mod:`~dualnet.apps.gan.scorer`,
a small classifier trained on the real digits.

**Fréchet distance** (:func:`frechet_distance`). Fit a Gaussian to the classifier's
penultimate features of each set of digits, :math:`(\mu_1, \Sigma_1)` and
:math:`(\mu_2, \Sigma_2)`; their Fréchet (2-Wasserstein) distance is

.. math::

    d^2 = \lVert \mu_1 - \mu_2 \rVert^2 + \operatorname{tr}\Sigma_1 + \operatorname{tr}\Sigma_2
          - 2 \operatorname{tr}\big(\Sigma_1^{1/2} \Sigma_2 \Sigma_1^{1/2}\big)^{1/2} .

:func:`evaluate_run` reports it as ``fcd`` (generated against real digits) beside ``fcd_real``
(two disjoint sets of real digits of the same size: the floor any generator can hope for) and
``fcd_untrained`` (the run's generator as it was initialised: the ceiling).

**Mode coverage** (:func:`mode_coverage`). A sample is *confident* when the classifier gives
one class a probability above 0.9; ``confident_fraction`` is their share, ``class_histogram``
counts them per class, and ``mode_coverage`` is the number of classes holding at least 1 % of
them (a tenth of a fair share), so that a handful of lucky samples does not count as a mode.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dualnet.apps import runs, runtime
from dualnet.apps.gan import plots
from dualnet.apps.gan.config import CHECKPOINT_FORMAT, GanConfig, config_from_checkpoint
from dualnet.apps.gan.data import Digits, load_digits
from dualnet.apps.gan.models import build_pair
from dualnet.apps.gan.scorer import Scorer, load_scorer
from dualnet.apps.gan.train import generate
from dualnet.apps.settings import ConfigError
from dualnet.data.paths import data_root
from torch_impl.gan import sample_noise

CONFIDENCE = 0.9
MIN_SHARE = 0.01
"""A class is covered when it holds at least this share of the confident samples."""
REAL_ORDER_SEED = 12345
"""Seed of the fixed permutation that splits the real digits into the two reference sets."""
HOLDS = ("generator", "step")
"""What sampling and scoring read from a checkpoint, beside its configuration."""


# --------------------------------------------------------------------------------------------
# The two measures
# --------------------------------------------------------------------------------------------


def psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """The symmetric square root of a symmetric positive semi-definite matrix ``(D, D)``
    (eigenvalues that rounding made slightly negative count as 0)."""
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_from_moments(
    mean_1: np.ndarray, cov_1: np.ndarray, mean_2: np.ndarray, cov_2: np.ndarray
) -> float:
    r"""Fréchet distance :math:`d^2` between :math:`N(\mu_1, \Sigma_1)` and
    :math:`N(\mu_2, \Sigma_2)`: means ``(D,)``, covariances ``(D, D)``.

    :math:`\operatorname{tr}(\Sigma_1 \Sigma_2)^{1/2}` is computed as the sum of the square
    roots of the eigenvalues of the symmetric :math:`\Sigma_1^{1/2} \Sigma_2 \Sigma_1^{1/2}`,
    which has the same eigenvalues as :math:`\Sigma_1 \Sigma_2`.
    """
    root_1 = psd_sqrt(cov_1)
    middle = root_1 @ cov_2 @ root_1
    cross = np.linalg.eigvalsh((middle + middle.T) / 2)
    trace_root = np.sqrt(np.clip(cross, 0, None)).sum()
    distance = np.sum((mean_1 - mean_2) ** 2) + np.trace(cov_1) + np.trace(cov_2)
    return float(max(distance - 2 * trace_root, 0.0))


def frechet_distance(features_1, features_2) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets ``(N1, D)``, ``(N2, D)``
    (sample means and unbiased sample covariances)."""
    a, b = np.asarray(features_1, np.float64), np.asarray(features_2, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError(
            f"frechet_distance: expected two sets of at least 2 feature vectors of one "
            f"dimension, got shapes {a.shape} and {b.shape}"
        )
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    return frechet_from_moments(a.mean(axis=0), np.atleast_2d(cov_a), b.mean(axis=0),
                                np.atleast_2d(cov_b))  # fmt: skip


def mode_coverage(probabilities, confidence: float = CONFIDENCE, min_share: float = MIN_SHARE):
    """Coverage of the classes by samples with class probabilities ``(N, C)``.

    Returns:
        ``mode_coverage`` (classes holding at least ``min_share`` of the confident samples),
        ``confident_fraction`` (share of samples whose top probability exceeds
        ``confidence``) and ``class_histogram`` (confident samples per class, ``C`` counts).
    """
    probabilities = np.asarray(probabilities)
    confident = probabilities.max(axis=1) > confidence
    classes = probabilities.argmax(axis=1)[confident]
    histogram = np.bincount(classes, minlength=probabilities.shape[1])
    enough = max(1, int(np.ceil(min_share * confident.sum())))
    return {
        "mode_coverage": int((histogram >= enough).sum()) if confident.any() else 0,
        "confident_fraction": float(confident.mean()),
        "class_histogram": [int(count) for count in histogram],
    }


# --------------------------------------------------------------------------------------------
# Evaluating a run
# --------------------------------------------------------------------------------------------


def reference_sets(digits: Digits, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two disjoint sets of ``n`` real digits ``(n, 28, 28)`` from both splits, drawn by a
    fixed permutation (the same for every run)."""
    images = digits.all_images()
    if 2 * n > len(images):
        raise ConfigError(
            f"n_images {n} needs two disjoint sets of {n} real digits, but the {digits.name} "
            f"digits are {len(images)}: use at most {len(images) // 2}"
        )
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(REAL_ORDER_SEED))
    return images[order[:n]], images[order[n : 2 * n]]


def generate_many(generator: torch.nn.Module, noise: torch.Tensor, batch: int = 500):
    """``uint8`` digits ``(N, 28, 28)`` for noise ``(N, noise_dim)``, in batches."""
    return torch.cat([generate(generator, z) for z in noise.split(batch)])


def load_generator(path: Path, device: torch.device) -> tuple[dict, torch.nn.Module, GanConfig]:
    """The checkpoint ``path``, its trained generator and the run's configuration.

    Raises:
        CheckpointError: ``path`` is not a GAN checkpoint, lacks its configuration or its
            generator, or holds a generator that its configuration does not build.
    """
    checkpoint = runs.load_checkpoint(path, CHECKPOINT_FORMAT, holds=HOLDS, config=GanConfig)
    config = config_from_checkpoint(checkpoint)
    generator, _ = build_pair(config.model, config.noise_dim)
    what = f"the {config.model} generator with --noise-dim {config.noise_dim}"
    runs.load_state(generator, checkpoint["generator"], str(path), what)
    return checkpoint, generator.to(device), config


def untrained_generator(config: GanConfig, device: torch.device) -> torch.nn.Module:
    """The run's generator as it was before its first step (same seed, same architecture)."""
    torch.manual_seed(config.seed)
    generator, _ = build_pair(config.model, config.noise_dim)
    return generator.to(device)


def score_generator(generator, noise, scorer: Scorer, reference: torch.Tensor) -> dict:
    """``fcd`` against the features of ``reference``, plus :func:`mode_coverage`."""
    images = generate_many(generator, noise)
    features, probabilities = scorer(images)
    reference_features, _ = scorer(reference)
    return {
        "fcd": frechet_distance(features.numpy(), reference_features.numpy()),
        **mode_coverage(probabilities.numpy()),
        "images": images,
    }


def evaluate_run(
    run: str | Path,
    n_images: int = 2000,
    seed: int = 0,
    data_root_dir: str | None = None,
    device: str = "auto",
    out_dir: str | Path | None = None,
) -> dict:
    """Score the generator of a run (its directory or checkpoint) against the real digits.

    Returns the summary (also written to ``out_dir/summary.json`` with ``samples.png`` and
    ``classes.png`` when ``out_dir`` is given): ``fcd``, ``fcd_real``, ``fcd_untrained``,
    ``mode_coverage``, ``confident_fraction``, ``class_histogram``, ``n_images``, the
    scorer's test accuracy ``scorer_accuracy`` and what was evaluated (``gan_loss``: the
    loss it was trained with).
    """
    if n_images < 2:
        raise ConfigError(f"n_images must be at least 2, got {n_images}")
    path = runs.last_checkpoint(run)
    torch_device = runtime.resolve_device(device)
    checkpoint, generator, config = load_generator(path, torch_device)
    root = data_root_dir or config.data_root
    digits = load_digits(config.data, root)
    scorer = load_scorer(digits, data_root(root))
    reference, other_real = reference_sets(digits, n_images)
    noise = sample_noise(n_images, config.noise_dim, seed=runtime.derived_seed(seed, 2))
    noise = noise.to(torch_device)
    trained = score_generator(generator, noise, scorer, reference)
    untrained = score_generator(untrained_generator(config, torch_device), noise, scorer, reference)
    real_features, _ = scorer(other_real)
    reference_features, _ = scorer(reference)
    summary = {
        "model": config.model,
        "gan_loss": config.loss,
        "data": config.data,
        "step": checkpoint["step"],
        "n_images": n_images,
        "fcd": trained["fcd"],
        "fcd_real": frechet_distance(real_features.numpy(), reference_features.numpy()),
        "fcd_untrained": untrained["fcd"],
        **{key: trained[key] for key in ("mode_coverage", "confident_fraction")},
        "class_histogram": trained["class_histogram"],
        "scorer_accuracy": scorer.test_acc,
    }
    if out_dir is not None:
        write_evaluation(Path(out_dir), summary, trained, config)
    return summary


def write_evaluation(out_dir: Path, summary: dict, trained: dict, config: GanConfig) -> None:
    """``summary.json``, 64 of the samples, and the histogram of their classes."""
    out_dir.mkdir(parents=True, exist_ok=True)
    title = f"{config.model} generator, {config.loss} loss, step {summary['step']}"
    grid = plots.digit_grid(trained["images"][:64].numpy(), title=title)
    plots.save(grid, out_dir / "samples.png")
    confident = round(summary["confident_fraction"] * summary["n_images"])
    histogram = plots.class_histogram(
        summary["class_histogram"], confident, title=f"mode coverage {summary['mode_coverage']}"
    )
    plots.save(histogram, out_dir / "classes.png")
    runs.write_json(out_dir / "summary.json", summary)


def sample_run(
    run: str | Path, n_images: int = 64, seed: int = 0, device: str = "auto", out_dir=None
) -> dict:
    """Draw ``n_images`` digits from a run's generator into ``out_dir/samples.png`` (a grid)
    and ``out_dir/summary.json``; the same ``seed`` draws the same digits."""
    if n_images < 1:
        raise ConfigError(f"n_images must be a positive number of digits, got {n_images}")
    n = n_images
    path = runs.last_checkpoint(run)
    checkpoint, generator, config = load_generator(path, runtime.resolve_device(device))
    noise = sample_noise(n, config.noise_dim, seed=runtime.derived_seed(seed, 3))
    images = generate_many(generator, noise.to(next(generator.parameters()).device))
    out_dir = Path(out_dir) if out_dir is not None else path.parent / "sample"
    columns = int(np.ceil(np.sqrt(n)))
    title = f"{config.model}, {config.loss}, step {checkpoint['step']}, seed {seed}"
    figure = plots.digit_grid(images.numpy(), columns=columns, title=title)
    written = plots.save(figure, out_dir / "samples.png")
    summary = {"n_images": n, "seed": seed, "step": checkpoint["step"], "files": [str(written)]}
    runs.write_json(out_dir / "summary.json", summary)
    return summary
