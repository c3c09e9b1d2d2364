"""Training a ``reference_numpy`` classifier with the ``Solver``: the same run directory as the
PyTorch backend.

The images are normalised once and handed to the classic ``Solver`` (``sgd`` with momentum
maps to its ``sgd_momentum`` rule, ``adam`` to ``adam``; the rate is constant; no
augmentation). The run writes ``metrics.jsonl``, ``curves.png``, ``confusion.png``,
``summary.json``, ``params.npz`` (the parameters, for NumPy users) and ``last.pt``/``best.pt``
checkpoints in the common format, so ``dualnet classify eval`` reads a NumPy run like any
other. The ``Solver`` keeps the parameters with the best validation accuracy, so at the end
``last.pt`` and ``best.pt`` hold the same parameters.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import TYPE_CHECKING

import numpy as np
import torch
from tqdm import tqdm

from dualnet import metrics
from dualnet.apps import figures, runs
from dualnet.apps.classify.config import CHECKPOINT_FORMAT, ClassifyConfig
from dualnet.apps.classify.models import build_numpy_model
from dualnet.apps.loop import TrainResult
from dualnet.apps.settings import ConfigError

if TYPE_CHECKING:
    from dualnet.data import ImageSplits


def normalised_arrays(splits: ImageSplits, subset: int | None) -> dict[str, np.ndarray]:
    """The ``Solver``'s data dict, plus the test split, as normalised float32 arrays."""
    from dualnet.data import normalize

    arrays = {}
    for split in ("train", "val", "test"):
        images, labels = getattr(splits, split)
        if split == "train" and subset is not None:
            images, labels = images[:subset], labels[:subset]
        arrays[f"X_{split}"] = normalize(images, splits.mean, splits.std).numpy()
        arrays[f"y_{split}"] = labels.numpy()
    return arrays


def update_rule(config: ClassifyConfig) -> tuple[str, dict]:
    """The ``Solver``'s update rule and its configuration for ``config``."""
    if config.optimizer == "sgd" and config.momentum:
        return "sgd_momentum", {"learning_rate": config.lr, "momentum": config.momentum}
    return config.optimizer, {"learning_rate": config.lr}


def epoch_recorder(config: ClassifyConfig, log: runs.MetricsLog, history: list, steps: int):
    """The ``Solver``'s ``on_epoch_end`` callback: one record per epoch, the curves redrawn."""
    clock = [time.perf_counter()]

    def on_epoch_end(solver) -> None:
        seconds = time.perf_counter() - clock[0]
        record = {
            "epoch": solver.epoch,
            "step": len(solver.loss_history),
            "train_loss": float(np.mean(solver.loss_history[-steps:])),
            "train_acc": solver.train_acc_history[-1],
            "val_acc": solver.val_acc_history[-1],
            "images_per_second": steps * config.batch_size / seconds,
            "seconds": seconds,
        }
        history.append(record)
        log.append(record)
        if config.progress:
            print(
                f"epoch {record['epoch']}/{config.epochs}: train loss {record['train_loss']:.4f}, "
                f"val acc {record['val_acc']:.4f}, {record['images_per_second']:.0f} images/s",
                flush=True,
            )
        if config.figures:
            curves = figures.learning_curves(history, title=f"NumPy {config.model}")
            figures.save(curves, log.path.parent / "curves.png")
        clock[0] = time.perf_counter()

    return on_epoch_end


def train_numpy(config: ClassifyConfig, splits: ImageSplits | None = None) -> TrainResult:
    """Train the ``reference_numpy`` model ``config.model`` with the ``Solver``."""
    from dualnet.data import load_images
    from reference_numpy.solver import Solver

    config.check()
    if config.backend != "numpy":
        raise ConfigError("train_numpy() runs the numpy backend; use train() for --backend torch")
    out_dir = runs.open_run_dir(config.out_dir, hint="start a new one elsewhere with --out")
    if splits is None:
        splits = load_images(config.data, config.data_root, image_size=config.image_size)
    data = normalised_arrays(splits, config.train_subset)
    runs.write_json(out_dir / "config.json", asdict(config))
    model = build_numpy_model(config, len(splits.classes), data["X_train"].shape[1:])
    rule, optim_config = update_rule(config)
    history: list[dict] = []
    steps = max(len(data["y_train"]) // config.batch_size, 1)
    log = runs.MetricsLog(out_dir / "metrics.jsonl")
    started = time.perf_counter()
    solver = Solver(
        model,
        {k: v for k, v in data.items() if not k.endswith("_test")},
        update_rule=rule,
        optim_config=optim_config,
        batch_size=config.batch_size,
        num_epochs=config.epochs,
        num_train_samples=1000,
        verbose=config.progress,
        print_every=10**9,
        seed=config.seed,
        on_epoch_end=epoch_recorder(config, log, history, steps),
        progress_bar=tqdm if config.progress else None,
    )
    solver.train()
    seconds = time.perf_counter() - started
    summary = finish_numpy(config, splits, model, data, solver, seconds, history)
    return TrainResult(
        out_dir=out_dir,
        history=history,
        steps=summary["steps"],
        finished=True,
        seconds=seconds,
        summary=summary,
    )


def finish_numpy(config, splits, model, data, solver, seconds: float, history: list) -> dict:
    """Test accuracy, checkpoints, ``params.npz``, the confusion matrix and ``summary.json``."""
    out_dir = runs.open_run_dir(config.out_dir, resuming=True)
    X_test, y_test = data["X_test"], data["y_test"]
    scores = np.concatenate([model.loss(X_test[i : i + 500]) for i in range(0, len(y_test), 500)])
    test_acc = metrics.accuracy(scores, y_test)
    steps = len(solver.loss_history)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "config": asdict(config),
        "step": steps,
        "model": {name: torch.from_numpy(value) for name, value in model.params.items()},
        "history": history,
        "best_val_acc": solver.best_val_acc,
        "seconds": seconds,
        "classes": list(splits.classes),
        "mean": list(splits.mean),
        "std": list(splits.std),
    }
    for name in ("best.pt", "last.pt"):
        runs.save_checkpoint(payload, out_dir / name)
    runs.save_npz(out_dir / "params.npz", model.params)
    runs.MetricsLog(out_dir / "metrics.jsonl").append(
        {"event": "finished", "step": steps, "test_acc": test_acc, "seconds": seconds}
    )
    if config.figures:
        counts = metrics.confusion_matrix(scores.argmax(axis=1), y_test, len(splits.classes))
        title = f"NumPy {config.model}: test"
        figures.save(
            figures.confusion(counts, splits.classes, title=title), out_dir / "confusion.png"
        )
    summary = {
        "finished": True,
        "steps": steps,
        "accuracy": test_acc,
        "best_val_accuracy": solver.best_val_acc,
        "seconds": seconds,
        "images_per_second": steps * config.batch_size / seconds,
    }
    runs.write_json(out_dir / "summary.json", summary)
    return summary
