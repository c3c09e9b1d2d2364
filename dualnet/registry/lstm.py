"""Registry entries for ``lstm.py`` in both backends: the LSTM step and sequence."""

from __future__ import annotations

import numpy as np

import reference_numpy.lstm as R
import torch_impl.lstm as T
from dualnet.registry.component import Case, layer
from dualnet.registry.rnn import SEQ, D, H, N, normal, rnn_weights

TOPIC = "lstm"


def lstm_step_case(rng: np.random.Generator, dtype) -> Case:
    inputs = {
        "x": normal(rng, (N, D), dtype),
        "prev_h": normal(rng, (N, H), dtype, 0.5),
        "prev_c": normal(rng, (N, H), dtype),
    }
    inputs.update(rnn_weights(rng, dtype, k=4))
    return Case(inputs, wrt=("x", "prev_h", "prev_c", "Wx", "Wh", "b"))


def lstm_case(rng: np.random.Generator, dtype) -> Case:
    inputs = {"x": normal(rng, (N, SEQ, D), dtype), "h0": normal(rng, (N, H), dtype, 0.5)}
    inputs.update(rnn_weights(rng, dtype, k=4))
    return Case(inputs, wrt=("x", "h0", "Wx", "Wh", "b"))


ENTRIES = [
    layer(
        name="lstm_step",
        topic=TOPIC,
        summary="one LSTM step, gates i, f, o, g: returns next_h and next_c",
        page="derivations/lstm",
        make_case=lstm_step_case,
        forward=R.lstm_step_forward,
        backward=R.lstm_step_backward,
        torch_function=T.lstm_step,
        outputs=("next_h", "next_c"),
    ),
    layer(
        name="lstm",
        topic=TOPIC,
        summary="the LSTM over a sequence (N, T, D) from h0 and c0 = 0",
        page="derivations/lstm",
        make_case=lstm_case,
        forward=R.lstm_forward,
        backward=R.lstm_backward,
        torch_function=T.lstm,
        outputs=("h",),
    ),
]
