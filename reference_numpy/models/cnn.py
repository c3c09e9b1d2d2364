r"""The classic three-layer convolutional network, in NumPy.

.. math::

    \text{conv} \to \text{ReLU} \to \text{2x2 max pool} \to \text{affine} \to \text{ReLU}
    \to \text{affine} \to \text{softmax loss}

The convolution keeps the image size ("same" padding, stride 1) and the pooling halves it.
``loss`` assembles every gradient from the hand-derived backward passes of
``reference_numpy.conv`` (the fast versions) and ``reference_numpy.layers``.

``torch_impl.models.ThreeLayerConvNet`` is the PyTorch twin, with the same parameter names and
shapes; ``docs/models/numpy_classifiers.md`` walks through both.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from reference_numpy.conv import (
    conv_backward_fast,
    conv_forward_fast,
    max_pool_backward_fast,
    max_pool_forward_fast,
)
from reference_numpy.layers import affine_backward, affine_forward, relu_backward, relu_forward
from reference_numpy.losses import softmax_loss
from reference_numpy.models.fc_net import (
    check_class_labels,
    check_dimension,
    check_float_dtype,
    check_nonnegative,
    check_positive,
    check_seed,
    check_upstream,
    l2_penalty,
    set_checked_params,
)
from reference_numpy.validation import check_array, format_shape

POOL_PARAM = {"pool_height": 2, "pool_width": 2, "stride": 2}
"""The 2x2 max pooling with stride 2 that halves the feature maps."""


def check_image_dim(func: str, input_dim) -> tuple[int, int, int]:
    """Fail unless ``input_dim`` is ``(C, H, W)``, three positive integers with ``H, W >= 2``
    (the 2x2 pooling needs at least one window)."""
    if not isinstance(input_dim, Sequence) or len(input_dim) != 3:
        raise ValueError(f"{func}: input_dim must be (C, H, W), got {input_dim!r}")
    c, h, w = (check_dimension(func, f"input_dim[{i}]", v) for i, v in enumerate(input_dim))
    if h < 2 or w < 2:
        raise ValueError(
            f"{func}: input_dim is {(c, h, w)}, expected H >= 2 and W >= 2 for the 2x2 pooling"
        )
    return c, h, w


def check_filter_size(func: str, filter_size) -> int:
    """Fail unless ``filter_size`` is a positive odd integer: "same" padding ``(K - 1) / 2``
    keeps the size only for odd ``K``."""
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
    r"""The initial parameters of :class:`ThreeLayerConvNet`, in float64.

    Weights are standard normal entries times ``weight_scale``, drawn from
    ``numpy.random.default_rng(seed)`` in the order ``W1, W2, W3``; biases are 0. The PyTorch
    twin draws the same numbers.

    Args:
        input_dim: ``(C, H, W)``.
        num_filters: ``F``.
        filter_size: ``K``.
        hidden_dim: ``M``.
        num_classes: ``C_out``.
        weight_scale: Standard deviation of the weights.
        seed: Seed; ``None`` draws fresh entropy.

    Returns:
        ``{name: array}``: ``W1 (F, C, K, K)``, ``b1 (F,)``, ``W2 (F * H/2 * W/2, M)``,
        ``b2 (M,)``, ``W3 (M, C_out)``, ``b3 (C_out,)`` (``H/2`` and ``W/2`` rounded down).
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


