"""The ResNet family: shapes, parameter counts computed from the layer sizes, and blocks."""

import pytest
import torch

from torch_impl.models.resnet import RESNETS, BasicBlock, PreActBasicBlock, resnet

pytestmark = pytest.mark.classify


def count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def conv(cin, cout, k):
    return cin * cout * k * k


def bn(c):
    return 2 * c


def cifar_resnet_parameters(n: int, preact: bool) -> int:
    """Parameters of a CIFAR ResNet of depth 6n + 2, counted layer by layer from the paper's
    description (3x3 convolutions without bias, projection shortcuts at the two stage changes)."""
    total = conv(3, 16, 3) + (0 if preact else bn(16))  # stem
    widths = [16, 32, 64]
    cin = 16
    for stage, width in enumerate(widths):
        for block in range(n):
            total += (
                conv(cin, width, 3) + conv(width, width, 3) + 2 * bn(width if not preact else 0)
            )
            if preact:
                total += bn(cin) + bn(width)
            if stage > 0 and block == 0:
                total += conv(cin, width, 1) + (0 if preact else bn(width))
            cin = width
    if preact:
        total += bn(64)  # the final normalisation
    return total + 64 * 10 + 10  # classifier


@pytest.mark.parametrize("n", [3, 5, 9])
def test_cifar_resnet_parameter_counts(n):
    assert count(resnet(f"resnet{6 * n + 2}")) == cifar_resnet_parameters(n, preact=False)
    assert count(resnet(f"resnet-preact{6 * n + 2}")) == cifar_resnet_parameters(n, preact=True)


def test_resnet20_has_the_published_size():
    # He et al. (2016) give 0.27M parameters for ResNet-20 on CIFAR-10
    assert 0.26e6 < count(resnet("resnet20")) < 0.28e6
    assert 1.6e6 < count(resnet("resnet110")) < 1.8e6  # 1.7M


def test_resnet18_on_32x32_images_has_its_well_known_size():
    # 3x3 stem, no max pooling, four stages of two basic blocks: 11,173,962 parameters
    assert count(resnet("resnet18")) == 11_173_962


def test_plain_networks_have_no_shortcut_parameters():
    shortcuts = conv(16, 32, 1) + bn(32) + conv(32, 64, 1) + bn(64)  # the two projections
    assert count(resnet("resnet-plain20")) == count(resnet("resnet20")) - shortcuts


@pytest.mark.parametrize("name", ["resnet-plain20", "resnet20", "resnet-preact20", "resnet18"])
def test_forward_and_backward_shapes(name):
    model = resnet(name)
    x = torch.randn(2, 3, 32, 32, requires_grad=True)
    scores = model(x)
    assert scores.shape == (2, 10)
    scores.sum().backward()
    assert x.grad.shape == x.shape


def test_every_named_layout_has_the_depth_of_its_name():
    for name, spec in RESNETS.items():
        digits = "".join(ch for ch in name.split("-")[-1] if ch.isdigit())
        assert spec.depth == int(digits), name


def test_blocks_downsample_and_keep_the_identity_path():
    block = BasicBlock(16, 32, stride=2)
    assert block(torch.randn(1, 16, 8, 8)).shape == (1, 32, 4, 4)
    pre = PreActBasicBlock(16, 16).eval()
    for p in pre.conv2.parameters():
        torch.nn.init.zeros_(p)
    x = torch.randn(1, 16, 8, 8)
    torch.testing.assert_close(pre(x), x)  # a zero residual branch leaves the identity


def test_unknown_name():
    with pytest.raises(ValueError, match="unknown name 'resnet7'; known: resnet-plain20"):
        resnet("resnet7")
