r"""A fully connected classifier of any depth, in NumPy, with batch/layer norm and dropout.

The classic image classifier: ``L - 1`` hidden layers, each

.. math::

    \text{affine} \to [\text{batch norm} \mid \text{layer norm}] \to \text{ReLU}
    \to [\text{dropout}],

then a last affine layer whose outputs are class scores, and the softmax loss plus an L2
penalty on the weight matrices. ``loss`` assembles the gradient of every parameter from the
hand-derived backward passes of ``reference_numpy.layers``; nothing is differentiated
numerically.

``torch_impl.models.FullyConnectedNet`` is the PyTorch twin, with the same parameter names and
shapes; ``docs/models/numpy_classifiers.md`` walks through both.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

from reference_numpy.layers import (
    affine_backward,
    affine_forward,
    batchnorm_backward_alt,
    batchnorm_forward,
    dropout_backward,
    dropout_forward,
    dropout_mask,
    layernorm_backward,
    layernorm_forward,
    relu_backward,
    relu_forward,
)
from reference_numpy.losses import softmax_loss
from reference_numpy.validation import (
    check_array,
    check_choice,
    check_real,
    check_shape,
    format_shape,
)

NORMALIZATIONS = (None, "batchnorm", "layernorm")
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

# --------------------------------------------------------------------------------------------
# Argument checks shared by the classifiers
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


def check_float_dtype(func: str, dtype) -> np.dtype:
    """Fail unless ``dtype`` names float32 or float64; return it as a ``numpy.dtype``."""
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        resolved = None
    if resolved not in FLOAT_DTYPES:
        raise ValueError(f"{func}: dtype must be numpy.float32 or numpy.float64, got {dtype!r}")
    return resolved


def check_seed(func: str, seed) -> int | None:
    """Fail unless ``seed`` is ``None`` or a non-negative integer."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"{func}: seed must be None or a non-negative integer, got {seed!r}")
    return int(seed)


def check_class_labels(func: str, y, count: int, num_classes: int) -> None:
    """Fail unless ``y`` holds ``count`` integer labels in ``[0, num_classes)``."""
    check_array(func, "y", y)
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{func}: y must hold integer class labels, got dtype {y.dtype}")
    check_shape(func, "y", y, (count,), f"(N,) with N = {count}, one label per example of X")
    if count and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(
            f"{func}: y holds labels from {y.min()} to {y.max()}, "
            f"expected labels in [0, {num_classes}) for num_classes = {num_classes}"
        )


def l2_penalty(params: dict[str, np.ndarray], names: Sequence[str], reg: float):
    r"""The L2 regularization term :math:`\tfrac12 \lambda \sum_W \sum_{ij} W_{ij}^2` over the
    weight matrices ``names``; its gradient with respect to each :math:`W` is
    :math:`\lambda W`.

    Args:
        params: Parameters by name.
        names: Names of the weight matrices that are penalized.
        reg: :math:`\lambda \ge 0`.

    Returns:
        The penalty, a float.
    """
    return 0.5 * reg * sum(float(np.sum(params[name] * params[name])) for name in names)


def initial_params(
    hidden_dims: Sequence[int],
    input_dim: int,
    num_classes: int,
    normalization: str | None,
    weight_scale: float,
    seed: int | None = None,
) -> dict[str, np.ndarray]:
    r"""The initial parameters of :class:`FullyConnectedNet`, in float64.

    ``W{l}`` holds standard normal entries times ``weight_scale``, drawn from
    ``numpy.random.default_rng(seed)`` in the order ``W1, W2, ...``; biases and shifts are 0,
    scales 1. The PyTorch twin draws the same numbers, so one seed gives one model in both
    backends.

    Args:
        hidden_dims: ``[H_1, ..., H_{L-1}]``.
        input_dim: ``D``.
        num_classes: ``C``.
        normalization: ``None``, ``'batchnorm'`` or ``'layernorm'`` (adds ``gamma{l}``,
            ``beta{l}`` for the hidden layers).
        weight_scale: Standard deviation of the weights.
        seed: Seed; ``None`` draws fresh entropy.

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


def set_checked_params(func: str, model, params) -> None:
    """Replace ``model.params`` by copies of ``params`` in ``model.dtype``, after checking
    that ``params`` holds exactly the model's names with its shapes."""
    if not isinstance(params, dict) or set(params) != set(model.params):
        got = sorted(params) if isinstance(params, dict) else type(params).__name__
        raise ValueError(f"{func}: params must have the keys {sorted(model.params)}, got {got}")
    for name, value in params.items():
        check_shape(
            func, f"params[{name!r}]", value, model.params[name].shape, f"like the model's {name}"
        )
    model.params = {name: np.array(params[name], dtype=model.dtype) for name in model.params}


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


