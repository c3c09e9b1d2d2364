r"""Turning image features into captions: greedy decoding, beam search, attention pointing.

**Greedy** (:func:`greedy`) is the models' own ``sample``: feed ``<START>``, then at every step
the most likely word, until ``<END>``. It exists in both backends and gives the same captions
for the same weights.

**Beam search** (:func:`beam_search`, torch) keeps the ``K`` most likely partial captions
instead of one. At every step each is extended by every word; of the ``K x V`` extensions the
best ones by summed log-probability stay. An extension that ends with ``<END>`` is set aside as
finished, and the beam narrows by one; the search stops when ``K`` captions have finished (or
at ``max_length``). Among the finished captions the winner has the best **length-normalised**
score :math:`\frac{1}{L^{\alpha}} \sum_t \log p(w_t \mid w_{<t})`, with :math:`L` the number of
words including ``<END>``: with :math:`\alpha = 0` short captions win because every word costs
log-probability; :math:`\alpha = 1` ranks by the mean log-probability per word. ``K = 1`` is
greedy decoding.

**Attention pointing** (:func:`attention_pointing`): for every generated word that names a
shape present in the scene, whether the attention's largest cell at that step is the cell of
an object of that shape. (The weights at step ``t`` are the ones the model used to produce
word ``t``.) Chance is 1/16 on the 4x4 grid.
"""

from __future__ import annotations

import numpy as np
import torch

from torch_impl.attention import attention_lstm_step, dot_product_attention
from torch_impl.lstm import lstm_step
from torch_impl.models.captioning import sampling_tokens
from torch_impl.rnn import rnn_step, word_embedding


def greedy(model, features: torch.Tensor, max_length: int = 16):
    """Greedy captions ``(N, max_length)`` and, for the attention model, the weights
    ``(N, max_length, 4, 4)`` of every step (else ``None``)."""
    if model.cell_type == "attention":
        return model.sample(features, max_length, return_attention=True)
    return model.sample(features, max_length), None


def initial_state(model, features: torch.Tensor):
    """``(h, c, A)`` before the first word, as the model's ``sample`` starts; ``A`` is the
    projected grid ``(N, H, 4, 4)`` for attention, else ``None``."""
    if model.cell_type == "attention":
        A = model._project_grid(features)
        h = A.mean(dim=(2, 3))
        return h, h, A
    h = features @ model.W_proj + model.b_proj
    return h, torch.zeros_like(h), None


def step(model, words: torch.Tensor, h, c, A):
    """One step for a batch of beams: ``(log_probs (K, V), h, c, weights (K, 4, 4) or None)``."""
    x = word_embedding(words, model.W_embed)
    weights = None
    if model.cell_type == "rnn":
        h = rnn_step(x, h, model.Wx, model.Wh, model.b)
    elif model.cell_type == "lstm":
        h, c = lstm_step(x, h, c, model.Wx, model.Wh, model.b)
    else:
        attn, weights = dot_product_attention(h, A)
        h, c = attention_lstm_step(x, h, c, attn, model.Wx, model.Wh, model.Wattn, model.b)
    scores = h @ model.W_vocab + model.b_vocab
    return torch.log_softmax(scores, dim=1), h, c, weights


@torch.no_grad()
def beam_search(
    model, features: torch.Tensor, beam_width: int = 3, max_length: int = 16, alpha: float = 1.0
):
    """Beam-search captions for every image (see the module docstring).

    Args:
        model: A ``torch_impl.models.CaptioningRNN``.
        features: ``(N, D)`` or, for attention, ``(N, D, 4, 4)``.
        beam_width: ``K >= 1``.
        max_length: Most words per caption.
        alpha: Length-normalisation exponent.

    Returns:
        ``(captions (N, max_length) int64, weights (N, max_length, 4, 4) or None)`` on the CPU,
        laid out like :func:`greedy`'s; the search runs where the model's parameters are.
    """
    if beam_width < 1:
        raise ValueError(f"beam_search: beam_width must be at least 1, got {beam_width}")
    features = model._features("beam_search", features)
    n = features.shape[0]
    captions = torch.full((n, max_length), model._null, dtype=torch.int64)
    attention = model.cell_type == "attention"
    weights = torch.zeros((n, max_length, *features.shape[2:])) if attention else None
    for i in range(n):
        words, maps = search_one(model, features[i : i + 1], beam_width, max_length, alpha)
        captions[i, : len(words)] = torch.tensor(words)
        if attention:
            weights[i, : len(words)] = maps.cpu()
    return captions, weights


def search_one(model, features: torch.Tensor, width: int, max_length: int, alpha: float):
    """The best caption of one image: its word ids (ending with ``<END>`` unless cut at
    ``max_length``) and the attention weights of each word (attention only)."""
    start, end = sampling_tokens("beam_search", model.word_to_idx, model.vocab_size)
    h, c, A = initial_state(model, features)
    alive = [([], 0.0, [])]  # (words, summed log-probability, attention maps)
    finished = []
    for t in range(max_length):
        last = [words[-1] if words else start for words, _, _ in alive]
        k = len(alive)
        grid = None if A is None else A.expand(k, *A.shape[1:])
        device = features.device
        log_probs, h, c, maps = step(model, torch.tensor(last, device=device), h, c, grid)
        totals = torch.tensor([score for _, score, _ in alive], device=device)[:, None] + log_probs
        best = torch.topk(totals.flatten(), min(width - len(finished), totals.numel()))
        survivors = []
        for value, flat in zip(best.values.tolist(), best.indices.tolist(), strict=True):
            beam, word = divmod(flat, totals.shape[1])
            words, _, history = alive[beam]
            extended = (words + [word], value, history + ([maps[beam]] if A is not None else []))
            ended = word == end or t == max_length - 1
            (finished if ended else survivors).append((extended, beam))
        if len(finished) >= width or not survivors:
            break
        keep = torch.tensor([beam for _, beam in survivors], device=device)
        alive = [hypothesis for hypothesis, _ in survivors]
        h, c = h[keep], c[keep]
    finished += [] if finished else survivors
    words, _, history = max(
        (hypothesis for hypothesis, _ in finished),
        key=lambda hyp: hyp[1] / len(hyp[0]) ** alpha,
    )
    return words, (torch.stack(history) if history else None)


def attention_pointing(
    captions: np.ndarray, weights: np.ndarray, objects: np.ndarray, idx_to_word, shapes
) -> tuple[int, int]:
    """How often the attention points at the object a generated shape word names.

    Args:
        captions: Generated ids ``(N, T)``.
        weights: Attention weights ``(N, T, 4, 4)``.
        objects: ``(N, 3, 4)`` slots ``(shape, colour, size, cell)`` (``-1``: empty).
        idx_to_word: The vocabulary.
        shapes: The shape names, in the order of the shape indices.

    Returns:
        ``(hits, words)``: shape words naming an object in the scene, and how many of them had
        the attention's largest cell on such an object.
    """
    shape_ids = {word: index for index, word in enumerate(shapes)}
    hits = total = 0
    for caption, maps, scene in zip(captions, weights, objects, strict=True):
        for t, token in enumerate(caption):
            word = idx_to_word[int(token)]
            if word == "<END>":
                break
            if word not in shape_ids:
                continue
            cells = scene[scene[:, 0] == shape_ids[word], 3]
            if cells.size == 0:
                continue
            total += 1
            hits += int(np.argmax(maps[t].reshape(-1)) in cells)
    return hits, total
