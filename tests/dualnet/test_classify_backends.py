"""The two backends' classifiers hold each other: with exchanged weights the NumPy models
(hand-derived backward passes) and the PyTorch twins (autograd) give the same scores, the same
loss and the same gradients, and weights travel between them intact.
"""

import numpy as np
import pytest
import torch

import reference_numpy.models as R
import reference_numpy.models.fc_net as RF
import torch_impl.models as T
import torch_impl.models.fc_net as TF
from dualnet.crosscheck import normwise_error
from reference_numpy.gradcheck import rel_error

pytestmark = pytest.mark.classify

TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}

FC_CONFIGS = [
    pytest.param({"hidden_dims": []}, id="linear"),
    pytest.param({"hidden_dims": [6]}, id="one-hidden"),
    pytest.param({"hidden_dims": [6, 4], "reg": 0.4}, id="two-hidden-reg"),
    pytest.param({"hidden_dims": [6, 5, 4], "normalization": "batchnorm"}, id="batchnorm"),
    pytest.param({"hidden_dims": [6, 4], "normalization": "batchnorm", "reg": 0.3}, id="bn-reg"),
    pytest.param({"hidden_dims": [6, 5, 4], "normalization": "layernorm"}, id="layernorm"),
    pytest.param({"hidden_dims": [6, 4], "normalization": "layernorm", "reg": 0.2}, id="ln-reg"),
    pytest.param({"hidden_dims": [6, 4], "dropout_keep_ratio": 0.6, "reg": 0.1}, id="dropout"),
    pytest.param(
        {"hidden_dims": [6, 4], "dropout_keep_ratio": 0.7, "normalization": "batchnorm"},
        id="dropout-bn",
    ),
]


def numpy_fc_net(config: dict, seed: int, dtype=np.float64) -> R.FullyConnectedNet:
    """A NumPy model on 7 inputs and 5 classes with every parameter moved off its start."""
    rng = np.random.default_rng(seed)
    model = R.FullyConnectedNet(
        input_dim=7, num_classes=5, weight_scale=0.5, dtype=dtype, seed=seed, **config
    )
    model.set_params({k: v + 0.3 * rng.standard_normal(v.shape) for k, v in model.params.items()})
    return model


def problem(seed: int, shape: tuple, num_classes: int, n: int = 6, dtype=np.float64):
    rng = np.random.default_rng(100 + seed)
    return rng.standard_normal((n, *shape)).astype(dtype), rng.integers(0, num_classes, size=n)


def torch_loss_and_grads(torch_model, X, y, **kwargs):
    loss = torch_model.loss(torch.from_numpy(X), torch.from_numpy(y), **kwargs)
    loss.backward()
    grads = {name: getattr(torch_model, name).grad.numpy() for name in torch_model.param_names}
    return loss.item(), grads


def shared_masks(numpy_model, n: int):
    """The NumPy model's dropout masks as tensors, or ``None`` without dropout."""
    if not numpy_model.use_dropout:
        return None
    return [torch.from_numpy(mask) for mask in numpy_model.dropout_masks(n)]


def cancelled_biases(config: dict) -> set[str]:
    """Biases right before batch norm: their gradient is exactly 0, and each backend returns
    its own rounding noise (about 1e-17) instead."""
    if config.get("normalization") != "batchnorm":
        return set()
    return {f"b{layer}" for layer in range(1, len(config["hidden_dims"]) + 1)}


