"""Check a learner's own implementation with the machinery of ``dualnet check``.

For every registered entry whose NumPy functions the learner's module defines, the entry is
built again around the learner's functions (:meth:`dualnet.registry.Component.with_numpy_functions`)
and checked as :func:`dualnet.crosscheck.check_component` checks the reference: the same
random case and upstream gradient, the forward outputs against PyTorch, the gradients
against autograd and, in float64, against centred finite differences of the learner's
forward. On top of that, this module

* keeps going where the learner's code stops: ``NotImplementedError`` is "not written yet",
  any other exception is reported by its last line, and each check has a time limit;
* makes sure the learner's code changes none of its inputs and not the upstream gradient;
* says of every output or gradient that disagrees how it is wrong
  (:mod:`dualnet.learner.diagnosis`) and where the derivation explains it
  (:mod:`dualnet.learner.sections`).

Nothing of the learner's module is changed: its functions are only called.
"""

from __future__ import annotations

import contextlib
import copy
import signal
import threading
import traceback
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch

from dualnet.crosscheck import (
    BOUNDS,
    DTYPES,
    Bounds,
    case_rng,
    finite_difference_gradients,
    fresh,
    torch_outputs_and_gradients,
    upstream_gradients,
)
from dualnet.learner import handin
from dualnet.learner.diagnosis import Comparison, Context, compare
from dualnet.learner.sections import section
from dualnet.registry.component import Component, batched_inputs
from reference_numpy.gradcheck import rel_error

DEFAULT_TIMEOUT = 5.0
"""Seconds one component may take in one dtype (``--timeout``)."""

# Most serious first: a result takes the first status that any of its problems has.
STATUSES = ("timeout", "error", "changed_input", "disagrees", "not_implemented", "agrees")


class CheckTimeout(BaseException):
    """Raised inside the learner's code when its time is up (a ``BaseException``, so that an
    ``except Exception`` in that code does not swallow it)."""


@contextlib.contextmanager
def time_limit(seconds: float | None):
    """Interrupt the block after ``seconds`` with :class:`CheckTimeout` (a real-time timer
    signal; only in the main thread, elsewhere the block runs without a limit)."""
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not seconds or not usable:
        yield
        return

    def stop(signum, frame):
        raise CheckTimeout

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def quiet():
    """No warnings from the learner's arithmetic: NaN and infinity are diagnosed instead."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One output or gradient that disagrees.

    Attributes:
        name: The output or the gradient: ``"out"``, ``"loss"``, ``"db"``, ``"dWh"``.
        check: ``"forward"`` (against PyTorch), ``"autograd"`` or ``"finite differences"``.
        error: Its error, ``None`` when it cannot be measured (wrong shape, NaN).
        bound: The bound it exceeds.
        diagnosis: How it is wrong, when the pattern is recognisable.
        see: The derivation page section that explains it (``docs/derivations/affine.md#backward``).
    """

    name: str
    check: str
    error: float | None
    bound: float
    diagnosis: str | None
    see: str

    def summary(self) -> str:
        return f"{self.name} disagrees" + (f": {self.diagnosis}" if self.diagnosis else "")


@dataclass(frozen=True)
class LearnerResult:
    """Outcome of checking one component of a learner's module in one dtype.

    The fields of :class:`dualnet.crosscheck.CheckResult` (``None`` where nothing could be
    measured), plus ``status`` (one of :data:`STATUSES`), a one-line ``message``, the
    ``findings`` behind a disagreement, the learner's ``functions`` that were checked and
    the ``notes`` of the message that are not findings (an exception, an input changed in
    place, a function not written yet).
    """

    key: str
    dtype: str
    status: str
    message: str
    forward: float | None
    autograd: dict[str, float | None]
    finite_differences: dict[str, float | None] | None
    bounds: Bounds
    findings: tuple[Finding, ...]
    functions: tuple[str, ...]
    notes: tuple[str, ...] = ()

    @property
    def agrees(self) -> bool:
        return self.status == "agrees"

    @property
    def diagnosis(self) -> str | None:
        """Every finding's diagnosis, ``"db: N = 3 times too small ..."``; ``None`` when
        there is none."""
        found = [f"{f.name}: {f.diagnosis}" for f in self.findings if f.diagnosis]
        return "; ".join(found) or None

    def to_dict(self) -> dict:
        result = asdict(self)
        result.update(agrees=self.agrees, diagnosis=self.diagnosis)
        result["functions"] = list(self.functions)
        return result


# --------------------------------------------------------------------------------------------
# One component in one dtype
# --------------------------------------------------------------------------------------------


