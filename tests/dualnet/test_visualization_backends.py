"""Network visualization in both backends: the NumPy methods, whose input gradients come from
the hand-derived backward passes, against the PyTorch methods with the same weights; the
PyTorch methods against finite differences and their own defining properties."""

import numpy as np
import pytest
import torch

import torch_impl.models as T
from reference_numpy import visualization as nv
from reference_numpy.gradcheck import rel_error
from reference_numpy.models import FullyConnectedNet, ThreeLayerConvNet
from torch_impl import visualization as tv

pytestmark = pytest.mark.visualization

MEAN, STD = (0.45, 0.5, 0.4), (0.25, 0.2, 0.3)


def twins(kind: str):
    """A float64 NumPy network and its PyTorch twin, both taking pixels in [0, 1]."""
    if kind == "conv":
        model = ThreeLayerConvNet(
            input_dim=(3, 12, 12),
            num_filters=4,
            filter_size=3,
            hidden_dim=12,
            num_classes=5,
            weight_scale=0.2,
            dtype=np.float64,
            seed=0,
        )
        twin = T.ThreeLayerConvNet.from_numpy(model)
    else:
        model = FullyConnectedNet(
            [16, 8],
            input_dim=3 * 12 * 12,
            num_classes=5,
            normalization="batchnorm",
            weight_scale=0.2,
            dtype=np.float64,
            seed=0,
        )
        twin = T.FullyConnectedNet.from_numpy(model)
    return nv.PixelModel(model, MEAN, STD), tv.PixelModel(twin, MEAN, STD).double()


@pytest.fixture
def images():
    rng = np.random.default_rng(3)
    return rng.uniform(0, 1, (4, 3, 12, 12)), np.array([0, 1, 2, 4])


@pytest.mark.parametrize("kind", ["conv", "fc"])
def test_saliency_and_integrated_gradients_agree(kind, images):
    numpy_model, torch_model = twins(kind)
    X, y = images
    Xt, yt = torch.tensor(X), torch.tensor(y)
    assert (
        rel_error(nv.saliency_map(numpy_model, X, y), tv.saliency_map(torch_model, Xt, yt).numpy())
        < 1e-10
    )
    ig_numpy = nv.integrated_gradients(numpy_model, X, y, steps=8)
    ig_torch = tv.integrated_gradients(torch_model, Xt, yt, steps=8).numpy()
    assert rel_error(ig_numpy, ig_torch) < 1e-10
    draws = np.random.default_rng(0).normal(size=(3, *X.shape))
    smooth_numpy = nv.smoothgrad(numpy_model, X, y, draws, noise=0.1)
    smooth_torch = tv.smoothgrad(torch_model, Xt, yt, torch.tensor(draws), noise=0.1)
    assert rel_error(smooth_numpy, smooth_torch.numpy()) < 1e-10
    by_hand = sum(nv.saliency_map(numpy_model, X + 0.1 * z, y) for z in draws) / 3
    assert rel_error(smooth_numpy, by_hand) < 1e-12


@pytest.mark.parametrize("objective", ["score", "log_probability"])
@pytest.mark.parametrize("kind", ["conv", "fc"])
def test_every_fooling_step_agrees(kind, objective, images):
    numpy_model, torch_model = twins(kind)
    X, _ = images
    target = np.array([3, 3, 0, 1])
    X_numpy, X_torch = X.copy(), torch.tensor(X)
    for _ in range(6):
        scores_numpy, X_numpy = nv.fooling_step(numpy_model, X_numpy, target, 0.5, objective)
        scores_torch, X_torch = tv.fooling_step(
            torch_model, X_torch, torch.tensor(target), 0.5, objective
        )
        assert rel_error(scores_numpy, scores_torch.numpy()) < 1e-10
        assert np.abs(X_numpy - X_torch.numpy()).max() < 1e-10
    fooled_numpy, steps_numpy = nv.make_fooling_image(numpy_model, X, target, 0.5, 30, objective)
    fooled_torch, steps_torch = tv.make_fooling_image(
        torch_model, torch.tensor(X), torch.tensor(target), 0.5, 30, objective
    )
    assert steps_numpy.tolist() == steps_torch.tolist()
    assert np.abs(fooled_numpy - fooled_torch.numpy()).max() < 1e-10


def test_attacks_and_class_visualization_agree(images):
    numpy_model, torch_model = twins("conv")
    X, y = images
    Xt, yt = torch.tensor(X), torch.tensor(y)
    assert np.array_equal(
        nv.fgsm(numpy_model, X, y, 0.03), tv.fgsm(torch_model, Xt, yt, 0.03).numpy()
    )
    start = np.random.default_rng(1).uniform(-1, 1, X.shape)
    pgd_numpy = nv.pgd(numpy_model, X, y, 0.03, 0.01, 5, start=start)
    pgd_torch = tv.pgd(torch_model, Xt, yt, 0.03, 0.01, 5, start=torch.tensor(start)).numpy()
    assert np.abs(pgd_numpy - pgd_torch).max() < 1e-10
    targets = (y + 1) % 5
    towards_numpy = nv.pgd(numpy_model, X, targets, 0.03, 0.01, 5, True, start)
    towards_torch = tv.pgd(
        torch_model, Xt, torch.tensor(targets), 0.03, 0.01, 5, True, torch.tensor(start)
    )
    assert np.abs(towards_numpy - towards_torch.numpy()).max() < 1e-10
    assert np.abs(towards_numpy - pgd_numpy).max() > 1e-3  # towards, not away
    jitters = [(1, -2), (0, 1), (-1, 0), (2, 2)]
    options = {"learning_rate": 2.0, "blur_every": 2}
    drawn_numpy = nv.class_visualization(numpy_model, y, X, jitters, **options)
    drawn_torch = tv.class_visualization(torch_model, yt, Xt, jitters, **options).numpy()
    assert np.abs(drawn_numpy - drawn_torch).max() < 1e-10


