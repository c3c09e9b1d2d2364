"""The PyTorch captioning model: its parameters, the loss by hand, greedy sampling, learning
with ``torch.optim``, the parameter exchange, and errors on bad input.

Agreement with the NumPy model is tested in ``tests/dualnet/test_captioning_backends.py``.
"""

import math

import numpy as np
import pytest
import torch

from torch_impl.models import CaptioningRNN

pytestmark = pytest.mark.captioning

F64 = torch.float64
CELL_TYPES = ["rnn", "lstm", "attention"]
WORDS = ["<NULL>", "<START>", "<END>", "<UNK>", "a", "cat", "dog", "on", "the", "mat", "sits"]
VOCAB = {word: i for i, word in enumerate(WORDS)}
SENTENCES = ["a cat sits on the mat", "the dog sits", "a dog on a mat", "the cat"]


@pytest.fixture(autouse=True)
def one_thread():
    """These models push many tiny tensors through long Python loops: one thread is faster
    than several, and does not slow to a crawl when the machine is busy."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def encode(sentences: list[str], length: int) -> torch.Tensor:
    """``<START>`` words ``<END>``, padded with ``<NULL>`` to ``length`` columns."""
    captions = torch.full((len(sentences), length), VOCAB["<NULL>"], dtype=torch.int64)
    for n, sentence in enumerate(sentences):
        ids = [VOCAB["<START>"], *(VOCAB[w] for w in sentence.split()), VOCAB["<END>"]]
        captions[n, : len(ids)] = torch.tensor(ids)
    return captions


def features_for(cell_type: str, n: int, d: int, seed: int = 0) -> torch.Tensor:
    shape = (n, d, 4, 4) if cell_type == "attention" else (n, d)
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=F64)


def small_model(cell_type: str, **kwargs) -> CaptioningRNN:
    return CaptioningRNN(
        VOCAB,
        input_dim=5,
        wordvec_dim=4,
        hidden_dim=3,
        cell_type=cell_type,
        dtype=F64,
        seed=0,
        **kwargs,
    )


@pytest.mark.parametrize("cell_type", CELL_TYPES)
def test_parameters_carry_the_classic_names_and_shapes(cell_type):
    model = small_model(cell_type)
    k = 1 if cell_type == "rnn" else 4
    expected = [
        ("W_embed", (11, 4)),
        ("W_proj", (5, 3)),
        ("b_proj", (3,)),
        ("Wx", (4, 3 * k)),
        ("Wh", (3, 3 * k)),
        ("b", (3 * k,)),
    ]
    expected += [("Wattn", (3, 12))] if cell_type == "attention" else []
    expected += [("W_vocab", (3, 11)), ("b_vocab", (11,))]
    assert [(n, tuple(p.shape)) for n, p in model.named_parameters()] == expected
    assert {n: a.shape for n, a in model.numpy_params().items()} == dict(expected)


@pytest.mark.parametrize("cell_type", CELL_TYPES)
def test_loss_of_a_model_of_zeros_by_hand(cell_type):
    model = small_model(cell_type)
    model.load_numpy_params({k: np.zeros_like(v) for k, v in model.numpy_params().items()})
    captions = encode(SENTENCES, 9)
    loss = model.loss(features_for(cell_type, 4, 5), captions)
    kept = int((captions[:, 1:] != VOCAB["<NULL>"]).sum())
    assert loss.item() == pytest.approx(kept / 4 * math.log(len(VOCAB)), rel=1e-14)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize("cell_type", CELL_TYPES)
def test_autograd_gradients_match_finite_differences(cell_type):
    model = small_model(cell_type)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.3 * torch.randn(param.shape, generator=g, dtype=F64))
    features, captions = features_for(cell_type, 2, 5, seed=1), encode(SENTENCES[1:3], 7)
    model.loss(features, captions).backward()
    h = 1e-5
    with torch.no_grad():
        for name, param in model.named_parameters():
            entries, numerical = param.view(-1), torch.zeros(param.numel(), dtype=F64)
            for i in range(param.numel()):
                original = entries[i].item()
                entries[i] = original + h
                plus = model.loss(features, captions).item()
                entries[i] = original - h
                minus = model.loss(features, captions).item()
                entries[i] = original
                numerical[i] = (plus - minus) / (2 * h)
            grad = param.grad.view(-1)
            # relative to the largest entries, as for the NumPy model: a finite difference of
            # the whole loss has an absolute rounding error of about 1e-10 in every entry
            error = (grad - numerical).abs().max() / (grad.abs() + numerical.abs()).max()
            assert error < 1e-7, name


def test_sample_is_greedy_and_stops_at_end():
    model = CaptioningRNN(VOCAB, input_dim=2, wordvec_dim=2, hidden_dim=2, dtype=F64)
    params = {k: np.zeros_like(v) for k, v in model.numpy_params().items()}
    params["W_embed"][VOCAB["<START>"]] = [3.0, 0.0]
    params["W_embed"][VOCAB["cat"]] = [0.0, 3.0]
    params["Wx"] = np.eye(2)
    params["W_vocab"][0, VOCAB["cat"]] = 10.0  # <START> -> unit 0 -> "cat"
    params["W_vocab"][1, VOCAB["<END>"]] = 10.0  # "cat" -> unit 1 -> <END>
    model.load_numpy_params(params)
    captions = model.sample(torch.ones(2, 2, dtype=F64), max_length=5)
    cat, end = VOCAB["cat"], VOCAB["<END>"]
    torch.testing.assert_close(captions, torch.tensor([[cat, end, 0, 0, 0]] * 2))


@pytest.mark.parametrize("cell_type", CELL_TYPES)
def test_the_model_overfits_four_captions_with_adam(cell_type):
    features = features_for(cell_type, 4, 8)
    captions = encode(SENTENCES, 8)
    model = CaptioningRNN(
        VOCAB, input_dim=8, wordvec_dim=8, hidden_dim=16, cell_type=cell_type, dtype=F64, seed=0
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(100):
        optimizer.zero_grad()
        loss = model(features, captions)
        loss.backward()
        optimizer.step()
    assert model.loss(features, captions).item() < 0.1
    torch.testing.assert_close(model.sample(features, max_length=7), captions[:, 1:])


def test_a_float32_model_and_conversion():
    model = CaptioningRNN(VOCAB, input_dim=5, wordvec_dim=4, hidden_dim=3, cell_type="lstm")
    assert all(p.dtype == torch.float32 for p in model.parameters())
    loss = model.loss(features_for("lstm", 2, 5), encode(SENTENCES[:2], 8))  # features cast
    assert loss.dtype == torch.float32
    assert all(a.dtype == np.float32 for a in model.numpy_params().values())
    model.double()
    assert model.loss(features_for("lstm", 2, 5), encode(SENTENCES[:2], 8)).dtype == F64


def test_numpy_params_are_copies_and_load_back():
    model = small_model("attention")
    params = model.numpy_params()
    params["Wx"] += 1.0
    assert not np.array_equal(model.Wx.detach().numpy(), params["Wx"])
    model.load_numpy_params(params)
    np.testing.assert_array_equal(model.Wx.detach().numpy(), params["Wx"])
    copy = CaptioningRNN.from_numpy(params, word_to_idx=VOCAB, cell_type="attention")
    assert (copy.input_dim, copy.wordvec_dim, copy.hidden_dim) == (5, 4, 3)
    assert copy.W_embed.dtype == F64
    for name, value in copy.numpy_params().items():
        np.testing.assert_array_equal(value, params[name])


def test_bad_parameters_are_rejected():
    model = small_model("rnn")
    params = model.numpy_params()
    with pytest.raises(
        ValueError,
        match=r"load_numpy_params: params\['Wh'\] has shape \(2, 3\), "
        r"expected \(3, 3\)",
    ):
        model.load_numpy_params(dict(params, Wh=np.zeros((2, 3))))
    with pytest.raises(ValueError, match="load_numpy_params: params must have the keys"):
        model.load_numpy_params({"Wh": params["Wh"]})
    with pytest.raises(ValueError, match="from_numpy: a dict of parameters needs word_to_idx"):
        CaptioningRNN.from_numpy(params)
    with pytest.raises(ValueError, match="from_numpy: parameters must be float32 or float64"):
        CaptioningRNN.from_numpy(
            {k: v.astype(np.float16) for k, v in params.items()},
            word_to_idx=VOCAB,
            cell_type="rnn",
        )


@pytest.mark.parametrize(
    ("vocab", "message"),
    [
        ({"<START>": 0, "<END>": 1}, "word_to_idx lacks <NULL>"),
        ({"<NULL>": 0, "<START>": 1, "<END>": 1}, "word_to_idx must give its 3 words distinct"),
    ],
)
def test_a_bad_vocabulary_is_rejected(vocab, message):
    with pytest.raises(ValueError, match=f"CaptioningRNN: {message}"):
        CaptioningRNN(vocab)


def test_the_loss_needs_only_null_and_sampling_needs_start_and_end():
    model = CaptioningRNN(
        {"<NULL>": 0, "cat": 2, "dog": 3}, input_dim=4, wordvec_dim=3, hidden_dim=5, seed=0
    )
    loss = model.loss(torch.ones(2, 4), torch.tensor([[1, 2, 0], [2, 1, 1]]))
    assert torch.isfinite(loss)
    with pytest.raises(
        ValueError, match=r"^CaptioningRNN.sample: word_to_idx lacks <START>, <END>; sampling"
    ):
        model.sample(torch.ones(2, 4))


def test_bad_inputs_are_rejected():
    model = small_model("attention")
    features, captions = features_for("attention", 2, 5), encode(SENTENCES[:2], 8)
    captions[0, 2] = 42
    with pytest.raises(
        ValueError,
        match=r"CaptioningRNN.loss: captions\[0, 2\] = 42 lies outside \[0, 11\), expected "
        r"indices into the vocabulary",
    ):
        model.loss(features, captions)
    with pytest.raises(
        ValueError,
        match=r"CaptioningRNN.loss: features has shape \(2, 5\), expected \(N, D, 4, 4\) with "
        r"D = input_dim = 5",
    ):
        model.loss(features.mean(dim=(2, 3)), encode(SENTENCES[:2], 8))
    with pytest.raises(ValueError, match=r"features has shape \(2, 5\), expected \(N, 3\)"):
        CaptioningRNN(VOCAB, input_dim=3, cell_type="lstm").sample(torch.zeros(2, 5))
    with pytest.raises(
        ValueError, match="features is on meta but the model's parameters are on cpu"
    ):
        model.loss(torch.empty(2, 5, 4, 4, device="meta"), encode(SENTENCES[:2], 8))
    with pytest.raises(ValueError, match="captions is on meta but the model's parameters are on"):
        model.loss(features, encode(SENTENCES[:2], 8).to("meta"))
    with pytest.raises(ValueError, match="cell_type must be one of"):
        CaptioningRNN(VOCAB, cell_type="gru")
    with pytest.raises(ValueError, match="dtype must be a floating-point torch.dtype"):
        CaptioningRNN(VOCAB, dtype=np.float32)
