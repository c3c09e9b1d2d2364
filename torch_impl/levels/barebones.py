r"""The lowest level: weights are plain tensors, the network is a function, and the update
rule is written out by hand. Only the gradients come from autograd.

Two networks, as in the classic course:

* ``two_layer_fc(x, params)``:
  :math:`\mathrm{scores} = \mathrm{ReLU}(\tilde x W_1 + b_1) W_2 + b_2`;
* ``three_layer_convnet(x, params)``: conv 5x5 (padding 2) - ReLU - conv 3x3 (padding 1) -
  ReLU - fully connected.

Weights start from Kaiming (He) initialisation, :math:`w \sim \mathcal N(0, 2 / \mathrm{fan_{in}})`,
which keeps the variance of ReLU activations roughly constant from layer to layer; biases start
at zero.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F


def kaiming_weight(
    shape: tuple[int, ...],
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    r"""A weight tensor drawn from :math:`\mathcal N(0, 2 / \mathrm{fan_{in}})`, requiring grad.

    ``fan_in`` is ``shape[0]`` for a fully connected weight ``(D, M)`` (the layer computes
    ``x @ w``) and ``C * HH * WW`` for a convolution weight ``(F, C, HH, WW)``.
    """
    fan_in = shape[0] if len(shape) == 2 else math.prod(shape[1:])
    w = torch.randn(shape, generator=generator, dtype=dtype, device=device) * math.sqrt(
        2.0 / fan_in
    )
    return w.requires_grad_()


def zero_weight(
    shape: tuple[int, ...], dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """A zero tensor requiring grad (for biases)."""
    return torch.zeros(shape, dtype=dtype, device=device, requires_grad=True)


def two_layer_fc(x: torch.Tensor, params: list[torch.Tensor]) -> torch.Tensor:
    """Scores of a two-layer fully connected ReLU network.

    Args:
        x: Inputs, shape ``(N, d_1, ..., d_k)``, flattened to ``(N, D)``.
        params: ``[w1 (D, H), b1 (H,), w2 (H, C), b2 (C,)]``.

    Returns:
        Scores, shape ``(N, C)``.
    """
    w1, b1, w2, b2 = params
    hidden = F.relu(x.flatten(1) @ w1 + b1)
    return hidden @ w2 + b2


def three_layer_convnet(x: torch.Tensor, params: list[torch.Tensor]) -> torch.Tensor:
    """Scores of the three-layer ConvNet: conv 5x5 - ReLU - conv 3x3 - ReLU - affine.

    Args:
        x: Images, shape ``(N, C, H, W)``.
        params: ``[conv_w1 (F1, C, 5, 5), conv_b1 (F1,), conv_w2 (F2, F1, 3, 3), conv_b2 (F2,),
            fc_w (F2 * H * W, classes), fc_b (classes,)]``.

    Returns:
        Scores, shape ``(N, classes)``.
    """
    conv_w1, conv_b1, conv_w2, conv_b2, fc_w, fc_b = params
    h = F.relu(F.conv2d(x, conv_w1, conv_b1, padding=2))
    h = F.relu(F.conv2d(h, conv_w2, conv_b2, padding=1))
    return h.flatten(1) @ fc_w + fc_b


def init_two_layer_fc(
    input_dim: int, hidden_dim: int, num_classes: int, generator: torch.Generator | None = None
) -> list[torch.Tensor]:
    """Kaiming-initialised ``[w1, b1, w2, b2]`` for :func:`two_layer_fc`."""
    return [
        kaiming_weight((input_dim, hidden_dim), generator),
        zero_weight((hidden_dim,)),
        kaiming_weight((hidden_dim, num_classes), generator),
        zero_weight((num_classes,)),
    ]


def init_three_layer_convnet(
    in_channels: int,
    image_size: int,
    channel_1: int,
    channel_2: int,
    num_classes: int,
    generator: torch.Generator | None = None,
) -> list[torch.Tensor]:
    """Kaiming-initialised parameters for :func:`three_layer_convnet` on square images."""
    return [
        kaiming_weight((channel_1, in_channels, 5, 5), generator),
        zero_weight((channel_1,)),
        kaiming_weight((channel_2, channel_1, 3, 3), generator),
        zero_weight((channel_2,)),
        kaiming_weight((channel_2 * image_size * image_size, num_classes), generator),
        zero_weight((num_classes,)),
    ]


def sgd_step(params: list[torch.Tensor], learning_rate: float) -> None:
    r"""One hand-written SGD step, :math:`w \leftarrow w - \eta\, \partial L / \partial w`, then
    clear the gradients. The update must not be recorded by autograd, hence ``no_grad``."""
    with torch.no_grad():
        for w in params:
            if w.grad is not None:
                w -= learning_rate * w.grad
                w.grad.zero_()


def train_step(
    model_fn: Callable[[torch.Tensor, list[torch.Tensor]], torch.Tensor],
    params: list[torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    learning_rate: float,
) -> float:
    """Forward, softmax loss, backward by autograd, hand-written SGD step; returns the loss."""
    loss = F.cross_entropy(model_fn(x, params), y)
    loss.backward()
    sgd_step(params, learning_rate)
    return float(loss.detach())


class BarebonesModel:
    """A barebones network packaged for the shared training loop.

    It is deliberately *not* an ``nn.Module``: it holds a list of tensors and a function, and
    offers only the few methods the trainer calls (``__call__``, ``parameters``,
    ``state_dict``, ``load_state_dict``, ``train``, ``eval``, ``to``).
    """

    def __init__(self, function: Callable, params: list[torch.Tensor]):
        self.function = function
        self.params = params

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.function(x, self.params)

    def parameters(self):
        return iter(self.params)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {f"params.{i}": w.detach().clone() for i, w in enumerate(self.params)}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        with torch.no_grad():
            for i, w in enumerate(self.params):
                w.copy_(state[f"params.{i}"])

    def train(self, mode: bool = True) -> BarebonesModel:
        return self

    def eval(self) -> BarebonesModel:
        return self

    def to(self, device=None, memory_format=None) -> BarebonesModel:
        if device is not None:
            self.params = [w.detach().to(device).requires_grad_() for w in self.params]
        return self


class HandWrittenSGD:
    """:func:`sgd_step` behind the small part of the ``torch.optim`` interface the trainer uses,
    so that the barebones level trains in the same loop as the others."""

    def __init__(self, params, lr: float):
        self.params = list(params)
        self.param_groups = [{"lr": lr}]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for w in self.params:
            w.grad = None

    def step(self) -> None:
        sgd_step(self.params, self.param_groups[0]["lr"])

    def state_dict(self) -> dict:
        return {"lr": self.param_groups[0]["lr"]}

    def load_state_dict(self, state: dict) -> None:
        self.param_groups[0]["lr"] = state["lr"]
