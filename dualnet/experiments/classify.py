"""Image classification end to end: build a model by name, train it, evaluate a checkpoint.

One training loop serves every PyTorch model, from the barebones two-layer net to the ResNets:

* data stays in memory as uint8 tensors (on the GPU when there is one); every epoch draws a
  permutation and every step its augmentation from generators seeded by ``(seed, epoch)`` and
  ``(seed, step)``, so any step can be recomputed exactly: that is what makes **exact resume**
  possible (and it is tested);
* the learning rate is a pure function of the step (linear warm-up, then cosine or steps), so
  it needs no scheduler state;
* on CUDA the forward pass runs under bf16 autocast with channels-last tensors; ``compile``
  wraps the model in ``torch.compile``;
* launched by ``torchrun`` with several processes, each process takes its share of every
  global batch and ``DistributedDataParallel`` averages the gradients, so the run computes
  the same updates as one process with the whole batch (tested with two gloo processes);
* rank 0 shows a tqdm progress bar, appends one JSON line per epoch to ``metrics.jsonl``,
  redraws ``curves.png``, and writes ``last.pt`` (and ``best.pt``) atomically.

The NumPy backend (:func:`train_numpy`) trains ``reference_numpy`` models with the ``Solver``.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from dualnet import metrics, plots
from dualnet.experiments import runtime
from torch_impl.levels import barebones, module, sequential
from torch_impl.models.resnet import RESNETS, resnet

if TYPE_CHECKING:
    from dualnet.data import ImageSplits

SMALL_MODELS = ("fc2", "convnet3")
LEVELS = ("barebones", "module", "sequential")
MODELS = (*SMALL_MODELS, *RESNETS)
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("cosine", "step", "constant")
CHECKPOINT_FORMAT = "dualnet-classify-1"


@dataclass
class TrainConfig:
    """Everything that defines a training run; stored in every checkpoint.

    ``batch_size`` is the global batch: with ``W`` processes each takes ``batch_size / W``.
    ``stop_after_steps`` ends the run early after that many steps (a checkpoint is written),
    to be continued later with ``resume``. ``progress`` shows a progress bar; ``figures``
    redraws ``curves.png`` after every epoch and draws ``confusion.png`` at the end.
    """

    model: str = "resnet-preact20"
    level: str = "module"
    data: str = "embedded"
    data_root: str | None = None
    epochs: int = 5
    batch_size: int = 128
    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "cosine"
    warmup_epochs: float = 0.0
    label_smoothing: float = 0.0
    augment: bool = True
    train_subset: int | None = None
    device: str = "auto"
    compile: bool = False
    seed: int = 0
    out_dir: str = "runs/classify"
    checkpoint_every: int = 0
    stop_after_steps: int | None = None
    resume: str | None = None
    progress: bool = True
    figures: bool = True

    def check(self) -> None:
        """Raise ``ValueError`` for an impossible configuration, naming the field."""
        choices = {
            "model": MODELS,
            "level": LEVELS,
            "optimizer": OPTIMIZERS,
            "schedule": SCHEDULES,
            "device": runtime.DEVICES,
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(
                    f"{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}"
                )
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if self.level != "module" and self.model not in SMALL_MODELS:
            raise ValueError(
                f"level {self.level!r} exists for {' and '.join(SMALL_MODELS)} only; "
                f"{self.model} is an nn.Module"
            )
        if self.level == "barebones" and (
            self.optimizer != "sgd" or self.momentum or self.weight_decay
        ):
            raise ValueError(
                "the barebones level trains with its hand-written SGD step: use --optimizer sgd "
                "--momentum 0 --weight-decay 0"
            )


def recipe(model: str, level: str = "module") -> dict:
    """Default hyperparameters for a model on the embedded data (the CLI's defaults).

    The small networks train with a constant learning rate (plain SGD at the barebones level,
    whose update is written by hand, Adam otherwise) and no augmentation: their last layer sees
    every position separately, and on short runs random crops cost them more than they help.
    The ResNets train with SGD, Nesterov momentum, weight decay, a cosine schedule and random
    crops and flips.
    """
    if model in SMALL_MODELS:
        if level == "barebones":
            return {
                "optimizer": "sgd",
                "lr": 0.01,
                "momentum": 0.0,
                "weight_decay": 0.0,
                "schedule": "constant",
                "warmup_epochs": 0.0,
                "augment": False,
            }
        return {
            "optimizer": "adam",
            "lr": 1e-3,
            "momentum": 0.9,
            "weight_decay": 0.0,
            "schedule": "constant",
            "warmup_epochs": 0.0,
            "augment": False,
        }
    return {
        "optimizer": "sgd",
        "lr": 0.1,
        "momentum": 0.9,
        "weight_decay": 5e-4,
        "schedule": "cosine",
        "warmup_epochs": 0.5,
        "augment": True,
    }


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------


def build_model(config: TrainConfig, num_classes: int, image_shape=(3, 32, 32)):
    """The model ``config.model`` at ``config.level``, on the CPU, seeded by ``config.seed``."""
    channels, size, _ = image_shape
    generator = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    if config.model == "fc2":
        dims = (channels * size * size, 512, num_classes)
        if config.level == "barebones":
            params = barebones.init_two_layer_fc(*dims, generator=generator)
            return barebones.BarebonesModel(barebones.two_layer_fc, params)
        if config.level == "module":
            return module.TwoLayerFC(*dims)
        return sequential.two_layer_fc(*dims)
    if config.model == "convnet3":
        dims = (channels, size, 32, 16, num_classes)
        if config.level == "barebones":
            params = barebones.init_three_layer_convnet(*dims, generator=generator)
            return barebones.BarebonesModel(barebones.three_layer_convnet, params)
        if config.level == "module":
            return module.ThreeLayerConvNet(*dims)
        return sequential.three_layer_convnet(*dims)
    return resnet(config.model, num_classes=num_classes, in_channels=channels)


def build_optimizer(config: TrainConfig, model):
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


def learning_rate(config: TrainConfig, step: int, total_steps: int, steps_per_epoch: int) -> float:
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


# --------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------


def autocast(device: torch.device):
    """bf16 autocast on CUDA; nothing on the CPU."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


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
        with autocast(device):
            out = model(prepare(images[start : start + batch_size], mean, std, device))
        scores.append(out.float().cpu())
    model.train()
    return torch.cat(scores) if scores else torch.zeros(0)


def evaluate(model, split: tuple[torch.Tensor, torch.Tensor], mean, std, device) -> dict:
    """Loss, accuracy and predictions of ``model`` on one split."""
    images, labels = split
    scores = predict(model, images, mean, std, device)
    return {
        "loss": float(F.cross_entropy(scores, labels)) if len(labels) else float("nan"),
        "acc": metrics.accuracy(scores, labels),
        "predictions": scores.argmax(dim=1),
    }


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------


@dataclass
class TrainResult:
    """What a finished (or stopped) run leaves behind."""

    out_dir: Path
    history: list[dict]
    best_val_acc: float
    test_acc: float | None
    steps: int
    finished: bool
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)