class ThreeLayerConvNet:
    r"""conv - ReLU - 2x2 max pool - affine - ReLU - affine - softmax.

    With images ``(N, C, H, W)``, ``F`` filters of size ``K x K``, ``M`` hidden units and
    ``C_out`` classes (``H/2``, ``W/2`` rounded down):

    ======== ========================== ===========================================
    name     shape                      role
    ======== ========================== ===========================================
    ``W1``   ``(F, C, K, K)``           filters; padding ``(K-1)/2``, stride 1
    ``b1``   ``(F,)``                   filter biases
    ``W2``   ``(F * H/2 * W/2, M)``     pooled maps (flattened) to hidden units
    ``b2``   ``(M,)``
    ``W3``   ``(M, C_out)``             hidden units to class scores
    ``b3``   ``(C_out,)``
    ======== ========================== ===========================================

    Weights start as normal entries times ``weight_scale`` drawn from
    ``numpy.random.default_rng(seed)`` (order ``W1, W2, W3``), biases at 0.

    Args:
        input_dim: ``(C, H, W)`` with ``H, W >= 2``.
        num_filters: ``F``.
        filter_size: ``K``, odd.
        hidden_dim: ``M``.
        num_classes: ``C_out``.
        weight_scale: Standard deviation of the initial weights, ``> 0``.
        reg: L2 regularization strength :math:`\lambda \ge 0` (on ``W1``, ``W2``, ``W3``).
        dtype: ``numpy.float32`` or ``numpy.float64``.
        seed: ``None`` or a non-negative integer fixing the initial weights.

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
        dtype=np.float32,
        seed: int | None = None,
    ) -> None:
        func = "ThreeLayerConvNet"
        self.input_dim = check_image_dim(func, input_dim)
        self.num_filters = check_dimension(func, "num_filters", num_filters)
        self.filter_size = check_filter_size(func, filter_size)
        self.hidden_dim = check_dimension(func, "hidden_dim", hidden_dim)
        self.num_classes = check_dimension(func, "num_classes", num_classes)
        self.weight_scale = check_positive(func, "weight_scale", weight_scale)
        self.reg = check_nonnegative(func, "reg", reg)
        self.dtype = check_float_dtype(func, dtype)
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
        self.params = {name: value.astype(self.dtype) for name, value in params.items()}

    @property
    def conv_param(self) -> dict:
        """``{'stride': 1, 'pad': (K - 1) // 2}``: "same" padding."""
        return {"stride": 1, "pad": (self.filter_size - 1) // 2}

    @property
    def weight_names(self) -> list[str]:
        """``['W1', 'W2', 'W3']``: the parameters the L2 term penalizes."""
        return ["W1", "W2", "W3"]

    def config(self) -> dict:
        """The constructor arguments other than ``dtype``; the PyTorch twin takes the same
        ones: ``torch_impl.models.ThreeLayerConvNet(**model.config())``."""
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

    def set_params(self, params: dict[str, np.ndarray]) -> None:
        """Replace every parameter by a copy of ``params[name]`` in the model's dtype, for
        example ``torch_model.numpy_params()``.

        Args:
            params: ``{name: array}`` with exactly the names and shapes of ``self.params``.

        Raises:
            ValueError: unless ``params`` holds exactly this model's names with its shapes.
        """
        set_checked_params("ThreeLayerConvNet.set_params", self, params)

    def _inputs(self, func: str, X) -> np.ndarray:
        check_array(func, "X", X)
        if X.ndim != 4 or tuple(X.shape[1:]) != self.input_dim:
            c, h, w = self.input_dim
            raise ValueError(
                f"{func}: X has shape {format_shape(X.shape)}, expected (N, {c}, {h}, {w}): "
                f"images of input_dim = {self.input_dim}"
            )
        return X.astype(self.dtype, copy=False)

    def loss(
        self, X: np.ndarray, y: np.ndarray | None = None
    ) -> np.ndarray | tuple[np.floating, dict[str, np.ndarray]]:
        r"""Class scores, or the loss and every parameter's gradient.

        .. math::

            L = \frac1N \sum_n -\log \operatorname{softmax}(s_n)_{y_n}
                + \frac{\lambda}{2} \left(\lVert W_1 \rVert^2 + \lVert W_2 \rVert^2
                + \lVert W_3 \rVert^2\right)

        The network has no layer that behaves differently in training and test mode, so the
        scores are the same either way.

        Args:
            X: Images, shape ``(N, C, H, W)`` as ``input_dim``; cast to the model's dtype.
            y: Labels, shape ``(N,)``, integers in ``[0, num_classes)``, or ``None``.

        Returns:
            ``scores`` of shape ``(N, C_out)`` when ``y`` is ``None``; otherwise
            ``(loss, grads)`` with ``grads`` keyed and shaped like ``params``.

        Raises:
            ValueError: for images of the wrong shape or labels of the wrong shape, type or
                range.
        """
        func = "ThreeLayerConvNet.loss"
        X = self._inputs(func, X)
        if y is not None:
            check_class_labels(func, y, X.shape[0], self.num_classes)
        scores, caches = self._forward(X)
        if y is None:
            return scores

        data_loss, dscores = softmax_loss(scores, y)
        p = self.params
        loss = data_loss + self.dtype.type(l2_penalty(p, self.weight_names, self.reg))
        _, grads = self._backward(dscores, caches)
        for name in self.weight_names:
            grads[name] = grads[name] + self.reg * p[name]
        return loss, {name: grads[name] for name in p}

    def input_gradient(self, X: np.ndarray, dscores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r"""The scores and the gradient of :math:`\sum_{n,c} g_{nc} s_{nc}` with respect to the
        images, for an upstream gradient ``g = dscores``: the same backward chain as training,
        carried on to the pixels.

        Args:
            X: Images ``(N, C, H, W)`` as ``input_dim``.
            dscores: Upstream gradient ``(N, C_out)``, e.g. one-hot rows to explain a class.

        Returns:
            ``(scores (N, C_out), dX (N, C, H, W))`` in the model's dtype.
        """
        func = "ThreeLayerConvNet.input_gradient"
        X = self._inputs(func, X)
        scores, caches = self._forward(X)
        check_upstream(func, dscores, scores.shape)
        dX, _ = self._backward(np.asarray(dscores, dtype=self.dtype), caches)
        return scores, dX

    def _forward(self, X: np.ndarray) -> tuple[np.ndarray, tuple]:
        p = self.params
        conv_out, conv_cache = conv_forward_fast(X, p["W1"], p["b1"], self.conv_param)
        relu1_out, relu1_cache = relu_forward(conv_out)
        pooled, pool_cache = max_pool_forward_fast(relu1_out, POOL_PARAM)
        hidden, hidden_cache = affine_forward(pooled, p["W2"], p["b2"])
        relu2_out, relu2_cache = relu_forward(hidden)
        scores, scores_cache = affine_forward(relu2_out, p["W3"], p["b3"])
        caches = (conv_cache, relu1_cache, pool_cache, hidden_cache, relu2_cache, scores_cache)
        return scores, caches

    def _backward(self, dscores: np.ndarray, caches: tuple) -> tuple[np.ndarray, dict]:
        conv_cache, relu1_cache, pool_cache, hidden_cache, relu2_cache, scores_cache = caches
        grads: dict[str, np.ndarray] = {}
        drelu2, grads["W3"], grads["b3"] = affine_backward(dscores, scores_cache)
        dhidden = relu_backward(drelu2, relu2_cache)
        dpooled, grads["W2"], grads["b2"] = affine_backward(dhidden, hidden_cache)
        drelu1 = max_pool_backward_fast(dpooled, pool_cache)
        dconv = relu_backward(drelu1, relu1_cache)
        dX, grads["W1"], grads["b1"] = conv_backward_fast(dconv, conv_cache)
        return dX, grads
