"""The NumPy classifiers: whole-model gradients against finite differences, losses and scores by
hand, the dropout and batch-norm conventions, learning, and errors on bad input.

Agreement with the PyTorch twins is tested in ``tests/dualnet/test_classify_backends.py``.
"""

import math

import numpy as np
import pytest

from reference_numpy.gradcheck import eval_numerical_gradient, rel_error
from reference_numpy.models import FullyConnectedNet, ThreeLayerConvNet
from reference_numpy.solver import Solver

pytestmark = pytest.mark.classify

NORMALIZATIONS = [None, "batchnorm", "layernorm"]


def tiny_fc_net(normalization, rng, reg=0.7, keep=1.0, hidden_dims=(4, 3)) -> FullyConnectedNet:
    """N = 3 examples of D = 5 numbers, 4 classes, float64, every parameter moved off its
    initial value so that no gradient is trivially zero."""
    model = FullyConnectedNet(
        list(hidden_dims),
        input_dim=5,
        num_classes=4,
        dropout_keep_ratio=keep,
        normalization=normalization,
        reg=reg,
        weight_scale=0.5,
        dtype=np.float64,
        seed=3,
    )
    model.set_params({k: v + 0.3 * rng.standard_normal(v.shape) for k, v in model.params.items()})
    return model


def biases_before_batch_norm(model) -> set[str]:
    """Batch norm subtracts the batch mean, so the bias of the affine layer in front of it
    cancels out: its true gradient is exactly 0 and both computations give rounding noise,
    whose relative error means nothing."""
    if getattr(model, "normalization", None) != "batchnorm":
        return set()
    return {f"b{layer}" for layer in range(1, model.num_layers)}


def assert_matches_finite_differences(model, X, y) -> None:
    _, grads = model.loss(X, y)
    assert list(grads) == list(model.params)
    cancelled = biases_before_batch_norm(model)
    for name, param in model.params.items():
        numerical = eval_numerical_gradient(lambda _: model.loss(X, y)[0], param)
        assert grads[name].shape == param.shape
        assert grads[name].dtype == np.float64
        if name in cancelled:
            assert np.max(np.abs(grads[name])) < 1e-15, name
            assert np.max(np.abs(numerical)) < 1e-9, name
        else:
            assert rel_error(grads[name], numerical) < 1e-6, name


# --------------------------------------------------------------------------------------------
# FullyConnectedNet: gradients
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
@pytest.mark.parametrize("reg", [0.0, 0.7])
def test_fc_net_gradients_match_finite_differences(normalization, reg, rng):
    model = tiny_fc_net(normalization, rng, reg=reg)
    X = rng.standard_normal((3, 5))
    y = np.array([0, 3, 1])
    assert_matches_finite_differences(model, X, y)


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
def test_fc_net_gradients_with_seeded_dropout_match_finite_differences(normalization, rng):
    model = tiny_fc_net(normalization, rng, keep=0.6)
    X = rng.standard_normal((3, 5))
    y = np.array([2, 0, 1])
    # the seed fixes the masks: two training-mode calls give the same loss
    assert model.loss(X, y)[0] == model.loss(X, y)[0]
    assert_matches_finite_differences(model, X, y)


@pytest.mark.parametrize("hidden_dims", [(), (6,), (4, 3, 5)])
def test_fc_net_gradients_for_other_depths(hidden_dims, rng):
    model = tiny_fc_net("layernorm", rng, hidden_dims=hidden_dims)
    X = rng.standard_normal((3, 5))
    assert_matches_finite_differences(model, X, np.array([1, 1, 2]))
    assert model.num_layers == len(hidden_dims) + 1


def test_bias_before_batch_norm_gets_no_gradient(rng):
    model = tiny_fc_net("batchnorm", rng)
    assert biases_before_batch_norm(model) == {"b1", "b2"}
    _, grads = model.loss(rng.standard_normal((3, 5)), np.array([0, 1, 2]))
    for name in ("b1", "b2"):
        assert np.max(np.abs(grads[name])) < 1e-15
    assert np.max(np.abs(grads["b3"])) > 1e-3
    # with layer norm the statistics are per example, and the bias matters
    _, grads = tiny_fc_net("layernorm", rng).loss(rng.standard_normal((3, 5)), np.array([0, 1, 2]))
    assert np.max(np.abs(grads["b1"])) > 1e-3


