"""Feature extraction in one pass and the whole objective of style transfer in PyTorch.
Agreement with the NumPy reference is tested by ``tests/dualnet/test_crosscheck.py``."""

import pytest
import torch
from torch import nn

from torch_impl.style import tv_loss
from torch_impl.style_transfer import extract_features, style_transfer_loss

pytestmark = pytest.mark.style


def test_extract_features_keeps_every_activation_up_to_the_last_layer():
    torch.manual_seed(0)
    layers = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 5, 1))
    x = torch.randn(2, 3, 8, 8)
    feats = extract_features(x, layers, 2)
    assert [tuple(f.shape) for f in feats] == [(2, 4, 6, 6), (2, 4, 6, 6), (2, 4, 3, 3)]
    torch.testing.assert_close(feats[-1], layers[:3](x))
    with pytest.raises(ValueError, match="last is 4, expected an index in \\[0, 4\\)"):
        extract_features(x, layers, 4)


def test_the_objective_is_zero_at_its_targets_except_for_tv():
    torch.manual_seed(0)
    feats = [torch.randn(1, 3, 4, 4), torch.randn(1, 2, 2, 2)]
    img = torch.randn(1, 3, 5, 5)
    gram = feats[0].reshape(3, 16) @ feats[0].reshape(3, 16).T / 48
    content, style, tv = style_transfer_loss(
        feats, img, 1, feats[1], 2.0, [0], [gram[None]], [5.0], 0.5
    )
    assert content == 0 and style.abs() < 1e-10
    torch.testing.assert_close(tv, tv_loss(img, 0.5))
    with pytest.raises(ValueError, match="content_layer is 2, expected an index in \\[0, 2\\)"):
        style_transfer_loss(feats, img, 2, feats[1], 2.0, [0], [gram[None]], [5.0], 0.5)
