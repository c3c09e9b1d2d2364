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


FOOLING_OBJECTIVES = ("score", "log_probability")
"""What the fooling ascent climbs: the target's score (the course's choice) or its log-softmax."""


def target_gradient(model, X: np.ndarray, target: np.ndarray, objective: str = "score"):
    r"""Scores ``(N, K)`` and the gradient of each image's objective for its ``target``:
    :math:`\partial s_t / \partial X` (``"score"``) or :math:`\partial \log p_t / \partial X`
    (``"log_probability"``), whose upstream gradient of the scores is
    :math:`\text{onehot}(t) - p`."""
    if objective not in FOOLING_OBJECTIVES:
        raise ValueError(f"objective must be one of {FOOLING_OBJECTIVES}, got {objective!r}")
    if objective == "score":
        return class_score_gradient(model, X, target)
    return model.input_gradient(X, -_softmax_minus_onehot(model, X, target))


def fooling_step(model, X: np.ndarray, target: np.ndarray, learning_rate: float, objective="score"):
    r"""One step of the fooling-image ascent for every image: the scores of ``X`` and
    :math:`\operatorname{clip}_{[0,1]}(X + \eta\, g / \lVert g \rVert_2)`, ``g`` the
    :func:`target_gradient` of ``objective``."""
    scores, g = target_gradient(model, X, target, objective)
    norms = np.maximum(np.sqrt((g.reshape(len(g), -1) ** 2).sum(axis=1)), 1e-12)
    return scores, np.clip(X + learning_rate * g / norms.reshape(-1, 1, 1, 1), 0, 1)


def make_fooling_image(
    model, X, target, learning_rate: float = 1.0, max_iter: int = 100, objective: str = "score"
):
    """Fooling images: :func:`fooling_step` for each image until its target class wins (or
    ``max_iter`` steps). Returns ``(X_fooling, iterations)``; an image never fooled has
    ``max_iter + 1`` iterations."""
    X_fooling = np.array(X, copy=True)
    iterations = np.full(len(X), max_iter + 1)
    for step in range(max_iter + 1):
        scores, stepped = fooling_step(model, X_fooling, target, learning_rate, objective)
        iterations[(scores.argmax(axis=1) == target) & (iterations > step)] = step
        active = iterations > step
        if not active.any() or step == max_iter:
            break
        X_fooling[active] = stepped[active]
    return X_fooling, iterations


def _softmax_minus_onehot(model, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    r"""The gradient of :math:`\sum_n -\log p_{n, y_n}` with respect to the scores:
    :math:`p - \text{onehot}(y)`, ``(N, K)``. For a mask ``y`` ``(N, K)`` of accepted classes
    :math:`A_n`, the loss is :math:`\sum_n -\log \sum_{k \in A_n} p_{nk}` and the gradient
    :math:`p_{nk} - [k \in A_n]\, p_{nk} / \sum_{j \in A_n} p_{nj}` (one class: the same)."""
    probe = np.zeros((len(X), model.num_classes), dtype=X.dtype)
    scores, _ = model.input_gradient(X, probe)
    shifted = scores - scores.max(axis=1, keepdims=True)
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    if np.ndim(y) == 2:
        accepted = probs * y
        return (probs - accepted / accepted.sum(axis=1, keepdims=True)).astype(X.dtype)
    probs[np.arange(len(X)), y] -= 1
    return probs.astype(X.dtype)


def loss_gradient(model, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    r"""The gradient of the summed cross-entropy :math:`\sum_n -\log p_{n, y_n}` with respect to
    ``X``: the upstream gradient of the scores is :math:`p - \text{onehot}(y)`. ``y`` is
    ``(N,)`` labels or an ``(N, K)`` boolean mask of the classes that count as right, whose
    loss is :math:`-\log` of their summed probability (see :func:`_softmax_minus_onehot`)."""
    return model.input_gradient(X, _softmax_minus_onehot(model, X, y))[1]


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


def smoothgrad(model, X, y, noise_draws: np.ndarray, noise: float = 0.1) -> np.ndarray:
    """SmoothGrad ``(N, H, W)``: the mean saliency map of ``X + noise * z`` over the standard
    normal draws ``noise_draws`` ``(samples, N, C, H, W)``."""
    maps = [saliency_map(model, X + noise * z.astype(X.dtype), y) for z in noise_draws]
    return np.mean(maps, axis=0)


def jitter(X: np.ndarray, ox: int, oy: int) -> np.ndarray:
    """``X`` rolled by ``ox`` pixels along the width and ``oy`` along the height."""
    return np.roll(X, shift=(oy, ox), axis=(2, 3))


def blur(X: np.ndarray, sigma: float = 0.5) -> np.ndarray:
    """A separable Gaussian blur of standard deviation ``sigma`` pixels (radius ``3 sigma``),
    reflecting at the borders."""
    radius = max(1, int(3 * sigma + 0.5))
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-(offsets**2) / (2 * sigma**2))
    kernel = (kernel / kernel.sum()).astype(X.dtype)
    height, width = X.shape[2:]
    padded = np.pad(X, ((0, 0), (0, 0), (radius, radius), (radius, radius)), mode="reflect")
    rows = sum(w * padded[:, :, k : k + height, :] for k, w in enumerate(kernel))
    return sum(w * rows[:, :, :, k : k + width] for k, w in enumerate(kernel))


def class_visualization_step(model, image, target, l2_reg: float, learning_rate: float):
    r"""One ascent step on :math:`s_t(x) - \lambda \lVert x - \tfrac12 \rVert_2^2` with the
    normalised gradient: :math:`x \leftarrow x + \eta\, g / \lVert g \rVert_2`."""
    _, g = class_score_gradient(model, image, target)
    g = g - 2 * l2_reg * (image - 0.5)
    norms = np.maximum(np.sqrt((g.reshape(len(g), -1) ** 2).sum(axis=1)), 1e-12)
    return image + learning_rate * g / norms.reshape(-1, 1, 1, 1)


def class_visualization(
    model, target, start, jitters, l2_reg=1e-3, learning_rate=5.0, blur_every=10, blur_sigma=0.5
) -> np.ndarray:
    """Images that the network scores as ``target``, from ``start`` ``(N, C, H, W)``: each
    iteration jitters by the next ``(ox, oy)`` of ``jitters``, steps, undoes the jitter,
    clamps to [0, 1] and every ``blur_every`` iterations blurs (as the PyTorch twin)."""
    image = np.array(start, copy=True)
    for step, (ox, oy) in enumerate(jitters):
        image = jitter(image, ox, oy)
        image = class_visualization_step(model, image, target, l2_reg, learning_rate)
        image = np.clip(jitter(image, -ox, -oy), 0, 1)
        if blur_every and (step + 1) % blur_every == 0 and step + 1 < len(jitters):
            image = blur(image, blur_sigma)
    return image
