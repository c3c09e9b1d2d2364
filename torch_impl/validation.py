"""Input checks shared by the PyTorch components.

The twin of ``reference_numpy/validation.py``, for tensors: PyTorch broadcasts as silently as
NumPy does, so the same mistakes get the same ``ValueError`` messages here.
"""

from __future__ import annotations

import math
import numbers

import torch


def format_shape(shape) -> str:
    """``(2, 3)`` for a tuple of ints; symbolic entries such as ``"N"`` are printed as they are."""
    parts = [str(s) for s in shape]
    if len(parts) == 1:
        return f"({parts[0]},)"
    return "(" + ", ".join(parts) + ")"


def check_tensor(func: str, name: str, value) -> None:
    """Fail unless ``value`` is a tensor."""
    if not isinstance(value, torch.Tensor):
        raise ValueError(f"{func}: {name} must be a torch.Tensor, got {type(value).__name__}")


def check_ndim(func: str, name: str, tensor: torch.Tensor, ndim: int, meaning: str) -> None:
    """Fail unless ``tensor`` has exactly ``ndim`` dimensions; ``meaning`` names them."""
    check_tensor(func, name, tensor)
    if tensor.dim() != ndim:
        raise ValueError(
            f"{func}: {name} has shape {format_shape(tensor.shape)}, "
            f"expected {ndim} dimensions {meaning}"
        )


def check_min_ndim(func: str, name: str, tensor: torch.Tensor, ndim: int, meaning: str) -> None:
    """Fail unless ``tensor`` has at least ``ndim`` dimensions."""
    check_tensor(func, name, tensor)
    if tensor.dim() < ndim:
        raise ValueError(
            f"{func}: {name} has shape {format_shape(tensor.shape)}, "
            f"expected at least {ndim} dimensions {meaning}"
        )


def check_shape(func: str, name: str, tensor: torch.Tensor, expected: tuple, because: str) -> None:
    """Fail unless ``tensor.shape == expected``; ``because`` says why that is expected."""
    check_tensor(func, name, tensor)
    if tuple(tensor.shape) != tuple(expected):
        raise ValueError(
            f"{func}: {name} has shape {format_shape(tensor.shape)}, "
            f"expected {format_shape(expected)} {because}"
        )


class NonFiniteError(ValueError):
    """A NaN or an infinity where a finite number is needed. A ``ValueError`` like every other
    bad input; training loops catch it to say at which step the numbers went non-finite."""


def check_batch(func: str, name: str, tensor) -> None:
    """Fail if the leading (batch) axis of ``tensor`` is empty: every component refuses a batch
    of ``N = 0`` examples, instead of returning NaN or empty results (docs/notation.md)."""
    if tensor.ndim >= 1 and tensor.shape[0] == 0:
        raise ValueError(
            f"{func}: {name} has shape {format_shape(tensor.shape)}, expected a batch of "
            "N >= 1 examples (empty batches are refused)"
        )


def check_finite(func: str, name: str, tensor: torch.Tensor) -> None:
    """Fail if ``tensor`` holds a NaN or an infinity."""
    finite = torch.isfinite(tensor)
    if not bool(finite.all()):
        bad = int(tensor.numel() - finite.sum())
        raise NonFiniteError(f"{func}: {name} holds {bad} non-finite value(s) (NaN or infinity)")


def check_labels(func: str, name: str, y: torch.Tensor, count: int, num_classes: int) -> None:
    """Fail unless ``y`` is a vector of ``count`` integer class labels in ``[0, num_classes)``."""
    check_tensor(func, name, y)
    if y.dtype.is_floating_point or y.dtype.is_complex or y.dtype == torch.bool:
        raise ValueError(f"{func}: {name} must hold integer class labels, got dtype {y.dtype}")
    check_shape(func, name, y, (count,), "(one label per row of x)")
    if count and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise ValueError(
            f"{func}: {name} holds labels from {int(y.min())} to {int(y.max())}, "
            f"expected labels in [0, {num_classes}) for the {num_classes} columns of x"
        )


def check_real(func: str, name: str, value) -> float:
    """Fail unless ``value`` is a finite real number; return it as a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{func}: {name} must be a real number, got {value!r}")
    if not math.isfinite(value):
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


def check_scores(func: str, name: str, scores: torch.Tensor) -> None:
    """Fail unless ``scores`` holds one number per example: shape ``(N,)`` or ``(N, 1)``,
    ``N >= 1``. Any other shape could broadcast against a target into ``(N, N)``."""
    check_tensor(func, name, scores)
    shape = tuple(scores.shape)
    if not (len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)) or shape[0] == 0:
        raise ValueError(
            f"{func}: {name} has shape {format_shape(shape)}, "
            "expected (N,) or (N, 1) with N >= 1: one score per example"
        )


def check_indices(func: str, name: str, indices: torch.Tensor, count: int, meaning: str) -> None:
    """Fail unless ``indices`` is an integer tensor with every entry in ``[0, count)``;
    ``meaning`` says what they index. The error names the first entry out of range."""
    check_tensor(func, name, indices)
    if indices.dtype.is_floating_point or indices.dtype.is_complex or indices.dtype == torch.bool:
        raise ValueError(f"{func}: {name} must hold integer indices, got dtype {indices.dtype}")
    outside = (indices < 0) | (indices >= count)
    if bool(outside.any()):
        position = tuple(int(i) for i in torch.nonzero(outside)[0])
        raise ValueError(
            f"{func}: {name}[{', '.join(map(str, position))}] = {int(indices[position])} lies "
            f"outside [0, {count}), expected indices into {meaning}"
        )


def check_mask(func: str, name: str, mask: torch.Tensor, expected: tuple, because: str) -> None:
    """Fail unless ``mask`` has shape ``expected`` and holds only 0/1 (or ``False``/``True``)."""
    check_shape(func, name, mask, expected, because)
    if mask.dtype != torch.bool and not bool(((mask == 0) | (mask == 1)).all()):
        raise ValueError(f"{func}: {name} must hold only 0 and 1 (or booleans)")


def check_recurrent_weights(
    func: str,
    Wx: torch.Tensor,
    Wh: torch.Tensor,
    b: torch.Tensor,
    input_dim: int,
    hidden: int,
    k: int,
) -> None:
    """Fail unless ``Wx`` is ``(D, kH)``, ``Wh`` is ``(H, kH)`` and ``b`` is ``(kH,)``, the
    weights of a recurrent cell with ``k`` blocks (1 for the RNN, 4 gates for the LSTM)."""
    kh = "H" if k == 1 else f"{k}H"
    sizes = f"for D = {input_dim} input features and H = {hidden} hidden units"
    check_ndim(func, "Wx", Wx, 2, f"(D, {kh})")
    check_shape(func, "Wx", Wx, (input_dim, k * hidden), f"(D, {kh}) {sizes}")
    check_shape(func, "Wh", Wh, (hidden, k * hidden), f"(H, {kh}) {sizes}")
    check_shape(func, "b", b, (k * hidden,), f"({kh},) {sizes}")


def check_steps(func: str, name: str, x: torch.Tensor) -> None:
    """Fail unless ``x`` is a batch of sequences ``(N, T, D)`` with at least one step."""
    check_ndim(func, name, x, 3, "(N, T, D)")
    check_batch(func, name, x)
    if x.shape[1] == 0:
        raise ValueError(
            f"{func}: {name} has shape {format_shape(x.shape)}, expected (N, T, D) with T >= 1"
        )
