"""The numerical-gradient helpers, on functions whose gradients are known in closed form."""

import numpy as np
import pytest

from reference_numpy.gradcheck import (
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    rel_error,
)

pytestmark = pytest.mark.gradcheck


def test_scalar_gradient_of_a_cubic_and_a_sine(rng):
    x = rng.standard_normal((3, 4))

    def f(v):
        return np.sum(v**3) + np.sum(np.sin(v))

    grad = eval_numerical_gradient(f, x)
    assert rel_error(grad, 3 * x**2 + np.cos(x)) < 1e-8


def test_scalar_gradient_of_a_quadratic_form(rng):
    a = rng.standard_normal((5, 5))
    x = rng.standard_normal(5)
    grad = eval_numerical_gradient(lambda v: v @ a @ v, x)
    assert rel_error(grad, (a + a.T) @ x) < 1e-8


def test_array_gradient_is_the_vector_jacobian_product(rng):
    a = rng.standard_normal((4, 3))
    x = rng.standard_normal((2, 4))
    df = rng.standard_normal((2, 3))
    grad = eval_numerical_gradient_array(lambda v: v @ a, x, df)
    assert rel_error(grad, df @ a.T) < 1e-8


def test_array_gradient_of_an_elementwise_exponential(rng):
    x = rng.standard_normal((3, 3))
    df = rng.standard_normal((3, 3))
    grad = eval_numerical_gradient_array(np.exp, x, df)
    assert rel_error(grad, df * np.exp(x)) < 1e-8


def test_x_is_restored_exactly_and_f_may_read_it_through_a_closure(rng):
    x = rng.standard_normal((3, 2))
    before = x.copy()
    grad = eval_numerical_gradient(lambda _: np.sum(x**2), x)
    assert np.array_equal(x, before)
    assert rel_error(grad, 2 * before) < 1e-8


def test_step_size_controls_the_truncation_error(rng):
    x = rng.standard_normal(4)
    exact = 3 * x**2

    def error_for(h):
        return np.max(
            np.abs(eval_numerical_gradient(lambda v: np.sum(v**3), x.copy(), h=h) - exact)
        )

    # centred differences of a cubic are off by exactly h^2 (the third derivative is 6)
    assert error_for(1e-2) == pytest.approx(1e-4, rel=1e-6)
    assert error_for(1e-5) < 1e-9


def test_verbose_prints_each_entry(rng, capsys):
    eval_numerical_gradient(lambda v: float(np.sum(v)), rng.standard_normal(3), verbose=True)
    assert len(capsys.readouterr().out.strip().splitlines()) == 3


def test_rel_error_by_hand():
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    # |1 - 3| / (1 + 3) = 0.5 is the larger of the two entries
    assert rel_error(np.array([1.0, 2.0]), np.array([3.0, 2.0])) == pytest.approx(0.5)
    # the 1e-8 floor keeps two tiny numbers from looking different
    assert rel_error(np.array([1e-12]), np.array([0.0])) == pytest.approx(1e-4)


def test_rel_error_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"x has shape \(2,\) but y has shape \(3,\)"):
        rel_error(np.zeros(2), np.zeros(3))
