"""The NumPy captioning model: gradients against finite differences, the loss by hand, greedy
sampling, learning, and errors on bad input.

Agreement with the PyTorch model is tested in ``tests/dualnet/test_captioning_backends.py``.
"""

import math

import numpy as np
import pytest

from reference_numpy.gradcheck import eval_numerical_gradient, rel_error
from reference_numpy.models import CaptioningRNN

pytestmark = pytest.mark.captioning

CELL_TYPES = ["rnn", "lstm", "attention"]
WORDS = ["<NULL>", "<START>", "<END>", "<UNK>", "a", "cat", "dog", "on", "the", "mat", "sits"]
VOCAB = {word: i for i, word in enumerate(WORDS)}
SENTENCES = ["a cat sits on the mat", "the dog sits", "a dog on a mat", "the cat"]


def encode(sentences: list[str], length: int) -> np.ndarray:
    """``<START>`` words ``<END>``, padded with ``<NULL>`` to ``length`` columns."""
    captions = np.full((len(sentences), length), VOCAB["<NULL>"], dtype=np.int64)
    for n, sentence in enumerate(sentences):
        ids = [VOCAB["<START>"], *(VOCAB[w] for w in sentence.split()), VOCAB["<END>"]]
        captions[n, : len(ids)] = ids
    return captions


