r"""Losses of generative adversarial networks, forward and hand-derived backward.

A discriminator (or critic) :math:`D` scores real images :math:`x` and generated images
:math:`G(z)`, with :math:`z` noise from :func:`sample_noise`. Three objectives are here:

* vanilla GAN (Goodfellow et al.): binary cross-entropy on logits (:func:`bce_loss_forward`,
  :func:`discriminator_loss_forward`, :func:`generator_loss_forward`);
* least-squares GAN (Mao et al.): :func:`ls_discriminator_loss_forward`,
  :func:`ls_generator_loss_forward`;
* Wasserstein GAN (Arjovsky et al.): :func:`wgan_critic_loss_forward`,
  :func:`wgan_generator_loss_forward`, and the gradient penalty of WGAN-GP (Gulrajani et al.)
  for a one-hidden-layer critic, :func:`gradient_penalty_forward`, whose backward pass is a
  second-order derivative.

Scores and logits have shape ``(N,)`` or ``(N, 1)``: every loss pairs each score with its own
target, so nothing ever broadcasts into ``(N, N)``. Each ``name_forward`` returns
``(loss, cache)`` and ``name_backward(dout, cache)`` the gradients with respect to the scores
(or the critic's parameters). The derivations are in ``docs/derivations/bce_loss.md``,
``gan_losses.md`` and ``gradient_penalty.md``; ``torch_impl/gan.py`` holds the PyTorch twins.
"""

from __future__ import annotations

import numbers

import numpy as np

from reference_numpy.validation import (
    check_array,
    check_batch,
    check_finite,
    check_ndim,
    check_real,
    check_scalar,
    check_scores,
    check_shape,
)


def sample_noise(batch_size: int, dim: int, seed: int | None = None) -> np.ndarray:
    r"""Noise for the generator, uniform in :math:`[-1, 1]`.

    Args:
        batch_size: Number of noise vectors :math:`N`, a positive integer.
        dim: Dimension of each vector, a positive integer.
        seed: Seed of a fresh ``numpy.random.default_rng``: the same seed gives the same
            noise; ``None`` draws fresh entropy.

    Returns:
        Array of shape ``(batch_size, dim)``, float64.
    """
    for name, value in (("batch_size", batch_size), ("dim", dim)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"sample_noise: {name} must be a positive integer, got {value!r}")
    return np.random.default_rng(seed).uniform(-1.0, 1.0, size=(batch_size, dim))


# --------------------------------------------------------------------------------------------
# Binary cross-entropy on logits, and the vanilla GAN losses
# --------------------------------------------------------------------------------------------


def sigmoid(x: np.ndarray) -> np.ndarray:
    r"""Logistic sigmoid :math:`\sigma(x) = 1 / (1 + e^{-x})`, without overflow.

    Only :math:`e^{-|x|} \le 1` is ever computed: :math:`\sigma(x) = 1/(1 + e^{-|x|})` for
    :math:`x \ge 0` and :math:`e^{-|x|} / (1 + e^{-|x|})` for :math:`x < 0`.

    Args:
        x: Array of any shape.

    Returns:
        Array with the shape and dtype of ``x``.
    """
    small = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + small), small / (1.0 + small))


def bce_loss_forward(input: np.ndarray, target: np.ndarray):
    r"""Binary cross-entropy computed from logits, averaged over all entries.

    With :math:`p = \sigma(x)`, the loss of one entry is
    :math:`-t \log p - (1 - t) \log(1 - p)`, which equals

    .. math::

        \ell(x, t) = \max(x, 0) - x\,t + \log\left(1 + e^{-|x|}\right),
        \qquad L = \frac{1}{M} \sum_{i=1}^{M} \ell(x_i, t_i) .

    This form never exponentiates a positive number and never takes the logarithm of 0, so it
    is finite for any finite logit (:math:`\pm 1000` included).

    Args:
        input: Logits :math:`x`, any shape with :math:`M \ge 1` entries.
        target: Targets :math:`t` in :math:`[0, 1]` (1 for real, 0 for fake), the shape of
            ``input``. A constant: no gradient flows to it.

    Returns:
        ``(loss, cache)``: the mean loss, a NumPy scalar; ``cache = (input, target)``.
    """
    func = "bce_loss_forward"
    check_array(func, "input", input)
    check_batch(func, "input", input)
    if input.size == 0:
        raise ValueError(f"bce_loss_forward: input has shape {input.shape}, expected entries")
    check_finite(func, "input", input)
    check_shape(func, "target", target, input.shape, "(the shape of input: one target per logit)")
    if np.any(target < 0) or np.any(target > 1):
        raise ValueError(
            f"{func}: target holds values from {target.min()} to {target.max()}, "
            "expected targets in [0, 1]"
        )
    losses = np.maximum(input, 0) - input * target + np.log1p(np.exp(-np.abs(input)))
    return losses.mean(), (input, target)


