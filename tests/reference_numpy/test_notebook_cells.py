"""The check cells of the classic course notebooks, with only their imports changed.

Each test rebuilds one cell of cs231n 2017 assignments 2 and 3 (FullyConnectedNets,
ConvolutionalNetworks, RNN_Captioning, LSTM_Captioning, GANs-PyTorch) from its published
deterministic inputs and compares with the numbers the notebook publishes, to the tolerance
the notebook asks for. Cells whose inputs come from ``np.random.seed(231)`` use NumPy's legacy
generator (``numpy.random.RandomState``), which reproduces them exactly.
"""

import numpy as np
import pytest
import torch

from reference_numpy.conv import conv_forward_naive, max_pool_forward_naive
from reference_numpy.gradcheck import eval_numerical_gradient_array, rel_error
from reference_numpy.layer_utils import affine_relu_backward, affine_relu_forward
from reference_numpy.layers import affine_forward, relu_forward
from reference_numpy.losses import softmax_loss, svm_loss
from reference_numpy.models import CaptioningRNN, TwoLayerNet
from reference_numpy.optim import adam, rmsprop, sgd_momentum
from reference_numpy.rnn import rnn_step_forward
from torch_impl.gan import sample_noise

N, D = 4, 5  # the update-rule cells


def update_rule_inputs():
    w = np.linspace(-0.4, 0.6, num=N * D).reshape(N, D)
    dw = np.linspace(-0.6, 0.4, num=N * D).reshape(N, D)
    return w, dw


# --------------------------------------------------------------------------------------------
# FullyConnectedNets (cs231n 2017 A2)
# --------------------------------------------------------------------------------------------


def test_affine_forward_cell():
    x = np.linspace(-0.1, 0.5, num=2 * 120).reshape(2, 4, 5, 6)
    w = np.linspace(-0.2, 0.3, num=3 * 120).reshape(120, 3)
    b = np.linspace(-0.3, 0.1, num=3)
    out, _ = affine_forward(x, w, b)
    correct_out = np.array(
        [[1.49834967, 1.70660132, 1.91485297], [3.25553199, 3.5141327, 3.77273342]]
    )
    assert rel_error(out, correct_out) < 1e-9


def test_relu_forward_cell():
    out, _ = relu_forward(np.linspace(-0.5, 0.5, num=12).reshape(3, 4))
    correct_out = np.array(
        [
            [0.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.04545455, 0.13636364],
            [0.22727273, 0.31818182, 0.40909091, 0.5],
        ]
    )
    assert rel_error(out, correct_out) < 5e-8 * 1.01


def test_affine_relu_sandwich_cell():
    legacy = np.random.RandomState(231)  # the notebook's np.random.seed(231)
    x = legacy.randn(2, 3, 4)
    w = legacy.randn(12, 10)
    b = legacy.randn(10)
    dout = legacy.randn(2, 10)
    _, cache = affine_relu_forward(x, w, b)
    dx, dw, db = affine_relu_backward(dout, cache)
    for value, grad in ((x, dx), (w, dw), (b, db)):
        numerical = eval_numerical_gradient_array(
            lambda _: affine_relu_forward(x, w, b)[0], value, dout
        )
        assert rel_error(numerical, grad) < 1e-9


def test_svm_and_softmax_loss_cell():
    legacy = np.random.RandomState(231)  # the notebook's np.random.seed(231)
    x = 0.001 * legacy.randn(50, 10)
    y = legacy.randint(10, size=50)
    assert svm_loss(x, y)[0] == pytest.approx(8.999602749096233, abs=1e-12)
    assert softmax_loss(x, y)[0] == pytest.approx(2.302545844500738, abs=1e-12)


def two_layer_net_cell():
    n, d, h, c = 3, 5, 50, 7
    model = TwoLayerNet(input_dim=d, hidden_dim=h, num_classes=c, weight_scale=1e-3)
    model.params["W1"] = np.linspace(-0.7, 0.3, num=d * h).reshape(d, h)
    model.params["b1"] = np.linspace(-0.1, 0.9, num=h)
    model.params["W2"] = np.linspace(-0.3, 0.4, num=h * c).reshape(h, c)
    model.params["b2"] = np.linspace(-0.9, 0.1, num=c)
    X = np.linspace(-5.5, 4.5, num=n * d).reshape(d, n).T
    return model, X, np.asarray([0, 5, 1])


def test_two_layer_net_cell():
    model, X, y = two_layer_net_cell()
    correct_scores = np.asarray(
        [
            [
                11.53165108,
                12.2917344,
                13.05181771,
                13.81190102,
                14.57198434,
                15.33206765,
                16.09215096,
            ],
            [
                12.05769098,
                12.74614105,
                13.43459113,
                14.1230412,
                14.81149128,
                15.49994135,
                16.18839143,
            ],
            [
                12.58373087,
                13.20054771,
                13.81736455,
                14.43418138,
                15.05099822,
                15.66781506,
                16.2846319,
            ],
        ]
    )
    assert np.abs(model.loss(X) - correct_scores).sum() < 1e-6
    assert abs(model.loss(X, y)[0] - 3.4702243556) < 1e-10
    model.reg = 1.0
    assert abs(model.loss(X, y)[0] - 26.5948426952) < 1e-10