def features_for(cell_type: str, rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    shape = (n, d, 4, 4) if cell_type == "attention" else (n, d)
    return rng.standard_normal(shape)


def tiny_model(cell_type: str, rng: np.random.Generator) -> CaptioningRNN:
    """A float64 model whose biases and weights are all away from their initial zeros."""
    model = CaptioningRNN(
        VOCAB,
        input_dim=5,
        wordvec_dim=4,
        hidden_dim=3,
        cell_type=cell_type,
        dtype=np.float64,
        seed=1,
    )
    model.set_params({k: v + 0.3 * rng.standard_normal(v.shape) for k, v in model.params.items()})
    return model


def error_relative_to_largest(x: np.ndarray, y: np.ndarray) -> float:
    """Largest difference relative to the largest entries. A finite difference of the whole
    loss carries an absolute rounding error of about eps * |loss| / h ~ 1e-10 in every entry,
    so an entry that happens to be near zero has a large elementwise relative error even when
    the gradient is right; relative to the largest entries, any wrong entry still shows."""
    return float(np.max(np.abs(x - y)) / np.max(np.abs(x) + np.abs(y)))


@pytest.mark.parametrize("cell_type", CELL_TYPES)
def test_every_gradient_matches_finite_differences(cell_type, rng):
    model = tiny_model(cell_type, rng)
    features = features_for(cell_type, rng, 2, 5)
    captions = encode(SENTENCES[1:3], 7)
    _, grads = model.loss(features, captions)
    assert list(grads) == list(model.params)
    for name, param in model.params.items():
        numerical = eval_numerical_gradient(lambda _: model.loss(features, captions)[0], param)
        assert grads[name].shape == param.shape
        assert error_relative_to_largest(grads[name], numerical) < 1e-7, name
        assert rel_error(grads[name], numerical) < 1e-4, name


@pytest.mark.parametrize("cell_type", CELL_TYPES)
def test_loss_of_a_model_of_zeros_by_hand(cell_type, rng):
    # every score is 0: each kept word costs log V; <NULL> targets cost nothing
    model = CaptioningRNN(
        VOCAB, input_dim=5, wordvec_dim=4, hidden_dim=3, cell_type=cell_type, dtype=np.float64
    )
    model.set_params({k: np.zeros_like(v) for k, v in model.params.items()})
    captions = encode(SENTENCES, 9)
    loss, grads = model.loss(features_for(cell_type, rng, 4, 5), captions)
    targets = captions[:, 1:]
    kept = targets != VOCAB["<NULL>"]
    assert loss == pytest.approx(kept.sum() / 4 * math.log(len(VOCAB)), rel=1e-14)
    expected = np.full(len(VOCAB), kept.sum() / len(VOCAB))
    np.add.at(expected, targets[kept], -1.0)
    np.testing.assert_allclose(grads["b_vocab"], expected / 4, rtol=1e-13, atol=1e-16)


@pytest.mark.parametrize("cell_type", CELL_TYPES)
def test_padding_changes_nothing(cell_type, rng):
    model = tiny_model(cell_type, rng)
    features = features_for(cell_type, rng, 1, 5)
    short, padded = encode(SENTENCES[1:2], 5), encode(SENTENCES[1:2], 9)
    loss_short, grads_short = model.loss(features, short)
    loss_padded, grads_padded = model.loss(features, padded)
    assert loss_padded == pytest.approx(loss_short, rel=1e-14)
    for name in grads_short:
        np.testing.assert_allclose(grads_padded[name], grads_short[name], rtol=1e-12, atol=1e-15)


def test_sample_is_greedy_and_stops_at_end():
    # a hand-built RNN: <START> lights hidden unit 0, which scores "cat"; "cat" lights unit 1,
    # which scores <END>. Wh = 0, so each word depends on the previous word alone.
    model = CaptioningRNN(VOCAB, input_dim=2, wordvec_dim=2, hidden_dim=2, dtype=np.float64)
    params = {k: np.zeros_like(v) for k, v in model.params.items()}
    params["W_embed"][VOCAB["<START>"]] = [3.0, 0.0]
    params["W_embed"][VOCAB["cat"]] = [0.0, 3.0]
    params["Wx"] = np.eye(2)
    params["W_vocab"][0, VOCAB["cat"]] = 10.0
    params["W_vocab"][1, VOCAB["<END>"]] = 10.0
    model.set_params(params)
    captions = model.sample(np.ones((2, 2)), max_length=6)
    cat, end, null = VOCAB["cat"], VOCAB["<END>"], VOCAB["<NULL>"]
    np.testing.assert_array_equal(captions, [[cat, end, null, null, null, null]] * 2)
    assert captions.dtype == np.int64

    # without the way to <END> the caption runs to max_length
    params["W_vocab"][1, VOCAB["<END>"]] = 0.0
    params["W_vocab"][1, cat] = 10.0
    model.set_params(params)
    np.testing.assert_array_equal(model.sample(np.ones((1, 2)), max_length=4), [[cat] * 4])


def adam(model: CaptioningRNN, features, captions, steps: int, lr: float) -> list[float]:
    """Plain Adam on every parameter; returns the loss before each step."""
    first = {k: np.zeros_like(v) for k, v in model.params.items()}
    second = {k: np.zeros_like(v) for k, v in model.params.items()}
    losses = []
    for t in range(1, steps + 1):
        loss, grads = model.loss(features, captions)
        losses.append(float(loss))
        for k, g in grads.items():
            first[k] = 0.9 * first[k] + 0.1 * g
            second[k] = 0.999 * second[k] + 0.001 * g**2
            step = lr * (first[k] / (1 - 0.9**t)) / (np.sqrt(second[k] / (1 - 0.999**t)) + 1e-8)
            model.params[k] = model.params[k] - step
    return losses


@pytest.mark.parametrize("cell_type", CELL_TYPES)
def test_the_model_overfits_four_captions(cell_type):
    rng = np.random.default_rng(0)
    features = features_for(cell_type, rng, 4, 8)
    captions = encode(SENTENCES, 8)
    model = CaptioningRNN(
        VOCAB,
        input_dim=8,
        wordvec_dim=8,
        hidden_dim=16,
        cell_type=cell_type,
        dtype=np.float64,
        seed=0,
    )
    losses = adam(model, features, captions, steps=100, lr=0.05)
    words_per_caption = (captions[:, 1:] != 0).sum() / 4
    assert losses[0] == pytest.approx(words_per_caption * math.log(len(VOCAB)), rel=0.1)
    assert losses[-1] < 0.1
    # greedy sampling now reproduces every caption, <END> included, then <NULL>
    np.testing.assert_array_equal(model.sample(features, max_length=7), captions[:, 1:])


def test_attention_weights_of_every_step(rng):
    model = tiny_model("attention", rng)
    features = features_for("attention", rng, 3, 5)
    captions, weights = model.sample(features, max_length=5, return_attention=True)
    assert weights.shape == (3, 5, 4, 4)
    running = np.concatenate([np.ones((3, 1), bool), (captions != VOCAB["<END>"])[:, :-1]], 1)
    running = np.cumprod(running, axis=1).astype(bool)  # steps up to and including <END>
    np.testing.assert_allclose(weights.sum(axis=(2, 3))[running], 1.0, rtol=1e-14)
    assert np.all(weights[~running] == 0)


def test_initial_parameters_follow_the_classic_scales():
    model = CaptioningRNN(
        VOCAB, input_dim=400, wordvec_dim=300, hidden_dim=200, cell_type="attention", seed=3
    )
    p = model.params
    assert {k: v.shape for k, v in p.items()} == {
        "W_embed": (11, 300),
        "W_proj": (400, 200),
        "b_proj": (200,),
        "Wx": (300, 800),
        "Wh": (200, 800),
        "b": (800,),
        "Wattn": (200, 800),
        "W_vocab": (200, 11),
        "b_vocab": (11,),
    }
    assert all(v.dtype == np.float32 for v in p.values())
    assert p["W_embed"].std() == pytest.approx(0.01, rel=0.05)
    for name, fan_in in [("W_proj", 400), ("Wx", 300), ("Wh", 200), ("Wattn", 200)]:
        assert p[name].std() * math.sqrt(fan_in) == pytest.approx(1.0, rel=0.02), name
    assert not any(p[name].any() for name in ("b_proj", "b", "b_vocab"))
    again = CaptioningRNN(
        VOCAB, input_dim=400, wordvec_dim=300, hidden_dim=200, cell_type="attention", seed=3
    )
    assert all(np.array_equal(p[k], again.params[k]) for k in p)


def test_a_float32_model_computes_in_float32(rng):
    model = CaptioningRNN(VOCAB, input_dim=5, wordvec_dim=4, hidden_dim=3, cell_type="lstm")
    loss, grads = model.loss(rng.standard_normal((2, 5)), encode(SENTENCES[:2], 8))
    assert loss.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())


