"""The PyTorch version of every component: same names as ``reference_numpy`` without the
``_forward``/``_backward`` suffix, taking and returning tensors, with gradients from autograd.

This package imports PyTorch and NumPy, never ``dualnet`` or ``reference_numpy``. Besides the
component modules it holds ``levels`` (PyTorch at three levels of abstraction) and ``models``
(whole networks as ``nn.Module`` objects).
"""

from torch_impl import (
    attention,
    conv,
    gan,
    layer_utils,
    layers,
    losses,
    lstm,
    rnn,
    style,
    style_transfer,
)

__all__ = [
    "attention",
    "conv",
    "gan",
    "layer_utils",
    "layers",
    "losses",
    "lstm",
    "rnn",
    "style",
    "style_transfer",
]
