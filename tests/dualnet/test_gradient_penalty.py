"""The hand-derived gradient of the WGAN-GP penalty against PyTorch's double backward.

The registry's cross-check builds the critic from the parameter tensors with functional
calls; here the oracle is an ``nn.Sequential`` of ``nn.Linear`` and ``nn.LeakyReLU`` modules
holding the same numbers, and the double backward is spelled out with
``torch.autograd.grad(..., create_graph=True)`` instead of going through
``torch_impl.gan.gradient_penalty``.
"""

import numpy as np
import pytest
import torch
from torch import nn

import reference_numpy.gan as R
import torch_impl.gan as T
from reference_numpy.gradcheck import rel_error

pytestmark = pytest.mark.gan


def mlp_critic(W1, b1, W2, b2, alpha: float) -> nn.Sequential:
    """The critic ``lrelu(x W1 + b1) W2 + b2`` as modules (``nn.Linear`` stores ``W^T``)."""
    first = nn.Linear(*W1.shape, dtype=torch.float64)
    second = nn.Linear(*W2.shape, dtype=torch.float64)
    with torch.no_grad():
        first.weight.copy_(torch.from_numpy(W1.T))
        first.bias.copy_(torch.from_numpy(b1))
        second.weight.copy_(torch.from_numpy(W2.T))
        second.bias.copy_(torch.from_numpy(b2))
    return nn.Sequential(first, nn.LeakyReLU(alpha), second)


def random_case(seed: int, n: int = 5, d: int = 7, h: int = 6):
    """Random critic and batches with every pre-activation at least 0.01 from the kink."""
    rng = np.random.default_rng(seed)
    while True:
        W1 = rng.standard_normal((d, h)) / np.sqrt(d)
        b1 = 0.5 * rng.standard_normal(h)
        W2 = rng.standard_normal((h, 1))
        b2 = rng.standard_normal(1)
        real, fake = rng.standard_normal((n, d)), rng.standard_normal((n, d))
        eps = rng.uniform(0, 1, size=n)
        x_hat = eps[:, None] * real + (1 - eps[:, None]) * fake
        if np.min(np.abs(x_hat @ W1 + b1)) > 0.01:
            return W1, b1, W2, b2, real, fake, eps


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("alpha", [0.01, 0.2])
def test_numpy_penalty_gradient_matches_the_double_backward(seed, alpha):
    W1, b1, W2, b2, real, fake, eps = random_case(seed)
    lambda_gp = 10.0
    penalty, cache = R.gradient_penalty_forward(W1, b1, W2, b2, real, fake, eps, lambda_gp, alpha)
    dW1, db1, dW2, db2, dreal, dfake = R.gradient_penalty_backward(1.0, cache)

    critic = mlp_critic(W1, b1, W2, b2, alpha)
    weight = torch.from_numpy(eps)[:, None]
    real_t = torch.from_numpy(real).requires_grad_()
    fake_t = torch.from_numpy(fake).requires_grad_()
    x_hat = weight * real_t + (1 - weight) * fake_t
    (input_gradient,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    penalty_t = lambda_gp * ((input_gradient.norm(dim=1) - 1) ** 2).mean()
    first, _, second = critic
    wrt = [first.weight, first.bias, second.weight, second.bias, real_t, fake_t]
    grads = torch.autograd.grad(penalty_t, wrt, allow_unused=True)
    grads = [torch.zeros_like(w) if g is None else g for g, w in zip(grads, wrt, strict=True)]

    assert rel_error(penalty, penalty_t.item()) < 1e-12
    assert rel_error(dW1, grads[0].numpy().T) < 1e-9
    assert rel_error(dW2, grads[2].numpy().T) < 1e-9
    # leaky ReLU is piecewise linear: the biases and the examples get exactly no gradient
    for ours, theirs in zip(
        (db1, db2, dreal, dfake), (grads[1], grads[3], *grads[4:]), strict=True
    ):
        np.testing.assert_array_equal(ours, 0)
        np.testing.assert_array_equal(theirs.numpy(), 0)

    # the PyTorch version of the penalty computes the same thing through any module
    penalty_module = T.gradient_penalty(
        critic, torch.from_numpy(real), torch.from_numpy(fake), lambda_gp, torch.from_numpy(eps)
    )
    assert rel_error(penalty, penalty_module.item()) < 1e-12


def test_a_smooth_critic_does_give_the_biases_and_examples_a_gradient():
    """With softplus instead of leaky ReLU the second derivative is not 0, and the terms the
    leaky ReLU drops appear: the contrast the derivation page explains."""
    W1, b1, W2, b2, real, fake, eps = random_case(0)
    first, _, second = mlp_critic(W1, b1, W2, b2, 0.01)
    critic = nn.Sequential(first, nn.Softplus(), second)
    real_t = torch.from_numpy(real).requires_grad_()
    penalty = T.gradient_penalty(
        critic, real_t, torch.from_numpy(fake), 10.0, torch.from_numpy(eps)
    )
    dbias, dreal = torch.autograd.grad(penalty, [first.bias, real_t])
    assert dbias.abs().max() > 1e-3 and dreal.abs().max() > 1e-3