def test_the_saliency_map_is_the_finite_difference_gradient(images):
    _, torch_model = twins("conv")
    X, y = images
    gradient = tv.class_score_gradient(torch_model, torch.tensor(X[:1]), torch.tensor(y[:1]))[1]
    rng = np.random.default_rng(0)
    for _ in range(5):
        index = tuple(int(rng.integers(0, s)) for s in X[:1].shape)
        plus, minus = X[:1].copy(), X[:1].copy()
        plus[index] += 1e-6
        minus[index] -= 1e-6
        with torch.no_grad():
            difference = (
                torch_model(torch.tensor(plus))[0, y[0]] - torch_model(torch.tensor(minus))[0, y[0]]
            )
        assert float(difference) / 2e-6 == pytest.approx(float(gradient[index]), rel=1e-5, abs=1e-9)


def test_integrated_gradients_are_complete(images):
    _, torch_model = twins("conv")
    X, y = torch.tensor(images[0]), torch.tensor(images[1])
    attributions = tv.integrated_gradients(torch_model, X, y, steps=256)
    with torch.no_grad():
        gap = torch_model(X) - torch_model(torch.zeros_like(X))
    expected = gap.gather(1, y.view(-1, 1)).squeeze(1)
    assert torch.allclose(
        attributions.sum(dim=(1, 2, 3)), expected, rtol=1e-2, atol=1e-3 * expected.abs().max()
    )


def test_the_pixel_model_never_trains_and_never_changes_weights(images):
    _, torch_model = twins("fc")
    torch_model.train()
    assert not torch_model.model.training  # batch norm stays in evaluation mode
    before = {k: v.clone() for k, v in torch_model.state_dict().items()}
    tv.saliency_map(torch_model, torch.tensor(images[0]), torch.tensor(images[1]))
    tv.make_fooling_image(torch_model, torch.tensor(images[0]), torch.tensor([1, 1, 1, 1]), 0.5, 3)
    assert all(p.grad is None for p in torch_model.parameters())
    assert all(torch.equal(before[k], v) for k, v in torch_model.state_dict().items())


def test_numpy_inputs_are_not_mutated(images):
    numpy_model, _ = twins("conv")
    X, y = images
    kept = X.copy()
    nv.make_fooling_image(numpy_model, X, np.array([3, 3, 0, 1]), 0.5, 3)
    nv.pgd(numpy_model, X, y, 0.03, 0.01, 2, start=np.zeros_like(X))
    assert np.array_equal(X, kept)


def test_pgd_stays_in_the_ball_and_in_valid_pixels(images):
    _, torch_model = twins("conv")
    X, y = torch.tensor(images[0]), torch.tensor(images[1])
    start = 2 * torch.rand(X.shape, generator=torch.Generator().manual_seed(0), dtype=X.dtype) - 1
    adversarial = tv.pgd(torch_model, X, y, 0.05, 0.02, 8, start=start)
    assert (adversarial - X).abs().max() <= 0.05 + 1e-12
    assert adversarial.min() >= 0 and adversarial.max() <= 1


def test_the_log_probability_gradient_is_the_score_gradient_minus_the_expected_one(images):
    """Hand calculation: d log p_t / dX = ds_t/dX - sum_k p_k ds_k/dX, each term from the
    score gradients of the NumPy model."""
    numpy_model, _ = twins("conv")
    X, _ = images
    target = np.array([3, 3, 0, 1])
    scores, direct = nv.target_gradient(numpy_model, X, target, "log_probability")
    probs = np.exp(scores - scores.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    expected = nv.class_score_gradient(numpy_model, X, target)[1]
    for k in range(numpy_model.num_classes):
        g_k = nv.class_score_gradient(numpy_model, X, np.full(len(X), k))[1]
        expected = expected - probs[:, k].reshape(-1, 1, 1, 1) * g_k
    assert rel_error(direct, expected) < 1e-10
    with pytest.raises(ValueError, match="objective must be one of"):
        nv.target_gradient(numpy_model, X, target, "margin")


def test_the_loss_of_a_set_of_right_classes_agrees_and_reduces_to_cross_entropy(images):
    numpy_model, torch_model = twins("conv")
    X, y = images
    accepted = np.zeros((4, 5), dtype=bool)
    accepted[np.arange(4), y] = True
    one_class = nv.loss_gradient(numpy_model, X, y)
    assert np.abs(nv.loss_gradient(numpy_model, X, accepted) - one_class).max() < 1e-12
    torch_one = tv.loss_gradient(torch_model, torch.tensor(X), torch.tensor(y)).numpy()
    torch_set = tv.loss_gradient(torch_model, torch.tensor(X), torch.tensor(accepted)).numpy()
    assert np.abs(torch_set - torch_one).max() < 1e-12
    accepted[:, 3] = True  # a second right class for every image
    numpy_two = nv.loss_gradient(numpy_model, X, accepted)
    torch_two = tv.loss_gradient(torch_model, torch.tensor(X), torch.tensor(accepted)).numpy()
    assert rel_error(numpy_two, torch_two) < 1e-9

    def loss(images) -> float:  # -log of the summed probability of the right classes
        scores = torch_model(torch.tensor(images)).detach().numpy()
        p = np.exp(scores - scores.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        return float(-np.log((p * accepted).sum(1)).sum())

    direction = np.random.default_rng(2).normal(size=X.shape)
    h = 1e-6
    numeric = (loss(X + h * direction) - loss(X - h * direction)) / (2 * h)
    assert abs(numeric - float((numpy_two * direction).sum())) < 1e-6 * max(1, abs(numeric))
