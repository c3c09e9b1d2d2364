r"""Minibatch training of a NumPy classification model, in the classic ``Solver`` form.

A model is anything with

* ``model.params``: a dict from parameter names to arrays, and
* ``model.loss(X, y=None)``: the class scores ``(N, C)`` when ``y`` is ``None``, else
  ``(loss, grads)`` with ``grads`` keyed like ``params``,

for example ``reference_numpy.models.FullyConnectedNet`` or ``ThreeLayerConvNet``. Usage::

    solver = Solver(model, data, update_rule="adam", optim_config={"learning_rate": 1e-3},
                    lr_decay=0.95, num_epochs=10, batch_size=100, seed=0)
    solver.train()
    solver.best_val_acc, solver.loss_history, solver.val_acc_history

After ``train()`` the model holds the parameters that scored best on the validation set.
"""

from __future__ import annotations

import numbers
import os
import pickle
from collections.abc import Callable

import numpy as np

from reference_numpy.optim import UPDATE_RULES
from reference_numpy.validation import NonFiniteError, check_array, check_real

OPTIONS = {
    "update_rule": "sgd",
    "optim_config": None,
    "lr_decay": 1.0,
    "batch_size": 100,
    "num_epochs": 10,
    "num_train_samples": 1000,
    "num_val_samples": None,
    "checkpoint_name": None,
    "print_every": 10,
    "verbose": True,
    "seed": None,
    "on_epoch_end": None,
    "progress_bar": None,
}
"""Every keyword ``Solver`` accepts, with its default."""

DATA_KEYS = ("X_train", "y_train", "X_val", "y_val")


def _count(func: str, name: str, value, minimum: int, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        also = " or None" if allow_none else ""
        raise ValueError(f"{func}: {name} must be an integer >= {minimum}{also}, got {value!r}")
    return int(value)


def _check_data(func: str, data) -> None:
    if not isinstance(data, dict) or any(key not in data for key in DATA_KEYS):
        got = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"{func}: data must be a dict with keys {list(DATA_KEYS)}, got {got}")
    for split in ("train", "val"):
        X, y = data[f"X_{split}"], data[f"y_{split}"]
        check_array(func, f"data['X_{split}']", X)
        check_array(func, f"data['y_{split}']", y)
        if X.ndim < 1 or y.ndim != 1 or X.shape[0] != y.shape[0]:
            raise ValueError(
                f"{func}: data['X_{split}'] has shape {X.shape} and data['y_{split}'] has shape "
                f"{y.shape}, expected (N, ...) and (N,) with the same N"
            )
        if X.shape[0] == 0:
            raise ValueError(f"{func}: data['X_{split}'] holds no examples")


