"""Registry entries for ``conv.py`` in both backends: convolution, max pooling and spatial batch
normalization. The naive and the fast NumPy versions are both held against one PyTorch kernel."""

from __future__ import annotations

import numpy as np

import reference_numpy.conv as R
import torch_impl.conv as T
from dualnet.registry.component import Case, layer
from dualnet.registry.layers import batchnorm_case

TOPIC = "conv"


def conv_case(stride: int, pad: int, channels: int = 3, filters: int = 4):
    def make(rng: np.random.Generator, dtype) -> Case:
        x = rng.standard_normal((2, channels, 6, 5)).astype(dtype)
        w = rng.standard_normal((filters, channels, 3, 2)).astype(dtype)
        b = rng.standard_normal(filters).astype(dtype)
        return Case(
            {"x": x, "w": w, "b": b}, wrt=("x", "w", "b"), config=({"stride": stride, "pad": pad},)
        )

    return make


def distinct_values(rng: np.random.Generator, shape: tuple, dtype) -> np.ndarray:
    """Values at least 0.01 apart in random order: no two entries of a pooling window tie, even
    after a finite-difference step."""
    values = np.arange(int(np.prod(shape))) * 0.01 - 0.5 * np.prod(shape) * 0.01
    return rng.permutation(values).reshape(shape).astype(dtype)


def pool_case(rng: np.random.Generator, dtype) -> Case:
    x = distinct_values(rng, (2, 3, 7, 6), dtype)
    return Case({"x": x}, wrt=("x",), config=({"pool_height": 3, "pool_width": 2, "stride": 2},))


ENTRIES = [
    layer(
        name="conv",
        variant="naive",
        topic=TOPIC,
        summary="convolution (cross-correlation), plain loops; stride 2, padding 1",
        page="derivations/conv",
        make_case=conv_case(stride=2, pad=1),
        forward=R.conv_forward_naive,
        backward=R.conv_backward_naive,
        torch_function=T.conv,
    ),
    layer(
        name="conv",
        variant="fast",
        topic=TOPIC,
        summary="convolution, unfolded, one matrix product per image; stride 1, padding 2, "
        "more filters than channels (the backward unfolds x and folds)",
        page="derivations/conv",
        make_case=conv_case(stride=1, pad=2),
        forward=R.conv_forward_fast,
        backward=R.conv_backward_fast,
        torch_function=T.conv,
    ),
    layer(
        name="conv",
        variant="fast_narrowing",
        topic=TOPIC,
        summary="convolution, unfolded, one matrix product per image; stride 1, padding 2, "
        "fewer filters than channels (the backward unfolds dout)",
        page="derivations/conv",
        make_case=conv_case(stride=1, pad=2, channels=4, filters=3),
        forward=R.conv_forward_fast,
        backward=R.conv_backward_fast,
        torch_function=T.conv,
    ),
    layer(
        name="conv",
        variant="fast_strided",
        topic=TOPIC,
        summary="convolution, unfolded, one matrix product per image; stride 2, padding 1 "
        "(the backward unfolds x and folds)",
        page="derivations/conv",
        make_case=conv_case(stride=2, pad=1),
        forward=R.conv_forward_fast,
        backward=R.conv_backward_fast,
        torch_function=T.conv,
    ),
    layer(
        name="max_pool",
        variant="naive",
        topic=TOPIC,
        summary="max pooling, plain loops; 3x2 windows, stride 2",
        page="derivations/max_pool",
        make_case=pool_case,
        forward=R.max_pool_forward_naive,
        backward=R.max_pool_backward_naive,
        torch_function=T.max_pool,
    ),
    layer(
        name="max_pool",
        variant="fast",
        topic=TOPIC,
        summary="max pooling over a strided window view; 3x2 windows, stride 2",
        page="derivations/max_pool",
        make_case=pool_case,
        forward=R.max_pool_forward_fast,
        backward=R.max_pool_backward_fast,
        torch_function=T.max_pool,
    ),
    *[
        layer(
            name="spatial_batchnorm",
            variant=mode,
            topic=TOPIC,
            summary=f"batch normalization per channel of (N, C, H, W), {mode} mode",
            page="derivations/batchnorm",
            make_case=batchnorm_case(mode, x_shape=(4, 3, 3, 2)),
            forward=R.spatial_batchnorm_forward,
            backward=R.spatial_batchnorm_backward,
            torch_function=T.spatial_batchnorm,
            updates_config=mode == "train",
        )
        for mode in ("train", "test")
    ],
]
