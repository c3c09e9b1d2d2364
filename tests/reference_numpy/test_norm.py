"""Batch, spatial batch and layer normalization in NumPy: statistics, running averages, the two
backward formulas, and bad input."""

import numpy as np
import pytest

import reference_numpy.conv as C
import reference_numpy.layers as L

pytestmark = pytest.mark.layers


def test_batchnorm_train_normalizes_each_feature_then_scales_and_shifts():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 3)) * [1.0, 5.0, 0.1] + [10.0, -3.0, 0.0]
    out, _ = L.batchnorm_forward(x, np.ones(3), np.zeros(3), {"mode": "train"})
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-12)
    # eps = 1e-5 in the denominator shrinks the standard deviation a little below 1
    shrink = np.sqrt(x.var(axis=0) / (x.var(axis=0) + 1e-5))
    np.testing.assert_allclose(out.std(axis=0), shrink, rtol=1e-12)
    out, _ = L.batchnorm_forward(
        x, np.array([2.0, 1.0, 3.0]), np.array([1.0, 0.0, -1.0]), {"mode": "train"}
    )
    np.testing.assert_allclose(out.mean(axis=0), [1.0, 0.0, -1.0], atol=1e-12)
    np.testing.assert_allclose(out.std(axis=0), [2.0, 1.0, 3.0] * shrink, rtol=1e-12)


def test_batchnorm_running_statistics_by_hand():
    x = np.array([[1.0, 2.0], [3.0, 6.0]])  # mean (2, 4), biased variance (1, 4)
    bn_param = {"mode": "train", "momentum": 0.75}
    L.batchnorm_forward(x, np.ones(2), np.zeros(2), bn_param)
    # starting from mean 0 and variance 1: 0.75 * old + 0.25 * batch
    np.testing.assert_allclose(bn_param["running_mean"], [0.5, 1.0])
    np.testing.assert_allclose(bn_param["running_var"], [1.0, 1.75])
    L.batchnorm_forward(x, np.ones(2), np.zeros(2), bn_param)
    np.testing.assert_allclose(bn_param["running_mean"], [0.875, 1.75])


def test_batchnorm_test_mode_uses_the_running_statistics_and_changes_nothing():
    bn_param = {
        "mode": "test",
        "eps": 0.0 + 1e-12,
        "running_mean": np.array([1.0]),
        "running_var": np.array([4.0]),
    }
    out, _ = L.batchnorm_forward(
        np.array([[3.0], [5.0]]), np.array([1.0]), np.array([0.0]), bn_param
    )
    np.testing.assert_allclose(out, [[1.0], [2.0]])
    np.testing.assert_array_equal(bn_param["running_mean"], [1.0])


def test_the_two_batchnorm_backward_passes_agree():
    rng = np.random.default_rng(1)
    x, gamma, beta = rng.standard_normal((6, 4)), rng.standard_normal(4), rng.standard_normal(4)
    for mode in ("train", "test"):
        bn_param = {"mode": mode, "running_var": rng.uniform(0.5, 2, 4)}
        _, cache = L.batchnorm_forward(x, gamma, beta, bn_param)
        dout = rng.standard_normal(x.shape)
        for full, compact in zip(
            L.batchnorm_backward(dout, cache), L.batchnorm_backward_alt(dout, cache), strict=True
        ):
            np.testing.assert_allclose(compact, full, rtol=1e-10, atol=1e-12)


def test_batchnorm_train_gradient_sums_to_zero_over_the_batch():
    # shifting every example by the same amount changes nothing after normalization
    rng = np.random.default_rng(2)
    _, cache = L.batchnorm_forward(
        rng.standard_normal((5, 3)), np.ones(3), np.zeros(3), {"mode": "train"}
    )
    dx, _, _ = L.batchnorm_backward(rng.standard_normal((5, 3)), cache)
    np.testing.assert_allclose(dx.sum(axis=0), 0, atol=1e-12)


def test_layernorm_normalizes_each_example():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 50)) * 3 + 7
    out, cache = L.layernorm_forward(x, np.ones(50), np.zeros(50), {})
    np.testing.assert_allclose(out.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=1), 1, rtol=1e-4)
    dx, _, _ = L.layernorm_backward(rng.standard_normal(x.shape), cache)
    np.testing.assert_allclose(dx.sum(axis=1), 0, atol=1e-12)