# --------------------------------------------------------------------------------------------
# FullyConnectedNet: losses, scores and conventions by hand
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
def test_initial_loss_is_log_of_the_number_of_classes(normalization, rng):
    model = FullyConnectedNet(
        [20, 30],
        input_dim=40,
        normalization=normalization,
        weight_scale=1e-6,
        seed=0,
        dtype=np.float64,
    )
    loss, _ = model.loss(rng.standard_normal((8, 40)), rng.integers(0, 10, size=8))
    # every score is within ~1e-6 of the others: all 10 classes equally likely
    assert loss == pytest.approx(math.log(10), abs=1e-5)


def test_l2_term_and_its_gradient_by_hand(rng):
    X, y = rng.standard_normal((3, 5)), np.array([0, 1, 3])
    model = tiny_fc_net("batchnorm", rng, reg=0.0)
    loss0, grads0 = model.loss(X, y)
    model.reg = 0.25
    loss1, grads1 = model.loss(X, y)
    p = model.params
    by_hand = 0.5 * 0.25 * ((p["W1"] ** 2).sum() + (p["W2"] ** 2).sum() + (p["W3"] ** 2).sum())
    assert loss1 - loss0 == pytest.approx(by_hand, rel=1e-12)
    for name in p:
        expected = 0.25 * p[name] if name.startswith("W") else 0.0
        np.testing.assert_allclose(grads1[name] - grads0[name], expected, rtol=1e-10, atol=1e-15)


def test_scores_of_a_hand_built_net():
    # one hidden layer of 2 units: h = relu(x W1 + b1), scores = h W2 + b2
    model = FullyConnectedNet([2], input_dim=3, num_classes=2, dtype=np.float64)
    model.set_params(
        {
            "W1": np.array([[1.0, -1.0], [0.0, 2.0], [1.0, 0.0]]),
            "b1": np.array([0.0, -1.0]),
            "W2": np.array([[1.0, 2.0], [3.0, -1.0]]),
            "b2": np.array([0.5, 0.0]),
        }
    )
    X = np.array([[1.0, 1.0, 1.0], [-2.0, 0.0, 1.0]])
    # row 1: x W1 + b1 = [2, 0], relu [2, 0], scores [2.5, 4]
    # row 2: x W1 + b1 = [-1, 1], relu [0, 1], scores [3.5, -1]
    np.testing.assert_allclose(model.loss(X), [[2.5, 4.0], [3.5, -1.0]], rtol=1e-15)
    # the loss of row 1 with label 1 is log(1 + e^(2.5 - 4)), row 2 with label 0 likewise
    loss, _ = model.loss(X, np.array([1, 0]))
    expected = (math.log1p(math.exp(-1.5)) + math.log1p(math.exp(-4.5))) / 2
    assert loss == pytest.approx(expected, rel=1e-14)


def test_keep_ratio_is_converted_to_the_zeroing_probability():
    model = FullyConnectedNet([50, 40], input_dim=5, dropout_keep_ratio=0.75, seed=7)
    assert model.dropout_param["p"] == pytest.approx(0.25)
    masks = model.dropout_masks(2000)
    assert [m.shape for m in masks] == [(2000, 50), (2000, 40)]
    # about 75 % of the activations survive, and each layer has a mask of its own
    for mask in masks:
        assert abs(mask.mean() - 0.75) < 0.01
    assert not np.array_equal(masks[0][:, :40], masks[1])
    assert FullyConnectedNet([3], input_dim=5).dropout_param == {}


def test_dropout_uses_the_masks_it_announces(rng):
    model = FullyConnectedNet(
        [6],
        input_dim=4,
        num_classes=3,
        dropout_keep_ratio=0.5,
        dtype=np.float64,
        seed=2,
        weight_scale=1.0,
    )
    X, y = rng.standard_normal((5, 4)), np.array([0, 1, 2, 0, 1])
    (mask,) = model.dropout_masks(5)
    hidden = np.maximum(X @ model.params["W1"] + model.params["b1"], 0) * mask / 0.5
    scores = hidden @ model.params["W2"] + model.params["b2"]
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss, _ = model.loss(X, y)
    assert loss == pytest.approx(-log_probs[np.arange(5), y].mean(), rel=1e-13)


def test_test_mode_drops_nothing(rng):
    plain = FullyConnectedNet([6, 5], input_dim=4, num_classes=3, dtype=np.float64, seed=1)
    dropped = FullyConnectedNet(
        [6, 5], input_dim=4, num_classes=3, dropout_keep_ratio=0.3, dtype=np.float64, seed=1
    )
    X = rng.standard_normal((7, 4))
    np.testing.assert_array_equal(dropped.loss(X), plain.loss(X))


