"""Measuring generated digits: the Fréchet distance against hand calculations on Gaussians,
mode coverage on hand-made probabilities, and the cached digit classifier."""

import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dualnet.apps.gan import data, evaluate, scorer
from dualnet.apps.settings import ConfigError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gan_helpers import shared_cache  # noqa: E402

pytestmark = pytest.mark.gan


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return shared_cache(tmp_path_factory)


@pytest.fixture(scope="module")
def digits(cache) -> data.Digits:
    return data.load_digits("embedded", cache)


@pytest.fixture(scope="module")
def trained_scorer(digits, cache) -> scorer.Scorer:
    return scorer.load_scorer(digits, cache)


# --------------------------------------------------------------------------------------------
# Fréchet distance
# --------------------------------------------------------------------------------------------


def test_frechet_distance_of_one_dimensional_gaussians():
    # d^2 = (m1 - m2)^2 + (s1 - s2)^2 in one dimension: (1 - 3)^2 + (2 - 3)^2 = 5
    one = evaluate.frechet_from_moments(np.array([1.0]), np.array([[4.0]]), np.array([3.0]),
                                        np.array([[9.0]]))  # fmt: skip
    assert one == pytest.approx(5.0, abs=1e-12)


def test_frechet_distance_of_gaussians_with_diagonal_covariances():
    # |mu1 - mu2|^2 = 1 + 0 + 4; sum (s1 - s2)^2 = (1 - 2)^2 + (2 - 2)^2 + (3 - 1)^2 = 5
    mean_1, mean_2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    cov_1, cov_2 = np.diag([1.0, 4.0, 9.0]), np.diag([4.0, 4.0, 1.0])
    assert evaluate.frechet_from_moments(mean_1, cov_1, mean_2, cov_2) == pytest.approx(10.0)
    assert evaluate.frechet_from_moments(mean_1, cov_1, mean_1, cov_1) == pytest.approx(0, abs=1e-9)


# Two 2x2 covariances that do not commute. The eigenvalues l1, l2 of S1 S2 give
# tr (S1 S2)^(1/2) = sqrt(l1) + sqrt(l2) = sqrt(tr(S1 S2) + 2 sqrt(det S1 det S2)):
# tr(S1 S2) = 2*1 + 2*3 = 8, det S1 = 3, det S2 = 3, so the trace is sqrt(8 + 2*3) = sqrt(14).
S1 = np.array([[2.0, 1.0], [1.0, 2.0]])
S2 = np.array([[1.0, 0.0], [0.0, 3.0]])
NON_COMMUTING = 4 + 4 - 2 * math.sqrt(14)


def test_frechet_distance_of_gaussians_whose_covariances_do_not_commute():
    zero = np.zeros(2)
    assert not np.allclose(S1 @ S2, S2 @ S1)
    assert evaluate.frechet_from_moments(zero, S1, zero, S2) == pytest.approx(NON_COMMUTING)
    assert evaluate.frechet_from_moments(zero, S2, zero, S1) == pytest.approx(NON_COMMUTING)
    shifted = evaluate.frechet_from_moments(zero, S1, np.array([3.0, -4.0]), S2)
    assert shifted == pytest.approx(25 + NON_COMMUTING)


def test_frechet_distance_of_samples_approaches_that_of_their_gaussians():
    rng = np.random.default_rng(0)
    a = rng.multivariate_normal([0.0, 0.0], S1, size=200_000)
    b = rng.multivariate_normal([1.0, 0.0], S2, size=200_000)
    assert evaluate.frechet_distance(a, b) == pytest.approx(1 + NON_COMMUTING, rel=0.02)
    # two samples of one Gaussian are close, not equal
    c = rng.multivariate_normal([0.0, 0.0], S1, size=200_000)
    assert 0 < evaluate.frechet_distance(a, c) < 1e-3


def test_frechet_distance_refuses_sets_it_cannot_compare():
    with pytest.raises(ValueError, match=r"got shapes \(5, 3\) and \(5, 2\)"):
        evaluate.frechet_distance(np.ones((5, 3)), np.ones((5, 2)))
    with pytest.raises(ValueError, match="at least 2 feature vectors"):
        evaluate.frechet_distance(np.ones((1, 3)), np.ones((5, 3)))


