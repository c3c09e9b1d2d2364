"""The NumPy losses against hand calculations, and their errors on bad input."""

import numpy as np
import pytest

from reference_numpy.losses import softmax_loss, svm_loss

pytestmark = pytest.mark.losses


def test_softmax_loss_of_equal_scores_is_log_c():
    x = np.zeros((3, 5))
    y = np.array([0, 2, 4])
    loss, dx = softmax_loss(x, y)
    assert loss == pytest.approx(np.log(5))
    # every probability is 1/5; the true class loses 1; everything is divided by N = 3
    expected = np.full((3, 5), 0.2)
    expected[[0, 1, 2], y] -= 1
    np.testing.assert_allclose(dx, expected / 3)


def test_softmax_loss_by_hand():
    x = np.array([[np.log(1.0), np.log(3.0)]])  # probabilities 1/4 and 3/4
    loss, dx = softmax_loss(x, np.array([1]))
    assert loss == pytest.approx(-np.log(0.75))
    np.testing.assert_allclose(dx, [[0.25, -0.25]])


def test_softmax_loss_is_stable_for_huge_scores():
    x = np.array([[1000.0, 0.0], [0.0, 1000.0]])
    loss, dx = softmax_loss(x, np.array([1, 1]))
    assert loss == pytest.approx(500.0)  # (1000 + 0) / 2
    assert np.all(np.isfinite(dx))


def test_svm_loss_by_hand():
    x = np.array([[3.0, 1.0, 2.5], [0.0, 2.0, 0.0]])
    y = np.array([0, 1])
    # example 0: margins 1 - 3 + 1 = -1 -> 0 and 2.5 - 3 + 1 = 0.5; example 1: -1, -1 -> 0
    loss, dx = svm_loss(x, y)
    assert loss == pytest.approx(0.5 / 2)
    np.testing.assert_allclose(dx, [[-0.5, 0.0, 0.5], [0.0, 0.0, 0.0]])


def test_svm_loss_counts_every_violated_margin():
    x = np.zeros((1, 4))  # every wrong class violates the margin by exactly 1
    loss, dx = svm_loss(x, np.array([2]))
    assert loss == pytest.approx(3.0)
    np.testing.assert_allclose(dx, [[1.0, 1.0, -3.0, 1.0]])


@pytest.mark.parametrize("loss_fn", [softmax_loss, svm_loss])
class TestBadInput:
    def test_labels_out_of_range(self, loss_fn):
        name = loss_fn.__name__
        with pytest.raises(
            ValueError, match=rf"{name}: y holds labels from 0 to 3, expected labels in \[0, 3\)"
        ):
            loss_fn(np.zeros((2, 3)), np.array([0, 3]))
        with pytest.raises(ValueError, match=r"labels from -1 to 0"):
            loss_fn(np.zeros((2, 3)), np.array([-1, 0]))

    def test_labels_of_the_wrong_length_or_type(self, loss_fn):
        with pytest.raises(
            ValueError, match=r"y has shape \(3,\), expected \(2,\) \(one label per row of x\)"
        ):
            loss_fn(np.zeros((2, 3)), np.array([0, 1, 2]))
        with pytest.raises(ValueError, match=r"y has shape \(2, 1\), expected \(2,\)"):
            loss_fn(np.zeros((2, 3)), np.array([[0], [1]]))
        with pytest.raises(ValueError, match="y must hold integer class labels, got dtype float64"):
            loss_fn(np.zeros((2, 3)), np.array([0.0, 1.0]))

    def test_scores_of_the_wrong_rank(self, loss_fn):
        with pytest.raises(
            ValueError, match=r"x has shape \(2, 3, 1\), expected 2 dimensions \(N, C\)"
        ):
            loss_fn(np.zeros((2, 3, 1)), np.array([0, 1]))

    def test_non_finite_scores(self, loss_fn):
        x = np.zeros((2, 3))
        x[1, 2] = np.nan
        with pytest.raises(ValueError, match=r"x holds 1 non-finite value\(s\)"):
            loss_fn(x, np.array([0, 1]))