def checkpoint_payload(config, raw_model, optimizer, step, history, best_val_acc, splits) -> dict:
    return {
        "format": CHECKPOINT_FORMAT,
        "config": asdict(config),
        "step": step,
        "model": raw_model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "history": history,
        "best_val_acc": best_val_acc,
        "classes": list(splits.classes),
        "mean": list(splits.mean),
        "std": list(splits.std),
    }


def config_from_checkpoint(checkpoint: dict) -> TrainConfig:
    if checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(
            f"not a dualnet classification checkpoint (format {checkpoint.get('format')!r})"
        )
    known = {f.name for f in fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in checkpoint["config"].items() if k in known})


SAME_RUN_FIELDS = (
    "model",
    "level",
    "data",
    "epochs",
    "batch_size",
    "seed",
    "train_subset",
    "optimizer",
    "schedule",
    "augment",
)


def train(config: TrainConfig, splits: ImageSplits | None = None) -> TrainResult:
    """Train ``config.model`` on ``config.data`` (or on ``splits`` when given); see the module
    docstring for what the loop guarantees."""
    from dualnet.data import augment, load_images

    config.check()
    context = runtime.distributed_context(config.device)
    device = runtime.resolve_device(config.device, context.local_rank)
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)
    if config.batch_size % context.world_size:
        raise ValueError(
            f"batch_size {config.batch_size} must divide evenly among "
            f"{context.world_size} processes"
        )
    if splits is None:
        splits = load_images(config.data, config.data_root)
    train_images, train_labels = splits.train
    if config.train_subset is not None:
        train_images = train_images[: config.train_subset]
        train_labels = train_labels[: config.train_subset]
    steps_per_epoch = len(train_labels) // config.batch_size
    if steps_per_epoch == 0:
        raise ValueError(
            f"batch_size {config.batch_size} is larger than the {len(train_labels)} training images"
        )
    total_steps = steps_per_epoch * config.epochs

    raw_model = build_model(config, len(splits.classes), tuple(train_images.shape[1:]))
    raw_model.to(device)
    if device.type == "cuda" and isinstance(raw_model, torch.nn.Module):
        raw_model.to(memory_format=torch.channels_last)
    optimizer = build_optimizer(config, raw_model)

    out_dir = Path(config.out_dir)
    log = runtime.MetricsLog(out_dir / "metrics.jsonl")
    history, best_val_acc, start_step = [], -1.0, 0
    if config.resume:
        checkpoint = runtime.load_checkpoint(config.resume, map_location=device)
        previous = config_from_checkpoint(checkpoint)
        for name in SAME_RUN_FIELDS:
            if getattr(previous, name) != getattr(config, name):
                raise ValueError(
                    f"cannot resume: the checkpoint was made with "
                    f"{name}={getattr(previous, name)!r}, this run has "
                    f"{name}={getattr(config, name)!r}"
                )
        raw_model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        history, best_val_acc, start_step = (
            checkpoint["history"],
            checkpoint["best_val_acc"],
            checkpoint["step"],
        )
        if context.is_main:
            log.rewrite(history)  # drop records written after the checkpoint
    elif context.is_main and (log.path.exists() or (out_dir / "last.pt").exists()):
        raise ValueError(
            f"{out_dir} already holds a run; continue it with --resume {out_dir / 'last.pt'} "
            "or start a new one elsewhere with --out"
        )

    model = raw_model
    if config.compile and isinstance(raw_model, torch.nn.Module):
        model = torch.compile(raw_model)
    if context.active:
        if not isinstance(raw_model, torch.nn.Module):
            raise ValueError(
                "data-parallel training needs an nn.Module: use level module or sequential"
            )
        model = DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )

    train_images = train_images.to(device)
    train_labels = train_labels.to(device)
    per_rank = config.batch_size // context.world_size
    mean, std = splits.mean, splits.std

    saved = {"last.pt": start_step}

    def save(name: str, step: int) -> None:
        saved[name] = step
        if context.is_main:
            payload = checkpoint_payload(
                config, raw_model, optimizer, step, history, best_val_acc, splits
            )
            runtime.save_checkpoint(payload, out_dir / name)

    step = start_step
    started = time.perf_counter()
    stop_at = (
        total_steps
        if config.stop_after_steps is None
        else min(total_steps, config.stop_after_steps)
    )
    bar = tqdm(
        total=total_steps,
        initial=start_step,
        unit="step",
        desc=config.model,
        disable=None if (config.progress and context.is_main) else True,
        leave=False,
    )
    epoch_loss = torch.zeros((), device=device)
    epoch_correct = torch.zeros((), device=device)
    epoch_seen, epoch_started = 0, time.perf_counter()
    while step < stop_at:
        epoch, index = divmod(step, steps_per_epoch)
        permutation = torch.randperm(
            len(train_labels),
            generator=torch.Generator().manual_seed(runtime.derived_seed(config.seed, epoch)),
        ).to(device)
        batch = permutation[index * config.batch_size : (index + 1) * config.batch_size]
        images, labels = train_images[batch], train_labels[batch]
        if config.augment:
            generator = torch.Generator(device=device).manual_seed(
                runtime.derived_seed(config.seed, epoch, index)
            )
            images = augment(images, generator)
        shard = slice(context.rank * per_rank, (context.rank + 1) * per_rank)
        images, labels = images[shard], labels[shard]
        torch.manual_seed(runtime.derived_seed(config.seed, step, context.rank))

        for group in optimizer.param_groups:
            group["lr"] = learning_rate(config, step, total_steps, steps_per_epoch)
        with autocast(device):
            scores = model(prepare(images, mean, std, device))
        loss = F.cross_entropy(scores.float(), labels, label_smoothing=config.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        bar.update(1)

        epoch_loss += loss.detach() * len(labels)
        epoch_correct += (scores.detach().argmax(dim=1) == labels).sum()
        epoch_seen += len(labels)
        if config.checkpoint_every and step % config.checkpoint_every == 0:
            save("last.pt", step)

        if step % steps_per_epoch == 0:
            seconds = time.perf_counter() - epoch_started
            record = {
                "epoch": step // steps_per_epoch,
                "step": step,
                "lr": optimizer.param_groups[0]["lr"],
                "train_loss": float(epoch_loss) / epoch_seen,
                "train_acc": float(epoch_correct) / epoch_seen,
                "images_per_second": epoch_seen * context.world_size / seconds,
                "seconds": seconds,
            }
            if context.is_main:
                val = evaluate(raw_model, splits.val, mean, std, device)
                record.update(val_loss=val["loss"], val_acc=val["acc"])
                history.append(record)
                log.append(record)
                bar.set_postfix(loss=f"{record['train_loss']:.3f}", val=f"{val['acc']:.3f}")
                if config.figures:
                    curves = plots.learning_curves(history, title=config.model)
                    plots.save(curves, out_dir / "curves.png")
                if val["acc"] > best_val_acc:
                    best_val_acc = val["acc"]
                    save("best.pt", step)
            save("last.pt", step)
            epoch_loss.zero_()
            epoch_correct.zero_()
            epoch_seen, epoch_started = 0, time.perf_counter()
    bar.close()
    if saved["last.pt"] != step:
        save("last.pt", step)

    finished = step == total_steps
    test_acc = None
    if finished and context.is_main:
        test = evaluate(raw_model, splits.test, mean, std, device)
        test_acc = test["acc"]
        summary = {
            "event": "finished",
            "step": step,
            "test_loss": test["loss"],
            "test_acc": test_acc,
            "best_val_acc": best_val_acc,
            "seconds": time.perf_counter() - started,
        }
        log.append(summary)
        if config.figures:
            labels = splits.test[1].numpy()
            counts = metrics.confusion_matrix(
                test["predictions"].numpy(), labels, len(splits.classes)
            )
            figure = plots.confusion(counts, splits.classes, title=f"{config.model}: test")
            plots.save(figure, out_dir / "confusion.png")
    if context.active:
        torch.distributed.barrier()
    return TrainResult(
        out_dir,
        history,
        best_val_acc,
        test_acc,
        step,
        finished,
        seconds=time.perf_counter() - started,
    )


# --------------------------------------------------------------------------------------------
# Evaluating a checkpoint
# --------------------------------------------------------------------------------------------


def evaluate_checkpoint(
    path: str | Path,
    split: str = "test",
    data_root: str | None = None,
    device: str = "auto",
    figures_dir: str | Path | None = None,
    splits: ImageSplits | None = None,
) -> dict:
    """Accuracy of a saved model on ``split`` (``val`` or ``test``); with ``figures_dir``, also
    a confusion matrix and a grid of misclassified examples there."""
    from dualnet.data import load_images

    if split not in ("val", "test"):
        raise ValueError(f"split must be 'val' or 'test', got {split!r}")
    checkpoint = runtime.load_checkpoint(path)
    config = config_from_checkpoint(checkpoint)
    if splits is None:
        splits = load_images(config.data, data_root or config.data_root)
    target = runtime.resolve_device(device)
    model = build_model(config, len(checkpoint["classes"]), tuple(splits.train[0].shape[1:]))
    model.load_state_dict(checkpoint["model"])
    model.to(target)
    images, labels = getattr(splits, split)
    result = evaluate(model, (images, labels), checkpoint["mean"], checkpoint["std"], target)
    predictions = result["predictions"].numpy()
    counts = metrics.confusion_matrix(predictions, labels.numpy(), len(checkpoint["classes"]))
    summary = {
        "checkpoint": str(path),
        "model": config.model,
        "level": config.level,
        "data": config.data,
        "split": split,
        "step": checkpoint["step"],
        "images": len(labels),
        "loss": result["loss"],
        "acc": result["acc"],
        "per_class_acc": {
            name: float(counts[i, i] / max(1, counts[i].sum()))
            for i, name in enumerate(checkpoint["classes"])
        },
    }
    if figures_dir is not None:
        figures_dir = Path(figures_dir)
        classes = checkpoint["classes"]
        plots.save(
            plots.confusion(counts, classes, title=f"{config.model}: {split}"),
            figures_dir / "confusion.png",
        )
        wrong = np.flatnonzero(predictions != labels.numpy())[:32]
        captions = [f"{classes[labels[i]]} -> {classes[predictions[i]]}" for i in wrong]
        plots.save(
            plots.image_grid(
                images[wrong].numpy(), captions, title="misclassified (true -> predicted)"
            ),
            figures_dir / "misclassified.png",
        )
        summary["figures"] = [
            str(figures_dir / "confusion.png"),
            str(figures_dir / "misclassified.png"),
        ]
    return summary


# --------------------------------------------------------------------------------------------
# The NumPy backend
# --------------------------------------------------------------------------------------------

NUMPY_MODELS = ("fc2", "convnet3")
NUMPY_UPDATE_RULES = {"sgd": "sgd", "adam": "adam"}


def numpy_recipe(model: str) -> dict:
    """Default hyperparameters for the NumPy models (the CLI's defaults with --backend numpy)."""
    return {
        "optimizer": "adam",
        "lr": 1e-3,
        "momentum": 0.0,
        "weight_decay": 1e-3,
        "schedule": "constant",
        "augment": False,
        "batch_size": 64,
    }


def build_numpy_model(config: TrainConfig, num_classes: int, image_shape=(3, 32, 32)):
    from reference_numpy.models import FullyConnectedNet, ThreeLayerConvNet

    if config.model == "fc2":
        return FullyConnectedNet(
            [512],
            input_dim=int(np.prod(image_shape)),
            num_classes=num_classes,
            reg=config.weight_decay,
            weight_scale=np.sqrt(2 / np.prod(image_shape)),
            dtype=np.float32,
            seed=config.seed,
        )
    return ThreeLayerConvNet(
        input_dim=tuple(image_shape),
        num_filters=32,
        filter_size=7,
        hidden_dim=100,
        num_classes=num_classes,
        weight_scale=1e-2,
        reg=config.weight_decay,
        dtype=np.float32,
        seed=config.seed,
    )


def train_numpy(config: TrainConfig, splits: ImageSplits | None = None) -> TrainResult:
    """Train a ``reference_numpy`` model with the ``Solver`` on normalised images.

    ``sgd`` with momentum maps to the classic ``sgd_momentum`` rule, ``adam`` to ``adam``;
    the learning rate is constant (``schedule`` must be ``constant``) and there is no
    augmentation. Writes ``metrics.jsonl``, ``curves.png``, ``confusion.png`` and the
    parameters with the best validation accuracy to ``params.npz`` (atomically).
    """
    from dualnet.data import load_images, normalize
    from reference_numpy.solver import Solver

    config.check()
    if config.model not in NUMPY_MODELS:
        raise ValueError(
            f"the NumPy backend trains {', '.join(NUMPY_MODELS)}, not {config.model!r}"
        )
    if (
        config.optimizer not in NUMPY_UPDATE_RULES
        or config.schedule != "constant"
        or config.augment
    ):
        raise ValueError(
            "the NumPy backend supports --optimizer sgd or adam, --schedule constant and "
            "--no-augment"
        )
    if config.resume:
        raise ValueError("the NumPy backend does not resume runs; start a new one")
    if splits is None:
        splits = load_images(config.data, config.data_root)

    def arrays(split):
        images, labels = split
        return normalize(images, splits.mean, splits.std).numpy(), labels.numpy()

    X_train, y_train = arrays(splits.train)
    if config.train_subset is not None:
        X_train, y_train = X_train[: config.train_subset], y_train[: config.train_subset]
    X_val, y_val = arrays(splits.val)
    X_test, y_test = arrays(splits.test)
    out_dir = Path(config.out_dir)
    log = runtime.MetricsLog(out_dir / "metrics.jsonl")
    if log.path.exists():
        raise ValueError(f"{out_dir} already holds a run; start a new one elsewhere with --out")

    model = build_numpy_model(config, len(splits.classes), X_train.shape[1:])
    rule = NUMPY_UPDATE_RULES[config.optimizer]
    optim_config = {"learning_rate": config.lr}
    if rule == "sgd" and config.momentum:
        rule, optim_config["momentum"] = "sgd_momentum", config.momentum
    history: list[dict] = []
    epoch_started = [time.perf_counter()]

    def on_epoch_end(solver) -> None:
        seconds = time.perf_counter() - epoch_started[0]
        iterations = max(len(y_train) // config.batch_size, 1)
        recent = solver.loss_history[-iterations:]
        record = {
            "epoch": solver.epoch,
            "train_loss": float(np.mean(recent)),
            "train_acc": solver.train_acc_history[-1],
            "val_acc": solver.val_acc_history[-1],
            "images_per_second": iterations * config.batch_size / seconds,
            "seconds": seconds,
        }
        history.append(record)
        log.append(record)
        plots.save(
            plots.learning_curves(history, title=f"NumPy {config.model}"), out_dir / "curves.png"
        )
        epoch_started[0] = time.perf_counter()

    started = time.perf_counter()
    solver = Solver(
        model,
        {"X_train": X_train, "y_train": y_train, "X_val": X_val, "y_val": y_val},
        update_rule=rule,
        optim_config=optim_config,
        batch_size=config.batch_size,
        num_epochs=config.epochs,
        num_train_samples=1000,
        verbose=config.progress,
        print_every=10**9,
        seed=config.seed,
        on_epoch_end=on_epoch_end,
        progress_bar=tqdm if config.progress else None,
    )
    solver.train()
    scores = np.concatenate([model.loss(X_test[i : i + 500]) for i in range(0, len(y_test), 500)])
    test_acc = metrics.accuracy(scores, y_test)
    log.append(
        {
            "event": "finished",
            "test_acc": test_acc,
            "best_val_acc": solver.best_val_acc,
            "seconds": time.perf_counter() - started,
        }
    )
    counts = metrics.confusion_matrix(scores.argmax(axis=1), y_test, len(splits.classes))
    plots.save(
        plots.confusion(counts, splits.classes, title=f"NumPy {config.model}: test"),
        out_dir / "confusion.png",
    )
    save_npz(out_dir / "params.npz", model.params)
    return TrainResult(
        out_dir,
        history,
        solver.best_val_acc,
        test_acc,
        steps=len(solver.loss_history),
        finished=True,
        seconds=time.perf_counter() - started,
    )


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """``numpy.savez`` to a temporary file, then rename it over ``path``."""
    temporary = path.with_name(f".{path.name}.tmp.npz")
    np.savez(temporary, **arrays)
    temporary.replace(path)
    return path
