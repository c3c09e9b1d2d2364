"""The NumPy GAN losses against hand calculations and finite differences, and their errors on
bad input.

Agreement with PyTorch (for the gradient penalty: with PyTorch's double backward) is tested
for every component by ``tests/dualnet/test_crosscheck.py``.
"""

import numpy as np
import pytest

from reference_numpy.gan import (
    bce_loss_backward,
    bce_loss_forward,
    discriminator_loss_backward,
    discriminator_loss_forward,
    generator_loss_backward,
    generator_loss_forward,
    gradient_penalty_backward,
    gradient_penalty_forward,
    ls_discriminator_loss_backward,
    ls_discriminator_loss_forward,
    ls_generator_loss_backward,
    ls_generator_loss_forward,
    sample_noise,
    sigmoid,
    wgan_critic_loss_backward,
    wgan_critic_loss_forward,
    wgan_generator_loss_backward,
    wgan_generator_loss_forward,
)
from reference_numpy.gradcheck import eval_numerical_gradient

pytestmark = pytest.mark.gan

LOG2 = np.log(2.0)


# --------------------------------------------------------------------------------------------
# sample_noise
# --------------------------------------------------------------------------------------------


def test_sample_noise_shape_range_and_reproducibility():
    noise = sample_noise(64, 96, seed=3)
    assert noise.shape == (64, 96)
    assert noise.min() >= -1 and noise.max() <= 1
    np.testing.assert_array_equal(noise, sample_noise(64, 96, seed=3))
    assert not np.array_equal(noise, sample_noise(64, 96, seed=4))
    assert not np.array_equal(sample_noise(4, 5), sample_noise(4, 5))


def test_sample_noise_is_roughly_uniform():
    noise = sample_noise(1000, 100, seed=0)  # 100,000 draws
    # U(-1, 1): mean 0, variance 1/3; standard errors 0.0018 and 0.00094
    assert abs(noise.mean()) < 0.01
    assert abs(noise.var() - 1 / 3) < 0.005
    counts, _ = np.histogram(noise, bins=10, range=(-1, 1))
    assert np.all(np.abs(counts / noise.size - 0.1) < 0.005)  # standard error 0.00095
    assert noise.min() < -0.999 and noise.max() > 0.999


@pytest.mark.parametrize(("batch_size", "dim"), [(0, 3), (3, -1), (2.0, 3), (True, 3)])
def test_sample_noise_rejects_bad_sizes(batch_size, dim):
    with pytest.raises(ValueError, match="sample_noise: .* must be a positive integer"):
        sample_noise(batch_size, dim)


# --------------------------------------------------------------------------------------------
# Binary cross-entropy
# --------------------------------------------------------------------------------------------


def test_sigmoid_is_exact_and_never_overflows():
    x = np.array([-1000.0, -2.0, 0.0, 2.0, 1000.0])
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        s = sigmoid(x)
    np.testing.assert_allclose(s[1:4], [1 / (1 + np.exp(2.0)), 0.5, 1 / (1 + np.exp(-2.0))])
    assert s[0] == 0.0 and s[4] == 1.0


def test_bce_loss_by_hand():
    x = np.array([0.0, 2.0, -1.0])
    t = np.array([1.0, 0.0, 0.25])
    loss, cache = bce_loss_forward(x, t)
    # log 2 for a logit of 0; -log(1 - sigma(2)) = log(1 + e^2); and a soft target
    soft = -0.25 * np.log(1 / (1 + np.e)) - 0.75 * np.log(1 - 1 / (1 + np.e))
    assert loss == pytest.approx((LOG2 + np.log1p(np.exp(2.0)) + soft) / 3, rel=1e-14)
    sig = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(bce_loss_backward(1.0, cache), (sig - t) / 3, rtol=1e-14)


def test_bce_loss_equals_the_naive_formula_where_that_is_finite(rng):
    x = rng.uniform(-8, 8, size=(6, 5))
    t = rng.uniform(0, 1, size=(6, 5))
    p = 1 / (1 + np.exp(-x))
    naive = np.mean(-t * np.log(p) - (1 - t) * np.log(1 - p))
    assert bce_loss_forward(x, t)[0] == pytest.approx(naive, rel=1e-12)


