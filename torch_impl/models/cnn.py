r"""The classic three-layer convolutional network, in PyTorch.

The twin of ``reference_numpy.models.ThreeLayerConvNet``: conv - ReLU - 2x2 max pool - affine -
ReLU - affine, with the same parameters under the same names (``model.W1`` ... ``model.b3`` as
``nn.Parameter`` attributes), the same loss and L2 term, and gradients from autograd.

Exchanging weights with the NumPy model::

    torch_model = ThreeLayerConvNet.from_numpy(numpy_model)        # NumPy -> torch (copies)
    numpy_model.set_params(torch_model.numpy_params())             # torch -> NumPy (copies)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from torch_impl.conv import conv, max_pool
from torch_impl.layers import affine, relu
from torch_impl.losses import softmax_loss
from torch_impl.models.fc_net import (
    check_class_labels,
    check_dimension,
    check_float_dtype,
    check_inputs_device,
    check_nonnegative,
    check_positive,
    check_seed,
    l2_penalty,
    load_numpy_params,
    numpy_params,
    torch_dtype_of,
)
from torch_impl.validation import check_tensor, format_shape

POOL_PARAM = {"pool_height": 2, "pool_width": 2, "stride": 2}
"""The 2x2 max pooling with stride 2 that halves the feature maps."""


def check_image_dim(func: str, input_dim) -> tuple[int, int, int]:
    """Fail unless ``input_dim`` is ``(C, H, W)``, three positive integers with ``H, W >= 2``."""
    if not isinstance(input_dim, Sequence) or len(input_dim) != 3:
        raise ValueError(f"{func}: input_dim must be (C, H, W), got {input_dim!r}")
    c, h, w = (check_dimension(func, f"input_dim[{i}]", v) for i, v in enumerate(input_dim))
    if h < 2 or w < 2:
        raise ValueError(
            f"{func}: input_dim is {(c, h, w)}, expected H >= 2 and W >= 2 for the 2x2 pooling"
        )
    return c, h, w


def check_filter_size(func: str, filter_size) -> int:
    """Fail unless ``filter_size`` is a positive odd integer ("same" padding needs it)."""
    filter_size = check_dimension(func, "filter_size", filter_size)
    if filter_size % 2 == 0:
        raise ValueError(
            f"{func}: filter_size must be odd so that padding (filter_size - 1) / 2 keeps the "
            f"image size, got {filter_size}"
        )
    return filter_size


def initial_params(
    input_dim: tuple[int, int, int],
    num_filters: int,
    filter_size: int,
    hidden_dim: int,
    num_classes: int,
    weight_scale: float,
    seed: int | None = None,
) -> dict[str, np.ndarray]:
    r"""The initial parameters, in float64, drawn exactly as the NumPy model draws them:
    standard normal times ``weight_scale`` from ``numpy.random.default_rng(seed)`` in the order
    ``W1, W2, W3``; biases 0.

    Returns:
        ``{name: array}``: ``W1 (F, C, K, K)``, ``b1 (F,)``, ``W2 (F * H/2 * W/2, M)``,
        ``b2 (M,)``, ``W3 (M, C_out)``, ``b3 (C_out,)``.
    """
    rng = np.random.default_rng(seed)
    c, h, w = input_dim
    pooled = num_filters * (h // 2) * (w // 2)
    return {
        "W1": weight_scale * rng.standard_normal((num_filters, c, filter_size, filter_size)),
        "b1": np.zeros(num_filters),
        "W2": weight_scale * rng.standard_normal((pooled, hidden_dim)),
        "b2": np.zeros(hidden_dim),
        "W3": weight_scale * rng.standard_normal((hidden_dim, num_classes)),
        "b3": np.zeros(num_classes),
    }


class ThreeLayerConvNet(nn.Module):
    r"""conv - ReLU - 2x2 max pool - affine - ReLU - affine, parameter for parameter the NumPy
    model: ``W1 (F, C, K, K)``, ``b1 (F,)``, ``W2 (F * H/2 * W/2, M)``, ``b2 (M,)``,
    ``W3 (M, C_out)``, ``b3 (C_out,)``; "same" padding ``(K - 1) / 2``, stride 1.

    Args:
        input_dim: ``(C, H, W)`` with ``H, W >= 2``.
        num_filters: ``F``.
        filter_size: ``K``, odd.
        hidden_dim: ``M``.
        num_classes: ``C_out``.
        weight_scale: Standard deviation of the initial weights.
        reg: L2 regularization strength :math:`\lambda \ge 0`.
        dtype: ``torch.float32`` or ``torch.float64``.
        device: Where the parameters live (default: the CPU).
        seed: ``None`` or a non-negative integer fixing the initial weights (the same numbers
            as the NumPy model with that seed).

    Raises:
        ValueError: for any argument outside the ranges above.
    """

    def __init__(
        self,
        input_dim: tuple[int, int, int] = (3, 32, 32),
        num_filters: int = 32,
        filter_size: int = 7,
        hidden_dim: int = 100,
        num_classes: int = 10,
        weight_scale: float = 1e-3,
        reg: float = 0.0,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        func = "ThreeLayerConvNet"
        self.input_dim = check_image_dim(func, input_dim)
        self.num_filters = check_dimension(func, "num_filters", num_filters)
        self.filter_size = check_filter_size(func, filter_size)
        self.hidden_dim = check_dimension(func, "hidden_dim", hidden_dim)
        self.num_classes = check_dimension(func, "num_classes", num_classes)
        self.weight_scale = check_positive(func, "weight_scale", weight_scale)
        self.reg = check_nonnegative(func, "reg", reg)
        dtype = check_float_dtype(func, dtype)
        self.seed = check_seed(func, seed)
        params = initial_params(
            self.input_dim,
            self.num_filters,
            self.filter_size,
            self.hidden_dim,
            self.num_classes,
            self.weight_scale,
            self.seed,
        )
        for name, value in params.items():
            setattr(self, name, nn.Parameter(torch.tensor(value, dtype=dtype, device=device)))
        self.param_names = tuple(params)

    @property
    def conv_param(self) -> dict:
        """``{'stride': 1, 'pad': (K - 1) // 2}``: "same" padding."""
        return {"stride": 1, "pad": (self.filter_size - 1) // 2}

    @property
    def weight_names(self) -> list[str]:
        """``['W1', 'W2', 'W3']``: the parameters the L2 term penalizes."""
        return ["W1", "W2", "W3"]

    def config(self) -> dict:
        """The constructor arguments other than ``dtype`` and ``device``; the NumPy model
        takes the same ones: ``reference_numpy.models.ThreeLayerConvNet(**model.config())``."""
        return {
            "input_dim": self.input_dim,
            "num_filters": self.num_filters,
            "filter_size": self.filter_size,
            "hidden_dim": self.hidden_dim,
            "num_classes": self.num_classes,
            "weight_scale": self.weight_scale,
            "reg": self.reg,
            "seed": self.seed,
        }

    def numpy_params(self) -> dict[str, np.ndarray]:
        """Copies of the parameters as NumPy arrays (CPU, the parameters' dtype), keyed by
        name: what ``reference_numpy.models.ThreeLayerConvNet.set_params`` takes."""
        return numpy_params(self)

    def load_numpy_params(self, params: dict[str, np.ndarray]) -> None:
        """Copy NumPy arrays (e.g. a NumPy model's ``params``) into the parameters, keeping
        each parameter's dtype and device.

        Raises:
            ValueError: unless ``params`` holds exactly this model's names with its shapes.
        """
        load_numpy_params("ThreeLayerConvNet.load_numpy_params", self, params)

    @classmethod
    def from_numpy(cls, source, device: torch.device | str | None = None) -> ThreeLayerConvNet:
        """A torch model with the architecture of a NumPy model and copies of its parameters.

        Args:
            source: A ``reference_numpy.models.ThreeLayerConvNet`` (anything with
                ``config()``, ``dtype`` and ``params``).
            device: Where to put the parameters (default: the CPU).

        Returns:
            The model, in the dtype matching the NumPy model's (float32 or float64).
        """
        func = "ThreeLayerConvNet.from_numpy"
        model = cls(**source.config(), dtype=torch_dtype_of(func, source), device=device)
        model.load_numpy_params(source.params)
        return model

    def _inputs(self, func: str, X) -> torch.Tensor:
        check_tensor(func, "X", X)
        if X.dim() != 4 or tuple(X.shape[1:]) != self.input_dim:
            c, h, w = self.input_dim
            raise ValueError(
                f"{func}: X has shape {format_shape(X.shape)}, expected (N, {c}, {h}, {w}): "
                f"images of input_dim = {self.input_dim}"
            )
        return check_inputs_device(func, X, self.W1)

    def _scores(self, X: torch.Tensor) -> torch.Tensor:
        pooled = max_pool(relu(conv(X, self.W1, self.b1, self.conv_param)), POOL_PARAM)
        hidden = relu(affine(pooled, self.W2, self.b2))
        return affine(hidden, self.W3, self.b3)

    def loss(self, X: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        r"""The mirror of the NumPy ``loss``: class scores when ``y`` is ``None``, otherwise
        the softmax loss plus
        :math:`\frac{\lambda}{2}(\lVert W_1\rVert^2 + \lVert W_2\rVert^2 + \lVert W_3\rVert^2)`,
        whose ``backward()`` fills every parameter's ``.grad``.

        Args:
            X: Images ``(N, C, H, W)`` as ``input_dim``, on the model's device; cast to the
                model's dtype.
            y: Labels ``(N,)``, integers in ``[0, num_classes)``, or ``None``.

        Returns:
            Scores ``(N, C_out)`` when ``y`` is ``None``, else the loss (0-dimensional tensor).

        Raises:
            ValueError: for images of the wrong shape or labels of the wrong shape, type or
                range.
        """
        func = "ThreeLayerConvNet.loss"
        X = self._inputs(func, X)
        scores = self._scores(X)
        if y is None:
            return scores
        check_class_labels(func, y, X.shape[0], self.num_classes, X.device)
        return softmax_loss(scores, y) + l2_penalty(self, self.weight_names, self.reg)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Class scores ``(N, C_out)`` (the network has no train/test difference)."""
        return self._scores(self._inputs("ThreeLayerConvNet.forward", X))
