"""dualnet: the applications that bind the two backends together.

``reference_numpy`` (NumPy only) and ``torch_impl`` (PyTorch) implement every component twice.
This package is the only place that knows both: the component registry
(:mod:`dualnet.registry`), the cross-check engine (:mod:`dualnet.crosscheck`), the learner's
checks, exercises and grading (:mod:`dualnet.learner`) and the command line
(:mod:`dualnet.cli`).

``dualnet.check_implementation(module, names=None)`` checks a learner's own functions (see
:func:`dualnet.learner.check_implementation`); it is imported on first use, so that
``import dualnet`` stays light.
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    if name == "check_implementation":
        from dualnet.learner import check_implementation

        return check_implementation
    raise AttributeError(f"module 'dualnet' has no attribute {name!r}")
