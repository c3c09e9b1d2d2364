"""Input checks shared by the NumPy components.

NumPy broadcasts silently: a bias of the wrong length, a label array of the wrong shape or an
upstream gradient for another layer can all produce numbers instead of an error. Every public
function here turns such a mistake into a ``ValueError`` that names the function, the argument,
the shape or value it got and what it expected.

``torch_impl/validation.py`` holds the same checks for tensors.
"""

from __future__ import annotations

import numbers

import numpy as np


def format_shape(shape) -> str:
    """``(2, 3)`` for a tuple of ints; symbolic entries such as ``"N"`` are printed as they are."""
    parts = [str(s) for s in shape]
    if len(parts) == 1:
        return f"({parts[0]},)"
    return "(" + ", ".join(parts) + ")"


def check_array(func: str, name: str, value) -> None:
    """Fail unless ``value`` is a NumPy array."""
    if not isinstance(value, np.ndarray):
        raise ValueError(f"{func}: {name} must be a numpy.ndarray, got {type(value).__name__}")


def check_ndim(func: str, name: str, array: np.ndarray, ndim: int, meaning: str) -> None:
    """Fail unless ``array`` has exactly ``ndim`` dimensions; ``meaning`` names them."""
    check_array(func, name, array)
    if array.ndim != ndim:
        raise ValueError(
            f"{func}: {name} has shape {format_shape(array.shape)}, "
            f"expected {ndim} dimensions {meaning}"
        )


def check_min_ndim(func: str, name: str, array: np.ndarray, ndim: int, meaning: str) -> None:
    """Fail unless ``array`` has at least ``ndim`` dimensions."""
    check_array(func, name, array)
    if array.ndim < ndim:
        raise ValueError(
            f"{func}: {name} has shape {format_shape(array.shape)}, "
            f"expected at least {ndim} dimensions {meaning}"
        )


def check_shape(func: str, name: str, array: np.ndarray, expected: tuple, because: str) -> None:
    """Fail unless ``array.shape == expected``; ``because`` says why that is expected."""
    check_array(func, name, array)
    if tuple(array.shape) != tuple(expected):
        raise ValueError(
            f"{func}: {name} has shape {format_shape(array.shape)}, "
            f"expected {format_shape(expected)} {because}"
        )


def check_finite(func: str, name: str, array: np.ndarray) -> None:
    """Fail if ``array`` holds a NaN or an infinity, which would spread through every later step."""
    if not np.all(np.isfinite(array)):
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        raise ValueError(f"{func}: {name} holds {bad} non-finite value(s) (NaN or infinity)")


def check_labels(func: str, name: str, y: np.ndarray, count: int, num_classes: int) -> None:
    """Fail unless ``y`` is a vector of ``count`` integer class labels in ``[0, num_classes)``."""
    check_array(func, name, y)
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{func}: {name} must hold integer class labels, got dtype {y.dtype}")
    check_shape(func, name, y, (count,), "(one label per row of x)")
    if count and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(
            f"{func}: {name} holds labels from {y.min()} to {y.max()}, "
            f"expected labels in [0, {num_classes}) for the {num_classes} columns of x"
        )


def check_real(func: str, name: str, value) -> float:
    """Fail unless ``value`` is a finite real number; return it as a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{func}: {name} must be a real number, got {value!r}")
    if not np.isfinite(value):
        raise ValueError(f"{func}: {name} must be finite, got {value!r}")
    return float(value)


def check_probability(func: str, name: str, value) -> float:
    """Fail unless ``value`` is a real number in ``[0, 1]``; return it as a float."""
    value = check_real(func, name, value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{func}: {name} must lie in [0, 1], got {value!r}")
    return value


def check_choice(func: str, name: str, value, choices: tuple) -> None:
    """Fail unless ``value`` is one of ``choices``."""
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{func}: {name} must be one of {allowed}, got {value!r}")
