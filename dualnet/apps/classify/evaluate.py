"""Scoring a classifier: on a split during training, and from a checkpoint afterwards.

:func:`evaluate_run` reads the checkpoint of either backend (a PyTorch run's ``last.pt``
or ``best.pt``, or a NumPy run's), rebuilds the model it names, and measures it on the
validation or test split; with ``out_dir`` it writes ``summary.json``, the confusion matrix and
a grid of misclassified images there.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from dualnet import metrics
from dualnet.apps import figures, runs, runtime
from dualnet.apps.classify.config import (
    CHECKPOINT_FORMAT,
    ClassifyConfig,
    config_from_checkpoint,
)
from dualnet.apps.classify.models import build_model, build_numpy_model

if TYPE_CHECKING:
    from dualnet.data import ImageSplits

HOLDS = ("model", "mean", "std", "classes", "step")
"""What scoring a run reads from its checkpoint, beside its configuration."""


def prepare(images: torch.Tensor, mean, std, device: torch.device) -> torch.Tensor:
    """uint8 images to normalised float32 on ``device`` (channels-last on CUDA)."""
    from dualnet.data import normalize  # the data package pulls in torchvision: load it lazily

    x = normalize(images.to(device, non_blocking=True), mean, std)
    if device.type == "cuda":
        x = x.contiguous(memory_format=torch.channels_last)
    return x


@torch.no_grad()
def predict(model, images: torch.Tensor, mean, std, device: torch.device, batch_size: int = 500):
    """Scores ``(N, classes)`` (float32, CPU) for uint8 images, in evaluation mode."""
    model.eval()
    scores = []
    for start in range(0, len(images), batch_size):
        with runtime.autocast(device):
            out = model(prepare(images[start : start + batch_size], mean, std, device))
        scores.append(out.float().cpu())
    model.train()
    return torch.cat(scores) if scores else torch.zeros(0)


def predict_numpy(model, images: torch.Tensor, mean, std, batch_size: int = 500) -> torch.Tensor:
    """Scores of a ``reference_numpy`` model (its ``loss(X)`` without labels)."""
    from dualnet.data import normalize

    scores = [
        model.loss(normalize(images[start : start + batch_size], mean, std).numpy())
        for start in range(0, len(images), batch_size)
    ]
    return torch.from_numpy(np.concatenate(scores)) if scores else torch.zeros(0)


def scored(scores: torch.Tensor, labels: torch.Tensor) -> dict:
    """Loss, accuracy and predictions for ``scores (N, classes)`` against ``labels (N,)``."""
    return {
        "loss": float(F.cross_entropy(scores.float(), labels)) if len(labels) else float("nan"),
        "acc": metrics.accuracy(scores, labels),
        "predictions": scores.argmax(dim=1),
    }


def evaluate(model, split: tuple[torch.Tensor, torch.Tensor], mean, std, device) -> dict:
    """Loss, accuracy and predictions of a PyTorch ``model`` on one split."""
    images, labels = split
    return scored(predict(model, images, mean, std, device), labels)


def read_checkpoint(path: Path) -> dict:
    """The classification checkpoint ``path``, with everything :func:`load_model` reads.

    Raises:
        CheckpointError: see :func:`~dualnet.apps.runs.load_checkpoint`.
    """
    return runs.load_checkpoint(path, CHECKPOINT_FORMAT, holds=HOLDS, config=ClassifyConfig)


def load_model(checkpoint: dict, image_shape, device: torch.device, source="the checkpoint"):
    """The model stored in a checkpoint and a function ``images -> scores`` for it.

    Raises:
        CheckpointError: the stored weights are not those of the model its configuration
            builds; the message names ``source`` (the file, or the flag and the file).
    """
    config = config_from_checkpoint(checkpoint)
    mean, std, classes = checkpoint["mean"], checkpoint["std"], checkpoint["classes"]
    what = f"the {config.model} of its configuration"
    if config.backend == "numpy":
        model = build_numpy_model(config, len(classes), image_shape)
        set_numpy_params(model, checkpoint["model"], source, what)
        return model, lambda images: predict_numpy(model, images, mean, std)
    model = build_model(config, len(classes), image_shape)
    runs.load_state(model, checkpoint["model"], source, what)
    model.to(device)
    return model, lambda images: predict(model, images, mean, std, device)


def set_numpy_params(model, state, source: str, what: str) -> None:
    """Give a NumPy model the parameters ``state`` (tensors by name), or say in one line why
    they do not fit."""
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise runs.CheckpointError(f"{source} does not hold the weights of {what} as tensors")
    try:
        model.set_params({name: value.numpy() for name, value in state.items()})
    except ValueError as error:
        raise runs.CheckpointError(
            f"{source} does not hold the weights of {what}: {error}"
        ) from None


def evaluate_run(
    path: str | Path,
    split: str = "test",
    data_root: str | None = None,
    device: str = "auto",
    out_dir: str | Path | None = None,
    splits: ImageSplits | None = None,
) -> dict:
    """The accuracy of a saved model on ``split`` (``val`` or ``test``), overall and per class;
    ``path`` is a run directory (its best checkpoint is read) or a checkpoint file.

    With ``out_dir``, also writes ``summary.json``, ``confusion.png`` and
    ``misclassified.png`` there.
    """
    from dualnet.data import load_images

    if split not in ("val", "test"):
        raise ValueError(f"split must be 'val' or 'test', got {split!r}")
    path = runs.best_checkpoint(path)
    checkpoint = read_checkpoint(path)
    config = config_from_checkpoint(checkpoint)
    if splits is None:
        splits = load_images(
            config.data, data_root or config.data_root, image_size=config.image_size
        )
    images, labels = getattr(splits, split)
    device = runtime.resolve_device(device)
    _, score = load_model(checkpoint, tuple(images.shape[1:]), device, str(path))
    result = scored(score(images), labels)
    classes = checkpoint["classes"]
    counts = metrics.confusion_matrix(result["predictions"].numpy(), labels.numpy(), len(classes))
    summary = {
        "checkpoint": str(path),
        "model": config.model,
        "backend": config.backend,
        "level": config.level,
        "data": config.data,
        "split": split,
        "step": checkpoint["step"],
        "n_images": len(labels),
        "loss": result["loss"],
        "accuracy": result["acc"],
        "per_class_accuracy": {
            name: float(counts[i, i] / max(1, counts[i].sum())) for i, name in enumerate(classes)
        },
    }
    if out_dir is not None:
        summary["files"] = write_evaluation(Path(out_dir), summary, counts, images, labels, result)
    return summary


def write_evaluation(out_dir: Path, summary: dict, counts, images, labels, result) -> list[str]:
    """``summary.json``, the confusion matrix and up to 32 misclassified images in
    ``out_dir``; returns the paths written."""
    classes = list(summary["per_class_accuracy"])
    title = f"{summary['model']}: {summary['split']}"
    written = [
        figures.save(figures.confusion(counts, classes, title=title), out_dir / "confusion.png")
    ]
    predictions, truth = result["predictions"].numpy(), labels.numpy()
    wrong = np.flatnonzero(predictions != truth)[:32]
    captions = [f"{classes[truth[i]]} -> {classes[predictions[i]]}" for i in wrong]
    grid = figures.image_grid(
        images[wrong].numpy(), captions, title="misclassified (true -> predicted)"
    )
    written.append(figures.save(grid, out_dir / "misclassified.png"))
    written.append(out_dir / "summary.json")
    files = [str(path) for path in written]
    runs.write_json(out_dir / "summary.json", {**summary, "files": files})
    return files