@pytest.mark.parametrize(
    ("vocab", "message"),
    [
        ({"cat": 0, "<START>": 1}, "word_to_idx lacks <NULL>"),
        (
            {"<NULL>": 0, "<START>": 1, "<END>": 1},
            r"word_to_idx must give its 3 words distinct non-negative ids, got \[0, 1, 1\]",
        ),
        (
            {"<NULL>": 0, "cat": -1},
            r"word_to_idx must give its 2 words distinct non-negative ids, got \[-1, 0\]",
        ),
        (["<NULL>", "<START>", "<END>"], "word_to_idx must be a dict"),
    ],
)
def test_a_bad_vocabulary_is_rejected(vocab, message):
    with pytest.raises(ValueError, match=f"CaptioningRNN: {message}"):
        CaptioningRNN(vocab)


def test_the_loss_needs_only_null_and_sampling_needs_start_and_end():
    # the classic notebook's vocabulary: no <START>, no <END>, V = len(word_to_idx) = 3
    model = CaptioningRNN(
        {"<NULL>": 0, "cat": 2, "dog": 3},
        input_dim=4,
        wordvec_dim=3,
        hidden_dim=5,
        dtype=np.float64,
        seed=0,
    )
    assert model.params["W_embed"].shape == (3, 3)
    captions = np.array([[1, 2, 0], [2, 1, 1]])
    loss, grads = model.loss(np.ones((2, 4)), captions)
    assert np.isfinite(loss) and grads.keys() == model.params.keys()
    with pytest.raises(
        ValueError, match=r"^CaptioningRNN.sample: word_to_idx lacks <START>, <END>; sampling"
    ):
        model.sample(np.ones((2, 4)))
    model = CaptioningRNN({"<NULL>": 0, "<START>": 1, "<END>": 5}, input_dim=4, seed=0)
    with pytest.raises(ValueError, match=r"sample: <END> has id 5, outside the ids 0 \.\. 2"):
        model.sample(np.ones((2, 4), dtype=np.float32))


