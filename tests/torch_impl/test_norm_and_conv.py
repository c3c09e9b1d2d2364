"""The PyTorch normalization and convolution twins: running statistics, errors, and the
documented difference from ``nn.BatchNorm1d``."""

import numpy as np
import pytest
import torch

import reference_numpy.layers as L
from torch_impl.conv import conv, max_pool, spatial_batchnorm
from torch_impl.layers import batchnorm, layernorm

pytestmark = pytest.mark.conv


def test_running_statistics_follow_the_numpy_reference():
    rng = np.random.default_rng(0)
    numpy_param = {"mode": "train", "momentum": 0.8}
    torch_param = {"mode": "train", "momentum": 0.8}
    gamma, beta = np.ones(3), np.zeros(3)
    for _ in range(4):
        x = rng.standard_normal((6, 3)) * 2 + 1
        L.batchnorm_forward(x, gamma, beta, numpy_param)
        batchnorm(torch.from_numpy(x), torch.from_numpy(gamma), torch.from_numpy(beta), torch_param)
    for key in ("running_mean", "running_var"):
        np.testing.assert_allclose(torch_param[key].numpy(), numpy_param[key], rtol=1e-12)


def test_nn_batchnorm1d_differs_only_by_the_documented_conventions():
    torch.manual_seed(0)
    x = torch.randn(8, 3, dtype=torch.float64)
    module = torch.nn.BatchNorm1d(3, momentum=0.1).double()  # weight of the new value
    module(x)
    param = {"mode": "train", "momentum": 0.9}  # weight of the old value
    batchnorm(x, torch.ones(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64), param)
    torch.testing.assert_close(param["running_mean"], module.running_mean)
    # PyTorch stores the unbiased variance, N / (N - 1) times the biased one
    biased = x.var(dim=0, unbiased=False)
    torch.testing.assert_close(module.running_var, 0.9 + 0.1 * biased * 8 / 7)
    torch.testing.assert_close(param["running_var"], 0.9 + 0.1 * biased)


def test_spatial_batchnorm_statistics_are_per_channel():
    x = torch.randn(4, 2, 3, 3, dtype=torch.float64) * 3 + 2
    param = {"mode": "train", "momentum": 0.0}
    out = spatial_batchnorm(
        x, torch.ones(2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64), param
    )
    torch.testing.assert_close(param["running_mean"], x.mean(dim=(0, 2, 3)))
    torch.testing.assert_close(out.mean(dim=(0, 2, 3)), torch.zeros(2, dtype=torch.float64))


def test_errors_match_the_numpy_reference():
    x = torch.zeros(2, 3, 5, 5)
    with pytest.raises(ValueError, match=r"conv: conv_param\['stride'\] must be at least 1, got 0"):
        conv(x, torch.zeros(4, 3, 3, 3), torch.zeros(4), {"stride": 0, "pad": 1})
    with pytest.raises(ValueError, match=r"conv: conv_param\['pad'\] must be at least 0, got -2"):
        conv(x, torch.zeros(4, 3, 3, 3), torch.zeros(4), {"stride": 1, "pad": -2})
    with pytest.raises(
        ValueError, match=r"whose 2 input channels do not match the 3 channels of x"
    ):
        conv(x, torch.zeros(4, 2, 3, 3), torch.zeros(4), {"stride": 1, "pad": 1})
    with pytest.raises(
        ValueError, match=r"the window is 9 rows but the padded input is only 7 rows"
    ):
        conv(x, torch.zeros(4, 3, 9, 3), torch.zeros(4), {"stride": 1, "pad": 1})
    with pytest.raises(
        ValueError, match=r"max_pool: the window is 6 columns but the padded input is only 5"
    ):
        max_pool(x, {"pool_height": 2, "pool_width": 6, "stride": 2})
    with pytest.raises(ValueError, match=r"batchnorm: gamma has shape \(2,\), expected \(3,\)"):
        batchnorm(torch.zeros(4, 3), torch.ones(2), torch.zeros(3), {"mode": "train"})
    with pytest.raises(ValueError, match=r"batchnorm: bn_param needs 'mode'"):
        batchnorm(torch.zeros(4, 3), torch.ones(3), torch.zeros(3), {})
    with pytest.raises(ValueError, match=r"layernorm: ln_param\['eps'\] must be positive"):
        layernorm(torch.zeros(4, 3), torch.ones(3), torch.zeros(3), {"eps": -1.0})
