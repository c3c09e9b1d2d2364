"""Registry entries for the sandwich layers (``layer_utils.py`` in both backends).

Each case is redrawn from the same random stream until every ReLU input lies at least
:data:`MARGIN` from the kink at 0 and no two entries of a pooling window lie closer than that,
so that finite differences see one smooth piece of the chain.
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np

import reference_numpy.conv as RC
import reference_numpy.layer_utils as R
import reference_numpy.layers as RL
import torch_impl.layer_utils as T
from dualnet.registry.component import Case, Component, layer, substitutable

MARGIN = 0.01
CONV = {"stride": 1, "pad": 1}
POOL = {"pool_height": 2, "pool_width": 2, "stride": 2}


def redraw_until(draw, measurable):
    """``draw()`` until ``measurable(case)`` holds; both read the same generator."""
    while True:
        case = draw()
        if measurable(case):
            return case


def away_from_kink(pre_activation: np.ndarray) -> bool:
    return bool(np.min(np.abs(pre_activation)) >= MARGIN)


def affine_relu_case(rng: np.random.Generator, dtype) -> Case:
    def draw():
        inputs = {
            "x": rng.standard_normal((3, 2, 3)),
            "w": rng.standard_normal((6, 4)),
            "b": rng.standard_normal(4),
        }
        return Case({k: v.astype(dtype) for k, v in inputs.items()}, wrt=("x", "w", "b"))

    return redraw_until(draw, lambda c: away_from_kink(RL.affine_forward(*c.inputs.values())[0]))


def conv_inputs(rng: np.random.Generator, dtype, filters: int = 3) -> dict[str, np.ndarray]:
    inputs = {
        "x": rng.standard_normal((2, 2, 4, 4)),
        "w": rng.standard_normal((filters, 2, 3, 3)) / 3,
        "b": rng.standard_normal(filters),
    }
    return {k: v.astype(dtype) for k, v in inputs.items()}


def conv_relu_case(rng: np.random.Generator, dtype) -> Case:
    def draw():
        return Case(conv_inputs(rng, dtype), wrt=("x", "w", "b"), config=(dict(CONV),))

    def measurable(case):
        return away_from_kink(RC.conv_forward_fast(*case.inputs.values(), CONV)[0])

    return redraw_until(draw, measurable)


def conv_bn_relu_case(rng: np.random.Generator, dtype) -> Case:
    def draw():
        inputs = conv_inputs(rng, dtype)
        inputs["gamma"] = rng.uniform(0.5, 1.5, 3).astype(dtype)
        inputs["beta"] = rng.standard_normal(3).astype(dtype)
        bn_param = {
            "mode": "train",
            "momentum": 0.8,
            "running_mean": rng.standard_normal(3).astype(dtype),
            "running_var": rng.uniform(0.5, 2.0, 3).astype(dtype),
        }
        # b is not differentiated: batch norm subtracts every channel's mean, so the exact
        # gradient of b is 0 and only rounding noise is left to compare.
        wrt = ("x", "w", "gamma", "beta")
        return Case(inputs, wrt=wrt, config=(dict(CONV), bn_param))

    def measurable(case):
        x, w, b, gamma, beta = case.inputs.values()
        a, _ = RC.conv_forward_fast(x, w, b, CONV)
        an, _ = RC.spatial_batchnorm_forward(a, gamma, beta, copy.deepcopy(case.config[1]))
        return away_from_kink(an)

    return redraw_until(draw, measurable)


def conv_bn_relu_entry(conv_bn_relu_forward, conv_bn_relu_backward) -> Component:
    """The sandwich's entry; its NumPy gradients leave out ``b`` (see
    :func:`conv_bn_relu_case`)."""

    def backward_numpy(douts, cache, case: Case) -> dict[str, np.ndarray]:
        dx, dw, _db, dgamma, dbeta = conv_bn_relu_backward(*douts, cache)
        return {"x": dx, "w": dw, "gamma": dgamma, "beta": dbeta}

    entry = layer(
        name="conv_bn_relu",
        topic="conv",
        summary="convolution, spatial batch norm (train mode), ReLU (sandwich layer)",
        page="derivations/layer_utils",
        make_case=conv_bn_relu_case,
        forward=conv_bn_relu_forward,
        backward=conv_bn_relu_backward,
        torch_function=T.conv_bn_relu,
        updates_config=True,
    )
    return dataclasses.replace(entry, backward_numpy=backward_numpy)


def separated_windows(s: np.ndarray) -> bool:
    """No 2x2 window of the ReLU output ``s`` has two positive entries closer than MARGIN."""
    n, c, h, w = s.shape
    windows = s.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5)
    top = np.sort(windows.reshape(-1, 4), axis=1)[:, -2:]
    return bool(np.all((top[:, 1] - top[:, 0] >= MARGIN) | (top[:, 1] == 0)))


def conv_relu_pool_case(rng: np.random.Generator, dtype) -> Case:
    def draw():
        config = (dict(CONV), dict(POOL))
        return Case(conv_inputs(rng, dtype), wrt=("x", "w", "b"), config=config)

    def measurable(case):
        a, _ = RC.conv_forward_fast(*case.inputs.values(), CONV)
        return away_from_kink(a) and separated_windows(np.maximum(a, 0))

    return redraw_until(draw, measurable)


ENTRIES = [
    layer(
        name="affine_relu",
        topic="layers",
        summary="affine then ReLU (sandwich layer)",
        page="derivations/layer_utils",
        make_case=affine_relu_case,
        forward=R.affine_relu_forward,
        backward=R.affine_relu_backward,
        torch_function=T.affine_relu,
    ),
    layer(
        name="conv_relu",
        topic="conv",
        summary="convolution then ReLU (sandwich layer)",
        page="derivations/layer_utils",
        make_case=conv_relu_case,
        forward=R.conv_relu_forward,
        backward=R.conv_relu_backward,
        torch_function=T.conv_relu,
    ),
    substitutable(
        conv_bn_relu_entry,
        conv_bn_relu_forward=R.conv_bn_relu_forward,
        conv_bn_relu_backward=R.conv_bn_relu_backward,
    ),
    layer(
        name="conv_relu_pool",
        topic="conv",
        summary="convolution, ReLU, 2x2 max pooling (sandwich layer)",
        page="derivations/layer_utils",
        make_case=conv_relu_pool_case,
        forward=R.conv_relu_pool_forward,
        backward=R.conv_relu_pool_backward,
        torch_function=T.conv_relu_pool,
    ),
]
