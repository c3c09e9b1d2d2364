r"""GAN losses and the classic MNIST GAN architectures in PyTorch.

The losses are the twins of ``reference_numpy/gan.py`` under the same names without
``_forward``: ``bce_loss``, ``discriminator_loss``, ``generator_loss``,
``ls_discriminator_loss``, ``ls_generator_loss``, ``wgan_critic_loss``,
``wgan_generator_loss``, and ``gradient_penalty``, which here takes any critic module. Scores
and logits have shape ``(N,)`` or ``(N, 1)`` and are paired with targets of their own shape,
so nothing broadcasts into ``(N, N)``.

The architectures (Goodfellow et al. 2014; Radford et al. 2016) are built by
:func:`discriminator`, :func:`generator`, :func:`build_dc_classifier` and
:func:`build_dc_generator`. Images travel as flattened rows of ``784 = 28 * 28`` pixels in
:math:`[-1, 1]`, the form the generators' ``tanh`` produces.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from torch_impl.validation import (
    check_batch,
    check_finite,
    check_real,
    check_scores,
    check_shape,
    check_tensor,
)

IMAGE_SIZE = 28 * 28


def sample_noise(
    batch_size: int,
    dim: int,
    seed: int | None = None,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    r"""Noise for the generator, uniform in :math:`[-1, 1]`.

    Without ``seed`` the noise comes from PyTorch's global generator, as in the classic
    notebooks: ``torch.manual_seed(s)`` then makes it reproducible, and it equals
    ``2 * torch.rand(batch_size, dim) - 1`` drawn after the same ``torch.manual_seed(s)``. With
    ``seed`` it comes from a fresh ``torch.Generator`` seeded with it, leaving the global
    random state untouched.

    Args:
        batch_size: Number of noise vectors :math:`N`, a positive integer.
        dim: Dimension of each vector, a positive integer.
        seed: Seed of a private generator; ``None`` uses PyTorch's global generator.
        dtype: Floating-point type of the result.
        device: Device of the result (default: the CPU).

    Returns:
        Tensor of shape ``(batch_size, dim)``.
    """
    for name, value in (("batch_size", batch_size), ("dim", dim)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"sample_noise: {name} must be a positive integer, got {value!r}")
    generator = None
    if seed is not None:
        generator = torch.Generator(device=device if device is not None else "cpu")
        generator.manual_seed(int(seed))
    uniform = torch.rand(batch_size, dim, generator=generator, dtype=dtype, device=device)
    return 2 * uniform - 1


# --------------------------------------------------------------------------------------------
# Losses
# --------------------------------------------------------------------------------------------


def bce_loss(input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""Binary cross-entropy from logits, averaged over all entries:
    ``F.binary_cross_entropy_with_logits``, which uses the stable form
    :math:`\max(x, 0) - x t + \log(1 + e^{-|x|})`.

    Args:
        input: Logits, any shape.
        target: Targets in :math:`[0, 1]`, the shape of ``input``.

    Returns:
        The mean loss, a 0-dimensional tensor.
    """
    func = "bce_loss"
    check_tensor(func, "input", input)
    check_batch(func, "input", input)
    if input.numel() == 0:
        raise ValueError(f"{func}: input has shape {tuple(input.shape)}, expected entries")
    check_finite(func, "input", input)
    check_shape(
        func, "target", target, tuple(input.shape), "(the shape of input: one target per logit)"
    )
    if bool((target < 0).any()) or bool((target > 1).any()):
        raise ValueError(
            f"{func}: target holds values from {float(target.min())} to {float(target.max())}, "
            "expected targets in [0, 1]"
        )
    return F.binary_cross_entropy_with_logits(input, target)


