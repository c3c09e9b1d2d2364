"""Registry entries for the GAN losses (``gan.py`` in both backends).

Every loss on scores is registered twice, with scores of shape ``(N,)`` (variant ``flat``) and
``(N, 1)`` (variant ``column``), and with different batch sizes for real and generated
examples, so that a loss that broadcast a score against a target would fail its cross-check.
The gradient penalty's PyTorch side builds the same one-hidden-layer critic from the same
parameters and differentiates through its input gradient (a double backward).
"""

from __future__ import annotations

import numpy as np
import torch.nn.functional as F

import reference_numpy.gan as R
import torch_impl.gan as T
from dualnet.registry.component import Case, Component, dotted_name, layer, substitutable
from reference_numpy.gradcheck import eval_numerical_gradient

TOPIC = "gan"

# Batch sizes of the real and the generated scores: different, so no shape can line up by luck.
N_REAL, N_FAKE = 5, 4

SCORE_SHAPES = {"flat": lambda n: (n,), "column": lambda n: (n, 1)}


def signed(rng: np.random.Generator, shape: tuple, low: float, high: float) -> np.ndarray:
    """Magnitudes in ``[low, high)`` with random signs."""
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(low, high, size=shape)


def logits(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """Logits in [-4, 4] away from 0."""
    return signed(rng, shape, 0.1, 4.0)


def near(centre: float):
    """Scores at least 0.2 from ``centre``, where a least-squares gradient would vanish and a
    finite difference could not measure it to relative precision."""

    def draw(rng: np.random.Generator, shape: tuple) -> np.ndarray:
        return centre + signed(rng, shape, 0.2, 2.0)

    return draw


def of_sign(sign: float):
    """Critic scores of one sign, magnitudes in [0.5, 2.5): real examples score high and
    generated ones low, so the Wasserstein losses do not cancel to nearly 0 (where a float32
    loss has no relative precision)."""

    def draw(rng: np.random.Generator, shape: tuple) -> np.ndarray:
        return sign * rng.uniform(0.5, 2.5, size=shape)

    return draw


# --------------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------------


def bce_case(rng: np.random.Generator, dtype) -> Case:
    """Logits in [-4, 4] with hard (0, 1) and soft targets; a logit with a soft target lies at
    least 0.5 from the logit of that target, so no gradient sigma(x) - t comes close to 0."""
    shape = (4, 3)
    target = rng.choice([0.0, 1.0, 0.3, 0.8], size=shape)
    soft = (target > 0) & (target < 1)
    safe = np.where(soft, target, 0.5)
    centre = np.log(safe / (1 - safe))  # the logit of a soft target; 0 for hard targets
    x = np.where(soft, centre + signed(rng, shape, 0.5, 2.0), logits(rng, shape))
    return Case({"input": x.astype(dtype), "target": target.astype(dtype)}, wrt=("input",))


def real_and_fake_case(variant: str, names: tuple[str, str], draw_real, draw_fake):
    def make(rng: np.random.Generator, dtype) -> Case:
        shape = SCORE_SHAPES[variant]
        real = draw_real(rng, shape(N_REAL)).astype(dtype)
        fake = draw_fake(rng, shape(N_FAKE)).astype(dtype)
        return Case(dict(zip(names, (real, fake), strict=True)), wrt=names)

    return make


def fake_case(variant: str, name: str, draw_fake):
    def make(rng: np.random.Generator, dtype) -> Case:
        fake = draw_fake(rng, SCORE_SHAPES[variant](N_FAKE)).astype(dtype)
        return Case({name: fake}, wrt=(name,))

    return make


# --------------------------------------------------------------------------------------------
# Gradient penalty: W1, b1, W2, b2, real, fake, eps -> penalty
# --------------------------------------------------------------------------------------------

GP_N, GP_D, GP_H = 4, 6, 5
GP_LAMBDA, GP_ALPHA = 10.0, 0.2
PARAMETERS = ("W1", "b1", "W2", "b2")


def measurable(inputs: dict[str, np.ndarray]) -> bool:
    """Whether a case is safe for the cross-check: every hidden pre-activation at least 0.05
    from the leaky ReLU's kink, and every entry of the gradient for ``W1`` and ``W2`` at
    least 1e-3 of the largest, so that finite differences measure each entry to relative
    precision. The gradient is estimated by finite differences of the NumPy forward pass."""
    weight = inputs["eps"][:, np.newaxis]
    x_hat = weight * inputs["real"] + (1 - weight) * inputs["fake"]
    if np.min(np.abs(x_hat @ inputs["W1"] + inputs["b1"])) <= 0.05:
        return False

    def penalty(_):
        value, _cache = R.gradient_penalty_forward(*inputs.values(), GP_LAMBDA, GP_ALPHA)
        return float(value)

    gradient = np.concatenate(
        [eval_numerical_gradient(penalty, inputs[name]).ravel() for name in ("W1", "W2")]
    )
    return bool(np.min(np.abs(gradient)) >= 1e-3 * np.max(np.abs(gradient)))


def gradient_penalty_case(rng: np.random.Generator, dtype) -> Case:
    """A random critic and batches, redrawn from the same stream until :func:`measurable`."""
    while True:
        inputs = {
            "W1": rng.standard_normal((GP_D, GP_H)) / np.sqrt(GP_D),
            "b1": 0.5 * rng.standard_normal(GP_H),
            "W2": rng.standard_normal((GP_H, 1)),
            "b2": 0.5 * rng.standard_normal(1),
            "real": rng.standard_normal((GP_N, GP_D)),
            "fake": rng.standard_normal((GP_N, GP_D)),
            "eps": rng.uniform(0.0, 1.0, size=GP_N),
        }
        if measurable(inputs):
            break
    return Case(
        {name: array.astype(dtype) for name, array in inputs.items()},
        wrt=(*PARAMETERS, "real", "fake"),
        config=(GP_LAMBDA, GP_ALPHA),
    )


def gradient_penalty_entry(gradient_penalty_forward, gradient_penalty_backward) -> Component:
    def forward_numpy(case: Case):
        lambda_gp, alpha = case.config
        penalty, cache = gradient_penalty_forward(*case.inputs.values(), lambda_gp, alpha)
        return (np.asarray(penalty),), cache

    def backward_numpy(douts, cache, case: Case):
        (dpenalty,) = douts
        return dict(zip(case.wrt, gradient_penalty_backward(dpenalty, cache), strict=True))

    return Component(
        name="gradient_penalty",
        topic=TOPIC,
        summary="WGAN-GP penalty of a one-hidden-layer critic, lambda mean (|grad D(x_hat)| - 1)^2",
        page="derivations/gradient_penalty",
        make_case=gradient_penalty_case,
        forward_numpy=forward_numpy,
        backward_numpy=backward_numpy,
        forward_torch=gradient_penalty_forward_torch,
        batch_inputs=("real", "fake", "eps"),
        implementations=(
            dotted_name(gradient_penalty_forward),
            dotted_name(gradient_penalty_backward),
            dotted_name(T.gradient_penalty),
        ),
        outputs=("penalty",),
    )


def gradient_penalty_forward_torch(tensors, case: Case):
    lambda_gp, alpha = case.config
    W1, b1, W2, b2 = (tensors[name] for name in PARAMETERS)

    def critic(x):
        return F.leaky_relu(x @ W1 + b1, negative_slope=alpha) @ W2 + b2

    penalty = T.gradient_penalty(
        critic, tensors["real"], tensors["fake"], lambda_gp, eps=tensors["eps"]
    )
    return (penalty,)


# --------------------------------------------------------------------------------------------
# Entries
# --------------------------------------------------------------------------------------------


def score_losses(variant: str) -> list[Component]:
    pair = [
        (
            "discriminator_loss",
            "BCE(real logits, 1) + BCE(fake logits, 0)",
            real_and_fake_case(variant, ("logits_real", "logits_fake"), logits, logits),
            R.discriminator_loss_forward,
            R.discriminator_loss_backward,
            T.discriminator_loss,
        ),
        (
            "generator_loss",
            "BCE(fake logits, 1)",
            fake_case(variant, "logits_fake", logits),
            R.generator_loss_forward,
            R.generator_loss_backward,
            T.generator_loss,
        ),
        (
            "ls_discriminator_loss",
            "1/2 E[(D(x) - 1)^2] + 1/2 E[D(G(z))^2]",
            real_and_fake_case(variant, ("scores_real", "scores_fake"), near(1.0), near(0.0)),
            R.ls_discriminator_loss_forward,
            R.ls_discriminator_loss_backward,
            T.ls_discriminator_loss,
        ),
        (
            "ls_generator_loss",
            "1/2 E[(D(G(z)) - 1)^2]",
            fake_case(variant, "scores_fake", near(1.0)),
            R.ls_generator_loss_forward,
            R.ls_generator_loss_backward,
            T.ls_generator_loss,
        ),
        (
            "wgan_critic_loss",
            "E[D(G(z))] - E[D(x)]",
            real_and_fake_case(
                variant, ("scores_real", "scores_fake"), of_sign(1.0), of_sign(-1.0)
            ),
            R.wgan_critic_loss_forward,
            R.wgan_critic_loss_backward,
            T.wgan_critic_loss,
        ),
        (
            "wgan_generator_loss",
            "-E[D(G(z))]",
            fake_case(variant, "scores_fake", of_sign(-1.0)),
            R.wgan_generator_loss_forward,
            R.wgan_generator_loss_backward,
            T.wgan_generator_loss,
        ),
    ]
    shape = "(N,)" if variant == "flat" else "(N, 1)"
    return [
        layer(
            name=name,
            variant=variant,
            topic=TOPIC,
            summary=f"{summary}, scores of shape {shape}",
            page="derivations/gan_losses",
            make_case=make_case,
            forward=forward,
            backward=backward,
            torch_function=torch_function,
            outputs=("loss",),
        )
        for name, summary, make_case, forward, backward, torch_function in pair
    ]


ENTRIES = [
    layer(
        name="bce_loss",
        topic=TOPIC,
        summary="mean binary cross-entropy from logits, in the stable form",
        page="derivations/bce_loss",
        make_case=bce_case,
        forward=R.bce_loss_forward,
        backward=R.bce_loss_backward,
        torch_function=T.bce_loss,
        outputs=("loss",),
    ),
    *score_losses("flat"),
    *score_losses("column"),
    substitutable(
        gradient_penalty_entry,
        gradient_penalty_forward=R.gradient_penalty_forward,
        gradient_penalty_backward=R.gradient_penalty_backward,
    ),
]