def bce_loss_backward(dout, cache) -> np.ndarray:
    r"""Backward pass of :func:`bce_loss_forward`:
    :math:`\overline{x}_i = \overline{L}\,(\sigma(x_i) - t_i) / M`.

    Args:
        dout: Upstream gradient :math:`\overline{L}`, a scalar.
        cache: ``(input, target)`` from :func:`bce_loss_forward`.

    Returns:
        ``dinput`` with the shape of ``input``.
    """
    x, target = cache
    dout = check_scalar("bce_loss_backward", "dout", dout)
    return (dout / x.size) * (sigmoid(x) - target)


def discriminator_loss_forward(logits_real: np.ndarray, logits_fake: np.ndarray):
    r"""Vanilla GAN discriminator loss: real images should score 1, generated ones 0.

    .. math::

        L_D = \mathrm{BCE}(x_\mathrm{real}, 1) + \mathrm{BCE}(x_\mathrm{fake}, 0)
            = -\mathbb{E}\left[\log \sigma(x_\mathrm{real})\right]
              - \mathbb{E}\left[\log(1 - \sigma(x_\mathrm{fake}))\right].

    Args:
        logits_real: Discriminator logits for real images, shape ``(N,)`` or ``(N, 1)``.
        logits_fake: Logits for generated images, shape ``(N',)`` or ``(N', 1)``.

    Returns:
        ``(loss, cache)``: the loss, a NumPy scalar; ``cache`` holds both BCE caches.
    """
    func = "discriminator_loss_forward"
    check_scores(func, "logits_real", logits_real)
    check_scores(func, "logits_fake", logits_fake)
    loss_real, cache_real = bce_loss_forward(logits_real, np.ones_like(logits_real))
    loss_fake, cache_fake = bce_loss_forward(logits_fake, np.zeros_like(logits_fake))
    return loss_real + loss_fake, (cache_real, cache_fake)


def discriminator_loss_backward(dout, cache):
    r"""Backward pass of :func:`discriminator_loss_forward`:
    :math:`\overline{x}_{\mathrm{real},n} = \overline{L}\,(\sigma(x_{\mathrm{real},n}) - 1)/N`,
    :math:`\overline{x}_{\mathrm{fake},n} = \overline{L}\,\sigma(x_{\mathrm{fake},n})/N'`.

    Args:
        dout: Upstream gradient, a scalar.
        cache: From :func:`discriminator_loss_forward`.

    Returns:
        ``(dlogits_real, dlogits_fake)`` with the shapes of the logits.
    """
    cache_real, cache_fake = cache
    dout = check_scalar("discriminator_loss_backward", "dout", dout)
    return bce_loss_backward(dout, cache_real), bce_loss_backward(dout, cache_fake)


def generator_loss_forward(logits_fake: np.ndarray):
    r"""Vanilla GAN generator loss (the non-saturating form): generated images should score 1.

    .. math::

        L_G = \mathrm{BCE}(x_\mathrm{fake}, 1)
            = -\mathbb{E}\left[\log \sigma(x_\mathrm{fake})\right].

    Args:
        logits_fake: Discriminator logits for generated images, shape ``(N,)`` or ``(N, 1)``.

    Returns:
        ``(loss, cache)``: the loss, a NumPy scalar, and the BCE cache.
    """
    check_scores("generator_loss_forward", "logits_fake", logits_fake)
    return bce_loss_forward(logits_fake, np.ones_like(logits_fake))


def generator_loss_backward(dout, cache) -> np.ndarray:
    r"""Backward pass of :func:`generator_loss_forward`:
    :math:`\overline{x}_{\mathrm{fake},n} = \overline{L}\,(\sigma(x_{\mathrm{fake},n}) - 1)/N`.

    Args:
        dout: Upstream gradient, a scalar.
        cache: From :func:`generator_loss_forward`.

    Returns:
        ``dlogits_fake`` with the shape of ``logits_fake``.
    """
    check_scalar("generator_loss_backward", "dout", dout)
    return bce_loss_backward(dout, cache)