class Stop(Exception):
    """Ends a check early with a status and its message."""

    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def same(before, after) -> bool:
    """Whether ``after`` holds exactly what ``before`` held (arrays, dicts, lists, scalars)."""
    if isinstance(before, np.ndarray):
        return (
            isinstance(after, np.ndarray)
            and before.dtype == after.dtype
            and np.array_equal(before, after, equal_nan=True)
        )
    if isinstance(before, dict):
        return (
            isinstance(after, dict)
            and before.keys() == after.keys()
            and all(same(before[k], after[k]) for k in before)
        )
    if isinstance(before, (list, tuple)):
        return len(before) == len(after) and all(
            same(a, b) for a, b in zip(before, after, strict=True)
        )
    return before == after


class LearnerCheck:
    """The check of one entry, built around the learner's functions, in one dtype.

    ``run()`` draws the case and upstream gradient exactly as ``check_component`` does, runs
    PyTorch on them first (the judge), then the learner's forward and backward, collecting
    findings and problems on the way.
    """

    def __init__(self, component: Component, written: set[str], dtype: str, seed: int):
        self.component, self.written, self.dtype = component, written, dtype
        self.bounds = BOUNDS[dtype]
        rng = case_rng(component, seed)
        self.case = component.make_case(rng, np.dtype(dtype))
        self.douts = upstream_gradients(rng, torch_forward(component, self.case), dtype)
        self.expected, self.expected_gradients = torch_outputs_and_gradients(
            component, self.case, self.douts
        )
        self.findings: list[Finding] = []
        self.problems: list[tuple[str, str]] = []
        self.forward_error: float | None = None
        self.autograd: dict[str, float | None] = {}
        self.finite: dict[str, float | None] | None = None

    # The learner's functions -------------------------------------------------------------

    def names(self, backward: bool) -> list[str]:
        return [n for n in self.component.numpy_functions if n.endswith("_backward") == backward]

    def has_backward_function(self) -> bool:
        return bool(self.names(backward=True))

    def call(self, stage: str, function: Callable, *args):
        """``function(*args)``, turning the learner's exceptions into a :class:`Stop`."""
        names = ", ".join(self.names(backward=stage == "backward"))
        try:
            return function(*args)
        except NotImplementedError:
            raise Stop("not_implemented", f"{stage}: not written yet ({names})") from None
        except (Exception, SystemExit) as exc:
            raise Stop("error", f"{stage}: {self.explain(exc, stage, names)}") from None

    def explain(self, exc: BaseException, stage: str, names: str) -> str:
        """The exception's last line; when it was raised while unpacking what the learner's
        function returned, what that function must return."""
        frames = traceback.extract_tb(exc.__traceback__)
        if not frames or "dualnet/registry" not in frames[-1].filename.replace("\\", "/"):
            return f"{names} raised {handin.last_line(exc)}"
        return f"{names} must return {self.returns(stage)}; what it returned does not fit ({exc})"

    def returns(self, stage: str) -> str:
        """What the learner's forward or backward returns: ``"out, cache"``, ``"dx, dw, db"``,
        ``"loss, dx"`` for a combined loss, ``"next_w, config"`` for an update rule."""
        if stage == "backward":
            return ", ".join(f"d{n}" for n in self.case.wrt)
        outputs = list(self.component.output_names(len(self.expected)))
        if not self.case.wrt:
            return ", ".join([*outputs, "config"])
        if not self.has_backward_function():
            return ", ".join([*outputs, f"d{self.case.wrt[0]}"])
        return ", ".join([*outputs, "cache"])

    # The steps ---------------------------------------------------------------------------

    def run(self) -> LearnerResult:
        try:
            outputs, cache = self.forward()
            self.compare_outputs(outputs)
            if self.case.wrt:
                self.backward(cache)
        except Stop as stop:
            self.problems.append((stop.status, stop.message))
        return self.result()

    def forward(self):
        if not any(n in self.written for n in self.names(backward=False)):
            raise Stop(
                "not_implemented",
                "forward: not written yet (the backward needs the forward's cache)",
            )
        working = fresh(self.case)
        outputs, cache = self.call("forward", self.component.forward_numpy, working)
        self.note_changes(self.changed_inputs(working), "forward")
        if len(outputs) != len(self.expected):
            raise Stop(
                "error",
                f"forward: {', '.join(self.names(backward=False))} must return "
                f"{self.returns('forward')}; what it returned unpacks into {len(outputs) + 1} "
                "values (an array returned alone, without its cache?)",
            )
        return outputs, cache

    def compare_outputs(self, outputs) -> None:
        names = self.component.output_names(len(self.expected))
        errors = []
        for name, got, expected in zip(names, outputs, self.expected, strict=True):
            comparison = compare(
                name, got, expected, self.dtype, self.bounds.forward, self.context()
            )
            errors.append(comparison.error)
            self.record(comparison, "forward", self.bounds.forward)
        self.forward_error = None if None in errors else max(errors)

    def backward(self, cache) -> None:
        if self.has_backward_function() and not any(
            n in self.written for n in self.names(backward=True)
        ):
            raise Stop("not_implemented", "backward: not written yet")
        douts = copy.deepcopy(self.douts)
        gradients = self.call(
            "backward", self.component.backward_numpy, douts, cache, fresh(self.case)
        )
        upstream = [f"d{n}" for n in self.component.output_names(len(self.douts))]
        self.note_changes(
            [n for n, a, b in zip(upstream, self.douts, douts, strict=True) if not same(a, b)],
            "backward",
        )
        for name in self.case.wrt:
            comparison = compare(
                f"d{name}",
                gradients.get(name),
                self.expected_gradients[name],
                self.dtype,
                self.bounds.autograd,
                self.context(),
            )
            self.autograd[name] = comparison.error
            self.record(comparison, "autograd", self.bounds.autograd)
        if self.bounds.finite_differences is not None:
            self.finite_differences(gradients)

    def finite_differences(self, gradients: dict) -> None:
        """Centred differences of the learner's forward, as ``dualnet check`` computes them.
        A gradient that agrees with autograd but not with them blames the forward."""
        try:
            numerical = finite_difference_gradients(self.component, self.case, self.douts)
        except (Exception, SystemExit):
            return  # the forward's own failure is reported already
        bound = self.bounds.finite_differences
        self.finite = {}
        for name in self.case.wrt:
            got = np.asarray(gradients.get(name), dtype=np.float64)
            value = rel_error(got, numerical[name]) if got.shape == numerical[name].shape else None
            self.finite[name] = value
            if (
                value is not None
                and value > bound
                and (self.autograd[name] or 0) <= self.bounds.autograd
            ):
                self.findings.append(
                    Finding(
                        f"d{name}",
                        "finite differences",
                        value,
                        bound,
                        "agrees with autograd, not with finite differences of your forward: "
                        "the forward computes something else",
                        section(self.component, backward=False),
                    )
                )

    # Bookkeeping -------------------------------------------------------------------------

    def record(self, comparison: Comparison, check: str, bound: float) -> None:
        if comparison.agrees:
            return
        backward = check != "forward"
        self.findings.append(
            Finding(
                comparison.name,
                check,
                comparison.error,
                bound,
                comparison.diagnosis,
                section(self.component, backward=backward),
            )
        )

    def changed_inputs(self, working) -> list[str]:
        changed = [n for n, a in self.case.inputs.items() if not same(a, working.inputs[n])]
        if not self.component.updates_config and not same(self.case.config, working.config):
            changed.append("its configuration (the settings after the arrays)")
        return changed

    def note_changes(self, changed: list[str], stage: str) -> None:
        if changed:
            names = ", ".join(self.names(backward=stage == "backward")) or stage
            self.problems.append(
                (
                    "changed_input",
                    f"{names} changed {', '.join(changed)} in place: work on a copy "
                    "(x = x.copy()) or build new arrays; never write into an input",
                )
            )

    def context(self) -> Context:
        return Context(inputs=self.case.inputs, sizes=self.sizes(), shares=self.shares)

    def sizes(self) -> list[tuple[str, int]]:
        """The case's named sizes: the batch size ``N`` and, for images ``(N, C, H, W)``
        and sequences ``(N, T, D)``, the sizes of the first input's axes."""
        batched = batched_inputs(self.component, self.case)
        found = [("N", self.case.inputs[batched[0]].shape[0])] if batched else []
        first = next(iter(self.case.inputs.values()))
        if first.ndim == 4:
            _, c, h, w = first.shape
            found += [("C·H·W", c * h * w), ("H·W", h * w), ("C", c), ("H", h), ("W", w)]
        elif first.ndim == 3 and self.component.topic in ("rnn", "lstm", "attention"):
            found.append(("T", first.shape[1]))
        return found

    def shares(self, gradient: str) -> list[np.ndarray] | None:
        """Autograd's gradient ``gradient`` of an input without a batch axis, one example of
        the upstream gradient at a time; ``None`` where the outputs are not all batched."""
        name = gradient[1:]
        batched = batched_inputs(self.component, self.case)
        if not batched or name in batched or name not in self.case.wrt:
            return None
        n = self.case.inputs[batched[0]].shape[0]
        if not all(np.ndim(d) >= 1 and np.shape(d)[0] == n for d in self.douts):
            return None
        found = []
        for k in range(n):
            only_k = tuple(
                np.where(np.arange(n).reshape(-1, *[1] * (d.ndim - 1)) == k, d, 0)
                for d in self.douts
            )
            found.append(torch_outputs_and_gradients(self.component, self.case, only_k)[1][name])
        return found

    def result(self) -> LearnerResult:
        status, notes = self.verdict()
        blamed = {}
        for finding in self.findings:
            blamed.setdefault(finding.name, finding.summary())
        return LearnerResult(
            key=self.component.key,
            dtype=self.dtype,
            status=status,
            message="; ".join([*notes, *blamed.values()]) or "agrees",
            forward=self.forward_error,
            autograd=self.autograd,
            finite_differences=self.finite,
            bounds=self.bounds,
            findings=tuple(self.findings),
            functions=tuple(n for n in self.component.numpy_functions if n in self.written),
            notes=notes,
        )

    def verdict(self) -> tuple[str, tuple[str, ...]]:
        """The most serious status among the problems and findings, and the problems'
        messages, most serious first."""
        statuses = [s for s, _ in self.problems] + ["disagrees"] * bool(self.findings)
        status = next((s for s in STATUSES if s in statuses), "agrees")
        notes = [m for s in STATUSES for t, m in self.problems if t == s]
        if status == "not_implemented" and self.forward_error is not None:
            notes.insert(0, "forward agrees")
        return status, tuple(notes)