def check_upstream(func: str, dscores, shape: tuple) -> None:
    """``dscores`` must be an array shaped like the scores it is the gradient of."""
    check_array(func, "dscores", dscores)
    check_shape(func, "dscores", np.asarray(dscores), tuple(shape), "one value per score")


class FullyConnectedNet:
    r"""A fully connected network with ReLU, optional normalization and dropout, and softmax loss.

    With ``hidden_dims = [H_1, ..., H_{L-1}]``, input dimension ``D`` and ``C`` classes,
    ``params`` holds, for :math:`l = 1, \dots, L` (:math:`H_0 = D`, :math:`H_L = C`):

    ============= ===================== ============================================
    name          shape                 role
    ============= ===================== ============================================
    ``W{l}``      ``(H_{l-1}, H_l)``    weights of affine layer ``l``
    ``b{l}``      ``(H_l,)``            biases of affine layer ``l``
    ``gamma{l}``  ``(H_l,)``            scales of normalization ``l`` (``l < L``)
    ``beta{l}``   ``(H_l,)``            shifts of normalization ``l`` (``l < L``)
    ============= ===================== ============================================

    ``gamma``/``beta`` exist only with a normalization. Weights start as normal entries times
    ``weight_scale``, drawn from ``numpy.random.default_rng(seed)`` in the order ``W1, W2,
    ...``; biases and shifts start at 0, scales at 1.

    **Dropout convention.** As in the classic assignment, the class takes
    ``dropout_keep_ratio``, the probability of *keeping* an activation, while
    ``reference_numpy.layers.dropout_forward`` (like PyTorch) takes ``p``, the probability of
    *zeroing* one. The model converts once, ``p = 1 - dropout_keep_ratio``, and stores the
    result in ``dropout_param['p']``. ``dropout_keep_ratio = 1`` means no dropout layers.

    **Seed.** ``seed`` fixes the initial weights and, as in the classic class, makes dropout
    deterministic: hidden layer ``l`` then draws its keep-mask with seed ``seed + l`` on every
    call (what a gradient check needs). To train with fresh masks at every step, delete
    ``model.dropout_param['seed']`` after construction.

    **Batch normalization** keeps one ``bn_param`` dict per hidden layer in ``bn_params``, with
    the running mean and variance that the training-mode forward passes update (momentum 0.9,
    the weight of the old value, as in the classic assignment) and test mode uses.

    Args:
        hidden_dims: Sizes of the hidden layers (may be empty: a linear softmax classifier).
        input_dim: ``D``, numbers per example; inputs ``(N, d_1, ..., d_k)`` are flattened.
        num_classes: ``C``.
        dropout_keep_ratio: Probability of keeping an activation, in ``(0, 1]``.
        normalization: ``None``, ``'batchnorm'`` or ``'layernorm'``.
        reg: L2 regularization strength :math:`\lambda \ge 0`.
        weight_scale: Standard deviation of the initial weights, ``> 0``.
        dtype: ``numpy.float32`` or ``numpy.float64``; parameters and computations use it.
        seed: ``None`` or a non-negative integer (see above).
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
        dtype=np.float32,
        seed: int | None = None,
        *,
        dropout: float | None = None,
        use_batchnorm: bool | None = None,
    ) -> None:
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
        self.dtype = check_float_dtype(func, dtype)
        self.seed = check_seed(func, seed)
        self.num_layers = 1 + len(self.hidden_dims)
        self.use_dropout = keep != 1.0

        self.params = {
            name: value.astype(self.dtype)
            for name, value in initial_params(
                self.hidden_dims,
                self.input_dim,
                self.num_classes,
                normalization,
                self.weight_scale,
                self.seed,
            ).items()
        }

        # The classic dropout_param, with the keep ratio converted to torch's convention.
        self.dropout_param: dict = {}
        if self.use_dropout:
            self.dropout_param = {"mode": "train", "p": 1.0 - keep}
            if self.seed is not None:
                self.dropout_param["seed"] = self.seed

        self.bn_params: list[dict] = []
        if normalization == "batchnorm":
            self.bn_params = [
                {
                    "mode": "train",
                    "running_mean": np.zeros(h, dtype=self.dtype),
                    "running_var": np.ones(h, dtype=self.dtype),
                }
                for h in self.hidden_dims
            ]
        self.ln_params: list[dict] = []
        if normalization == "layernorm":
            self.ln_params = [{} for _ in self.hidden_dims]

    # ----------------------------------------------------------------------------------------
    # Parameters, running statistics and dropout masks
    # ----------------------------------------------------------------------------------------

    @property
    def weight_names(self) -> list[str]:
        """``['W1', ..., 'WL']``: the parameters the L2 term penalizes."""
        return [f"W{layer}" for layer in range(1, self.num_layers + 1)]

    def config(self) -> dict:
        """The constructor arguments other than ``dtype``; the PyTorch twin takes the same
        ones: ``torch_impl.models.FullyConnectedNet(**model.config())``."""
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

    def set_params(self, params: dict[str, np.ndarray]) -> None:
        """Replace every parameter by a copy of ``params[name]`` in the model's dtype, for
        example ``torch_model.numpy_params()``.

        Args:
            params: ``{name: array}`` with exactly the names and shapes of ``self.params``.

        Raises:
            ValueError: unless ``params`` holds exactly this model's names with its shapes.
        """
        set_checked_params(f"{type(self).__name__}.set_params", self, params)

    def running_stats(self) -> list[dict[str, np.ndarray]]:
        """Copies of the batch-norm running statistics, one dict per hidden layer.

        Returns:
            ``[{'running_mean': (H_l,) array, 'running_var': (H_l,) array}, ...]``; an empty
            list unless ``normalization == 'batchnorm'``.
        """
        return [
            {key: np.array(bn_param[key], copy=True) for key in ("running_mean", "running_var")}
            for bn_param in self.bn_params
        ]

    def set_running_stats(self, stats: Sequence[dict[str, np.ndarray]]) -> None:
        """Replace the batch-norm running statistics by copies of ``stats``, for example
        ``torch_model.numpy_running_stats()``.

        Args:
            stats: One ``{'running_mean', 'running_var'}`` dict per hidden layer, each array of
                shape ``(H_l,)`` (an empty list without batch normalization).

        Raises:
            ValueError: for the wrong number of layers, a missing key or a wrong shape.
        """
        func = f"{type(self).__name__}.set_running_stats"
        if not isinstance(stats, Sequence) or len(stats) != len(self.bn_params):
            got = len(stats) if isinstance(stats, Sequence) else type(stats).__name__
            raise ValueError(
                f"{func}: stats must hold {len(self.bn_params)} dicts, one per batch-norm "
                f"layer, got {got}"
            )
        for layer, (bn_param, entry) in enumerate(zip(self.bn_params, stats, strict=True), start=1):
            for key in ("running_mean", "running_var"):
                if not isinstance(entry, dict) or key not in entry:
                    raise ValueError(f"{func}: stats[{layer - 1}] lacks {key!r}")
                value = entry[key]
                expected = bn_param[key].shape
                check_shape(func, f"stats[{layer - 1}][{key!r}]", value, expected, f"(H_{layer},)")
                bn_param[key] = np.array(value, dtype=self.dtype)

    def dropout_masks(self, n: int) -> list[np.ndarray]:
        """The keep-masks a training-mode :meth:`loss` on ``n`` examples uses, when seeded.

        Hidden layer ``l`` draws ``reference_numpy.layers.dropout_mask((n, H_l), p,
        seed + l)``. Handing these masks to the PyTorch twin makes both backends drop the same
        activations.

        Args:
            n: Number of examples in the batch.

        Returns:
            One boolean array of shape ``(n, H_l)`` per hidden layer (``True`` keeps).

        Raises:
            ValueError: unless the model uses dropout with a seed.
        """
        func = f"{type(self).__name__}.dropout_masks"
        if not self.use_dropout or "seed" not in self.dropout_param:
            raise ValueError(
                f"{func}: the masks are fixed only for a model with dropout_keep_ratio < 1 and "
                "dropout_param['seed'] set"
            )
        n = check_dimension(func, "n", n)
        p, seed = self.dropout_param["p"], self.dropout_param["seed"]
        return [
            dropout_mask((n, h), p, seed + layer)
            for layer, h in enumerate(self.hidden_dims, start=1)
        ]

    # ----------------------------------------------------------------------------------------
    # Loss
    # ----------------------------------------------------------------------------------------

    def _inputs(self, func: str, X) -> np.ndarray:
        check_array(func, "X", X)
        d = int(np.prod(X.shape[1:], dtype=np.int64)) if X.ndim >= 2 else None
        if X.ndim < 2 or d != self.input_dim:
            raise ValueError(
                f"{func}: X has shape {format_shape(X.shape)}, expected (N, d_1, ..., d_k) "
                f"with d_1 * ... * d_k = input_dim = {self.input_dim}"
            )
        return X.astype(self.dtype, copy=False)

    def _layer_dropout_param(self, layer: int) -> dict:
        """Hidden layer ``layer``'s dropout settings: the shared ones, its own seed."""
        if "seed" not in self.dropout_param:
            return self.dropout_param
        return {**self.dropout_param, "seed": self.dropout_param["seed"] + layer}

    def _hidden_forward(self, x: np.ndarray, layer: int):
        """affine - [norm] - relu - [dropout] for hidden layer ``layer`` (1-based)."""
        p = self.params
        out, affine_cache = affine_forward(x, p[f"W{layer}"], p[f"b{layer}"])
        norm_cache = None
        if self.normalization == "batchnorm":
            gamma, beta = p[f"gamma{layer}"], p[f"beta{layer}"]
            out, norm_cache = batchnorm_forward(out, gamma, beta, self.bn_params[layer - 1])
        elif self.normalization == "layernorm":
            gamma, beta = p[f"gamma{layer}"], p[f"beta{layer}"]
            out, norm_cache = layernorm_forward(out, gamma, beta, self.ln_params[layer - 1])
        out, relu_cache = relu_forward(out)
        dropout_cache = None
        if self.use_dropout:
            out, dropout_cache = dropout_forward(out, self._layer_dropout_param(layer))
        return out, (affine_cache, norm_cache, relu_cache, dropout_cache)

    def _hidden_backward(self, dout: np.ndarray, cache, layer: int, grads: dict) -> np.ndarray:
        """Backward of :meth:`_hidden_forward`: store the layer's gradients, return dx."""
        affine_cache, norm_cache, relu_cache, dropout_cache = cache
        if self.use_dropout:
            dout = dropout_backward(dout, dropout_cache)
        dout = relu_backward(dout, relu_cache)
        if self.normalization == "batchnorm":
            dout, grads[f"gamma{layer}"], grads[f"beta{layer}"] = batchnorm_backward_alt(
                dout, norm_cache
            )
        elif self.normalization == "layernorm":
            dout, grads[f"gamma{layer}"], grads[f"beta{layer}"] = layernorm_backward(
                dout, norm_cache
            )
        dx, grads[f"W{layer}"], grads[f"b{layer}"] = affine_backward(dout, affine_cache)
        return dx

    def loss(
        self, X: np.ndarray, y: np.ndarray | None = None
    ) -> np.ndarray | tuple[np.floating, dict[str, np.ndarray]]:
        r"""Class scores (test mode), or the loss and every parameter's gradient (training mode).

        Without labels the network runs in test mode (batch norm uses its running statistics,
        dropout is the identity) and returns the scores. With labels it runs in training mode
        and returns

        .. math::

            L = \frac1N \sum_n -\log \operatorname{softmax}(s_n)_{y_n}
                + \frac{\lambda}{2} \sum_{l=1}^{L} \lVert W_l \rVert_F^2,
            \qquad
            \frac{\partial L}{\partial W_l} = (\text{backprop})_l + \lambda W_l,

        where the data term's gradients come from the layers' backward passes applied in
        reverse order. Biases, scales and shifts are not penalized.

        Args:
            X: Inputs, shape ``(N, d_1, ..., d_k)`` with ``d_1 * ... * d_k = input_dim``; cast to
                the model's dtype.
            y: Labels, shape ``(N,)``, integers in ``[0, num_classes)``, or ``None``.

        Returns:
            ``scores`` of shape ``(N, C)`` when ``y`` is ``None``; otherwise ``(loss, grads)``
            with ``loss`` a scalar and ``grads`` a dict with the names and shapes of
            ``params``.

        Raises:
            ValueError: for ``X`` of the wrong size or labels of the wrong shape, type or range.
        """
        func = f"{type(self).__name__}.loss"
        X = self._inputs(func, X)
        if y is not None:
            check_class_labels(func, y, X.shape[0], self.num_classes)
        scores, caches = self._forward(X, "test" if y is None else "train")
        if y is None:
            return scores

        data_loss, dscores = softmax_loss(scores, y)
        loss = data_loss + self.dtype.type(l2_penalty(self.params, self.weight_names, self.reg))
        _, grads = self._backward(dscores, caches)
        for name in self.weight_names:
            grads[name] = grads[name] + self.reg * self.params[name]
        return loss, {name: grads[name] for name in self.params}

    def input_gradient(self, X: np.ndarray, dscores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r"""The test-mode scores and the gradient of :math:`\sum_{n,c} g_{nc} s_{nc}` with
        respect to the inputs, for an upstream gradient ``g = dscores``: the same backward
        chain as training, carried on to the inputs.

        Args:
            X: Inputs ``(N, d_1, ..., d_k)`` with ``d_1 * ... * d_k = input_dim``.
            dscores: Upstream gradient ``(N, C)``, e.g. one-hot rows to explain a class.

        Returns:
            ``(scores (N, C), dX)`` with ``dX`` shaped like ``X``, in the model's dtype.
        """
        func = f"{type(self).__name__}.input_gradient"
        X = self._inputs(func, X)
        scores, caches = self._forward(X, "test")
        check_upstream(func, dscores, scores.shape)
        dX, _ = self._backward(np.asarray(dscores, dtype=self.dtype), caches)
        return scores, dX

    def _forward(self, X: np.ndarray, mode: str) -> tuple[np.ndarray, list]:
        """Scores and the caches of every layer, in ``mode`` (``"train"`` or ``"test"``)."""
        if self.use_dropout:
            self.dropout_param["mode"] = mode
        for bn_param in self.bn_params:
            bn_param["mode"] = mode
        out, caches = X, []
        for layer in range(1, self.num_layers):
            out, cache = self._hidden_forward(out, layer)
            caches.append(cache)
        last = self.num_layers
        scores, last_cache = affine_forward(out, self.params[f"W{last}"], self.params[f"b{last}"])
        return scores, [*caches, last_cache]

    def _backward(self, dscores: np.ndarray, caches: list) -> tuple[np.ndarray, dict]:
        """The gradient with respect to the inputs and every parameter's gradient (data term)."""
        last = self.num_layers
        grads: dict[str, np.ndarray] = {}
        dout, grads[f"W{last}"], grads[f"b{last}"] = affine_backward(dscores, caches[-1])
        for layer in range(last - 1, 0, -1):
            dout = self._hidden_backward(dout, caches[layer - 1], layer, grads)
        return dout, grads


class TwoLayerNet(FullyConnectedNet):
    r"""The classic two-layer network: affine - ReLU - affine - softmax, with L2 penalty.

    The 2017 assignment's ``TwoLayerNet`` under its classic signature; it is the
    :class:`FullyConnectedNet` with one hidden layer of ``hidden_dim`` units, so

    .. math::

        s = \max(0, \tilde X W_1 + b_1)\, W_2 + b_2, \qquad
        L = \frac1N \sum_n -\log \operatorname{softmax}(s_n)_{y_n}
            + \frac{\lambda}{2} \left(\lVert W_1 \rVert_F^2 + \lVert W_2 \rVert_F^2\right),

    with ``params`` ``W1 (D, H)``, ``b1 (H,)``, ``W2 (H, C)``, ``b2 (C,)``. As in the classic
    class the parameters are float64 by default, so a notebook can assign float64 arrays to
    ``model.params`` and compare the loss to ten digits; ``model.reg`` may be changed between
    calls.

    Args:
        input_dim: ``D``.
        hidden_dim: ``H``.
        num_classes: ``C``.
        weight_scale: Standard deviation of the initial weights (biases start at 0).
        reg: L2 regularization strength :math:`\lambda \ge 0`.
        dtype: ``numpy.float64`` (default) or ``numpy.float32``.
        seed: Seed of the initial weights; ``None`` draws fresh ones.
    """

    def __init__(
        self,
        input_dim: int = 3 * 32 * 32,
        hidden_dim: int = 100,
        num_classes: int = 10,
        weight_scale: float = 1e-3,
        reg: float = 0.0,
        dtype=np.float64,
        seed: int | None = None,
    ) -> None:
        super().__init__(
            [check_dimension("TwoLayerNet", "hidden_dim", hidden_dim)],
            input_dim=input_dim,
            num_classes=num_classes,
            reg=reg,
            weight_scale=weight_scale,
            dtype=dtype,
            seed=seed,
        )

    def config(self) -> dict:
        """The constructor arguments other than ``dtype``, as the PyTorch twin takes them."""
        return {
            "input_dim": self.input_dim,
            "hidden_dim": self.hidden_dims[0],
            "num_classes": self.num_classes,
            "weight_scale": self.weight_scale,
            "reg": self.reg,
            "seed": self.seed,
        }