@pytest.mark.parametrize("config", FC_CONFIGS)
@pytest.mark.parametrize("seed", [0, 1])
def test_fc_net_same_loss_and_gradients_in_float64(config, seed):
    numpy_model = numpy_fc_net(config, seed)
    torch_model = T.FullyConnectedNet.from_numpy(numpy_model)
    X, y = problem(seed, (7,), 5)
    loss, grads = numpy_model.loss(X, y)
    torch_loss, torch_grads = torch_loss_and_grads(
        torch_model, X, y, dropout_masks=shared_masks(numpy_model, len(y))
    )
    assert rel_error(loss, torch_loss) < 1e-10
    assert list(torch_grads) == list(grads)
    for name in grads:
        if name in cancelled_biases(config):
            assert np.max(np.abs(grads[name])) < 1e-15
            assert np.max(np.abs(torch_grads[name])) < 1e-15
        else:
            assert rel_error(grads[name], torch_grads[name]) < 1e-9, name

    # the training call updated both backends' running statistics alike; the test-mode
    # scores (running statistics, no dropout) agree too
    for ours, theirs in zip(
        numpy_model.running_stats(), torch_model.numpy_running_stats(), strict=True
    ):
        for key in ("running_mean", "running_var"):
            assert rel_error(ours[key], theirs[key]) < 1e-12
    scores = torch_model.loss(torch.from_numpy(X)).detach().numpy()
    assert rel_error(numpy_model.loss(X), scores) < 1e-10


@pytest.mark.parametrize("config", FC_CONFIGS)
def test_fc_net_agrees_in_float32(config):
    numpy_model = numpy_fc_net(config, seed=2, dtype=np.float32)
    torch_model = T.FullyConnectedNet.from_numpy(numpy_model)
    assert torch_model.W1.dtype == torch.float32
    X, y = problem(2, (7,), 5, dtype=np.float32)
    loss, grads = numpy_model.loss(X, y)
    torch_loss, torch_grads = torch_loss_and_grads(
        torch_model, X, y, dropout_masks=shared_masks(numpy_model, len(y))
    )
    assert rel_error(loss, torch_loss) < 1e-5
    for name in grads:
        if name not in cancelled_biases(config):
            assert normwise_error(grads[name], torch_grads[name]) < 1e-4, name


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("normalization", [None, "batchnorm", "layernorm"])
def test_fc_net_same_seed_gives_the_same_model(dtype, normalization):
    options = {"input_dim": 7, "num_classes": 5, "normalization": normalization, "seed": 4}
    numpy_model = R.FullyConnectedNet([6, 4], dtype=dtype, **options)
    torch_model = T.FullyConnectedNet([6, 4], dtype=TORCH_DTYPE[dtype], **options)
    exported = torch_model.numpy_params()
    assert list(exported) == list(numpy_model.params)
    for name, value in numpy_model.params.items():
        assert exported[name].dtype == value.dtype
        np.testing.assert_array_equal(exported[name], value)
    assert torch_model.config() == numpy_model.config()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fc_net_weights_travel_both_ways_unchanged(dtype):
    config = {"hidden_dims": [6, 4], "normalization": "batchnorm", "dropout_keep_ratio": 0.8}
    numpy_model = numpy_fc_net(config, seed=3, dtype=dtype)
    X, y = problem(3, (7,), 5, dtype=dtype)
    numpy_model.loss(X, y)  # moves the running statistics off their start
    torch_model = T.FullyConnectedNet.from_numpy(numpy_model)
    assert dict(torch_model.named_parameters()).keys() == numpy_model.params.keys()

    back = R.FullyConnectedNet(**torch_model.config(), dtype=dtype)
    back.set_params(torch_model.numpy_params())
    back.set_running_stats(torch_model.numpy_running_stats())
    for name, value in numpy_model.params.items():
        np.testing.assert_array_equal(back.params[name], value)
        assert back.params[name].dtype == np.dtype(dtype)
    for ours, theirs in zip(numpy_model.running_stats(), back.running_stats(), strict=True):
        assert np.all(ours["running_mean"] != 0)  # not the fresh statistics
        for key in ours:
            np.testing.assert_array_equal(ours[key], theirs[key])


