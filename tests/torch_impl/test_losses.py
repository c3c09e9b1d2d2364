"""The PyTorch losses: explicit formulas written out here, and their errors on bad input."""

import pytest
import torch

from torch_impl.losses import softmax_loss, svm_loss

pytestmark = pytest.mark.losses


def test_softmax_loss_is_mean_negative_log_probability():
    x = torch.tensor([[0.0, 1.0, 2.0], [1.0, 1.0, 1.0]], dtype=torch.float64)
    y = torch.tensor([2, 0])
    p = torch.exp(x) / torch.exp(x).sum(dim=1, keepdim=True)
    expected = -(torch.log(p[0, 2]) + torch.log(p[1, 0])) / 2
    torch.testing.assert_close(softmax_loss(x, y), expected)


def test_svm_loss_undoes_multi_margin_loss_division_by_c():
    x = torch.tensor([[3.0, 1.0, 2.5], [0.0, 2.0, 0.0]], dtype=torch.float64)
    y = torch.tensor([0, 1])
    # only one margin is violated: 2.5 - 3 + 1 = 0.5, averaged over N = 2
    torch.testing.assert_close(svm_loss(x, y), torch.tensor(0.25, dtype=torch.float64))


def test_int32_labels_are_accepted():
    x = torch.zeros(2, 3)
    torch.testing.assert_close(
        softmax_loss(x, torch.tensor([0, 2], dtype=torch.int32)),
        softmax_loss(x, torch.tensor([0, 2])),
    )


@pytest.mark.parametrize("loss_fn", [softmax_loss, svm_loss])
def test_bad_labels_and_scores(loss_fn):
    name = loss_fn.__name__
    with pytest.raises(
        ValueError, match=rf"{name}: y holds labels from 0 to 3, expected labels in \[0, 3\)"
    ):
        loss_fn(torch.zeros(2, 3), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match=r"y has shape \(3,\), expected \(2,\)"):
        loss_fn(torch.zeros(2, 3), torch.tensor([0, 1, 2]))
    with pytest.raises(
        ValueError, match="y must hold integer class labels, got dtype torch.float32"
    ):
        loss_fn(torch.zeros(2, 3), torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"x holds 1 non-finite value\(s\)"):
        loss_fn(torch.tensor([[0.0, float("inf"), 0.0], [0.0, 0.0, 0.0]]), torch.tensor([0, 1]))