def discriminator_loss(logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
    r"""Vanilla GAN discriminator loss, :math:`\mathrm{BCE}(x_\mathrm{real}, 1) +
    \mathrm{BCE}(x_\mathrm{fake}, 0)`.

    Args:
        logits_real: Logits for real images, shape ``(N,)`` or ``(N, 1)``.
        logits_fake: Logits for generated images, shape ``(N',)`` or ``(N', 1)``.

    Returns:
        The loss, a 0-dimensional tensor.
    """
    check_scores("discriminator_loss", "logits_real", logits_real)
    check_scores("discriminator_loss", "logits_fake", logits_fake)
    return bce_loss(logits_real, torch.ones_like(logits_real)) + bce_loss(
        logits_fake, torch.zeros_like(logits_fake)
    )


def generator_loss(logits_fake: torch.Tensor) -> torch.Tensor:
    r"""Vanilla GAN generator loss, :math:`\mathrm{BCE}(x_\mathrm{fake}, 1)`.

    Args:
        logits_fake: Logits for generated images, shape ``(N,)`` or ``(N, 1)``.

    Returns:
        The loss, a 0-dimensional tensor.
    """
    check_scores("generator_loss", "logits_fake", logits_fake)
    return bce_loss(logits_fake, torch.ones_like(logits_fake))


def ls_discriminator_loss(scores_real: torch.Tensor, scores_fake: torch.Tensor) -> torch.Tensor:
    r"""Least-squares GAN discriminator loss,
    :math:`\tfrac12 \mathbb{E}[(D(x) - 1)^2] + \tfrac12 \mathbb{E}[D(G(z))^2]`.

    Args:
        scores_real: Scores of real images, shape ``(N,)`` or ``(N, 1)``.
        scores_fake: Scores of generated images, shape ``(N',)`` or ``(N', 1)``.

    Returns:
        The loss, a 0-dimensional tensor.
    """
    check_scores("ls_discriminator_loss", "scores_real", scores_real)
    check_scores("ls_discriminator_loss", "scores_fake", scores_fake)
    return 0.5 * torch.mean((scores_real - 1) ** 2) + 0.5 * torch.mean(scores_fake**2)


def ls_generator_loss(scores_fake: torch.Tensor) -> torch.Tensor:
    r"""Least-squares GAN generator loss, :math:`\tfrac12 \mathbb{E}[(D(G(z)) - 1)^2]`.

    Args:
        scores_fake: Scores of generated images, shape ``(N,)`` or ``(N, 1)``.

    Returns:
        The loss, a 0-dimensional tensor.
    """
    check_scores("ls_generator_loss", "scores_fake", scores_fake)
    return 0.5 * torch.mean((scores_fake - 1) ** 2)


def wgan_critic_loss(scores_real: torch.Tensor, scores_fake: torch.Tensor) -> torch.Tensor:
    r"""Wasserstein GAN critic loss, :math:`\mathbb{E}[D(G(z))] - \mathbb{E}[D(x)]`.

    Args:
        scores_real: Critic scores of real images, shape ``(N,)`` or ``(N, 1)``.
        scores_fake: Critic scores of generated images, shape ``(N',)`` or ``(N', 1)``.

    Returns:
        The loss, a 0-dimensional tensor.
    """
    check_scores("wgan_critic_loss", "scores_real", scores_real)
    check_scores("wgan_critic_loss", "scores_fake", scores_fake)
    return torch.mean(scores_fake) - torch.mean(scores_real)


def wgan_generator_loss(scores_fake: torch.Tensor) -> torch.Tensor:
    r"""Wasserstein GAN generator loss, :math:`-\mathbb{E}[D(G(z))]`.

    Args:
        scores_fake: Critic scores of generated images, shape ``(N,)`` or ``(N, 1)``.

    Returns:
        The loss, a 0-dimensional tensor.
    """
    check_scores("wgan_generator_loss", "scores_fake", scores_fake)
    return -torch.mean(scores_fake)


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    lambda_gp: float = 10.0,
    eps: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""WGAN-GP gradient penalty of any critic.

    .. math::

        \hat x_n = \epsilon_n x_n + (1 - \epsilon_n) \tilde x_n, \qquad
        P = \frac{\lambda}{N} \sum_n \left(\lVert \nabla_{\hat x} D(\hat x_n) \rVert_2 - 1
        \right)^2 .

    The input gradient is taken with ``create_graph=True``, so differentiating :math:`P`
    (``P.backward()``) runs a double backward through the critic and reaches its parameters.
    The gradient of ``critic(x_hat).sum()`` is every example's own input gradient only if the
    critic treats examples independently: no batch normalization in a WGAN-GP critic.

    Args:
        critic: Maps a batch shaped like ``real`` to scores of shape ``(N,)`` or ``(N, 1)``.
        real: Real examples, shape ``(N, ...)``.
        fake: Generated examples, the shape of ``real``.
        lambda_gp: Penalty weight :math:`\lambda`.
        eps: Interpolation weights, shape ``(N,)``, in :math:`[0, 1]`; drawn uniformly
            (from ``generator``) when ``None``.
        generator: Optional ``torch.Generator`` for drawing ``eps``.

    Returns:
        The penalty, a 0-dimensional tensor.
    """
    func = "gradient_penalty"
    if not callable(critic):
        raise ValueError(f"{func}: critic must be callable, got {type(critic).__name__}")
    check_tensor(func, "real", real)
    if real.dim() < 2 or real.shape[0] == 0:
        raise ValueError(
            f"{func}: real has shape {tuple(real.shape)}, expected (N, ...) with N >= 1"
        )
    check_shape(func, "fake", fake, tuple(real.shape), "(the shape of real)")
    lambda_gp = check_real(func, "lambda_gp", lambda_gp)
    n = real.shape[0]
    if eps is None:
        eps = torch.rand(n, generator=generator, dtype=real.dtype, device=real.device)
    else:
        check_shape(func, "eps", eps, (n,), "(one interpolation weight per example of real)")
        if bool((eps < 0).any()) or bool((eps > 1).any()):
            raise ValueError(f"{func}: eps holds values outside [0, 1]")
    weight = eps.reshape(n, *([1] * (real.dim() - 1)))
    x_hat = weight * real + (1 - weight) * fake
    if not x_hat.requires_grad:
        x_hat.requires_grad_(True)
    scores = critic(x_hat)
    check_scores(func, "critic(x_hat)", scores)
    (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
    norms = grad.reshape(n, -1).norm(dim=1)
    return lambda_gp * torch.mean((norms - 1) ** 2)


# --------------------------------------------------------------------------------------------
# Architectures
# --------------------------------------------------------------------------------------------


class Reshape(nn.Module):
    """Reshape every example of a batch: ``(N, ...) -> (N, *shape)``."""

    def __init__(self, *shape: int) -> None:
        super().__init__()
        self.shape = shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.shape)

    def extra_repr(self) -> str:
        return f"shape={self.shape}"


def _check_noise_dim(func: str, noise_dim: int) -> None:
    if isinstance(noise_dim, bool) or not isinstance(noise_dim, numbers.Integral) or noise_dim < 1:
        raise ValueError(f"{func}: noise_dim must be a positive integer, got {noise_dim!r}")


def discriminator() -> nn.Sequential:
    r"""The fully connected MNIST discriminator: 784 → 256 → 256 → 1, LeakyReLU(0.01).

    Input ``(N, 784)`` or ``(N, 1, 28, 28)``; output logits of shape ``(N, 1)``.

    Parameters: :math:`784 \cdot 256 + 256 + 256 \cdot 256 + 256 + 256 + 1` = 267,009.
    """
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(IMAGE_SIZE, 256),
        nn.LeakyReLU(0.01),
        nn.Linear(256, 256),
        nn.LeakyReLU(0.01),
        nn.Linear(256, 1),
    )


def generator(noise_dim: int = 96) -> nn.Sequential:
    r"""The fully connected MNIST generator: noise → 1024 → 1024 → 784, ReLU, ReLU, tanh.

    Input noise ``(N, noise_dim)``; output images ``(N, 784)`` in :math:`[-1, 1]`.

    Parameters: :math:`(\mathrm{noise\_dim} + 1) \cdot 1024 + 1025 \cdot 1024 + 1025 \cdot 784`,
    1,952,528 for ``noise_dim = 96``.
    """
    _check_noise_dim("generator", noise_dim)
    return nn.Sequential(
        nn.Linear(noise_dim, 1024),
        nn.ReLU(),
        nn.Linear(1024, 1024),
        nn.ReLU(),
        nn.Linear(1024, IMAGE_SIZE),
        nn.Tanh(),
    )


def build_dc_classifier() -> nn.Sequential:
    r"""The DCGAN-style MNIST discriminator.

    Conv 32 5×5 (28 → 24), LeakyReLU(0.01), max-pool 2 (→ 12), conv 64 5×5 (→ 8),
    LeakyReLU(0.01), max-pool 2 (→ 4), flatten (4·4·64 = 1024), fc 1024, LeakyReLU(0.01),
    fc 1. Input ``(N, 784)`` or ``(N, 1, 28, 28)``; output logits of shape ``(N, 1)``.

    Parameters: :math:`(25 + 1) \cdot 32 + (25 \cdot 32 + 1) \cdot 64 + 1025 \cdot 1024 + 1025`
    = 1,102,721.
    """
    return nn.Sequential(
        Reshape(1, 28, 28),
        nn.Conv2d(1, 32, kernel_size=5),
        nn.LeakyReLU(0.01),
        nn.MaxPool2d(2, stride=2),
        nn.Conv2d(32, 64, kernel_size=5),
        nn.LeakyReLU(0.01),
        nn.MaxPool2d(2, stride=2),
        nn.Flatten(),
        nn.Linear(4 * 4 * 64, 1024),
        nn.LeakyReLU(0.01),
        nn.Linear(1024, 1),
    )


def build_dc_generator(noise_dim: int = 96) -> nn.Sequential:
    r"""The DCGAN-style MNIST generator.

    fc 1024, ReLU, BatchNorm; fc 7·7·128, ReLU, BatchNorm; reshape to ``(128, 7, 7)``;
    transposed conv 64 4×4 stride 2 pad 1 (→ 14×14), ReLU, BatchNorm; transposed conv 1 4×4
    stride 2 pad 1 (→ 28×28), tanh; flatten. Input noise ``(N, noise_dim)``; output images
    ``(N, 784)`` in :math:`[-1, 1]`.

    Parameters (a batch norm has :math:`2C`):
    :math:`(\mathrm{noise\_dim} + 1) \cdot 1024 + 2 \cdot 1024 + 1025 \cdot 6272
    + 2 \cdot 6272 + (128 \cdot 16 + 1) \cdot 64 + 2 \cdot 64 + 64 \cdot 16 + 1`,
    6,675,009 for ``noise_dim = 96``.
    """
    _check_noise_dim("build_dc_generator", noise_dim)
    return nn.Sequential(
        nn.Linear(noise_dim, 1024),
        nn.ReLU(),
        nn.BatchNorm1d(1024),
        nn.Linear(1024, 7 * 7 * 128),
        nn.ReLU(),
        nn.BatchNorm1d(7 * 7 * 128),
        Reshape(128, 7, 7),
        nn.ConvTranspose2d(128, 64, kernel_size=4, stride=2, padding=1),
        nn.ReLU(),
        nn.BatchNorm2d(64),
        nn.ConvTranspose2d(64, 1, kernel_size=4, stride=2, padding=1),
        nn.Tanh(),
        nn.Flatten(),
    )