def torch_forward(component: Component, case) -> tuple[np.ndarray, ...]:
    """PyTorch's outputs for ``case``, without gradients: the shapes of the upstream
    gradient come from the judge, not from what the learner returns."""
    with torch.no_grad():
        tensors = {n: torch.from_numpy(np.array(a, copy=True)) for n, a in case.inputs.items()}
        return tuple(o.numpy() for o in component.forward_torch(tensors, fresh(case)))


def check_learner_component(
    component: Component,
    functions: dict[str, Callable],
    dtype: str = "float64",
    seed: int = 0,
    timeout: float | None = DEFAULT_TIMEOUT,
) -> LearnerResult:
    """Check ``component`` in ``dtype`` with the learner's ``functions`` (by public name) in
    place of the reference's, within ``timeout`` seconds."""
    learner = component.with_numpy_functions(functions)
    try:
        with time_limit(timeout), quiet():
            return LearnerCheck(learner, set(functions), dtype, seed).run()
    except CheckTimeout:
        return LearnerResult(
            key=component.key,
            dtype=dtype,
            status="timeout",
            message=f"still running after {timeout:g} s (--timeout): an endless loop?",
            notes=(f"still running after {timeout:g} s (--timeout): an endless loop?",),
            forward=None,
            autograd={},
            finite_differences=None,
            bounds=BOUNDS[dtype],
            findings=(),
            functions=tuple(functions),
        )


