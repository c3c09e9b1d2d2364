r"""A fully connected classifier of any depth, in PyTorch, with batch/layer norm and dropout.

The twin of ``reference_numpy.models.FullyConnectedNet``: the same architecture, the same
parameters under the same names (``model.W1``, ``model.gamma1``, ... as ``nn.Parameter``
attributes), the same loss with the same L2 term, and gradients from autograd. Batch
normalization is ``torch_impl.layers.batchnorm`` with the classic running-statistics
convention (momentum 0.9 the weight of the old value); the running statistics are buffers
``running_mean{l}``, ``running_var{l}``.

Exchanging weights with the NumPy model::

    torch_model = FullyConnectedNet.from_numpy(numpy_model)         # NumPy -> torch (copies)
    numpy_model.set_params(torch_model.numpy_params())              # torch -> NumPy (copies)
    numpy_model.set_running_stats(torch_model.numpy_running_stats())

With the same weights both give the same scores, loss and gradients.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from torch_impl.layers import affine, batchnorm, dropout, layernorm, relu
from torch_impl.losses import softmax_loss
from torch_impl.validation import check_choice, check_real, check_shape, check_tensor, format_shape

NORMALIZATIONS = (None, "batchnorm", "layernorm")
NUMPY_TO_TORCH_DTYPE = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}

# --------------------------------------------------------------------------------------------
# Argument checks and weight exchange shared by the classifiers
# --------------------------------------------------------------------------------------------


def check_dimension(func: str, name: str, value) -> int:
    """Fail unless ``value`` is a positive integer; return it as an int."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{func}: {name} must be a positive integer, got {value!r}")
    return int(value)


def check_nonnegative(func: str, name: str, value) -> float:
    """Fail unless ``value`` is a finite real number ``>= 0``; return it as a float."""
    value = check_real(func, name, value)
    if value < 0:
        raise ValueError(f"{func}: {name} must be >= 0, got {value!r}")
    return value


def check_positive(func: str, name: str, value) -> float:
    """Fail unless ``value`` is a finite real number ``> 0``; return it as a float."""
    value = check_real(func, name, value)
    if value <= 0:
        raise ValueError(f"{func}: {name} must be positive, got {value!r}")
    return value


def check_float_dtype(func: str, dtype) -> torch.dtype:
    """Fail unless ``dtype`` is ``torch.float32`` or ``torch.float64``."""
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"{func}: dtype must be torch.float32 or torch.float64, got {dtype!r}")
    return dtype


def check_seed(func: str, seed) -> int | None:
    """Fail unless ``seed`` is ``None`` or a non-negative integer."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"{func}: seed must be None or a non-negative integer, got {seed!r}")
    return int(seed)


def check_class_labels(func: str, y, count: int, num_classes: int, device) -> None:
    """Fail unless ``y`` holds ``count`` integer labels in ``[0, num_classes)`` on ``device``."""
    check_tensor(func, "y", y)
    if y.dtype.is_floating_point or y.dtype.is_complex or y.dtype == torch.bool:
        raise ValueError(f"{func}: y must hold integer class labels, got dtype {y.dtype}")
    check_shape(func, "y", y, (count,), f"(N,) with N = {count}, one label per example of X")
    if y.device != device:
        raise ValueError(f"{func}: y is on {y.device} but the model's parameters are on {device}")
    if count and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise ValueError(
            f"{func}: y holds labels from {int(y.min())} to {int(y.max())}, "
            f"expected labels in [0, {num_classes}) for num_classes = {num_classes}"
        )


def check_inputs_device(func: str, X: torch.Tensor, parameter: torch.Tensor) -> torch.Tensor:
    """Fail unless ``X`` is on the parameters' device; return it in their dtype."""
    if X.device != parameter.device:
        raise ValueError(
            f"{func}: X is on {X.device} but the model's parameters are on {parameter.device}; "
            "move one of them (model.to(device) or X.to(...))"
        )
    return X.to(parameter.dtype)


