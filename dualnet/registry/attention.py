"""Registry entries for ``attention.py`` in both backends: scaled dot-product attention over
a 4 x 4 feature grid, and the attention LSTM step and sequence."""

from __future__ import annotations

import numpy as np

import reference_numpy.attention as R
import torch_impl.attention as T
from dualnet.registry.component import Case, Component, dotted_name, layer, substitutable
from dualnet.registry.rnn import SEQ, D, H, N, normal, rnn_weights

TOPIC = "attention"
GRID = (4, 4)


def attention_case(rng: np.random.Generator, dtype) -> Case:
    inputs = {"prev_h": normal(rng, (N, H), dtype), "A": normal(rng, (N, H, *GRID), dtype)}
    return Case(inputs, wrt=("prev_h", "A"))


def attention_lstm_step_case(rng: np.random.Generator, dtype) -> Case:
    inputs = {
        "x": normal(rng, (N, D), dtype),
        "prev_h": normal(rng, (N, H), dtype, 0.5),
        "prev_c": normal(rng, (N, H), dtype),
        "attn": normal(rng, (N, H), dtype),
    }
    weights = rnn_weights(rng, dtype, k=4)
    inputs.update(Wx=weights["Wx"], Wh=weights["Wh"])
    inputs.update(Wattn=normal(rng, (H, 4 * H), dtype, 1 / np.sqrt(H)), b=weights["b"])
    return Case(inputs, wrt=tuple(inputs))


def attention_lstm_case(rng: np.random.Generator, dtype) -> Case:
    inputs = {"x": normal(rng, (N, SEQ, D), dtype), "A": normal(rng, (N, H, *GRID), dtype)}
    weights = rnn_weights(rng, dtype, k=4)
    inputs.update(Wx=weights["Wx"], Wh=weights["Wh"])
    inputs.update(Wattn=normal(rng, (H, 4 * H), dtype, 1 / np.sqrt(H)), b=weights["b"])
    return Case(inputs, wrt=tuple(inputs))


# dot_product_attention returns two outputs, attn and attn_weights, but its classic backward
# takes only dattn; the gradient of the weights comes through the keyword dattn_weights. Both
# outputs are compared, and both upstream gradients are propagated.


def dot_product_attention_entry(
    dot_product_attention_forward, dot_product_attention_backward
) -> Component:
    def forward_numpy(case: Case):
        attn, attn_weights, cache = dot_product_attention_forward(*case.inputs.values())
        return (attn, attn_weights), cache

    def backward_numpy(douts, cache, case: Case):
        dattn, dattn_weights = douts
        gradients = dot_product_attention_backward(dattn, cache, dattn_weights=dattn_weights)
        return dict(zip(case.wrt, gradients, strict=True))

    return Component(
        name="dot_product_attention",
        topic=TOPIC,
        summary="attn = sum of the grid cells of A weighted by softmax(h . A / sqrt(H))",
        page="derivations/attention",
        make_case=attention_case,
        forward_numpy=forward_numpy,
        backward_numpy=backward_numpy,
        forward_torch=attention_forward_torch,
        implementations=(
            dotted_name(dot_product_attention_forward),
            dotted_name(dot_product_attention_backward),
            dotted_name(T.dot_product_attention),
        ),
        outputs=("attn", "attn_weights"),
    )


def attention_forward_torch(tensors, case: Case):
    return T.dot_product_attention(*tensors.values())


ENTRIES = [
    substitutable(
        dot_product_attention_entry,
        dot_product_attention_forward=R.dot_product_attention_forward,
        dot_product_attention_backward=R.dot_product_attention_backward,
    ),
    layer(
        name="attention_lstm_step",
        topic=TOPIC,
        summary="one LSTM step with the attention output as a third input (+ attn Wattn)",
        page="derivations/attention_lstm",
        make_case=attention_lstm_step_case,
        forward=R.attention_lstm_step_forward,
        backward=R.attention_lstm_step_backward,
        torch_function=T.attention_lstm_step,
        outputs=("next_h", "next_c"),
    ),
    layer(
        name="attention_lstm",
        topic=TOPIC,
        summary="the attention LSTM over a sequence from h0 = c0 = grid mean of A",
        page="derivations/attention_lstm",
        make_case=attention_lstm_case,
        forward=R.attention_lstm_forward,
        backward=R.attention_lstm_backward,
        torch_function=T.attention_lstm,
        outputs=("h",),
    ),
]
