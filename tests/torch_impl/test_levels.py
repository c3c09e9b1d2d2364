"""PyTorch at three levels: the same networks compute the same scores and take the same steps."""

import pytest
import torch
import torch.nn.functional as F

from torch_impl.levels import barebones, module, sequential

pytestmark = pytest.mark.classify


def copy_into_module(params, layers):
    """Barebones weights into nn layers; a Linear stores (out, in), barebones uses (in, out)."""
    with torch.no_grad():
        for (w, b), layer in zip(zip(params[::2], params[1::2], strict=True), layers, strict=True):
            layer.weight.copy_(w.T if isinstance(layer, torch.nn.Linear) else w)
            layer.bias.copy_(b)


def test_kaiming_weights_have_the_right_spread():
    g = torch.Generator().manual_seed(0)
    w = barebones.kaiming_weight((1000, 300), g)
    assert w.requires_grad and w.shape == (1000, 300)
    assert abs(float(w.detach().std()) - (2 / 1000) ** 0.5) < 0.002
    conv = barebones.kaiming_weight((64, 16, 3, 3), g)
    assert abs(float(conv.detach().std()) - (2 / (16 * 9)) ** 0.5) < 0.005


def test_two_layer_fc_is_the_same_network_at_every_level():
    g = torch.Generator().manual_seed(1)
    params = barebones.init_two_layer_fc(12, 7, 4, generator=g)
    with torch.no_grad():
        for b in params[1::2]:
            b.normal_(generator=g)  # non-zero biases so that they are compared too
    x = torch.randn(5, 3, 2, 2, generator=g)
    expected = barebones.two_layer_fc(x, params)

    net = module.TwoLayerFC(12, 7, 4)
    copy_into_module(params, [net.fc1, net.fc2])
    torch.testing.assert_close(net(x), expected)

    stack = sequential.two_layer_fc(12, 7, 4)
    copy_into_module(params, [stack[1], stack[3]])
    torch.testing.assert_close(stack(x), expected)


def test_three_layer_convnet_is_the_same_network_at_every_level():
    g = torch.Generator().manual_seed(2)
    params = barebones.init_three_layer_convnet(3, 8, 6, 5, 10, generator=g)
    x = torch.randn(2, 3, 8, 8, generator=g)
    expected = barebones.three_layer_convnet(x, params)
    assert expected.shape == (2, 10)

    net = module.ThreeLayerConvNet(3, 8, 6, 5, 10)
    copy_into_module(params, [net.conv1, net.conv2, net.fc])
    torch.testing.assert_close(net(x), expected, rtol=1e-5, atol=1e-5)

    stack = sequential.three_layer_convnet(3, 8, 6, 5, 10)
    copy_into_module(params, [stack[0], stack[2], stack[5]])
    torch.testing.assert_close(stack(x), expected, rtol=1e-5, atol=1e-5)


def test_the_hand_written_step_matches_torch_optim_sgd():
    g = torch.Generator().manual_seed(3)
    params = barebones.init_two_layer_fc(6, 5, 3, generator=g)
    twins = [p.detach().clone().requires_grad_() for p in params]
    x, y = torch.randn(8, 6, generator=g), torch.randint(0, 3, (8,), generator=g)

    loss = barebones.train_step(barebones.two_layer_fc, params, x, y, learning_rate=0.1)
    optimizer = torch.optim.SGD(twins, lr=0.1)
    expected_loss = F.cross_entropy(barebones.two_layer_fc(x, twins), y)
    expected_loss.backward()
    optimizer.step()

    assert loss == pytest.approx(float(expected_loss.detach()))
    for p, twin in zip(params, twins, strict=True):
        torch.testing.assert_close(p, twin)
        assert p.grad is None or not p.grad.any()  # the step clears the gradients


def test_a_few_hundred_steps_of_barebones_sgd_fit_a_small_problem():
    g = torch.Generator().manual_seed(4)
    x = torch.randn(64, 10, generator=g)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()  # three classes
    params = barebones.init_two_layer_fc(10, 32, 3, generator=g)
    first = barebones.train_step(barebones.two_layer_fc, params, x, y, learning_rate=0.1)
    for _ in range(300):
        last = barebones.train_step(barebones.two_layer_fc, params, x, y, learning_rate=0.1)
    accuracy = float((barebones.two_layer_fc(x, params).argmax(1) == y).float().mean())
    assert last < first / 4 and accuracy > 0.95


def test_barebones_model_state_round_trip():
    g = torch.Generator().manual_seed(5)
    model = barebones.BarebonesModel(
        barebones.two_layer_fc, barebones.init_two_layer_fc(4, 3, 2, g)
    )
    state = model.state_dict()
    other = barebones.BarebonesModel(barebones.two_layer_fc, barebones.init_two_layer_fc(4, 3, 2))
    other.load_state_dict(state)
    x = torch.randn(3, 4)
    torch.testing.assert_close(other(x), model(x))
