"""The Solver: the learning-rate schedule, the kept best parameters, the histories, the seed,
accuracy checks, callbacks, progress output, checkpoints, and errors on bad options.

Most tests drive toy models whose trajectory is known in closed form, so every expected number
is computed by hand.
"""

import pickle

import numpy as np
import pytest

from reference_numpy.models import FullyConnectedNet
from reference_numpy.optim import sgd
from reference_numpy.solver import Solver

pytestmark = [pytest.mark.optim, pytest.mark.classify]


class Counter:
    """A one-parameter model that reports ``w`` as its loss and -1 as its gradient: with SGD
    each step adds the learning rate to ``w``. It predicts class 1 exactly when
    ``low <= w <= high``."""

    def __init__(self, low: float = -np.inf, high: float = np.inf) -> None:
        self.params = {"w": np.zeros(1)}
        self.low, self.high = low, high
        self.batches: list[np.ndarray] = []

    def loss(self, X, y=None):
        if y is None:
            inside = float(self.low <= self.params["w"][0] <= self.high)
            return np.tile([0.5, inside], (X.shape[0], 1))
        self.batches.append(X[:, 0].copy())
        return float(self.params["w"][0]), {"w": -np.ones(1)}


def counting_data(n_train: int = 4, n_val: int = 3) -> dict:
    """Training examples numbered 0 .. n_train-1 (so minibatches can be traced); every label
    is 1, so the accuracy is 1 while the Counter predicts class 1 and 0 otherwise."""
    return {
        "X_train": np.arange(n_train, dtype=np.float64).reshape(-1, 1),
        "y_train": np.ones(n_train, dtype=np.int64),
        "X_val": np.zeros((n_val, 1)),
        "y_val": np.ones(n_val, dtype=np.int64),
    }


def test_learning_rate_decays_once_per_epoch():
    model = Counter()
    seen = []
    solver = Solver(
        model,
        counting_data(),
        update_rule="sgd",
        optim_config={"learning_rate": 1.0},
        lr_decay=0.5,
        batch_size=2,
        num_epochs=3,
        verbose=False,
        seed=0,
        on_epoch_end=lambda s: seen.append(s.model.params["w"][0]),
    )
    solver.train()
    # 2 iterations per epoch at rates 1, 0.5, 0.25: w = 2, 3, 3.5 at the epoch ends
    assert seen == [2.0, 3.0, 3.5]
    assert solver.optim_configs["w"]["learning_rate"] == 0.125
    # the caller's optim_config is left alone
    assert solver.optim_config == {"learning_rate": 1.0}


def test_history_lengths():
    solver = Solver(Counter(), counting_data(10), batch_size=3, num_epochs=4, verbose=False)
    solver.train()
    # 10 // 3 = 3 iterations per epoch; accuracy after iteration 1 and after every epoch
    assert len(solver.loss_history) == 12
    assert len(solver.train_acc_history) == len(solver.val_acc_history) == 5
    assert solver.epoch == 4

    # one iteration per epoch: the first check is also the first epoch's
    solver = Solver(Counter(), counting_data(4), batch_size=4, num_epochs=3, verbose=False)
    solver.train()
    assert len(solver.loss_history) == 3
    assert len(solver.val_acc_history) == 3


def test_best_parameters_are_kept_and_restored():
    # w after the checks: 1 (iteration 1), then 2, 4, 6, 8, 10 at the epoch ends; the model
    # is right only for 3 <= w <= 5
    model = Counter(low=3.0, high=5.0)
    solver = Solver(
        model,
        counting_data(),
        optim_config={"learning_rate": 1.0},
        batch_size=2,
        num_epochs=5,
        verbose=False,
    )
    solver.train()
    assert solver.val_acc_history == [0.0, 0.0, 1.0, 0.0, 0.0, 0.0]
    assert solver.best_val_acc == 1.0
    np.testing.assert_array_equal(solver.best_params["w"], [4.0])
    np.testing.assert_array_equal(model.params["w"], [4.0])