# --------------------------------------------------------------------------------------------
# Least-squares GAN
# --------------------------------------------------------------------------------------------


def ls_discriminator_loss_forward(scores_real: np.ndarray, scores_fake: np.ndarray):
    r"""Least-squares GAN discriminator loss.

    .. math::

        L_D = \tfrac12 \mathbb{E}\left[(D(x) - 1)^2\right]
            + \tfrac12 \mathbb{E}\left[D(G(z))^2\right].

    Args:
        scores_real: Scores :math:`D(x)` of real images, shape ``(N,)`` or ``(N, 1)``.
        scores_fake: Scores :math:`D(G(z))` of generated images, shape ``(N',)`` or
            ``(N', 1)``.

    Returns:
        ``(loss, cache)``: the loss, a NumPy scalar; ``cache = (D(x) - 1, D(G(z)))``.
    """
    func = "ls_discriminator_loss_forward"
    check_scores(func, "scores_real", scores_real)
    check_scores(func, "scores_fake", scores_fake)
    miss_real = scores_real - 1
    loss = 0.5 * np.mean(miss_real * miss_real) + 0.5 * np.mean(scores_fake * scores_fake)
    return loss, (miss_real, scores_fake)


def ls_discriminator_loss_backward(dout, cache):
    r"""Backward pass of :func:`ls_discriminator_loss_forward`:
    :math:`\overline{D(x)}_n = \overline{L}\,(D(x_n) - 1)/N`,
    :math:`\overline{D(G(z))}_n = \overline{L}\,D(G(z_n))/N'`.

    Args:
        dout: Upstream gradient, a scalar.
        cache: From :func:`ls_discriminator_loss_forward`.

    Returns:
        ``(dscores_real, dscores_fake)`` with the shapes of the scores.
    """
    miss_real, scores_fake = cache
    dout = check_scalar("ls_discriminator_loss_backward", "dout", dout)
    return (dout / miss_real.size) * miss_real, (dout / scores_fake.size) * scores_fake


def ls_generator_loss_forward(scores_fake: np.ndarray):
    r"""Least-squares GAN generator loss, :math:`L_G = \tfrac12 \mathbb{E}[(D(G(z)) - 1)^2]`.

    Args:
        scores_fake: Scores of generated images, shape ``(N,)`` or ``(N, 1)``.

    Returns:
        ``(loss, cache)``: the loss, a NumPy scalar; ``cache = D(G(z)) - 1``.
    """
    check_scores("ls_generator_loss_forward", "scores_fake", scores_fake)
    miss = scores_fake - 1
    return 0.5 * np.mean(miss * miss), miss


def ls_generator_loss_backward(dout, cache) -> np.ndarray:
    r"""Backward pass of :func:`ls_generator_loss_forward`:
    :math:`\overline{D(G(z))}_n = \overline{L}\,(D(G(z_n)) - 1)/N`.

    Args:
        dout: Upstream gradient, a scalar.
        cache: From :func:`ls_generator_loss_forward`.

    Returns:
        ``dscores_fake`` with the shape of ``scores_fake``.
    """
    miss = cache
    dout = check_scalar("ls_generator_loss_backward", "dout", dout)
    return (dout / miss.size) * miss


# --------------------------------------------------------------------------------------------
# Wasserstein GAN
# --------------------------------------------------------------------------------------------


def wgan_critic_loss_forward(scores_real: np.ndarray, scores_fake: np.ndarray):
    r"""Wasserstein GAN critic loss: the critic maximises the gap between the mean scores of
    real and generated images, so it minimises

    .. math::

        L_D = \mathbb{E}\left[D(G(z))\right] - \mathbb{E}\left[D(x)\right].

    The critic must be kept (roughly) 1-Lipschitz, e.g. by :func:`gradient_penalty_forward`.

    Args:
        scores_real: Critic scores :math:`D(x)`, shape ``(N,)`` or ``(N, 1)``; unbounded
            real numbers, not logits.
        scores_fake: Critic scores :math:`D(G(z))`, shape ``(N',)`` or ``(N', 1)``.

    Returns:
        ``(loss, cache)``: the loss, a NumPy scalar; ``cache`` holds the shapes and dtypes.
    """
    func = "wgan_critic_loss_forward"
    check_scores(func, "scores_real", scores_real)
    check_scores(func, "scores_fake", scores_fake)
    loss = np.mean(scores_fake) - np.mean(scores_real)
    cache = (scores_real.shape, scores_real.dtype, scores_fake.shape, scores_fake.dtype)
    return loss, cache