def test_bce_loss_is_finite_for_huge_logits():
    x = np.array([1000.0, -1000.0, 1000.0, -1000.0])
    t = np.array([1.0, 1.0, 0.0, 0.0])
    with np.errstate(
        over="raise", divide="raise", invalid="raise"
    ):  # no overflow, no log(0), no 0 * inf
        loss, cache = bce_loss_forward(x, t)
        dx = bce_loss_backward(1.0, cache)
    # confident and right costs 0; confident and wrong costs |x|
    assert loss == (0 + 1000 + 1000 + 0) / 4
    np.testing.assert_array_equal(dx, [0.0, -0.25, 0.25, 0.0])
    with (
        np.errstate(over="raise", divide="raise", invalid="raise"),
        pytest.raises(FloatingPointError),
    ):
        np.log(1 / (1 + np.exp(-x)))  # the naive form overflows


def test_bce_loss_backward_matches_finite_differences(rng):
    x = rng.standard_normal((4, 3))
    t = rng.uniform(0, 1, size=(4, 3))
    _, cache = bce_loss_forward(x, t)
    numerical = eval_numerical_gradient(lambda v: bce_loss_forward(v, t)[0], x)
    np.testing.assert_allclose(bce_loss_backward(1.0, cache), numerical, rtol=1e-6)


def test_bce_loss_rejects_bad_input():
    x = np.zeros((4, 1))
    with pytest.raises(
        ValueError, match=r"bce_loss_forward: target has shape \(4,\), expected \(4, 1\)"
    ):
        bce_loss_forward(x, np.ones(4))  # would broadcast into (4, 4)
    with pytest.raises(
        ValueError, match=r"target holds values from 0.0 to 2.0, expected .*\[0, 1\]"
    ):
        bce_loss_forward(np.zeros(2), np.array([0.0, 2.0]))
    with pytest.raises(ValueError, match="bce_loss_forward: input holds 1 non-finite value"):
        bce_loss_forward(np.array([np.nan, 0.0]), np.zeros(2))


# --------------------------------------------------------------------------------------------
# Vanilla, least-squares and Wasserstein losses
# --------------------------------------------------------------------------------------------


def test_vanilla_losses_by_hand():
    loss, cache = discriminator_loss_forward(np.zeros(4), np.zeros(3))
    assert loss == pytest.approx(2 * LOG2, rel=1e-15)
    dreal, dfake = discriminator_loss_backward(1.0, cache)
    # sigma(0) - 1 = -1/2 over 4 real logits; sigma(0) - 0 = 1/2 over 3 fake logits
    np.testing.assert_allclose(dreal, np.full(4, -0.125))
    np.testing.assert_allclose(dfake, np.full(3, 1 / 6))

    loss, cache = generator_loss_forward(np.array([0.0, 3.0]))
    assert loss == pytest.approx((LOG2 + np.log1p(np.exp(-3.0))) / 2, rel=1e-14)
    np.testing.assert_allclose(
        generator_loss_backward(2.0, cache), [-0.5, 2 * (1 / (1 + np.exp(-3.0)) - 1) / 2]
    )


def test_least_squares_losses_by_hand():
    loss, cache = ls_discriminator_loss_forward(np.array([1.0, 3.0]), np.array([0.0, 2.0, -1.0]))
    assert loss == 0.5 * (0 + 4) / 2 + 0.5 * (0 + 4 + 1) / 3
    dreal, dfake = ls_discriminator_loss_backward(1.0, cache)
    np.testing.assert_allclose(dreal, [0.0, 1.0])  # (D(x) - 1) / N
    np.testing.assert_allclose(dfake, [0.0, 2 / 3, -1 / 3])  # D(G(z)) / N'

    loss, cache = ls_generator_loss_forward(np.array([[1.0], [-1.0]]))
    assert loss == 0.5 * (0 + 4) / 2
    np.testing.assert_allclose(ls_generator_loss_backward(1.0, cache), [[0.0], [-1.0]])


def test_wasserstein_losses_by_hand():
    loss, cache = wgan_critic_loss_forward(np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0]))
    assert loss == 0.5 - 2.0
    dreal, dfake = wgan_critic_loss_backward(np.array(3.0), cache)
    np.testing.assert_allclose(dreal, np.full(3, -1.0))
    np.testing.assert_allclose(dfake, np.full(2, 1.5))

    loss, cache = wgan_generator_loss_forward(np.array([[2.0], [4.0]]))
    assert loss == -3.0
    np.testing.assert_allclose(wgan_generator_loss_backward(1.0, cache), [[-0.5], [-0.5]])


