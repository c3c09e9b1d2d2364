"""Registry entries for ``rnn.py`` in both backends: the RNN step and sequence, the word
embedding, the temporal affine layer and the temporal softmax loss."""

from __future__ import annotations

import numpy as np

import reference_numpy.rnn as R
import torch_impl.rnn as T
from dualnet.registry.component import Case, combined_loss, layer

TOPIC = "rnn"
# Small on purpose: finite differences nudge every entry of every input twice.
N, SEQ, D, H, V = 2, 3, 4, 3, 5


def normal(rng: np.random.Generator, shape: tuple, dtype, scale: float = 1.0) -> np.ndarray:
    return (scale * rng.standard_normal(shape)).astype(dtype)


def rnn_weights(rng: np.random.Generator, dtype, k: int = 1) -> dict[str, np.ndarray]:
    """``Wx (D, kH)``, ``Wh (H, kH)``, ``b (kH,)`` scaled by the fan-in, as a model starts."""
    return {
        "Wx": normal(rng, (D, k * H), dtype, 1 / np.sqrt(D)),
        "Wh": normal(rng, (H, k * H), dtype, 1 / np.sqrt(H)),
        "b": normal(rng, (k * H,), dtype, 0.5),
    }


def rnn_step_case(rng: np.random.Generator, dtype) -> Case:
    inputs = {"x": normal(rng, (N, D), dtype), "prev_h": normal(rng, (N, H), dtype, 0.5)}
    inputs.update(rnn_weights(rng, dtype))
    return Case(inputs, wrt=("x", "prev_h", "Wx", "Wh", "b"))


def rnn_case(rng: np.random.Generator, dtype) -> Case:
    inputs = {"x": normal(rng, (N, SEQ, D), dtype), "h0": normal(rng, (N, H), dtype, 0.5)}
    inputs.update(rnn_weights(rng, dtype))
    return Case(inputs, wrt=("x", "h0", "Wx", "Wh", "b"))


def word_embedding_case(rng: np.random.Generator, dtype) -> Case:
    """More positions (12) than words (5): repeated words are certain, and their gradients
    must add up."""
    x = rng.integers(0, V, size=(3, 4))
    return Case({"x": x, "W": normal(rng, (V, D), dtype)}, wrt=("W",))


def temporal_affine_case(rng: np.random.Generator, dtype) -> Case:
    inputs = {
        "x": normal(rng, (N, SEQ, D), dtype),
        "w": normal(rng, (D, V), dtype),
        "b": normal(rng, (V,), dtype),
    }
    return Case(inputs, wrt=("x", "w", "b"))


def temporal_softmax_case(rng: np.random.Generator, dtype) -> Case:
    """Scores, targets and a mask that switches off the tail of each sequence, like the
    ``<NULL>`` padding of captions of different lengths."""
    x = normal(rng, (N, SEQ, V), dtype)
    y = rng.integers(0, V, size=(N, SEQ))
    lengths = rng.integers(1, SEQ + 1, size=N)
    mask = np.arange(SEQ)[np.newaxis, :] < lengths[:, np.newaxis]
    return Case({"x": x, "y": y, "mask": mask}, wrt=("x",))


ENTRIES = [
    layer(
        name="rnn_step",
        topic=TOPIC,
        summary="one RNN step: next_h = tanh(x Wx + prev_h Wh + b)",
        page="derivations/rnn",
        make_case=rnn_step_case,
        forward=R.rnn_step_forward,
        backward=R.rnn_step_backward,
        torch_function=T.rnn_step,
        outputs=("next_h",),
    ),
    layer(
        name="rnn",
        topic=TOPIC,
        summary="the RNN over a sequence (N, T, D); backward is backpropagation through time",
        page="derivations/rnn",
        make_case=rnn_case,
        forward=R.rnn_forward,
        backward=R.rnn_backward,
        torch_function=T.rnn,
        outputs=("h",),
    ),
    layer(
        name="word_embedding",
        topic=TOPIC,
        summary="out[n, t] = W[x[n, t]]; gradients of repeated words add up",
        page="derivations/temporal_layers",
        make_case=word_embedding_case,
        forward=R.word_embedding_forward,
        backward=R.word_embedding_backward,
        torch_function=T.word_embedding,
    ),
    layer(
        name="temporal_affine",
        topic=TOPIC,
        summary="out[n, t] = x[n, t] W + b at every time step",
        page="derivations/temporal_layers",
        make_case=temporal_affine_case,
        forward=R.temporal_affine_forward,
        backward=R.temporal_affine_backward,
        torch_function=T.temporal_affine,
    ),
    combined_loss(
        name="temporal_softmax_loss",
        topic=TOPIC,
        summary="softmax loss summed over the masked time steps, averaged over the batch",
        page="derivations/temporal_softmax_loss",
        make_case=temporal_softmax_case,
        loss=R.temporal_softmax_loss,
        torch_function=T.temporal_softmax_loss,
    ),
]