def wgan_critic_loss_backward(dout, cache):
    r"""Backward pass of :func:`wgan_critic_loss_forward`: every real score gets
    :math:`-\overline{L}/N`, every generated score :math:`+\overline{L}/N'`.

    Args:
        dout: Upstream gradient, a scalar.
        cache: From :func:`wgan_critic_loss_forward`.

    Returns:
        ``(dscores_real, dscores_fake)`` with the shapes of the scores.
    """
    real_shape, real_dtype, fake_shape, fake_dtype = cache
    dout = check_scalar("wgan_critic_loss_backward", "dout", dout)
    dreal = np.full(real_shape, -dout / int(np.prod(real_shape)), dtype=real_dtype)
    dfake = np.full(fake_shape, dout / int(np.prod(fake_shape)), dtype=fake_dtype)
    return dreal, dfake


def wgan_generator_loss_forward(scores_fake: np.ndarray):
    r"""Wasserstein GAN generator loss, :math:`L_G = -\mathbb{E}[D(G(z))]`.

    Args:
        scores_fake: Critic scores of generated images, shape ``(N,)`` or ``(N, 1)``.

    Returns:
        ``(loss, cache)``: the loss, a NumPy scalar; ``cache`` holds the shape and dtype.
    """
    check_scores("wgan_generator_loss_forward", "scores_fake", scores_fake)
    return -np.mean(scores_fake), (scores_fake.shape, scores_fake.dtype)


def wgan_generator_loss_backward(dout, cache) -> np.ndarray:
    r"""Backward pass of :func:`wgan_generator_loss_forward`: every score gets
    :math:`-\overline{L}/N`.

    Args:
        dout: Upstream gradient, a scalar.
        cache: From :func:`wgan_generator_loss_forward`.

    Returns:
        ``dscores_fake`` with the shape of ``scores_fake``.
    """
    shape, dtype = cache
    dout = check_scalar("wgan_generator_loss_backward", "dout", dout)
    return np.full(shape, -dout / int(np.prod(shape)), dtype=dtype)


# --------------------------------------------------------------------------------------------
# WGAN-GP gradient penalty for a one-hidden-layer critic
# --------------------------------------------------------------------------------------------