SCORE_LOSSES = [
    (discriminator_loss_forward, discriminator_loss_backward, 2),
    (generator_loss_forward, generator_loss_backward, 1),
    (ls_discriminator_loss_forward, ls_discriminator_loss_backward, 2),
    (ls_generator_loss_forward, ls_generator_loss_backward, 1),
    (wgan_critic_loss_forward, wgan_critic_loss_backward, 2),
    (wgan_generator_loss_forward, wgan_generator_loss_backward, 1),
]


@pytest.mark.parametrize(("forward", "backward", "arity"), SCORE_LOSSES)
def test_column_scores_give_the_loss_of_flat_scores(rng, forward, backward, arity):
    flat = [rng.standard_normal(n) for n in (5, 3)[:arity]]
    column = [s[:, np.newaxis] for s in flat]
    loss_flat, cache_flat = forward(*flat)
    loss_column, cache_column = forward(*column)
    assert loss_column == loss_flat
    grads_flat = backward(1.0, cache_flat)
    grads_column = backward(1.0, cache_column)
    grads_flat = grads_flat if arity == 2 else (grads_flat,)
    grads_column = grads_column if arity == 2 else (grads_column,)
    for g_flat, g_column, s in zip(grads_flat, grads_column, column, strict=True):
        assert g_column.shape == s.shape
        np.testing.assert_array_equal(g_column[:, 0], g_flat)


