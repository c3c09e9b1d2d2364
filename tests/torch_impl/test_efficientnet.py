"""EfficientNet-Lite0's architecture: TensorFlow's padding, the shapes of the table in the
module docstring, and the weights file's naming mapped onto every parameter."""

import pytest
import torch
from torch import nn

from torch_impl.models import efficientnet as E

pytestmark = pytest.mark.classify


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "expected"),
    [
        (224, 3, 2, (0, 1)),  # (112 - 1) * 2 + 3 - 224 = 1: the odd pixel after
        (225, 3, 2, (1, 1)),  # (113 - 1) * 2 + 3 - 225 = 2
        (14, 5, 2, (1, 2)),  # (7 - 1) * 2 + 5 - 14 = 3
        (7, 5, 1, (2, 2)),  # stride 1: k - 1 split evenly
        (1, 3, 2, (1, 1)),  # (1 - 1) * 2 + 3 - 1 = 2
    ],
)
def test_same_padding_is_tensorflows(size, kernel, stride, expected):
    assert E.same_padding(size, kernel, stride) == expected


def test_tf_padding_puts_the_odd_pixel_below_and_right():
    torch.manual_seed(0)
    same = E.SameConv2d(2, 3, 3, stride=2)
    x = torch.randn(1, 2, 8, 8)
    by_hand = torch.nn.functional.conv2d(torch.nn.functional.pad(x, (0, 1, 0, 1)), same.weight,
                                         stride=2)  # fmt: skip
    torch.testing.assert_close(same(x), by_hand)
    symmetric = E.SameConv2d(2, 3, 3, stride=2, tf_padding=False)
    symmetric.weight = same.weight
    reference = nn.Conv2d(2, 3, 3, stride=2, padding=1, bias=False)
    reference.weight = same.weight
    torch.testing.assert_close(symmetric(x), reference(x))
    assert not torch.allclose(same(x), symmetric(x))  # the sampling grid moved by a pixel


def test_the_layers_have_the_shapes_of_the_table():
    model = E.EfficientNetLite0().eval()
    x = torch.zeros(1, 3, 224, 224)
    shapes = []
    with torch.no_grad():
        for layer in model.features:
            x = layer(x)
            shapes.append(tuple(x.shape[1:]))
    assert len(shapes) == 18
    assert shapes[0] == (32, 112, 112) and shapes[1] == (16, 112, 112)
    assert shapes[3] == (24, 56, 56) and shapes[5] == (40, 28, 28)
    assert shapes[8] == (80, 14, 14) and shapes[11] == (112, 14, 14)
    assert shapes[15] == (192, 7, 7) and shapes[16] == (320, 7, 7)
    assert shapes[17] == (1280, 7, 7)
    assert model(torch.zeros(2, 3, 100, 130)).shape == (2, 1000)  # any size of 32 px or more
    assert sum(p.numel() for p in model.parameters()) == 4_652_008


def test_only_same_shaped_blocks_add_their_input():
    model = E.EfficientNetLite0()
    residual = [i for i, layer in enumerate(model.features) if getattr(layer, "residual", False)]
    assert residual == [3, 5, 7, 8, 10, 11, 13, 14, 15]


def test_the_weights_files_naming_maps_onto_every_parameter():
    model = E.EfficientNetLite0()
    ours = model.state_dict()
    theirs = {
        "_conv_stem.weight": ours["features.0.0.weight"],
        "_fc.bias": ours["classifier.1.bias"],
    }
    theirs["_blocks.0._depthwise_conv.weight"] = ours["features.1.depthwise.0.weight"]
    theirs["_blocks.1._bn0.running_var"] = ours["features.2.expand.1.running_var"]
    theirs["_bn1.weight"] = ours["features.17.1.weight"]
    renamed = E.from_efficientnet_pytorch(theirs)
    assert set(renamed) == {
        "features.0.0.weight",
        "classifier.1.bias",
        "features.1.depthwise.0.weight",
        "features.2.expand.1.running_var",
        "features.17.1.weight",
    }
    assert renamed["features.17.1.weight"] is ours["features.17.1.weight"]  # shared, not copied