def test_parameters_are_kept_even_when_validation_accuracy_stays_zero():
    model = Counter(low=100.0, high=200.0)
    solver = Solver(model, counting_data(), batch_size=2, num_epochs=2, verbose=False)
    solver.train()
    assert solver.best_val_acc == 0.0
    assert set(solver.best_params) == {"w"}
    assert set(model.params) == {"w"}


def test_callback_sees_each_finished_epoch():
    calls = []

    def on_epoch_end(solver):
        calls.append((solver.epoch, len(solver.val_acc_history), len(solver.loss_history)))

    Solver(
        Counter(),
        counting_data(6),
        batch_size=2,
        num_epochs=3,
        verbose=False,
        on_epoch_end=on_epoch_end,
    ).train()
    assert calls == [(1, 2, 3), (2, 3, 6), (3, 4, 9)]


def test_the_seed_makes_training_reproducible():
    rng = np.random.default_rng(5)
    data = {
        "X_train": rng.standard_normal((40, 6)),
        "y_train": rng.integers(0, 3, 40),
        "X_val": rng.standard_normal((10, 6)),
        "y_val": rng.integers(0, 3, 10),
    }

    def run(seed):
        model = FullyConnectedNet(
            [7],
            input_dim=6,
            num_classes=3,
            dropout_keep_ratio=0.8,
            normalization="batchnorm",
            weight_scale=0.1,
            seed=1,
            dtype=np.float64,
        )
        solver = Solver(
            model,
            data,
            optim_config={"learning_rate": 0.1},
            batch_size=8,
            num_epochs=2,
            num_train_samples=20,
            verbose=False,
            seed=seed,
        )
        solver.train()
        return solver

    first, second, other = run(3), run(3), run(4)
    assert first.loss_history == second.loss_history
    assert first.train_acc_history == second.train_acc_history
    for name in first.model.params:
        np.testing.assert_array_equal(first.model.params[name], second.model.params[name])
    assert first.loss_history != other.loss_history


def test_minibatches_come_from_the_solver_generator_not_the_global_one():
    state = np.random.get_state()  # noqa: NPY002 (the legacy global generator)
    model = Counter()
    Solver(model, counting_data(8), batch_size=3, num_epochs=2, seed=11, verbose=False).train()
    expected = np.random.default_rng(11).choice(8, 3)
    np.testing.assert_array_equal(model.batches[0], expected)
    after = np.random.get_state()  # noqa: NPY002
    assert state[0] == after[0] and np.array_equal(state[1], after[1]) and state[2:] == after[2:]


def test_update_rule_by_name_or_callable():
    steps = []

    def recording_sgd(w, dw, config):
        steps.append(config.get("learning_rate"))
        return sgd(w, dw, config)

    model = Counter()
    Solver(
        model,
        counting_data(),
        update_rule=recording_sgd,
        optim_config={"learning_rate": 0.5},
        batch_size=2,
        num_epochs=1,
        verbose=False,
    ).train()
    assert steps == [0.5, 0.5]
    # w = 0.5 after iteration 1 and 1.0 after the epoch; both checks score 1.0, and only a
    # strictly better validation accuracy replaces the kept parameters
    np.testing.assert_array_equal(model.params["w"], [0.5])

    model = Counter()
    Solver(
        model, counting_data(), update_rule="adam", batch_size=4, num_epochs=1, verbose=False
    ).train()
    # Adam's first step is the learning rate (1e-3) times the sign of the gradient
    np.testing.assert_allclose(model.params["w"], [1e-3], rtol=1e-6)


def test_check_accuracy_by_hand():
    class ArgmaxOfInput:
        params = {}

        def loss(self, X, y=None):
            return X

    X = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0], [0.0, 3.0], [5.0, 4.0]])
    y = np.array([0, 0, 0, 1, 1])
    solver = Solver(
        ArgmaxOfInput(), {"X_train": X, "y_train": y, "X_val": X, "y_val": y}, verbose=False
    )
    # predictions 0, 1, 0, 1, 0: three of five right, whatever the batch size
    for batch_size in (1, 2, 5, 100):
        assert solver.check_accuracy(X, y, batch_size=batch_size) == 0.6
    # a subset of 4 distinct examples: 2 or 3 right
    assert solver.check_accuracy(X, y, num_samples=4) in (0.5, 0.75)
    assert solver.check_accuracy(X, y, num_samples=50) == 0.6
    with pytest.raises(ValueError, match=r"Solver.check_accuracy: X has shape"):
        solver.check_accuracy(X, y[:3])