def l2_penalty(model: nn.Module, names: Sequence[str], reg: float) -> torch.Tensor:
    r"""The L2 term :math:`\tfrac12 \lambda \sum_W \sum_{ij} W_{ij}^2` over the weight matrices
    ``names`` of ``model``, as a 0-dimensional tensor (autograd gives :math:`\lambda W`)."""
    return 0.5 * reg * sum((getattr(model, name) ** 2).sum() for name in names)


def numpy_params(model: nn.Module) -> dict[str, np.ndarray]:
    """Copies of ``model``'s parameters as NumPy arrays (on the CPU, in their dtype), keyed by
    name in the order of ``model.param_names``."""
    return {name: getattr(model, name).detach().cpu().numpy().copy() for name in model.param_names}


def load_numpy_params(func: str, model: nn.Module, params: dict[str, np.ndarray]) -> None:
    """Copy NumPy arrays into ``model``'s parameters, keeping each parameter's dtype and
    device, after checking that ``params`` holds exactly the model's names with its shapes."""
    if not isinstance(params, dict) or set(params) != set(model.param_names):
        got = sorted(params) if isinstance(params, dict) else type(params).__name__
        raise ValueError(
            f"{func}: params must have the keys {sorted(model.param_names)}, got {got}"
        )
    with torch.no_grad():
        for name in model.param_names:
            target, value = getattr(model, name), params[name]
            if not isinstance(value, np.ndarray) or value.shape != tuple(target.shape):
                raise ValueError(
                    f"{func}: params[{name!r}] has shape {format_shape(np.shape(value))}, "
                    f"expected {format_shape(target.shape)} like the model's {name}"
                )
            target.copy_(torch.from_numpy(np.array(value, copy=True)))


def torch_dtype_of(func: str, source) -> torch.dtype:
    """The torch dtype matching a NumPy model's ``dtype`` (float32 or float64)."""
    dtype = np.dtype(source.dtype)
    if dtype not in NUMPY_TO_TORCH_DTYPE:
        raise ValueError(f"{func}: the model's dtype must be float32 or float64, got {dtype}")
    return NUMPY_TO_TORCH_DTYPE[dtype]


def initial_params(
    hidden_dims: Sequence[int],
    input_dim: int,
    num_classes: int,
    normalization: str | None,
    weight_scale: float,
    seed: int | None = None,
) -> dict[str, np.ndarray]:
    r"""The initial parameters, in float64, drawn exactly as the NumPy model draws them:
    ``W{l}`` standard normal times ``weight_scale`` from ``numpy.random.default_rng(seed)`` in
    the order ``W1, W2, ...``; biases and shifts 0, scales 1.

    Returns:
        ``{name: array}`` in the order ``W1, b1, [gamma1, beta1,] W2, ...``.
    """
    rng = np.random.default_rng(seed)
    sizes = [input_dim, *hidden_dims, num_classes]
    params: dict[str, np.ndarray] = {}
    for layer, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
        params[f"W{layer}"] = weight_scale * rng.standard_normal((fan_in, fan_out))
        params[f"b{layer}"] = np.zeros(fan_out)
        if normalization is not None and layer < len(sizes) - 1:
            params[f"gamma{layer}"] = np.ones(fan_out)
            params[f"beta{layer}"] = np.zeros(fan_out)
    return params


def classic_aliases(func: str, dropout_keep_ratio, normalization, dropout, use_batchnorm):
    """Translate the 2017 assignment's keywords into the current ones.

    ``dropout=p`` is the probability of *dropping* an activation (0: no dropout), so it means
    ``dropout_keep_ratio = 1 - p``; ``use_batchnorm=True`` means ``normalization='batchnorm'``.
    An alias that contradicts the current keyword given with it is refused.

    Returns:
        ``(dropout_keep_ratio, normalization)``.
    """
    if dropout is not None:
        p = check_real(func, "dropout", dropout)
        if not 0.0 <= p < 1.0:
            raise ValueError(
                f"{func}: dropout is the probability of dropping an activation (the 2017 "
                f"keyword) and must lie in [0, 1), got {dropout!r}"
            )
        if dropout_keep_ratio != 1:
            raise ValueError(
                f"{func}: give either dropout (probability of dropping) or "
                f"dropout_keep_ratio (probability of keeping), not both"
            )
        dropout_keep_ratio = 1.0 - p
    if use_batchnorm is not None:
        if not isinstance(use_batchnorm, bool):
            raise ValueError(f"{func}: use_batchnorm must be True or False, got {use_batchnorm!r}")
        wanted = "batchnorm" if use_batchnorm else None
        if normalization is not None and normalization != wanted:
            raise ValueError(
                f"{func}: use_batchnorm={use_batchnorm} contradicts "
                f"normalization={normalization!r}; give one of them"
            )
        normalization = wanted
    return dropout_keep_ratio, normalization


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------