def test_two_layer_net_eecs_penalty_is_reg_times_the_squared_weights():
    # EECS 498 A3 publishes 49.7194610 for the same cell: its penalty is reg * sum(W^2), twice
    # dualnet's (and cs231n's) 0.5 * reg * sum(W^2)
    model, X, y = two_layer_net_cell()
    data_loss = model.loss(X, y)[0]
    squares = sum(float(np.sum(model.params[k] ** 2)) for k in ("W1", "W2"))
    assert abs(data_loss + 1.0 * squares - 49.7194610) < 1e-6


def test_sgd_momentum_cell():
    w, dw = update_rule_inputs()
    v = np.linspace(0.6, 0.9, num=N * D).reshape(N, D)
    config = {"learning_rate": 1e-3, "velocity": v}
    next_w, _ = sgd_momentum(w, dw, config=config)
    expected_next_w = np.asarray(
        [
            [0.1406, 0.20738947, 0.27417895, 0.34096842, 0.40775789],
            [0.47454737, 0.54133684, 0.60812632, 0.67491579, 0.74170526],
            [0.80849474, 0.87528421, 0.94207368, 1.00886316, 1.07565263],
            [1.14244211, 1.20923158, 1.27602105, 1.34281053, 1.4096],
        ]
    )
    expected_velocity = np.asarray(
        [
            [0.5406, 0.55475789, 0.56891579, 0.58307368, 0.59723158],
            [0.61138947, 0.62554737, 0.63970526, 0.65386316, 0.66802105],
            [0.68217895, 0.69633684, 0.71049474, 0.72465263, 0.73881053],
            [0.75296842, 0.76712632, 0.78128421, 0.79544211, 0.8096],
        ]
    )
    assert rel_error(next_w, expected_next_w) < 1e-8
    assert rel_error(expected_velocity, config["velocity"]) < 1e-8


def test_rmsprop_cell():
    w, dw = update_rule_inputs()
    cache = np.linspace(0.6, 0.9, num=N * D).reshape(N, D)
    config = {"learning_rate": 1e-2, "cache": cache}
    next_w, _ = rmsprop(w, dw, config=config)
    expected_next_w = np.asarray(
        [
            [-0.39223849, -0.34037513, -0.28849239, -0.23659121, -0.18467247],
            [-0.132737, -0.08078555, -0.02881884, 0.02316247, 0.07515774],
            [0.12716641, 0.17918792, 0.23122175, 0.28326742, 0.33532447],
            [0.38739248, 0.43947102, 0.49155973, 0.54365823, 0.59576619],
        ]
    )
    expected_cache = np.asarray(
        [
            [0.5976, 0.6126277, 0.6277108, 0.64284931, 0.65804321],
            [0.67329252, 0.68859723, 0.70395734, 0.71937285, 0.73484377],
            [0.75037008, 0.7659518, 0.78158892, 0.79728144, 0.81302936],
            [0.82883269, 0.84469141, 0.86060554, 0.87657507, 0.8926],
        ]
    )
    assert rel_error(expected_next_w, next_w) < 1e-7
    assert rel_error(expected_cache, config["cache"]) < 1e-8


def test_adam_cell():
    w, dw = update_rule_inputs()
    m = np.linspace(0.6, 0.9, num=N * D).reshape(N, D)
    v = np.linspace(0.7, 0.5, num=N * D).reshape(N, D)
    config = {"learning_rate": 1e-2, "m": m, "v": v, "t": 5}
    next_w, _ = adam(w, dw, config=config)
    expected_next_w = np.asarray(
        [
            [-0.40094747, -0.34836187, -0.29577703, -0.24319299, -0.19060977],
            [-0.1380274, -0.08544591, -0.03286534, 0.01971428, 0.0722929],
            [0.1248705, 0.17744702, 0.23002243, 0.28259667, 0.33516969],
            [0.38774145, 0.44031188, 0.49288093, 0.54544852, 0.59801459],
        ]
    )
    expected_v = np.asarray(
        [
            [0.69966, 0.68908382, 0.67851319, 0.66794809, 0.65738853],
            [0.64683452, 0.63628604, 0.6257431, 0.61520571, 0.60467385],
            [0.59414753, 0.58362676, 0.57311152, 0.56260183, 0.55209767],
            [0.54159906, 0.53110598, 0.52061845, 0.51013645, 0.49966],
        ]
    )
    expected_m = np.asarray(
        [
            [0.48, 0.49947368, 0.51894737, 0.53842105, 0.55789474],
            [0.57736842, 0.59684211, 0.61631579, 0.63578947, 0.65526316],
            [0.67473684, 0.69421053, 0.71368421, 0.73315789, 0.75263158],
            [0.77210526, 0.79157895, 0.81105263, 0.83052632, 0.85],
        ]
    )
    assert rel_error(expected_next_w, next_w) < 1e-6
    assert rel_error(expected_v, config["v"]) < 1e-8
    assert rel_error(expected_m, config["m"]) < 1e-8
    assert config["t"] == 6


