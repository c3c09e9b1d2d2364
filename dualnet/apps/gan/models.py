"""The two GAN architectures and the three losses, by the names the command line uses.

Everything here comes from :mod:`torch_impl.gan`; this module only names the choices:

* ``--model fc``: :func:`~torch_impl.gan.generator` (noise → 1024 → 1024 → 784) and
  :func:`~torch_impl.gan.discriminator` (784 → 256 → 256 → 1);
* ``--model dc``: :func:`~torch_impl.gan.build_dc_generator` (fc, fc, two transposed
  convolutions) and :func:`~torch_impl.gan.build_dc_classifier` (two convolutions, two fc);
* ``--loss vanilla``: binary cross-entropy, the generator's loss in the non-saturating form;
  ``--loss ls``: least squares; ``--loss wgan-gp``: the Wasserstein critic with the gradient
  penalty (added by the trainer).

Both discriminators end in a linear layer: their scores are logits for the vanilla loss, raw
scores for the least-squares loss, and critic values for WGAN-GP (no sigmoid anywhere).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from dualnet.apps.gan.data import DigitsError
from torch_impl import gan

IMAGE_SHAPE = (28, 28)
"""The one image size both architectures take: 784 pixels in, 784 pixels out."""
LOSSES = ("vanilla", "ls", "wgan-gp")


@dataclass(frozen=True)
class GanSpec:
    """How to build one architecture's generator ``noise_dim -> G`` and critic ``() -> D``."""

    description: str
    build_generator: Callable[[int], nn.Module]
    build_critic: Callable[[], nn.Module]


MODELS = {
    "fc": GanSpec("fully connected (Goodfellow et al. 2014)", gan.generator, gan.discriminator),
    "dc": GanSpec(
        "DCGAN, convolutional (Radford et al. 2016)",
        gan.build_dc_generator,
        gan.build_dc_classifier,
    ),
}


def build_pair(model: str, noise_dim: int) -> tuple[nn.Module, nn.Module]:
    """The generator ``(N, noise_dim) -> (N, 784)`` and the critic ``(N, 784) -> (N, 1)``."""
    spec = MODELS[model]
    return spec.build_generator(noise_dim), spec.build_critic()


def check_image_shape(shape: tuple[int, ...], source: str) -> None:
    """Refuse images the architectures cannot take (:class:`DigitsError`), naming where they
    came from."""
    if tuple(shape) != IMAGE_SHAPE:
        size = "x".join(str(s) for s in shape)
        raise DigitsError(
            f"{source} holds {size} images; the fc and dc architectures take "
            f"{IMAGE_SHAPE[0]}x{IMAGE_SHAPE[1]} digits (784 pixels, the size of MNIST)"
        )


def critic_loss(loss: str, scores_real: torch.Tensor, scores_fake: torch.Tensor) -> torch.Tensor:
    """The discriminator's (critic's) loss without the gradient penalty."""
    if loss == "vanilla":
        return gan.discriminator_loss(scores_real, scores_fake)
    if loss == "ls":
        return gan.ls_discriminator_loss(scores_real, scores_fake)
    return gan.wgan_critic_loss(scores_real, scores_fake)


def generator_loss(loss: str, scores_fake: torch.Tensor) -> torch.Tensor:
    """The generator's loss on the critic's scores of its images."""
    if loss == "vanilla":
        return gan.generator_loss(scores_fake)
    if loss == "ls":
        return gan.ls_generator_loss(scores_fake)
    return gan.wgan_generator_loss(scores_fake)


def penalty_and_norm(
    critic: nn.Module,
    real: torch.Tensor,
    fake: torch.Tensor,
    lambda_gp: float,
    eps: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The WGAN-GP penalty :func:`torch_impl.gan.gradient_penalty` and, for the log, the mean
    norm :math:`\lVert \nabla_{\hat x} D(\hat x) \rVert_2` at the interpolates it used.

    The penalty's own graph (``create_graph=True``) holds the gradient only implicitly, so the
    norm is taken by one more (plain) backward through the critic on the recorded interpolates.

    Args:
        critic: The critic, ``(N, 784) -> (N, 1)``.
        real, fake: ``(N, 784)``.
        lambda_gp: The penalty weight.
        eps: Interpolation weights ``(N,)`` in ``[0, 1]``.

    Returns:
        ``(penalty, mean_norm)``: the penalty (differentiable) and the mean norm (detached).
    """
    seen = {}

    def recording_critic(x_hat: torch.Tensor) -> torch.Tensor:
        seen["x_hat"], seen["scores"] = x_hat, critic(x_hat)
        return seen["scores"]

    penalty = gan.gradient_penalty(recording_critic, real, fake, lambda_gp, eps=eps)
    (grad,) = torch.autograd.grad(seen["scores"].sum(), seen["x_hat"], retain_graph=True)
    return penalty, grad.reshape(len(grad), -1).norm(dim=1).mean().detach()
