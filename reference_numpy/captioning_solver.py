r"""Minibatch training of a NumPy captioning model, in the form of the classic
``CaptioningSolver``.

The model is anything with ``params`` (a dict of arrays) and ``loss(features, captions) ->
(loss, grads)``, for example ``reference_numpy.models.CaptioningRNN``. The data dict is the
course's::

    data = {"train_captions": (M, T + 1) ids, "train_image_idxs": (M,) image of each caption,
            "train_features": (N, D) or (N, D, 4, 4), and the same for "val", ...}

Usage::

    solver = CaptioningSolver(model, data, update_rule="adam",
                              optim_config={"learning_rate": 5e-3}, lr_decay=0.95,
                              num_epochs=10, batch_size=100, print_every=10, verbose=True)
    solver.train()
    solver.loss_history
"""

from __future__ import annotations

import numbers
from collections.abc import Callable

import numpy as np

from reference_numpy.optim import UPDATE_RULES

OPTIONS = {
    "update_rule": "sgd",
    "optim_config": None,
    "lr_decay": 1.0,
    "batch_size": 100,
    "num_epochs": 10,
    "print_every": 10,
    "verbose": True,
    "seed": None,
    "on_epoch_end": None,
    "progress_bar": None,
}
"""Every keyword ``CaptioningSolver`` accepts, with its default."""

DATA_KEYS = ("train_captions", "train_image_idxs", "train_features")


def _count(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"CaptioningSolver: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_data(data) -> None:
    if not isinstance(data, dict) or any(key not in data for key in DATA_KEYS):
        got = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"CaptioningSolver: data must hold the keys {list(DATA_KEYS)}, got {got}")
    captions, idxs = data["train_captions"], data["train_image_idxs"]
    if captions.ndim != 2 or idxs.shape != (captions.shape[0],):
        raise ValueError(
            f"CaptioningSolver: data['train_captions'] has shape {captions.shape} and "
            f"data['train_image_idxs'] {idxs.shape}, expected (M, T + 1) and (M,)"
        )
    if captions.shape[0] == 0:
        raise ValueError("CaptioningSolver: data['train_captions'] holds no captions")
    if idxs.min() < 0 or idxs.max() >= len(data["train_features"]):
        raise ValueError(
            f"CaptioningSolver: data['train_image_idxs'] points at image {idxs.max()}, but "
            f"data['train_features'] has {len(data['train_features'])} images"
        )


class CaptioningSolver:
    r"""Trains a captioning model by minibatch gradient descent.

    Every iteration draws ``batch_size`` training captions at random (with replacement, as the
    course does) with the features of their images, computes ``model.loss(features,
    captions)`` and applies the update rule to every parameter, each with its own config. An
    epoch is ``max(M // batch_size, 1)`` iterations; after each the learning rate is
    multiplied by ``lr_decay`` and ``on_epoch_end(solver)`` is called. The minibatches come
    from ``numpy.random.default_rng(seed)``: one seed, one run.

    Args:
        model: An object with ``params`` and ``loss(features, captions)``.
        data: The dict of the module docstring (only the ``train_*`` keys are read).
        **kwargs: ``update_rule`` (a name of ``reference_numpy.optim.UPDATE_RULES`` or a
            callable), ``optim_config``, ``lr_decay``, ``batch_size``, ``num_epochs``,
            ``print_every``, ``verbose``, ``seed``, ``on_epoch_end``, ``progress_bar`` (a
            ``tqdm``-like factory); defaults in :data:`OPTIONS`.

    Attributes:
        loss_history: The loss of every iteration.
        epoch: Epochs completed.
        optim_configs: The update rule's config of every parameter.
    """

    def __init__(self, model, data: dict, **kwargs) -> None:
        unknown = sorted(set(kwargs) - set(OPTIONS))
        if unknown:
            raise ValueError(
                f"CaptioningSolver: unknown keyword argument(s) {', '.join(unknown)}; the "
                f"known ones are {', '.join(OPTIONS)}"
            )
        _check_data(data)
        options = {**OPTIONS, **kwargs}
        self.model, self.data = model, data
        rule = options["update_rule"]
        if isinstance(rule, str) and rule not in UPDATE_RULES:
            raise ValueError(
                f"CaptioningSolver: update_rule {rule!r} is not known; the known update rules "
                f"are {', '.join(UPDATE_RULES)}"
            )
        self.update_rule: Callable = UPDATE_RULES[rule] if isinstance(rule, str) else rule
        self.optim_config = dict(options["optim_config"] or {})
        self.lr_decay = float(options["lr_decay"])
        if not self.lr_decay > 0:
            raise ValueError(f"CaptioningSolver: lr_decay must be positive, got {self.lr_decay}")
        self.batch_size = _count("batch_size", options["batch_size"], 1)
        self.num_epochs = _count("num_epochs", options["num_epochs"], 0)
        self.print_every = _count("print_every", options["print_every"], 1)
        self.verbose = bool(options["verbose"])
        self.seed = options["seed"]
        self.on_epoch_end = options["on_epoch_end"]
        self.progress_bar = options["progress_bar"]
        self._reset()

    def _reset(self) -> None:
        self.rng = np.random.default_rng(self.seed)
        self.epoch = 0
        self.loss_history: list[float] = []
        self.optim_configs = {name: dict(self.optim_config) for name in self.model.params}

    def sample_minibatch(self) -> tuple[np.ndarray, np.ndarray]:
        """``(captions (B, T + 1), features (B, ...))`` of ``batch_size`` random captions."""
        rows = self.rng.choice(len(self.data["train_captions"]), self.batch_size)
        images = self.data["train_image_idxs"][rows]
        return self.data["train_captions"][rows], self.data["train_features"][images]

    def _step(self) -> None:
        """One minibatch: loss, gradients, and an update of every parameter."""
        captions, features = self.sample_minibatch()
        loss, grads = self.model.loss(features, captions)
        self.loss_history.append(float(loss))
        for name, w in self.model.params.items():
            next_w, next_config = self.update_rule(w, grads[name], self.optim_configs[name])
            self.model.params[name] = next_w
            self.optim_configs[name] = next_config

    def train(self) -> None:
        """Run ``num_epochs`` epochs of iterations."""
        per_epoch = max(len(self.data["train_captions"]) // self.batch_size, 1)
        total = self.num_epochs * per_epoch
        iterations = range(total)
        bar = None
        if self.verbose and self.progress_bar is not None:
            bar = iterations = self.progress_bar(iterations, total=total, desc="training")
        for t in iterations:
            self._step()
            if self.verbose and t % self.print_every == 0:
                line = f"(Iteration {t + 1} / {total}) loss: {self.loss_history[-1]:f}"
                bar.write(line) if bar is not None else print(line)
            if (t + 1) % per_epoch == 0:
                self.epoch += 1
                for config in self.optim_configs.values():
                    config["learning_rate"] = config.get("learning_rate", 1e-2) * self.lr_decay
                if self.on_epoch_end is not None:
                    self.on_epoch_end(self)
        if bar is not None:
            bar.close()