def check_implementation(
    module,
    names: list[str] | None = None,
    dtypes: str | tuple[str, ...] = DTYPES,
    seed: int = 0,
    timeout: float | None = DEFAULT_TIMEOUT,
) -> list[LearnerResult]:
    """Check every registered component a learner's module defines, in each dtype.

    Args:
        module: The learner's module, a path to its ``.py`` file or its module name.
        names: Only these components (``["affine", "conv[naive]"]``); all it defines when
            ``None``.
        dtypes: ``"float64"``, ``"float32"`` or both (the default).
        seed: Seed of the random cases, as for ``dualnet check``.
        timeout: Seconds each component may take in each dtype; ``None`` for no limit.

    Returns:
        One :class:`LearnerResult` per component and dtype, in registry order.

    Raises:
        HandinError: the module is missing, fails to import or defines none of the functions.
        ValueError: an unknown component name.
    """
    dtypes = (dtypes,) if isinstance(dtypes, str) else tuple(dtypes)
    label = module if isinstance(module, str) else None
    module = load_within(module, timeout)
    return [
        check_learner_component(component, functions, dtype, seed, timeout)
        for component, functions in handin.components_of(module, names, label)
        for dtype in dtypes
    ]


def load_within(target, timeout: float | None):
    """:func:`dualnet.learner.handin.load` with the time limit of one check.

    Raises:
        HandinError: as ``load`` does, and when importing takes longer than ``timeout``.
    """
    try:
        with time_limit(timeout):
            return handin.load(target)
    except CheckTimeout:
        raise handin.HandinError(f"{target}: importing it took longer than {timeout:g} s") from None
