"""Training the ``reference_numpy`` captioning model with the ``CaptioningSolver``: the same
run directory as the torch backend.

The features are those the torch backend reads; the solver draws its minibatches with
replacement (as the course does) and decays the rate after every epoch. The run writes
``metrics.jsonl``, ``curves.png``, ``summary.json``, ``params.npz`` and a ``last.pt`` /
``best.pt`` checkpoint in the common format, so ``dualnet caption eval`` and ``sample`` read a
NumPy run like any other.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from dualnet.apps import figures, runs
from dualnet.apps.caption.config import CHECKPOINT_FORMAT, CaptionConfig
from dualnet.apps.caption.train import (
    VAL_CAPTIONS,
    Prepared,
    non_finite,
    prepare,
    training_rows,
)
from dualnet.apps.loop import TrainResult
from dualnet.apps.settings import ConfigError
from reference_numpy.captioning_solver import CaptioningSolver
from reference_numpy.models.captioning import CaptioningRNN
from reference_numpy.validation import NonFiniteError


def numpy_model(config: CaptionConfig, word_to_idx: dict, input_dim: int) -> CaptioningRNN:
    """The NumPy model of ``config``, with the torch model's initial weights for the seed."""
    return CaptioningRNN(
        word_to_idx,
        input_dim=input_dim,
        wordvec_dim=config.wordvec_dim,
        hidden_dim=config.hidden_dim,
        cell_type=config.cell,
        dtype=np.dtype(config.dtype),
        seed=config.seed,
    )


def numpy_val_loss(model: CaptioningRNN, prepared: Prepared) -> float:
    part = prepared.data.splits["val"]
    rows = slice(0, VAL_CAPTIONS)
    features = prepared.inputs["val"][part.image_idxs[rows]]
    return float(model.loss(features, part.captions[rows])[0])


def epoch_recorder(config: CaptionConfig, prepared: Prepared, log, history: list, per_epoch):
    """The solver's ``on_epoch_end``: one record per epoch, the curves redrawn."""
    started = time.perf_counter()

    def on_epoch_end(solver) -> None:
        record = {
            "epoch": solver.epoch,
            "step": len(solver.loss_history),
            "lr": next(iter(solver.optim_configs.values()))["learning_rate"],
            "train_loss": float(np.mean(solver.loss_history[-per_epoch:])),
            "val_loss": numpy_val_loss(solver.model, prepared),
            "seconds": time.perf_counter() - started,
        }
        history.append(record)
        log.append(record)
        if config.progress:
            print(
                f"epoch {record['epoch']}/{config.epochs}: train loss {record['train_loss']:.4f}, "
                f"val loss {record['val_loss']:.4f}",
                flush=True,
            )
        if config.figures:
            curves = figures.learning_curves(history, title=f"NumPy caption {config.cell}")
            figures.save(curves, log.path.parent / "curves.png")

    return on_epoch_end


def train_numpy(config: CaptionConfig, prepared: Prepared | None = None) -> TrainResult:
    """Train the NumPy ``CaptioningRNN`` of ``config`` with the ``CaptioningSolver``."""
    config.check()
    if config.backend != "numpy":
        raise ConfigError("train_numpy() runs the numpy backend; use train() for --backend torch")
    out_dir = runs.open_run_dir(config.out_dir, hint="start a new one elsewhere with --out")
    prepared = prepare(config) if prepared is None else prepared
    runs.write_json(out_dir / "config.json", asdict(config))
    captions, idxs = training_rows(config, prepared)
    model = numpy_model(config, prepared.data.word_to_idx, prepared.input_dim)
    features = prepared.inputs["train"]
    if features.dtype != model.dtype:
        features = features.astype(model.dtype)
    data = {"train_captions": captions, "train_image_idxs": idxs, "train_features": features}
    per_epoch = max(len(captions) // config.batch_size, 1)
    history: list[dict] = []
    log = runs.MetricsLog(out_dir / "metrics.jsonl")
    started = time.perf_counter()
    solver = CaptioningSolver(
        model,
        data,
        update_rule="adam",
        optim_config={"learning_rate": config.lr},
        lr_decay=config.lr_decay,
        num_epochs=config.epochs,
        batch_size=config.batch_size,
        print_every=10**9,
        verbose=config.progress,
        seed=config.seed,
        on_epoch_end=epoch_recorder(config, prepared, log, history, per_epoch),
        progress_bar=tqdm if config.progress else None,
    )
    try:
        with np.errstate(all="ignore"):  # a non-finite number stops the run, said in one line
            solver.train()
    except NonFiniteError as error:  # the scores overflowed: the loss refuses them
        raise FloatingPointError(non_finite(len(solver.loss_history), config, str(error))) from None
    return finish_numpy(config, prepared, model, solver, history, time.perf_counter() - started)


def finish_numpy(config, prepared, model, solver, history: list, seconds: float) -> TrainResult:
    """``last.pt`` and ``best.pt`` (the same: the solver keeps no best), ``params.npz`` (the
    parameters, for NumPy users) and ``summary.json``."""
    out_dir = Path(config.out_dir)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "config": asdict(config),
        "step": len(solver.loss_history),
        "model": {name: torch.from_numpy(value) for name, value in model.params.items()},
        "history": history,
        "seconds": seconds,
        "idx_to_word": list(prepared.data.idx_to_word),
        "input_dim": prepared.input_dim,
    }
    for name in ("last.pt", "best.pt"):
        runs.save_checkpoint(payload, out_dir / name)
    runs.save_npz(out_dir / "params.npz", model.params)
    summary = {
        "finished": True,
        "steps": len(solver.loss_history),
        "cell": config.cell,
        "backend": "numpy",
        **{key: history[-1][key] for key in ("train_loss", "val_loss") if history},
        "seconds": seconds,
        "steps_per_second": len(solver.loss_history) / max(seconds, 1e-9),
    }
    runs.write_json(out_dir / "summary.json", summary)
    return TrainResult(out_dir, history, summary["steps"], True, seconds, summary=summary)
