"""The NumPy reference: every component's forward pass and hand-derived backward pass.

This package imports NumPy and nothing else, so it can be read, run and tested on its own.
Its public names follow the classic course assignments, for example
``reference_numpy.layers.affine_forward(x, w, b) -> (out, cache)``.

Modules: ``layers`` (affine, ReLU, dropout, batch and layer normalization), ``losses``,
``conv`` (convolution, pooling, spatial batch normalization), ``layer_utils`` (the classic
sandwich layers such as ``affine_relu_forward``), ``optim`` (update rules),
``rnn``, ``lstm``, ``attention``, ``style``, ``style_transfer`` (the whole objective of
style transfer), ``gan``, ``gradcheck``, and the packages
``models`` (whole networks) and ``solver`` (training).
"""

from reference_numpy import (
    attention,
    conv,
    gan,
    gradcheck,
    layer_utils,
    layers,
    losses,
    lstm,
    optim,
    rnn,
    style,
    style_transfer,
)

__all__ = [
    "attention",
    "conv",
    "gan",
    "gradcheck",
    "layer_utils",
    "layers",
    "losses",
    "lstm",
    "optim",
    "rnn",
    "style",
    "style_transfer",
]
