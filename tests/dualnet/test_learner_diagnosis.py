"""The diagnosis of a wrong array, pattern by pattern, on arrays built by hand; and the
registry's entries rebuilt around other functions."""

from __future__ import annotations

import numpy as np
import pytest

from dualnet import crosscheck, registry
from dualnet.learner.diagnosis import Context, compare
from dualnet.learner.sections import section, slug

RNG = np.random.default_rng(7)
EXPECTED = RNG.uniform(0.5, 2.0, size=(4, 3)) * RNG.choice([-1.0, 1.0], size=(4, 3))
SIZES = Context(sizes=[("N", 4), ("C·H·W", 12)])


def diagnose(got, expected=EXPECTED, context=SIZES, dtype="float64"):
    return compare("dx", got, expected, dtype, crosscheck.BOUNDS[dtype].autograd, context)


def test_an_agreeing_array_has_no_diagnosis():
    result = diagnose(EXPECTED * (1 + 1e-13))
    assert result.agrees and result.diagnosis is None and result.error < 1e-12


@pytest.mark.parametrize(
    ("factor", "words"),
    [
        (-1.0, "the opposite sign"),
        (0.25, "N = 4 times too small: divided by the batch size"),
        (4.0, "N = 4 times too large: the division by the batch size is missing?"),
        (12.0, "C·H·W = 12 times too large"),
        (2.0, "twice too large"),
        (0.5, "half of what it should be"),
        (0.75, "off by the constant factor 3/4"),
        (-0.25, "the opposite sign and N = 4 times too small"),
    ],
)
def test_a_constant_factor_is_named(factor, words):
    for dtype in crosscheck.DTYPES:
        result = diagnose(factor * EXPECTED.astype(dtype), dtype=dtype)
        assert not result.agrees and result.diagnosis.startswith(words)


def test_a_scalar_gets_a_factor_only_when_it_is_a_named_size():
    assert diagnose(np.float64(8.0), np.float64(2.0)).diagnosis.startswith("N = 4 times")
    assert diagnose(np.float64(2.6), np.float64(2.0)).diagnosis is None


def test_the_wrong_shape_and_its_fix():
    assert diagnose(EXPECTED.T).diagnosis == (
        "wrong shape: expected (4, 3), got (3, 4); transposed: got.transpose(1, 0) is right"
    )
    assert diagnose(EXPECTED.reshape(12)).diagnosis.endswith("the values are right, reshape them")
    stacked = np.stack([EXPECTED, 2 * EXPECTED, -2 * EXPECTED])
    assert "its sum over axis 0 (the batch) is right" in diagnose(stacked).diagnosis
    assert diagnose(EXPECTED[:, :2]).error is None


def test_a_result_of_lower_precision_is_named():
    result = diagnose(EXPECTED.astype("float32"))
    assert result.diagnosis == "computed in float32, not float64: keep the dtype of the inputs"
    assert diagnose(EXPECTED.astype("float32"), dtype="float32").agrees


def test_a_square_array_transposed():
    square = RNG.standard_normal((3, 3))
    assert diagnose(square.T, square).diagnosis == "transposed (its last two axes swapped)"


def test_not_an_array_and_non_finite_values():
    assert diagnose(None).diagnosis == "is None; expected an array of shape (4, 3)"
    assert diagnose("dx").diagnosis.startswith("is a str, not an array")
    with_nan = EXPECTED.copy()
    with_nan[1, 2], with_nan[0, 0] = np.nan, np.inf
    result = diagnose(with_nan)
    assert result.error is None
    assert result.diagnosis.startswith("NaN in 1 and infinity in 1 of 12 entries")


def test_repeated_indices_are_named():
    x = np.array([[0, 2, 2], [3, 0, 1]])  # 0 and 2 occur twice
    expected = RNG.standard_normal((5, 3))
    got = expected.copy()
    got[[0, 2]] *= 0.5
    diagnosis = diagnose(got, expected, Context(inputs={"x": x})).diagnosis
    assert diagnosis.startswith("wrong in 6 of 15 entries: the rows 0, 2, whose indices occur")


def test_the_entries_of_the_labels_are_named():
    y = np.array([2, 0, 1, 2])
    got = EXPECTED.copy()
    got[np.arange(4), y] += 1
    diagnosis = diagnose(got, context=Context(inputs={"y": y})).diagnosis
    assert "exactly the entries of the correct classes, [n, y[n]]" in diagnosis


def test_masked_positions_are_named():
    mask = np.array([[True, True, False], [True, False, False]])
    expected = RNG.standard_normal((2, 3, 4)) * mask[..., None]
    got = expected + 0.1 * ~mask[..., None]
    diagnosis = diagnose(got, expected, Context(inputs={"mask": mask})).diagnosis
    assert "exactly the positions where mask is False" in diagnosis
    assert "exactly the entries whose gradient is 0" in diagnosis


def test_where_an_input_is_negative():
    x = EXPECTED
    got = np.where(x < 0, 5.0, EXPECTED)
    assert "exactly where x < 0" in diagnose(got, context=Context(inputs={"x": x})).diagnosis


def test_whole_slices_and_single_positions():
    got = EXPECTED.copy()
    got[:, 1] += 1
    assert (
        diagnose(got).diagnosis == "wrong in 4 of 12 entries: every entry of index 1 along axis 1"
    )
    got = EXPECTED.copy()
    got[2, 0] += 1
    assert diagnose(got).diagnosis == "wrong in 1 of 12 entries: for example at (2, 0)"


def test_one_examples_share_of_a_gradient_summed_over_the_batch():
    shares = [RNG.standard_normal((3, 2)) for _ in range(3)]
    context = Context(shares=lambda name: shares if name == "dw" else None)
    result = compare("dw", shares[2], sum(shares), "float64", 1e-9, context)
    assert result.diagnosis.startswith("holds only example 2's share of the N = 3 examples")


def test_every_entry_rebuilt_around_its_own_functions_checks_the_same():
    for key in ("content_loss", "style_loss", "dot_product_attention", "gradient_penalty"):
        entry = registry.COMPONENTS[key]
        rebuilt = entry.with_numpy_functions(dict(entry.numpy_functions))
        assert rebuilt.implementations == entry.implementations
        assert crosscheck.check_component(rebuilt) == crosscheck.check_component(entry)
    for entry in registry.COMPONENTS.values():
        assert entry.with_numpy_functions({}).key == entry.key


def test_an_entry_refuses_a_function_it_does_not_call():
    with pytest.raises(ValueError, match=r"affine cannot take relu_forward: it calls affine_"):
        registry.COMPONENTS["affine"].with_numpy_functions({"relu_forward": abs})


def test_sections_and_their_anchors():
    assert slug("Backward of one step, gate by gate") == "backward-of-one-step-gate-by-gate"
    lstm = registry.COMPONENTS["lstm"]
    assert section(lstm, backward=True).endswith(
        "#backpropagation-through-time-and-why-the-cell-state-helps"
    )
    gram = registry.COMPONENTS["gram_matrix[normalized]"]
    assert section(gram, backward=False) == "docs/derivations/style_losses.md#forward"
    word = registry.COMPONENTS["word_embedding"]
    assert section(word, backward=True) == "docs/derivations/temporal_layers.md#backward"