@pytest.mark.parametrize(("forward", "backward", "arity"), SCORE_LOSSES)
def test_score_losses_match_finite_differences(rng, forward, backward, arity):
    scores = [rng.standard_normal((n, 1)) for n in (4, 3)[:arity]]
    _, cache = forward(*scores)
    grads = backward(1.0, cache)
    grads = grads if arity == 2 else (grads,)
    for s, g in zip(scores, grads, strict=True):
        numerical = eval_numerical_gradient(lambda _: forward(*scores)[0], s)
        np.testing.assert_allclose(g, numerical, rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize(("forward", "backward", "arity"), SCORE_LOSSES)
@pytest.mark.parametrize("shape", [(4, 2), (4, 1, 1), (), (0,)])
def test_score_losses_reject_shapes_that_are_not_one_score_per_example(
    forward, backward, arity, shape
):
    args = [np.zeros(shape)] + [np.zeros(3)] * (arity - 1)
    with pytest.raises(ValueError, match=r"expected \(N,\) or \(N, 1\) with N >= 1"):
        forward(*args)


def test_losses_reject_an_upstream_gradient_that_is_not_a_scalar():
    _, cache = discriminator_loss_forward(np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match=r"discriminator_loss_backward: dout has shape \(3,\)"):
        discriminator_loss_backward(np.ones(3), cache)


# --------------------------------------------------------------------------------------------
# Gradient penalty
# --------------------------------------------------------------------------------------------


def linear_region_case():
    """A critic whose input gradient is known: with W1 = I and w2 = (3, 4), an example whose
    pre-activations are all positive has gradient (3, 4), of norm 5; one whose pre-activations
    are all negative has gradient alpha (3, 4)."""
    W1 = np.eye(2)
    b1 = np.zeros(2)
    W2 = np.array([[3.0], [4.0]])
    b2 = np.array([0.5])
    real = np.array([[1.0, 2.0], [-1.0, -3.0]])
    fake = np.array([[3.0, 1.0], [-2.0, -1.0]])
    eps = np.array([0.25, 0.5])
    return W1, b1, W2, b2, real, fake, eps


def test_gradient_penalty_by_hand():
    W1, b1, W2, b2, real, fake, eps = linear_region_case()
    penalty, cache = gradient_penalty_forward(W1, b1, W2, b2, real, fake, eps, 10.0, 0.1)
    # norms 5 and 0.5: P = 10/2 [(5 - 1)^2 + (0.5 - 1)^2]
    assert penalty == pytest.approx(5 * (16 + 0.25), rel=1e-14)

    dW1, db1, dW2, db2, dreal, dfake = gradient_penalty_backward(1.0, cache)
    # dP/dW1 = sum_n u_n v_n^T with u_n = (2 lambda / N) (r_n - 1) / r_n g_n and
    # v_n = slope_n w2; here g_0 = v_0 = g = (3, 4) and g_1 = v_1 = 0.1 g, so
    # dP/dW1 = 10 (4/5) g g^T + 10 (-0.5/0.5) (0.1)^2 g g^T = 7.9 g g^T
    g = np.array([3.0, 4.0])
    coefficient = 10 * 4 / 5 + 10 * (-0.5 / 0.5) * 0.1**2
    np.testing.assert_allclose(dW1, coefficient * np.outer(g, g), rtol=1e-14)
    np.testing.assert_allclose(dW2[:, 0], coefficient * g, rtol=1e-14)  # W1 = I
    for zero, like in ((db1, b1), (db2, b2), (dreal, real), (dfake, fake)):
        assert zero.shape == like.shape
        np.testing.assert_array_equal(zero, 0)


def random_critic_case(rng, alpha):
    """A random critic and batches with every pre-activation at least 0.05 from the kink."""
    while True:
        W1 = rng.standard_normal((5, 4)) / np.sqrt(5)
        b1 = 0.3 * rng.standard_normal(4)
        W2 = rng.standard_normal((4, 1))
        b2 = rng.standard_normal(1)
        real = rng.standard_normal((3, 5))
        fake = rng.standard_normal((3, 5))
        eps = rng.uniform(0, 1, size=3)
        x_hat = eps[:, None] * real + (1 - eps[:, None]) * fake
        if np.min(np.abs(x_hat @ W1 + b1)) > 0.05:
            return [W1, b1, W2, b2, real, fake], eps


@pytest.mark.parametrize("alpha", [0.01, 0.2])
def test_gradient_penalty_backward_matches_finite_differences(rng, alpha):
    arrays, eps = random_critic_case(rng, alpha)
    _, cache = gradient_penalty_forward(*arrays, eps, 10.0, alpha)
    gradients = gradient_penalty_backward(np.array(0.7), cache)

    def penalty(_):
        return 0.7 * gradient_penalty_forward(*arrays, eps, 10.0, alpha)[0]

    for array, gradient in zip(arrays, gradients, strict=True):
        numerical = eval_numerical_gradient(penalty, array)
        np.testing.assert_allclose(gradient, numerical, rtol=1e-6, atol=1e-9)


def test_gradient_penalty_uses_the_subgradient_0_where_the_input_gradient_vanishes():
    W1, b1, W2, b2, real, fake, eps = linear_region_case()
    penalty, cache = gradient_penalty_forward(W1, b1, np.zeros((2, 1)), b2, real, fake, eps)
    assert penalty == 10.0  # (0 - 1)^2 for both examples
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        gradients = gradient_penalty_backward(1.0, cache)
    for gradient in gradients:
        assert np.all(np.isfinite(gradient))


def test_gradient_penalty_rejects_bad_input():
    W1, b1, W2, b2, real, fake, eps = linear_region_case()
    func = "gradient_penalty_forward: "
    with pytest.raises(ValueError, match=func + r"fake has shape \(3, 2\), expected \(2, 2\)"):
        gradient_penalty_forward(W1, b1, W2, b2, real, np.zeros((3, 2)), eps)
    with pytest.raises(ValueError, match=func + r"eps has shape \(2, 1\), expected \(2,\)"):
        gradient_penalty_forward(W1, b1, W2, b2, real, fake, eps[:, None])
    with pytest.raises(ValueError, match=func + r"eps holds values outside \[0, 1\]"):
        gradient_penalty_forward(W1, b1, W2, b2, real, fake, np.array([0.5, 1.5]))
    with pytest.raises(ValueError, match=func + r"W1 has shape \(3, 2\), expected \(2, 2\)"):
        gradient_penalty_forward(np.zeros((3, 2)), b1, W2, b2, real, fake, eps)
    with pytest.raises(ValueError, match=func + r"W2 has shape \(2, 2\), expected \(2, 1\)"):
        gradient_penalty_forward(W1, b1, np.zeros((2, 2)), b2, real, fake, eps)
    with pytest.raises(ValueError, match=func + r"b2 has shape \(\), expected \(1,\)"):
        gradient_penalty_forward(W1, b1, W2, np.array(0.0), real, fake, eps)
    with pytest.raises(ValueError, match=func + "lambda_gp must be a real number"):
        gradient_penalty_forward(W1, b1, W2, b2, real, fake, eps, lambda_gp=None)