def test_spatial_batchnorm_is_batchnorm_over_n_h_w():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 4, 5))
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    spatial_param, flat_param = {"mode": "train"}, {"mode": "train"}
    out, _ = C.spatial_batchnorm_forward(x, gamma, beta, spatial_param)
    flat, _ = L.batchnorm_forward(x.transpose(0, 2, 3, 1).reshape(-1, 3), gamma, beta, flat_param)
    np.testing.assert_allclose(out, flat.reshape(2, 4, 5, 3).transpose(0, 3, 1, 2))
    np.testing.assert_allclose(spatial_param["running_mean"], flat_param["running_mean"])
    np.testing.assert_allclose(out[:, 1].mean(), beta[1], atol=1e-12)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: L.batchnorm_forward(
                np.zeros((2, 3)), np.ones(2), np.zeros(3), {"mode": "train"}
            ),
            r"batchnorm_forward: gamma has shape \(2,\), expected \(3,\)",
        ),
        (
            lambda: L.batchnorm_forward(np.zeros((2, 3)), np.ones(3), np.zeros(3), {}),
            r"bn_param needs 'mode'",
        ),
        (
            lambda: L.batchnorm_forward(
                np.zeros((2, 3)), np.ones(3), np.zeros(3), {"mode": "eval"}
            ),
            r"bn_param\['mode'\] must be one of 'train', 'test', got 'eval'",
        ),
        (
            lambda: L.batchnorm_forward(
                np.zeros((2, 3)), np.ones(3), np.zeros(3), {"mode": "train", "eps": 0}
            ),
            r"bn_param\['eps'\] must be positive, got 0",
        ),
        (
            lambda: L.batchnorm_forward(
                np.zeros((2, 3)),
                np.ones(3),
                np.zeros(3),
                {"mode": "test", "running_mean": np.zeros(2)},
            ),
            r"bn_param\['running_mean'\] has shape \(2,\), expected \(3,\)",
        ),
        (
            lambda: L.batchnorm_forward(
                np.zeros((2, 3, 1)), np.ones(3), np.zeros(3), {"mode": "train"}
            ),
            r"x has shape \(2, 3, 1\), expected 2 dimensions \(N, D\)",
        ),
        (
            lambda: L.layernorm_forward(np.zeros((2, 3)), np.ones(3), np.zeros(4), {}),
            r"layernorm_forward: beta has shape \(4,\), expected \(3,\)",
        ),
        (
            lambda: C.spatial_batchnorm_forward(
                np.zeros((2, 3, 4)), np.ones(3), np.zeros(3), {"mode": "train"}
            ),
            r"spatial_batchnorm_forward: x has shape \(2, 3, 4\), expected 4 dimensions",
        ),
        (
            lambda: C.spatial_batchnorm_forward(
                np.zeros((2, 3, 4, 4)), np.ones(4), np.zeros(4), {"mode": "train"}
            ),
            r"gamma has shape \(4,\), expected \(3,\)",
        ),
    ],
)
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize(
    ("forward", "x", "name"),
    [
        (L.batchnorm_forward, np.zeros((0, 3)), "batchnorm_forward"),
        (C.spatial_batchnorm_forward, np.zeros((0, 3, 2, 2)), "spatial_batchnorm_forward"),
    ],
)
def test_an_empty_training_batch_is_refused_and_the_running_statistics_stay(forward, x, name):
    mean, var = np.array([0.5, -1.0, 2.0]), np.array([1.5, 0.25, 4.0])
    bn_param = {"mode": "train", "running_mean": mean.copy(), "running_var": var.copy()}
    with pytest.raises(ValueError, match=rf"{name}: x has shape \(0, 3.*N >= 1"):
        forward(x, np.ones(3), np.zeros(3), bn_param)
    np.testing.assert_array_equal(bn_param["running_mean"], mean)
    np.testing.assert_array_equal(bn_param["running_var"], var)


def test_spatial_batchnorm_names_itself_and_the_users_shape_for_a_wrong_gamma():
    x = np.zeros((2, 3, 8, 8))
    with pytest.raises(
        ValueError,
        match=r"^spatial_batchnorm_forward: gamma has shape \(4,\), expected \(3,\) "
        r"\(one scale per channel of x \(2, 3, 8, 8\)\)",
    ):
        C.spatial_batchnorm_forward(x, np.ones(4), np.zeros(3), {"mode": "train"})
    with pytest.raises(ValueError, match=r"^spatial_batchnorm_forward: bn_param\['running_var'\]"):
        C.spatial_batchnorm_forward(
            x, np.ones(3), np.zeros(3), {"mode": "test", "running_var": np.ones(128)}
        )
