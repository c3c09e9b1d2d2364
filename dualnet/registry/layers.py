"""Registry entries for the fully connected layers and activations (layers.py, both backends)."""

from __future__ import annotations

import numpy as np
import torch

import reference_numpy.layers as R
import torch_impl.layers as T
from dualnet.registry.component import Case, layer

TOPIC = "layers"


def away_from_zero(rng: np.random.Generator, shape: tuple, dtype, low: float = 0.1) -> np.ndarray:
    """Random values with magnitude in ``[low, 2)`` and random sign: no ReLU kink in reach of
    a finite-difference step."""
    magnitude = rng.uniform(low, 2.0, size=shape)
    sign = rng.choice([-1.0, 1.0], size=shape)
    return (sign * magnitude).astype(dtype)


def affine_case(rng: np.random.Generator, dtype) -> Case:
    x = rng.standard_normal((3, 2, 3)).astype(dtype)
    w = rng.standard_normal((6, 4)).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)
    return Case({"x": x, "w": w, "b": b}, wrt=("x", "w", "b"))


def relu_case(rng: np.random.Generator, dtype) -> Case:
    return Case({"x": away_from_zero(rng, (3, 4, 5), dtype)}, wrt=("x",))


def leaky_relu_case(rng: np.random.Generator, dtype) -> Case:
    return Case({"x": away_from_zero(rng, (3, 4, 5), dtype)}, wrt=("x",), config=(0.1,))


def dropout_case(mode: str):
    def make(rng: np.random.Generator, dtype) -> Case:
        x = rng.standard_normal((4, 3, 5)).astype(dtype)
        param = {"p": 0.3, "mode": mode, "seed": int(rng.integers(2**31))}
        return Case({"x": x}, wrt=("x",), config=(param,))

    return make


def batchnorm_case(mode: str, x_shape: tuple = (4, 5)):
    """Inputs for batch normalization of ``x_shape`` (``(N, D)``, or ``(N, C, H, W)`` for the
    spatial version): features far from standardized, and running statistics to update."""

    def make(rng: np.random.Generator, dtype) -> Case:
        d = x_shape[1]
        x = (rng.standard_normal(x_shape) * 2 + 1).astype(dtype)
        gamma = rng.standard_normal(d).astype(dtype)
        beta = rng.standard_normal(d).astype(dtype)
        bn_param = {
            "mode": mode,
            "eps": 1e-5,
            "momentum": 0.8,
            "running_mean": rng.standard_normal(d).astype(dtype),
            "running_var": rng.uniform(0.5, 2.0, d).astype(dtype),
        }
        return Case(
            {"x": x, "gamma": gamma, "beta": beta}, wrt=("x", "gamma", "beta"), config=(bn_param,)
        )

    return make


def layernorm_case(rng: np.random.Generator, dtype) -> Case:
    d = 6
    x = (rng.standard_normal((3, d)) * 2 + 1).astype(dtype)
    gamma = rng.standard_normal(d).astype(dtype)
    beta = rng.standard_normal(d).astype(dtype)
    return Case(
        {"x": x, "gamma": gamma, "beta": beta}, wrt=("x", "gamma", "beta"), config=({"eps": 1e-5},)
    )


def shared_dropout_mask(case: Case) -> dict:
    """Hand the PyTorch version the very mask the NumPy version draws from the same seed."""
    (param,) = case.config
    mask = R.dropout_mask(case.inputs["x"].shape, param["p"], param["seed"])
    return {"mask": torch.from_numpy(mask)}


ENTRIES = [
    layer(
        name="affine",
        topic=TOPIC,
        summary="out = x W + b with x flattened to (N, D)",
        page="derivations/affine",
        make_case=affine_case,
        forward=R.affine_forward,
        backward=R.affine_backward,
        torch_function=T.affine,
    ),
    layer(
        name="relu",
        topic=TOPIC,
        summary="out = max(0, x)",
        page="derivations/relu",
        make_case=relu_case,
        forward=R.relu_forward,
        backward=R.relu_backward,
        torch_function=T.relu,
    ),
    layer(
        name="leaky_relu",
        topic=TOPIC,
        summary="out = x where x > 0, else alpha x",
        page="derivations/relu",
        make_case=leaky_relu_case,
        forward=R.leaky_relu_forward,
        backward=R.leaky_relu_backward,
        torch_function=T.leaky_relu,
    ),
    *[
        layer(
            name="dropout",
            variant=mode,
            topic=TOPIC,
            summary=f"inverted dropout, {mode} mode",
            page="derivations/dropout",
            make_case=dropout_case(mode),
            forward=R.dropout_forward,
            backward=R.dropout_backward,
            torch_function=T.dropout,
            torch_kwargs=shared_dropout_mask if mode == "train" else None,
        )
        for mode in ("train", "test")
    ],
    *[
        layer(
            name="batchnorm",
            variant=mode,
            topic=TOPIC,
            summary=f"batch normalization of (N, D), {mode} mode",
            page="derivations/batchnorm",
            make_case=batchnorm_case(mode),
            forward=R.batchnorm_forward,
            backward=R.batchnorm_backward,
            torch_function=T.batchnorm,
            updates_config=mode == "train",
        )
        for mode in ("train", "test")
    ],
    layer(
        name="layernorm",
        topic=TOPIC,
        summary="layer normalization of (N, D) over the features",
        page="derivations/layernorm",
        make_case=layernorm_case,
        forward=R.layernorm_forward,
        backward=R.layernorm_backward,
        torch_function=T.layernorm,
    ),
]
