"""Registry-driven cross-checks: every component x dtype x check, within the bounds of
docs/design.md.

Run one topic at a time with markers, e.g. ``pytest -m layers``.
"""

import dataclasses
import functools

import numpy as np
import pytest

from dualnet import crosscheck, registry
from reference_numpy import layers as R

CHECKS = ("forward", "autograd", "finite_differences")


def matrix():
    for component in registry.COMPONENTS.values():
        for dtype, bounds in crosscheck.BOUNDS.items():
            for check in CHECKS:
                if check == "finite_differences" and bounds.finite_differences is None:
                    continue
                yield pytest.param(
                    component.key,
                    dtype,
                    check,
                    id=f"{component.key}-{dtype}-{check}",
                    marks=getattr(pytest.mark, component.topic),
                )


@functools.cache
def result_for(key: str, dtype: str) -> crosscheck.CheckResult:
    return crosscheck.check_component(registry.COMPONENTS[key], dtype, seed=0)


@pytest.mark.parametrize(("key", "dtype", "check"), list(matrix()))
def test_numpy_agrees_with_torch_and_finite_differences(key, dtype, check):
    result = result_for(key, dtype)
    bound = getattr(result.bounds, check)
    if check == "forward":
        assert result.forward <= bound
    else:
        errors = getattr(result, check)
        assert set(errors) == set(
            registry.COMPONENTS[key].make_case(np.random.default_rng(0), np.dtype(dtype)).wrt
        )
        assert all(value <= bound for value in errors.values()), errors


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_agreement_holds_for_other_seeds(seed):
    results = crosscheck.check_all(registry.select(), seed=seed)
    assert [f"{r.key} {r.dtype}: {r.failures()}" for r in results if not r.agrees] == []


def broken_affine_backward(dout, cache):
    dx, dw, db = R.affine_backward(dout, cache)
    return dx, dw * (1 + 1e-6), db  # a tiny slip in one gradient


def test_a_wrong_gradient_is_caught_by_both_oracles():
    broken = registry.select(["affine"])[0]
    broken = dataclasses.replace(
        broken,
        backward_numpy=lambda douts, cache, case: dict(
            zip(case.wrt, broken_affine_backward(*douts, cache), strict=True)
        ),
    )
    result = crosscheck.check_component(broken, "float64")
    assert result.forward <= result.bounds.forward
    assert result.autograd["x"] <= 1e-9 and result.autograd["w"] > 1e-9
    assert result.finite_differences["w"] > 1e-7
    assert not result.agrees
    assert any(line.startswith("dw vs autograd") for line in result.failures())


def test_a_wrong_forward_is_caught():
    component = registry.select(["relu"])[0]

    def leaky_forward(case):
        (x,) = case.inputs.values()
        out, cache = R.relu_forward(x)
        return (out + 1e-6 * x,), cache

    result = crosscheck.check_component(dataclasses.replace(component, forward_numpy=leaky_forward))
    assert result.forward > 1e-9
    assert not result.agrees


def test_normwise_error_ignores_cancellation_but_not_real_differences():
    big = np.array([1.0, 1e-7])
    rounded = np.array(
        [1.0, 1.1e-7]
    )  # the small entry is off by 10 %: pure rounding noise at scale 1
    assert crosscheck.rel_error(big, rounded) > 0.04
    assert crosscheck.normwise_error(big, rounded) == pytest.approx(1e-8 / 2, rel=1e-6)
    assert crosscheck.normwise_error(np.array([1.0, 2.0]), np.array([1.0, 2.2])) == pytest.approx(
        0.2 / 4.2
    )


def test_unknown_dtype_is_rejected():
    with pytest.raises(ValueError, match="dtype must be one of float64, float32, got 'float16'"):
        crosscheck.check_component(registry.select(["relu"])[0], "float16")
