"""The PyTorch version of every component: same names as ``reference_numpy`` without the
``_forward``/``_backward`` suffix, taking and returning tensors, with gradients from autograd.

This package imports PyTorch and NumPy, never ``dualnet`` or ``reference_numpy``.
"""

from torch_impl import layers, losses

__all__ = ["layers", "losses"]
