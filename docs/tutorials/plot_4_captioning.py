"""
Image captioning: features, an attention LSTM, beam search and BLEU
===================================================================

A small version of ``dualnet caption train --cell attention``: a few hundred embedded scenes,
MobileNetV2 feature maps, an attention LSTM trained for a few epochs with the PyTorch backend,
its captions decoded greedily and with beam search, scored with BLEU, and the attention map
of every word drawn over the image. To stay within a minute on a CPU it uses the *untrained*
MobileNetV2 (``--encoder random``, batch-norm statistics re-estimated on the scenes) and a
tiny training set, so the captions are far from the measured quality of the application page;
what it shows is the data flow.
"""

# %%
# The scenes and their captions
# -----------------------------
# Every scene holds one to three shapes, each in a cell of a 4x4 grid, with five captions
# from a small grammar.

import tempfile
import time

import numpy as np
import torch

from dualnet.apps import figures
from dualnet.apps.caption import bleu, data, decode, encoders, evaluate, make_config
from dualnet.apps.caption.train import Prepared
from dualnet.apps.caption.train import train as train_captioner

started = time.perf_counter()
root = tempfile.mkdtemp()
scenes = data.load_embedded_captions(root, sizes=(400, 40, 40))
test = scenes.splits["test"]
examples = figures.image_grid(
    test.images[:4],
    [data.decode_captions(test.references()[i][1], scenes.idx_to_word) for i in range(4)],
    columns=4,
)
for caption in data.decode_captions(test.references()[0], scenes.idx_to_word):
    print(caption)

# %%
# Image features
# --------------
# MobileNetV2 turns a 112x112 image into a (1280, 4, 4) map: one 1280-d vector per grid cell.

encoder = encoders.load_encoder("random")
maps = encoders.feature_maps(scenes, encoder, root, progress=False)
print({split: value.shape for split, value in maps.items()})

# %%
# Training the attention LSTM
# ---------------------------
# Teacher forcing: the model reads the reference caption and is scored on predicting each next
# word; the loss sums over the words and averages over the batch.

config = make_config(
    "attention",
    epochs=6,
    batch_size=50,
    hidden_dim=64,
    wordvec_dim=32,
    lr=5e-3,
    device="cpu",
    progress=False,
    out_dir=f"{root}/run",
)
result = train_captioner(config, Prepared(scenes, maps))
curves = figures.learning_curves(result.history, title="attention LSTM")

# %%
# Greedy decoding and beam search, scored with BLEU
# -------------------------------------------------
# At test time there is no reference to read: the model feeds back its own words. BLEU
# compares the generated words with all five references of each scene (0-1 scale).

loaded = evaluate.load_run(f"{root}/run", Prepared(scenes, maps))
rows = np.arange(test.num_images)
for beam in (None, 3):
    scores, captions, weights = evaluate.score(loaded, "test", rows, beam)
    name = f"beam {beam}" if beam else "greedy"
    print(f"{name}: BLEU-1 {scores['bleu1']:.3f}, BLEU-4 {scores['bleu4']:.3f}")

worked = bleu.corpus_bleu(
    [["a red disk and a blue star".split(), "the disk is red and the star is blue".split()]],
    ["a red disk and a red star".split()],
)
print("worked example:", {k: round(v, 4) for k, v in worked.items()})

# %%
# Attention, word by word
# -----------------------
# For every generated word, the weights the model gave to the 16 cells when producing it.

features_val = torch.from_numpy(maps["test"][:1].astype(np.float32))
caption, step_weights = decode.greedy(loaded.model, features_val, 16)
words = data.decode_captions(caption.numpy(), scenes.idx_to_word)[0].split() + ["<END>"]
attention = evaluate.attention_figure(test.images[0], words, step_weights[0, : len(words)].numpy())
print(f"this page ran in {time.perf_counter() - started:.0f} s")
