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

The PyTorch side runs on ``device`` (the CPU, or a CUDA GPU: the device that trains); NumPy
always runs on the CPU. On a GPU, float32 matrix products and convolutions may use **TF32**
(tensor cores that read only 10 bits of each float32 mantissa): :func:`tf32` switches it for
the duration of a check, and ``dualnet check --device cuda`` reports the float32 rows both
ways, with PyTorch's defaults and with TF32 forbidden.

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

import contextlib
import copy
import zlib
from collections.abc import Iterator
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
        device: Where the PyTorch side ran (``"cpu"``, ``"cuda"``).
        tf32: The TF32 setting of a float32 check on a GPU: ``"default"`` (PyTorch's) or
            ``"off"``; ``None`` elsewhere.
    """

    key: str
    dtype: str
    forward: float
    autograd: dict[str, float]
    finite_differences: dict[str, float] | None
    bounds: Bounds
    device: str = "cpu"
    tf32: str | None = None

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


def to_device(array: np.ndarray, device: str) -> torch.Tensor:
    """A tensor holding a copy of ``array`` on ``device``."""
    return torch.from_numpy(np.array(array, copy=True)).to(device)


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy()


def torch_outputs_and_gradients(component: Component, case: Case, douts, device: str = "cpu"):
    """Run the PyTorch version on ``device`` on tensors copied from ``case`` and differentiate
    with autograd.

    Returns:
        ``(outputs, gradients)`` as NumPy arrays; an input that does not influence the outputs
        gets a zero gradient.
    """
    case = fresh(case)
    tensors = {
        name: to_device(array, device).requires_grad_(name in case.wrt)
        for name, array in case.inputs.items()
    }
    outputs = component.forward_torch(tensors, case)
    if not case.wrt:  # nothing to differentiate (an optimizer's trajectory)
        return tuple(to_numpy(o) for o in outputs), {}
    wrt = [tensors[name] for name in case.wrt]
    grads = torch.autograd.grad(
        outputs, wrt, grad_outputs=[to_device(d, device) for d in douts], allow_unused=True
    )
    gradients = {
        name: (np.zeros_like(case.inputs[name]) if g is None else to_numpy(g))
        for name, g in zip(case.wrt, grads, strict=True)
    }
    return tuple(to_numpy(o) for o in outputs), gradients


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


@contextlib.contextmanager
def tf32(setting: str | None) -> Iterator[None]:
    """PyTorch's TF32 switches for matrix products and cuDNN convolutions, for the duration:
    ``None`` or ``"default"`` leaves them as they are (PyTorch's defaults: TF32 in
    convolutions, not in matrix products), ``"off"`` forbids TF32 in both."""
    if setting in (None, "default"):
        yield
        return
    if setting != "off":
        raise ValueError(f"tf32 must be None, 'default' or 'off', got {setting!r}")
    switches = tf32_switches()
    before = [(owner, name, getattr(owner, name)) for owner, name, _ in switches]
    for owner, name, off in switches:
        setattr(owner, name, off)
    try:
        yield
    finally:
        for owner, name, value in before:
            setattr(owner, name, value)


def tf32_switches() -> list[tuple[object, str, object]]:
    """``(owner, attribute, value that forbids TF32)`` for matrix products and cuDNN: the
    ``fp32_precision`` settings of PyTorch 2.9 and later (which refuse to be mixed with the
    older ones), else the older ``allow_tf32`` flags."""
    matmul, cudnn = torch.backends.cuda.matmul, torch.backends.cudnn
    if hasattr(matmul, "fp32_precision") and hasattr(cudnn, "conv"):
        owners = (matmul, cudnn.conv, cudnn.rnn)
        return [(owner, "fp32_precision", "ieee") for owner in owners]
    return [(matmul, "allow_tf32", False), (cudnn, "allow_tf32", False)]


def check_component(
    component: Component,
    dtype: str = "float64",
    seed: int = 0,
    device: str = "cpu",
    tf32_setting: str | None = None,
) -> CheckResult:
    """Check one component in one dtype against PyTorch on ``device`` (with the TF32 setting
    ``tf32_setting``, see :func:`tf32`) and, in float64, against finite differences."""
    if dtype not in BOUNDS:
        raise ValueError(
            f"check_component: dtype must be one of {', '.join(DTYPES)}, got {dtype!r}"
        )
    rng = case_rng(component, seed)
    case = component.make_case(rng, np.dtype(dtype))
    outputs, cache = component.forward_numpy(fresh(case))
    douts = upstream_gradients(rng, outputs, dtype)
    gradients = component.backward_numpy(douts, cache, case)

    with tf32(tf32_setting):
        torch_outputs, torch_gradients = torch_outputs_and_gradients(component, case, douts, device)
    forward = max(error(a, b, dtype) for a, b in zip(outputs, torch_outputs, strict=True))
    autograd = {name: error(gradients[name], torch_gradients[name], dtype) for name in case.wrt}

    bounds = BOUNDS[dtype]
    finite = None
    if bounds.finite_differences is not None:
        numerical = finite_difference_gradients(component, case, douts)
        finite = {name: rel_error(gradients[name], numerical[name]) for name in case.wrt}
    on_gpu_float32 = dtype == "float32" and torch.device(device).type == "cuda"
    setting = (tf32_setting or "default") if on_gpu_float32 else None
    return CheckResult(component.key, dtype, forward, autograd, finite, bounds, device, setting)


def settings_for(dtype: str, device: str) -> tuple[str | None, ...]:
    """The TF32 settings a check in ``dtype`` on ``device`` runs with: both (PyTorch's
    defaults, then TF32 forbidden) for float32 on a GPU, none elsewhere."""
    if dtype == "float32" and torch.device(device).type == "cuda":
        return ("default", "off")
    return (None,)


def check_all(
    components: list[Component], dtypes=DTYPES, seed: int = 0, device: str = "cpu"
) -> list[CheckResult]:
    """:func:`check_component` for every component, dtype and TF32 setting
    (:func:`settings_for`), in that order."""
    return [
        check_component(c, d, seed, device, setting)
        for c in components
        for d in dtypes
        for setting in settings_for(d, device)
    ]