def test_batch_norm_running_statistics_and_test_mode(rng):
    model = FullyConnectedNet(
        [4],
        input_dim=3,
        num_classes=2,
        normalization="batchnorm",
        dtype=np.float64,
        seed=0,
        weight_scale=1.0,
    )
    X = rng.standard_normal((6, 3))
    model.loss(X, np.zeros(6, dtype=np.int64))
    first = X @ model.params["W1"] + model.params["b1"]
    (stats,) = model.running_stats()
    # momentum 0.9 is the weight of the old value: 0.9 * 0 + 0.1 * mean, 0.9 * 1 + 0.1 * var
    np.testing.assert_allclose(stats["running_mean"], 0.1 * first.mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(stats["running_var"], 0.9 + 0.1 * first.var(axis=0), rtol=1e-13)

    # test mode normalizes with the running statistics
    model.set_running_stats([{"running_mean": np.full(4, 0.5), "running_var": np.full(4, 4.0)}])
    hidden = np.maximum((first - 0.5) / np.sqrt(4.0 + 1e-5), 0)
    expected = hidden @ model.params["W2"] + model.params["b2"]
    np.testing.assert_allclose(model.loss(X), expected, rtol=1e-13)
    assert model.bn_params[0]["mode"] == "test"


def test_float32_model_computes_in_float32(rng):
    model = FullyConnectedNet([8], input_dim=12, normalization="batchnorm", seed=0)
    X = rng.standard_normal((4, 3, 2, 2))  # float64 input, cast; D = 12 after flattening
    X_before = X.copy()
    assert model.loss(X).dtype == np.float32
    loss, grads = model.loss(X, np.arange(4))
    assert loss.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())
    np.testing.assert_array_equal(X, X_before)


def test_the_seed_fixes_the_initial_weights():
    a = FullyConnectedNet([5, 4], input_dim=3, seed=9, weight_scale=0.1, dtype=np.float64)
    b = FullyConnectedNet([5, 4], input_dim=3, seed=9, weight_scale=0.1, dtype=np.float64)
    c = FullyConnectedNet([5, 4], input_dim=3, seed=10, weight_scale=0.1, dtype=np.float64)
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])
    assert not np.array_equal(a.params["W1"], c.params["W1"])
    assert list(a.params) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    assert a.params["W2"].std() == pytest.approx(0.1, rel=0.5)
    normed = FullyConnectedNet([5, 4], input_dim=3, normalization="layernorm")
    assert list(normed.params) == [
        "W1",
        "b1",
        "gamma1",
        "beta1",
        "W2",
        "b2",
        "gamma2",
        "beta2",
        "W3",
        "b3",
    ]
    np.testing.assert_array_equal(normed.params["gamma2"], np.ones(4))


# --------------------------------------------------------------------------------------------
# FullyConnectedNet: errors
# --------------------------------------------------------------------------------------------


def test_fc_net_rejects_bad_inputs(rng):
    model = FullyConnectedNet([4], input_dim=6, num_classes=3)
    with pytest.raises(ValueError, match=r"FullyConnectedNet.loss: X has shape \(2, 5\).*= 6"):
        model.loss(rng.standard_normal((2, 5)))
    with pytest.raises(ValueError, match=r"FullyConnectedNet.loss: X has shape \(6,\)"):
        model.loss(rng.standard_normal(6))
    X = rng.standard_normal((2, 2, 3))
    with pytest.raises(ValueError, match=r"y holds labels from 0 to 3.*\[0, 3\)"):
        model.loss(X, np.array([0, 3]))
    with pytest.raises(ValueError, match=r"y holds labels from -1 to 1"):
        model.loss(X, np.array([-1, 1]))
    with pytest.raises(ValueError, match=r"y must hold integer class labels"):
        model.loss(X, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"y has shape \(3,\), expected \(2,\)"):
        model.loss(X, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"X must be a numpy.ndarray"):
        model.loss([[0.0] * 6])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hidden_dims": 5}, "hidden_dims must be a list"),
        ({"hidden_dims": [4, 0]}, r"hidden_dims\[1\] must be a positive integer"),
        ({"input_dim": 0}, "input_dim must be a positive integer"),
        ({"dropout_keep_ratio": 0}, r"dropout_keep_ratio .* must lie in \(0, 1\]"),
        ({"dropout_keep_ratio": 1.5}, "dropout_keep_ratio"),
        ({"normalization": "groupnorm"}, "normalization must be one of None"),
        ({"reg": -1.0}, "reg must be >= 0"),
        ({"weight_scale": 0.0}, "weight_scale must be positive"),
        ({"dtype": np.int32}, "dtype must be numpy.float32 or numpy.float64"),
        ({"seed": -1}, "seed must be None or a non-negative integer"),
    ],
)
def test_fc_net_rejects_bad_arguments(kwargs, message):
    arguments = {"hidden_dims": [4], **kwargs}
    with pytest.raises(ValueError, match=f"FullyConnectedNet: {message}"):
        FullyConnectedNet(**arguments)


