r"""The cross-check engine: hold each NumPy component against PyTorch and finite differences.

For one component and one dtype, :func:`check_component`

1. draws random inputs (``component.make_case``) and a random upstream gradient for every
   output;
2. compares the NumPy forward outputs with the PyTorch outputs;
3. compares the hand-derived NumPy gradients with what PyTorch's autograd computes for the
   same upstream gradient;
4. in float64, compares the NumPy gradients with centred finite differences of
   :math:`\sum_k \langle \mathrm{out}_k, \mathrm{dout}_k \rangle`, the quantity whose
   gradient a backward pass computes.

How errors are measured
-----------------------
In float64 the error is the classic elementwise relative error
(:func:`reference_numpy.gradcheck.rel_error`). In float32 an entry that cancels to nearly zero
carries a rounding error of about :math:`\epsilon` times the size of the terms that cancelled,
so its elementwise relative error says nothing about the implementation; there the error of
every entry is measured relative to the array's largest entries instead
(:func:`normwise_error`). The bounds (:data:`BOUNDS`) are those of the design page,
``docs/design.md``.
"""

from __future__ import annotations

import copy
import zlib
from dataclasses import asdict, dataclass

import numpy as np
import torch

from dualnet.registry import Case, Component
from reference_numpy.gradcheck import eval_numerical_gradient_array, rel_error


@dataclass(frozen=True)
class Bounds:
    """Largest relative errors allowed; ``None`` means the check is not run for this dtype."""

    forward: float
    autograd: float
    finite_differences: float | None


BOUNDS: dict[str, Bounds] = {
    "float64": Bounds(forward=1e-10, autograd=1e-9, finite_differences=1e-6),
    "float32": Bounds(forward=1e-5, autograd=1e-4, finite_differences=None),
}

DTYPES = tuple(BOUNDS)


