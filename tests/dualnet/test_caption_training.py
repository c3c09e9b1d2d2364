"""Captioning training in both backends: the NumPy CaptioningSolver follows torch's Adam step
for step, greedy captions agree across backends, the course's overfit gates, exact resume,
beam search and attention pointing."""

import importlib
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from dualnet.apps.caption import decode, make_config, scenes
from dualnet.apps.caption.data import CaptionDataError
from reference_numpy.captioning_solver import CaptioningSolver
from reference_numpy.models.captioning import CaptioningRNN as NumpyCaptioning
from torch_impl.models.captioning import CaptioningRNN as TorchCaptioning

sys.path.insert(0, str(Path(__file__).resolve().parent))
from caption_helpers import tiny_embedded, tiny_prepared, tiny_root  # noqa: E402

caption_train = importlib.import_module("dualnet.apps.caption.train")
caption_eval = importlib.import_module("dualnet.apps.caption.evaluate")

pytestmark = pytest.mark.captioning
WORD_TO_IDX = {w: i for i, w in enumerate(scenes.WORDS)}


def small_data(cell: str, channels: int = 64) -> dict:
    """The tiny set's captions with the first ``channels`` feature channels, in float64."""
    prepared = tiny_prepared(cell)
    split = prepared.data.splits["train"]
    return {
        "train_captions": split.captions,
        "train_image_idxs": split.image_idxs,
        "train_features": prepared.inputs["train"][:, :channels].astype(np.float64),
    }


