"""The PyTorch GAN losses and architectures: parameter counts from the layer sizes, shapes,
noise, losses against hand calculations, and the gradient penalty of any critic.

Agreement of the losses with the NumPy reference is tested by
``tests/dualnet/test_crosscheck.py``.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from torch_impl.gan import (
    bce_loss,
    build_dc_classifier,
    build_dc_generator,
    discriminator,
    discriminator_loss,
    generator,
    generator_loss,
    gradient_penalty,
    ls_discriminator_loss,
    ls_generator_loss,
    sample_noise,
    wgan_critic_loss,
    wgan_generator_loss,
)

pytestmark = pytest.mark.gan


# --------------------------------------------------------------------------------------------
# Architectures
# --------------------------------------------------------------------------------------------


def linear(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


def conv(c_in: int, c_out: int, k: int) -> int:
    return c_in * c_out * k * k + c_out  # the same count for a transposed convolution


def batchnorm(c: int) -> int:
    return 2 * c  # scale and shift; the running statistics are buffers


EXPECTED_COUNTS = {
    "discriminator": (discriminator, linear(784, 256) + linear(256, 256) + linear(256, 1)),
    "generator": (generator, linear(96, 1024) + linear(1024, 1024) + linear(1024, 784)),
    "build_dc_classifier": (
        build_dc_classifier,
        conv(1, 32, 5) + conv(32, 64, 5) + linear(4 * 4 * 64, 1024) + linear(1024, 1),
    ),
    "build_dc_generator": (
        build_dc_generator,
        linear(96, 1024)
        + batchnorm(1024)
        + linear(1024, 7 * 7 * 128)
        + batchnorm(7 * 7 * 128)
        + conv(128, 64, 4)
        + batchnorm(64)
        + conv(64, 1, 4),
    ),
}


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", EXPECTED_COUNTS)
def test_parameter_counts_follow_from_the_layer_sizes(name):
    build, expected = EXPECTED_COUNTS[name]
    assert parameter_count(build()) == expected
    assert f"{expected:,}" in build.__doc__  # the docstring states the same count


def test_parameter_counts_by_hand():
    assert [expected for _, expected in EXPECTED_COUNTS.values()] == [
        267_009,
        1_952_528,
        1_102_721,
        6_675_009,
    ]


def test_generators_scale_with_the_noise_dimension():
    assert parameter_count(generator(10)) == parameter_count(generator()) - 86 * 1024
    assert (
        parameter_count(build_dc_generator(10)) == parameter_count(build_dc_generator()) - 86 * 1024
    )


@pytest.mark.parametrize("build", [discriminator, build_dc_classifier])
def test_discriminators_score_flat_and_image_shaped_batches(build):
    torch.manual_seed(0)
    model = build()
    images = torch.rand(3, 1, 28, 28) * 2 - 1
    scores = model(images)
    assert scores.shape == (3, 1)
    torch.testing.assert_close(model(images.reshape(3, 784)), scores)


@pytest.mark.parametrize("build", [generator, build_dc_generator])
def test_generators_make_flat_images_in_minus_1_to_1(build):
    torch.manual_seed(0)
    model = build(noise_dim=20)
    images = model(sample_noise(5, 20, seed=0))
    assert images.shape == (5, 784)
    assert images.min() >= -1 and images.max() <= 1


def test_architectures_use_the_classic_layers():
    dc = build_dc_classifier()
    assert [type(m).__name__ for m in dc] == [
        "Reshape",
        "Conv2d",
        "LeakyReLU",
        "MaxPool2d",
        "Conv2d",
        "LeakyReLU",
        "MaxPool2d",
        "Flatten",
        "Linear",
        "LeakyReLU",
        "Linear",
    ]
    assert all(m.negative_slope == 0.01 for m in dc if isinstance(m, nn.LeakyReLU))
    assert all(m.negative_slope == 0.01 for m in discriminator() if isinstance(m, nn.LeakyReLU))
    transposed = [m for m in build_dc_generator() if isinstance(m, nn.ConvTranspose2d)]
    assert [(m.kernel_size, m.stride, m.padding) for m in transposed] == [
        ((4, 4), (2, 2), (1, 1))
    ] * 2
    assert isinstance(generator()[-1], nn.Tanh)


def test_architectures_reject_a_bad_noise_dimension():
    with pytest.raises(ValueError, match="generator: noise_dim must be a positive integer"):
        generator(0)
    with pytest.raises(ValueError, match="build_dc_generator: noise_dim must be a positive"):
        build_dc_generator(9.5)


# --------------------------------------------------------------------------------------------
# Noise
# --------------------------------------------------------------------------------------------


def test_sample_noise_without_a_seed_draws_from_the_global_generator():
    # the GANs-PyTorch notebook seeds torch and calls sample_noise(batch_size, dim)
    torch.manual_seed(231)
    z = sample_noise(3, 4)
    torch.manual_seed(231)
    torch.testing.assert_close(z, 2 * torch.rand(3, 4) - 1, rtol=0, atol=0)
    torch.manual_seed(231)
    torch.testing.assert_close(sample_noise(3, 4), z, rtol=0, atol=0)
    assert (z < 0).any() and (z > 0).any()


def test_a_seeded_sample_noise_leaves_the_global_generator_alone():
    torch.manual_seed(7)
    expected = torch.rand(2)
    torch.manual_seed(7)
    sample_noise(3, 4, seed=0)
    torch.testing.assert_close(torch.rand(2), expected, rtol=0, atol=0)


def test_sample_noise_shape_range_reproducibility_and_uniformity():
    noise = sample_noise(1000, 100, seed=0, dtype=torch.float64)
    assert noise.shape == (1000, 100) and noise.dtype == torch.float64
    assert noise.min() >= -1 and noise.max() <= 1
    torch.testing.assert_close(noise, sample_noise(1000, 100, seed=0, dtype=torch.float64))
    assert not torch.equal(sample_noise(4, 5, seed=1), sample_noise(4, 5, seed=2))
    assert not torch.equal(sample_noise(4, 5), sample_noise(4, 5))
    # U(-1, 1): mean 0, variance 1/3; 10 equal bins of 10 % each (standard error 0.00095)
    assert abs(float(noise.mean())) < 0.01
    assert abs(float(noise.var()) - 1 / 3) < 0.005
    counts = torch.histc(noise, bins=10, min=-1, max=1) / noise.numel()
    assert torch.all((counts - 0.1).abs() < 0.005)


def test_sample_noise_leaves_the_global_random_state_alone():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    sample_noise(10, 10, seed=1)
    torch.testing.assert_close(torch.rand(3), expected)


def test_sample_noise_rejects_bad_sizes():
    with pytest.raises(ValueError, match="sample_noise: dim must be a positive integer, got 0"):
        sample_noise(3, 0)


# --------------------------------------------------------------------------------------------
# Losses
# --------------------------------------------------------------------------------------------


def test_bce_loss_is_torch_own_stable_kernel():
    x = torch.tensor([1000.0, -1000.0, 0.0, 2.0])
    t = torch.tensor([0.0, 1.0, 1.0, 0.3])
    loss = bce_loss(x, t)
    torch.testing.assert_close(loss, F.binary_cross_entropy_with_logits(x, t))
    expected = (1000 + 1000 + math.log(2) + (2 - 0.6 + math.log1p(math.exp(-2)))) / 4
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_bce_loss_rejects_a_target_that_would_broadcast():
    with pytest.raises(ValueError, match=r"bce_loss: target has shape \(4,\), expected \(4, 1\)"):
        bce_loss(torch.zeros(4, 1), torch.ones(4))


def test_gan_losses_by_hand():
    zeros4, zeros3 = torch.zeros(4, 1), torch.zeros(3)
    torch.testing.assert_close(discriminator_loss(zeros4, zeros3), torch.tensor(2 * math.log(2)))
    torch.testing.assert_close(generator_loss(zeros3), torch.tensor(math.log(2)))
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([0.0, 2.0, -1.0])
    torch.testing.assert_close(ls_discriminator_loss(real, fake), torch.tensor(1.0 + 5 / 6))
    torch.testing.assert_close(ls_generator_loss(fake), torch.tensor(0.5 * (1 + 1 + 4) / 3))
    torch.testing.assert_close(wgan_critic_loss(real, fake), torch.tensor(1 / 3 - 2))
    torch.testing.assert_close(wgan_generator_loss(fake), torch.tensor(-1 / 3))


@pytest.mark.parametrize(
    "loss", [discriminator_loss, ls_discriminator_loss, wgan_critic_loss], ids=lambda f: f.__name__
)
def test_two_score_losses_reject_scores_that_are_not_one_per_example(loss):
    with pytest.raises(ValueError, match=r"(scores|logits)_fake has shape \(3, 2\), expected"):
        loss(torch.zeros(3), torch.zeros(3, 2))


# --------------------------------------------------------------------------------------------
# Gradient penalty
# --------------------------------------------------------------------------------------------


def test_gradient_penalty_of_a_linear_critic_by_hand():
    # D(x) = <x, w>: the input gradient is w everywhere, so P = lambda (|w| - 1)^2
    w = torch.tensor([[3.0], [4.0]], dtype=torch.float64, requires_grad=True)
    real, fake = torch.randn(6, 2, dtype=torch.float64), torch.randn(6, 2, dtype=torch.float64)
    penalty = gradient_penalty(lambda x: x @ w, real, fake, lambda_gp=2.0)
    torch.testing.assert_close(penalty, torch.tensor(32.0, dtype=torch.float64))
    # dP/dw = 2 lambda (|w| - 1) w / |w|, reached through the double backward
    (dw,) = torch.autograd.grad(penalty, w)
    torch.testing.assert_close(dw, 2 * 2.0 * 4 * w.detach() / 5)


def test_gradient_penalty_interpolates_each_example_with_its_own_weight():
    # D(x) = sum x^2 / 2 has input gradient x, so the penalty reads off every x_hat
    real = torch.tensor([[2.0, 0.0], [0.0, 4.0]])
    fake = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
    eps = torch.tensor([1.0, 0.25])  # x_hat = (2, 0) and (0, 1): norms 2 and 1
    penalty = gradient_penalty(lambda x: (x**2).sum(dim=1) / 2, real, fake, 1.0, eps=eps)
    torch.testing.assert_close(penalty, torch.tensor((1.0 + 0.0) / 2))


def test_gradient_penalty_trains_a_convolutional_critic():
    torch.manual_seed(0)
    critic = build_dc_classifier().double()
    real = torch.rand(3, 784, dtype=torch.float64) * 2 - 1
    fake = build_dc_generator(8).double()(sample_noise(3, 8, seed=0, dtype=torch.float64))
    fake = fake.detach()  # the critic's step does not reach the generator
    generator_state = torch.Generator().manual_seed(1)
    penalty = gradient_penalty(critic, real, fake, generator=generator_state)
    penalty.backward()
    first_conv = critic[1].weight
    assert first_conv.grad is not None and first_conv.grad.abs().sum() > 0
    # the same generator seed draws the same eps
    again = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(again, penalty.detach())


def test_gradient_penalty_rejects_bad_input():
    real = torch.zeros(3, 2)
    with pytest.raises(ValueError, match=r"gradient_penalty: fake has shape \(2, 2\)"):
        gradient_penalty(lambda x: x.sum(1), real, torch.zeros(2, 2))
    with pytest.raises(ValueError, match=r"gradient_penalty: eps has shape \(3, 1\), expected"):
        gradient_penalty(lambda x: x.sum(1), real, real, eps=torch.zeros(3, 1))
    with pytest.raises(ValueError, match=r"gradient_penalty: eps holds values outside \[0, 1\]"):
        gradient_penalty(lambda x: x.sum(1), real, real, eps=torch.full((3,), 2.0))
    with pytest.raises(ValueError, match=r"gradient_penalty: critic\(x_hat\) has shape \(3, 2\)"):
        gradient_penalty(lambda x: x * 1.0, real, real)
    with pytest.raises(ValueError, match="gradient_penalty: critic must be callable"):
        gradient_penalty(None, real, real)
