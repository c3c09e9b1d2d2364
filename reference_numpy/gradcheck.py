r"""Numerical gradients by centred finite differences, and the relative error used to compare.

These are the checks every hand-derived backward pass is held against:

.. math::

    \frac{\partial f}{\partial x_i} \approx \frac{f(x + h e_i) - f(x - h e_i)}{2h},

whose error is :math:`O(h^2)` from truncation plus about :math:`\epsilon |f| / h` from
rounding; :math:`h = 10^{-5}` balances the two in float64.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def eval_numerical_gradient(
    f: Callable[[np.ndarray], float], x: np.ndarray, verbose: bool = False, h: float = 1e-5
) -> np.ndarray:
    """Numerical gradient of a scalar function ``f`` at ``x``.

    Each entry of ``x`` is nudged in place by ``+h`` and ``-h`` and then restored to its exact
    original value, so ``f`` may ignore its argument and read ``x`` through a closure (as when
    ``x`` is a model parameter). On return ``x`` holds exactly what it held before.

    Args:
        f: Function of one array returning a scalar.
        x: Point at which to differentiate, a floating-point array.
        verbose: Print each entry's index and gradient as it is computed.
        h: Step size.

    Returns:
        Array with the shape of ``x``.
    """
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + h
        f_plus = f(x)
        x[index] = original - h
        f_minus = f(x)
        x[index] = original
        grad[index] = (f_plus - f_minus) / (2 * h)
        if verbose:
            print(index, grad[index])
    return grad


def eval_numerical_gradient_array(
    f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, df: np.ndarray, h: float = 1e-5
) -> np.ndarray:
    """Numerical gradient of ``sum(f(x) * df)`` at ``x``: the vector-Jacobian product ``df^T J``.

    ``f`` returns an array and ``df`` is an upstream gradient of the same shape, exactly what
    a layer's backward pass receives. ``x`` is nudged in place and restored as in
    :func:`eval_numerical_gradient`.

    Args:
        f: Function of one array returning an array.
        x: Point at which to differentiate.
        df: Upstream gradient, the shape of ``f(x)``.
        h: Step size.

    Returns:
        Array with the shape of ``x``.
    """
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + h
        f_plus = np.array(f(x), copy=True)
        x[index] = original - h
        f_minus = np.array(f(x), copy=True)
        x[index] = original
        grad[index] = np.sum((f_plus - f_minus) * df) / (2 * h)
    return grad


def rel_error(x, y) -> float:
    r"""Largest elementwise relative error,
    :math:`\max_i |x_i - y_i| / \max(10^{-8}, |x_i| + |y_i|)`.

    Args:
        x: Array (or scalar).
        y: Array (or scalar) of the same shape.

    Returns:
        The largest relative error, a float in ``[0, 1]``.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"rel_error: x has shape {x.shape} but y has shape {y.shape}")
    if x.size == 0:
        return 0.0
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))