def test_bad_settings_are_rejected():
    with pytest.raises(ValueError, match="cell_type must be one of 'rnn', 'lstm', 'attention'"):
        CaptioningRNN(VOCAB, cell_type="gru")
    with pytest.raises(ValueError, match="hidden_dim must be a positive integer, got 0"):
        CaptioningRNN(VOCAB, hidden_dim=0)
    with pytest.raises(ValueError, match="dtype must be a floating-point type"):
        CaptioningRNN(VOCAB, dtype=np.int64)


def test_a_caption_id_outside_the_vocabulary_is_rejected(rng):
    model = tiny_model("rnn", rng)
    captions = encode(SENTENCES[:2], 8)
    captions[1, 3] = 11
    with pytest.raises(
        ValueError,
        match=r"CaptioningRNN.loss: captions\[1, 3\] = 11 lies outside \[0, 11\), expected "
        r"indices into the vocabulary",
    ):
        model.loss(rng.standard_normal((2, 5)), captions)
    with pytest.raises(ValueError, match="captions must hold integer indices"):
        model.loss(rng.standard_normal((2, 5)), captions.astype(float))
    with pytest.raises(ValueError, match=r"captions has shape \(2, 1\), expected at least 2"):
        model.loss(rng.standard_normal((2, 5)), captions[:, :1])
    with pytest.raises(ValueError, match=r"captions has shape \(2, 8\), expected \(3, 8\)"):
        model.loss(rng.standard_normal((3, 5)), encode(SENTENCES[:2], 8))


@pytest.mark.parametrize(
    ("cell_type", "shape", "message"),
    [
        ("rnn", (2, 6), r"features has shape \(2, 6\), expected \(N, 5\): pooled features"),
        ("lstm", (2, 5, 4, 4), r"features has shape \(2, 5, 4, 4\), expected \(N, 5\)"),
        (
            "attention",
            (2, 5),
            r"features has shape \(2, 5\), expected \(N, D, 4, 4\) with D = "
            r"input_dim = 5",
        ),
        ("attention", (2, 6, 4, 4), r"features has shape \(2, 6, 4, 4\), expected \(N, D, 4, 4\)"),
    ],
)
def test_features_of_the_wrong_size_are_rejected(cell_type, shape, message, rng):
    model = tiny_model(cell_type, rng)
    with pytest.raises(ValueError, match=f"CaptioningRNN.loss: {message}"):
        model.loss(rng.standard_normal(shape), encode(SENTENCES[:2], 8))
    with pytest.raises(ValueError, match=f"CaptioningRNN.sample: {message}"):
        model.sample(rng.standard_normal(shape))


def test_bad_sampling_requests_and_parameters_are_rejected(rng):
    model = tiny_model("rnn", rng)
    with pytest.raises(ValueError, match="max_length must be a positive integer, got 0"):
        model.sample(rng.standard_normal((1, 5)), max_length=0)
    with pytest.raises(ValueError, match="return_attention needs cell_type 'attention'"):
        model.sample(rng.standard_normal((1, 5)), return_attention=True)
    with pytest.raises(ValueError, match=r"set_params: params must have the keys"):
        model.set_params({"W_embed": model.params["W_embed"]})
    wrong = dict(model.params, Wh=np.zeros((4, 3)))
    with pytest.raises(
        ValueError,
        match=r"set_params: params\['Wh'\] has shape \(4, 3\), "
        r"expected \(3, 3\)",
    ):
        model.set_params(wrong)


def test_from_params_reads_the_dimensions_and_dtype(rng):
    model = tiny_model("attention", rng)
    copy = CaptioningRNN.from_params(VOCAB, model.params, "attention")
    assert (copy.input_dim, copy.wordvec_dim, copy.hidden_dim) == (5, 4, 3)
    assert copy.dtype == np.float64
    features, captions = features_for("attention", rng, 2, 5), encode(SENTENCES[:2], 8)
    assert copy.loss(features, captions)[0] == model.loss(features, captions)[0]
    copy.params["Wx"] += 1  # a copy, not a view
    assert not np.array_equal(copy.params["Wx"], model.params["Wx"])