def test_fc_net_weights_trained_in_torch_score_the_same_in_numpy():
    torch_model = T.FullyConnectedNet(
        [8, 6],
        input_dim=7,
        num_classes=5,
        normalization="batchnorm",
        weight_scale=0.3,
        dtype=torch.float64,
        seed=0,
    )
    X, y = problem(4, (7,), 5, n=20)
    for _ in range(5):  # plain SGD steps (creating a torch.optim optimizer takes seconds)
        torch_model.zero_grad()
        torch_model.loss(torch.from_numpy(X), torch.from_numpy(y)).backward()
        with torch.no_grad():
            for parameter in torch_model.parameters():
                parameter -= 0.1 * parameter.grad
    numpy_model = R.FullyConnectedNet(**torch_model.config(), dtype=np.float64)
    numpy_model.set_params(torch_model.numpy_params())
    numpy_model.set_running_stats(torch_model.numpy_running_stats())
    torch_model.eval()
    scores = torch_model(torch.from_numpy(X)).detach().numpy()
    assert rel_error(numpy_model.loss(X), scores) < 1e-10


def test_torch_fc_net_forward_follows_train_and_eval():
    torch_model = T.FullyConnectedNet(
        [5], input_dim=3, num_classes=2, normalization="batchnorm", dtype=torch.float64, seed=0
    )
    X = torch.randn(8, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    torch_model.train()
    before = torch_model.running_mean1.clone()
    train_scores = torch_model(X)
    assert not torch.equal(torch_model.running_mean1, before)  # batch statistics were used
    torch_model.eval()
    frozen = torch_model.running_mean1.clone()
    eval_scores = torch_model(X)
    assert torch.equal(torch_model.running_mean1, frozen)
    torch.testing.assert_close(eval_scores, torch_model.loss(X), rtol=0, atol=0)
    assert not torch.allclose(train_scores, eval_scores)


def test_torch_fc_net_rejects_bad_input():
    torch_model = T.FullyConnectedNet([4], input_dim=6, num_classes=3)
    with pytest.raises(ValueError, match=r"FullyConnectedNet.loss: X has shape \(2, 5\)"):
        torch_model.loss(torch.zeros(2, 5))
    with pytest.raises(ValueError, match=r"y holds labels from 0 to 3.*\[0, 3\)"):
        torch_model.loss(torch.zeros(2, 6), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="y must hold integer class labels"):
        torch_model.loss(torch.zeros(2, 6), torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="dropout_keep_ratio"):
        T.FullyConnectedNet([4], dropout_keep_ratio=0.0)
    with pytest.raises(ValueError, match=r"params\['W1'\] has shape \(5, 4\), expected \(6, 4\)"):
        torch_model.load_numpy_params({**torch_model.numpy_params(), "W1": np.zeros((5, 4))})


# --------------------------------------------------------------------------------------------
# ThreeLayerConvNet
# --------------------------------------------------------------------------------------------

CONV_CONFIGS = [
    pytest.param({"input_dim": (3, 8, 8), "num_filters": 2, "filter_size": 3}, id="3x3"),
    pytest.param(
        {"input_dim": (2, 7, 9), "num_filters": 3, "filter_size": 5, "reg": 0.3}, id="5x5-odd-reg"
    ),
]


def numpy_conv_net(config: dict, seed: int, dtype=np.float64) -> R.ThreeLayerConvNet:
    rng = np.random.default_rng(seed)
    options = {"hidden_dim": 6, "num_classes": 4, "weight_scale": 0.3, **config}
    model = R.ThreeLayerConvNet(dtype=dtype, seed=seed, **options)
    model.set_params({k: v + 0.1 * rng.standard_normal(v.shape) for k, v in model.params.items()})
    return model


@pytest.mark.parametrize("config", CONV_CONFIGS)
@pytest.mark.parametrize("seed", [0, 1])
def test_conv_net_same_loss_and_gradients_in_float64(config, seed):
    numpy_model = numpy_conv_net(config, seed)
    torch_model = T.ThreeLayerConvNet.from_numpy(numpy_model)
    X, y = problem(seed, config["input_dim"], 4, n=3)
    loss, grads = numpy_model.loss(X, y)
    torch_loss, torch_grads = torch_loss_and_grads(torch_model, X, y)
    assert rel_error(loss, torch_loss) < 1e-10
    for name in grads:
        assert rel_error(grads[name], torch_grads[name]) < 1e-9, name
    scores = torch_model.loss(torch.from_numpy(X)).detach().numpy()
    assert rel_error(numpy_model.loss(X), scores) < 1e-10


def test_conv_net_agrees_in_float32():
    config = {"input_dim": (3, 8, 8), "num_filters": 2, "filter_size": 3, "reg": 0.1}
    numpy_model = numpy_conv_net(config, seed=5, dtype=np.float32)
    torch_model = T.ThreeLayerConvNet.from_numpy(numpy_model)
    X, y = problem(5, (3, 8, 8), 4, n=3, dtype=np.float32)
    loss, grads = numpy_model.loss(X, y)
    torch_loss, torch_grads = torch_loss_and_grads(torch_model, X, y)
    assert rel_error(loss, torch_loss) < 1e-5
    for name in grads:
        assert normwise_error(grads[name], torch_grads[name]) < 1e-4, name


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_net_same_seed_and_round_trip(dtype):
    options = {"input_dim": (3, 8, 8), "num_filters": 4, "filter_size": 3, "hidden_dim": 7}
    numpy_model = R.ThreeLayerConvNet(**options, dtype=dtype, seed=8)
    torch_model = T.ThreeLayerConvNet(**options, dtype=TORCH_DTYPE[dtype], seed=8)
    assert torch_model.config() == numpy_model.config()
    for name, value in torch_model.numpy_params().items():
        np.testing.assert_array_equal(value, numpy_model.params[name])

    moved = numpy_conv_net(options, seed=9, dtype=dtype)
    back = R.ThreeLayerConvNet(**T.ThreeLayerConvNet.from_numpy(moved).config(), dtype=dtype)
    back.set_params(T.ThreeLayerConvNet.from_numpy(moved).numpy_params())
    for name, value in moved.params.items():
        np.testing.assert_array_equal(back.params[name], value)


def test_torch_conv_net_rejects_bad_input():
    torch_model = T.ThreeLayerConvNet(input_dim=(3, 8, 8), num_filters=2, filter_size=3)
    with pytest.raises(ValueError, match=r"ThreeLayerConvNet.loss: X has shape \(2, 3, 8, 6\)"):
        torch_model.loss(torch.zeros(2, 3, 8, 6))
    with pytest.raises(ValueError, match=r"y holds labels from 0 to 10"):
        torch_model.loss(torch.zeros(2, 3, 8, 8), torch.tensor([0, 10]))
    with pytest.raises(ValueError, match="filter_size must be odd"):
        T.ThreeLayerConvNet(filter_size=2)


@pytest.mark.parametrize("dropout", [None, 0, 0.3, 1.0, "x"])
@pytest.mark.parametrize("use_batchnorm", [None, True, False, 1])
@pytest.mark.parametrize("normalization", [None, "batchnorm", "layernorm"])
@pytest.mark.parametrize("keep", [1, 0.5])
def test_the_2017_aliases_are_read_alike_by_both_backends(
    dropout, use_batchnorm, normalization, keep
):
    outcomes = []
    for module in (RF, TF):
        try:
            outcomes.append(
                module.classic_aliases("F", keep, normalization, dropout, use_batchnorm)
            )
        except ValueError as error:
            outcomes.append(str(error))
    assert outcomes[0] == outcomes[1]


def test_two_layer_net_same_loss_and_gradients_in_both_backends():
    numpy_model = R.TwoLayerNet(
        input_dim=7, hidden_dim=6, num_classes=5, weight_scale=0.5, reg=0.3, seed=2
    )
    assert list(numpy_model.params) == ["W1", "b1", "W2", "b2"]
    assert numpy_model.params["W1"].dtype == np.float64
    torch_model = T.TwoLayerNet.from_numpy(numpy_model)
    assert isinstance(torch_model, T.TwoLayerNet) and torch_model.config() == numpy_model.config()
    X, y = problem(0, (7,), 5)
    loss, grads = numpy_model.loss(X, y)
    torch_loss, torch_grads = torch_loss_and_grads(torch_model, X, y)
    assert rel_error(loss, torch_loss) < 1e-12
    for name in grads:
        assert rel_error(grads[name], torch_grads[name]) < 1e-10, name
