"""The NumPy reference: every component's forward pass and hand-derived backward pass.

This package imports NumPy and nothing else, so it can be read, run and tested on its own.
Its public names follow the classic course assignments, for example
``reference_numpy.layers.affine_forward(x, w, b) -> (out, cache)``.
"""

from reference_numpy import gradcheck, layers, losses

__all__ = ["gradcheck", "layers", "losses"]