def gradient_penalty_forward(
    W1: np.ndarray,
    b1: np.ndarray,
    W2: np.ndarray,
    b2: np.ndarray,
    real: np.ndarray,
    fake: np.ndarray,
    eps: np.ndarray,
    lambda_gp: float = 10.0,
    alpha: float = 0.01,
):
    r"""WGAN-GP gradient penalty of the critic
    :math:`D(x) = \mathrm{lrelu}_\alpha(x W_1 + b_1)\, W_2 + b_2`.

    Each example is interpolated between a real and a generated one, and the critic's input
    gradient there is pushed towards norm 1:

    .. math::

        \hat x_n = \epsilon_n x_n + (1 - \epsilon_n) \tilde x_n, \qquad
        g_n = \nabla_{\hat x} D(\hat x_n) = W_1 \left(\phi'(a_n) \odot w_2\right), \qquad
        P = \frac{\lambda}{N} \sum_n \left(\lVert g_n \rVert_2 - 1\right)^2,

    with :math:`a_n = \hat x_n W_1 + b_1` the hidden pre-activations, :math:`\phi'` the slope
    of the leaky ReLU (1 or :math:`\alpha`) and :math:`w_2` the column of :math:`W_2`.

    Args:
        W1: First-layer weights, shape ``(D, H)``.
        b1: First-layer biases, shape ``(H,)``.
        W2: Second-layer weights, shape ``(H, 1)``.
        b2: Second-layer bias, shape ``(1,)``.
        real: Real examples :math:`x`, shape ``(N, D)``.
        fake: Generated examples :math:`\tilde x`, shape ``(N, D)``.
        eps: Interpolation weights :math:`\epsilon`, shape ``(N,)``, in :math:`[0, 1]`
            (in training drawn uniformly; given here so the result is deterministic).
        lambda_gp: Penalty weight :math:`\lambda`.
        alpha: Slope of the leaky ReLU for negative inputs.

    Returns:
        ``(penalty, cache)``: the penalty, a NumPy scalar; ``cache`` holds what the backward
        pass needs.
    """
    func = "gradient_penalty_forward"
    check_ndim(func, "real", real, 2, "(N, D)")
    check_batch(func, "real", real)
    n, d = real.shape
    check_shape(func, "fake", fake, (n, d), "(the shape of real)")
    check_shape(func, "eps", eps, (n,), "(one interpolation weight per example of real)")
    if np.any(eps < 0) or np.any(eps > 1):
        raise ValueError(f"{func}: eps holds values outside [0, 1]: {eps.min()} to {eps.max()}")
    check_ndim(func, "W1", W1, 2, "(D, H)")
    check_shape(func, "W1", W1, (d, W1.shape[1]), f"(D rows, D = {d} features of real)")
    hidden = W1.shape[1]
    check_shape(func, "b1", b1, (hidden,), f"(one bias per column of W1 {W1.shape})")
    check_shape(func, "W2", W2, (hidden, 1), f"(H rows, H = {hidden} columns of W1; one score)")
    check_shape(func, "b2", b2, (1,), "(one bias for the one score)")
    lambda_gp = check_real(func, "lambda_gp", lambda_gp)
    alpha = check_real(func, "alpha", alpha)

    weight = eps[:, np.newaxis]
    x_hat = weight * real + (1 - weight) * fake
    pre = x_hat @ W1 + b1
    slopes = np.where(pre > 0, 1.0, alpha).astype(pre.dtype)
    dscore_dpre = slopes * W2[:, 0]  # (N, H): the derivative of D(x_hat_n) by a_n
    grad = dscore_dpre @ W1.T  # (N, D): g_n
    norms = np.sqrt(np.sum(grad * grad, axis=1))
    penalty = lambda_gp * np.mean((norms - 1) ** 2)
    zero_gradients = tuple((a.shape, a.dtype) for a in (b1, b2, real, fake))
    cache = (W1, slopes, dscore_dpre, grad, norms, lambda_gp, zero_gradients)
    return penalty, cache


def gradient_penalty_backward(dout, cache):
    r"""Backward pass of :func:`gradient_penalty_forward`, a derivative of a derivative.

    With :math:`v_n = \phi'(a_n) \odot w_2` (so :math:`g_n = W_1 v_n`) and

    .. math::

        u_n = \frac{\partial P}{\partial g_n}
            = \frac{2 \lambda}{N}\, \frac{\lVert g_n \rVert - 1}{\lVert g_n \rVert}\, g_n,

    the gradients are

    .. math::

        \overline{W_1} = U^\top V, \qquad
        \overline{w_2} = \sum_n \phi'(a_n) \odot (W_1^\top u_n), \qquad
        \overline{b_1} = \overline{b_2} = \overline{x} = \overline{\tilde x} = 0,

    all times :math:`\overline{P}`. The leaky ReLU is piecewise linear, so :math:`\phi'' = 0`
    away from its kink: :math:`g_n` does not move when :math:`a_n` moves, which is why the
    biases and the examples get no gradient. Where :math:`\lVert g_n \rVert = 0` the
    subgradient 0 is used for that example.

    Args:
        dout: Upstream gradient :math:`\overline{P}`, a scalar.
        cache: From :func:`gradient_penalty_forward`.

    Returns:
        ``(dW1, db1, dW2, db2, dreal, dfake)`` with the shapes of the inputs.
    """
    W1, slopes, dscore_dpre, grad, norms, lambda_gp, zero_gradients = cache
    dout = check_scalar("gradient_penalty_backward", "dout", dout)
    n = grad.shape[0]
    shrink = np.divide(norms - 1, norms, out=np.zeros_like(norms), where=norms > 0)
    dgrad = (2.0 * lambda_gp * dout / n) * shrink[:, np.newaxis] * grad  # (N, D): u_n
    dW1 = dgrad.T @ dscore_dpre
    dW2 = np.sum(slopes * (dgrad @ W1), axis=0)[:, np.newaxis]
    db1, db2, dreal, dfake = (np.zeros(shape, dtype) for shape, dtype in zero_gradients)
    return dW1, db1, dW2, db2, dreal, dfake