@pytest.mark.parametrize("cell", ["rnn", "lstm", "attention"])
def test_numpy_and_torch_adam_loss_curves_agree_over_50_steps(cell):
    data = small_data(cell)
    dims = {"input_dim": data["train_features"].shape[1], "wordvec_dim": 16, "hidden_dim": 24}
    numpy_model = NumpyCaptioning(WORD_TO_IDX, cell_type=cell, dtype=np.float64, seed=3, **dims)
    torch_model = TorchCaptioning.from_numpy(numpy_model)
    solver = CaptioningSolver(
        numpy_model,
        data,
        update_rule="adam",
        optim_config={"learning_rate": 5e-3},
        lr_decay=1.0,
        batch_size=10,
        num_epochs=2,  # 300 captions / 10 = 30 steps per epoch; 50 steps are done below
        verbose=False,
        seed=5,
    )
    replay = np.random.default_rng(5)  # draws the solver's minibatches again
    optimizer = torch.optim.Adam(torch_model.parameters(), lr=5e-3)
    torch_losses = []
    for _ in range(50):
        solver._step()
        rows = replay.choice(len(data["train_captions"]), 10)
        features = torch.from_numpy(data["train_features"][data["train_image_idxs"][rows]])
        captions = torch.from_numpy(data["train_captions"][rows])
        loss = torch_model(features, captions)  # the step of caption_train.loop
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        torch_losses.append(float(loss.detach()))
    assert np.mean(solver.loss_history[-5:]) < 0.9 * solver.loss_history[0]  # it learns
    np.testing.assert_allclose(solver.loss_history, torch_losses, rtol=0, atol=1e-8)
    for name, value in torch_model.numpy_params().items():
        np.testing.assert_allclose(numpy_model.params[name], value, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("cell", ["rnn", "attention"])
def test_greedy_captions_are_identical_across_backends(cell, tmp_path):
    prepared = tiny_prepared(cell)
    config = make_config(
        cell, epochs=2, batch_size=20, hidden_dim=32, wordvec_dim=16, lr=5e-3,
        out_dir=str(tmp_path / "run"), progress=False, figures=False, device="cpu",
    )  # fmt: skip
    caption_train.train(config, prepared)
    loaded = caption_eval.load_run(tmp_path / "run", prepared)
    numpy_model = NumpyCaptioning.from_params(
        WORD_TO_IDX, loaded.model.numpy_params(), cell_type=cell
    )
    val = prepared.inputs["val"].astype(np.float32)
    torch_captions, torch_weights = decode.greedy(loaded.model, torch.from_numpy(val), 16)
    if cell == "attention":
        numpy_captions, numpy_weights = numpy_model.sample(val, 16, return_attention=True)
        np.testing.assert_allclose(numpy_weights, torch_weights.numpy(), atol=1e-5)
    else:
        numpy_captions = numpy_model.sample(val, 16)
    np.testing.assert_array_equal(numpy_captions, torch_captions.numpy())
    assert (torch_captions[:, 0] > 3).all()  # real words, not special tokens


def overfit_solver(cell: str) -> CaptioningSolver:
    """The course's overfitting run: 50 captions of 50 images, 512-d features, word vectors
    of 256, a hidden state of 512, 100 Adam steps at 5e-3 with batches of 25. The images are
    distinct random feature vectors: the gate is about the model and the solver, not about an
    encoder."""
    split = tiny_embedded().splits["train"]
    first = np.arange(50) * 5  # the first caption of each of the first 50 images
    data = {
        "train_captions": split.captions[first],
        "train_image_idxs": split.image_idxs[first],
        "train_features": np.random.default_rng(0).standard_normal((60, 512)).astype(np.float32),
    }
    model = NumpyCaptioning(
        WORD_TO_IDX, input_dim=512, wordvec_dim=256, hidden_dim=512, cell_type=cell, seed=0
    )
    solver = CaptioningSolver(
        model, data, update_rule="adam", optim_config={"learning_rate": 5e-3}, lr_decay=0.95,
        num_epochs=50, batch_size=25, verbose=False, seed=0,
    )  # fmt: skip
    solver.train()
    return solver


@pytest.mark.parametrize("cell, bound", [("rnn", 0.1), ("lstm", 0.5)])
@pytest.mark.slow
def test_the_overfit_gates_of_the_course_hold(cell, bound):
    solver = overfit_solver(cell)
    assert len(solver.loss_history) == 100
    assert solver.loss_history[0] > 20  # about 9 words x log(29) at the start
    assert solver.loss_history[-1] < bound


def test_a_stopped_and_resumed_run_ends_with_the_same_weights(tmp_path):
    prepared = tiny_prepared("lstm")
    base = make_config(
        "lstm", epochs=2, batch_size=30, hidden_dim=16, wordvec_dim=8, progress=False,
        figures=False, device="cpu", out_dir=str(tmp_path / "whole"),
    )  # fmt: skip
    whole = caption_train.train(base, prepared)
    piece = replace(base, out_dir=str(tmp_path / "piece"), stop_after_steps=13)
    first = caption_train.train(piece, prepared)
    assert not first.finished and first.steps == 13
    resumed = replace(
        base, out_dir=str(tmp_path / "piece"), resume=str(tmp_path / "piece" / "last.pt")
    )
    second = caption_train.train(resumed, prepared)
    assert second.finished and second.steps == whole.steps == 20
    a = torch.load(tmp_path / "whole" / "last.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "piece" / "last.pt", weights_only=True)["model"]
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=0)
    assert [r["train_loss"] for r in whole.history] == [r["train_loss"] for r in second.history]


def test_beam_search_of_width_one_is_greedy_and_wider_beams_end_their_captions():
    model = TorchCaptioning(WORD_TO_IDX, input_dim=1280, hidden_dim=32, wordvec_dim=16,
                            cell_type="attention", seed=1)  # fmt: skip
    features = torch.from_numpy(tiny_prepared("attention").inputs["val"][:4].astype(np.float32))
    greedy_captions, greedy_weights = decode.greedy(model, features, 10)
    beam_captions, beam_weights = decode.beam_search(model, features, 1, 10, alpha=0.0)
    torch.testing.assert_close(beam_captions, greedy_captions)
    torch.testing.assert_close(beam_weights, greedy_weights)
    wide, _ = decode.beam_search(model, features, 3, 10)
    assert wide.shape == (4, 10) and (wide[:, 0] != 0).all()
    with pytest.raises(ValueError, match="beam_width must be at least 1"):
        decode.beam_search(model, features, 0)


def test_beam_search_keeps_the_most_likely_caption_when_greedy_misses_it():
    # a hand-made RNN: after <START>, "a" (p 0.55) beats "the" (p 0.45), but after "a" every
    # word is equally likely, while "the" is followed by <END> with certainty
    words = {"<NULL>": 0, "<START>": 1, "<END>": 2, "a": 3, "the": 4}
    model = TorchCaptioning(words, input_dim=1, wordvec_dim=5, hidden_dim=5, cell_type="rnn")
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.W_embed.copy_(torch.eye(5) * 20)  # the hidden state is tanh(20) ~ 1 at the word
        model.Wx.copy_(torch.eye(5))
        model.W_vocab[1, 3], model.W_vocab[1, 4] = np.log(0.55), np.log(0.45)  # after <START>
        model.b_vocab[:] = -1e4
        model.b_vocab[3] = model.b_vocab[4] = 0.0
        model.W_vocab[1, :] += 1e4 * torch.tensor([0, 0, 0, 1, 1])
        model.W_vocab[4, 2] = 2e4  # after "the": <END>
        model.W_vocab[3, :] = 1e4  # after "a": all five words alike
    features = torch.zeros(1, 1)
    greedy_caption, _ = decode.greedy(model, features, 3)
    beam_caption, _ = decode.beam_search(model, features, 2, 3, alpha=0.0)
    assert greedy_caption[0, 0] == 3  # greedy takes "a"
    assert beam_caption[0].tolist() == [4, 2, 0]  # beam search finds "the <END>"


def test_attention_pointing_counts_shape_words_whose_largest_cell_holds_the_shape():
    words = list(scenes.WORDS)
    disk, star = words.index("disk"), words.index("star")
    objects = np.array([[[0, 0, 0, 5], [5, 1, 1, 10], [-1, -1, -1, -1]]])  # disk at 5, star 10
    captions = np.array([[words.index("a"), disk, star, words.index("ring"), 2, disk]])
    weights = np.zeros((1, 6, 4, 4))
    weights[0, 1].flat[5] = 1  # disk -> its cell
    weights[0, 2].flat[3] = 1  # star -> a wrong cell
    weights[0, 5].flat[0] = 1  # after <END>: not counted
    hits, total = decode.attention_pointing(captions, weights, objects, words, scenes.SHAPES)
    assert (hits, total) == (1, 2)  # "ring" names nothing in the scene


def test_features_narrower_than_the_checkpoint_are_refused_with_file_and_key(tmp_path):
    config = make_config("rnn", epochs=1, batch_size=60, hidden_dim=8, wordvec_dim=4,
                         progress=False, figures=False, out_dir=str(tmp_path / "r"))  # fmt: skip
    caption_train.train(config, tiny_prepared("rnn"))
    narrow = caption_train.Prepared(
        tiny_embedded(), {k: v[:, :512] for k, v in tiny_prepared("rnn").inputs.items()}
    )
    with pytest.raises(CaptionDataError) as error:
        caption_eval.load_run(tmp_path / "r", narrow)
    message = str(error.value)
    assert "best.pt: model/W_proj takes 1280-d features" in message and "are 512-d" in message
    assert str(tiny_root()) in message  # names the data file


def test_the_weights_of_a_word_are_those_of_the_step_that_produced_it(monkeypatch):
    # feed the greedy caption back with teacher forcing through the training path
    # (attention_lstm) and record its attention: step t must have the weights greedy reports
    # for word t, and its scores must pick word t
    import torch_impl.attention as attention

    model = TorchCaptioning(WORD_TO_IDX, input_dim=1280, hidden_dim=32, wordvec_dim=16,
                            cell_type="attention", seed=2)  # fmt: skip
    features = torch.from_numpy(tiny_prepared("attention").inputs["val"][:3].astype(np.float32))
    captions, weights = decode.greedy(model, features, 8)
    recorded = []
    real = attention.dot_product_attention

    def recording(prev_h, A):
        attn, step_weights = real(prev_h, A)
        recorded.append(step_weights)
        return attn, step_weights

    monkeypatch.setattr(attention, "dot_product_attention", recording)
    start = torch.full((3, 1), WORD_TO_IDX["<START>"])
    with torch.no_grad():
        x = torch.nn.functional.embedding(torch.cat([start, captions[:, :-1]], 1), model.W_embed)
        h = attention.attention_lstm(
            x, model._project_grid(features), model.Wx, model.Wh, model.Wattn, model.b
        )
    forced = torch.stack(recorded, dim=1)
    length = int((captions[0] != 0).sum())  # up to and with the first caption's <END>
    torch.testing.assert_close(forced[0, :length], weights[0, :length])
    words = (h @ model.W_vocab + model.b_vocab).argmax(dim=2)
    assert words[0, :length].tolist() == captions[0, :length].tolist()
