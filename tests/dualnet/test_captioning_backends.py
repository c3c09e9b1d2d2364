"""The two captioning models hold each other: with the same parameters the NumPy model (hand-
derived backward passes) and the PyTorch model (autograd) give the same loss, the same gradients
and the same greedy captions, for every cell type; and parameters travel between them intact.
"""

import numpy as np
import pytest
import torch

import reference_numpy.models as R
import torch_impl.models as T
from dualnet.crosscheck import normwise_error
from reference_numpy.gradcheck import rel_error

pytestmark = pytest.mark.captioning

CELL_TYPES = ["rnn", "lstm", "attention"]
WORDS = ["<NULL>", "<START>", "<END>", "<UNK>", "a", "cat", "dog", "on", "the", "mat", "sits"]
VOCAB = {word: i for i, word in enumerate(WORDS)}


@pytest.fixture(autouse=True)
def one_thread():
    """These models push many tiny tensors through long Python loops: one thread is faster
    than several, and does not slow to a crawl when the machine is busy."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def random_problem(cell_type: str, seed: int, dtype=np.float64, n: int = 3, length: int = 9):
    """A NumPy model with every parameter moved off its initial value, features, and captions
    of random words, each ``<START>`` ... ``<END>`` and then ``<NULL>`` padding."""
    rng = np.random.default_rng(seed)
    model = R.CaptioningRNN(
        VOCAB, input_dim=6, wordvec_dim=5, hidden_dim=4, cell_type=cell_type, dtype=dtype, seed=seed
    )
    model.set_params({k: v + 0.5 * rng.standard_normal(v.shape) for k, v in model.params.items()})
    shape = (n, 6, 4, 4) if cell_type == "attention" else (n, 6)
    features = rng.standard_normal(shape).astype(dtype)
    captions = np.zeros((n, length), dtype=np.int64)
    for row in range(n):
        words = rng.integers(3, len(VOCAB), size=rng.integers(1, length - 1))
        captions[row, : len(words) + 2] = [VOCAB["<START>"], *words, VOCAB["<END>"]]
    return model, features, captions


@pytest.mark.parametrize("cell_type", CELL_TYPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_same_seed_gives_the_same_model(cell_type, dtype):
    numpy_model = R.CaptioningRNN(
        VOCAB, input_dim=6, wordvec_dim=5, hidden_dim=4, cell_type=cell_type, dtype=dtype, seed=11
    )
    torch_model = T.CaptioningRNN(
        VOCAB,
        input_dim=6,
        wordvec_dim=5,
        hidden_dim=4,
        cell_type=cell_type,
        dtype=torch.float32 if dtype == np.float32 else torch.float64,
        seed=11,
    )
    exported = torch_model.numpy_params()
    assert list(exported) == list(numpy_model.params)
    for name, value in numpy_model.params.items():
        assert exported[name].dtype == value.dtype
        np.testing.assert_array_equal(exported[name], value)


@pytest.mark.parametrize("cell_type", CELL_TYPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_parameters_travel_numpy_to_torch_to_numpy_unchanged(cell_type, dtype):
    numpy_model, _, _ = random_problem(cell_type, seed=1, dtype=dtype)
    torch_model = T.CaptioningRNN.from_numpy(numpy_model)
    assert torch_model.W_embed.dtype == (torch.float32 if dtype == np.float32 else torch.float64)
    back = R.CaptioningRNN.from_params(VOCAB, torch_model.numpy_params(), cell_type)
    assert back.dtype == np.dtype(dtype)
    for name, value in numpy_model.params.items():
        np.testing.assert_array_equal(back.params[name], value)
        np.testing.assert_array_equal(getattr(torch_model, name).detach().numpy(), value)


@pytest.mark.parametrize("cell_type", CELL_TYPES)
@pytest.mark.parametrize("seed", [0, 1])
def test_same_loss_and_gradients_in_float64(cell_type, seed):
    numpy_model, features, captions = random_problem(cell_type, seed)
    loss, grads = numpy_model.loss(features, captions)

    torch_model = T.CaptioningRNN.from_numpy(numpy_model)
    torch_loss = torch_model.loss(torch.from_numpy(features), torch.from_numpy(captions))
    torch_loss.backward()
    assert rel_error(loss, torch_loss.item()) <= 1e-9
    for name, grad in grads.items():
        torch_grad = getattr(torch_model, name).grad.numpy()
        assert rel_error(grad, torch_grad) <= 1e-9, name


@pytest.mark.parametrize("cell_type", CELL_TYPES)
def test_same_loss_and_gradients_in_float32(cell_type):
    numpy_model, features, captions = random_problem(cell_type, seed=2, dtype=np.float32)
    loss, grads = numpy_model.loss(features, captions)
    torch_model = T.CaptioningRNN.from_numpy(numpy_model)
    torch_loss = torch_model.loss(torch.from_numpy(features), torch.from_numpy(captions))
    torch_loss.backward()
    assert rel_error(loss, torch_loss.item()) <= 1e-5
    for name, grad in grads.items():
        assert normwise_error(grad, getattr(torch_model, name).grad.numpy()) <= 1e-4, name


def trained_problem(cell_type: str, seed: int, steps: int = 100):
    """A NumPy model after a few steps of gradient descent with momentum on random captions:
    far enough from a random model that its greedy captions differ from image to image and
    end with <END>, not yet so far that each caption is copied exactly."""
    model, features, captions = random_problem(cell_type, seed, n=8)
    velocity = {k: np.zeros_like(v) for k, v in model.params.items()}
    for _ in range(steps):
        _, grads = model.loss(features, captions)
        for k, g in grads.items():
            velocity[k] = 0.9 * velocity[k] - 0.05 * g
            model.params[k] = model.params[k] + velocity[k]
    return model, features


@pytest.mark.parametrize("cell_type", CELL_TYPES)
def test_same_greedy_captions(cell_type):
    numpy_model, features = trained_problem(cell_type, seed=3)
    torch_model = T.CaptioningRNN.from_numpy(numpy_model)
    captions = numpy_model.sample(features, max_length=12)
    torch_captions = torch_model.sample(torch.from_numpy(features), max_length=12)
    np.testing.assert_array_equal(torch_captions.numpy(), captions)
    # the captions are not trivial: different words, and most end before max_length
    assert len(np.unique(captions)) >= 6
    assert (captions == VOCAB["<END>"]).any(axis=1).sum() >= 6


def test_same_attention_weights_while_sampling():
    numpy_model, features = trained_problem("attention", seed=4)
    torch_model = T.CaptioningRNN.from_numpy(numpy_model)
    captions, weights = numpy_model.sample(features, max_length=6, return_attention=True)
    torch_captions, torch_weights = torch_model.sample(
        torch.from_numpy(features), max_length=6, return_attention=True
    )
    np.testing.assert_array_equal(torch_captions.numpy(), captions)
    assert rel_error(weights, torch_weights.numpy()) <= 1e-10