def normwise_error(x, y) -> float:
    r"""Largest entrywise difference relative to the largest entries,
    :math:`\max_i |x_i - y_i| \,/\, \max(10^{-8}, \max_i (|x_i| + |y_i|))`."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"normwise_error: x has shape {x.shape} but y has shape {y.shape}")
    if x.size == 0:
        return 0.0
    return float(np.max(np.abs(x - y)) / max(1e-8, float(np.max(np.abs(x) + np.abs(y)))))


def error(x, y, dtype: str) -> float:
    """The error measure used for ``dtype``: elementwise in float64, normwise in float32."""
    return rel_error(x, y) if dtype == "float64" else normwise_error(x, y)


@dataclass(frozen=True)
class CheckResult:
    """Outcome of checking one component in one dtype.

    Attributes:
        key: Registry key of the component.
        dtype: ``"float64"`` or ``"float32"``.
        forward: Largest error between the NumPy and PyTorch outputs.
        autograd: Per differentiable input, the error between the NumPy gradient and autograd's.
        finite_differences: Per input, the error between the NumPy gradient and centred finite
            differences; ``None`` when not checked (float32).
        bounds: The bounds applied.
    """

    key: str
    dtype: str
    forward: float
    autograd: dict[str, float]
    finite_differences: dict[str, float] | None
    bounds: Bounds

    def failures(self) -> list[str]:
        """One line for each check that exceeds its bound; empty when everything agrees."""
        found = []
        if not self.forward <= self.bounds.forward:
            found.append(f"forward error {self.forward:.2e} > {self.bounds.forward:.0e}")
        for name, value in self.autograd.items():
            if not value <= self.bounds.autograd:
                found.append(f"d{name} vs autograd {value:.2e} > {self.bounds.autograd:.0e}")
        if self.finite_differences is not None:
            bound = self.bounds.finite_differences
            for name, value in self.finite_differences.items():
                if not value <= bound:
                    found.append(f"d{name} vs finite differences {value:.2e} > {bound:.0e}")
        return found

    @property
    def agrees(self) -> bool:
        return not self.failures()

    def to_dict(self) -> dict:
        result = asdict(self)
        result["agrees"] = self.agrees
        return result


def fresh(case: Case) -> Case:
    """A deep copy of ``case``, so that no backend can change what another one sees."""
    return copy.deepcopy(case)


def case_rng(component: Component, seed: int) -> np.random.Generator:
    """A generator seeded by ``seed`` and the component's key: each component gets its own
    stream, and the same seed always reproduces it."""
    return np.random.default_rng([seed, zlib.crc32(component.key.encode())])


def upstream_gradients(rng: np.random.Generator, outputs, dtype) -> tuple[np.ndarray, ...]:
    """One random upstream gradient per output, of its shape and dtype."""
    return tuple(np.asarray(rng.standard_normal(np.shape(o)), dtype=dtype) for o in outputs)


def torch_outputs_and_gradients(component: Component, case: Case, douts):
    """Run the PyTorch version on tensors copied from ``case`` and differentiate with autograd.

    Returns:
        ``(outputs, gradients)`` as NumPy arrays; an input that does not influence the outputs
        gets a zero gradient.
    """
    case = fresh(case)
    tensors = {
        name: torch.from_numpy(np.array(array, copy=True)).requires_grad_(name in case.wrt)
        for name, array in case.inputs.items()
    }
    outputs = component.forward_torch(tensors, case)
    if not case.wrt:  # nothing to differentiate (an optimizer's trajectory)
        return tuple(o.detach().numpy() for o in outputs), {}
    wrt = [tensors[name] for name in case.wrt]
    grads = torch.autograd.grad(
        outputs,
        wrt,
        grad_outputs=[torch.from_numpy(np.array(d, copy=True)) for d in douts],
        allow_unused=True,
    )
    gradients = {
        name: (np.zeros_like(case.inputs[name]) if g is None else g.detach().numpy())
        for name, g in zip(case.wrt, grads, strict=True)
    }
    return tuple(o.detach().numpy() for o in outputs), gradients


def finite_difference_gradients(component: Component, case: Case, douts) -> dict[str, np.ndarray]:
    r"""Centred finite differences of :math:`\sum_k \langle \mathrm{out}_k, \mathrm{dout}_k
    \rangle` with respect to every differentiable input, computed on a copy of ``case``.

    All outputs are flattened into one vector, so that
    :func:`~reference_numpy.gradcheck.eval_numerical_gradient_array` takes the difference of
    each output entry before weighting it by its upstream gradient; this keeps the rounding
    error of each entry relative to that entry.
    """
    working = fresh(case)
    upstream = np.concatenate([np.ravel(d) for d in douts])

    def all_outputs(_):
        outputs, _cache = component.forward_numpy(fresh(working))
        return np.concatenate([np.ravel(o) for o in outputs])

    return {
        name: eval_numerical_gradient_array(all_outputs, working.inputs[name], upstream)
        for name in working.wrt
    }


def check_component(component: Component, dtype: str = "float64", seed: int = 0) -> CheckResult:
    """Check one component in one dtype against PyTorch and, in float64, finite differences."""
    if dtype not in BOUNDS:
        raise ValueError(
            f"check_component: dtype must be one of {', '.join(DTYPES)}, got {dtype!r}"
        )
    rng = case_rng(component, seed)
    case = component.make_case(rng, np.dtype(dtype))
    outputs, cache = component.forward_numpy(fresh(case))
    douts = upstream_gradients(rng, outputs, dtype)
    gradients = component.backward_numpy(douts, cache, case)

    torch_outputs, torch_gradients = torch_outputs_and_gradients(component, case, douts)
    forward = max(error(a, b, dtype) for a, b in zip(outputs, torch_outputs, strict=True))
    autograd = {name: error(gradients[name], torch_gradients[name], dtype) for name in case.wrt}

    bounds = BOUNDS[dtype]
    finite = None
    if bounds.finite_differences is not None:
        numerical = finite_difference_gradients(component, case, douts)
        finite = {name: rel_error(gradients[name], numerical[name]) for name in case.wrt}
    return CheckResult(component.key, dtype, forward, autograd, finite, bounds)


def check_all(components: list[Component], dtypes=DTYPES, seed: int = 0) -> list[CheckResult]:
    """:func:`check_component` for every component and dtype, in that order."""
    return [check_component(c, d, seed) for c in components for d in dtypes]
