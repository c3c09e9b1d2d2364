"""The PyTorch style-transfer losses against independent computations, and their errors.

Agreement with the NumPy reference is tested by ``tests/dualnet/test_crosscheck.py``.
"""

import pytest
import torch

from torch_impl.style import content_loss, gram_matrix, style_loss, tv_loss

pytestmark = pytest.mark.style


def test_content_loss_is_the_weighted_squared_distance():
    current = torch.tensor([1.0, 2.0, 3.0, 4.0]).reshape(1, 1, 2, 2)
    original = torch.tensor([1.0, 0.0, 4.0, 2.0]).reshape(1, 1, 2, 2)
    torch.testing.assert_close(content_loss(0.5, current, original), torch.tensor(4.5))
    # the same as F.mse_loss with reduction 'sum'
    torch.testing.assert_close(
        content_loss(0.5, current, original),
        0.5 * torch.nn.functional.mse_loss(current, original, reduction="sum"),
    )


def test_gram_matrix_against_einsum():
    torch.manual_seed(0)
    features = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    expected = torch.einsum("nchw,ndhw->ncd", features, features)
    torch.testing.assert_close(gram_matrix(features, normalize=False), expected)
    torch.testing.assert_close(gram_matrix(features), expected / (3 * 4 * 5))


def test_style_loss_against_a_loop_over_layers():
    torch.manual_seed(1)
    feats = [torch.randn(1, c, 3, 3, dtype=torch.float64) for c in (2, 3, 4)]
    targets = [torch.randn(1, 4, 4, dtype=torch.float64), torch.randn(1, 2, 2, dtype=torch.float64)]
    expected = 0.0
    for idx, target, weight in zip([2, 0], targets, [0.3, 2.0], strict=True):
        f = feats[idx].reshape(feats[idx].shape[1], -1)
        gram = f @ f.T / f.numel()
        expected += weight * ((gram - target[0]) ** 2).sum()
    torch.testing.assert_close(style_loss(feats, [2, 0], targets, [0.3, 2.0]), expected)


def test_style_loss_rejects_bad_arguments():
    feats = [torch.zeros(1, 2, 3, 3)]
    with pytest.raises(ValueError, match=r"style_loss: style_layers holds a layer twice"):
        style_loss(feats * 2, [0, 0], [torch.zeros(1, 2, 2)] * 2, [1.0, 1.0])
    with pytest.raises(
        ValueError, match=r"style_loss: style_targets\[0\] has shape \(2, 2\), expected \(1, 2, 2\)"
    ):
        style_loss(feats, [0], [torch.zeros(2, 2)], [1.0])  # would broadcast over the batch
    with pytest.raises(ValueError, match=r"style_loss: style_layers holds 1, expected indices"):
        style_loss(feats, [1], [torch.zeros(1, 2, 2)], [1.0])


def test_tv_loss_against_a_loop_over_pairs():
    torch.manual_seed(2)
    img = torch.randn(1, 3, 4, 5, dtype=torch.float64)
    expected = 0.0
    for c in range(3):
        for i in range(4):
            for j in range(5):
                if i + 1 < 4:
                    expected += (img[0, c, i + 1, j] - img[0, c, i, j]) ** 2
                if j + 1 < 5:
                    expected += (img[0, c, i, j + 1] - img[0, c, i, j]) ** 2
    torch.testing.assert_close(tv_loss(img, 0.25), 0.25 * expected)


def test_tv_loss_rejects_bad_input():
    with pytest.raises(ValueError, match=r"tv_loss: img has shape \(3, 4, 4\), expected 4"):
        tv_loss(torch.zeros(3, 4, 4), 1.0)
    with pytest.raises(ValueError, match="tv_loss: tv_weight must be a real number"):
        tv_loss(torch.zeros(1, 3, 4, 4), torch.tensor(1.0))


def test_content_and_gram_reject_bad_input():
    with pytest.raises(ValueError, match=r"content_loss: content_original has shape \(2, 2\)"):
        content_loss(1.0, torch.zeros(1, 1, 2, 2), torch.zeros(2, 2))
    with pytest.raises(ValueError, match="gram_matrix: normalize must be True or False"):
        gram_matrix(torch.zeros(1, 2, 2, 2), normalize=1)
