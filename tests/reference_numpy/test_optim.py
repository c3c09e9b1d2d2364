"""Update rules: hand calculations, no mutation, and 25 steps against ``torch.optim``."""

import numpy as np
import pytest
import torch

from reference_numpy import optim

pytestmark = pytest.mark.optim


def test_sgd_by_hand():
    w, config = optim.sgd(np.array([1.0, -2.0]), np.array([0.5, 0.5]), {"learning_rate": 0.1})
    np.testing.assert_allclose(w, [0.95, -2.05])
    assert config == {"learning_rate": 0.1}


def test_momentum_by_hand():
    config = {"learning_rate": 0.1, "momentum": 0.5}
    w, config = optim.sgd_momentum(np.array([1.0]), np.array([1.0]), config)
    np.testing.assert_allclose([w[0], config["velocity"][0]], [0.9, -0.1])
    w, config = optim.sgd_momentum(w, np.array([1.0]), config)
    # v = 0.5 * (-0.1) - 0.1 * 1 = -0.15
    np.testing.assert_allclose([w[0], config["velocity"][0]], [0.75, -0.15])


def test_rmsprop_first_step_by_hand():
    w, config = optim.rmsprop(
        np.array([0.0]), np.array([2.0]), {"learning_rate": 0.1, "decay_rate": 0.75}
    )
    # s = 0.25 * 4 = 1, so the step is 0.1 * 2 / (1 + 1e-8)
    np.testing.assert_allclose(config["cache"], [1.0])
    np.testing.assert_allclose(w, [-0.2 / (1 + 1e-8)])


def test_adam_first_step_is_the_learning_rate_times_the_sign():
    # after bias correction m_hat = g and v_hat = g^2, so the step is lr * g / (|g| + eps)
    w, config = optim.adam(np.array([1.0, 1.0]), np.array([3.0, -0.5]), {"learning_rate": 0.01})
    np.testing.assert_allclose(w, [1 - 0.01 * 3 / (3 + 1e-8), 1 + 0.01 * 0.5 / (0.5 + 1e-8)])
    assert config["t"] == 1


@pytest.mark.parametrize("name", sorted(optim.UPDATE_RULES))
def test_rules_update_the_config_in_place_but_never_an_array(name):
    rule = optim.UPDATE_RULES[name]
    w, dw = np.ones(3), np.full(3, 0.5)
    _, config = rule(w, dw, None)
    state = {k: v for k, v in config.items() if isinstance(v, np.ndarray)}
    snapshot = {k: v.copy() for k, v in state.items()}
    w_next, config_next = rule(w, dw, config)
    assert config_next is config
    np.testing.assert_array_equal(w, np.ones(3))
    for key, value in snapshot.items():
        np.testing.assert_array_equal(state[key], value)  # the old array is untouched ...
        assert not np.array_equal(config[key], value)  # ... and replaced by the new state
    assert not np.array_equal(w_next, w)


def test_the_notebook_reads_the_state_from_the_dict_it_passed():
    # next_w, _ = sgd_momentum(w, dw, config=config); then config['velocity'] is the new one
    config = {"learning_rate": 0.1, "momentum": 0.5, "velocity": np.array([1.0])}
    next_w, _ = optim.sgd_momentum(np.array([2.0]), np.array([3.0]), config=config)
    # v = 0.5 * 1 - 0.1 * 3 = 0.2, w = 2 + 0.2
    np.testing.assert_allclose(config["velocity"], [0.2])
    np.testing.assert_allclose(next_w, [2.2])


def test_defaults_are_filled_into_the_dict_passed_in():
    config = {}
    optim.adam(np.ones(2), np.ones(2), config)
    assert config["learning_rate"] == 1e-3 and config["t"] == 1
    assert set(config) == {"learning_rate", "beta1", "beta2", "epsilon", "m", "v", "t"}


@pytest.mark.parametrize("name", sorted(optim.UPDATE_RULES))
def test_negative_learning_rate_is_rejected(name):
    config = {"learning_rate": -0.1}
    with pytest.raises(
        ValueError, match=rf"{name}: config\['learning_rate'\] must be >= 0, got -0.1"
    ):
        optim.UPDATE_RULES[name](np.ones(3), np.ones(3), config)


@pytest.mark.parametrize("name", sorted(optim.UPDATE_RULES))
def test_mismatched_gradient_is_rejected(name):
    with pytest.raises(ValueError, match=rf"{name}: dw has shape \(2,\), expected \(3,\)"):
        optim.UPDATE_RULES[name](np.ones(3), np.ones(2), {})


def test_bad_hyperparameter_is_rejected():
    with pytest.raises(ValueError, match=r"adam: config\['beta1'\] must be a real number"):
        optim.adam(np.ones(2), np.ones(2), {"beta1": "0.9"})


@pytest.mark.parametrize(
    ("name", "config", "torch_class", "torch_options"),
    [
        ("sgd", {"learning_rate": 0.3}, torch.optim.SGD, {"lr": 0.3}),
        (
            "sgd_momentum",
            {"learning_rate": 0.02, "momentum": 0.95},
            torch.optim.SGD,
            {"lr": 0.02, "momentum": 0.95},
        ),
        (
            "rmsprop",
            {"learning_rate": 3e-3, "decay_rate": 0.95, "epsilon": 1e-6},
            torch.optim.RMSprop,
            {"lr": 3e-3, "alpha": 0.95, "eps": 1e-6},
        ),
        (
            "adam",
            {"learning_rate": 2e-3, "beta1": 0.8, "beta2": 0.95, "epsilon": 1e-7},
            torch.optim.Adam,
            {"lr": 2e-3, "betas": (0.8, 0.95), "eps": 1e-7},
        ),
    ],
)
def test_25_steps_on_a_quadratic_follow_torch_optim(name, config, torch_class, torch_options):
    # gradients that depend on w (a quadratic bowl), so any divergence would grow
    rng = np.random.default_rng(0)
    a = rng.standard_normal((6, 6))
    hessian = a @ a.T / 6 + np.eye(6)
    w = rng.standard_normal(6)
    wt = torch.tensor(w, requires_grad=True)
    optimizer = torch_class([wt], **torch_options)
    for _ in range(25):
        w, config = optim.UPDATE_RULES[name](w, hessian @ w, config)
        wt.grad = torch.from_numpy(hessian) @ wt.detach()
        optimizer.step()
        relative = np.max(
            np.abs(w - wt.detach().numpy())
            / np.maximum(1e-8, np.abs(w) + np.abs(wt.detach().numpy()))
        )
        assert relative <= 1e-10