def test_verbose_lines_and_progress_bar(capsys):
    options = {"optim_config": {"learning_rate": 1.0}, "batch_size": 2, "num_epochs": 2}
    Solver(Counter(), counting_data(), print_every=2, **options).train()
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "(Iteration 1 / 4) loss: 0.000000",
        "(Epoch 0 / 2) train acc: 1.000000; val_acc: 1.000000",
        "(Epoch 1 / 2) train acc: 1.000000; val_acc: 1.000000",
        "(Iteration 3 / 4) loss: 2.000000",
        "(Epoch 2 / 2) train acc: 1.000000; val_acc: 1.000000",
    ]

    class Bar:
        """Records what tqdm would be asked to do."""

        def __init__(self, iterable, total, desc):
            self.iterable, self.total, self.written, self.closed = iterable, total, [], False
            bars.append(self)

        def __iter__(self):
            return iter(self.iterable)

        def write(self, line):
            self.written.append(line)

        def close(self):
            self.closed = True

    bars = []
    Solver(Counter(), counting_data(), print_every=2, progress_bar=Bar, **options).train()
    assert capsys.readouterr().out == ""
    (bar,) = bars
    assert bar.total == 4 and bar.closed
    assert bar.written == lines

    # no bar and no output when not verbose
    bars.clear()
    Solver(
        Counter(), counting_data(), batch_size=2, num_epochs=1, verbose=False, progress_bar=Bar
    ).train()
    assert bars == [] and capsys.readouterr().out == ""


def test_checkpoints(tmp_path):
    name = str(tmp_path / "run")
    solver = Solver(
        Counter(),
        counting_data(),
        optim_config={"learning_rate": 1.0},
        batch_size=2,
        num_epochs=2,
        verbose=False,
        checkpoint_name=name,
    )
    solver.train()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "run_epoch_0.pkl",
        "run_epoch_1.pkl",
        "run_epoch_2.pkl",
    ]
    with open(tmp_path / "run_epoch_1.pkl", "rb") as f:
        checkpoint = pickle.load(f)
    assert checkpoint["epoch"] == 1
    assert checkpoint["loss_history"] == [0.0, 1.0]
    assert checkpoint["val_acc_history"] == [1.0, 1.0]
    np.testing.assert_array_equal(checkpoint["model"].params["w"], [2.0])


def test_unknown_update_rule_lists_the_known_ones():
    with pytest.raises(
        ValueError,
        match=r"update_rule 'adagrad' is not known; the known update rules are "
        r"sgd, sgd_momentum, rmsprop, adam",
    ):
        Solver(Counter(), counting_data(), update_rule="adagrad")
    with pytest.raises(ValueError, match="update_rule must be a name or a callable"):
        Solver(Counter(), counting_data(), update_rule=3)


def test_unknown_keywords_are_refused():
    with pytest.raises(
        ValueError,
        match=r"Solver: unknown keyword argument\(s\) learning_rate, num_epoch; "
        r"the known ones are update_rule, optim_config",
    ):
        Solver(Counter(), counting_data(), num_epoch=3, learning_rate=0.1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": 0}, "batch_size must be an integer >= 1"),
        ({"num_epochs": -1}, "num_epochs must be an integer >= 0"),
        ({"lr_decay": 0.0}, "lr_decay must be positive"),
        ({"optim_config": [1]}, "optim_config must be a dict or None"),
        ({"seed": 1.5}, "seed must be an integer >= 0 or None"),
        ({"on_epoch_end": "print"}, "on_epoch_end must be callable or None"),
    ],
)
def test_bad_options_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=f"Solver: {message}"):
        Solver(Counter(), counting_data(), **kwargs)