class FullyConnectedNet(nn.Module):
    r"""The fully connected classifier in PyTorch, parameter for parameter the NumPy model.

    Hidden layer ``l`` is ``affine -> [batchnorm | layernorm] -> relu -> [dropout]``, then a
    last affine layer gives the scores. The parameters ``W{l} (H_{l-1}, H_l)``, ``b{l}``,
    ``gamma{l}``, ``beta{l}`` are ``nn.Parameter`` attributes, named, shaped and initialized
    as in ``reference_numpy.models.FullyConnectedNet`` (the same seed draws the same numbers).

    **Dropout.** ``dropout_keep_ratio`` is the probability of keeping an activation; the layer
    ``torch_impl.layers.dropout`` takes ``p = 1 - dropout_keep_ratio``, the probability of
    zeroing, stored in ``dropout_param['p']``. With a seed, hidden layer ``l`` draws its mask
    from a ``torch.Generator`` seeded with ``seed + l``, which gives *different* masks from
    the NumPy model's; to drop exactly the same activations in both, pass the NumPy model's
    ``dropout_masks(N)`` as ``dropout_masks``.

    Args:
        hidden_dims: Sizes of the hidden layers.
        input_dim: ``D``, numbers per example.
        num_classes: ``C``.
        dropout_keep_ratio: Probability of keeping an activation, in ``(0, 1]``.
        normalization: ``None``, ``'batchnorm'`` or ``'layernorm'``.
        reg: L2 regularization strength :math:`\lambda \ge 0`.
        weight_scale: Standard deviation of the initial weights.
        dtype: ``torch.float32`` or ``torch.float64``.
        device: Where the parameters live (default: the CPU).
        seed: ``None`` or a non-negative integer: fixes the initial weights and the dropout
            masks.
        dropout: 2017 alias: the probability of *dropping* an activation, in ``[0, 1)``;
            ``dropout=p`` means ``dropout_keep_ratio = 1 - p`` (0: no dropout).
        use_batchnorm: 2017 alias: ``True`` means ``normalization='batchnorm'``.

    Raises:
        ValueError: for any argument outside the ranges above, or an alias that contradicts
            the keyword it stands for.
    """

    def __init__(
        self,
        hidden_dims: Sequence[int],
        input_dim: int = 3 * 32 * 32,
        num_classes: int = 10,
        dropout_keep_ratio: float = 1,
        normalization: str | None = None,
        reg: float = 0.0,
        weight_scale: float = 1e-2,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
        seed: int | None = None,
        *,
        dropout: float | None = None,
        use_batchnorm: bool | None = None,
    ) -> None:
        super().__init__()
        func = "FullyConnectedNet"
        dropout_keep_ratio, normalization = classic_aliases(
            func, dropout_keep_ratio, normalization, dropout, use_batchnorm
        )
        if isinstance(hidden_dims, (str, bytes)) or not isinstance(hidden_dims, Sequence):
            raise ValueError(
                f"{func}: hidden_dims must be a list of positive integers, got {hidden_dims!r}"
            )
        self.hidden_dims = [
            check_dimension(func, f"hidden_dims[{i}]", h) for i, h in enumerate(hidden_dims)
        ]
        self.input_dim = check_dimension(func, "input_dim", input_dim)
        self.num_classes = check_dimension(func, "num_classes", num_classes)
        keep = check_real(func, "dropout_keep_ratio", dropout_keep_ratio)
        if not 0.0 < keep <= 1.0:
            raise ValueError(
                f"{func}: dropout_keep_ratio is the probability of keeping an activation and "
                f"must lie in (0, 1], got {dropout_keep_ratio!r}"
            )
        check_choice(func, "normalization", normalization, NORMALIZATIONS)
        self.dropout_keep_ratio = keep
        self.normalization = normalization
        self.reg = check_nonnegative(func, "reg", reg)
        self.weight_scale = check_positive(func, "weight_scale", weight_scale)
        dtype = check_float_dtype(func, dtype)
        self.seed = check_seed(func, seed)
        self.num_layers = 1 + len(self.hidden_dims)
        self.use_dropout = keep != 1.0

        params = initial_params(
            self.hidden_dims,
            self.input_dim,
            self.num_classes,
            normalization,
            self.weight_scale,
            self.seed,
        )
        for name, value in params.items():
            setattr(self, name, nn.Parameter(torch.tensor(value, dtype=dtype, device=device)))
        self.param_names = tuple(params)

        self.dropout_param: dict = {}
        if self.use_dropout:
            self.dropout_param = {"mode": "train", "p": 1.0 - keep}
            if self.seed is not None:
                self.dropout_param["seed"] = self.seed
        if normalization == "batchnorm":
            for layer, h in enumerate(self.hidden_dims, start=1):
                options = {"dtype": dtype, "device": device}
                self.register_buffer(f"running_mean{layer}", torch.zeros(h, **options))
                self.register_buffer(f"running_var{layer}", torch.ones(h, **options))

    # ----------------------------------------------------------------------------------------
    # Exchanging weights with the NumPy model
    # ----------------------------------------------------------------------------------------

    @property
    def weight_names(self) -> list[str]:
        """``['W1', ..., 'WL']``: the parameters the L2 term penalizes."""
        return [f"W{layer}" for layer in range(1, self.num_layers + 1)]

    def config(self) -> dict:
        """The constructor arguments other than ``dtype`` and ``device``; the NumPy model
        takes the same ones: ``reference_numpy.models.FullyConnectedNet(**model.config())``."""
        return {
            "hidden_dims": list(self.hidden_dims),
            "input_dim": self.input_dim,
            "num_classes": self.num_classes,
            "dropout_keep_ratio": self.dropout_keep_ratio,
            "normalization": self.normalization,
            "reg": self.reg,
            "weight_scale": self.weight_scale,
            "seed": self.seed,
        }

    def numpy_params(self) -> dict[str, np.ndarray]:
        """Copies of the parameters as NumPy arrays (CPU, the parameters' dtype), keyed by
        name: what ``reference_numpy.models.FullyConnectedNet.set_params`` takes."""
        return numpy_params(self)

    def load_numpy_params(self, params: dict[str, np.ndarray]) -> None:
        """Copy NumPy arrays (e.g. a NumPy model's ``params``) into the parameters, keeping
        each parameter's dtype and device.

        Raises:
            ValueError: unless ``params`` holds exactly this model's names with its shapes.
        """
        load_numpy_params("FullyConnectedNet.load_numpy_params", self, params)

    def numpy_running_stats(self) -> list[dict[str, np.ndarray]]:
        """Copies of the batch-norm running statistics as NumPy arrays, one
        ``{'running_mean', 'running_var'}`` dict per hidden layer (empty without batch
        normalization): what ``reference_numpy.models.FullyConnectedNet.set_running_stats``
        takes."""
        if self.normalization != "batchnorm":
            return []
        return [
            {
                key: getattr(self, f"{key}{layer}").detach().cpu().numpy().copy()
                for key in ("running_mean", "running_var")
            }
            for layer in range(1, self.num_layers)
        ]

    def load_numpy_running_stats(self, stats: Sequence[dict[str, np.ndarray]]) -> None:
        """Copy batch-norm running statistics (e.g. a NumPy model's ``running_stats()``) into
        the buffers.

        Raises:
            ValueError: for the wrong number of layers, a missing key or a wrong shape.
        """
        func = "FullyConnectedNet.load_numpy_running_stats"
        expected = len(self.hidden_dims) if self.normalization == "batchnorm" else 0
        if not isinstance(stats, Sequence) or len(stats) != expected:
            got = len(stats) if isinstance(stats, Sequence) else type(stats).__name__
            raise ValueError(
                f"{func}: stats must hold {expected} dicts, one per batch-norm layer, got {got}"
            )
        with torch.no_grad():
            for layer, entry in enumerate(stats, start=1):
                for key in ("running_mean", "running_var"):
                    if not isinstance(entry, dict) or key not in entry:
                        raise ValueError(f"{func}: stats[{layer - 1}] lacks {key!r}")
                    target, value = getattr(self, f"{key}{layer}"), entry[key]
                    if not isinstance(value, np.ndarray) or value.shape != tuple(target.shape):
                        raise ValueError(
                            f"{func}: stats[{layer - 1}][{key!r}] has shape "
                            f"{format_shape(np.shape(value))}, expected "
                            f"{format_shape(target.shape)}"
                        )
                    target.copy_(torch.from_numpy(np.array(value, copy=True)))

    @classmethod
    def from_numpy(cls, source, device: torch.device | str | None = None) -> FullyConnectedNet:
        """A torch model with the architecture of a NumPy model and copies of its parameters
        and running statistics.

        Args:
            source: A ``reference_numpy.models.FullyConnectedNet`` (anything with ``config()``,
                ``dtype``, ``params`` and ``running_stats()``).
            device: Where to put the parameters (default: the CPU).

        Returns:
            The model, in the dtype matching the NumPy model's (float32 or float64).
        """
        func = "FullyConnectedNet.from_numpy"
        model = cls(**source.config(), dtype=torch_dtype_of(func, source), device=device)
        model.load_numpy_params(source.params)
        model.load_numpy_running_stats(source.running_stats())
        return model

    # ----------------------------------------------------------------------------------------
    # Scores and loss
    # ----------------------------------------------------------------------------------------

    def _inputs(self, func: str, X) -> torch.Tensor:
        check_tensor(func, "X", X)
        d = int(np.prod(tuple(X.shape[1:]), dtype=np.int64)) if X.dim() >= 2 else None
        if X.dim() < 2 or d != self.input_dim:
            raise ValueError(
                f"{func}: X has shape {format_shape(X.shape)}, expected (N, d_1, ..., d_k) "
                f"with d_1 * ... * d_k = input_dim = {self.input_dim}"
            )
        return check_inputs_device(func, X, self.W1)

    def _layer_dropout_param(self, layer: int, mode: str) -> dict:
        param = {**self.dropout_param, "mode": mode}
        if "seed" in param:
            param["seed"] = param["seed"] + layer
        return param

    def _scores(self, func: str, X: torch.Tensor, mode: str, dropout_masks) -> torch.Tensor:
        if dropout_masks is not None and (
            not isinstance(dropout_masks, Sequence) or len(dropout_masks) != len(self.hidden_dims)
        ):
            raise ValueError(
                f"{func}: dropout_masks must hold one boolean mask per hidden layer "
                f"({len(self.hidden_dims)}), got {dropout_masks!r}"
            )
        out = X
        for layer in range(1, self.num_layers):
            out = affine(out, getattr(self, f"W{layer}"), getattr(self, f"b{layer}"))
            if self.normalization == "batchnorm":
                out = self._batchnorm(out, layer, mode)
            elif self.normalization == "layernorm":
                gamma, beta = getattr(self, f"gamma{layer}"), getattr(self, f"beta{layer}")
                out = layernorm(out, gamma, beta, {})
            out = relu(out)
            if self.use_dropout:
                mask = None if dropout_masks is None else dropout_masks[layer - 1]
                out = dropout(out, self._layer_dropout_param(layer, mode), mask=mask)
        last = self.num_layers
        return affine(out, getattr(self, f"W{last}"), getattr(self, f"b{last}"))

    def _batchnorm(self, x: torch.Tensor, layer: int, mode: str) -> torch.Tensor:
        mean, var = getattr(self, f"running_mean{layer}"), getattr(self, f"running_var{layer}")
        bn_param = {"mode": mode, "running_mean": mean, "running_var": var}
        out = batchnorm(x, getattr(self, f"gamma{layer}"), getattr(self, f"beta{layer}"), bn_param)
        if mode == "train":  # test mode must not touch buffers its backward pass reads
            with torch.no_grad():
                mean.copy_(bn_param["running_mean"])
                var.copy_(bn_param["running_var"])
        return out

    def loss(
        self,
        X: torch.Tensor,
        y: torch.Tensor | None = None,
        dropout_masks: Sequence[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        r"""The mirror of the NumPy ``loss``: class scores in test mode when ``y`` is ``None``,
        otherwise the training-mode loss

        .. math::

            L = \frac1N \sum_n -\log \operatorname{softmax}(s_n)_{y_n}
                + \frac{\lambda}{2} \sum_{l} \lVert W_l \rVert_F^2,

        whose ``backward()`` fills every parameter's ``.grad``.

        Args:
            X: Inputs ``(N, d_1, ..., d_k)`` with ``d_1 * ... * d_k = input_dim``, on the
                model's device; cast to the model's dtype.
            y: Labels ``(N,)``, integers in ``[0, num_classes)``, or ``None``.
            dropout_masks: Optional boolean keep-masks, one ``(N, H_l)`` tensor per hidden
                layer, used instead of drawing masks (training mode only).

        Returns:
            Scores ``(N, C)`` when ``y`` is ``None``, else the loss (0-dimensional tensor).

        Raises:
            ValueError: for ``X`` of the wrong size or labels of the wrong shape, type or range.
        """
        func = "FullyConnectedNet.loss"
        X = self._inputs(func, X)
        if y is None:
            return self._scores(func, X, "test", None)
        check_class_labels(func, y, X.shape[0], self.num_classes, X.device)
        scores = self._scores(func, X, "train", dropout_masks)
        return softmax_loss(scores, y) + l2_penalty(self, self.weight_names, self.reg)

    def forward(
        self, X: torch.Tensor, dropout_masks: Sequence[torch.Tensor] | None = None
    ) -> torch.Tensor:
        """Class scores ``(N, C)``, in training mode (batch statistics, dropout) when
        ``self.training`` and in test mode after ``model.eval()``."""
        func = "FullyConnectedNet.forward"
        X = self._inputs(func, X)
        return self._scores(func, X, "train" if self.training else "test", dropout_masks)


class TwoLayerNet(FullyConnectedNet):
    r"""The classic two-layer network in PyTorch, the twin of
    ``reference_numpy.models.TwoLayerNet``: :class:`FullyConnectedNet` with one hidden layer,
    parameters ``W1 (D, H)``, ``b1 (H,)``, ``W2 (H, C)``, ``b2 (C,)``, float64 by default.

    Args:
        input_dim: ``D``.
        hidden_dim: ``H``.
        num_classes: ``C``.
        weight_scale: Standard deviation of the initial weights.
        reg: L2 regularization strength :math:`\lambda \ge 0`.
        dtype: ``torch.float64`` (default) or ``torch.float32``.
        device: Where the parameters live (default: the CPU).
        seed: Seed of the initial weights (the NumPy model's draw).
    """

    def __init__(
        self,
        input_dim: int = 3 * 32 * 32,
        hidden_dim: int = 100,
        num_classes: int = 10,
        weight_scale: float = 1e-3,
        reg: float = 0.0,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(
            [check_dimension("TwoLayerNet", "hidden_dim", hidden_dim)],
            input_dim=input_dim,
            num_classes=num_classes,
            reg=reg,
            weight_scale=weight_scale,
            dtype=dtype,
            device=device,
            seed=seed,
        )

    def config(self) -> dict:
        """The constructor arguments other than ``dtype`` and ``device``, as the NumPy twin
        takes them."""
        return {
            "input_dim": self.input_dim,
            "hidden_dim": self.hidden_dims[0],
            "num_classes": self.num_classes,
            "weight_scale": self.weight_scale,
            "reg": self.reg,
            "seed": self.seed,
        }