# --------------------------------------------------------------------------------------------
# ConvolutionalNetworks (cs231n 2017 A2)
# --------------------------------------------------------------------------------------------


def test_conv_forward_naive_cell():
    x = np.linspace(-0.1, 0.5, num=2 * 3 * 4 * 4).reshape(2, 3, 4, 4)
    w = np.linspace(-0.2, 0.3, num=3 * 3 * 4 * 4).reshape(3, 3, 4, 4)
    b = np.linspace(-0.1, 0.2, num=3)
    out, _ = conv_forward_naive(x, w, b, {"stride": 2, "pad": 1})
    correct_out = np.array(
        [
            [
                [[-0.08759809, -0.10987781], [-0.18387192, -0.2109216]],
                [[0.21027089, 0.21661097], [0.22847626, 0.23004637]],
                [[0.50813986, 0.54309974], [0.64082444, 0.67101435]],
            ],
            [
                [[-0.98053589, -1.03143541], [-1.19128892, -1.24695841]],
                [[0.69108355, 0.66880383], [0.59480972, 0.56776003]],
                [[2.36270298, 2.36904306], [2.38090835, 2.38247847]],
            ],
        ]
    )
    assert rel_error(out, correct_out) < 1e-7


def test_max_pool_forward_naive_cell():
    x = np.linspace(-0.3, 0.4, num=2 * 3 * 4 * 4).reshape(2, 3, 4, 4)
    out, _ = max_pool_forward_naive(x, {"pool_width": 2, "pool_height": 2, "stride": 2})
    correct_out = np.array(
        [
            [
                [[-0.26315789, -0.24842105], [-0.20421053, -0.18947368]],
                [[-0.14526316, -0.13052632], [-0.08631579, -0.07157895]],
                [[-0.02736842, -0.01263158], [0.03157895, 0.04631579]],
            ],
            [
                [[0.09052632, 0.10526316], [0.14947368, 0.16421053]],
                [[0.20842105, 0.22315789], [0.26736842, 0.28210526]],
                [[0.32631579, 0.34105263], [0.38526316, 0.4]],
            ],
        ]
    )
    assert rel_error(out, correct_out) < 1e-7


# --------------------------------------------------------------------------------------------
# RNN_Captioning and LSTM_Captioning (cs231n 2017 A3)
# --------------------------------------------------------------------------------------------


def test_rnn_step_forward_cell():
    n, d, h = 3, 10, 4
    x = np.linspace(-0.4, 0.7, num=n * d).reshape(n, d)
    prev_h = np.linspace(-0.2, 0.5, num=n * h).reshape(n, h)
    Wx = np.linspace(-0.1, 0.9, num=d * h).reshape(d, h)
    Wh = np.linspace(-0.3, 0.7, num=h * h).reshape(h, h)
    b = np.linspace(-0.2, 0.4, num=h)
    next_h, _ = rnn_step_forward(x, prev_h, Wx, Wh, b)
    expected_next_h = np.asarray(
        [
            [-0.58172089, -0.50182032, -0.41232771, -0.31410098],
            [0.66854692, 0.79562378, 0.87755553, 0.92795967],
            [0.97934501, 0.99144213, 0.99646691, 0.99854353],
        ]
    )
    assert rel_error(expected_next_h, next_h) < 1e-8


@pytest.mark.parametrize(
    ("cell_type", "features_from", "expected_loss"),
    [("rnn", -1.5, 9.83235591003), ("lstm", -0.5, 9.82445935443)],
)
def test_captioning_rnn_loss_cell(cell_type, features_from, expected_loss):
    n, d, w, h, t = 10, 20, 30, 40, 13
    word_to_idx = {"<NULL>": 0, "cat": 2, "dog": 3}
    v = len(word_to_idx)
    model = CaptioningRNN(
        word_to_idx, input_dim=d, wordvec_dim=w, hidden_dim=h, cell_type=cell_type, dtype=np.float64
    )
    for k, value in model.params.items():
        model.params[k] = np.linspace(-1.4, 1.3, num=value.size).reshape(*value.shape)
    stop = 0.3 if cell_type == "rnn" else 1.7
    features = np.linspace(features_from, stop, num=n * d).reshape(n, d)
    captions = (np.arange(n * t) % v).reshape(n, t)
    loss, _ = model.loss(features, captions)
    assert abs(loss - expected_loss) < 1e-10


# --------------------------------------------------------------------------------------------
# GANs-PyTorch (cs231n 2017 A3)
# --------------------------------------------------------------------------------------------


def test_sample_noise_cell():
    torch.manual_seed(231)
    z = sample_noise(3, 4)
    np_z = z.cpu().numpy()
    assert np_z.shape == (3, 4)
    assert torch.is_tensor(z)
    assert np.all(np_z >= -1.0) and np.all(np_z <= 1.0)
    assert np.any(np_z < 0.0) and np.any(np_z > 0.0)
    torch.manual_seed(231)
    assert torch.equal(sample_noise(3, 4), z)  # the seed makes it reproducible
