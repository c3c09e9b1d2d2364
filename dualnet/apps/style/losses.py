r"""The losses of style transfer from either backend, inside one PyTorch backward pass.

The network's backward pass is always PyTorch's; the losses on top of it come from

``torch``
    :func:`torch_impl.style_transfer.style_transfer_loss`, differentiated by autograd;
``numpy``
    :func:`reference_numpy.style_transfer.style_transfer_loss_forward` and its hand-derived
    ``_backward``, wrapped in :class:`NumpyObjective`, a ``torch.autograd.Function``: its
    forward hands the activations and the image to NumPy and returns the three losses; its
    backward hands NumPy the upstream gradients of the losses and returns NumPy's gradients
    for every activation and for the image. Autograd then carries the activations' gradients
    back through the network to the image and adds the TV loss's direct gradient:

    .. math::

        \frac{\partial L}{\partial z} = \overline{z}\big|_{L_{tv}}
            + \sum_\ell \left(\frac{\partial F^\ell}{\partial z}\right)^{\!\top}
              \overline{F^\ell}.

Both give the same :math:`\partial L / \partial z` up to rounding (tested to 1e-10 in
float64).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from reference_numpy.style_transfer import (
    style_transfer_loss_backward,
    style_transfer_loss_forward,
)
from torch_impl.style import gram_matrix
from torch_impl.style_transfer import style_transfer_loss


@dataclass
class Targets:
    """What the losses compare with: the content image's features at the content layer and
    the style image's Gram matrices at the style layers (tensors, and NumPy copies for the
    NumPy losses), with the weights."""

    content_layer: int
    content_target: torch.Tensor
    content_weight: float
    style_layers: list[int]
    style_targets: list[torch.Tensor]
    style_weights: list[float]
    tv_weight: float
    numpy_copies: tuple | None = field(default=None, repr=False)

    @property
    def last(self) -> int:
        """The last layer any loss reads: the network runs up to it and no further."""
        return max(self.content_layer, *self.style_layers)

    def torch_arguments(self) -> tuple:
        return (
            self.content_layer,
            self.content_target,
            self.content_weight,
            self.style_layers,
            self.style_targets,
            self.style_weights,
            self.tv_weight,
        )

    def numpy_arguments(self) -> tuple:
        if self.numpy_copies is None:  # converted once, not at every step
            arguments = list(self.torch_arguments())
            arguments[1] = to_numpy(self.content_target)
            arguments[4] = [to_numpy(t) for t in self.style_targets]
            self.numpy_copies = tuple(arguments)
        return self.numpy_copies


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy()


def make_targets(net, content_z, style_z, config) -> Targets:
    """The targets of ``config``'s layers and weights, from normalised content and style
    images ``(1, 3, H, W)`` (one forward pass each, no gradient)."""
    last = max(config.content_layer, *config.style_layers)
    with torch.no_grad():
        content_feats = net(content_z, last)
        style_feats = net(style_z, last)
    return Targets(
        content_layer=config.content_layer,
        content_target=content_feats[config.content_layer].detach(),
        content_weight=float(config.content_weight),
        style_layers=list(config.style_layers),
        style_targets=[gram_matrix(style_feats[i]).detach() for i in config.style_layers],
        style_weights=[float(w) for w in config.style_weights],
        tv_weight=float(config.tv_weight),
    )


class NumpyObjective(torch.autograd.Function):
    """The three losses ``(3,)`` from ``reference_numpy``, with its hand-derived gradients."""

    @staticmethod
    def forward(ctx, targets: Targets, img: torch.Tensor, *feats: torch.Tensor):
        """NumPy's three losses of the image ``img`` and its activations ``feats``, as a
        ``(3,)`` tensor; NumPy's cache is kept for :meth:`backward`."""
        losses, cache = style_transfer_loss_forward(
            [to_numpy(f) for f in feats], to_numpy(img), *targets.numpy_arguments()
        )
        ctx.cache, ctx.device = cache, img.device
        return torch.tensor(np.array(losses), dtype=img.dtype, device=img.device)

    @staticmethod
    def backward(ctx, dlosses: torch.Tensor):
        """NumPy's hand-derived gradients for the image and every activation, given the
        upstream gradients ``(3,)`` of the losses (``None`` for ``targets``)."""
        dfeats, dimg = style_transfer_loss_backward(tuple(to_numpy(dlosses)), ctx.cache)
        move = lambda array: torch.from_numpy(array).to(ctx.device)  # noqa: E731
        return None, move(dimg), *(move(d) for d in dfeats)


def blas_threads(backend: str):
    """A context for the optimisation loop: with the NumPy losses, NumPy's BLAS runs on one
    thread. Its worker threads wait for work by spinning, and beside PyTorch's own threads on
    the same cores the two pools take turns: on two cores, 200 steps at 192 px took 19.4 s
    with both pools against 5.7 s with PyTorch's losses; with BLAS on one thread the NumPy
    losses cost about what PyTorch's do."""
    if backend == "numpy":
        return threadpool_limits(limits=1, user_api="blas")
    return contextlib.nullcontext()


def objective(feats: list[torch.Tensor], z: torch.Tensor, targets: Targets, backend: str):
    """``(content, style, tv)`` for normalised images ``z`` and their activations ``feats``,
    computed by ``backend`` (``torch`` or ``numpy``); differentiable either way."""
    if backend == "torch":
        return style_transfer_loss(feats, z, *targets.torch_arguments())
    if backend == "numpy":
        content, style, tv = NumpyObjective.apply(targets, z, *feats)
        return content, style, tv
    raise ValueError(f"--loss-backend must be torch or numpy, got {backend!r}")