def test_bad_data_and_models_are_refused():
    data = counting_data()
    with pytest.raises(ValueError, match=r"data must be a dict with keys \['X_train'"):
        Solver(Counter(), {k: v for k, v in data.items() if k != "y_val"})
    with pytest.raises(
        ValueError,
        match=r"data\['X_train'\] has shape \(4, 1\) and "
        r"data\['y_train'\] has shape \(3,\)",
    ):
        Solver(Counter(), {**data, "y_train": data["y_train"][:3]})
    with pytest.raises(ValueError, match="model must have a dict `params`"):
        Solver(object(), data)


def test_lr_decay_needs_a_learning_rate_in_the_config():
    def bare_rule(w, dw, config):
        return w - dw, config

    solver = Solver(
        Counter(),
        counting_data(),
        update_rule=bare_rule,
        lr_decay=0.9,
        batch_size=2,
        num_epochs=1,
        verbose=False,
    )
    with pytest.raises(ValueError, match="lr_decay needs a 'learning_rate' in the config of 'w'"):
        solver.train()


class Blowup:
    """Two parameters with gradient 1 until step ``bad_step``, where the gradient of ``bad``
    (and, with ``nan_loss``, the loss) turns non-finite."""

    def __init__(self, bad_step: int, bad: tuple[str, ...], nan_loss: bool = False) -> None:
        self.params = {"a": np.zeros(1), "b": np.zeros(1), "c": np.zeros(1)}
        self.bad_step, self.bad, self.nan_loss = bad_step, bad, nan_loss
        self.steps = 0

    def loss(self, X, y=None):
        if y is None:
            return np.tile([0.0, 1.0], (X.shape[0], 1))
        self.steps += 1
        broken = self.steps == self.bad_step
        grads = {k: np.array([np.inf if broken and k in self.bad else 1.0]) for k in self.params}
        return (np.nan if broken and self.nan_loss else 1.0), grads


def test_a_non_finite_gradient_stops_training_and_names_the_step_and_parameter():
    model = Blowup(bad_step=3, bad=("c", "b"))
    solver = Solver(
        model,
        counting_data(4),
        batch_size=2,
        num_epochs=5,
        verbose=False,
        optim_config={"learning_rate": 0.5},
    )
    with pytest.raises(
        FloatingPointError,
        match=r"^Solver: stopped at step 3 \(epoch 1\): the loss is 1.0 and the gradient of "
        r"'b' went non-finite first \(non-finite gradients: b, c\)",
    ):
        solver.train()
    assert model.steps == 3
    # two updates of -0.5 each were applied; the third, non-finite one was not
    np.testing.assert_array_equal(model.params["b"], [-1.0])
    assert solver.loss_history == [1.0, 1.0]


def test_a_nan_loss_stops_training_even_with_finite_gradients():
    solver = Solver(
        Blowup(bad_step=1, bad=(), nan_loss=True), counting_data(4), batch_size=2, verbose=False
    )
    with pytest.raises(
        FloatingPointError,
        match=r"step 1 \(epoch 0\): the loss is nan and every gradient is finite",
    ):
        solver.train()


def test_a_diverging_network_stops_at_its_first_non_finite_step():
    rng = np.random.default_rng(0)
    data = {
        "X_train": rng.standard_normal((20, 4)),
        "y_train": rng.integers(0, 3, 20),
        "X_val": rng.standard_normal((5, 4)),
        "y_val": rng.integers(0, 3, 5),
    }
    model = FullyConnectedNet([8], input_dim=4, num_classes=3, dtype=np.float64, seed=0)
    solver = Solver(
        model,
        data,
        optim_config={"learning_rate": 1e200},
        batch_size=5,
        num_epochs=3,
        verbose=False,
        seed=0,
    )
    with (
        np.errstate(over="ignore", invalid="ignore"),
        pytest.raises(
            FloatingPointError,
            match=r"^Solver: stopped at step \d+ \(epoch \d\): softmax_loss: x holds \d+ "
            r"non-finite value\(s\).*; the largest parameter entry is [0-9.e+]+, in '[Wb]\d'",
        ),
    ):
        solver.train()
    assert all(np.isfinite(solver.loss_history))
    assert all(np.all(np.isfinite(p)) for p in model.params.values())