def test_fc_net_set_params_and_masks_reject_mismatches():
    model = FullyConnectedNet([4], input_dim=3)
    with pytest.raises(ValueError, match="params must have the keys"):
        model.set_params({"W1": np.zeros((3, 4))})
    wrong = {k: np.zeros(v.shape) for k, v in model.params.items()}
    wrong["W2"] = np.zeros((4, 9))
    with pytest.raises(ValueError, match=r"params\['W2'\] has shape \(4, 9\), expected \(4, 10\)"):
        model.set_params(wrong)
    with pytest.raises(ValueError, match="dropout_masks: the masks are fixed only"):
        model.dropout_masks(3)
    with pytest.raises(ValueError, match="stats must hold 0 dicts"):
        model.set_running_stats([{}])


# --------------------------------------------------------------------------------------------
# ThreeLayerConvNet
# --------------------------------------------------------------------------------------------


def tiny_conv_net(rng, reg=0.3) -> ThreeLayerConvNet:
    model = ThreeLayerConvNet(
        input_dim=(3, 8, 8),
        num_filters=2,
        filter_size=3,
        hidden_dim=5,
        num_classes=4,
        weight_scale=0.3,
        reg=reg,
        dtype=np.float64,
        seed=1,
    )
    model.set_params({k: v + 0.1 * rng.standard_normal(v.shape) for k, v in model.params.items()})
    return model


@pytest.mark.parametrize("reg", [0.0, 0.3])
def test_conv_net_gradients_match_finite_differences(reg, rng):
    model = tiny_conv_net(rng, reg)
    X = rng.standard_normal((2, 3, 8, 8))
    assert_matches_finite_differences(model, X, np.array([1, 3]))


def test_conv_net_shapes_and_initial_loss(rng):
    model = ThreeLayerConvNet(input_dim=(3, 16, 16), seed=0)
    shapes = {name: value.shape for name, value in model.params.items()}
    assert shapes == {
        "W1": (32, 3, 7, 7),
        "b1": (32,),
        "W2": (32 * 8 * 8, 100),
        "b2": (100,),
        "W3": (100, 10),
        "b3": (10,),
    }
    assert model.conv_param == {"stride": 1, "pad": 3}
    X = rng.standard_normal((4, 3, 16, 16))
    assert model.loss(X).shape == (4, 10)
    loss, _ = model.loss(X, np.array([0, 1, 2, 3]))
    assert loss.dtype == np.float32
    assert loss == pytest.approx(math.log(10), abs=1e-4)
    model.reg = 0.5
    loss_reg, _ = model.loss(X, np.array([0, 1, 2, 3]))
    by_hand = (
        0.5
        * 0.5
        * sum(float((model.params[w].astype(np.float64) ** 2).sum()) for w in ("W1", "W2", "W3"))
    )
    assert loss_reg - loss == pytest.approx(by_hand, rel=1e-4)


def test_conv_net_by_hand():
    # one 3x3 filter that copies channel 0 ("same" padding keeps 4x4), ReLU, 2x2 max pool to
    # 2x2, then identity affine layers: the scores are the pooled, rectified channel 0
    model = ThreeLayerConvNet(
        input_dim=(2, 4, 4),
        num_filters=1,
        filter_size=3,
        hidden_dim=4,
        num_classes=4,
        dtype=np.float64,
    )
    W1 = np.zeros((1, 2, 3, 3))
    W1[0, 0, 1, 1] = 1.0
    model.set_params(
        {
            "W1": W1,
            "b1": np.zeros(1),
            "W2": np.eye(4),
            "b2": np.zeros(4),
            "W3": np.eye(4),
            "b3": np.zeros(4),
        }
    )
    channel0 = np.array(
        [
            [1.0, -2.0, 0.5, 3.0],
            [-1.0, 0.0, 2.0, -4.0],
            [-3.0, -1.0, 6.0, 1.0],
            [-2.0, -5.0, 2.0, 7.0],
        ]
    )
    X = np.stack([channel0, np.full((4, 4), 9.0)])[np.newaxis]  # channel 1 is ignored
    np.testing.assert_array_equal(model.loss(X), [[1.0, 3.0, 0.0, 7.0]])


