r"""Network visualization in PyTorch: the gradient of a class score with respect to the pixels.

A trained network is held fixed and the gradient flows one step further than in training: past
the first layer's weights, into the image. With it, one can

* **explain** a decision: the saliency map :math:`M_{ij} = \max_c |\partial s_y / \partial
  x_{cij}|` (Simonyan et al. 2014), its average over noisy copies (SmoothGrad, Smilkov et al.
  2017), and integrated gradients (Sundararajan et al. 2017), whose attributions add up to
  :math:`s_y(x) - s_y(x')` for a baseline :math:`x'`;
* **change** a decision imperceptibly: the fooling image (normalised-gradient ascent on the
  target score until the target wins), FGSM (one signed-gradient step, Goodfellow et al. 2015)
  and PGD (many projected steps, Madry et al. 2018);
* **invent** an image the network believes in: class visualization by gradient ascent with
  L2 regularisation, jitter, periodic blur and clamping (Yosinski et al. 2015).

Every function takes a ``model`` that maps **pixels in [0, 1]**, ``(N, 3, H, W)``, to class
scores ``(N, K)`` (normalisation happens inside the model), so step sizes and budgets are in
pixel units. The model's weights are never updated: gradients are taken with respect to the
image only. ``reference_numpy/visualization.py`` holds the same functions on NumPy models.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class PixelModel(nn.Module):
    r"""A classifier on normalised images, seen as a classifier on pixels in [0, 1]:
    :math:`s(x) = f((x - \mu) / \sigma)`. Always in evaluation mode; its weights do not
    require gradients, so nothing here can change them.

    Args:
        model: The network on normalised images ``(N, C, H, W) -> (N, K)``.
        mean, std: The ``C`` channel means and standard deviations.
    """

    def __init__(self, model: nn.Module, mean, std):
        super().__init__()
        self.model = model.eval()
        for parameter in self.model.parameters():
            parameter.requires_grad_(False)
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float64).view(1, -1, 1, 1))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float64).view(1, -1, 1, 1))

    def train(self, mode: bool = True) -> PixelModel:
        return super().train(False)  # batch norm and dropout always in evaluation mode

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        mean, std = self.mean.to(X.dtype), self.std.to(X.dtype)
        return self.model((X - mean) / std)


def input_gradient(model, X: torch.Tensor, dscores: torch.Tensor):
    r"""Scores ``(N, K)`` and :math:`\partial (\sum_{n,k} g_{nk} s_{nk}) / \partial X`, shaped
    like ``X``, for the upstream gradient ``g = dscores``; no gradient reaches the weights."""
    X = X.detach().clone().requires_grad_(True)
    scores = model(X)
    (dX,) = torch.autograd.grad(scores, X, grad_outputs=dscores.to(scores.dtype))
    return scores.detach(), dX


def class_score_gradient(model, X: torch.Tensor, y: torch.Tensor):
    r"""Scores ``(N, K)`` and :math:`\partial s_{y_n} / \partial X_n` for every image, shaped
    like ``X``."""
    X = X.detach().clone().requires_grad_(True)
    scores = model(X)
    picked = scores.gather(1, y.long().view(-1, 1).to(scores.device)).sum()
    (dX,) = torch.autograd.grad(picked, X)
    return scores.detach(), dX


def saliency_map(model, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r"""The saliency maps ``(N, H, W)``: :math:`M_{nij} = \max_c |\partial s_{y_n} / \partial
    X_{ncij}|`."""
    _, dX = class_score_gradient(model, X, y)
    return dX.abs().amax(dim=1)


def smoothgrad(
    model, X: torch.Tensor, y: torch.Tensor, noise_draws: torch.Tensor, noise: float = 0.1
) -> torch.Tensor:
    r"""SmoothGrad ``(N, H, W)``: the mean saliency map of ``X + noise * z`` over the standard
    normal draws ``noise_draws`` ``(samples, N, C, H, W)`` (drawn by the caller, so that both
    backends can be given the same draws)."""
    total = sum(saliency_map(model, X + noise * z.to(X), y) for z in noise_draws)
    return total / len(noise_draws)


def integrated_gradients(
    model, X: torch.Tensor, y: torch.Tensor, baseline: torch.Tensor | None = None, steps: int = 32
) -> torch.Tensor:
    r"""Integrated gradients ``(N, C, H, W)`` along the straight path from ``baseline`` (black
    by default) to ``X``, by the midpoint rule with ``steps`` points:

    .. math::

        A = (X - X') \odot \frac1m \sum_{k=1}^{m} \nabla_X s_y\Big(X' + \tfrac{k - 1/2}{m}
        (X - X')\Big), \qquad \sum A \approx s_y(X) - s_y(X').
    """
    baseline = torch.zeros_like(X) if baseline is None else baseline
    total = torch.zeros_like(X)
    for k in range(steps):
        point = baseline + (k + 0.5) / steps * (X - baseline)
        total += class_score_gradient(model, point, y)[1]
    return (X - baseline) * total / steps


FOOLING_OBJECTIVES = ("score", "log_probability")
"""What the fooling ascent climbs: the target's score (the course's choice) or its log-softmax."""


def target_gradient(model, X: torch.Tensor, target: torch.Tensor, objective: str = "score"):
    r"""Scores ``(N, K)`` and the gradient of each image's objective for its ``target``:
    :math:`\partial s_t / \partial X` (``"score"``) or :math:`\partial \log p_t / \partial X =
    \partial s_t / \partial X - \sum_k p_k\, \partial s_k / \partial X`
    (``"log_probability"``), which also pushes the other classes down."""
    if objective not in FOOLING_OBJECTIVES:
        raise ValueError(f"objective must be one of {FOOLING_OBJECTIVES}, got {objective!r}")
    X = X.detach().clone().requires_grad_(True)
    scores = model(X)
    climbed = scores if objective == "score" else scores.log_softmax(dim=1)
    picked = climbed.gather(1, target.long().view(-1, 1).to(scores.device)).sum()
    (dX,) = torch.autograd.grad(picked, X)
    return scores.detach(), dX


def fooling_step(
    model, X: torch.Tensor, target: torch.Tensor, learning_rate: float, objective: str = "score"
):
    r"""One step of the fooling-image ascent for every image: the scores of ``X`` and
    :math:`\operatorname{clip}_{[0,1]}(X + \eta\, g / \lVert g \rVert_2)`, ``g`` the
    :func:`target_gradient` of ``objective``."""
    scores, g = target_gradient(model, X, target, objective)
    norms = g.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
    return scores, (X + learning_rate * g / norms).clamp(0, 1)


def make_fooling_image(
    model,
    X: torch.Tensor,
    target: torch.Tensor,
    learning_rate: float = 1.0,
    max_iter: int = 100,
    objective: str = "score",
):
    """Fooling images: :func:`fooling_step` for each image until its target class wins (or
    ``max_iter`` steps).

    Returns:
        ``(X_fooling (N, C, H, W), iterations (N,))``: the steps each image took; an image
        that was never fooled has ``max_iter + 1``.
    """
    X_fooling = X.detach().clone()
    iterations = torch.full((X.shape[0],), max_iter + 1, dtype=torch.long)
    for step in range(max_iter + 1):
        scores, stepped = fooling_step(model, X_fooling, target, learning_rate, objective)
        fooled = scores.argmax(dim=1).cpu() == target.cpu()
        iterations[fooled & (iterations > step)] = step
        active = iterations > step
        if not active.any() or step == max_iter:
            break
        X_fooling[active] = stepped[active.to(X.device)]
    return X_fooling, iterations


def loss_gradient(model, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r""":math:`\partial L / \partial X` of the summed cross-entropy :math:`L = \sum_n -\log
    p_{n, y_n}`. ``y`` is ``(N,)`` labels or an ``(N, K)`` boolean mask of the classes that
    count as right: then :math:`L = \sum_n -\log \sum_{k \in A_n} p_{nk}`, which an attack
    raises only by leaving all of them (a tabby that becomes a 'tiger cat' is no success)."""
    X = X.detach().clone().requires_grad_(True)
    scores = model(X)
    if y.ndim == 2:
        accepted = scores.masked_fill(~y.bool().to(scores.device), float("-inf"))
        loss = (scores.logsumexp(dim=1) - accepted.logsumexp(dim=1)).sum()
    else:
        loss = F.cross_entropy(scores, y.long().to(scores.device), reduction="sum")
    (dX,) = torch.autograd.grad(loss, X)
    return dX


def fgsm(model, X: torch.Tensor, y: torch.Tensor, eps: float, targeted: bool = False):
    r"""Fast gradient sign method: :math:`\operatorname{clip}_{[0,1]}(X \pm \epsilon
    \operatorname{sign}\nabla_X L(X, y))`, ``+`` (away from ``y``) when untargeted, ``-``
    (towards the target ``y``) when ``targeted``."""
    direction = -1.0 if targeted else 1.0
    return (X + direction * eps * loss_gradient(model, X, y).sign()).clamp(0, 1).detach()


def pgd(
    model,
    X: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    step_size: float,
    steps: int,
    targeted: bool = False,
    start: torch.Tensor | None = None,
):
    r"""Projected gradient descent in the :math:`L_\infty` ball of radius ``eps`` around ``X``:
    ``steps`` FGSM steps of ``step_size``, each followed by projection onto the ball and onto
    the valid pixels [0, 1]. ``start`` (values in [-1, 1], e.g. uniform: the random start of
    Madry et al.) begins at ``X + eps * start``; ``None`` begins at ``X``."""
    X_adv = X.detach() if start is None else (X + eps * start.to(X)).clamp(0, 1)
    for _ in range(steps):
        X_adv = fgsm(model, X_adv, y, step_size, targeted)
        X_adv = torch.minimum(torch.maximum(X_adv, X - eps), X + eps).clamp(0, 1)
    return X_adv.detach()


def jitter(X: torch.Tensor, ox: int, oy: int) -> torch.Tensor:
    """``X`` rolled by ``ox`` pixels along the width and ``oy`` along the height."""
    return torch.roll(X, shifts=(oy, ox), dims=(2, 3))


def blur(X: torch.Tensor, sigma: float = 0.5) -> torch.Tensor:
    """A separable Gaussian blur of standard deviation ``sigma`` pixels (radius ``3 sigma``),
    reflecting at the borders."""
    radius = max(1, int(3 * sigma + 0.5))
    offsets = torch.arange(-radius, radius + 1, dtype=X.dtype, device=X.device)
    kernel = torch.exp(-(offsets**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    channels = X.shape[1]
    rows = kernel.view(1, 1, -1, 1).repeat(channels, 1, 1, 1)
    cols = kernel.view(1, 1, 1, -1).repeat(channels, 1, 1, 1)
    padded = F.pad(X, (radius, radius, radius, radius), mode="reflect")
    return F.conv2d(F.conv2d(padded, rows, groups=channels), cols, groups=channels)


def class_visualization_step(
    model, image: torch.Tensor, target: torch.Tensor, l2_reg: float, learning_rate: float
) -> torch.Tensor:
    r"""One ascent step on :math:`s_t(x) - \lambda \lVert x - \tfrac12 \rVert_2^2` (per image),
    with the normalised gradient: :math:`x \leftarrow x + \eta\, g / \lVert g \rVert_2`."""
    _, g = class_score_gradient(model, image, target)
    g = g - 2 * l2_reg * (image - 0.5)
    norms = g.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
    return image + learning_rate * g / norms


def class_visualization(
    model,
    target: torch.Tensor,
    start: torch.Tensor,
    jitters: list[tuple[int, int]],
    l2_reg: float = 1e-3,
    learning_rate: float = 5.0,
    blur_every: int = 10,
    blur_sigma: float = 0.5,
) -> torch.Tensor:
    """Images that the network scores as ``target``, one per entry, from ``start``
    ``(N, C, H, W)``: each iteration jitters the image by the next ``(ox, oy)`` of
    ``jitters``, takes :func:`class_visualization_step`, undoes the jitter, clamps to valid
    pixels, and every ``blur_every`` iterations blurs it (Yosinski et al. 2015)."""
    image = start.detach().clone()
    for step, (ox, oy) in enumerate(jitters):
        image = jitter(image, ox, oy)
        image = class_visualization_step(model, image, target, l2_reg, learning_rate)
        image = jitter(image, -ox, -oy).clamp(0, 1)
        if blur_every and (step + 1) % blur_every == 0 and step + 1 < len(jitters):
            image = blur(image, blur_sigma)
    return image.detach()
