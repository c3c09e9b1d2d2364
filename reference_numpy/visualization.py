r"""Network visualization in NumPy: the input gradient from the hand-derived backward passes.

The same methods as ``torch_impl/visualization.py``, under the same names, on NumPy models.
A model here is anything with ``input_gradient(X, dscores) -> (scores, dX)``: the scores of
``X`` and the gradient of :math:`\sum_{n,k} g_{nk} s_{nk}` with respect to ``X`` for the
upstream gradient ``g = dscores`` (``ThreeLayerConvNet`` and ``FullyConnectedNet`` have it; it
is their training backward chain carried on past the first layer into the inputs).
:class:`PixelModel` wraps such a model so that it takes **pixels in [0, 1]** and normalises
them inside, as the PyTorch side does:

.. math::

    \hat x = (x - \mu) / \sigma, \qquad
    \frac{\partial s}{\partial x} = \frac{1}{\sigma} \frac{\partial s}{\partial \hat x}.

No autograd and no finite differences: every gradient is the hand-derived backward pass.
"""

from __future__ import annotations

import numpy as np

from reference_numpy.validation import check_array, format_shape


class PixelModel:
    """A model on normalised inputs, seen as a model on pixels in [0, 1].

    Args:
        model: Has ``input_gradient(X, dscores) -> (scores, dX)`` on normalised images.
        mean, std: The ``C`` channel means and standard deviations of the normalisation.
    """

    def __init__(self, model, mean, std):
        self.model = model
        self.mean = np.asarray(mean, dtype=np.float64).reshape(1, -1, 1, 1)
        self.std = np.asarray(std, dtype=np.float64).reshape(1, -1, 1, 1)

    def input_gradient(self, X: np.ndarray, dscores: np.ndarray):
        normalised = ((X - self.mean) / self.std).astype(X.dtype)
        scores, dnormalised = self.model.input_gradient(normalised, dscores)
        return scores, (dnormalised / self.std).astype(X.dtype)

    @property
    def num_classes(self) -> int:
        return int(self.model.num_classes)


def check_images(func: str, X) -> np.ndarray:
    check_array(func, "X", X)
    X = np.asarray(X)
    if X.ndim != 4:
        raise ValueError(f"{func}: X has shape {format_shape(X.shape)}, expected (N, C, H, W)")
    return X


def class_score_gradient(model, X: np.ndarray, y: np.ndarray):
    """Scores ``(N, K)`` and :math:`\\partial s_{y_n} / \\partial X_n` for every image."""
    X = check_images("class_score_gradient", X)
    dscores = np.zeros((X.shape[0], model.num_classes), dtype=X.dtype)
    dscores[np.arange(X.shape[0]), y] = 1
    return model.input_gradient(X, dscores)


def saliency_map(model, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    r"""The saliency maps ``(N, H, W)``: :math:`M_{nij} = \max_c |\partial s_{y_n} / \partial
    X_{ncij}|`."""
    _, dX = class_score_gradient(model, X, y)
    return np.abs(dX).max(axis=1)


def integrated_gradients(model, X, y, baseline=None, steps: int = 32) -> np.ndarray:
    r"""Integrated gradients ``(N, C, H, W)`` from ``baseline`` (black by default) to ``X`` by
    the midpoint rule with ``steps`` points; they add up to about :math:`s_y(X) - s_y(X')`."""
    baseline = np.zeros_like(X) if baseline is None else baseline
    total = np.zeros_like(X)
    for k in range(steps):
        total += class_score_gradient(model, baseline + (k + 0.5) / steps * (X - baseline), y)[1]
    return (X - baseline) * total / steps


def fooling_step(model, X: np.ndarray, target: np.ndarray, learning_rate: float):
    r"""One step of the fooling-image ascent for every image: the scores of ``X`` and
    :math:`\operatorname{clip}_{[0,1]}(X + \eta\, g / \lVert g \rVert_2)`,
    :math:`g = \partial s_t / \partial X`."""
    scores, g = class_score_gradient(model, X, target)
    norms = np.maximum(np.sqrt((g.reshape(len(g), -1) ** 2).sum(axis=1)), 1e-12)
    return scores, np.clip(X + learning_rate * g / norms.reshape(-1, 1, 1, 1), 0, 1)


def make_fooling_image(model, X, target, learning_rate: float = 1.0, max_iter: int = 100):
    """Fooling images: :func:`fooling_step` for each image until its target class wins (or
    ``max_iter`` steps). Returns ``(X_fooling, iterations)``; an image never fooled has
    ``max_iter + 1`` iterations."""
    X_fooling = np.array(X, copy=True)
    iterations = np.full(len(X), max_iter + 1)
    for step in range(max_iter + 1):
        scores, stepped = fooling_step(model, X_fooling, target, learning_rate)
        iterations[(scores.argmax(axis=1) == target) & (iterations > step)] = step
        active = iterations > step
        if not active.any() or step == max_iter:
            break
        X_fooling[active] = stepped[active]
    return X_fooling, iterations


def loss_gradient(model, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    r"""The gradient of the summed cross-entropy :math:`\sum_n -\log p_{n, y_n}` with respect to
    ``X``: the upstream gradient of the scores is :math:`p - \text{onehot}(y)`."""
    probe = np.zeros((len(X), model.num_classes), dtype=X.dtype)
    scores, _ = model.input_gradient(X, probe)
    shifted = scores - scores.max(axis=1, keepdims=True)
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    probs[np.arange(len(X)), y] -= 1
    return model.input_gradient(X, probs.astype(X.dtype))[1]


def fgsm(model, X, y, eps: float, targeted: bool = False) -> np.ndarray:
    r"""Fast gradient sign method: :math:`\operatorname{clip}_{[0,1]}(X \pm \epsilon
    \operatorname{sign}\nabla_X L)`, away from ``y`` (untargeted) or towards it (targeted)."""
    direction = -1.0 if targeted else 1.0
    return np.clip(X + direction * eps * np.sign(loss_gradient(model, X, y)), 0, 1)


def pgd(model, X, y, eps, step_size, steps, targeted=False, start=None) -> np.ndarray:
    """Projected gradient descent in the L-infinity ball of radius ``eps``; ``start`` is the
    random start in [-1, 1] (the same draw as the PyTorch side for a comparison) or ``None``
    to begin at ``X``."""
    X_adv = X if start is None else np.clip(X + eps * start, 0, 1)
    for _ in range(steps):
        X_adv = fgsm(model, X_adv, y, step_size, targeted)
        X_adv = np.clip(np.minimum(np.maximum(X_adv, X - eps), X + eps), 0, 1)
    return X_adv