class Solver:
    r"""Trains a classification model by minibatch gradient descent.

    Each iteration samples a minibatch of ``batch_size`` training examples (with
    replacement, as the classic Solver does), computes ``model.loss(X_batch, y_batch)`` and
    applies the update rule to every parameter, each with its own ``config``. An epoch is
    ``max(N_train // batch_size, 1)`` iterations. At the end of every epoch the learning rate
    of every parameter's config is multiplied by ``lr_decay``, the training and validation
    accuracies are measured, the parameters are kept if the validation accuracy is the best so
    far, a checkpoint is written (with ``checkpoint_name``) and ``on_epoch_end(solver)`` is
    called. The accuracies are also measured after the very first iteration, so with more than
    one iteration per epoch the histories hold ``num_epochs + 1`` entries.

    Randomness (the minibatches and the subsets on which accuracy is measured) comes from
    ``numpy.random.default_rng(seed)``, not from NumPy's global generator: the same seed, the
    same model and the same data give the same training run. (A model that draws fresh
    dropout masks adds randomness of its own.)

    Args:
        model: An object with ``params`` and ``loss(X, y=None)`` (see the module docstring).
        data: ``{'X_train': (N_train, ...), 'y_train': (N_train,), 'X_val': (N_val, ...),
            'y_val': (N_val,)}``.
        **kwargs: Options, each with its default in :data:`OPTIONS`:

            - ``update_rule``: a name in ``reference_numpy.optim.UPDATE_RULES`` (``'sgd'``,
              ``'sgd_momentum'``, ``'rmsprop'``, ``'adam'``) or a callable
              ``rule(w, dw, config) -> (next_w, config)``.
            - ``optim_config``: hyperparameters handed to the update rule, e.g.
              ``{'learning_rate': 1e-3}``; every parameter gets its own copy.
            - ``lr_decay``: factor applied to ``learning_rate`` after every epoch, ``> 0``.
            - ``batch_size``: examples per minibatch.
            - ``num_epochs``: epochs to train.
            - ``num_train_samples``: training examples on which the training accuracy is
              measured (a random subset; ``None`` for all).
            - ``num_val_samples``: the same for the validation accuracy (default ``None``: all).
            - ``checkpoint_name``: if given, ``{checkpoint_name}_epoch_{epoch}.pkl`` is written
              (with ``pickle``) at every accuracy check.
            - ``print_every``: print the loss every this many iterations when verbose.
            - ``verbose``: print the classic progress lines.
            - ``seed``: seed of the solver's ``numpy.random.Generator``; ``None`` draws fresh
              entropy.
            - ``on_epoch_end``: ``callback(solver)`` called at the end of every epoch, after
              the accuracy check (``solver.epoch``, the histories and ``best_val_acc`` are
              up to date), e.g. to log metrics.
            - ``progress_bar``: when verbose, a factory with ``tqdm``'s signature
              (``tqdm.tqdm`` itself) that wraps the iterations in a progress bar; the progress
              lines are then written through the bar. This package imports NumPy only, so the
              caller passes the factory in.

    Attributes:
        epoch: Epochs completed.
        loss_history: The loss of every iteration.
        train_acc_history: Training accuracy at every check.
        val_acc_history: Validation accuracy at every check.
        best_val_acc: The best validation accuracy seen.
        best_params: Copies of the parameters that reached it.
        optim_configs: The update rule's config of every parameter.

    Raises:
        ValueError: for an unknown keyword (the message lists the known ones), an unknown
            update rule name (the message lists the known rules), malformed ``data`` or an
            option outside its range.
    """

    def __init__(self, model, data: dict, **kwargs) -> None:
        func = "Solver"
        unknown = sorted(set(kwargs) - set(OPTIONS))
        if unknown:
            raise ValueError(
                f"{func}: unknown keyword argument(s) {', '.join(unknown)}; "
                f"the known ones are {', '.join(OPTIONS)}"
            )
        if not isinstance(getattr(model, "params", None), dict) or not callable(
            getattr(model, "loss", None)
        ):
            raise ValueError(
                f"{func}: model must have a dict `params` and a method `loss(X, y=None)`, "
                f"got {type(model).__name__}"
            )
        _check_data(func, data)
        options = {**OPTIONS, **kwargs}

        self.model = model
        self.X_train, self.y_train = data["X_train"], data["y_train"]
        self.X_val, self.y_val = data["X_val"], data["y_val"]

        rule = options["update_rule"]
        if isinstance(rule, str):
            if rule not in UPDATE_RULES:
                raise ValueError(
                    f"{func}: update_rule {rule!r} is not known; the known update rules are "
                    f"{', '.join(UPDATE_RULES)} (or pass a callable rule(w, dw, config))"
                )
            self.update_rule = UPDATE_RULES[rule]
        elif callable(rule):
            self.update_rule = rule
        else:
            raise ValueError(
                f"{func}: update_rule must be a name or a callable rule(w, dw, config), "
                f"got {rule!r}"
            )
        optim_config = options["optim_config"]
        if optim_config is not None and not isinstance(optim_config, dict):
            raise ValueError(
                f"{func}: optim_config must be a dict or None, got {type(optim_config).__name__}"
            )
        self.optim_config = dict(optim_config or {})
        self.lr_decay = check_real(func, "lr_decay", options["lr_decay"])
        if self.lr_decay <= 0:
            raise ValueError(f"{func}: lr_decay must be positive, got {self.lr_decay!r}")
        self.batch_size = _count(func, "batch_size", options["batch_size"], 1)
        self.num_epochs = _count(func, "num_epochs", options["num_epochs"], 0)
        self.num_train_samples = _count(
            func, "num_train_samples", options["num_train_samples"], 1, allow_none=True
        )
        self.num_val_samples = _count(
            func, "num_val_samples", options["num_val_samples"], 1, allow_none=True
        )
        self.checkpoint_name = options["checkpoint_name"]
        self.print_every = _count(func, "print_every", options["print_every"], 1)
        self.verbose = bool(options["verbose"])
        self.seed = _count(func, "seed", options["seed"], 0, allow_none=True)
        for name in ("on_epoch_end", "progress_bar"):
            if options[name] is not None and not callable(options[name]):
                raise ValueError(f"{func}: {name} must be callable or None, got {options[name]!r}")
        self.on_epoch_end: Callable | None = options["on_epoch_end"]
        self.progress_bar: Callable | None = options["progress_bar"]
        self._bar = None  # the progress bar while train() runs
        self._reset()

    def _reset(self) -> None:
        """Start over: a fresh generator from ``seed``, empty histories, fresh configs."""
        self.rng = np.random.default_rng(self.seed)
        self.epoch = 0
        self.best_val_acc = 0.0
        self.best_params: dict[str, np.ndarray] = {}
        self.loss_history: list[float] = []
        self.train_acc_history: list[float] = []
        self.val_acc_history: list[float] = []
        self.optim_configs = {name: dict(self.optim_config) for name in self.model.params}

    def _step(self) -> None:
        """One minibatch: loss, gradients, and an update of every parameter."""
        batch = self.rng.choice(self.X_train.shape[0], self.batch_size)
        try:
            loss, grads = self.model.loss(self.X_train[batch], self.y_train[batch])
        except NonFiniteError as error:  # the forward pass overflowed: say where and when
            raise self._stopped(f"{error}; {self._largest_parameter()}") from error
        self._stop_if_not_finite(loss, grads)
        self.loss_history.append(float(loss))
        for name, w in self.model.params.items():
            next_w, next_config = self.update_rule(w, grads[name], self.optim_configs[name])
            self.model.params[name] = next_w
            self.optim_configs[name] = next_config

    def _stopped(self, reason: str) -> FloatingPointError:
        """The error that stops training at the current step (1-based, as the progress lines
        count); the parameters are still those from before the step."""
        step = len(self.loss_history) + 1
        return FloatingPointError(
            f"Solver: stopped at step {step} (epoch {self.epoch}): {reason}. The parameters are "
            "those before this step; a smaller learning rate or weight_scale usually helps"
        )

    def _largest_parameter(self) -> str:
        sizes = {
            name: float(np.max(np.abs(p), initial=0.0)) for name, p in self.model.params.items()
        }
        name = max(sizes, key=sizes.get)
        return f"the largest parameter entry is {sizes[name]:.3g}, in {name!r}"

    def _stop_if_not_finite(self, loss, grads: dict) -> None:
        """Stop at the first step whose loss or gradients hold a NaN or an infinity: one more
        update would spread it into the parameters, and every later step would be wasted.

        Raises:
            FloatingPointError: naming the step, the epoch, the loss, and the parameters whose
                gradients are non-finite, the first of them in the order of ``model.params``.
        """
        bad = [name for name in self.model.params if not np.all(np.isfinite(grads[name]))]
        if np.isfinite(loss) and not bad:
            return
        if bad:
            where = f"the gradient of {bad[0]!r} went non-finite first"
            if len(bad) > 1:
                where += f" (non-finite gradients: {', '.join(bad)})"
        else:
            where = "every gradient is finite"
        raise self._stopped(f"the loss is {float(loss)} and {where}")

    def _decay_learning_rate(self) -> None:
        if self.lr_decay == 1.0:
            return
        for name, config in self.optim_configs.items():
            if "learning_rate" not in config:
                raise ValueError(
                    f"Solver: lr_decay needs a 'learning_rate' in the config of {name!r}; "
                    "give one in optim_config"
                )
            config["learning_rate"] *= self.lr_decay

    def _save_checkpoint(self) -> None:
        """Pickle the model and the training state to ``{checkpoint_name}_epoch_{epoch}.pkl``,
        written to a temporary file first so a crash never leaves half a checkpoint."""
        if self.checkpoint_name is None:
            return
        checkpoint = {
            "model": self.model,
            "update_rule": self.update_rule,
            "lr_decay": self.lr_decay,
            "optim_config": self.optim_config,
            "batch_size": self.batch_size,
            "num_train_samples": self.num_train_samples,
            "num_val_samples": self.num_val_samples,
            "epoch": self.epoch,
            "loss_history": self.loss_history,
            "train_acc_history": self.train_acc_history,
            "val_acc_history": self.val_acc_history,
        }
        filename = f"{self.checkpoint_name}_epoch_{self.epoch}.pkl"
        if self.verbose:
            self._print(f'Saving checkpoint to "{filename}"')
        partial = filename + ".partial"
        with open(partial, "wb") as f:
            pickle.dump(checkpoint, f)
        os.replace(partial, filename)

    def check_accuracy(
        self, X: np.ndarray, y: np.ndarray, num_samples: int | None = None, batch_size: int = 100
    ) -> float:
        r"""Fraction of examples whose highest score is their label.

        Args:
            X: Inputs, shape ``(N, ...)``.
            y: Labels, shape ``(N,)``.
            num_samples: If given and smaller than ``N``, measure on that many examples drawn
                without replacement by the solver's generator.
            batch_size: Examples scored per call of ``model.loss`` (bounds the memory used).

        Returns:
            The accuracy, a float in ``[0, 1]``.
        """
        func = "Solver.check_accuracy"
        check_array(func, "X", X)
        check_array(func, "y", y)
        if y.ndim != 1 or X.shape[0] != y.shape[0] or X.shape[0] == 0:
            raise ValueError(
                f"{func}: X has shape {X.shape} and y has shape {y.shape}, expected (N, ...) "
                "and (N,) with the same N >= 1"
            )
        num_samples = _count(func, "num_samples", num_samples, 1, allow_none=True)
        batch_size = _count(func, "batch_size", batch_size, 1)
        n = X.shape[0]
        if num_samples is not None and n > num_samples:
            subset = self.rng.choice(n, num_samples, replace=False)
            X, y, n = X[subset], y[subset], num_samples
        predictions = np.concatenate(
            [
                np.argmax(self.model.loss(X[start : start + batch_size]), axis=1)
                for start in range(0, n, batch_size)
            ]
        )
        return float(np.mean(predictions == y))

    def _print(self, line: str) -> None:
        if self._bar is not None and hasattr(self._bar, "write"):
            self._bar.write(line)
        else:
            print(line)

    def _check_and_keep_best(self) -> None:
        train_acc = self.check_accuracy(
            self.X_train, self.y_train, num_samples=self.num_train_samples
        )
        val_acc = self.check_accuracy(self.X_val, self.y_val, num_samples=self.num_val_samples)
        self.train_acc_history.append(train_acc)
        self.val_acc_history.append(val_acc)
        self._save_checkpoint()
        if self.verbose:
            self._print(
                f"(Epoch {self.epoch} / {self.num_epochs}) "
                f"train acc: {train_acc:f}; val_acc: {val_acc:f}"
            )
        # The first check always keeps the parameters, so that a run whose validation
        # accuracy stays 0 still ends with parameters.
        if not self.best_params or val_acc > self.best_val_acc:
            self.best_val_acc = val_acc
            self.best_params = {name: value.copy() for name, value in self.model.params.items()}

    def train(self) -> None:
        """Run the optimization for ``num_epochs`` epochs, then load the best parameters into
        the model.

        Raises:
            FloatingPointError: at the first step whose loss or gradient is NaN or infinite,
                naming the step and the parameter whose gradient went non-finite first; the
                model keeps the parameters from before that step.
        """
        num_train = self.X_train.shape[0]
        iterations_per_epoch = max(num_train // self.batch_size, 1)
        num_iterations = self.num_epochs * iterations_per_epoch
        iterations = range(num_iterations)
        self._bar = None
        if self.verbose and self.progress_bar is not None:
            self._bar = self.progress_bar(iterations, total=num_iterations, desc="training")
            iterations = self._bar

        for t in iterations:
            self._step()
            if self.verbose and t % self.print_every == 0:
                self._print(
                    f"(Iteration {t + 1} / {num_iterations}) loss: {self.loss_history[-1]:f}"
                )
            epoch_end = (t + 1) % iterations_per_epoch == 0
            if epoch_end:
                self.epoch += 1
                self._decay_learning_rate()
            if t == 0 or t == num_iterations - 1 or epoch_end:
                self._check_and_keep_best()
            if epoch_end and self.on_epoch_end is not None:
                self.on_epoch_end(self)

        if self._bar is not None and hasattr(self._bar, "close"):
            self._bar.close()
        self._bar = None
        if self.best_params:
            self.model.params = {name: value.copy() for name, value in self.best_params.items()}
