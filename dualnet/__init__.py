"""dualnet: the applications that bind the two backends together.

``reference_numpy`` (NumPy only) and ``torch_impl`` (PyTorch) implement every component twice.
This package is the only place that knows both: the component registry
(:mod:`dualnet.registry`), the cross-check engine (:mod:`dualnet.crosscheck`) and the command
line (:mod:`dualnet.cli`).
"""

__version__ = "0.1.0"
