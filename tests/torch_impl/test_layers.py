"""The PyTorch layers: their errors on bad input, and dropout against ``F.dropout``.

Agreement with the NumPy reference is tested by ``tests/dualnet/test_crosscheck.py``.
"""

import pytest
import torch
import torch.nn.functional as F

from torch_impl.layers import affine, dropout, leaky_relu, relu

pytestmark = pytest.mark.layers


def test_affine_flattens_x_like_the_classic_layer():
    x = torch.arange(12.0).reshape(2, 3, 2)
    w = torch.ones(6, 1)
    torch.testing.assert_close(affine(x, w, torch.zeros(1)), torch.tensor([[15.0], [51.0]]))


def test_affine_rejects_a_bias_torch_would_broadcast():
    x, w = torch.zeros(2, 3), torch.zeros(3, 4)
    with pytest.raises(ValueError, match=r"affine: b has shape \(1,\), expected \(4,\)"):
        affine(x, w, torch.zeros(1))


def test_affine_rejects_weights_that_do_not_fit_x():
    with pytest.raises(ValueError, match=r"affine: w has shape \(5, 4\), expected \(6, 4\)"):
        affine(torch.zeros(2, 3, 2), torch.zeros(5, 4), torch.zeros(4))


def test_activations_are_torch_own_kernels():
    x = torch.tensor([-2.0, 0.0, 3.0])
    torch.testing.assert_close(relu(x), torch.tensor([0.0, 0.0, 3.0]))
    torch.testing.assert_close(leaky_relu(x, 0.2), torch.tensor([-0.4, 0.0, 3.0]))


def test_leaky_relu_rejects_a_bad_slope():
    with pytest.raises(ValueError, match="leaky_relu: alpha must be a real number"):
        leaky_relu(torch.zeros(2), "0.1")


def test_dropout_given_the_mask_of_f_dropout_reproduces_it():
    torch.manual_seed(0)
    x = torch.randn(50, 40, dtype=torch.float64)
    expected = F.dropout(x, p=0.4, training=True)
    mask = expected != 0
    torch.testing.assert_close(dropout(x, {"p": 0.4, "mode": "train"}, mask=mask), expected)


def test_seeded_dropout_is_reproducible_and_unbiased():
    x = torch.ones(300, 300)
    param = {"p": 0.25, "mode": "train", "seed": 5}
    out = dropout(x, param)
    torch.testing.assert_close(out, dropout(x, param))
    assert abs(float((out == 0).float().mean()) - 0.25) < 0.005
    assert abs(float(out.mean()) - 1.0) < 0.01


def test_dropout_test_mode_is_the_identity():
    x = torch.randn(3, 4)
    torch.testing.assert_close(dropout(x, {"p": 0.9, "mode": "test"}), x)


def test_dropout_rejects_bad_parameters_and_masks():
    with pytest.raises(ValueError, match=r"dropout_param\['p'\] must lie in \[0, 1\], got 2"):
        dropout(torch.ones(3), {"p": 2, "mode": "train"})
    with pytest.raises(ValueError, match=r"dropout_param\['mode'\] must be one of"):
        dropout(torch.ones(3), {"p": 0.5, "mode": "eval"})
    with pytest.raises(ValueError, match=r"dropout: mask has shape \(2,\), expected \(3,\)"):
        dropout(torch.ones(3), {"p": 0.5}, mask=torch.ones(2, dtype=torch.bool))