# --------------------------------------------------------------------------------------------
# Mode coverage
# --------------------------------------------------------------------------------------------


def probabilities_of(top: list[tuple[int, float]], classes: int = 10) -> np.ndarray:
    """One row per ``(class, probability)``: that class gets the probability, the others
    share the rest equally."""
    rows = []
    for label, p in top:
        row = np.full(classes, (1 - p) / (classes - 1))
        row[label] = p
        rows.append(row)
    return np.array(rows)


def test_mode_coverage_counts_confident_samples_per_class():
    # three confident 0s, one confident 1, a 2 at exactly 0.9 (not above it), five unsure 3s
    rows = [(0, 0.95)] * 3 + [(1, 0.91), (2, 0.9)] + [(3, 0.5)] * 5
    result = evaluate.mode_coverage(probabilities_of(rows))
    assert result == {
        "mode_coverage": 2,
        "confident_fraction": 0.4,
        "class_histogram": [3, 1, 0, 0, 0, 0, 0, 0, 0, 0],
    }


def test_a_class_needs_one_percent_of_the_confident_samples():
    # 199 confident 7s and one confident 4: 1 % of 200 is 2 samples, so the 4 does not count
    rows = [(7, 0.99)] * 199 + [(4, 0.99)]
    result = evaluate.mode_coverage(probabilities_of(rows))
    assert result["mode_coverage"] == 1 and result["class_histogram"][4] == 1
    rows = [(7, 0.99)] * 198 + [(4, 0.99)] * 2
    assert evaluate.mode_coverage(probabilities_of(rows))["mode_coverage"] == 2
    assert evaluate.mode_coverage(probabilities_of([(5, 0.3)] * 4))["mode_coverage"] == 0


# --------------------------------------------------------------------------------------------
# The digit classifier and the real reference sets
# --------------------------------------------------------------------------------------------


def test_the_digit_classifier_reads_the_test_digits(trained_scorer, digits):
    assert trained_scorer.test_acc >= 0.93  # measured 0.967 on the 1,000 embedded test digits
    features, probabilities = trained_scorer(digits.test[0][:300])
    assert features.shape == (300, scorer.FEATURES) and probabilities.shape == (300, 10)
    assert torch.allclose(probabilities.sum(dim=1), torch.ones(300, dtype=torch.float64))
    accuracy = (probabilities.argmax(dim=1) == digits.test[1][:300]).double().mean()
    assert accuracy >= 0.9


def test_the_classifier_is_cached_and_retrained_only_for_other_digits(
    trained_scorer, digits, cache, monkeypatch
):
    def no_training(*args, **kwargs):
        raise AssertionError("the cached classifier should have been used")

    monkeypatch.setattr(scorer, "train_scorer", no_training)
    again = scorer.load_scorer(digits, cache)
    images = digits.test[0][:50]
    assert torch.equal(again(images)[0], trained_scorer(images)[0])
    assert again.test_acc == trained_scorer.test_acc

    other = data.Digits("embedded", train=(digits.train[0][:-1], digits.train[1][:-1]),
                        test=digits.test)  # fmt: skip
    assert scorer.fingerprint(other) != scorer.fingerprint(digits)
    with pytest.raises(AssertionError, match="cached classifier"):
        scorer.load_scorer(other, cache)


def test_reference_sets_are_disjoint_and_bounded_by_the_data(digits):
    first, second = evaluate.reference_sets(digits, 2500)
    assert first.shape == second.shape == (2500, 28, 28)
    pool = digits.all_images().reshape(5000, -1)
    # no image is in both: together they are the 5,000 digits, each once
    together = torch.cat([first, second]).reshape(5000, -1)
    assert torch.equal(torch.unique(together, dim=0), torch.unique(pool, dim=0))
    with pytest.raises(ConfigError, match="n_images 2501 needs two disjoint sets .* at most 2500"):
        evaluate.reference_sets(digits, 2501)