def test_conv_net_rejects_bad_input(rng):
    model = ThreeLayerConvNet(input_dim=(3, 8, 8), num_filters=2, filter_size=3, hidden_dim=4)
    with pytest.raises(
        ValueError,
        match=r"ThreeLayerConvNet.loss: X has shape \(2, 3, 8, 6\), "
        r"expected \(N, 3, 8, 8\)",
    ):
        model.loss(rng.standard_normal((2, 3, 8, 6)))
    with pytest.raises(ValueError, match=r"ThreeLayerConvNet.loss: y holds labels from 0 to 10"):
        model.loss(rng.standard_normal((2, 3, 8, 8)), np.array([0, 10]))
    with pytest.raises(ValueError, match="filter_size must be odd"):
        ThreeLayerConvNet(filter_size=4)
    with pytest.raises(ValueError, match=r"input_dim must be \(C, H, W\)"):
        ThreeLayerConvNet(input_dim=(3, 32))
    with pytest.raises(ValueError, match="expected H >= 2 and W >= 2"):
        ThreeLayerConvNet(input_dim=(3, 1, 8))


# --------------------------------------------------------------------------------------------
# Learning: both models drive a small training set to 100 % accuracy
# --------------------------------------------------------------------------------------------


def random_training_set(shape, n=50, seed=0):
    """``n`` examples of noise with random labels: fitting them is pure memorization."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, *shape)).astype(np.float32)
    y = rng.integers(0, 10, size=n)
    # validating on the training set makes the kept "best" parameters the best fitting ones
    return {"X_train": X, "y_train": y, "X_val": X, "y_val": y}


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
def test_fc_net_overfits_50_examples_within_10_epochs(normalization):
    data = random_training_set((3, 8, 8))
    model = FullyConnectedNet(
        [50, 50], input_dim=192, normalization=normalization, weight_scale=0.1, seed=0
    )
    solver = Solver(
        model,
        data,
        update_rule="adam",
        optim_config={"learning_rate": 1e-2},
        num_epochs=10,
        batch_size=25,
        seed=0,
        verbose=False,
    )
    solver.train()
    assert solver.train_acc_history[0] < 0.5
    assert solver.best_val_acc == 1.0
    assert solver.check_accuracy(data["X_train"], data["y_train"]) == 1.0


def test_conv_net_overfits_50_examples_within_15_epochs():
    data = random_training_set((3, 16, 16))
    model = ThreeLayerConvNet(
        input_dim=(3, 16, 16),
        num_filters=8,
        filter_size=3,
        hidden_dim=100,
        weight_scale=0.05,
        seed=0,
    )
    solver = Solver(
        model,
        data,
        update_rule="adam",
        optim_config={"learning_rate": 1e-2},
        num_epochs=15,
        batch_size=25,
        seed=0,
        verbose=False,
    )
    solver.train()
    assert solver.train_acc_history[0] < 0.5
    assert solver.best_val_acc == 1.0
    assert solver.check_accuracy(data["X_train"], data["y_train"]) == 1.0


def test_the_2017_keywords_are_aliases_of_the_current_ones():
    classic = FullyConnectedNet([5, 4], input_dim=3, dropout=0.25, use_batchnorm=True, seed=0)
    current = FullyConnectedNet(
        [5, 4], input_dim=3, dropout_keep_ratio=0.75, normalization="batchnorm", seed=0
    )
    assert classic.config() == current.config()
    assert classic.dropout_param == {"mode": "train", "p": 0.25, "seed": 0}
    assert classic.normalization == "batchnorm" and len(classic.bn_params) == 2
    plain = FullyConnectedNet([5], input_dim=3, dropout=0, use_batchnorm=False)
    assert not plain.use_dropout and plain.normalization is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dropout": 1.0}, r"dropout is the probability of dropping .* \[0, 1\), got 1.0"),
        ({"dropout": 0.5, "dropout_keep_ratio": 0.5}, "give either dropout .* not both"),
        ({"use_batchnorm": True, "normalization": "layernorm"}, "use_batchnorm=True contradicts"),
        ({"use_batchnorm": 1}, "use_batchnorm must be True or False"),
    ],
)
def test_contradicting_or_bad_2017_keywords_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=f"FullyConnectedNet: {message}"):
        FullyConnectedNet([5], input_dim=3, **kwargs)
