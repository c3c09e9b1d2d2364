"""Say *how* a learner's output or gradient is wrong, not only by how much.

:func:`compare` holds one array the learner returned against the one PyTorch computed and
returns a :class:`Comparison`: its error, whether it agrees, and a diagnosis when the pattern is
recognisable. The patterns, in the order they are tried:

* not an array at all, or the wrong shape (and whether a reshape, a transpose or a sum over
  the batch would fix it);
* NaN or infinity;
* computed in a lower precision than the inputs' (float32 for float64 inputs);
* the opposite sign, or off by a constant factor, named when it is a size of the case
  (the batch size ``N``, ``C·H·W``, ...) or 2;
* transposed;
* only one example's share of a gradient that sums over the batch;
* wrong in only some entries, and where: the rows of repeated indices, the entries of the
  labels, the masked-out positions, where an input is negative, where the true gradient is 0,
  whole slices along an axis, or the first few positions.

Every entry point takes plain arrays; what the case knows (its inputs, its named sizes, the
per-example shares of a gradient) comes in a :class:`Context`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from dualnet.crosscheck import error, normwise_error

# Largest normwise error at which two arrays count as equal when matching a pattern: looser
# than the agreement bounds, because a pattern (2 * expected) is itself computed in floats.
PATTERN_TOLERANCE = {"float64": 1e-7, "float32": 1e-4}


@dataclass(frozen=True)
class Context:
    """What a diagnosis may relate a wrong array to.

    Attributes:
        inputs: The case's inputs by name (indices, labels, masks and the arrays themselves).
        sizes: Named sizes of the case, most telling first: ``[("N", 3), ("C·H·W", 36), ...]``.
        shares: ``shares(name) -> [gradient of example 0, ...]``: the per-example
            contributions to the gradient ``name`` of an input without a batch axis, or
            ``None`` when that does not apply.
    """

    inputs: dict[str, np.ndarray] = field(default_factory=dict)
    sizes: list[tuple[str, int]] = field(default_factory=list)
    shares: Callable[[str], list[np.ndarray] | None] = lambda name: None


@dataclass(frozen=True)
class Comparison:
    """One output or gradient held against PyTorch.

    Attributes:
        name: ``"out"``, ``"loss"``, ``"db"``, ``"dWh"``, ...
        error: The error measure of :func:`dualnet.crosscheck.error`; ``None`` when it
            cannot be measured (not an array, the wrong shape, NaN or infinity).
        agrees: Whether the error is within the bound.
        diagnosis: How it is wrong, when recognisable; ``None`` otherwise.
    """

    name: str
    error: float | None
    agrees: bool
    diagnosis: str | None = None


def compare(
    name: str, got, expected, dtype: str, bound: float, context: Context | None = None
) -> Comparison:
    """Hold the learner's ``got`` against PyTorch's ``expected`` (an array) in ``dtype``."""
    context = context or Context()
    expected = np.asarray(expected, dtype=np.float64)
    problem = not_an_array(got, expected)
    if problem:
        return Comparison(name, None, False, problem)
    precision = np.asarray(got).dtype
    got = np.asarray(got, dtype=np.float64)
    if got.shape != expected.shape:
        return Comparison(name, None, False, wrong_shape(got, expected, dtype))
    if not np.all(np.isfinite(got)):
        return Comparison(name, None, False, non_finite(got))
    value = error(got, expected, dtype)
    if value <= bound:
        return Comparison(name, value, True)
    if np.issubdtype(precision, np.floating) and precision.itemsize < np.dtype(dtype).itemsize:
        lost = f"computed in {precision}, not {dtype}: keep the dtype of the inputs"
        return Comparison(name, value, False, lost)
    return Comparison(name, value, False, describe(name, got, expected, dtype, context))


def matches(a: np.ndarray, b: np.ndarray, dtype: str) -> bool:
    """Whether ``a`` equals ``b`` up to rounding (normwise, :data:`PATTERN_TOLERANCE`)."""
    return a.shape == b.shape and normwise_error(a, b) <= PATTERN_TOLERANCE[dtype]


def shape_text(shape: tuple) -> str:
    return f"{tuple(shape)} (a scalar)" if shape == () else str(tuple(shape))


# --------------------------------------------------------------------------------------------
# Not an array, the wrong shape, NaN or infinity
# --------------------------------------------------------------------------------------------


def not_an_array(got, expected: np.ndarray) -> str | None:
    """Why ``got`` is no array of numbers, or ``None`` when it is one."""
    wanted = f"an array of shape {shape_text(expected.shape)}"
    if got is None:
        return f"is None; expected {wanted}"
    try:
        array = np.asarray(got)
    except Exception:  # noqa: BLE001 - any object numpy cannot read is "not an array"
        array = None
    if array is None or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        return f"is a {type(got).__name__}, not {wanted}"
    return None


def wrong_shape(got: np.ndarray, expected: np.ndarray, dtype: str) -> str:
    """``wrong shape: expected ..., got ...`` and, when one exists, the fix that gives the
    right values."""
    text = f"wrong shape: expected {shape_text(expected.shape)}, got {shape_text(got.shape)}"
    if got.size == expected.size and matches(got.reshape(expected.shape), expected, dtype):
        return f"{text}; the values are right, reshape them"
    axes = transposition(got, expected, dtype)
    if axes is not None:
        return f"{text}; transposed: got.transpose{axes} is right"
    if got.shape[1:] == expected.shape and matches(got.sum(axis=0), expected, dtype):
        return f"{text}; its sum over axis 0 (the batch) is right: sum over the examples"
    return text


def transposition(got: np.ndarray, expected: np.ndarray, dtype: str) -> tuple | None:
    """The axis order (other than the identity) that turns ``got`` into ``expected``."""
    if got.ndim != expected.ndim or got.ndim > 5:
        return None
    for axes in itertools.permutations(range(got.ndim)):
        if axes == tuple(range(got.ndim)):
            continue
        moved = got.transpose(axes)
        if moved.shape == expected.shape and matches(moved, expected, dtype):
            return axes
    return None


def non_finite(got: np.ndarray) -> str:
    nan, inf = int(np.isnan(got).sum()), int(np.isinf(got).sum())
    parts = [f"NaN in {nan}" if nan else "", f"infinity in {inf}" if inf else ""]
    found = " and ".join(p for p in parts if p)
    return f"{found} of {got.size} entries (an overflow, a log of 0 or a division by 0?)"


# --------------------------------------------------------------------------------------------
# Right shape, wrong values
# --------------------------------------------------------------------------------------------


def describe(
    name: str, got: np.ndarray, expected: np.ndarray, dtype: str, context: Context
) -> str | None:
    """The first recognisable pattern of a wrong array of the right shape, or ``None``."""
    for diagnose in (constant_factor, transposed, one_share):
        found = diagnose(name, got, expected, dtype, context)
        if found:
            return found
    return some_entries(got, expected, dtype, context)


def constant_factor(name, got, expected, dtype, context) -> str | None:
    """``got = c * expected`` for one constant ``c``: the opposite sign, a named size, a
    simple fraction. A scalar is always a multiple of another, so for a scalar only the sign
    and the named sizes count."""
    scale = float(np.sum(expected * expected))
    if scale == 0.0:
        return None if not np.any(got) else "should be 0 everywhere"
    factor = float(np.sum(got * expected)) / scale
    if not matches(got, factor * expected, dtype) or math.isclose(factor, 1.0, rel_tol=1e-6):
        return None
    if math.isclose(factor, -1.0, rel_tol=1e-6):
        return "the opposite sign"
    named = named_factor(factor, context.sizes)
    if named or got.size == 1:
        return named
    fraction = Fraction(factor).limit_denominator(12)
    if math.isclose(float(fraction), factor, rel_tol=1e-6) and fraction.denominator > 1:
        return f"off by the constant factor {fraction}"
    return f"off by the constant factor {factor:.4g}"


def named_factor(factor: float, sizes: list[tuple[str, int]]) -> str | None:
    """``"N = 3 times too small: ..."`` when ``factor`` is a named size or its inverse."""
    sign = "" if factor > 0 else "the opposite sign and "
    magnitude = abs(factor)
    for label, value in [*sizes, ("2", 2)]:
        if value <= 1:
            continue
        if math.isclose(magnitude, value, rel_tol=1e-6):
            return sign + too_large(label, value)
        if math.isclose(magnitude, 1 / value, rel_tol=1e-6):
            return sign + too_small(label, value)
    return None


def too_large(label: str, value: int) -> str:
    if label == "2":
        return "twice too large (a factor 2)"
    hint = "the division by the batch size" if label == "N" else f"a division by {label}"
    return f"{label} = {value} times too large: {hint} is missing?"


def too_small(label: str, value: int) -> str:
    if label == "2":
        return "half of what it should be (a factor 1/2)"
    if label == "N":
        return f"N = {value} times too small: divided by the batch size (averaged, not summed?)"
    return f"{label} = {value} times too small: divided by {label} once too often?"


def transposed(name, got, expected, dtype, context) -> str | None:
    """Square in its last two axes and right once they are swapped."""
    if got.ndim < 2 or got.shape[-1] != got.shape[-2]:
        return None
    if matches(np.swapaxes(got, -1, -2), expected, dtype):
        return "transposed (its last two axes swapped)"
    return None


def one_share(name, got, expected, dtype, context) -> str | None:
    """Equal to the contribution of a single example to a gradient that sums over them."""
    shares = context.shares(name)
    if not shares or len(shares) < 2:
        return None
    for n, share in enumerate(shares):
        if matches(got, share, dtype):
            return (
                f"holds only example {n}'s share of the N = {len(shares)} examples: "
                "accumulate over the batch (+=) instead of overwriting"
            )
    return None


# --------------------------------------------------------------------------------------------
# Wrong in only some entries: which ones
# --------------------------------------------------------------------------------------------


def wrong_entries(got: np.ndarray, expected: np.ndarray, dtype: str) -> np.ndarray:
    """Boolean array: ``True`` where an entry differs by more than rounding."""
    scale = max(float(np.max(np.abs(expected))), 1e-12)
    if dtype == "float64":
        return np.abs(got - expected) > 1e-7 * (np.abs(got) + np.abs(expected)) + 1e-10 * scale
    return np.abs(got - expected) > 1e-4 * scale


def some_entries(got, expected, dtype, context) -> str | None:
    """``"wrong in k of n entries: <where>"`` when some but not all entries are wrong."""
    wrong = wrong_entries(got, expected, dtype)
    count = int(wrong.sum())
    if count == 0:
        return None
    if count == wrong.size:
        zeros = should_be_zero(wrong, expected)
        return f"wrong in every entry; {zeros}" if zeros else None
    where = [
        found
        for locate in (repeated_indices, label_entries, masked_positions, input_sign)
        for found in [locate(wrong, context)]
        if found
    ]
    zeros = should_be_zero(wrong, expected)
    if zeros:
        where.append(zeros)
    if not where:
        where.append(whole_slices(wrong) or first_positions(wrong))
    return f"wrong in {count} of {wrong.size} entries: " + "; ".join(where)


def integer_inputs(context: Context):
    for name, array in context.inputs.items():
        array = np.asarray(array)
        if np.issubdtype(array.dtype, np.integer) and array.size:
            yield name, array


def rows_of(wrong: np.ndarray) -> set[int]:
    """The indices along axis 0 that hold a wrong entry."""
    if wrong.ndim == 0:
        return set()
    return {int(i) for i in np.nonzero(wrong.reshape(wrong.shape[0], -1).any(axis=1))[0]}


def repeated_indices(wrong: np.ndarray, context: Context) -> str | None:
    """The wrong rows are the rows of indices that occur more than once in an index input."""
    rows = rows_of(wrong)
    for name, indices in integer_inputs(context):
        if wrong.ndim == 0 or indices.max() >= wrong.shape[0]:
            continue
        if wrong.shape[: indices.ndim] == indices.shape:
            continue  # labels of the examples, not rows of a table
        values, counts = np.unique(indices, return_counts=True)
        repeated = {int(v) for v in values[counts > 1]}
        if rows and rows <= repeated:
            listed = ", ".join(str(r) for r in sorted(rows))
            return (
                f"the rows {listed}, whose indices occur more than once in {name}: "
                "the gradients of repeated indices must add up (np.add.at), not overwrite"
            )
    return None


def label_entries(wrong: np.ndarray, context: Context) -> str | None:
    """The wrong entries are exactly those at the labels, ``[n, y[n]]``."""
    for name, labels in integer_inputs(context):
        if wrong.ndim != labels.ndim + 1 or wrong.shape[:-1] != labels.shape:
            continue
        if labels.max() >= wrong.shape[-1]:
            continue
        at_labels = np.zeros(wrong.shape, dtype=bool)
        np.put_along_axis(at_labels, labels[..., np.newaxis], True, axis=-1)
        if np.array_equal(wrong, at_labels):
            return f"exactly the entries of the correct classes, [n, {name}[n]]"
    return None


def masked_positions(wrong: np.ndarray, context: Context) -> str | None:
    """The wrong positions are exactly where a boolean mask input is False (or True)."""
    for name, mask in context.inputs.items():
        mask = np.asarray(mask)
        if mask.dtype != bool or wrong.shape[: mask.ndim] != mask.shape:
            continue
        positions = wrong.reshape(*mask.shape, -1).any(axis=-1)
        if np.array_equal(positions, ~mask):
            return f"exactly the positions where {name} is False: masked-out steps must give 0"
        if np.array_equal(positions, mask):
            return f"exactly the positions where {name} is True"
    return None


def input_sign(wrong: np.ndarray, context: Context) -> str | None:
    """The wrong entries are exactly where an input of the same shape is negative (or
    positive)."""
    for name, array in context.inputs.items():
        array = np.asarray(array)
        if array.shape != wrong.shape or not np.issubdtype(array.dtype, np.floating):
            continue
        if np.array_equal(wrong, array < 0):
            return f"exactly where {name} < 0"
        if np.array_equal(wrong, array > 0):
            return f"exactly where {name} > 0"
    return None


def should_be_zero(wrong: np.ndarray, expected: np.ndarray) -> str | None:
    zero = expected == 0
    nonzero = int((wrong & zero).sum())
    if nonzero == 0:
        return None
    if np.array_equal(wrong, zero):
        return "exactly the entries whose gradient is 0: no gradient may flow there"
    return f"{nonzero} of them should be 0 (no gradient flows there)"


def whole_slices(wrong: np.ndarray) -> str | None:
    """``"every entry of indices 1, 3 along axis 0"`` when the wrong entries fill whole
    slices along one axis."""
    for axis in range(wrong.ndim):
        moved = np.moveaxis(wrong, axis, 0).reshape(wrong.shape[axis], -1)
        rows = moved.any(axis=1)
        if rows.all() or not np.array_equal(moved, np.repeat(rows[:, None], moved.shape[1], 1)):
            continue
        listed = ", ".join(str(i) for i in np.nonzero(rows)[0])
        return f"every entry of index {listed} along axis {axis}"
    return None


def first_positions(wrong: np.ndarray, count: int = 3) -> str:
    positions = [tuple(int(i) for i in p) for p in np.argwhere(wrong)[:count]]
    return "for example at " + ", ".join(str(p) for p in positions)
